"""The causal-LM head module: vocabulary projection (tied or not) and the shifted next-token loss."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import IGNORE_INDEX, HeadOutput, VocabularyHead


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting ``labels[:, t + 1]`` at position ``t`` (computed in float32, -100 ignored),
    as Hugging Face's ``ForCausalLMLoss`` without ``num_items_in_batch``."""
    labels = nn.functional.pad(labels.to(logits.device), (0, 1), value=IGNORE_INDEX)[..., 1:]
    return nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


class CausalLMHead(VocabularyHead):
    """``logits = decoder(states)``, one distribution over the next token at every position; dummy labels are the
    batch's own tokens."""

    generative = True

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        tie = config.tie_word_embeddings
        self.tied = tie if tie is not None else backbone.tie_word_embeddings is not False
        self.decoder = nn.Linear(backbone.embedding_size or backbone.hidden_size, backbone.vocab_size, bias=False)

    def forward(self, features, labels=None, **inputs):
        logits = self.decoder(features.token_states)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
