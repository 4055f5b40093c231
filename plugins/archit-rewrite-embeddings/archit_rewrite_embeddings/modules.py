"""The factorised embedding module and the rewrite that puts it in place of an ``nn.Embedding``."""

from __future__ import annotations

import torch
from torch import nn


class FactorisedEmbedding(nn.Module):
    """``project(table(ids))``: a ``num_embeddings x rank`` table and a ``rank -> embedding_dim`` projection.

    It keeps ``nn.Embedding``'s ``num_embeddings``, ``embedding_dim`` and ``padding_idx`` so code that reads them works.
    """

    def __init__(self, num_embeddings: int, rank: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.rank, self.embedding_dim, self.padding_idx = num_embeddings, rank, embedding_dim, padding_idx
        self.table = nn.Embedding(num_embeddings, rank, padding_idx=padding_idx)
        self.project = nn.Linear(rank, embedding_dim, bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.project(self.table(input_ids))


def factorise(module: nn.Module, config, *, path: str) -> FactorisedEmbedding:
    """The ``replace`` of the rewrite: a factorised copy of an ``nn.Embedding``, SVD-initialised by default."""
    if not isinstance(module, nn.Embedding):
        raise TypeError(f"factorised embeddings replace an nn.Embedding, not {type(module).__name__}")
    vocab, dim = module.weight.shape
    if config.rank > min(vocab, dim):
        raise ValueError(f"rank {config.rank} exceeds the embedding's {vocab} x {dim} table; choose rank <= {min(vocab, dim)}")
    weight = module.weight
    new = FactorisedEmbedding(vocab, config.rank, dim, module.padding_idx).to(device=weight.device, dtype=weight.dtype)
    if config.init == "svd":
        with torch.no_grad():
            u, s, vh = torch.linalg.svd(weight.detach().float(), full_matrices=False)
            root = s[: config.rank].sqrt()
            new.table.weight.copy_(u[:, : config.rank] * root)
            new.project.weight.copy_((root[:, None] * vh[: config.rank]).T)
    return new
