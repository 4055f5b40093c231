"""archit head ``masked-lm``: predict masked tokens, as Hugging Face's ``*ForMaskedLM``.

The head computes a transform (dense, activation, LayerNorm) and a projection onto the vocabulary with an output
bias; the projection's weight is the backbone's input embedding matrix (tied) unless ``tie_word_embeddings=False``.
The layout of each family's Hugging Face head (key names, activation) comes from the backbone plugin's
``head_layouts["masked-lm"]``; the one declared here is the common ``cls.predictions`` layout.
"""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, HFLayout, hookimpl, vocabulary_needs
from archit_core.parts import activation_name, flag, positive_number


@attrs.frozen(kw_only=True)
class MaskedLMConfig(HeadConfig):
    """``tie_word_embeddings``: the vocabulary projection is the backbone's input embedding matrix (default).
    ``activation`` and ``layer_norm_eps`` of the transform: None takes the backbone's ``hidden_act`` and epsilon."""

    tie_word_embeddings: bool = attrs.field(default=True, validator=flag)
    activation: str | None = attrs.field(default=None, validator=attrs.validators.optional(activation_name))
    layer_norm_eps: float | None = attrs.field(default=None, validator=attrs.validators.optional(positive_number))

    def needs(self) -> frozenset[str]:
        return vocabulary_needs(self.tie_word_embeddings)


#: The ``cls.predictions`` layout of BERT-style masked-LM heads (the Hugging Face output bias ``cls.predictions.bias``
#: is the same tensor as ``cls.predictions.decoder.bias``; both map to the archit decoder's bias).
BERT_STYLE = HFLayout(
    auto_class="AutoModelForMaskedLM",
    keys={
        "cls.predictions.transform.dense.": "transform.dense.",
        "cls.predictions.transform.LayerNorm.": "transform.layer_norm.",
        "cls.predictions.decoder.": "decoder.",
        "cls.predictions.bias": "decoder.bias",
    },
    config_fields=("tie_word_embeddings",),
)


@hookimpl
def provide_head(registry):
    registry.add_head(
        "masked-lm",
        HeadSpec(
            module="archit_head_masked_lm.head:MaskedLMHead",
            config_class=MaskedLMConfig,
            hf_layout=BERT_STYLE,
            description="masked language modelling; projection tied to the input embeddings, labels of -100 ignored",
        ),
    )
