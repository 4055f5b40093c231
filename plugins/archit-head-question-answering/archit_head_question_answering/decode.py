"""Decoding answer spans from start and end logits, batched and vectorised (no loop over examples or positions)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F


class SpanPrediction(NamedTuple):
    """The ``top_k`` best spans per example, best first: inclusive token positions and the score
    ``start_logit + end_logit``. Where fewer valid spans exist, positions are -1 and the score is ``-inf``."""

    start: torch.Tensor  # (batch, top_k) long
    end: torch.Tensor  # (batch, top_k) long
    score: torch.Tensor  # (batch, top_k) float


def best_spans(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    context_mask: torch.Tensor | None = None,
    *,
    max_answer_length: int = 30,
    top_k: int = 1,
) -> SpanPrediction:
    """The best spans ``(start, end)`` with ``start <= end < start + max_answer_length`` whose both ends lie where
    ``context_mask`` (``(batch, seq_len)``, true on context tokens) is true, scored by ``start_logit + end_logit``.

    Only the ``seq_len x max_answer_length`` band of candidate spans is scored, all examples at once, on the logits'
    device.
    """
    if start_logits.dim() != 2 or start_logits.shape != end_logits.shape:
        raise ValueError(
            f"best_spans: start_logits and end_logits must both have shape (batch, seq_len), got "
            f"{tuple(start_logits.shape)} and {tuple(end_logits.shape)}"
        )
    if max_answer_length < 1 or top_k < 1:
        raise ValueError(f"best_spans: max_answer_length and top_k must be >= 1, got {max_answer_length} and {top_k}")
    batch, seq_len = start_logits.shape
    width = min(max_answer_length, seq_len)
    if context_mask is None:
        context_mask = torch.ones_like(start_logits, dtype=torch.bool)
    elif context_mask.shape != start_logits.shape:
        raise ValueError(f"best_spans: context_mask must have shape {tuple(start_logits.shape)}, got {tuple(context_mask.shape)}")
    context_mask = context_mask.to(device=start_logits.device, dtype=torch.bool)
    # band[b, i, k] is the end candidate i + k (padding past the input is never valid).
    end_band = F.pad(end_logits, (0, width - 1)).unfold(1, width, 1)
    end_ok = F.pad(context_mask, (0, width - 1), value=False).unfold(1, width, 1)
    valid = context_mask.unsqueeze(-1) & end_ok
    scores = (start_logits.unsqueeze(-1) + end_band).masked_fill(~valid, float("-inf"))
    k = min(top_k, seq_len * width)
    score, index = scores.reshape(batch, seq_len * width).topk(k, dim=1)
    start = torch.div(index, width, rounding_mode="floor")
    end = start + index % width
    found = torch.isfinite(score)
    start, end = start.masked_fill(~found, -1), end.masked_fill(~found, -1)
    if k < top_k:  # fewer candidates than asked for: pad
        pad = top_k - k
        start, end = F.pad(start, (0, pad), value=-1), F.pad(end, (0, pad), value=-1)
        score = F.pad(score, (0, pad), value=float("-inf"))
    return SpanPrediction(start, end, score)
