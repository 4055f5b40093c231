"""What a checkpoint folder holds, read without building a model: format, plugins it needs, tensors by part, and
which installed archit backbone and head correspond to a Hugging Face checkpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import ArchitError, CheckpointError
from ..registry.host import PluginHost
from ..registry.registrations import Registration
from .folder import open_checkpoint

#: Safetensors dtype codes, named as torch names them.
_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
           "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


def tensor_info(path: Any) -> dict[str, tuple[str, list[int]]]:
    """``key -> (dtype, shape)`` of every tensor of a checkpoint folder; safetensors headers are read without
    loading a tensor (or importing torch), ``.bin`` files are loaded with ``weights_only=True``."""
    folder = open_checkpoint(path)
    if folder.weights_format != "safetensors":
        return {k: (str(v.dtype).removeprefix("torch."), list(v.shape)) for k, v in folder.read_state_dict().items()}
    from safetensors import SafetensorError, safe_open

    info: dict[str, tuple[str, list[int]]] = {}
    for file in folder.files:
        try:
            with safe_open(str(file), framework="numpy") as f:
                for key in f.keys():
                    tensor = f.get_slice(key)
                    info[key] = (_DTYPES.get(tensor.get_dtype(), tensor.get_dtype().lower()), list(tensor.get_shape()))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{file} is not a readable safetensors file (corrupt or truncated?): {exc}") from exc
    return info


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


def _backbone_model_type(reg: Registration) -> str | None:
    try:
        return getattr(reg.obj, "model_type", None)
    except Exception:  # a plugin whose config class cannot be imported builds nothing here
        return None


def backbone_for(model_type: str | None, host: PluginHost) -> Registration:
    """The installed backbone that builds Hugging Face ``model_type`` models, or an error saying what to do."""
    matches = [r for r in host.registry.registrations("backbone") if model_type and _backbone_model_type(r) == model_type]
    names = sorted({r.name for r in matches})
    if not matches:
        raise ArchitError(
            f"no installed backbone builds {model_type!r} models (`archit plugins` lists the backbones); install the "
            "plugin of that family or pass --backbone"
        )
    if len(names) > 1:
        raise ArchitError(f"several installed backbones build {model_type!r} models ({', '.join(names)}); pass --backbone")
    return matches[0] if len(matches) == 1 else host.backbone(names[0])  # several providers: host.backbone says how to pick


def head_for(backbone: Registration, model_type: str | None, architecture: str | None, host: PluginHost) -> Registration:
    """The installed head whose Hugging Face equivalent on ``backbone`` is ``architecture``, or an error."""
    from .interop import hf_class_name

    if not architecture:
        raise ArchitError("the checkpoint's config.json names no architectures, so its head is unknown; pass --head")
    matches = []
    for reg in host.registry.registrations("head"):
        eq = backbone.obj.head_layout(reg.name, reg.obj)
        if eq is not None and hf_class_name(eq.auto_class, model_type) == architecture:
            matches.append(reg)
    names = sorted({r.name for r in matches})
    if len(names) == 1:
        return matches[0] if len(matches) == 1 else host.head(names[0])
    if names:
        raise ArchitError(f"several installed heads are equivalent to {architecture} ({', '.join(names)}); pass --head")
    if hf_class_name("AutoModel", model_type) == architecture:
        raise ArchitError(f"the checkpoint holds a base model ({architecture}) without a task head; pass --head to add a fresh one")
    heads = ", ".join(sorted({r.name for r in host.registry.registrations("head")})) or "none"
    raise ArchitError(
        f"no installed head is equivalent to {architecture} on backbone {backbone.name!r} (installed heads: {heads}); "
        "install the head plugin for that task, or pass --head to start a head fresh"
    )


def _plugin_status(kind: str, name: str | None, provenance: dict[str, Any] | None, host: PluginHost) -> dict[str, Any]:
    dist = (provenance or {}).get("distribution")
    entry: dict[str, Any] = {"part": kind, "name": name, "distribution": dist, "version": (provenance or {}).get("version"),
                             "installed": False, "installed_version": None, "status": "missing"}
    for reg in host.registry.registrations(kind):
        if reg.name == name and (dist is None or reg.plugin.distribution == dist):
            entry.update(installed=True, installed_version=reg.plugin.version, status="ok")
            return entry
    for info in host.plugins:
        if dist and info.distribution == dist:  # there, but disabled or broken
            entry.update(installed_version=info.version, status=info.status)
    return entry


def _equivalent_names(config: dict[str, Any], host: PluginHost) -> dict[str, Any]:
    """The archit backbone and head ``archit convert`` would choose for a Hugging Face checkpoint."""
    model_type = config.get("model_type")
    found: dict[str, Any] = {"backbone": None, "head": None, "note": None}
    try:
        backbone = backbone_for(model_type, host)
        found["backbone"] = backbone.name
        found["head"] = head_for(backbone, model_type, (config.get("architectures") or [None])[0], host).name
    except ArchitError as exc:
        found["note"] = " ".join(str(exc).split())
    return found


@attrs.frozen
class CheckpointReport:
    """What a checkpoint folder holds (``archit inspect`` prints it): format, weight files, model type, for an
    archit checkpoint its parts, configs and the plugins they need, for a Hugging Face one the archit backbone and
    head that correspond, and the tensors by part with their dtypes and shapes."""

    path: str
    format: str
    weights: Mapping[str, Any]
    model_type: str | None
    architectures: tuple[str, ...]
    parts: Mapping[str, Any]
    total: Mapping[str, int]
    dtypes: tuple[str, ...]
    archit: Mapping[str, Any] | None = None
    archit_equivalent: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-serialisable data (``archit inspect --json``)."""
        data: dict[str, Any] = {"path": self.path, "format": self.format, "weights": dict(self.weights),
                                "model_type": self.model_type, "architectures": list(self.architectures)}
        if self.archit is not None:
            data.update(self.archit)
        if self.archit_equivalent is not None:
            data["archit_equivalent"] = dict(self.archit_equivalent)
        return data | {"parts": dict(self.parts), "total": dict(self.total), "dtypes": list(self.dtypes)}


def inspect_checkpoint(path: Any, host: PluginHost) -> CheckpointReport:
    """The :class:`CheckpointReport` of a checkpoint folder (or hub id, or an opened :class:`CheckpointFolder`)."""
    folder = open_checkpoint(path)
    config, files, archit = folder.config, folder.files, folder.is_archit
    weights = {"format": folder.weights_format, "sharded": folder.sharded, "files": [f.name for f in files]}
    extra: dict[str, Any] = {}
    if archit:
        plugins = config.get("plugins") or {}
        extra["archit"] = dict(
            backbone=config.get("backbone"),
            head=config.get("head"),
            backbone_config=config.get("backbone_config") or {},
            head_config=config.get("head_config") or {},
            plugins=[_plugin_status(kind, config.get(kind), plugins.get(kind), host) for kind in ("backbone", "head")],
        )
        prefix, base_model = "backbone", False
    else:
        extra["archit_equivalent"] = _equivalent_names(config, host)
        prefix, base_model = _hf_layout(config, host)
    tensors = tensor_info(folder)
    parts: dict[str, dict[str, Any]] = {}
    for key in sorted(tensors):
        dtype, shape = tensors[key]
        if prefix is None:
            part = "other"
        elif key.split(".", 1)[0] == prefix or base_model:
            part = "backbone"
        elif archit and key.split(".", 1)[0] != "head":
            part = "other"
        else:
            part = "head"
        group = parts.setdefault(part, {"keys": 0, "parameters": 0, "tensors": {}})
        group["keys"] += 1
        group["parameters"] += _numel(shape)
        group["tensors"][key] = {"dtype": dtype, "shape": shape}
    return CheckpointReport(
        path=str(folder), format=folder.format, weights=weights, model_type=config.get("model_type"),
        architectures=tuple(config.get("architectures") or []),
        parts={p: parts[p] for p in ("backbone", "head", "other") if p in parts},
        total={"keys": len(tensors), "parameters": sum(g["parameters"] for g in parts.values())},
        dtypes=tuple(sorted({dtype for dtype, _ in tensors.values()})), **extra,
    )


def inspect_report(path: Any, host: PluginHost) -> dict[str, Any]:
    """:func:`inspect_checkpoint` as JSON-serialisable data."""
    return inspect_checkpoint(path, host).to_dict()


def _hf_layout(config: dict[str, Any], host: PluginHost) -> tuple[str | None, bool]:
    """The base-model key prefix of a Hugging Face checkpoint and whether it is a bare base model."""
    from .interop import hf_class_name

    model_type = config.get("model_type")
    architecture = (config.get("architectures") or [None])[0]
    base_model = architecture is not None and hf_class_name("AutoModel", model_type) == architecture
    try:
        prefix = backbone_for(model_type, host).obj.checkpoint_prefix
    except ArchitError:
        prefix = None
    if prefix is None and architecture:
        import transformers

        prefix = getattr(getattr(transformers, architecture, None), "base_model_prefix", None) or None
    return prefix, base_model
