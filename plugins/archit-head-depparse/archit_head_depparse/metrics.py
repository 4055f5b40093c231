"""Attachment scores: the share of scored words with the right head (UAS), and with the right head and relation (LAS)."""

from __future__ import annotations

import torch

IGNORE = -100


def attachment_counts(
    heads: torch.Tensor,
    gold_heads: torch.Tensor,
    relations: torch.Tensor | None = None,
    gold_relations: torch.Tensor | None = None,
    *,
    mask: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Counts to sum over batches: ``words`` scored, ``heads`` right (unlabelled), ``labelled`` right with the relation.

    All arguments are ``(batch, words)``; gold entries of -100 are not scored, nor where ``mask`` is False (e.g. to
    leave out punctuation). Predictions may be narrower than the gold (padding) but not wider than it.
    """
    if heads.dim() != 2 or gold_heads.dim() != 2 or heads.shape[0] != gold_heads.shape[0]:
        raise ValueError(f"heads {tuple(heads.shape)} and gold_heads {tuple(gold_heads.shape)} must both be (batch, words)")
    words = gold_heads.shape[1]
    if heads.shape[1] > words and bool((heads[:, words:] >= 0).any()):
        raise ValueError(f"heads has {heads.shape[1]} words with a head but gold_heads only {words} columns")
    heads = _fit(heads, words).to(gold_heads.device)
    scored = gold_heads != IGNORE
    if mask is not None:
        scored &= mask.to(scored.device, torch.bool)
    right = scored & (heads == gold_heads)
    labelled = right
    if (relations is None) != (gold_relations is None):
        raise ValueError("give both relations and gold_relations for LAS, or neither")
    if relations is not None:
        labelled = right & (_fit(relations, words).to(gold_heads.device) == gold_relations.to(gold_heads.device))
    return {"words": scored.sum(), "heads": right.sum(), "labelled": labelled.sum()}


def _fit(values: torch.Tensor, words: int) -> torch.Tensor:
    """``values`` cut or padded (with -1) to ``words`` columns."""
    values = values[:, :words]
    return torch.nn.functional.pad(values, (0, words - values.shape[1]), value=-1)


def attachment_scores(
    heads: torch.Tensor,
    gold_heads: torch.Tensor,
    relations: torch.Tensor | None = None,
    gold_relations: torch.Tensor | None = None,
    *,
    mask: torch.Tensor | None = None,
) -> dict[str, float]:
    """``{"uas": ..., "las": ...}`` in [0, 1] (``las`` only with relations) for one batch or a whole corpus; see
    :func:`attachment_counts` for the arguments. An empty set of scored words gives 0."""
    counts = attachment_counts(heads, gold_heads, relations, gold_relations, mask=mask)
    words = max(int(counts["words"]), 1)
    scores = {"uas": int(counts["heads"]) / words}
    if relations is not None:
        scores["las"] = int(counts["labelled"]) / words
    return scores
