"""The layouts of Hugging Face heads that score one pooled vector per sequence (``*ForSequenceClassification``),
as configs of a :class:`~archit_core.SequencePoolingConfig` head with ``classifier_bias``, ``pooler_bias`` and
``pooler_norm``: the candidates such a head declares (``HeadSpec.hf_layouts``) and a generic backbone chooses from
(:func:`~archit_core.generic.layouts.infer_head_layout`). A value a family's head takes from its config is named by
the config field (``attrgetter("hidden_act")``), never a value inferred once from a tiny probe."""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from ..parts.head import HFLayout


def hf_pooling(config: Any) -> str:
    """A Hugging Face config's ``classifier_pooling`` as a head's ``pooling`` (``cls``/``bos``: the first token)."""
    return {"cls": "first", "bos": "first"}.get(config.classifier_pooling, config.classifier_pooling)


def _dense(activation: Any, pooling: Any = "first", **more: Any) -> dict[str, Any]:
    return {"pooling": pooling, "pooler_dense": True, "pooler_activation": activation, **more}


#: The pooled heads of Hugging Face families, first the plain linear classifier on the first token (the layout of
#: dedicated backbones); the families named are examples.
POOLED_HEAD_CONFIGS: tuple[Mapping[str, Any], ...] = (
    {},
    {"pooling": "pooler"},  # BERT-like: the base model's pooler, then a linear classifier
    {"pooling": "last", "classifier_bias": False},  # decoders: a bias-free `score` on the last non-padding token
    {"pooling": "last"},
    _dense(attrgetter("hidden_act")),  # BigBird, ConvBERT, RoFormer, ...: the config's activation
    _dense(attrgetter("pooler_hidden_act")),  # DeBERTa-like
    *(_dense(a) for a in ("tanh", "gelu", "relu")),  # RoBERTa, ELECTRA, DistilBERT
    {"pooling": "mean"},
    _dense(attrgetter("classifier_activation"), hf_pooling, pooler_bias=attrgetter("classifier_bias"), pooler_norm=True),  # ModernBERT
    _dense("gelu", hf_pooling),  # EuroBERT: first, mean or late
)


def pooled_layouts(auto_class: str, **common: Any) -> tuple[HFLayout, ...]:
    """:data:`POOLED_HEAD_CONFIGS` as layouts of ``auto_class`` sharing ``common`` fields (``keys``, ``config_fields``)."""
    return HFLayout.variants(auto_class, *POOLED_HEAD_CONFIGS, **common)
