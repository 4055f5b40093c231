"""The question-answering head module, its model output and its loss."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import ArchitError, Head, HeadOutput, head_output_class, integer_labels, pool_sequence

QuestionAnsweringOutput = head_output_class(
    "QuestionAnsweringOutput", "start_logits", "end_logits", "answerable_logits", module=__name__,
    doc="Output of an archit model with the ``question-answering`` head: Hugging Face's ``QuestionAnsweringModelOutput`` "
    "fields (the same tuple order with ``return_dict=False``) plus ``answerable_logits`` when the head has the "
    "answerability classifier. ``logits`` is always None: the span logits are ``start_logits`` and ``end_logits``.",
)


def span_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Hugging Face's extractive QA loss: positions clamped to ``[0, seq_len]``, ``seq_len`` (outside the input)
    ignored, the mean of the start and end cross-entropies."""
    ignored = start_logits.size(1)
    loss = nn.CrossEntropyLoss(ignore_index=ignored)
    start = start.to(start_logits.device).clamp(0, ignored)
    end = end.to(end_logits.device).clamp(0, ignored)
    return (loss(start_logits, start) + loss(end_logits, end)) / 2


def _positions(name: str, value: torch.Tensor, batch: int) -> torch.Tensor:
    """A ``(batch,)`` integer tensor from ``value`` (``(batch,)`` or ``(batch, 1)``, as Hugging Face accepts)."""
    return integer_labels(value, (batch,), head="question-answering", name=name, holding="one token position per example", squeeze=True)


def span_targets(
    labels: torch.Tensor | None, start_positions: torch.Tensor | None, end_positions: torch.Tensor | None,
    batch: int, answerability: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
    """(start, end, answerable or None) from ``labels`` (``(batch, 2)`` or ``(batch, 3)``) or from Hugging Face's
    ``start_positions`` / ``end_positions``; None when no labels were given. Wrong shapes raise :class:`ArchitError`."""
    given = (start_positions is not None, end_positions is not None)
    if labels is not None and any(given):
        raise ArchitError("question-answering: give labels=(start, end) or start_positions=/end_positions=, not both")
    if any(given) and not all(given):
        raise ArchitError("question-answering: give both start_positions= and end_positions=, or neither")
    if all(given):
        return _positions("start_positions", start_positions, batch), _positions("end_positions", end_positions, batch), None
    if labels is None:
        return None
    columns = (2, 3) if answerability else (2,)
    if labels.dim() != 2 or labels.shape[0] != batch or labels.shape[1] not in columns or labels.is_floating_point():
        what = "(start, end) or (start, end, answerable)" if answerability else "(start, end)"
        hint = "" if answerability else "; a third (answerable) column needs answerability=True in the head config"
        raise ArchitError(
            f"question-answering: labels must be an integer tensor of shape "
            f"{' or '.join(f'({batch}, {c})' for c in columns)} holding {what} per example, got shape "
            f"{tuple(labels.shape)} ({labels.dtype}){hint}"
        )
    return labels[:, 0], labels[:, 1], labels[:, 2] if labels.shape[1] == 3 else None


class QuestionAnsweringHead(Head):
    """A linear layer giving start and end logits per token (``qa_outputs``, as Hugging Face names it); optionally a
    one-logit answerability classifier on the first token's state."""

    output_class = QuestionAnsweringOutput

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.dropout = nn.Dropout(backbone.dropout_or(config.dropout))
        self.qa_outputs = nn.Linear(backbone.hidden_size, 2)
        self.answerable = nn.Linear(backbone.hidden_size, 1) if config.answerability else None

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random (start, end) spans inside a ``seq_len`` input (and an answerable flag with answerability, the
        unanswerable pointing at position 0 as SQuAD 2.0 preprocessing does)."""
        start = torch.randint(0, seq_len, (batch_size,), generator=generator)
        end = (start + torch.randint(0, 3, (batch_size,), generator=generator)).clamp(max=seq_len - 1)
        if not config.answerability:
            return torch.stack([start, end], dim=1)
        answerable = torch.arange(batch_size) % 2
        return torch.stack([start * answerable, end * answerable, answerable], dim=1)

    def forward(self, features, labels=None, start_positions=None, end_positions=None, **inputs):
        states = self.dropout(features.token_states)
        start_logits, end_logits = self.qa_outputs(states).split(1, dim=-1)
        start_logits, end_logits = start_logits.squeeze(-1).contiguous(), end_logits.squeeze(-1).contiguous()
        answerable_logits = None
        if self.answerable is not None:
            answerable_logits = self.answerable(self.dropout(pool_sequence(features, "first"))).squeeze(-1)
        targets = span_targets(labels, start_positions, end_positions, start_logits.shape[0], self.answerable is not None)
        loss = None
        if targets is not None:
            start, end, answerable = targets
            loss = span_loss(start_logits, end_logits, start, end)
            if answerable_logits is not None:
                if answerable is None:  # SQuAD 2.0 convention: an unanswerable question's span is (0, 0)
                    answerable = (start != 0) | (end != 0)
                answer_loss = nn.functional.binary_cross_entropy_with_logits(
                    answerable_logits, answerable.to(answerable_logits.device, answerable_logits.dtype)
                )
                loss = loss + self.config.answerability_weight * answer_loss
        outputs = {"start_logits": start_logits, "end_logits": end_logits}
        if answerable_logits is not None:
            outputs["answerable_logits"] = answerable_logits
        return HeadOutput(logits=None, loss=loss, outputs=outputs)
