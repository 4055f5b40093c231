"""archit head ``question-answering``: extractive answer spans, as Hugging Face's ``*ForQuestionAnswering``.

A linear layer on the token states gives a start and an end logit per token, with Hugging Face's loss; with
``answerability=True`` a one-logit classifier on the first token says whether the context holds an answer (its binary
cross-entropy, times ``answerability_weight``, is added). Labels: ``(batch, 2)`` (start, end) rows, ``(batch, 3)``
with an answerable column, or ``start_positions=`` / ``end_positions=``. ``best_spans`` decodes the best spans.
"""

from __future__ import annotations

import attrs

from archit_core import HeadConfig, HeadSpec, HFLayout, flag, hookimpl, lazy_attributes, non_negative, probability

__all__ = ["QuestionAnsweringConfig", "SpanPrediction", "best_spans", "provide_head"]
__getattr__ = lazy_attributes(__name__, {n: f"archit_core.parts.spans:{n}" for n in ("best_spans", "SpanPrediction")})


@attrs.frozen(kw_only=True)
class QuestionAnsweringConfig(HeadConfig):
    """``dropout`` before the span layer (default 0.0, as Hugging Face's QA heads; None: the backbone's classifier
    dropout); ``answerability`` adds the has-an-answer classifier, its loss weighted by ``answerability_weight``."""

    dropout: float | None = attrs.field(default=0.0, validator=probability)
    answerability: bool = attrs.field(default=False, validator=flag)
    answerability_weight: float = attrs.field(default=1.0, validator=non_negative)


@hookimpl
def provide_head(registry):
    registry.add_head("question-answering", HeadSpec(
        module="archit_head_question_answering.head:QuestionAnsweringHead",
        config_class=QuestionAnsweringConfig, pipelines={"extractive-question-answering": "archit_core:SpanPipeline"},
        optional_inputs=("start_positions", "end_positions"), label_names=("start_positions", "end_positions"),
        hf_layout=HFLayout(auto_class="AutoModelForQuestionAnswering", keys={"qa_outputs.": "qa_outputs."},
                           config={"answerability": False},
                           dropout_field=None),  # *ForQuestionAnswering apply no dropout before qa_outputs
        description="extractive QA: start/end logits per token, optional answerability classifier",
    ))
