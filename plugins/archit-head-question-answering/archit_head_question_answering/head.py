"""The question-answering head module and its model output."""

from __future__ import annotations

from torch import nn

from archit_core import Head, HeadOutput, head_output_class, pool_sequence
from archit_core.parts import random_spans, span_logits, span_loss, span_targets

QuestionAnsweringOutput = head_output_class(
    "QuestionAnsweringOutput", "start_logits", "end_logits", "answerable_logits", module=__name__,
    doc="Hugging Face's ``QuestionAnsweringModelOutput`` fields (the same tuple order with ``return_dict=False``) plus "
    "``answerable_logits`` with the answerability classifier; ``logits`` is None (the span logits are start and end).",
)


class QuestionAnsweringHead(Head):
    """``qa_outputs`` (Hugging Face's name) gives start and end logits per token; ``answerable`` scores the first
    token's state."""

    output_class = QuestionAnsweringOutput

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.dropout = nn.Dropout(backbone.dropout_or(config.dropout))
        self.qa_outputs = nn.Linear(backbone.hidden_size, 2)
        self.answerable = nn.Linear(backbone.hidden_size, 1) if config.answerability else None

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        return random_spans(batch_size, seq_len, flag=config.answerability, generator=generator)

    def forward(self, features, labels=None, start_positions=None, end_positions=None, **inputs):
        out = dict(zip(("start_logits", "end_logits"), span_logits(self.qa_outputs(self.dropout(features.token_states)))))
        if self.answerable is not None:
            out["answerable_logits"] = self.answerable(self.dropout(pool_sequence(features, "first"))).squeeze(-1)
        gold = span_targets(labels, start_positions, end_positions, len(out["start_logits"]), head="question-answering",
                            flag="answerable", has_flag=self.answerable is not None, enable="answerability=True")
        loss = None if gold is None else span_loss(out["start_logits"], out["end_logits"], gold.start, gold.end, flag=gold.flag,
                                                   flag_logits=out.get("answerable_logits"), flag_weight=self.config.answerability_weight)
        return HeadOutput(logits=None, loss=loss, outputs=out)
