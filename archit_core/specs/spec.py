"""Whole architectures from specs (the TorchArc idea): a dict, JSON or YAML file naming the backbone, its config or
checkpoint, one or several heads with loss weights, rewrites in order, and an optimizer.

Every error names its place in the spec (``heads.ner.num_labels: 'num_labels' must be > 0, got 0``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ArchitError, ConfigError
from ..parts.configs import did_you_mean

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


def read_spec(spec: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The spec as a dict: ``spec`` itself, or the JSON / YAML file it names."""
    if isinstance(spec, Mapping):
        return dict(spec)
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"spec file {str(spec)!r} does not exist; give a .json, .yaml or .yml file, or a dict")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.load(text, Loader=_yaml_loader())
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"spec file {str(spec)!r}: unknown format {path.suffix!r}; use .json, .yaml or .yml")
    except ConfigError:
        raise
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError: both say where
        raise ConfigError(f"spec file {str(spec)!r} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"spec file {str(spec)!r} must hold a mapping of spec keys, got {type(data).__name__}")
    return dict(data)


def _yaml_loader() -> Any:
    """PyYAML's safe loader with YAML 1.2 floats: ``5e-5`` is a number (YAML 1.1 reads it as a string)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

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
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(allowed)}, got {type(data).__name__} {data!r}")
    for key in data:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"; valid keys: {', '.join(allowed)}"
            raise ConfigError(f"{_join(where, key)}: unknown key{hint}")
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
        raise ConfigError(f"{where}: expected a name, got {type(value).__name__} {value!r}")
    return value


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
        raise ConfigError(f"heads: expected a non-empty mapping of task name to head, got {heads!r}")
    built: dict[str, Any] = {}
    weights: dict[str, float] = {}
    for task, entry in heads.items():
        where = f"heads.{task}"
        entry = entry if isinstance(entry, Mapping) else {"head": entry}
        _keys(where, entry, HEAD_KEYS, required=("head",))
        built[task] = (_head_config(where, entry, host), entry.get("config") or {})
        weight = entry.get("loss_weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
            raise ConfigError(f"{where}.loss_weight: must be a number >= 0, got {weight!r}")
        weights[task] = float(weight)
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


def check_spec(spec: Mapping[str, Any] | str | Path, *, host: Any = None) -> dict[str, Any]:
    """The spec, read and validated without building anything; errors name their place in it."""
    from ..registry.host import get_host

    host = host or get_host()
    data = read_spec(spec)
    _keys("", data, SPEC_KEYS, required=("backbone",))
    backbone = _name("backbone", data["backbone"])
    try:
        registration = host.backbone(backbone)
    except ArchitError as exc:
        raise ConfigError(f"backbone: {exc}") from exc
    if "checkpoint" in data and "backbone_config" in data:
        raise ConfigError("spec: give 'checkpoint' or 'backbone_config', not both: the checkpoint fixes the backbone config")
    if "backbone_config" in data:
        registration.obj.make_config(data["backbone_config"], tiny=bool(data.get("tiny")))  # errors say backbone_config.<field>
    _heads(data, host)
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
    if "optimizer" in data:
        _optimizer_settings(data["optimizer"])
    if "options" in data:
        _keys("options", data["options"], sorted(_config_options()))
    return data


def _config_options() -> frozenset[str]:
    from ..model.build import CONFIG_OPTIONS

    return frozenset(CONFIG_OPTIONS)


def build_from_spec(spec: Mapping[str, Any] | str | Path, *, host: Any = None, **build_kwargs: Any) -> Any:
    """The model a spec describes: backbone (config or checkpoint), heads, then each rewrite in order.

    ``build_kwargs`` (``dtype``, ``device``, ...) go to :func:`archit_core.build`.
    """
    from ..model.build import build
    from ..registry.host import get_host
    from ..rewrites.rewrite import rewrite

    host = host or get_host()
    data = check_spec(spec, host=host)
    head, head_config, weights = _heads(data, host)
    kwargs: dict[str, Any] = {**dict(data.get("options") or {}), **build_kwargs}
    if weights is not None:
        kwargs["loss_weights"] = weights
    model = build(
        data["backbone"], head, head_config=head_config, backbone_config=data.get("backbone_config"),
        checkpoint=data.get("checkpoint"), tiny=bool(data.get("tiny")), host=host, **kwargs,
    )
    for i, entry in enumerate(data.get("rewrites", [])):
        entry = entry if isinstance(entry, Mapping) else {"rewrite": entry}
        try:
            model = rewrite(model, entry["rewrite"], targets=entry.get("targets"), trainable=entry.get("trainable"),
                            host=host, **dict(entry.get("options") or {}))
        except ArchitError as exc:
            raise _located(f"rewrites[{i}]", exc) from exc
    return model


def _optimizer_settings(data: Any) -> dict[str, Any]:
    _keys("optimizer", data, _OPTIMIZER_KEYS)
    settings = {"type": "adamw", "lr": 5e-5, "weight_decay": 0.0, "lr_multipliers": {}, **data}
    if settings["type"] not in OPTIMIZERS:
        raise ConfigError(f"optimizer.type: {settings['type']!r} is not one of {', '.join(OPTIMIZERS)}")
    for key in ("lr", "weight_decay"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (key == "lr" and value == 0):
            raise ConfigError(f"optimizer.{key}: must be a number {'> 0' if key == 'lr' else '>= 0'}, got {value!r}")
    multipliers = settings["lr_multipliers"]
    if not isinstance(multipliers, Mapping):
        raise ConfigError(f"optimizer.lr_multipliers: expected {{module path prefix: factor}}, got {multipliers!r}")
    for prefix, factor in multipliers.items():
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            raise ConfigError(f"optimizer.lr_multipliers.{prefix}: must be a number > 0, got {factor!r}")
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
