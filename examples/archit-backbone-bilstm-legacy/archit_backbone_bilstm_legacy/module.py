"""The old-style plugin's modules: the BiLSTM and the mean classifier head."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import Head, HeadOutput, pool_sequence


class LegacyBiLSTM(nn.Module):
    """Embeddings and bidirectional LSTM layers (padding is not packed away: the old example kept it simple)."""

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, hidden_size)
        self.layers = nn.ModuleList(nn.LSTM(hidden_size, hidden_size // 2, batch_first=True, bidirectional=True)
                                    for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        x = self.dropout(self.embeddings(input_ids))
        states = [x]
        for lstm in self.layers:
            x = self.dropout(lstm(x)[0])
            states.append(x)
        return x, tuple(states)


class MeanClassifierHead(Head):
    """Dropout and a linear classifier on the masked mean of the token states; cross-entropy."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.dropout = nn.Dropout(config.dropout if config.dropout is not None else backbone.head_dropout)
        self.classifier = nn.Linear(backbone.hidden_size, config.num_labels)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        return torch.randint(0, config.num_labels, (batch_size,), generator=generator)

    def forward(self, features, labels=None, **inputs):
        logits = self.classifier(self.dropout(pool_sequence(features, "mean")))
        loss = nn.functional.cross_entropy(logits, labels.to(logits.device)) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
