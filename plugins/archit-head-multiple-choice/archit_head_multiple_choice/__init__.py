"""archit head ``multiple-choice``: one score per choice, as Hugging Face's ``*ForMultipleChoice``.

Inputs of shape ``(batch, choices, length)`` are flattened to ``(batch * choices, length)`` before the backbone; each
sequence is pooled as ``archit_core.SequencePoolingHead`` pools and scored by a one-output linear layer, giving logits
``(batch, choices)``. Labels are the index of the right choice, ``(batch,)``; the loss is cross-entropy.
"""

from __future__ import annotations

import attrs

from archit_core import HeadSpec, HFLayout, SequencePoolingConfig, hookimpl

__all__ = ["MultipleChoiceConfig", "provide_head"]


@attrs.frozen(kw_only=True)
class MultipleChoiceConfig(SequencePoolingConfig):
    """``pooling``, ``pooler_dense``, ``pooler_activation`` and ``dropout`` as ``SequencePoolingConfig`` says."""


@hookimpl
def provide_head(registry):
    registry.add_head("multiple-choice", HeadSpec(
        module="archit_head_multiple_choice.head:MultipleChoiceHead",
        config_class=MultipleChoiceConfig,
        # Most *ForMultipleChoice classes (BERT, RoBERTa) score the base model's pooler output; backbone plugins
        # override this where their family differs (DeBERTa-v2's ContextPooler).
        hf_layout=HFLayout(auto_class="AutoModelForMultipleChoice", keys={"classifier.": "classifier."},
                           config={"pooling": "pooler", "pooler_dense": False}),
        # Other scoring heads of *ForMultipleChoice classes: ELECTRA-like (gelu), DistilBERT-like (relu), tanh.
        hf_layouts=HFLayout.variants("AutoModelForMultipleChoice", *(
            {"pooling": "first", "pooler_dense": True, "pooler_activation": a} for a in ("gelu", "relu", "tanh"))),
        description="one score per choice for (batch, choices, length) inputs; cross-entropy over the choices",
    ))
