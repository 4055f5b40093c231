"""Tree decoders against brute force: every head assignment of small sentences is enumerated, and the decoders must
return a valid tree whose score is the best over all trees (Chu-Liu/Edmonds) or all projective trees (Eisner)."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
from unittest import mock

import pytest
import torch
from archit_head_depparse import kernels
from archit_head_depparse.decoding import chu_liu_edmonds, decode, eisner

MAX_WORDS = 5


def _is_tree(heads: tuple[int, ...]) -> bool:
    """``heads[i]`` is word ``i + 1``'s head; a tree when every word reaches the root."""
    for start in range(1, len(heads) + 1):
        node, steps = start, 0
        while node != 0:
            node, steps = heads[node - 1], steps + 1
            if steps > len(heads):
                return False
    return True


def _is_projective(heads: tuple[int, ...]) -> bool:
    arcs = [(h, d) for d, h in enumerate(heads, start=1)]
    for h1, d1 in arcs:
        lo1, hi1 = sorted((h1, d1))
        for h2, d2 in arcs:
            lo2, hi2 = sorted((h2, d2))
            if lo1 < lo2 < hi1 < hi2:  # crossing arcs (the root at position 0 takes part)
                return False
    return True


@functools.cache
def _trees(words: int, projective: bool, single_root: bool) -> torch.Tensor:
    """All trees over ``words`` words as a ``(trees, words)`` tensor of heads."""
    choices = [[h for h in range(words + 1) if h != d] for d in range(1, words + 1)]
    trees = [
        heads for heads in itertools.product(*choices)
        if _is_tree(heads) and (not projective or _is_projective(heads)) and (not single_root or heads.count(0) == 1)
    ]
    return torch.tensor(trees, dtype=torch.long).reshape(len(trees), words)


def _score(scores: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """Tree scores: ``scores`` (n+1, n+1) of one example, ``heads`` (..., words)."""
    words = heads.shape[-1]
    dependents = torch.arange(1, words + 1).expand_as(heads)
    return scores[dependents, heads].sum(-1)


def _batch(seed: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scores for sentences of ``lengths``, with large junk in every padding position."""
    generator = torch.Generator().manual_seed(seed)
    nodes = MAX_WORDS + 1
    scores = torch.randn(len(lengths), nodes, nodes, generator=generator, dtype=torch.float64) * 3
    for b, n in enumerate(lengths):
        scores[b, n + 1:, :] = 50.0
        scores[b, :, n + 1:] = 50.0
        scores[b, torch.arange(nodes), torch.arange(nodes)] = 80.0  # self-loops must never be chosen
        scores[b, 0, :] = 60.0  # nor the root as a dependent
    return scores, torch.tensor(lengths)


CASES = [(seed, [1, 2, 3, 4, 5, 3, 5, 4, 2, 5]) for seed in range(6)]


BACKENDS = ["kernels", "torch"]  # the kernels compiled when numba is installed, plain Python otherwise


@functools.cache
def _plain_kernels():
    """A second copy of :mod:`archit_head_depparse.kernels` left as plain Python (numba switched off)."""
    spec = importlib.util.spec_from_file_location("plain_kernels", kernels.__file__)
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, {"ARCHIT_DEPPARSE_NUMBA": "0"}):
        spec.loader.exec_module(module)
    assert not module.COMPILED
    return module


@pytest.mark.parametrize("single_root", [True, False])
@pytest.mark.parametrize("algorithm", ["mst", "eisner"])
def test_plain_python_kernels_find_the_best_tree(algorithm, single_root) -> None:
    """Without numba the kernels run as plain Python (when chosen with backend="kernels"): still exact."""
    plain = _plain_kernels()
    for seed, lengths in CASES[:3]:
        scores, lens = _batch(seed, lengths)
        got = torch.from_numpy(getattr(plain, f"{algorithm}_batch")(scores.numpy(), lens.numpy(), single_root))
        for b, n in enumerate(lengths):
            candidates = _trees(n, algorithm == "eisner", single_root)
            assert (candidates == got[b, :n]).all(-1).any() and (got[b, n:] == -1).all()
            torch.testing.assert_close(_score(scores[b], got[b, :n]), _score(scores[b], candidates).max())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("single_root", [True, False])
@pytest.mark.parametrize("decoder, projective", [(chu_liu_edmonds, False), (eisner, True)], ids=["cle", "eisner"])
@pytest.mark.parametrize("seed, lengths", CASES)
def test_decoder_finds_the_best_tree(decoder, projective, single_root, seed, lengths, backend) -> None:
    scores, lens = _batch(seed, lengths)
    heads = decoder(scores, lens, single_root=single_root, backend=backend)
    assert heads.shape == (len(lengths), MAX_WORDS) and heads.dtype == torch.long
    for b, n in enumerate(lengths):
        got = heads[b, :n]
        assert (heads[b, n:] == -1).all(), "padding words get head -1"
        candidates = _trees(n, projective, single_root)
        assert (candidates == got).all(-1).any(), f"example {b}: {got.tolist()} is not a valid tree of this kind"
        best = _score(scores[b], candidates).max()
        torch.testing.assert_close(_score(scores[b], got), best, msg=f"example {b}: not the best tree")


def test_eisner_is_the_best_tree_when_that_is_projective() -> None:
    """Eisner and Chu-Liu/Edmonds agree whenever the best tree happens to be projective (and differ otherwise)."""
    agree = differ = 0
    for seed in range(20):
        scores, lens = _batch(100 + seed, [5] * 4)
        a, b = eisner(scores, lens, single_root=True), chu_liu_edmonds(scores, lens, single_root=True)
        for row_a, row_b in zip(a, b):
            if _is_projective(tuple(row_b.tolist())):
                assert row_a.tolist() == row_b.tolist()
                agree += 1
            else:
                differ += 1
    assert agree and differ  # both situations were exercised


@pytest.mark.parametrize("decoder", [chu_liu_edmonds, eisner])
def test_decoders_keep_dtype_device_and_work_without_grad(decoder) -> None:
    scores, lens = _batch(7, [3, 5])
    expected = decoder(scores, lens)
    with torch.no_grad():
        torch.testing.assert_close(decoder(scores.float(), lens), expected)
    with torch.inference_mode():
        inference = decoder(scores.float(), lens)
    torch.testing.assert_close(inference, expected)
    assert inference.device == scores.device
    assert decoder(scores[:, :1, :1], torch.zeros(2, dtype=torch.long)).shape == (2, 0)  # no words at all


def test_single_root_matters() -> None:
    """Scores that favour several root children: unconstrained decoding takes them, single_root takes one."""
    scores = torch.zeros(1, 4, 4)
    scores[0, 1:, 0] = 5.0
    lens = torch.tensor([3])
    for decoder in (chu_liu_edmonds, eisner):
        assert decoder(scores, lens, single_root=False).tolist() == [[0, 0, 0]]
        assert (decoder(scores, lens, single_root=True) == 0).sum() == 1


def test_decode_gives_heads_and_relations() -> None:
    scores, lens = _batch(3, [2, 4])
    relations = torch.randn(2, MAX_WORDS + 1, MAX_WORDS + 1, 3, generator=torch.Generator().manual_seed(0))
    word_mask = torch.arange(MAX_WORDS + 1) <= lens[:, None]
    word_mask[:, 0] = False
    logits = {"arcs": scores, "relations": relations, "word_mask": word_mask}
    for algorithm in ("chu-liu-edmonds", "eisner", "greedy"):
        heads, rels = decode(logits, algorithm=algorithm)
        for b, n in enumerate(lens.tolist()):
            for d in range(n):
                assert rels[b, d] == relations[b, d + 1, heads[b, d]].argmax()
            assert (rels[b, n:] == -1).all() and (heads[b, n:] == -1).all()
    greedy, _ = decode(logits, algorithm="greedy")
    assert greedy[1, :4].tolist() == scores[1, 1:5, :5].masked_fill(torch.eye(5, dtype=torch.bool)[1:], -1e9).argmax(-1).tolist()
    with pytest.raises(ValueError, match="unknown algorithm 'mst'"):
        decode(logits, algorithm="mst")
    with pytest.raises(ValueError, match="parser's logits"):
        decode(scores)


def test_bad_decoder_inputs() -> None:
    scores, lens = _batch(0, [2, 3])
    with pytest.raises(ValueError, match=r"\(batch, n \+ 1, n \+ 1\)"):
        eisner(scores[:, :, :3], lens)
    with pytest.raises(ValueError, match="lengths must lie in 0 .. 5"):
        chu_liu_edmonds(scores, torch.tensor([2, 6]))
    with pytest.raises(ValueError, match="integer tensor of shape \\(2,\\)"):
        chu_liu_edmonds(scores, torch.tensor([2.0, 3.0]))


def _long_batch(seed: int, batch: int = 24, words: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scores of sentences of 1 .. ``words`` words: too long for brute force, long enough for many cycles."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, words + 1, words + 1, generator=generator, dtype=torch.float64)
    return scores, torch.randint(1, words + 1, (batch,), generator=generator)


def _tree_scores(scores: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    return scores[:, 1:].gather(2, heads.clamp(min=0)[:, :, None]).squeeze(2).masked_fill(heads < 0, 0).sum(1)


@pytest.mark.parametrize("single_root", [True, False])
@pytest.mark.parametrize("decoder", [chu_liu_edmonds, eisner])
def test_backends_agree_on_long_sentences(decoder, single_root) -> None:
    """The kernels and the batched torch code find trees of the same score (the same trees, barring ties)."""
    for seed in range(3):
        scores, lens = _long_batch(seed)
        a = decoder(scores, lens, single_root=single_root, backend="kernels")
        b = decoder(scores, lens, single_root=single_root, backend="torch")
        torch.testing.assert_close(_tree_scores(scores, a), _tree_scores(scores, b))
        assert ((a == 0).sum(1) == 1).all() or not single_root


def test_chu_liu_edmonds_matches_ufal() -> None:
    """ufal's Chu-Liu/Edmonds (UDPipe's decoder; no single-root option) finds trees of the same score."""
    ufal = pytest.importorskip("ufal.chu_liu_edmonds")
    for seed in range(3):
        scores, lens = _long_batch(10 + seed)
        for backend in BACKENDS:
            heads = chu_liu_edmonds(scores, lens, single_root=False, backend=backend)
            for b, n in enumerate(lens.tolist()):
                peer, score = ufal.chu_liu_edmonds(scores[b, : n + 1, : n + 1].numpy().copy())
                assert _tree_scores(scores[b:b + 1], heads[b:b + 1]).item() == pytest.approx(score, abs=1e-9)


def test_single_root_tree_is_the_best_single_root_tree() -> None:
    """Against a slow exact reference: the best tree under each choice of the root's one child (ufal on the scores
    with every other root arc removed)."""
    ufal = pytest.importorskip("ufal.chu_liu_edmonds")
    scores, lens = _long_batch(20, batch=8, words=12)
    heads = chu_liu_edmonds(scores, lens, single_root=True)
    for b, n in enumerate(lens.tolist()):
        best = -float("inf")
        for child in range(1, n + 1):
            s = scores[b, : n + 1, : n + 1].numpy().copy()
            s[1:, 0] = float("nan")
            s[child, 0] = scores[b, child, 0].item()
            best = max(best, ufal.chu_liu_edmonds(s)[1])
        assert _tree_scores(scores[b:b + 1], heads[b:b + 1]).item() == pytest.approx(best, abs=1e-9)


def test_backend_choice() -> None:
    scores, lens = _batch(1, [3, 5])
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        chu_liu_edmonds(scores, lens, backend="gpu")
    assert isinstance(kernels.COMPILED, bool)


@pytest.mark.parametrize("single_root", [True, False])
@pytest.mark.parametrize("decoder", [chu_liu_edmonds, eisner])
def test_torch_path_never_reads_the_device(decoder, single_root) -> None:
    """The batched path (the one a GPU takes) makes no host round trip: on the meta device, where reading any value
    back raises, it still decodes (to heads of the right shape), lengths' value checks included."""
    scores, lens = _long_batch(30, batch=4, words=12)
    heads = decoder(scores.to("meta"), lens.to("meta"), single_root=single_root, backend="torch")
    assert heads.device.type == "meta" and heads.shape == (4, scores.shape[1] - 1)


@pytest.mark.parametrize("single_root", [True, False])
def test_mst_without_early_exit_is_exact(single_root) -> None:
    """Off CPU the MST loop runs every round instead of asking whether cycles are left: the same trees, on sentences
    whose cycles nest deeply (root arcs unattractive, so every word greedily picks a word)."""
    from archit_head_depparse import decoding

    scores, lens = _long_batch(31, batch=8, words=30)
    scores[:, 1:, 0] -= 100.0
    expected = chu_liu_edmonds(scores, lens, single_root=single_root, backend="kernels")
    with mock.patch.object(decoding, "_stops_early", lambda device: False):
        heads = chu_liu_edmonds(scores, lens, single_root=single_root, backend="torch")
    torch.testing.assert_close(_tree_scores(scores, heads), _tree_scores(scores, expected))
