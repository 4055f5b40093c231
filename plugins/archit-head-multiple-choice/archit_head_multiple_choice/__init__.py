"""archit head ``multiple-choice``: one score per choice, as Hugging Face's ``*ForMultipleChoice``.

Inputs have shape ``(batch, choices, length)`` (``inputs_embeds``: ``(batch, choices, length, hidden)``); the head
flattens them to ``(batch * choices, length)`` before the backbone (``Head.prepare_inputs``), pools each sequence
as the ``sequence-classification`` head does (first token, masked mean or the backbone's pooler, optional dense
layer and activation), scores it with a one-output linear layer and returns logits of shape ``(batch, choices)``.
Labels are the index of the right choice, shape ``(batch,)``; the loss is cross-entropy over the choices.
"""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, HFEquivalent, hookimpl, one_of, probability
from archit_head_sequence_classification import POOLINGS

__all__ = ["MultipleChoiceConfig", "provide_head"]


def _not_on_pooler(instance: MultipleChoiceConfig, attribute: attrs.Attribute, value: bool) -> None:
    if value and instance.pooling == "pooler":
        raise ValueError(f"'{attribute.name}' must be False when pooling='pooler' (the backbone's pooler has its own dense layer)", attribute)


@attrs.frozen(kw_only=True)
class MultipleChoiceConfig(HeadConfig):
    """``pooling``: ``"first"``, ``"mean"`` or ``"pooler"`` (the backbone's); ``pooler_dense``: a dense layer and
    ``pooler_activation`` on the pooled vector; ``dropout``: None for the backbone's classifier dropout."""

    pooling: str = attrs.field(default="first", validator=one_of(*POOLINGS))
    pooler_dense: bool = attrs.field(default=False, validator=[attrs.validators.instance_of(bool), _not_on_pooler])
    pooler_activation: str = attrs.field(default="tanh", validator=attrs.validators.instance_of(str))
    dropout: float | None = attrs.field(default=None, validator=probability)

    def needs(self) -> frozenset[str]:
        return frozenset({"token_states", "pooler"} if self.pooling == "pooler" else {"token_states"})


def _layout(**config: object) -> HFEquivalent:
    return HFEquivalent(auto_class="AutoModelForMultipleChoice", config=config)


#: Other scoring heads of Hugging Face's ``*ForMultipleChoice`` classes, as configs of this head; a generic backbone
#: picks the one its family's class matches (same parameter shapes, same logits), and keys come from that match.
HF_LAYOUTS = (
    _layout(pooling="first", pooler_dense=True, pooler_activation="gelu"),  # ELECTRA-like sequence summary
    _layout(pooling="first", pooler_dense=True, pooler_activation="relu"),  # DistilBERT-like pre_classifier
    _layout(pooling="first", pooler_dense=True, pooler_activation="tanh"),
)


@hookimpl
def provide_head(registry):
    registry.add_head(
        "multiple-choice",
        HeadSpec(
            module="archit_head_multiple_choice.head:MultipleChoiceHead",
            config_class=MultipleChoiceConfig,
            # Most *ForMultipleChoice classes (BERT, RoBERTa) score the base model's pooler output; backbone plugins
            # override this where their family differs (DeBERTa-v2's ContextPooler).
            hf_equivalent=HFEquivalent(
                auto_class="AutoModelForMultipleChoice",
                keys={"classifier.": "classifier."},
                config={"pooling": "pooler", "pooler_dense": False},
            ),
            hf_layouts=HF_LAYOUTS,
            description="one score per choice for (batch, choices, length) inputs; cross-entropy over the choices",
        ),
    )
