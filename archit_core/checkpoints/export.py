"""Exporting an archit model to the Hugging Face task class its head is equivalent to.

``to_transformers(model)`` returns, for instance, a ``RobertaForSequenceClassification`` holding the archit
model's weights (copied, so the two models are independent afterwards); parts of the Hugging Face class that its
outputs do not read and the archit model lacks (the layout's ``unused_keys``: BigBird's pooler) keep Hugging Face's
initialisation. It refuses, saying why, when the head has
no Hugging Face equivalent on the model's backbone, when the head config asks for something the Hugging Face class
does not compute (``pooling="mean"``), or when the weights do not fill the Hugging Face class exactly.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ArchitError
from ..parts.configs import config_to_dict
from .interop import hf_class_name, hf_key_map, hf_layout_of, resolve_hf_values

if TYPE_CHECKING:
    from ..parts.head import HFLayout

#: The older name of :func:`~archit_core.checkpoints.interop.hf_layout_of` (one model's head layout).
hf_equivalent = hf_layout_of


def hf_config(model: Any, eq: HFLayout | None = None) -> Any:
    """The Hugging Face task config of ``model``: its backbone config with the shared head fields and labels.

    Raises :class:`ArchitError` naming the head-config field whose value the Hugging Face class cannot reproduce.
    """
    eq = eq or hf_layout_of(model)
    config = copy.deepcopy(model.config.backbone_config)
    head = config_to_dict(model.head_spec.make_config(model.config.head_config))
    hf_class = hf_class_name(eq.auto_class, getattr(config, "model_type", None)) or eq.auto_class
    required, _ = resolve_hf_values(eq, config)
    for field, value in required.items():
        if head.get(field) != value:
            raise ArchitError(
                f"head_config.{field}={head.get(field)!r} has no Hugging Face equivalent: {hf_class} computes "
                f"{field}={value!r}. Only a {model.config.head!r} head with "
                f"{', '.join(f'{k}={v!r}' for k, v in required.items())} on {model.config.backbone!r} exports"
            )
    for field in eq.config_fields:
        if head.get(field) is not None:  # None: the head follows the backbone config, which already says it
            setattr(config, field, head[field])
    id2label = dict(model.config.id2label or {})
    if len(id2label) == getattr(config, "num_labels", None):
        config.id2label = {int(k): v for k, v in id2label.items()}
        config.label2id = {v: int(k) for k, v in id2label.items()}
    _export_dropout(head.get("dropout"), eq, config, hf_class, model.head.backbone_facts.head_dropout)
    config.architectures = [hf_class]
    return config


def _export_dropout(dropout: float | None, eq: HFLayout, config: Any, hf_class: str, backbone_dropout: float) -> None:
    """Set the head config's ``dropout`` on the Hugging Face config field its head reads (``eq.dropout_field``), or
    warn that the Hugging Face class trains with another dropout (inference is the same either way). None: the
    head uses the backbone's classifier dropout (``backbone_dropout``), as the Hugging Face class does if it has one."""
    if eq.dropout_field is None:
        if (backbone_dropout if dropout is None else dropout) != 0:
            used = f"None (the backbone's classifier dropout, {backbone_dropout})" if dropout is None else dropout
            warnings.warn(
                f"head_config.dropout={used} does not carry over: {hf_class} applies no dropout before its head, "
                "so it trains without it (inference is unaffected)",
                stacklevel=4,
            )
    elif dropout is None:
        return
    elif hasattr(config, eq.dropout_field):
        setattr(config, eq.dropout_field, dropout)
    else:
        warnings.warn(
            f"head_config.dropout={dropout} does not carry over: {type(config).__name__} has no {eq.dropout_field}, "
            f"so {hf_class} trains with its own dropout settings (inference is unaffected)",
            stacklevel=4,
        )


def hf_state_dict(model: Any, hf_model: Any) -> dict[str, Any]:
    """``model``'s weights under ``hf_model``'s key names (the inverse of :func:`archit_core.checkpoints.interop.hf_key_map`),
    checked to fill ``hf_model`` exactly but for the layout's ``unused_keys`` (parts its outputs do not read)."""
    to_hf = hf_key_map(model).inverse().with_default("backbone.", f"{hf_model.base_model_prefix}.")
    renamed, unmatched = to_hf.apply(model.state_dict())
    state = {k: value for k, (_, value) in renamed.items()}
    expected = set(hf_model.state_dict()) - _unused(model)
    leftover = sorted(unmatched + [ours for k, (ours, _) in renamed.items() if k not in expected])
    missing = sorted(expected - set(state) - _tied_copies(hf_model, state))
    if leftover or missing:
        cls = type(hf_model).__name__
        lines = [f"the weights of this archit model do not fill {cls} exactly:"]
        if leftover:
            lines.append(f"{len(leftover)} archit weight(s) have no place in {cls}: {', '.join(leftover[:8])}")
        if missing:
            lines.append(f"{len(missing)} {cls} weight(s) have no archit counterpart: {', '.join(missing[:8])}")
        if any("pooler" in k for k in leftover + missing):
            lines.append(
                "(a backbone pooler is built only when the head uses one; the Hugging Face class "
                f"{'has one this model lacks' if any('pooler' in k for k in missing) else 'has none'})"
            )
        lines.append("Was the model modified after it was built (rewrites, adapters)? Export the unmodified model.")
        raise ArchitError(" ".join(lines))
    return state


def to_transformers(model: Any) -> Any:
    """The Hugging Face task model equivalent to ``model`` (same config, same weights, same dtype and device).

    The weights are copied: changing one model afterwards leaves the other as it was. The result is in the mode
    (train or eval) ``model`` is in. Raises :class:`ArchitError` when the head has no Hugging Face equivalent, the
    head config differs from what the equivalent computes, or the weights do not match the Hugging Face class.
    """
    import torch
    import transformers

    eq = hf_layout_of(model)
    config = hf_config(model, eq)
    auto = getattr(transformers, eq.auto_class, None)
    if auto is None:
        from ..model.transformers_compat import TRANSFORMERS_VERSION

        raise ArchitError(f"transformers {TRANSFORMERS_VERSION} has no {eq.auto_class}, which head {model.config.head!r} names")
    try:
        hf_model = auto.from_config(config, dtype=model.dtype)
    except ValueError as exc:  # the Auto class knows no model of this config's type
        raise ArchitError(f"{eq.auto_class} cannot build a {type(config).__name__}: {exc}") from exc
    hf_model.to(model.device)
    state = hf_state_dict(model, hf_model)
    with torch.no_grad():
        result = hf_model.load_state_dict(state, strict=False)
    left = set(result.missing_keys) - _tied_copies(hf_model, state) - _unused(model)
    if left or result.unexpected_keys:  # hf_state_dict checked the keys; this guards the tied copies
        raise ArchitError(f"export left {sorted(left)} unfilled and {list(result.unexpected_keys)} unused")
    hf_model.train(model.training)
    return hf_model


def _unused(model: Any) -> set[str]:
    """Keys of the Hugging Face class that ``model``'s head layout says its outputs do not read (kept at Hugging
    Face's initialisation on export)."""
    return set(getattr(hf_layout_of(model), "unused_keys", ()))


def _tied_copies(hf_model: Any, state: Mapping[str, Any]) -> set[str]:
    """Keys of ``hf_model`` that are tied copies of a key in ``state`` (filled when their source is loaded)."""
    tied = getattr(hf_model, "all_tied_weights_keys", None) or {}
    return {target for target, source in tied.items() if source in state}
