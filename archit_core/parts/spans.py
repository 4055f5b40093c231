"""Span extraction: a start and an end logit per token, decoded into the best spans, scored by Hugging Face's span
loss, labelled as ``(start, end[, flag])`` rows or ``start_positions`` / ``end_positions``. Extractive question
answering uses them; so can any head that points at spans of its input (span-based tagging, evidence extraction)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from ..errors import ArchitError
from .blocks import integer_labels


class SpanPrediction(NamedTuple):
    """The ``top_k`` best spans per example, best first: inclusive token positions and the score
    ``start_logit + end_logit``. Where fewer valid spans exist, positions are -1 and the score is ``-inf``."""

    start: torch.Tensor  # (batch, top_k) long
    end: torch.Tensor  # (batch, top_k) long
    score: torch.Tensor  # (batch, top_k) float


class SpanTargets(NamedTuple):
    """Gold spans per example: start and end positions, ``(batch,)``, and the flag column (e.g. answerable) or None."""

    start: torch.Tensor
    end: torch.Tensor
    flag: torch.Tensor | None = None


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
    device (no loop over examples or positions).
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


def span_logits(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(start_logits, end_logits)``, each ``(batch, seq_len)`` and contiguous, from a ``(batch, seq_len, 2)``
    projection of the token states (Hugging Face's ``qa_outputs``)."""
    start, end = scores.split(1, dim=-1)
    return start.squeeze(-1).contiguous(), end.squeeze(-1).contiguous()


def span_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, start: torch.Tensor, end: torch.Tensor, *,
              flag_logits: torch.Tensor | None = None, flag: torch.Tensor | None = None, flag_weight: float = 1.0) -> torch.Tensor:
    """Hugging Face's extractive QA loss: positions clamped to ``[0, seq_len]``, ``seq_len`` (outside the input)
    ignored, the mean of the start and end cross-entropies. With ``flag_logits`` (``(batch,)``, e.g. answerable),
    ``flag_weight`` times their binary cross-entropy against ``flag`` is added; without ``flag`` the span (0, 0) means
    0 (SQuAD 2.0's unanswerable convention)."""
    ignored = start_logits.size(1)
    start = start.to(start_logits.device).clamp(0, ignored)
    end = end.to(end_logits.device).clamp(0, ignored)
    loss = (F.cross_entropy(start_logits, start, ignore_index=ignored) + F.cross_entropy(end_logits, end, ignore_index=ignored)) / 2
    if flag_logits is None:
        return loss
    flag = (start != 0) | (end != 0) if flag is None else flag
    return loss + flag_weight * F.binary_cross_entropy_with_logits(flag_logits, flag.to(flag_logits))


def span_targets(
    labels: torch.Tensor | None, start_positions: torch.Tensor | None, end_positions: torch.Tensor | None, batch: int, *,
    head: str, flag: str = "flag", has_flag: bool = False, enable: str = "a head with that column",
) -> SpanTargets | None:
    """The gold spans of a batch from ``labels`` (``(batch, 2)``, or ``(batch, 3)`` when ``has_flag``: a third
    ``flag`` column such as ``answerable``, which the head config option ``enable`` turns on) or from Hugging Face's
    ``start_positions`` / ``end_positions`` (``(batch,)`` or ``(batch, 1)``); None when no labels were given. Wrong
    shapes or a mix of both forms raise :class:`ArchitError`."""
    given = (start_positions is not None, end_positions is not None)
    if labels is not None and any(given):
        raise ArchitError(f"{head}: give labels=(start, end) or start_positions=/end_positions=, not both")
    if any(given) and not all(given):
        raise ArchitError(f"{head}: give both start_positions= and end_positions=, or neither")
    if all(given):
        start, end = (integer_labels(value, (batch,), head=head, name=name, holding="one token position per example",
                                     squeeze=True) for name, value in (("start_positions", start_positions), ("end_positions", end_positions)))
        return SpanTargets(start, end)
    if labels is None:
        return None
    columns = (2, 3) if has_flag else (2,)
    if labels.dim() != 2 or labels.shape[0] != batch or labels.shape[1] not in columns or labels.is_floating_point():
        what = f"(start, end) or (start, end, {flag})" if has_flag else "(start, end)"
        hint = "" if has_flag else f"; a third ({flag}) column needs {enable} in the head config"
        raise ArchitError(
            f"{head}: labels must be an integer tensor of shape {' or '.join(f'({batch}, {c})' for c in columns)} "
            f"holding {what} per example, got shape {tuple(labels.shape)} ({labels.dtype}){hint}"
        )
    return SpanTargets(labels[:, 0], labels[:, 1], labels[:, 2] if labels.shape[1] == 3 else None)


def random_spans(batch_size: int, seq_len: int, *, flag: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random ``(start, end)`` label rows of spans up to 3 tokens inside a ``seq_len`` input; with ``flag``, a third
    column alternating 1 / 0 whose 0 rows point at position 0 (SQuAD 2.0's unanswerable convention)."""
    start = torch.randint(0, seq_len, (batch_size,), generator=generator)
    end = (start + torch.randint(0, 3, (batch_size,), generator=generator)).clamp(max=seq_len - 1)
    if not flag:
        return torch.stack([start, end], dim=1)
    answerable = torch.arange(batch_size) % 2
    return torch.stack([start * answerable, end * answerable, answerable], dim=1)
