"""The causal-LM head module: vocabulary projection (tied or not) and the shifted next-token loss."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import Head, HeadOutput

IGNORE_INDEX = -100


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting ``labels[:, t + 1]`` at position ``t`` (computed in float32, -100 ignored),
    as Hugging Face's ``ForCausalLMLoss`` without ``num_items_in_batch``."""
    labels = nn.functional.pad(labels.to(logits.device), (0, 1), value=IGNORE_INDEX)[..., 1:]
    return nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


class CausalLMHead(Head):
    """``logits = decoder(states)``, one distribution over the next token at every position."""

    generative = True

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        tie = config.tie_word_embeddings
        self.tied = tie if tie is not None else backbone.tie_word_embeddings is not False
        self.decoder = nn.Linear(backbone.embedding_size or backbone.hidden_size, backbone.vocab_size, bias=False)

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder

    def set_output_embeddings(self, module: nn.Module) -> None:
        self.decoder = module

    def tied_to_input_embeddings(self) -> tuple[str, ...]:
        return ("decoder.weight",) if self.tied else ()

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None, input_ids=None, backbone=None):
        """The batch's own tokens (the model learns to predict each next one), as in language-model training."""
        if input_ids is None:
            vocab = (backbone.vocab_size if backbone is not None else None) or 5
            return torch.randint(0, vocab, (batch_size, seq_len), generator=generator)
        return input_ids.clone()

    def forward(self, features, labels=None, **inputs):
        logits = self.decoder(features.token_states)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
