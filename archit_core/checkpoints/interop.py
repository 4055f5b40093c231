"""Correspondence with Hugging Face task classes: which head config mirrors theirs, and how their keys map to ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ArchitError, CheckpointError
from ..registry.host import PluginHost, get_host
from .keymap import KeyMap

if TYPE_CHECKING:
    from ..parts.head import HFLayout


def hf_layout_of(model: Any, head: str | None = None, *, host: PluginHost | None = None) -> HFLayout:
    """The Hugging Face layout of a head on a backbone (the backbone plugin's, else the head's own): of ``model``'s
    head on its backbone, or, given names, of ``head`` on the backbone ``model``. Raises :class:`ArchitError` when
    there is none, since nothing then corresponds to a transformers class."""
    if head is None:
        layout = model.backbone_spec.head_layout(model.config.head, model.head_spec)
        backbone, head, why = model.config.backbone, model.config.head, (
            ", so there is no transformers class to export it to; save it as an archit checkpoint instead")
    else:
        backbone, why = model, ""
        layout = equivalent(backbone, head, host=host)
    if layout is None:
        raise ArchitError(f"head {head!r} declares no Hugging Face equivalent on backbone {backbone!r}{why}")
    return layout


def equivalent(backbone: str, head: str, *, host: PluginHost | None = None) -> HFLayout | None:
    """The Hugging Face layout of ``head`` on ``backbone``, or None (older name; :func:`hf_layout_of` raises instead)."""
    host = host or get_host()
    b, h = host.backbone(backbone), host.head(head)
    return b.obj.head_layout(h.name, h.obj)


def resolve_hf_values(eq: HFLayout, hf_config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The head-config values an equivalent requires (``eq.config``, callables resolved against ``hf_config``) and
    the shared fields (``eq.config_fields``) as ``hf_config`` sets them."""
    required = {k: (v(hf_config) if callable(v) else v) for k, v in eq.config.items()}
    shared = {name: getattr(hf_config, name) for name in eq.config_fields if getattr(hf_config, name, None) is not None}
    return required, shared


def head_config_for_hf(backbone: str, head: str, hf_config: Any, *, host: PluginHost | None = None) -> dict[str, Any]:
    """The head config under which archit's ``head`` computes what the Hugging Face task model with
    ``hf_config`` computes (shared fields such as ``num_labels`` are copied from it)."""
    eq = hf_layout_of(backbone, head, host=host)
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


def head_key_map(layout: HFLayout | None) -> KeyMap:
    """Prefix renames from a Hugging Face task head's keys (``layout.keys``) to archit's ``head.*``, and from the
    task class's own base-model prefix (``layout.base_prefix``, where it has one) to ``backbone.``."""
    if layout is None:
        return KeyMap()
    base = {f"{layout.base_prefix}.": "backbone."} if getattr(layout, "base_prefix", None) else {}
    return KeyMap.of({**base, **{hf: f"head.{ours}" for hf, ours in layout.keys.items()}})


def backbone_key_map(backbone: Any) -> KeyMap:
    """Renames from a Hugging Face checkpoint of ``backbone``'s family (a backbone spec) to archit's ``backbone.*``:
    its base-model prefix and the plugin's own ``checkpoint_aliases`` (regexes, other places its weights are saved)."""
    prefix = backbone.checkpoint_prefix
    return KeyMap.of({f"{prefix}.": "backbone."} if prefix else {}, dict(getattr(backbone, "checkpoint_aliases", None) or {}))


def hf_key_map(model: Any) -> KeyMap:
    """Renames from a Hugging Face task checkpoint of ``model``'s family to ``model``'s keys (backbone prefix and
    the head's layout)."""
    layout = model.backbone_spec.head_layout(model.config.head, model.head_spec)
    return KeyMap.of({f"{p}.": "backbone."} if (p := model.backbone_spec.checkpoint_prefix) else {}) | head_key_map(layout)


def convert_hf_state_dict(model: Any, state_dict: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Rename a Hugging Face state dict (task model or bare base model) to ``model``'s keys.

    Returns the renamed tensors and the keys that belong nowhere in ``model``.
    """
    renamed, unmatched = hf_key_map(model).apply(state_dict)
    converted = {key: value for key, (_, value) in renamed.items()}
    backbone_keys = set(model.backbone.state_dict())
    unused: list[str] = []
    for key in unmatched:
        if key in backbone_keys:  # a bare base-model checkpoint has no prefix
            converted["backbone." + key] = state_dict[key]
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
