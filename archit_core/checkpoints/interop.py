"""Correspondence with Hugging Face task classes: which head config mirrors theirs, and how their keys map to ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ArchitError, CheckpointError
from ..parts.head import HFEquivalent
from ..registry.host import PluginHost, get_host


def equivalent(backbone: str, head: str, *, host: PluginHost | None = None) -> HFEquivalent | None:
    """The Hugging Face equivalent of ``head`` on ``backbone``: the backbone plugin's layout, else the head's."""
    host = host or get_host()
    b, h = host.backbone(backbone), host.head(head)
    return b.obj.head_layout(h.name, h.obj)


def resolve_hf_values(eq: HFEquivalent, hf_config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The head-config values an equivalent requires (``eq.config``, callables resolved against ``hf_config``) and
    the shared fields (``eq.config_fields``) as ``hf_config`` sets them."""
    required = {k: (v(hf_config) if callable(v) else v) for k, v in eq.config.items()}
    shared = {name: getattr(hf_config, name) for name in eq.config_fields if getattr(hf_config, name, None) is not None}
    return required, shared


def head_config_for_hf(backbone: str, head: str, hf_config: Any, *, host: PluginHost | None = None) -> dict[str, Any]:
    """The head config under which archit's ``head`` computes what the Hugging Face task model with
    ``hf_config`` computes (shared fields such as ``num_labels`` are copied from it)."""
    eq = equivalent(backbone, head, host=host)
    if eq is None:
        raise ArchitError(f"head {head!r} declares no Hugging Face equivalent on backbone {backbone!r}")
    required, shared = resolve_hf_values(eq, hf_config)
    return {**required, **shared}


def hf_class_name(auto_class: str, model_type: str | None) -> str | None:
    """The Hugging Face class an Auto class maps ``model_type`` to (``AutoModelForTokenClassification``, ``bert``
    -> ``BertForTokenClassification``), or None."""
    import transformers

    auto = getattr(transformers, auto_class, None)
    mapping = getattr(getattr(auto, "_model_mapping", None), "_model_mapping", {})
    name = mapping.get(model_type) if model_type else None
    return name[0] if isinstance(name, (tuple, list)) else name


def hf_key_map(model: Any) -> dict[str, str]:
    """Prefix map from a Hugging Face task checkpoint of ``model``'s family to ``model``'s keys."""
    eq = model.backbone_spec.head_layout(model.config.head, model.head_spec)
    prefix = model.backbone_spec.checkpoint_prefix
    mapping = {f"{prefix}.": "backbone."} if prefix else {}
    if eq is not None:
        mapping.update({hf: f"head.{ours}" for hf, ours in eq.keys.items()})
    return mapping


def convert_hf_state_dict(model: Any, state_dict: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Rename a Hugging Face state dict (task model or bare base model) to ``model``'s keys.

    Returns the renamed tensors and the keys that belong nowhere in ``model``.
    """
    mapping = sorted(hf_key_map(model).items(), key=lambda kv: -len(kv[0]))
    backbone_keys = set(model.backbone.state_dict())
    converted: dict[str, Any] = {}
    unused: list[str] = []
    for key, value in state_dict.items():
        for source, target in mapping:
            if key.startswith(source):
                converted[target + key[len(source):]] = value
                break
        else:
            if key in backbone_keys:  # a bare base-model checkpoint has no prefix
                converted["backbone." + key] = value
            else:
                unused.append(key)
    return converted, unused


def import_hf_state_dict(model: Any, state_dict: Mapping[str, Any]) -> None:
    """Load a Hugging Face task model's weights into an equivalent archit model, strictly."""
    converted, unused = convert_hf_state_dict(model, state_dict)
    unused = [k for k in unused if not _aliases(state_dict[k], converted.values())]
    result = model.load_state_dict(converted, strict=False)
    tied = getattr(model, "all_tied_weights_keys", None) or {}  # a tied copy is loaded with its source
    missing = [k for k in result.missing_keys if not (k in tied and tied[k] in converted)]
    if unused or missing or result.unexpected_keys:
        raise CheckpointError(
            f"Hugging Face weights do not match this archit model: unused {unused[:8]}, "
            f"missing {missing[:8]}, unexpected {list(result.unexpected_keys)[:8]}"
        )


def _aliases(tensor: Any, others: Any) -> bool:
    """Whether ``tensor`` is a tied alias of one of ``others`` (the same memory and shape), as a weight that some
    transformers releases register twice in a task model's state dict (DeBERTa's ``lm_predictions.lm_head.weight``)."""
    if not hasattr(tensor, "data_ptr") or tensor.device.type == "meta":
        return False
    return any(o is tensor or (o.device == tensor.device and o.data_ptr() == tensor.data_ptr() and o.shape == tensor.shape)
               for o in others if hasattr(o, "data_ptr"))
