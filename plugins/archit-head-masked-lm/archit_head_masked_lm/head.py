"""The masked-LM head module: transform, vocabulary projection (tied by default), cross-entropy loss."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import IGNORE_INDEX, HeadOutput, VocabularyHead, activation

#: Share of positions given a label in dummy batches (the rest are -100, as in masked-LM training data).
DUMMY_MASK_RATE = 0.3


class PredictionTransform(nn.Module):
    """Dense layer, activation and LayerNorm before the vocabulary projection (every masked-LM head has one)."""

    def __init__(self, hidden_size: int, width: int, activation_name: str, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, width)
        self.activation = activation(activation_name)
        self.layer_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.layer_norm(self.activation(self.dense(states)))


class MaskedLMHead(VocabularyHead):
    """``logits = decoder(transform(states))``; the decoder's weight is the input embedding matrix when tied."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        width = backbone.embedding_size or backbone.hidden_size
        eps = config.layer_norm_eps if config.layer_norm_eps is not None else backbone.layer_norm_eps
        self.transform = PredictionTransform(backbone.hidden_size, width, config.activation or backbone.hidden_act or "gelu", eps)
        self.decoder = nn.Linear(width, backbone.vocab_size)  # the "vocabulary" capability, checked at build time
        self.tied = config.tie_word_embeddings

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None, input_ids=None, backbone=None):
        """The batch's own tokens at about 30% of positions (at least one per sequence), -100 elsewhere."""
        input_ids = super().dummy_labels(config, batch_size, seq_len, generator=generator, input_ids=input_ids, backbone=backbone)
        keep = torch.rand(input_ids.shape, generator=generator) < DUMMY_MASK_RATE
        keep[:, 0] = True
        return torch.where(keep, input_ids, torch.full_like(input_ids, IGNORE_INDEX))

    def forward(self, features, labels=None, **inputs):
        logits = self.decoder(self.transform(features.token_states))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), labels.to(logits.device).view(-1))
        return HeadOutput(logits=logits, loss=loss)
