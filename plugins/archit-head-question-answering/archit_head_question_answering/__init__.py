"""archit head ``question-answering``: extractive answer spans, as Hugging Face's ``*ForQuestionAnswering``.

A linear layer on every token state gives a start and an end logit per token; the loss is Hugging Face's (positions
clamped to ``[0, seq_len]``, ``seq_len`` ignored, the mean of the start and end cross-entropies). With
``answerability=True`` a one-logit classifier on the first token's state says whether the context holds an answer,
and its binary cross-entropy, times ``answerability_weight``, is added to the loss.

Labels: ``labels`` of shape ``(batch, 2)`` holding (start, end) token positions, or ``(batch, 3)`` with a third
column 1 (answerable) / 0 (not); or Hugging Face's ``start_positions=`` and ``end_positions=`` of shape ``(batch,)``.
:func:`best_spans` decodes the best valid spans from the logits.
"""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, HFLayout, flag, hookimpl, non_negative, probability

__all__ = ["QuestionAnsweringConfig", "SpanPrediction", "best_spans", "provide_head"]


def __getattr__(name: str):
    """``best_spans`` and ``SpanPrediction`` load torch, so plugin discovery imports them only on use."""
    if name in ("best_spans", "SpanPrediction"):
        from . import decode

        return getattr(decode, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@attrs.frozen(kw_only=True)
class QuestionAnsweringConfig(HeadConfig):
    """``dropout`` on the token states before the span layer (default 0.0, as Hugging Face's QA heads; None: the
    backbone's classifier dropout); ``answerability`` adds the has-an-answer classifier, whose loss is weighted by
    ``answerability_weight``."""

    dropout: float | None = attrs.field(default=0.0, validator=probability)
    answerability: bool = attrs.field(default=False, validator=flag)
    answerability_weight: float = attrs.field(default=1.0, validator=non_negative)


@hookimpl
def provide_head(registry):
    registry.add_head(
        "question-answering",
        HeadSpec(
            module="archit_head_question_answering.head:QuestionAnsweringHead",
            config_class=QuestionAnsweringConfig,
            optional_inputs=("start_positions", "end_positions"),
            hf_layout=HFLayout(
                auto_class="AutoModelForQuestionAnswering",
                keys={"qa_outputs.": "qa_outputs."},
                config={"answerability": False},
                dropout_field=None,  # *ForQuestionAnswering apply no dropout before qa_outputs
            ),
            description="extractive QA: start/end logits per token, optional answerability classifier",
        ),
    )
