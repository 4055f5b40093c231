"""Word-level pooling (``archit_core.parts.word_pooling``) against a per-word Python reference, from word ids and from word
spans, and its errors on bad input."""

from __future__ import annotations

import pytest
import torch

import archit_core
from archit_core.parts.word_pooling import pool_words, word_ids_from_spans


def _segmentation(generator: torch.Generator, batch: int, seq_len: int) -> torch.Tensor:
    """Random word ids: a special token first, words of 1 to 3 subwords, special tokens and padding at the end."""
    ids = torch.full((batch, seq_len), -1)
    for b in range(batch):
        end = int(torch.randint(2, seq_len, (1,), generator=generator))
        t, w = 1, 0
        while t < end:
            size = int(torch.randint(1, 4, (1,), generator=generator))
            ids[b, t : min(t + size, end)] = w
            t, w = t + size, w + 1
    return ids


def _reference(states: torch.Tensor, ids: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    batch, _, hidden = states.shape
    words = int(ids.max()) + 1
    pooled, mask = torch.zeros(batch, words, hidden), torch.zeros(batch, words, dtype=torch.bool)
    for b in range(batch):
        for w in range(words):
            tokens = (ids[b] == w).nonzero().flatten()
            if len(tokens):
                mask[b, w] = True
                pick = {"first": states[b, tokens[0]], "last": states[b, tokens[-1]], "mean": states[b, tokens].mean(0)}
                pooled[b, w] = pick[mode]
    return pooled, mask


@pytest.mark.parametrize("mode", ["first", "last", "mean"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pool_words_matches_a_per_word_reference(mode: str, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    ids = _segmentation(generator, 4, 12)
    states = torch.randn(4, 12, 5, generator=generator, requires_grad=True)
    pooled, mask = pool_words(states, ids, mode)
    expected, expected_mask = _reference(states.detach(), ids, mode)
    torch.testing.assert_close(pooled, expected)
    assert torch.equal(mask, expected_mask)
    pooled.sum().backward()  # gradients reach exactly the pooled tokens
    before = torch.nn.functional.pad(ids, (1, 0), value=-1)[:, :-1]
    after = torch.nn.functional.pad(ids, (0, 1), value=-1)[:, 1:]
    used = (ids >= 0) & {"first": ids != before, "last": ids != after, "mean": True}[mode]
    assert torch.equal(states.grad.abs().sum(-1) > 0, used)


def test_spans_give_the_same_words_as_word_ids() -> None:
    generator = torch.Generator().manual_seed(5)
    ids = _segmentation(generator, 3, 10)
    words = int(ids.max()) + 1
    spans = torch.full((3, words + 1, 2), -1)  # one padding row more than needed
    for b in range(3):
        for w in range(int(ids[b].max()) + 1):
            tokens = (ids[b] == w).nonzero().flatten()
            spans[b, w] = torch.tensor([int(tokens[0]), int(tokens[-1]) + 1])
    assert torch.equal(word_ids_from_spans(spans, 10), ids)
    states = torch.randn(3, 10, 4, generator=generator)
    torch.testing.assert_close(pool_words(states, word_ids_from_spans(spans, 10), "mean"), pool_words(states, ids, "mean"))


def test_attention_mask_removes_tokens_from_words() -> None:
    ids = torch.tensor([[-1, 0, 0, 1, 1, -1]])
    states = torch.arange(6.0).view(1, 6, 1)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    pooled, words = pool_words(states, ids, "mean", attention_mask=mask)
    assert pooled.flatten().tolist() == [1.5, 3.0] and words.tolist() == [[True, True]]
    pooled, words = pool_words(states, torch.tensor([[-1, 0, 0, 1, 1, 1]]), "last", attention_mask=torch.tensor([[1, 1, 1, 0, 0, 0]]))
    assert pooled.flatten().tolist() == [2.0] and words.tolist() == [[True]]


def test_exported_lazily_from_archit_core() -> None:
    assert archit_core.pool_words is pool_words and archit_core.WORD_POOLING_MODES == ("first", "last", "mean")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: pool_words(s, torch.zeros(2, 5, dtype=torch.long)), r"word_ids has shape \(2, 5\) but the token states are \(2, 6\)"),
        (lambda s: pool_words(s, torch.zeros(2, 6)), "must hold integers"),
        (lambda s: pool_words(s, [[0] * 6] * 2), "must be a tensor of integers"),
        (lambda s: pool_words(s, torch.full((2, 6), -2)), "word_ids hold -2"),
        (lambda s: pool_words(s, torch.tensor([[0, 0, 2, 2, -1, -1], [0, 1, -1, -1, -1, -1]])), "example 0 skip word 1"),
        (lambda s: pool_words(s, torch.zeros(2, 6, dtype=torch.long), "max"), "unknown word pooling 'max'"),
        (lambda s: word_ids_from_spans(torch.tensor([[[0, 2], [1, 3]]]), 6), "token 1 lies in 2 words"),
        (lambda s: word_ids_from_spans(torch.tensor([[[0, 2], [2, 7]]]), 6), r"word_spans\[0, 1\] = \[2, 7\]"),
        (lambda s: word_ids_from_spans(torch.tensor([[[0, 2], [3, 3]]]), 6), "non-empty"),
        (lambda s: word_ids_from_spans(torch.tensor([[[-1, -1], [3, 4]]]), 6), "word 1 follows a padding row"),
        (lambda s: word_ids_from_spans(torch.tensor([[0, 2]]), 6), r"shape \(batch, words, 2\)"),
    ],
    ids=["shape", "float", "list", "below-minus-one", "gap", "mode", "overlap", "outside", "empty", "padding-first", "spans-shape"],
)
def test_bad_input_is_a_clear_error(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(torch.zeros(2, 6, 3))
