"""Whole architectures from specs (the TorchArc idea): a dict, JSON or YAML file naming the backbone, its config or
checkpoint, one or several heads with loss weights, rewrites in order, and an optimizer.

Every error names its place in the spec (``heads.ner.num_labels: 'num_labels' must be > 0, got 0``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ArchitError, ConfigError, bounded_repr
from ..parts.configs import as_config_error, check_sizes, config_errors, did_you_mean

#: Top-level keys of a spec and what they hold.
SPEC_KEYS = {
    "backbone": "backbone name (or name@distribution)",
    "backbone_config": "overrides of the backbone's default architecture",
    "checkpoint": "checkpoint folder or hub id the backbone config and weights come from",
    "tiny": "use the backbone's tiny test architecture",
    "head": "a single head: its name, or {head, config}",
    "heads": "several named heads: {task: {head, config, loss_weight}}",
    "rewrites": "rewrites applied in order: [{rewrite, targets, trainable, options}]",
    "optimizer": "optimizer: {type, lr, weight_decay, lr_multipliers}",
    "options": "model-config options (id2label, label2id, problem_type, ...)",
}
HEAD_KEYS = ("head", "config", "loss_weight")
_REWRITE_KEYS = ("rewrite", "targets", "trainable", "options")
OPTIMIZERS = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}
_OPTIMIZER_KEYS = ("type", "lr", "weight_decay", "lr_multipliers", "betas", "momentum")


#: The most values (keys, items and scalars, with YAML aliases expanded) a spec may hold; a 400-byte file of nested
#: aliases can stand for billions, which every later step (validation, error messages, config.json) would expand.
MAX_SPEC_VALUES = 2_000_000
#: The largest spec file read.
MAX_SPEC_BYTES = 64 << 20
#: How deeply a spec may nest.
MAX_SPEC_DEPTH = 64


def read_spec(spec: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The spec as a dict: ``spec`` itself, or the JSON / YAML file it names. Duplicate keys, NaN or infinite JSON
    constants and specs that expand beyond :data:`MAX_SPEC_VALUES` values are refused."""
    if isinstance(spec, Mapping):
        data: Any = dict(spec)
    elif isinstance(spec, (str, Path)):
        data = _read_file(Path(spec))
    else:
        raise ConfigError(f"spec: expected a dict, or the path of a .json, .yaml or .yml file, got {type(spec).__name__} {bounded_repr(spec)}")
    _check_size(data)
    return data


def _read_file(path: Path) -> dict[str, Any]:
    where = f"spec file {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where} does not exist; give a .json, .yaml or .yml file, or a dict")
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"{where}: unknown format {path.suffix!r}; use .json, .yaml or .yml")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise ConfigError(f"{where} is {path.stat().st_size:,} bytes; a spec is at most {MAX_SPEC_BYTES:,} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text ({exc}); save it as UTF-8") from exc
    try:
        if path.suffix == ".json":
            data = loads_json(text)
        else:
            import yaml

            data = yaml.load(text, Loader=_yaml_loader())
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{where} nests too deeply to read; a spec nests at most {MAX_SPEC_DEPTH} levels") from exc
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError: both say where
        raise ConfigError(f"{where} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must hold a mapping of spec keys, got {type(data).__name__}")
    return dict(data)


def loads_json(text: str) -> Any:
    """JSON text as specs read it: a key twice in one object, and the constants ``NaN`` and ``Infinity``, are a
    :class:`ConfigError` (Python's ``json`` takes the last key and reads the constants as floats)."""
    return json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ConfigError(f"the key {key!r} appears twice in one object; keep one (JSON would silently take the last)")
        data[key] = value
    return data


def _json_constant(name: str) -> Any:
    raise ConfigError(f"{name} is not a number a spec may hold; every number in a spec is finite")


def _check_size(data: Any) -> None:
    """Refuse a spec of more than :data:`MAX_SPEC_VALUES` values (counted with shared parts expanded, in time linear in
    the distinct ones), nested deeper than :data:`MAX_SPEC_DEPTH`, or containing itself."""
    sizes: dict[int, int] = {}
    inside: set[int] = set()

    def size(value: Any, depth: int) -> int:
        if not isinstance(value, (Mapping, list, tuple)):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in inside:
            raise ConfigError("spec: a value contains itself (a recursive YAML alias); write the value out")
        if depth > MAX_SPEC_DEPTH:
            raise ConfigError(f"spec: nested more than {MAX_SPEC_DEPTH} levels deep")
        inside.add(key)
        total = 1
        for child in (x for kv in value.items() for x in kv) if isinstance(value, Mapping) else value:
            total += size(child, depth + 1)
            if total > MAX_SPEC_VALUES:
                raise ConfigError(
                    f"spec: more than {MAX_SPEC_VALUES:,} values once YAML aliases (*name) are expanded; write the spec "
                    "without nested aliases"
                )
        inside.discard(key)
        sizes[key] = total
        return total

    size(data, 0)


def _yaml_loader() -> Any:
    """PyYAML's safe loader with YAML 1.2 floats (``5e-5`` is a number; YAML 1.1 reads it as a string) that refuses
    duplicate keys (YAML would silently take the last)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, Any] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` entries may be overridden
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        first = seen.setdefault(key, key_node)
                    except TypeError:
                        continue  # an unhashable key: PyYAML's own error names it
                    if first is not key_node:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark,
                            f"found the key {bounded_repr(key)} twice (first {first.start_mark.line + 1}:"
                            f"{first.start_mark.column + 1}); keep one", key_node.start_mark,
                        )
            return super().construct_mapping(node, deep=deep)

    float_12 = re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")
    Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    for first in "-+0123456789.":
        Loader.yaml_implicit_resolvers[first] = [
            (tag, regexp) for tag, regexp in Loader.yaml_implicit_resolvers.get(first, []) if tag != "tag:yaml.org,2002:float"
        ]
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _Float12(float_12), list("-+0123456789."))
    return Loader


class _Float12:
    """A float pattern that leaves integers to the int resolver (it is tried after them)."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def match(self, value: str) -> bool:
        return bool(self.pattern.match(value)) and any(c in value for c in ".eEnN") and any(c.isdigit() or c in "nN" for c in value)


def _keys(where: str, data: Any, allowed: Any, *, required: tuple[str, ...] = ()) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'spec'}: expected a mapping with keys {', '.join(allowed)}, got {type(data).__name__} {bounded_repr(data)}")
    for key in data:
        if key not in allowed:
            hint = did_you_mean(key, allowed) if isinstance(key, str) else ""
            raise ConfigError(f"{_join(where, bounded_repr(key, 60) if not isinstance(key, str) else key[:60])}: unknown key"
                              f"{hint or '; valid keys: ' + ', '.join(allowed)}")
    for key in required:
        if key not in data:
            raise ConfigError(f"{where or 'spec'}: {key!r} is required ({SPEC_KEYS.get(key, 'see docs/specs.md')})")
    return data


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _located(where: str, exc: ArchitError) -> ConfigError:
    """``exc`` as a ConfigError at ``where`` in the spec."""
    return ConfigError(f"{where}: {exc}")


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a name, got {type(value).__name__} {bounded_repr(value)}")
    return value


def _number(where: str, value: Any, *, above: float | None = None, at_least: float | None = None, below: float | None = None) -> float:
    """``value`` when it is a finite int or float within the bounds; else a ConfigError at ``where``."""
    bounds = [f"> {above}" if above is not None else "", f">= {at_least}" if at_least is not None else "",
              f"< {below}" if below is not None else ""]
    wanted = f"a finite number {' and '.join(b for b in bounds if b)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (above is not None and not value > above) or (at_least is not None and not value >= at_least) \
            or (below is not None and not value < below):
        raise ConfigError(f"{where}: must be {wanted}, got {bounded_repr(value)}")
    return float(value)


def _heads(spec: Mapping[str, Any], host: Any) -> tuple[Any, Any, dict[str, float] | None]:
    """(head argument of build, its config, loss weights) from ``head`` or ``heads``, validated in place."""
    if ("head" in spec) == ("heads" in spec):
        raise ConfigError("spec: give exactly one of 'head' (a single head) or 'heads' (several named heads)")
    if "head" in spec:
        entry = spec["head"] if isinstance(spec["head"], Mapping) else {"head": spec["head"]}
        _keys("head", entry, ("head", "config"), required=("head",))
        return _head_config("head", entry, host), entry.get("config"), None
    heads = spec["heads"]
    if not isinstance(heads, Mapping) or not heads:
        raise ConfigError(f"heads: expected a non-empty mapping of task name to head, got {bounded_repr(heads)}")
    built: dict[str, Any] = {}
    weights: dict[str, float] = {}
    for task, entry in heads.items():
        where = f"heads.{bounded_repr(task, 60) if not isinstance(task, str) else task[:60]}"
        entry = entry if isinstance(entry, Mapping) else {"head": entry}
        _keys(where, entry, HEAD_KEYS, required=("head",))
        built[task] = (_head_config(where, entry, host), entry.get("config") or {})
        weights[task] = _number(f"{where}.loss_weight", entry.get("loss_weight", 1.0), at_least=0)
    return built, None, weights


def _head_config(where: str, entry: Mapping[str, Any], host: Any) -> str:
    name = _name(f"{where}.head", entry["head"])
    try:
        host.head(name).obj.make_config(entry.get("config"), where=where)
    except ConfigError:
        raise
    except ArchitError as exc:
        raise ConfigError(f"{where}.head: {exc}") from exc
    return name


def _paths(where: str, value: Any, *, empty: bool) -> None:
    """A ``targets`` or ``trainable`` value: None, a name, or a list of names (empty only when ``empty``)."""
    items = [value] if isinstance(value, str) else value
    if value is None:
        return
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items) or (not items and not empty):
        raise ConfigError(
            f"{where}: expected a list of module roles or paths (['attention.query', 'encoder.layer.0.output.dense']), "
            f"got {bounded_repr(value)}{'' if empty else '; leave it out for the defaults'}"
        )


def _checkpoint(data: Mapping[str, Any]) -> Any:
    """The checkpoint folder the spec names, opened (its config read), or None; a hub id is left to ``build``."""
    if "checkpoint" not in data:
        return None
    value = data["checkpoint"]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"checkpoint: expected a folder or Hugging Face Hub id, got {type(value).__name__} {bounded_repr(value)}")
    if "backbone_config" in data:
        raise ConfigError("spec: give 'checkpoint' or 'backbone_config', not both: the checkpoint fixes the backbone config")
    from ..checkpoints.folder import open_checkpoint

    local = Path(value).expanduser()
    if not local.exists() and (value.count("/") > 1 or value.startswith((".", "/", "~"))):  # a path, not an org/name id
        raise ConfigError(f"checkpoint: the folder {value!r} does not exist; give a folder written by save_pretrained")
    if not local.exists():
        return None  # a hub id: build fetches it
    try:
        return open_checkpoint(local)
    except ArchitError as exc:
        raise _located("checkpoint", exc) from exc


def check_spec(spec: Mapping[str, Any] | str | Path, *, host: Any = None) -> dict[str, Any]:
    """The spec, read and validated without allocating anything; errors name their place in it.

    Each part is validated in place, then the build and the rewrites run on the meta device, so everything
    ``build_from_spec`` would raise on is raised here, except what needs a checkpoint's weights or, for a Hub id, its
    config (the network)."""
    from ..registry.host import get_host

    host = host or get_host()
    data, parts = _checked(spec, host)
    _dry_run(data, host, *parts)
    return data


def _checked(spec: Mapping[str, Any] | str | Path, host: Any) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """The spec read and each of its parts validated in place (no model built), with what ``check_spec``'s dry run
    and ``build_from_spec`` go on from: the backbone registration, its config (None with a checkpoint), the opened
    checkpoint folder, the heads and the options."""
    data = read_spec(spec)
    _keys("", data, SPEC_KEYS, required=("backbone",))
    backbone = _name("backbone", data["backbone"])
    try:
        registration = host.backbone(backbone)
    except ArchitError as exc:
        raise ConfigError(f"backbone: {exc}") from exc
    if not isinstance(data.get("tiny", False), bool):
        raise ConfigError(f"tiny: must be true or false, got {type(data['tiny']).__name__} {bounded_repr(data['tiny'])} (a quoted "
                          "'false' is a string)")
    folder = _checkpoint(data)
    bconf = None
    if "checkpoint" not in data:
        try:  # errors say backbone_config.<field>
            bconf = check_sizes(registration.obj.make_config(data.get("backbone_config"), tiny=data.get("tiny", False)))
        except ArchitError:
            raise
        except config_errors() as exc:  # a transformers config class's own check of a value
            ref = getattr(registration.obj, "config_class", None)  # a class, or "package.module:Class"
            owner = getattr(ref, "__name__", None) or str(ref or "the config class").rpartition(":")[2]
            raise as_config_error(exc, data.get("backbone_config") or {}, where="backbone_config", owner=owner) from exc
    head, head_config, weights = _heads(data, host)
    rewrites = data.get("rewrites", [])
    if not isinstance(rewrites, list):
        raise ConfigError(f"rewrites: expected a list of rewrites, got {type(rewrites).__name__}")
    for i, entry in enumerate(rewrites):
        where = f"rewrites[{i}]"
        entry = entry if isinstance(entry, Mapping) else {"rewrite": entry}
        _keys(where, entry, _REWRITE_KEYS, required=("rewrite",))
        try:
            host.rewrite(_name(f"{where}.rewrite", entry["rewrite"])).obj.make_config(entry.get("options"), where=f"{where}.options")
        except ConfigError:
            raise
        except ArchitError as exc:
            raise ConfigError(f"{where}.rewrite: {exc}") from exc
        _paths(f"{where}.targets", entry.get("targets"), empty=False)
        _paths(f"{where}.trainable", entry.get("trainable"), empty=True)
    if "optimizer" in data:
        _optimizer_settings(data["optimizer"])
    options = dict(_keys("options", data.get("options", {}), sorted(_config_options())))
    return data, (registration, bconf, folder, (head, head_config, weights), options)


def _dry_run(data: Mapping[str, Any], host: Any, b: Any, bconf: Any, folder: Any, heads: tuple[Any, Any, Any],
             options: dict[str, Any]) -> None:
    """``build_from_spec`` on the meta device, which allocates nothing: ``build``'s own checks (each head against the
    backbone, the options, a checkpoint against the backbone and the head) and each rewrite's (its targets and
    trainable prefixes, which need the model's module tree), located in the spec. Only the reading of a checkpoint's
    weights is left to the real build; a Hub id's config is not fetched here."""
    import torch

    from ..model.build import build

    head, head_config, weights = heads
    if "checkpoint" in data and folder is None:
        return  # a Hub id: its config would need the network
    if folder is not None:
        _plan(host, b, folder, heads)
        bconf = b.obj.config_from_dict(folder.config["backbone_config"] if folder.is_archit else folder.config)
    kwargs: dict[str, Any] = {**options, **({"loss_weights": weights} if weights is not None else {})}
    with torch.device("meta"):
        model = _located_build(data, options, lambda: build(data["backbone"], head, head_config=head_config,
                                                            backbone_config=bconf, host=host, **kwargs))
        _rewrites(model, data, host)


def _plan(host: Any, b: Any, folder: Any, heads: tuple[Any, Any, Any]) -> None:
    """The checkpoint's plan for the spec's heads (no weights read); its refusals located at ``checkpoint``."""
    from ..model.build import head_part, plan_checkpoint

    head, head_config, weights = heads
    try:
        plan_checkpoint(folder, b, head_part(head, head_config=head_config, loss_weights=weights).registered(host, folder), False)
    except ConfigError:
        raise
    except ArchitError as exc:
        raise _located("checkpoint", exc) from exc


def _located_build(data: Mapping[str, Any], options: Mapping[str, Any], make: Callable[[], Any]) -> Any:
    """``make()`` (a ``build`` call), its errors located in the spec: an option's at ``options``, the rest at the
    heads."""
    try:
        return make()
    except ConfigError as exc:  # build checks the options against the head (check_model_options): locate them
        if str(exc).split(":", 1)[0].split(".", 1)[0] in options:
            raise ConfigError(f"options.{exc}") from exc
        raise
    except ArchitError as exc:
        raise _located("head" if "head" in data else "heads", exc) from exc


def _rewrites(model: Any, data: Mapping[str, Any], host: Any) -> Any:
    """``model`` with the spec's rewrites applied in order; errors located at ``rewrites[i]``."""
    from ..rewrites.rewrite import rewrite

    for i, entry in enumerate(data.get("rewrites", [])):
        entry = entry if isinstance(entry, Mapping) else {"rewrite": entry}
        try:
            model = rewrite(model, entry["rewrite"], targets=entry.get("targets"), trainable=entry.get("trainable"),
                            host=host, **dict(entry.get("options") or {}))
        except ArchitError as exc:
            raise _located(f"rewrites[{i}]", exc) from exc
    return model


def _config_options() -> frozenset[str]:
    from ..model.build import CONFIG_OPTIONS

    return frozenset(CONFIG_OPTIONS)


def build_from_spec(spec: Mapping[str, Any] | str | Path, *, host: Any = None, **build_kwargs: Any) -> Any:
    """The model a spec describes: backbone (config or checkpoint), heads, then each rewrite in order.

    ``build_kwargs`` (``dtype``, ``device``, ...) go to :func:`archit_core.build`.
    """
    from ..model.build import build
    from ..registry.host import get_host

    host = host or get_host()
    data, (b, _, folder, heads, options) = _checked(spec, host)  # validated, but no dry run: the real build is located
    head, head_config, weights = heads
    if folder is not None:
        _plan(host, b, folder, heads)
    kwargs: dict[str, Any] = {**options, **build_kwargs, **({"loss_weights": weights} if weights is not None else {})}
    model = _located_build(data, options, lambda: build(
        data["backbone"], head, head_config=head_config, backbone_config=data.get("backbone_config"),
        checkpoint=folder if folder is not None else data.get("checkpoint"), tiny=data.get("tiny", False), host=host,
        **kwargs))
    return _rewrites(model, data, host)


def _optimizer_settings(data: Any) -> dict[str, Any]:
    _keys("optimizer", data, _OPTIMIZER_KEYS)
    settings = {"type": "adamw", "lr": 5e-5, "weight_decay": 0.0, "lr_multipliers": {}, **data}
    kind = settings["type"]
    if not isinstance(kind, str) or kind not in OPTIMIZERS:
        raise ConfigError(f"optimizer.type: {bounded_repr(kind)} is not one of {', '.join(OPTIMIZERS)}")
    _number("optimizer.lr", settings["lr"], above=0)
    _number("optimizer.weight_decay", settings["weight_decay"], at_least=0)
    multipliers = settings["lr_multipliers"]
    if not isinstance(multipliers, Mapping):
        raise ConfigError(f"optimizer.lr_multipliers: expected {{module path prefix: factor}}, got {bounded_repr(multipliers)}")
    for prefix, factor in multipliers.items():
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"optimizer.lr_multipliers: keys are module path prefixes such as 'head', got {bounded_repr(prefix)}")
        _number(f"optimizer.lr_multipliers.{prefix[:60]}", factor, above=0)
    if "betas" in settings:
        if kind == "sgd":
            raise ConfigError("optimizer.betas: SGD takes no betas (Adam and AdamW do); drop them or use momentum")
        betas = settings["betas"]
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise ConfigError(f"optimizer.betas: expected two numbers in [0, 1), such as [0.9, 0.999], got {bounded_repr(betas)}")
        for i, beta in enumerate(betas):
            _number(f"optimizer.betas[{i}]", beta, at_least=0, below=1)
    if "momentum" in settings:
        if kind != "sgd":
            raise ConfigError(f"optimizer.momentum: {OPTIMIZERS[kind]} takes no momentum (SGD does); use betas")
        _number("optimizer.momentum", settings["momentum"], at_least=0)
    return settings


def build_optimizer(spec: Mapping[str, Any] | str | Path, model: Any) -> Any:
    """The torch optimizer of the spec's ``optimizer`` section for ``model``'s trainable parameters.

    ``lr_multipliers`` scale the learning rate of parameters under module path prefixes (``{"head": 10}``; the
    longest matching prefix wins). Weight decay skips biases and normalisation weights (one-dimensional tensors), as
    Hugging Face's Trainer does.
    """
    import torch

    data = read_spec(spec)
    settings = _optimizer_settings(data.get("optimizer", {}) if "backbone" in data else data)
    multipliers = dict(settings["lr_multipliers"])
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ArchitError("the model has no trainable parameters to optimise")
    for prefix in multipliers:
        if not any(n == prefix or n.startswith(f"{prefix}.") for n, _ in named):
            raise ConfigError(f"optimizer.lr_multipliers.{prefix}: matches no trainable parameter of the model")
    groups: dict[tuple[float, float], list[Any]] = {}
    for name, p in named:
        match = max((k for k in multipliers if name == k or name.startswith(f"{k}.")), key=len, default=None)
        lr = settings["lr"] * (multipliers[match] if match else 1.0)
        decay = settings["weight_decay"] if p.ndim > 1 else 0.0
        groups.setdefault((lr, decay), []).append(p)
    param_groups = [{"params": ps, "lr": lr, "weight_decay": decay} for (lr, decay), ps in groups.items()]
    extra = {k: settings[k] for k in ("betas", "momentum") if k in settings}
    if "betas" in extra:
        extra["betas"] = tuple(extra["betas"])
    try:
        return getattr(torch.optim, OPTIMIZERS[settings["type"]])(param_groups, lr=settings["lr"], **extra)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"optimizer: {exc}") from exc
