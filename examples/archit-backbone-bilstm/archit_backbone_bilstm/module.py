"""The BiLSTM module: token embeddings, then bidirectional LSTM layers that skip padding."""

from __future__ import annotations

import torch
from torch import nn


class BiLSTM(nn.Module):
    """``num_layers`` bidirectional LSTMs over the token embeddings; padding (``attention_mask == 0``) is packed away."""

    def __init__(self, config) -> None:
        super().__init__()
        if config.hidden_size % 2:
            raise ValueError(f"hidden_size must be even (half per direction), got {config.hidden_size}")
        size = config.hidden_size
        self.embeddings = nn.Embedding(config.vocab_size, size)
        self.layers = nn.ModuleList(nn.LSTM(size, size // 2, batch_first=True, bidirectional=True) for _ in range(config.num_layers))
        self.dropout = nn.Dropout(config.dropout)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, output_hidden_states: bool = False):
        x = self.dropout(self.embeddings(input_ids))
        lengths = (attention_mask.sum(-1) if attention_mask is not None else torch.full(x.shape[:1], x.shape[1])).clamp(min=1)
        states = [x]
        for lstm in self.layers:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            x = self.dropout(nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0])
            states.append(x)
        return x, tuple(states) if output_hidden_states else None
