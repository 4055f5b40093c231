"""Word-level pooling: one vector per word from the states of its subword tokens, for word-level heads.

Words are given per token as ``word_ids`` (``(batch, tokens)`` integers, the word index of each token counted from 0
in its sequence, ``-1`` for special tokens and padding: a tokenizer's ``word_ids()`` with ``None`` written as ``-1``),
or per word as ``word_spans`` (``(batch, words, 2)``, the ``[start, end)`` token range of each word, rows of ``-1``
for padding words), which :func:`word_ids_from_spans` turns into ``word_ids``. Every check is vectorised over the
batch; bad inputs raise ``ValueError`` saying what was wrong and how to fix it.

torch is imported when a function runs, not when this module is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: How the states of a word's subword tokens become one vector: its first token's, its last token's, or their mean.
WORD_POOLING_MODES: tuple[str, ...] = ("first", "last", "mean")


def check_word_pooling(mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of :data:`WORD_POOLING_MODES`."""
    if mode not in WORD_POOLING_MODES:
        raise ValueError(f"unknown word pooling {mode!r}; use one of {', '.join(map(repr, WORD_POOLING_MODES))}")


def _int_tensor(name: str, value: Any) -> torch.Tensor:
    import torch

    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a tensor of integers (use -1 for tokens of no word), got {type(value).__name__}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers (a LongTensor, -1 for tokens of no word), got dtype {value.dtype}")
    return value.long()


def word_ids_from_spans(word_spans: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``word_ids`` of shape ``(batch, seq_len)`` from ``word_spans`` of shape ``(batch, words, 2)``.

    Row ``w`` of an example is word ``w``'s token range ``[start, end)``; rows whose start is negative are padding and
    must come after every real word. Spans must lie inside the sequence, be non-empty and not overlap.
    """
    import torch

    spans = _int_tensor("word_spans", word_spans)
    if spans.dim() != 3 or spans.shape[-1] != 2:
        raise ValueError(f"word_spans must have shape (batch, words, 2) holding [start, end) token offsets, got {tuple(spans.shape)}")
    start, end = spans[..., 0], spans[..., 1]
    real = start >= 0
    bad = real & ((end <= start) | (end > seq_len))
    if bool(bad.any()):
        b, w = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"word_spans[{b}, {w}] = {spans[b, w].tolist()} is not a non-empty [start, end) range inside the "
                         f"{seq_len} tokens; padding rows must have start -1")
    gaps = real[:, 1:] & ~real[:, :-1]
    if bool(gaps.any()):
        b, w = (int(i) for i in gaps.nonzero()[0])
        raise ValueError(f"word_spans[{b}]: word {w + 1} follows a padding row; put padding rows (start -1) after every word")
    tokens = torch.arange(seq_len, device=spans.device)
    member = real[..., None] & (tokens >= start[..., None]) & (tokens < end[..., None])  # (batch, words, tokens)
    counts = member.sum(1)
    if bool((counts > 1).any()):
        b, t = (int(i) for i in (counts > 1).nonzero()[0])
        raise ValueError(f"word_spans[{b}]: token {t} lies in {int(counts[b, t])} words; spans must not overlap")
    return torch.where(counts > 0, member.to(torch.uint8).argmax(1), torch.full_like(counts, -1))


def pool_words(
    states: torch.Tensor, word_ids: torch.Tensor, mode: str = "first", *, attention_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool token ``states`` ``(batch, tokens, hidden)`` into word states ``(batch, words, hidden)``.

    ``word_ids`` ``(batch, tokens)`` gives each token's word (``-1``: none); tokens masked out by ``attention_mask``
    belong to no word. ``words`` is the largest word count in the batch. Returns the word states (zeros for padding
    words) and a boolean word mask ``(batch, words)``. An example's words must be numbered ``0 .. n-1`` without gaps.
    No loop over examples: scatter/gather over the flattened batch (one host sync to size the output, one for checks).
    """
    import torch

    check_word_pooling(mode)
    ids = _int_tensor("word_ids", word_ids).to(states.device)
    if ids.shape != states.shape[:2]:
        raise ValueError(f"word_ids has shape {tuple(ids.shape)} but the token states are {tuple(states.shape[:2])} "
                         "(batch, tokens); give one word id per token, -1 for special tokens and padding")
    if bool((ids < -1).any()):
        raise ValueError(f"word_ids hold {int(ids.min())}; use -1 for tokens of no word and 0, 1, ... for words")
    if attention_mask is not None:
        ids = ids.masked_fill(attention_mask.to(ids.device) == 0, -1)
    batch, seq_len, hidden = states.shape
    words = int(ids.max()) + 1 if ids.numel() else 0
    slot = torch.where(ids >= 0, ids, words)  # tokens of no word go to one extra slot per example, dropped below
    flat = (slot + torch.arange(batch, device=ids.device)[:, None] * (words + 1)).reshape(-1)
    counts = torch.zeros(batch * (words + 1), dtype=torch.long, device=ids.device).index_add_(0, flat, torch.ones_like(flat))
    mask = counts.view(batch, words + 1)[:, :words] > 0
    gaps = mask[:, 1:] & ~mask[:, :-1]
    if bool(gaps.any()):
        b, w = (int(i) for i in gaps.nonzero()[0])
        raise ValueError(f"word_ids of example {b} skip word {w} (no token of it is attended) but use word {w + 1}; "
                         "number the words of each example 0 .. n-1 without gaps")
    if mode == "mean":
        sums = states.new_zeros(batch * (words + 1), hidden).index_add(0, flat, states.reshape(-1, hidden))
        pooled = (sums / counts.clamp(min=1).to(states.dtype)[:, None]).view(batch, words + 1, hidden)[:, :words]
    else:
        positions = torch.arange(seq_len, device=ids.device).expand(batch, seq_len).reshape(-1)
        start = seq_len if mode == "first" else -1
        index = torch.full((batch * (words + 1),), start, dtype=torch.long, device=ids.device)
        index = index.scatter_reduce(0, flat, positions, reduce="amin" if mode == "first" else "amax")
        index = index.view(batch, words + 1)[:, :words].clamp(0, max(seq_len - 1, 0))
        pooled = states.gather(1, index[..., None].expand(batch, words, hidden))
    return pooled * mask[..., None].to(pooled.dtype), mask
