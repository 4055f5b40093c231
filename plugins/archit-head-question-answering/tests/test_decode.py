"""best_spans against a brute-force search over every span."""

from __future__ import annotations

import math

import pytest
import torch
from archit_head_question_answering import best_spans


def brute_force(start, end, mask, max_len, top_k):
    """Every valid (score, start, end) of each example, best first, cut to top_k."""
    out = []
    for b in range(start.shape[0]):
        spans = [
            (float(start[b, i] + end[b, j]), i, j)
            for i in range(start.shape[1]) for j in range(i, min(i + max_len, start.shape[1]))
            if mask[b, i] and mask[b, j]
        ]
        out.append(sorted(spans, reverse=True)[:top_k])
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("max_len", "top_k"), [(1, 1), (3, 1), (4, 5), (30, 3)])
def test_matches_brute_force(seed: int, max_len: int, top_k: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    batch, seq_len = 4, 11
    start, end = torch.randn(batch, seq_len, generator=generator), torch.randn(batch, seq_len, generator=generator)
    mask = torch.rand(batch, seq_len, generator=generator) > 0.3
    mask[0] = False  # no context at all: nothing valid
    mask[1] = False
    mask[1, 4] = True  # a single context token: the one span (4, 4)
    got = best_spans(start, end, mask, max_answer_length=max_len, top_k=top_k)
    assert got.start.shape == got.end.shape == got.score.shape == (batch, top_k)
    for b, expected in enumerate(brute_force(start, end, mask, max_len, top_k)):
        for k in range(top_k):
            if k < len(expected):
                score, i, j = expected[k]
                assert (int(got.start[b, k]), int(got.end[b, k])) == (i, j)
                assert math.isclose(float(got.score[b, k]), score, rel_tol=1e-6, abs_tol=1e-6)
            else:
                assert (int(got.start[b, k]), int(got.end[b, k])) == (-1, -1)
                assert got.score[b, k] == float("-inf")


def test_without_mask_every_position_is_context() -> None:
    start = torch.tensor([[0.0, 5.0, 0.0, 0.0]])
    end = torch.tensor([[8.0, 0.0, 0.0, 4.0]])  # the best end (0) lies before the best start (1): not allowed
    got = best_spans(start, end, max_answer_length=3)
    assert (int(got.start), int(got.end)) == (1, 3)
    got = best_spans(start, end, max_answer_length=2)  # (1, 3) is too long now
    assert float(got.score) == 8.0 and (int(got.start), int(got.end)) == (0, 0)


def test_more_candidates_asked_than_exist() -> None:
    got = best_spans(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]), top_k=5)
    assert list(zip(got.start[0].tolist(), got.end[0].tolist())) == [(0, 1), (1, 1), (0, 0), (-1, -1), (-1, -1)]
    assert got.score[0].tolist() == [3.0, 2.0, 1.0, float("-inf"), float("-inf")]


@pytest.mark.parametrize(
    ("start", "end", "mask", "message"),
    [
        (torch.zeros(2, 5), torch.zeros(2, 4), None, "shape"),
        (torch.zeros(5), torch.zeros(5), None, "shape"),
        (torch.zeros(2, 5), torch.zeros(2, 5), torch.ones(2, 4), "context_mask"),
    ],
)
def test_bad_shapes_are_refused(start, end, mask, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        best_spans(start, end, mask)


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="max_answer_length"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 3), max_answer_length=0)
