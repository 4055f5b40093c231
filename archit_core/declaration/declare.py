"""Declaration: the class code for a model that was modified in place.

``declare(model)`` compares the model with a fresh build of its class from its own config (on the meta device) and
writes one new class per modified level, each inheriting ``forward`` from the class it replaces. A new class's
``__init__`` is a copy of the original's, edited where a child changed, so unchanged children are built exactly as
the original builds them and no module is built twice. Constructor expressions come from the owning plugin's
``declare_module`` hook, then the ``torch.nn`` emitters, then checked signature inference (:mod:`.constructors`). This
module is the entry point and the result (:class:`Declaration`); the classes are written by :mod:`.writer`.
"""

from __future__ import annotations

import difflib
import hashlib
import linecache
import os
import sys
import tempfile
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import DeclarationError, DeclarationWarning
from ..registry.host import PluginHost, get_host, using
from .codegen import is_identifier, split_path
from .diff import MODIFIED, SAME, SHARED, Diff, build_reference, compare, structure_difference, tied_groups
from .emitters import native_call
from .follow import follows_config
from .writer import ClassWriter, module_code, tie_statements

DEFAULT_SUFFIX = "Modified"


# -- the public API ----------------------------------------------------------------------------------------------
def _reference_class(instance: nn.Module, reference_class: Any) -> type:
    if reference_class is None:
        return type(instance)
    if isinstance(reference_class, str):
        from .._imports import resolve

        text = reference_class if ":" in reference_class else ":".join(reference_class.rsplit(".", 1))
        try:
            reference_class = resolve(text)
        except (ImportError, AttributeError, ValueError) as exc:
            raise DeclarationError(f"unknown reference class {reference_class!r} ({type(exc).__name__}: {exc}); give 'package.module:Class'") from exc
    if not (isinstance(reference_class, type) and issubclass(reference_class, nn.Module)):
        raise DeclarationError(f"reference_class must be an nn.Module class, got {reference_class!r}")
    if type(instance) is not reference_class:
        raise DeclarationError(
            f"the instance is a {type(instance).__qualname__}, not a {reference_class.__qualname__}: declare compares a "
            "model with a fresh build of its own class, so give that class (or leave reference_class out)"
        )
    return reference_class


def _tie_overrides(instance: nn.Module, reference: nn.Module, diff: Diff) -> dict[str, dict[str, str]]:
    """For each Hugging Face model level whose declared ties the modification broke: the ties still valid."""
    overrides: dict[str, dict[str, str]] = {}
    modules = dict(instance.named_modules())
    for path, ref in reference.named_modules():
        expand = getattr(ref, "get_expanded_tied_weights_keys", None)
        mine = modules.get(path)
        if expand is None or mine is None or type(mine) is not type(ref):
            continue
        mapping = expand(all_submodels=False)
        kept = {}
        for target, src in mapping.items():
            try:
                if mine.get_parameter(target) is mine.get_parameter(src):
                    kept[target] = src
            except AttributeError:
                pass
        if kept != mapping:
            overrides[path] = kept
    return overrides


def _shared_across(node: Diff) -> bool:
    """A module shared with a place under another parent (the top class shares it)."""
    return node.kind == SHARED and split_path(node.source or "")[0] != split_path(node.path)[0]


def _force(node: Diff, paths: set[str]) -> bool:
    """Mark as modified every level in ``paths`` or above a change; True if ``node`` needs a new class or
    expression."""
    below = [_force(child, paths) and not _shared_across(child) for child in node.children.values()]
    if node.kind in (SAME, MODIFIED):
        needed = any(below) or bool(node.added_state) or node.path in paths
        node.kind = MODIFIED if needed else SAME
    return node.changed


class Declaration:
    """The generated code for a modified model: ``code`` (a complete module), ``classes`` (new class names, top
    class last), ``notes`` and ``warnings`` (what to look at); :meth:`write`, :meth:`load`, :meth:`verify`."""

    def __init__(self, code: str, classes: list[str], instance: nn.Module, reference_class: type, *,
                 notes: list[str], warnings: list[str], host: PluginHost) -> None:
        self.code = code
        self.classes = classes
        self.notes = notes
        self.warnings = warnings
        self.instance = instance
        self.reference_class = reference_class
        self.host = host
        self._module: types.ModuleType | None = None

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"<Declaration of {self.reference_class.__qualname__}: {', '.join(self.classes) or 'no difference'}>"

    @property
    def top(self) -> str | None:
        """The name of the class to build the model with (None when nothing changed)."""
        return self.classes[-1] if self.classes else None

    def write(self, path: str | Path) -> Path:
        """Write the code to ``path`` (a ``.py`` file) and return the path."""
        path = Path(path)
        path.write_text(self.code)
        return path

    def load(self) -> types.ModuleType:
        """Import the code as a real module (in ``sys.modules``, with its source known to ``inspect``)."""
        if self._module is None:
            digest = hashlib.sha256(self.code.encode()).hexdigest()[:16]
            module_name = f"archit_declared_{digest}"
            # A real file: transformers reads a model class's module source from its __file__ (some releases
            # open() it directly), and inspect finds the classes' source there.
            filename = str(_source_file(module_name, self.code))
            module = types.ModuleType(module_name, "Classes declared by archit_core.declare.")
            module.__file__ = filename
            lines = self.code.splitlines(keepends=True)
            linecache.cache[filename] = (len(self.code), None, lines, filename)
            sys.modules[module_name] = module
            try:
                exec(compile(self.code, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code
            except Exception:
                del sys.modules[module_name]
                raise
            self._module = module
        return self._module

    def top_class(self) -> type:
        """The class to build the modified model with (the reference class when nothing changed)."""
        return getattr(self.load(), self.top) if self.top else self.reference_class

    def verify(self, inputs: Mapping[str, Any] | None = None, *, outputs: bool = True) -> Any:
        """Build the top class from the instance's config and check it against the instance (see
        :func:`archit_core.declaration.verify.verify`); raises :class:`DeclarationError` on any difference."""
        from .verify import verify

        with using(self.host):
            return verify(self, inputs, outputs=outputs)


def _check_arguments(instance: nn.Module, arguments: Mapping[Any, Any] | None) -> dict[Any, Any]:
    """``declare(arguments=...)`` checked: keys are module paths in the instance or module classes."""
    if arguments is None:
        return {}
    if not isinstance(arguments, Mapping):
        raise DeclarationError(f"arguments must be a dict {{module path or class: {{argument: value}}}}, got {type(arguments).__qualname__}")
    paths = dict(instance.named_modules())
    for key in arguments:
        if isinstance(key, str):
            if key not in paths:
                close = difflib.get_close_matches(key, list(paths), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise DeclarationError(f"arguments names {key!r}, which is not a module path of the model{hint}")
        elif not (isinstance(key, type) and issubclass(key, nn.Module)):
            raise DeclarationError(f"arguments keys are module paths or nn.Module classes, got {key!r}")
    return dict(arguments)


def declare(instance: nn.Module, reference_class: type | str | None = None, *, suffix: str | None = None,
            host: PluginHost | None = None, arguments: Mapping[Any, Any] | None = None,
            config_fields: bool = True) -> Declaration:
    """The class code for ``instance``, a model modified in place, compared with a fresh
    ``reference_class(instance.config)`` (default: the instance's own class; for an archit model, a fresh build
    from its own config). New classes are named after the ones they replace plus ``suffix`` (default
    ``"Modified"``).

    Constructor arguments of a new module are found by the owning plugin, the torch.nn emitters, its attributes, or
    recovered from its class's ``__init__`` source; ``arguments`` gives them where that cannot work:
    ``{"module.path": {"name": value}}`` or ``{ModuleClass: function(module) -> {"name": value}}``. With
    ``config_fields`` (default) a value equal to exactly one field of the config in scope is written
    ``config.<field>``, checked by building the declared class with a config whose fields differ."""
    if not isinstance(instance, nn.Module):
        raise DeclarationError(f"declare takes an nn.Module, got a {type(instance).__qualname__}")
    suffix = DEFAULT_SUFFIX if suffix is None else suffix
    if not suffix or not is_identifier("X" + suffix):
        raise DeclarationError(f"suffix must be a non-empty identifier part (letters, digits, _), got {suffix!r}")
    cls = _reference_class(instance, reference_class)
    config = getattr(instance, "config", None)
    if config is None:
        raise DeclarationError(
            f"the {type(instance).__qualname__} has no config attribute: declare builds the reference as "
            f"{cls.__qualname__}(instance.config), so it needs a model built from a config (a transformers "
            "PreTrainedModel, an archit model, or a module that keeps its config as .config)"
        )
    arguments = _check_arguments(instance, arguments)
    host = host or get_host()
    with using(host):
        classes = {type(m) for m in instance.modules()}
        reference, records = build_reference(cls, config, classes)
        code, generator = _write(instance, cls, reference, records, host, suffix, arguments, config_fields)
        fallback = None
        if generator.config_uses:
            fields = sorted({f"config.{field}" for _, field in generator.config_uses})
            trial = Declaration(code, list(generator.class_names), instance, cls, notes=[], warnings=[], host=host)
            problem = follows_config(trial.top_class(), cls, config, generator.config_uses)
            if problem is not None:
                fallback = (f"values equal to config fields ({', '.join(fields)}) are written as numbers: with them "
                            f"written through the config, {problem}")
                code, generator = _write(instance, cls, reference, records, host, suffix, arguments, False)
    notes = generator.notes + generator.ns.notes + ([fallback] if fallback else [])
    for group in sorted(tied_groups(reference) - tied_groups(instance), key=sorted):
        notes.append(f"{' and '.join(sorted(group))} are tied in a fresh model but not in this one, so the generated "
                     "classes do not tie them")
    for message in generator.warnings:
        warnings.warn(message, DeclarationWarning, stacklevel=2)
    return Declaration(code, list(generator.class_names), instance, cls, notes=notes, warnings=list(generator.warnings), host=host)


def _write(instance: nn.Module, cls: type, reference: nn.Module, records: dict[int, Any], host: PluginHost, suffix: str,
           arguments: dict[Any, Any], config_fields: bool) -> tuple[str, ClassWriter]:
    """One pass of the class writer over the comparison of ``instance`` with ``reference``: the code and the writer."""
    diff = compare(instance, reference, native_call)
    ties = _tie_overrides(instance, reference, diff)
    new_ties = tied_groups(instance) - tied_groups(reference)
    shared = [n for n in diff.walk() if _shared_across(n)]
    _force(diff, set(ties) | ({""} if new_ties or shared else set()))
    generator = ClassWriter(records, host, suffix, ties, arguments=arguments, config_fields=config_fields)
    for node in shared:
        generator.share_at_top(node)
    if diff.changed:
        generator.top_statements += tie_statements(new_ties, instance, shared)
        generator.declare_class(diff)
    elif (attribute := structure_difference(instance, reference)) is not None:
        raise DeclarationError(
            f"the model differs from a fresh {cls.__qualname__} only outside its modules ({attribute}); declare "
            "writes the modules a class builds, not values set on them afterwards: make the value a constructor "
            "argument or config field of a module you replace, or set it after building"
        )
    return module_code(cls, generator), generator


def _source_file(module_name: str, code: str) -> Path:
    """``code`` written (atomically, once per content) to ``<tmp>/archit-declarations/<module_name>.py``."""
    folder = Path(tempfile.gettempdir()) / "archit-declarations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module_name}.py"
    if not path.is_file() or path.read_text(encoding="utf-8") != code:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(code)
        os.replace(tmp, path)
    return path
