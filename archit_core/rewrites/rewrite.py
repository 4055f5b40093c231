"""Non-destructive rewrites: ``rewrite(model, name)`` returns a new model that shares every weight it did not replace.

A rewrite plugin registers a :class:`RewriteSpec` (a function building the replacement of one module, its attrs
config, the module roles it targets by default). Targets are module roles that backbone plugins declare, or
explicit module paths; names are never guessed from patterns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .._imports import resolve
from ..errors import ArchitError, CheckpointError, ConfigError, bounded_repr
from ..parts.configs import config_from_dict, config_to_dict

#: The attribute of a rewritten model that records its rewrites, oldest first.
HISTORY = "archit_rewrites"
#: The attribute of a rewritten model that records the model its first rewrite was applied to (:func:`base_of`).
BASE = "archit_rewrites_base"
REWRITES_FILE = "archit_rewrites.json"
WEIGHTS_FILE = "archit_rewrites.safetensors"


@attrs.frozen(kw_only=True)
class RewriteSpec:
    """A named rewrite.

    ``replace`` (a callable or ``"package.module:function"``) is called as ``replace(module, config, path=path)``
    with the module to rewrite (already a copy sharing the original's weights) and returns its replacement.
    ``default_targets`` are the roles rewritten when the caller names none; with ``freeze_rest`` every weight the
    rewrite did not add is frozen in the new model (the original model's flags are untouched).
    """

    replace: str | Callable[..., Any]
    config_class: type
    default_targets: tuple[str, ...] = ()
    freeze_rest: bool = False
    description: str = ""

    def make_config(self, data: Mapping[str, Any] | Any = None, *, where: str = "rewrite options") -> Any:
        """A validated rewrite config from a dict, a config instance or None (defaults); a number that is not finite
        (``alpha=nan``) is a :class:`ConfigError`, whatever the rewrite's own validators say (``config_from_dict``)."""
        return config_from_dict(self.config_class, data, where=where)


#: Roles a fused projection stands in for when a rewrite's default targets name them and the backbone has only the
#: fused one (GPT-2's ``attention.qkv`` for LoRA's default ``attention.query`` and ``attention.value``; latent
#: attention's key-value up-projection ``attention.kv`` for key and value), first found first.
ROLE_FALLBACKS = {"attention.query": ("attention.qkv",), "attention.key": ("attention.kv", "attention.qkv"),
                  "attention.value": ("attention.kv", "attention.qkv")}


_TARGET = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:\[(?P<index>-?\d*)(?::(?P<stop>-?\d*))?\])?$")


def rewrite(
    model: Any,
    name: str,
    *,
    targets: Iterable[str] | str | None = None,
    trainable: Iterable[str] | None = None,
    host: Any = None,
    **options: Any,
) -> Any:
    """A new model in which rewrite ``name`` replaced every module of ``targets``; ``model`` is left unchanged.

    ``targets`` are module roles the backbone declares (``"attention.query"``, restricted to layers with
    ``"attention.query[0:6]"`` or ``"attention.query[3]"``) or module paths of ``model``; the rewrite's defaults
    when None. Every weight not replaced is shared with ``model`` (same storage). A freezing rewrite (LoRA) freezes
    the shared weights in the new model only, and gives the parameters under the ``trainable`` path prefixes
    (default: an archit model's ``head``) a copy of their own, so training the new model never changes ``model``;
    those copies are saved with the rewrite's own weights.
    """
    from ..registry.host import get_host
    from .sharing import shared_copy

    host = host or get_host()
    reg = host.rewrite(name)
    spec: RewriteSpec = reg.obj
    config = spec.make_config(options, where=f"rewrite {reg.name!r}")
    for argument, value in (("targets", targets), ("trainable", trainable)):
        if value is not None and not isinstance(value, str) and (
                not isinstance(value, Iterable) or not all(isinstance(t, str) and t for t in value)):
            raise ConfigError(f"{argument}: a module role or path, or a list of them, got {bounded_repr(value)}")
    wanted = (targets,) if isinstance(targets, str) else tuple(targets) if targets is not None else default_targets(model, spec, host)
    if not wanted:
        raise ConfigError(f"rewrite {reg.name!r} has no default targets; pass targets=[role or module path, ...]")
    paths = target_paths(model, wanted, host)
    new = shared_copy(model)
    original = {id(p): p for p in new.parameters()}  # holding them: a freed Parameter's id could be reused
    replace = resolve(spec.replace)
    for path in paths:
        module = new.get_submodule(path)
        try:
            replacement = replace(module, config, path=path)
        except (TypeError, ValueError) as exc:
            raise ArchitError(f"rewrite {reg.name!r} cannot rewrite {path!r} ({type(module).__name__}): {exc}") from exc
        replacement.train(module.training)  # the new parts run in the mode of the module they replace
        _set_submodule(new, path, replacement)
    _drop_stale_ties(new)
    keep = (trainable,) if isinstance(trainable, str) else tuple(trainable) if trainable is not None else _default_trainable(model)
    if spec.freeze_rest:
        names = [n for n, _ in new.named_parameters()]
        for prefix in keep:
            if not any(_under(n, (prefix,)) for n in names):
                raise ConfigError(f"trainable prefix {prefix!r} matches no parameter of the model (e.g. 'head', 'backbone.pooler')")
        kept = {id(p) for n, p in new.named_parameters() if id(p) in original and _under(n, keep)}
        for p in new.parameters():
            if id(p) in original and id(p) not in kept:
                p.requires_grad_(False)
        _own_copies(new, kept)  # what trains in the new model must not change the input model
    added = [n for n, p in new.named_parameters(remove_duplicate=False) if id(p) not in original]
    record = {
        "rewrite": reg.name,
        "distribution": reg.plugin.distribution,
        "version": reg.plugin.version,
        "options": config_to_dict(config),
        "targets": list(wanted),
        "trainable": list(keep),
        "paths": paths,
        "parameters": added,
    }
    history = [*getattr(model, HISTORY, []), record]
    object.__setattr__(new, HISTORY, history)
    object.__setattr__(new, BASE, getattr(model, BASE, None) or base_of(model))
    if getattr(new, "config", None) is not None:  # saved with the model, so loading it can say what happened
        new.config.archit_rewrites = [{k: v for k, v in r.items() if k != "parameters"} for r in history]
    return new


def default_targets(model: Any, spec: RewriteSpec, host: Any) -> tuple[str, ...]:
    """``spec``'s default targets for ``model``: each role, or where the backbone lacks it and has a fused role of
    :data:`ROLE_FALLBACKS`, that one (once)."""
    source = _role_source(model, host)
    roles = source[0].roles if source is not None else {}
    found = [r if r in roles else next((f for f in ROLE_FALLBACKS.get(r, ()) if f in roles), r) for r in spec.default_targets]
    return tuple(dict.fromkeys(found))


def base_of(model: Any) -> dict[str, Any]:
    """What a rewrite's saved weights are made for: the model's class and ``model_type`` and, for an archit model,
    its backbone and head names and the backbone's ``model_type`` (None where a model has none)."""
    config = getattr(model, "config", None)
    base = {"class": type(model).__name__, "model_type": getattr(config, "model_type", None)}
    if getattr(model, "backbone_spec", None) is not None:
        base.update(backbone=getattr(config, "backbone", None), head=getattr(config, "head", None),
                    backbone_model_type=getattr(getattr(config, "backbone_config", None), "model_type", None))
    return base


def _drop_stale_ties(model: Any) -> None:
    """Forget declared ties whose source or target a rewrite replaced (a factorised embedding has no ``weight``)."""
    names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    for attribute in ("_tied_weights_keys", "all_tied_weights_keys"):
        ties = vars(model).get(attribute)
        if isinstance(ties, dict) and any(t not in names or s not in names for t, s in ties.items()):
            object.__setattr__(model, attribute, {t: s for t, s in ties.items() if t in names and s in names})


def target_paths(model: Any, targets: Iterable[str], host: Any) -> list[str]:
    """Module paths of ``model`` for role names or explicit paths; a target that matches nothing is an error."""
    modules = dict(model.named_modules(remove_duplicate=False))
    roles = _role_source(model, host)
    paths: list[str] = []
    for target in targets:
        found = _expand_target(model, target, roles, modules)
        if not found:
            declared = ", ".join(sorted(roles[0].roles)) if roles else "none (no installed backbone describes this model)"
            raise ConfigError(
                f"rewrite target {target!r} matches no module: it is neither a module role of this model's backbone "
                f"(declared roles: {declared}) nor a module path of the model"
            )
        paths.extend(p for p in found if p not in paths)
    return paths


def _role_source(model: Any, host: Any) -> tuple[Any, Any, str] | None:
    """(backbone plugin object, backbone module, its path prefix) for resolving roles, or None."""
    spec = getattr(model, "backbone_spec", None)
    if spec is not None:
        return spec, model.backbone, "backbone."
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type is None:
        return None
    from ..checkpoints.inspection import backbone_for

    try:
        backbone = backbone_for(model_type, host).obj
    except ArchitError:
        try:  # a backbone registered under the model_type itself (the core's generic provider)
            backbone = host.backbone(model_type).obj
        except ArchitError:
            return None
    base = getattr(model, "base_model", model)
    prefix = next((f"{n}." for n, m in model.named_modules() if m is base and n), "")
    return backbone, base, prefix


def _expand_target(model: Any, target: str, roles: tuple[Any, Any, str] | None, modules: Mapping[str, Any]) -> list[str]:
    match = _TARGET.match(target)
    if match is None:
        raise ConfigError(f"rewrite target {target!r} is not a role or module path (e.g. 'attention.query[0:6]')")
    name = match["name"]
    if roles is not None and name in roles[0].roles:
        spec, base, prefix = roles
        found = spec.role_paths(base, name)
        if match["index"] is not None or match["stop"] is not None:
            found = _select_layers(spec.roles[name], found, match["index"], match["stop"], target)
        return [prefix + p for p in found]
    if match["index"] is not None or match["stop"] is not None:
        raise ConfigError(f"rewrite target {target!r}: a layer range applies to a module role, and {name!r} is none")
    return [name] if name in modules and name else []


def _select_layers(pattern: str, paths: list[str], start: str | None, stop: str | None, target: str) -> list[str]:
    parts = pattern.split(".")
    if "*" not in parts:
        raise ConfigError(f"rewrite target {target!r}: role {pattern!r} has no layers to select from")
    where = parts.index("*")
    layers = sorted({int(p.split(".")[where]) for p in paths if p.split(".")[where].isdigit()})
    if stop is None:  # a single layer: "[3]" or "[-1]"
        if not start:
            raise ConfigError(f"rewrite target {target!r}: give a layer index or range, e.g. [3] or [0:6]")
        picked = {layers[int(start)]} if -len(layers) <= int(start) < len(layers) else set()
    else:
        picked = set(layers[slice(int(start) if start else None, int(stop) if stop else None)])
    return [p for p in paths if p.split(".")[where].isdigit() and int(p.split(".")[where]) in picked]


def _set_submodule(model: Any, path: str, module: Any) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == k or name.startswith(f"{k}.") for k in prefixes)


def _own_copies(model: Any, ids: set[int]) -> None:
    """Give ``model`` its own copy of the parameters in ``ids`` (ties among them kept)."""
    from torch import nn

    copies: dict[int, Any] = {}
    for module in model.modules():
        for key, p in module._parameters.items():
            if p is not None and id(p) in ids:
                if id(p) not in copies:
                    copies[id(p)] = nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad)
                module._parameters[key] = copies[id(p)]


def _default_trainable(model: Any) -> tuple[str, ...]:
    return ("head",) if getattr(model, "backbone_spec", None) is not None and hasattr(model, "head") else ()


def constructor_code(module: Any, context: Any, reference: str, *positional: str, keywords: Iterable[str] = ()) -> Any:
    """What a rewrite plugin's ``declare_module`` returns for the module class a rewrite puts in place:
    ``Class(<positional attributes>, keyword=<attribute>, ...)`` with the import of ``reference``
    (``"package.module:Class"``) when ``module`` is of that class, None (another plugin's module) otherwise. The
    constructor arguments are the module's attributes of those names, written by ``context.expression``."""
    from ..declaration.context import ModuleCode

    package, _, name = reference.partition(":")
    if type(module).__module__ != package or type(module).__qualname__ != name:
        return None
    e = context.expression
    args = [e(getattr(module, a)) for a in positional] + [f"{k}={e(getattr(module, k))}" for k in keywords]
    return ModuleCode(f"{name}({', '.join(args)})", (f"from {package} import {name}",))


def rewrites_of(model: Any) -> list[dict[str, Any]]:
    """The rewrites applied to ``model``, oldest first (empty for a model never rewritten)."""
    return list(getattr(model, HISTORY, []))


def save_rewrites(model: Any, path: str | Path) -> Path:
    """Save only what the rewrites added (for LoRA: the adapter weights) and how to redo them, to folder ``path``."""
    from safetensors.torch import save_file

    history = rewrites_of(model)
    if not history:
        raise ArchitError("this model has no rewrites to save; apply one with archit_core.rewrite(model, name) first")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    params = dict(model.named_parameters(remove_duplicate=False))
    names = [n for record in history for n in record["parameters"]]
    save_file({n: params[n].detach().contiguous() for n in names}, str(folder / WEIGHTS_FILE))
    base = getattr(model, BASE, None) or base_of(model)
    (folder / REWRITES_FILE).write_text(json.dumps({"base": base, "rewrites": history}, indent=2) + "\n")
    return folder


def load_rewrites(model: Any, path: str | Path, *, host: Any = None) -> Any:
    """Redo the rewrites saved in ``path`` on ``model`` (unchanged) and load their weights strictly; the new model."""
    from safetensors.torch import load_file

    folder = Path(path)
    if not (folder / REWRITES_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
        raise CheckpointError(f"{str(path)!r} holds no saved rewrites ({REWRITES_FILE} and {WEIGHTS_FILE}); save them with save_rewrites")
    try:
        saved = json.loads((folder / REWRITES_FILE).read_text())
        state = load_file(str(folder / WEIGHTS_FILE))
        history = saved["rewrites"] if isinstance(saved, dict) else saved  # archit-core 0.1 saved the list alone
        if not isinstance(history, list):
            raise TypeError(f"the rewrites are a {type(history).__name__}, not a list")
    except Exception as exc:
        raise CheckpointError(f"{str(path)!r}: the saved rewrites are not readable (corrupt?): {exc}") from exc
    recorded, actual = (saved.get("base") or {}) if isinstance(saved, dict) else {}, base_of(model)
    wrong = {k: (v, actual.get(k)) for k, v in recorded.items() if v is not None and actual.get(k) != v}
    if wrong:
        said = ", ".join(f"{k} {v!r} (this model: {a!r})" for k, (v, a) in wrong.items())
        raise CheckpointError(f"{str(path)!r} holds rewrites made for another model: {said}; load them onto a model of "
                              "the base they were made for")
    for record in history:
        name = f"{record['rewrite']}@{record['distribution']}" if record.get("distribution") else record["rewrite"]
        model = rewrite(model, name, targets=record["paths"], trainable=record.get("trainable"), host=host, **record["options"])
    expected = {n for record in rewrites_of(model)[-len(history):] for n in record["parameters"]}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise CheckpointError(f"{str(path)!r} does not fit the rewritten model: missing {missing[:5]}, unexpected {extra[:5]}")
    params = dict(model.named_parameters(remove_duplicate=False))
    for n, tensor in state.items():
        if params[n].shape != tensor.shape:
            raise CheckpointError(f"{str(path)!r}: {n} has shape {tuple(tensor.shape)}, the rewritten model {tuple(params[n].shape)}")
        params[n].data.copy_(tensor)
    return model
