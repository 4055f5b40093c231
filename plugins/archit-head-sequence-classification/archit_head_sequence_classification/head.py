"""The sequence-classification head module and Hugging Face's loss for each problem type."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import DensePooler, HeadOutput, SequencePoolingHead

__all__ = ["DensePooler", "SequenceClassificationHead", "sequence_classification_loss"]  # DensePooler: now archit_core's


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None) -> torch.Tensor:
    """The loss Hugging Face's ``*ForSequenceClassification`` computes for ``problem_type`` (None: one label is
    regression, integer labels single-label, anything else multi-label)."""
    num_labels, labels = logits.size(-1), labels.to(logits.device)
    if problem_type is None:
        integer = labels.dtype in (torch.long, torch.int)
        problem_type = "regression" if num_labels == 1 else "single_label_classification" if integer else "multi_label"
    if problem_type == "regression":
        labels = labels.to(logits.dtype)
        return nn.functional.mse_loss(logits.squeeze(), labels.squeeze()) if num_labels == 1 else nn.functional.mse_loss(logits, labels)
    if problem_type == "single_label_classification":
        return nn.functional.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class SequenceClassificationHead(SequencePoolingHead):
    """The pooled sequence, then a linear classifier."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.classifier = nn.Linear(backbone.hidden_size, config.num_labels, bias=config.classifier_bias)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random labels of the kind ``config``'s problem type takes (archit's contract tests train with them)."""
        problem_type = config.problem_type or ("regression" if config.num_labels == 1 else "single_label_classification")
        if problem_type == "single_label_classification":
            return torch.randint(0, config.num_labels, (batch_size,), generator=generator)
        shape = (batch_size,) if config.num_labels == 1 else (batch_size, config.num_labels)
        if problem_type == "regression":
            return torch.randn(shape, generator=generator)
        return torch.randint(0, 2, shape, generator=generator).float()

    def forward(self, features, labels=None, **inputs):
        logits = self.classifier(self.pool(features))
        loss = sequence_classification_loss(logits, labels, self.config.problem_type) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
