"""``build`` and ``load``: the public ways to get a model with a head."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..parts.configs import config_to_dict
from ..errors import CheckpointError, ConfigError, UnknownNameError
from ..registry.host import PluginHost, get_host, using

if TYPE_CHECKING:
    from .modeling import ModelWithHead

#: Options of ``build`` that go to the model config (besides these, ``dtype`` and ``device`` place the model).
CONFIG_OPTIONS = frozenset({"id2label", "label2id", "problem_type", "output_hidden_states", "attn_implementation"})


def build(
    backbone: str,
    head: str | Mapping[str, Any],
    *,
    backbone_config: Mapping[str, Any] | Any = None,
    head_config: Mapping[str, Any] | Any = None,
    checkpoint: str | Path | None = None,
    tiny: bool = False,
    strict: bool = False,
    reinit_head: bool = False,
    host: PluginHost | None = None,
    dtype: Any = None,
    device: Any = None,
    device_map: Any = None,
    loss_weights: Mapping[str, float] | None = None,
    **options: Any,
) -> ModelWithHead:
    """A model made of the named backbone and head, from whichever plugins provide them.

    ``backbone_config`` is a dict of overrides of the backbone's documented default (its tiny test architecture
    with ``tiny=True``) or a config object; ``head_config`` a dict or the head's attrs config.
    ``name@distribution`` selects one provider when several register a name.

    ``checkpoint`` is a folder (or hub id) whose config fixes the backbone config: a Hugging Face base model (head
    fresh), a Hugging Face task model (its head imported when it is the requested head's equivalent, else fresh),
    or an archit checkpoint (everything, strictly, for the same head; the backbone only for another). What was
    loaded is on ``model.loading_report``; ``strict=True`` refuses fresh backbone weights, and ``reinit_head=True``
    starts the head fresh when its size differs from the checkpoint's.

    ``head`` may also be a dict of named heads, ``{task: head}``, for a multi-task model with ``loss_weights``
    (see :func:`archit_core.multitask.tasks.build_multitask`).
    """
    if not isinstance(head, str):
        if head_config is not None or reinit_head:
            raise ConfigError("a multi-task build takes each task's head config in the heads dict: {task: (head, head_config)}")
        from ..multitask.tasks import build_multitask

        return build_multitask(
            backbone, head, loss_weights=loss_weights, backbone_config=backbone_config, checkpoint=checkpoint,
            tiny=tiny, strict=strict, host=host, dtype=dtype, device=device, device_map=device_map, **options,
        )
    if loss_weights is not None:
        raise ConfigError("loss_weights= is for multi-task models: pass a dict of named heads, {task: head, ...}")
    unknown = sorted(set(options) - CONFIG_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(map(repr, unknown))} for build(); valid: {', '.join(sorted(CONFIG_OPTIONS))}")
    if checkpoint is not None and backbone_config is not None:
        raise ConfigError("give either checkpoint= or backbone_config=, not both: the checkpoint fixes the backbone config")
    if checkpoint is not None:
        from ..checkpoints.folder import local_checkpoint

        checkpoint = local_checkpoint(checkpoint)
    host = host or get_host()
    with using(host):
        from .modeling import ArchitConfig, ModelWithHead, check_compatible

        b = _registration(host, "backbone", backbone, checkpoint)
        h = _registration(host, "head", head, checkpoint)
        plan = _plan(checkpoint, b, h, head_config, reinit_head) if checkpoint is not None else None
        if plan is not None and plan.same_model:
            model = load(checkpoint, host=host, dtype=dtype, device_map=device_map)
            return model.to(device) if device is not None else model
        if plan is not None:
            options = {**plan.options, **options}
        bconf = plan.backbone_config if plan is not None else b.obj.make_config(backbone_config, tiny=tiny)
        hconf = h.obj.make_config(plan.head_config if plan is not None else head_config)
        check_compatible(b, h, bconf, hconf)
        if hasattr(hconf, "num_labels") and "id2label" not in options:
            options["num_labels"] = hconf.num_labels
        config = ArchitConfig(
            backbone=b.name,
            backbone_config=bconf,
            head=h.name,
            head_config=config_to_dict(hconf),
            plugins={"backbone": b.provenance(), "head": h.provenance()},
            **options,
        )
        if plan is None:
            model = _construct(ModelWithHead, config, dtype)
        else:
            from ..checkpoints.load import from_pretrained

            extra = {k: v for k, v in {"dtype": dtype, "device_map": device_map}.items() if v is not None}
            model = from_pretrained(
                ModelWithHead, checkpoint, config, key_mapping=plan.key_mapping, format=plan.format,
                notes=plan.notes, strict=strict, skip_prefix=plan.skip_prefix, warn_skipped=not reinit_head, **extra,
            )
        return model.to(device) if device is not None else model


def _registration(host: PluginHost, kind: str, name: str, checkpoint: str | Path | None) -> Any:
    """``host.backbone(name)`` or ``host.head(name)``; when an archit ``checkpoint`` names that part, a missing
    plugin raises :class:`MissingPluginError` naming the distribution that built it."""
    try:
        return getattr(host, kind)(name)
    except UnknownNameError:
        if checkpoint is not None:
            from ..checkpoints.folder import is_archit_config, read_config

            try:
                saved = read_config(checkpoint)
            except CheckpointError:
                saved = {}
            if is_archit_config(saved) and saved.get(kind) == name:
                from .config import resolve_part

                resolve_part(kind, name, (saved.get("plugins") or {}).get(kind))
        raise


@attrs.frozen
class _Plan:
    """How to load one checkpoint into one backbone + head."""

    format: str
    backbone_config: Any = None
    head_config: Any = None
    key_mapping: dict[str, str] = attrs.field(factory=dict)
    notes: tuple[str, ...] = ()
    skip_prefix: str | None = None
    same_model: bool = False
    options: dict[str, Any] = attrs.field(factory=dict)


def _plan(checkpoint: str | Path, b: Any, h: Any, head_config: Any, reinit_head: bool) -> _Plan:
    from ..checkpoints.folder import is_archit_config, read_config, weight_files

    saved = read_config(checkpoint)
    weight_files(checkpoint)
    user = config_to_dict(head_config) if attrs.has(type(head_config)) else dict(head_config or {})
    if is_archit_config(saved):
        return _plan_archit(checkpoint, saved, b, h, user, reinit_head)
    return _plan_transformers(checkpoint, saved, b, h, user, reinit_head)


def _plan_archit(checkpoint: str | Path, saved: dict[str, Any], b: Any, h: Any, user: dict[str, Any], reinit_head: bool) -> _Plan:
    if saved.get("backbone") != b.name:
        raise CheckpointError(
            f"{str(checkpoint)!r} holds the archit backbone {saved.get('backbone')!r}, not {b.name!r}; "
            f"build({saved.get('backbone')!r}, ...) to use it"
        )
    bconf = b.obj.config_from_dict(saved["backbone_config"])
    hconf = config_to_dict(h.obj.make_config(user))
    theirs = saved.get("head_config") or {}
    if saved.get("head") == h.name:
        try:  # fields a newer head version added take their defaults, as loading that checkpoint does
            theirs = config_to_dict(h.obj.make_config(theirs))
        except ConfigError:
            pass
    if saved.get("head") == h.name and theirs == hconf:
        return _Plan("archit", same_model=True)
    if saved.get("head") == h.name and not reinit_head:
        field = next(k for k in sorted(set(theirs) | set(hconf)) if theirs.get(k) != hconf.get(k))
        raise CheckpointError(
            f"head_config.{field}={hconf.get(field)!r} but the checkpoint's {h.name!r} head has {field}="
            f"{theirs.get(field)!r}; pass reinit_head=True to start the head fresh, or drop the field to take the "
            "checkpoint's"
        )
    note = (
        f"head {h.name!r} is fresh: the checkpoint's head is {saved.get('head')!r} with {saved.get('head_config')}, "
        "and another head's weights are never loaded"
    )
    return _Plan("archit", bconf, user, notes=(note,), skip_prefix="head.")


def hf_backbone_mapping(checkpoint: str | Path, saved: dict[str, Any], b: Any) -> dict[str, str]:
    """Key mapping from a Hugging Face checkpoint of ``b``'s family to archit's ``backbone.*`` keys (prefix and the
    backbone's aliases); a checkpoint of another family is a :class:`CheckpointError`."""
    model_type = saved.get("model_type")
    expected = getattr(b.obj, "model_type", None)
    if expected is not None and model_type != expected:
        raise CheckpointError(
            f"{str(checkpoint)!r} is a {model_type!r} checkpoint, but backbone {b.name!r} builds {expected!r} models; "
            "choose the backbone of that family (`archit plugins` lists them)"
        )
    prefix = b.obj.checkpoint_prefix
    mapping = {f"^{re.escape(prefix)}\\.": "backbone."} if prefix else {}
    return mapping | dict(getattr(b.obj, "checkpoint_aliases", None) or {})  # other places the backbone's weights are saved


def _plan_transformers(
    checkpoint: str | Path, saved: dict[str, Any], b: Any, h: Any, user: dict[str, Any], reinit_head: bool
) -> _Plan:
    from ..checkpoints.interop import hf_class_name, resolve_hf_values

    model_type = saved.get("model_type")
    mapping = hf_backbone_mapping(checkpoint, saved, b)
    bconf = b.obj.config_from_dict(saved)
    eq = b.obj.head_layout(h.name, h.obj)
    hf_class = hf_class_name(eq.auto_class, model_type) if eq is not None else None
    architectures = saved.get("architectures") or []
    if hf_class is None or hf_class not in architectures:
        what = f"{', '.join(architectures)}" if architectures else "a base model"
        note = f"head {h.name!r} is fresh: the checkpoint holds {what}"
        note += f", not {hf_class}" if hf_class else ", and the head has no Hugging Face equivalent on this backbone"
        return _Plan("transformers", bconf, user, mapping, (note,))
    required, shared = resolve_hf_values(eq, bconf)
    differs = {k: v for k, v in user.items() if k in shared and v != shared[k]}
    if differs and not reinit_head:
        field, value = next(iter(differs.items()))
        raise CheckpointError(
            f"head_config.{field}={value!r} but the checkpoint's {hf_class} head has {field}={shared[field]!r}; "
            "pass reinit_head=True to start the head fresh, or drop the field to take the checkpoint's"
        )
    not_equivalent = {k: v for k, v in user.items() if k in required and v != required[k]}
    if differs or not_equivalent:
        why = "reinit_head=True" if differs else ", ".join(f"{k}={v!r} (the {hf_class} head has {required[k]!r})" for k, v in not_equivalent.items())
        note = f"head {h.name!r} is fresh: {why}"
        return _Plan("transformers", bconf, user, mapping, (note,))
    head_values = {**required, **shared, **user}
    head_mapping = {f"^{re.escape(hf)}": f"head.{ours}" for hf, ours in eq.keys.items()}
    note = f"head {h.name!r} imported from the checkpoint's {hf_class} head"
    id2label = {int(k): v for k, v in (saved.get("id2label") or {}).items()}  # the imported head's label names
    labels = {"id2label": id2label, "label2id": saved.get("label2id") or {v: k for k, v in id2label.items()}} if id2label else {}
    return _Plan("transformers", bconf, head_values, {**mapping, **head_mapping}, (note,), options=labels)


def _construct(cls: type, config: Any, dtype: Any) -> Any:
    import torch

    if dtype is None:
        return cls(config)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    try:
        return cls(config)
    finally:
        torch.set_default_dtype(previous)


def load(path: str | Path, *, host: PluginHost | None = None, dtype: Any = None, device_map: Any = None) -> ModelWithHead:
    """Load an archit checkpoint strictly: every key must match, or :class:`CheckpointError` says which do not."""
    from ..checkpoints.folder import is_archit_config, local_checkpoint, read_config, weight_files

    path = local_checkpoint(path)
    saved = read_config(path)
    rewrites = saved.get("archit_rewrites")
    if rewrites:
        names = ", ".join(repr(r.get("rewrite")) for r in rewrites)
        raise CheckpointError(
            f"{str(path)!r} was saved from a model rewritten with {names}, which its config alone cannot rebuild. Save the "
            "base model and the rewrite apart (model.save_pretrained of the original, archit_core.save_rewrites of the "
            "rewritten one; load with archit_core.load then archit_core.load_rewrites), merge the rewrite first where it "
            "can be merged, or write its class with archit_core.declare(model)"
        )
    if not is_archit_config(saved):
        raise CheckpointError(
            f"{str(path)!r} is not an archit checkpoint (model_type={saved.get('model_type')!r}); load Hugging Face "
            "checkpoints with build(backbone, head, checkpoint=...)"
        )
    weight_files(path)
    with using(host or get_host()):
        from ..checkpoints.load import from_pretrained
        from .config import ArchitConfig
        from .modeling import ModelWithHead

        config = ArchitConfig.from_pretrained(str(path))
        extra = {k: v for k, v in {"dtype": dtype, "device_map": device_map}.items() if v is not None}
        model = from_pretrained(ModelWithHead, path, config, key_mapping=None, format="archit", **extra)
    report = model.loading_report
    if not report.complete:
        raise CheckpointError(f"{str(path)!r} does not load strictly into its own architecture:\n{report}")
    return model


def summary(model: Any) -> dict[str, Any]:
    """Parameter counts of a model by part."""

    def count(module: Any, trainable: bool = False) -> int:
        return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)

    return {
        "backbone": count(model.backbone),
        "head": count(model.head),
        "total": count(model),
        "trainable": count(model, trainable=True),
    }


