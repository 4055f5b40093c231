"""The token-classification head module."""

from __future__ import annotations

import torch
from torch import nn

from transformers.activations import ACT2FN

from archit_core import ConfigError, Head, HeadOutput


class TokenTransform(nn.Module):
    """A dense layer, an activation and a layer norm on every token state (ModernBERT's prediction head)."""

    def __init__(self, config, backbone) -> None:
        super().__init__()
        if config.transform not in ACT2FN:
            raise ConfigError(f"head_config.transform: unknown activation {config.transform!r}; use one of {', '.join(sorted(ACT2FN))}")
        hidden, bias = backbone.hidden_size, config.transform_bias
        self.dense = nn.Linear(hidden, hidden, bias=bias)
        self.activation = ACT2FN[config.transform]
        self.norm = nn.LayerNorm(hidden, eps=backbone.layer_norm_eps, bias=bias)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.norm(self.activation(self.dense(states)))


class TokenClassificationHead(Head):
    """[dense, activation, layer norm,] dropout and a linear classifier on every token state; cross-entropy ignoring
    label -100."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.transform = TokenTransform(config, backbone) if config.transform is not None else None
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
        states = features.token_states if self.transform is None else self.transform(features.token_states)
        logits = self.classifier(self.dropout(states))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.view(-1, self.config.num_labels), labels.to(logits.device).view(-1), ignore_index=-100
            )
        return HeadOutput(logits=logits, loss=loss)
