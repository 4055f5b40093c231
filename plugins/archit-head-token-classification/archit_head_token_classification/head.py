"""The token-classification head module."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import Head, HeadOutput


class TokenClassificationHead(Head):
    """Dropout and a linear classifier on every token state; cross-entropy ignoring label -100."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.dropout = nn.Dropout(config.dropout if config.dropout is not None else backbone.head_dropout)
        self.classifier = nn.Linear(backbone.hidden_size, config.num_labels)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random labels for a ``(batch_size, seq_len)`` batch, the first token ignored (-100) as special tokens are;
        archit's contract tests train the head on every backbone with them."""
        labels = torch.randint(0, config.num_labels, (batch_size, seq_len), generator=generator)
        labels[:, 0] = -100
        return labels

    def forward(self, features, labels=None, **inputs):
        logits = self.classifier(self.dropout(features.token_states))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.view(-1, self.config.num_labels), labels.to(logits.device).view(-1), ignore_index=-100
            )
        return HeadOutput(logits=logits, loss=loss)
