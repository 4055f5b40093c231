"""archit head ``sequence-classification``: one label (or score) per sequence, as Hugging Face's
``*ForSequenceClassification``.

The sequence vector is the first token's state (``pooling="first"``), the last non-padding token's
(``"last"``, as decoders' classifiers pool), the masked mean of the token states (``"mean"``) or the backbone's own
pooler output (``"pooler"``, e.g. BERT's); ``pooler_dense`` adds a dense layer and an activation on top of it
(RoBERTa's and DeBERTa's classification heads; with ``pooler_norm`` a layer norm after it, ModernBERT's), and
``"late"`` pooling runs that dense layer on every token before the masked mean (EuroBERT's). The loss follows
``problem_type`` exactly as Hugging Face computes it.
"""

from __future__ import annotations

from operator import attrgetter

import attrs

from archit_core import SEQUENCE_POOLINGS, HeadConfig, HeadSpec, HFEquivalent, hookimpl, one_of, positive, probability

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
POOLINGS = (*SEQUENCE_POOLINGS, "late")


def _not_on_pooler(instance: SequenceClassificationConfig, attribute: attrs.Attribute, value: bool) -> None:
    if value and instance.pooling == "pooler":
        raise ValueError(
            f"'{attribute.name}' must be False when pooling='pooler': the backbone's pooler already has its dense "
            "layer and activation. Use pooling='first' with pooler_dense=True for a head-side pooler.",
            attribute,
        )


def _non_empty_str(instance: SequenceClassificationConfig, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"'{attribute.name}' must be an activation name such as 'tanh' or 'gelu', got {value!r}", attribute)


@attrs.frozen(kw_only=True)
class SequenceClassificationConfig(HeadConfig):
    """``num_labels`` outputs per sequence.

    ``problem_type``: ``"regression"`` (MSE), ``"single_label_classification"`` (cross-entropy),
    ``"multi_label_classification"`` (BCE with logits), or None to decide per batch as Hugging Face does
    (one label: regression; integer labels: single-label; otherwise multi-label).
    ``pooling``: ``"first"``, ``"last"`` (the last token the attention mask keeps), ``"mean"``, ``"pooler"`` (the
    backbone's pooler, if it has one) or ``"late"`` (the mean after ``pooler_dense``'s dense layer and activation
    run on every token, EuroBERT's default).
    ``pooler_dense``: a dense layer + ``pooler_activation`` on the pooled vector (not with ``pooling="pooler"``).
    ``dropout``: before the dense layer and before the classifier (None: the backbone's classifier dropout).
    ``classifier_bias``: whether the classifier has a bias (decoders' ``score`` layers have none).
    ``pooler_bias``: whether the pooler's dense layer (and norm) have biases; ``pooler_norm``: a layer norm after its
    activation (ModernBERT's prediction head).
    """

    num_labels: int = attrs.field(default=2, validator=positive)
    problem_type: str | None = attrs.field(default=None, validator=one_of(None, *PROBLEM_TYPES))
    pooling: str = attrs.field(default="first", validator=one_of(*POOLINGS))
    pooler_dense: bool = attrs.field(default=False, validator=[attrs.validators.instance_of(bool), _not_on_pooler])
    pooler_activation: str = attrs.field(default="tanh", validator=_non_empty_str)
    dropout: float | None = attrs.field(default=None, validator=probability)
    classifier_bias: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    pooler_bias: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    pooler_norm: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def needs(self) -> frozenset[str]:
        return frozenset({"token_states", "pooler"} if self.pooling == "pooler" else {"token_states"})


def _hf_pooling(name: str) -> str:
    """A Hugging Face config's ``classifier_pooling`` as this head's ``pooling``."""
    return {"cls": "first", "bos": "first"}.get(name, name)


def _layout(**config: object) -> HFEquivalent:
    return HFEquivalent(auto_class="AutoModelForSequenceClassification", config=config, config_fields=("num_labels", "problem_type"))


#: The classification heads Hugging Face families use, as configs of this head. A generic backbone picks the one its
#: family's ``*ForSequenceClassification`` matches (same parameter shapes, same logits); keys come from that match.
HF_LAYOUTS = (
    _layout(pooling="pooler"),  # BERT-like: the base model's pooler, then a linear classifier
    _layout(pooling="last", classifier_bias=False),  # decoders: a bias-free `score` on the last non-padding token
    _layout(pooling="last"),
    _layout(pooling="first", pooler_dense=True, pooler_activation=attrgetter("pooler_hidden_act")),  # DeBERTa-like
    _layout(pooling="first", pooler_dense=True, pooler_activation="tanh"),  # RoBERTa-like classification heads
    _layout(pooling="first", pooler_dense=True, pooler_activation="gelu"),  # ELECTRA-like
    _layout(pooling="first", pooler_dense=True, pooler_activation="relu"),  # DistilBERT-like pre_classifier
    _layout(pooling="mean"),
    # ModernBERT-like: dense (bias per config), activation, layer norm on the CLS token or the mean, per config
    _layout(pooling=lambda c: _hf_pooling(c.classifier_pooling), pooler_dense=True,
            pooler_activation=attrgetter("classifier_activation"), pooler_bias=attrgetter("classifier_bias"),
            pooler_norm=True),
    # EuroBERT-like: dense and GELU, on the first token, the mean, or every token before the mean ("late")
    _layout(pooling=lambda c: _hf_pooling(c.classifier_pooling), pooler_dense=True, pooler_activation="gelu"),
)


@hookimpl
def provide_head(registry):
    registry.add_head(
        "sequence-classification",
        HeadSpec(
            module="archit_head_sequence_classification.head:SequenceClassificationHead",
            config_class=SequenceClassificationConfig,
            hf_equivalent=HFEquivalent(
                auto_class="AutoModelForSequenceClassification",
                keys={"classifier.": "classifier."},
                config_fields=("num_labels", "problem_type"),
            ),
            hf_layouts=HF_LAYOUTS,
            description="one label or score per sequence; regression, single-label or multi-label loss",
        ),
    )
