"""archit head ``sequence-classification``: one label (or score) per sequence, as Hugging Face's
``*ForSequenceClassification``: the pooled sequence (``archit_core.SequencePoolingHead``: first, last, mean, the
backbone's pooler, or "late"), dropout and a linear classifier; the loss follows ``problem_type`` as Hugging Face's."""

from __future__ import annotations

from operator import attrgetter

import attrs

from archit_core import PROBLEM_TYPES, HeadSpec, HFLayout, SequencePoolingConfig, flag, hookimpl, one_of, positive


@attrs.frozen(kw_only=True)
class SequenceClassificationConfig(SequencePoolingConfig):
    """``num_labels`` outputs; ``problem_type``: one of ``PROBLEM_TYPES``, or None to decide per batch as Hugging Face
    does; pooling, the dense pooler and dropout as ``SequencePoolingConfig`` says, with ``pooler_norm`` a layer norm after
    the dense pooler and ``pooler_bias`` its biases; ``classifier_bias``: False for decoders' ``score`` layers."""

    num_labels: int = attrs.field(default=2, validator=positive)
    problem_type: str | None = attrs.field(default=None, validator=one_of(None, *PROBLEM_TYPES))
    classifier_bias: bool = attrs.field(default=True, validator=flag)
    pooler_bias: bool = attrs.field(default=True, validator=flag)
    pooler_norm: bool = attrs.field(default=False, validator=flag)


def _hf_pooling(config: object) -> str:
    """A Hugging Face config's ``classifier_pooling`` as this head's ``pooling``."""
    return {"cls": "first", "bos": "first"}.get(config.classifier_pooling, config.classifier_pooling)


#: The classification heads Hugging Face families use, as configs of this head (the first, a linear ``classifier``
#: on the pooled vector, is the layout of dedicated backbones); a generic backbone picks the one its family's
#: ``*ForSequenceClassification`` matches (same parameter shapes, same logits).
HF_LAYOUTS = HFLayout.variants(
    "AutoModelForSequenceClassification",
    {},
    {"pooling": "pooler"},  # BERT-like: the base model's pooler, then a linear classifier
    {"pooling": "last", "classifier_bias": False},  # decoders: a bias-free `score` on the last non-padding token
    {"pooling": "last"},
    {"pooling": "first", "pooler_dense": True, "pooler_activation": attrgetter("pooler_hidden_act")},  # DeBERTa-like
    *({"pooling": "first", "pooler_dense": True, "pooler_activation": a} for a in ("tanh", "gelu", "relu")),  # RoBERTa, ELECTRA, DistilBERT
    {"pooling": "mean"},
    {"pooling": _hf_pooling, "pooler_dense": True, "pooler_activation": attrgetter("classifier_activation"),  # ModernBERT
     "pooler_bias": attrgetter("classifier_bias"), "pooler_norm": True},
    {"pooling": _hf_pooling, "pooler_dense": True, "pooler_activation": "gelu"},  # EuroBERT: first, mean or late
    keys={"classifier.": "classifier."},
    config_fields=("num_labels", "problem_type"),
)


@hookimpl
def provide_head(registry):
    registry.add_head("sequence-classification", HeadSpec(
        module="archit_head_sequence_classification.head:SequenceClassificationHead",
        config_class=SequenceClassificationConfig,
        hf_layout=HF_LAYOUTS[0],
        hf_layouts=HF_LAYOUTS[1:],
        description="one label or score per sequence; regression, single-label or multi-label loss",
    ))
