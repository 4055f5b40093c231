"""The multiple-choice head module: a pooled sequence and one score per choice."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import ArchitError, HeadOutput, SequencePoolingHead

#: How many choices the dummy batches of the contract suite hold.
DUMMY_CHOICES = 3


def _flatten(name: str, value: torch.Tensor, leading: tuple[int, int]) -> torch.Tensor:
    if tuple(value.shape[:2]) != leading or value.dim() < 3:
        raise ArchitError(f"multiple-choice: {name} has shape {tuple(value.shape)}, but input_ids say (batch, choices) = "
                          f"{leading}; every input must have shape (batch, choices, length)")
    return value.flatten(0, 1)


class MultipleChoiceHead(SequencePoolingHead):
    """Pool each choice's sequence, [dense, activation], dropout, one score; reshaped to ``(batch, choices)``."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.classifier = nn.Linear(backbone.hidden_size, 1)

    def prepare_inputs(self, inputs):
        """Flatten ``(batch, choices, ...)`` inputs to ``(batch * choices, ...)``; hand the head ``num_choices``."""
        ids, embeds = inputs.get("input_ids"), inputs.get("inputs_embeds")
        name, ref, dims = ("input_ids", ids, 3) if ids is not None else ("inputs_embeds", embeds, 4)
        if ref is None:
            raise ArchitError("multiple-choice: give input_ids of shape (batch, choices, length) (or inputs_embeds)")
        if ref.dim() != dims:
            shape = "(batch, choices, length)" if dims == 3 else "(batch, choices, length, hidden)"
            raise ArchitError(f"multiple-choice: {name} must have shape {shape}, got {tuple(ref.shape)}. Stack the "
                              "tokenized choices of each example along dimension 1 (pad them to one length); for one "
                              "sequence per example use the sequence-classification head")
        leading = tuple(ref.shape[:2])
        flat = {k: _flatten(k, v, leading) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        return flat, {"num_choices": leading[1]}

    @classmethod
    def dummy_input_shape(cls, config, batch_size, seq_len):
        """Dummy batches hold ``DUMMY_CHOICES`` choices per example."""
        return (batch_size, DUMMY_CHOICES, seq_len)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """The index of a random right choice per example."""
        return torch.randint(0, DUMMY_CHOICES, (batch_size,), generator=generator)

    def forward(self, features, labels=None, num_choices=None, **inputs):
        if num_choices is None:
            raise ArchitError("multiple-choice: the head needs num_choices from prepare_inputs; run it through the model")
        logits = self.classifier(self.pool(features)).view(-1, num_choices)
        if labels is not None and (labels.shape != logits.shape[:1] or labels.is_floating_point()):
            raise ArchitError(f"multiple-choice: labels must be an integer tensor of shape ({logits.shape[0]},) holding "
                              f"the index of the right choice per example, got {tuple(labels.shape)} ({labels.dtype})")
        loss = nn.functional.cross_entropy(logits, labels.to(logits.device)) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
