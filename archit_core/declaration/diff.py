"""Compare a model modified in place with a fresh reference built on the meta device.

:func:`build_reference` builds the reference class from the instance's config on the meta device (no memory, no
initialisation) and records the arguments each module's ``__init__`` received; :func:`compare` walks both trees
and says, per child, whether it is the same, replaced, modified below, added, deleted, set to None or shared with
another place; :func:`tied_groups` finds parameters shared between places.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import torch
from torch import nn

from ..errors import DeclarationError

#: Kinds of :class:`Diff` nodes.
SAME, REPLACED, MODIFIED, ADDED, DELETED, NONE, SHARED = "same", "replaced", "modified", "added", "deleted", "none", "shared"


# -- structure ---------------------------------------------------------------------------------------------------
def _is_plain(value: Any) -> bool:
    kind = type(value)
    if kind in (type(None), bool, int, float, str):
        return True
    return kind in (tuple, list) and all(_is_plain(v) for v in value)


def plain_attributes(module: nn.Module) -> dict[str, Any]:
    """The module's public attributes holding plain values (numbers, strings, None, tuples of them)."""
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training" and _is_plain(v)}


#: Attributes every module has (torch's bookkeeping, transformers' initialisation flag), never compared.
_INTERNALS = frozenset(vars(nn.Module())) | {"training", "_is_hf_initialized"}


def _is_value(value: Any) -> bool:
    if isinstance(value, (type(None), bool, int, float, str)):  # subclasses (enums, str subclasses) included
        return True
    return type(value) in (tuple, list) and all(_is_value(v) for v in value)


def value_attributes(module: nn.Module) -> dict[str, Any]:
    """Every attribute of ``module`` holding a value that may steer its behaviour, private ones and instances of
    ``str``/``int``/``float`` subclasses included (what verification compares, by type and value)."""
    return {k: v for k, v in vars(module).items() if k not in _INTERNALS and _is_value(v)}


def _same_value(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and a != a and b != b)


def own_state(module: nn.Module) -> dict[str, Any]:
    """The module's direct parameters and buffers: name -> (kind, shape, persistent)."""
    state: dict[str, Any] = {}
    for name, p in module._parameters.items():
        state[name] = ("parameter", None if p is None else tuple(p.shape), True)
    for name, b in module._buffers.items():
        state[name] = ("buffer", None if b is None else tuple(b.shape), name not in module._non_persistent_buffers_set)
    return state


def structure_difference(module: nn.Module, other: nn.Module, *, classes: Any = None) -> str | None:
    """The first difference between the trees of ``module`` and ``other`` (paths, classes, parameter and buffer
    shapes, value attributes by type and value, private ones included: :func:`value_attributes`), or None. ``classes(a, b)`` decides whether two classes count as equal
    (default: identical)."""
    same_class = classes or (lambda a, b: a is b)
    mine = dict(module.named_modules(remove_duplicate=False))
    theirs = dict(other.named_modules(remove_duplicate=False))
    if mine.keys() != theirs.keys():
        extra, missing = sorted(mine.keys() - theirs.keys()), sorted(theirs.keys() - mine.keys())
        return f"submodules differ: only in the model {extra or 'none'}, only in the rebuilt one {missing or 'none'}"
    for path, m in mine.items():
        o = theirs[path]
        where = path or "(top)"
        if not same_class(type(m), type(o)):
            return f"{where}: {type(m).__qualname__} in the model, {type(o).__qualname__} rebuilt"
        if own_state(m) != own_state(o):
            return f"{where}: parameters/buffers {own_state(m)} in the model, {own_state(o)} rebuilt"
        mine_attrs, theirs_attrs = value_attributes(m), value_attributes(o)
        for key in mine_attrs.keys() & theirs_attrs.keys():
            if not _same_value(mine_attrs[key], theirs_attrs[key]):
                mine_v, theirs_v = mine_attrs[key], theirs_attrs[key]
                kinds = f" ({type(mine_v).__qualname__} vs {type(theirs_v).__qualname__})" if type(mine_v) is not type(theirs_v) else ""
                return f"{where}: attribute {key} is {mine_v!r} in the model, {theirs_v!r} rebuilt{kinds}"
    return None


def tied_groups(module: nn.Module) -> set[frozenset[str]]:
    """Groups of two or more parameter names that are one tensor."""
    by_tensor: dict[int, set[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        by_tensor.setdefault(id(p), set()).add(name)
    return {frozenset(names) for names in by_tensor.values() if len(names) > 1}


# -- the reference -----------------------------------------------------------------------------------------------
@attrs.frozen
class Record:
    """The arguments one module's ``__init__`` was called with, by parameter name (``self`` left out)."""

    function: Any
    arguments: dict[str, Any]
    positional_only: frozenset[str]
    #: Where the call was made: ``(filename, lineno, end_lineno, col, end_col)`` of the calling instruction.
    site: tuple[Any, ...] | None = None


def _call_site(frame: Any) -> tuple[Any, ...] | None:
    """The source position of the instruction ``frame`` is executing (the call that is running)."""
    if frame is None:
        return None
    code = frame.f_code
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return (code.co_filename, frame.f_lineno, None, None, None)
    position = next(itertools.islice(positions(), frame.f_lasti // 2, None), None)
    return (code.co_filename, *position) if position is not None else None


def init_owner(cls: type) -> type | None:
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            return None if klass in (nn.Module, object) else klass
    return None


def build_reference(cls: type, config: Any, classes: set[type]) -> tuple[nn.Module, dict[int, Record]]:
    """``cls(config)`` built on the meta device, and the ``__init__`` arguments of every module of one of
    ``classes`` in it (by ``id`` of the reference module)."""
    records: dict[int, tuple[Any, Record]] = {}
    patched: dict[type, Any] = {}

    def recorder(function: Any) -> Any:
        signature = inspect.signature(function)
        positional_only = frozenset(p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_ONLY)

        @functools.wraps(function)  # code that inspects the signature (e.g. for optional arguments) still sees it
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if id(self) not in records:  # the outermost __init__ is the one the parent called
                try:
                    bound = signature.bind(self, *args, **kwargs)
                except TypeError:
                    bound = None
                if bound is not None:
                    arguments = dict(list(bound.arguments.items())[1:])
                    site = _call_site(sys._getframe(1))
                    records[id(self)] = (self, Record(function, arguments, positional_only, site))
            function(self, *args, **kwargs)

        return __init__

    for klass in classes | {cls}:
        owner = init_owner(klass)
        if owner is not None and owner not in patched:
            patched[owner] = vars(owner)["__init__"]
    try:
        for owner, function in patched.items():
            owner.__init__ = recorder(function)
        with torch.device("meta"):
            reference = cls(config)
            if callable(getattr(reference, "tie_weights", None)):
                reference.tie_weights()  # some transformers releases skip tying when built on the meta device
    except Exception as exc:
        raise DeclarationError(
            f"building a fresh {cls.__qualname__} from the instance's config failed ({type(exc).__name__}: {exc}); "
            "declare compares the instance with cls(instance.config), so give the reference_class the model was built as"
        ) from exc
    finally:
        for owner, function in patched.items():
            owner.__init__ = function
    return reference, {key: record for key, (_, record) in records.items()}


# -- comparison --------------------------------------------------------------------------------------------------
@attrs.define
class Diff:
    """One place in the model: what the instance holds there compared with the reference."""

    path: str
    kind: str
    module: Any = None
    reference: Any = None
    children: dict[str, Diff] = attrs.field(factory=dict)
    #: Direct parameters/buffers the instance has and the reference lacks (name -> (kind, shape, persistent)).
    added_state: dict[str, Any] = attrs.field(factory=dict)
    #: For ``shared``: the path where the same module object first appears.
    source: str | None = None
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.kind != SAME

    def walk(self) -> Iterator[Diff]:
        yield self
        for child in self.children.values():
            yield from child.walk()


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def compare(instance: nn.Module, reference: nn.Module, native_call: Any) -> Diff:
    """The tree of differences between ``instance`` and ``reference``; ``native_call(module)`` gives the
    constructor call of a ``torch.nn`` native (or None), so a native with other arguments counts as replaced."""
    seen: dict[int, str] = {}
    ref_seen: dict[int, str] = {}

    def visit(path: str, m: Any, r: Any) -> Diff:
        if m is None:
            return Diff(path, SAME if r is None else NONE, None, r)
        if id(m) in seen:
            if r is not None and ref_seen.get(id(r)) == seen[id(m)]:
                return Diff(path, SAME, m, r)
            return Diff(path, SHARED, m, r, source=seen[id(m)], reason=f"the same module as {seen[id(m)] or '(top)'}")
        seen[id(m)] = path
        if r is None:
            return Diff(path, ADDED, m, None, reason="not in the reference")
        ref_seen.setdefault(id(r), path)
        if type(m) is not type(r):
            return Diff(path, REPLACED, m, r, reason=f"{type(r).__qualname__} replaced by {type(m).__qualname__}")
        call = native_call(m)
        if call is not None and call != native_call(r):
            return Diff(path, REPLACED, m, r, reason="other constructor arguments")
        mine, theirs = own_state(m), own_state(r)
        added = {k: v for k, v in mine.items() if k not in theirs}
        if any(theirs.get(k) != v for k, v in mine.items() if k in theirs) or theirs.keys() - mine.keys():
            return Diff(path, REPLACED, m, r, reason="its parameters or buffers differ from a fresh one")
        node = Diff(path, SAME, m, r, added_state=added)
        if added and call is not None:
            node.kind, node.reason = REPLACED, "parameters or buffers were added to a torch.nn native"
            return node
        for name, child in m._modules.items():
            sub = _join(path, name)
            node.children[name] = visit(sub, child, r._modules.get(name))
        for name, child in r._modules.items():
            if name not in m._modules and child is not None:
                node.children[name] = Diff(_join(path, name), DELETED, None, child, reason="deleted")
        if added or any(c.changed for c in node.children.values()):
            node.kind = MODIFIED
        return node

    return visit("", instance, reference)
