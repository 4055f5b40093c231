"""Decoding arc scores to trees, batched over examples.

Scores are ``(batch, n + 1, n + 1)`` with ``scores[b, d, h]`` the score of head ``h`` for dependent ``d``, node 0
the root; ``lengths`` ``(batch,)`` holds each example's word count (nodes ``1 .. lengths[b]`` are words, the rest
padding, whatever their scores). Decoders return heads ``(batch, n)`` on the scores' device: entry ``i`` is word
``i + 1``'s head (0 = root), -1 at padding.

Two exact implementations of each decoder, chosen by ``backend``:

- ``"kernels"``: per-sentence loops over numpy arrays (:mod:`.kernels`), compiled with numba when it is installed
  (``pip install archit-head-depparse[fast]``). One copy of the scores to the host, no torch operator in the loop.
- ``"torch"``: batched tensor code that runs on the scores' device with no host round trip (no ``.item()``, no
  ``bool(tensor)``): :func:`chu_liu_edmonds` loops over contraction rounds (one cycle per example per round) and back
  over them to expand; on CPU it stops once no cycle is left (asking costs nothing there), on an accelerator it runs
  the ``n + 1`` rounds that bound any input (a finished example's extra rounds change nothing). :func:`eisner` loops
  over span widths and reads the tree back by differentiating the best score with respect to the arc scores (autograd
  through ``max`` follows exactly the back-pointers). Value checks of ``lengths`` run on CPU tensors only; on an
  accelerator only shapes are checked.
- ``"auto"`` (the default): the compiled kernels for CPU tensors when numba is installed, else torch.

:func:`decode` gives heads and relations from a :class:`~archit_head_depparse.head.ParserLogits`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from . import kernels

NEG = float("-inf")
BACKENDS = ("auto", "kernels", "torch")


def _use_kernels(backend: str, scores: torch.Tensor) -> bool:
    """Whether ``backend`` means the per-sentence kernels for these scores."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(map(repr, BACKENDS))}")
    return backend == "kernels" or (backend == "auto" and kernels.COMPILED and scores.device.type == "cpu")


def _on_host(kernel, scores: torch.Tensor, lengths: torch.Tensor, single_root: bool) -> torch.Tensor:
    """Run a batch kernel of :mod:`.kernels` on a float64 host copy of the scores."""
    s = np.ascontiguousarray(scores.detach().to("cpu", torch.float64).numpy())
    heads = kernel(s, np.ascontiguousarray(lengths.to("cpu").numpy()), single_root)
    return torch.from_numpy(heads).to(scores.device)


def _check(scores: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(scores, torch.Tensor) or scores.dim() != 3 or scores.shape[1] != scores.shape[2]:
        raise ValueError(f"scores must be a (batch, n + 1, n + 1) tensor of arc scores, got {getattr(scores, 'shape', scores)}")
    lengths = torch.as_tensor(lengths)
    if lengths.shape != scores.shape[:1] or lengths.is_floating_point():
        raise ValueError(f"lengths must be an integer tensor of shape ({scores.shape[0]},), got {tuple(lengths.shape)}")
    if lengths.device.type == "cpu" and bool(((lengths < 0) | (lengths >= scores.shape[1])).any()):  # no device sync
        raise ValueError(f"lengths must lie in 0 .. {scores.shape[1] - 1} (the scores hold n + 1 nodes, the root first)")
    return scores, lengths.to(scores.device, torch.long)


def _float(scores: torch.Tensor) -> torch.dtype:
    """float64 where the device has it (exact sums for the root penalty), else float32."""
    return torch.float32 if scores.device.type == "mps" else torch.float64


def _allowed(lengths: torch.Tensor, nodes: int) -> torch.Tensor:
    """``(batch, nodes, nodes)``: arc ``h -> d`` exists (``d`` a word, ``h`` the root or another word)."""
    index = torch.arange(nodes, device=lengths.device)
    present = index <= lengths[:, None]
    words = present & (index > 0)
    return words[:, :, None] & present[:, None, :] & (index[:, None] != index[None, :])


def _word_heads(heads: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Node heads ``(batch, n + 1)`` to word heads ``(batch, n)``, -1 at padding."""
    words = torch.arange(1, heads.shape[1], device=heads.device)
    return heads[:, 1:].masked_fill(words > lengths[:, None], -1)


def _root_penalty(scores: torch.Tensor, allowed: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Subtract from every root arc more than any two trees' scores can differ: the best tree then has exactly
    one root arc (every complete graph has such a tree), and is the best of those (Gabow & Tarjan's reduction)."""
    high = scores.masked_fill(~allowed, NEG).amax((1, 2))
    low = scores.masked_fill(~allowed, float("inf")).amin((1, 2))
    spread = torch.where(lengths > 0, high - low, torch.zeros_like(high))
    penalty = (spread + 1) * (lengths + 1).to(scores.dtype)
    root = torch.zeros_like(scores)
    root[:, :, 0] = penalty[:, None]
    return scores - root


def _stops_early(device: torch.device) -> bool:
    """Whether the MST loop may ask the device if cycles are left: on CPU the answer costs nothing."""
    return device.type == "cpu"


def _power(heads: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Follow ``heads`` ``2**steps`` times from every node; also the smallest node met on the way."""
    point, low = heads, torch.minimum(heads, torch.arange(heads.shape[1], device=heads.device))
    for _ in range(steps):
        low = torch.minimum(low, low.gather(1, point))
        point = point.gather(1, point)
    return point, low


def chu_liu_edmonds(scores: torch.Tensor, lengths: torch.Tensor, *, single_root: bool = True,
                    backend: str = "auto") -> torch.Tensor:
    """The maximum spanning tree of each example (Chu-Liu/Edmonds); see the module docstring for the layout and
    ``backend``. ``single_root=True`` (the Universal Dependencies convention) allows one word under the root."""
    scores, lengths = _check(scores, lengths)
    if _use_kernels(backend, scores):
        return _on_host(kernels.mst_batch, scores, lengths, single_root)
    return _mst_torch(scores, lengths, single_root)


def _mst_torch(scores: torch.Tensor, lengths: torch.Tensor, single_root: bool) -> torch.Tensor:
    """Batched Chu-Liu/Edmonds with fixed-size tensors on the scores' device: a contracted cycle is represented by its
    smallest node. Only on CPU is the loop cut short when no cycle is left: elsewhere that question is a host sync."""
    batch, nodes, _ = scores.shape
    allowed = _allowed(lengths, nodes)
    s = scores.detach().to(_float(scores))
    if single_root:
        s = _root_penalty(s, allowed, lengths)
    s = s.masked_fill(~allowed, NEG)
    index = torch.arange(nodes, device=s.device)
    live = (index > 0) & (index <= lengths[:, None])  # words not merged into a cycle's representative
    steps = max(nodes - 1, 1).bit_length()
    rounds, early_exit = [], _stops_early(s.device)
    for _ in range(nodes):  # each round merges at least two nodes of every example with a cycle
        heads = torch.where(live, s.argmax(-1), index)  # the root and dead nodes point at themselves
        far, low = _power(heads, steps)
        on_cycle = torch.zeros_like(live).scatter_(1, far, True) & (heads != index)
        has = on_cycle.any(1)
        if early_exit and not bool(has.any()):
            break
        first = torch.where(on_cycle, index, nodes).amin(1)
        rep = torch.where(has, first, 0)
        cycle = on_cycle & (low == first[:, None])  # the cycle through each example's smallest cycle node
        inside = s.gather(2, heads[:, :, None]).squeeze(2)  # each node's score from its cycle head
        enter, enter_from = (s - inside[:, :, None]).masked_fill(~cycle[:, :, None], NEG).max(1)  # by outside head u
        leave, leave_to = s.masked_fill(~cycle[:, None, :], NEG).max(2)  # by outside dependent w
        merged = cycle & (index != rep[:, None])
        s = s.masked_fill(merged[:, :, None] | merged[:, None, :], NEG)
        is_rep = (index == rep[:, None]) & has[:, None]
        s = torch.where(is_rep[:, :, None], enter.masked_fill(cycle, NEG)[:, None, :], s)
        s = torch.where(is_rep[:, None, :], leave.masked_fill(cycle, NEG)[:, :, None], s)
        live = live & ~merged
        rounds.append((has, rep, cycle, heads, enter_from, leave_to))
    for has, rep, cycle, cycle_heads, enter_from, leave_to in reversed(rounds):
        outside_head = heads.gather(1, rep[:, None])  # the contracted node's head
        entry = enter_from.gather(1, outside_head)  # the cycle node that head attaches to
        expanded = torch.where((heads == rep[:, None]) & ~cycle, leave_to, heads)
        expanded = torch.where(cycle, cycle_heads, expanded).scatter(1, entry, outside_head)
        heads = torch.where(has[:, None], expanded, heads)
    return _word_heads(heads, lengths)


def eisner(scores: torch.Tensor, lengths: torch.Tensor, *, single_root: bool = False,
           backend: str = "auto") -> torch.Tensor:
    """The best projective tree of each example (Eisner's algorithm); see the module docstring for the layout and
    ``backend``. ``single_root=True`` allows one word under the root."""
    scores, lengths = _check(scores, lengths)
    if _use_kernels(backend, scores):
        return _on_host(kernels.eisner_batch, scores, lengths, single_root)
    return _eisner_torch(scores, lengths, single_root)


def _eisner_torch(scores: torch.Tensor, lengths: torch.Tensor, single_root: bool) -> torch.Tensor:
    """Batched Eisner on the scores' device; runs under autograd even inside ``torch.no_grad()`` or
    ``torch.inference_mode()`` (on a detached copy of the scores), to read the tree back."""
    batch, nodes, _ = scores.shape
    with torch.inference_mode(False), torch.enable_grad():
        leaf = scores.detach().clone().to(torch.promote_types(scores.dtype, torch.float32)).requires_grad_()
        arc = leaf.masked_fill(~_allowed(lengths, nodes), NEG).transpose(1, 2)  # arc[b, h, d]: score of h -> d
        full = leaf.new_full((batch, nodes, nodes), NEG)
        diagonal = torch.arange(nodes, device=leaf.device)
        full[:, diagonal, diagonal] = 0
        # incomplete spans (i, j) headed at i (right) or j (left); complete spans headed at i (right) or j (left)
        inc_r, inc_l, com_r, com_l = full, full.clone(), full.clone(), full.clone()
        for width in range(1, nodes):
            i = torch.arange(nodes - width, device=leaf.device)
            j = i + width
            k = i[:, None] + torch.arange(width, device=leaf.device)  # split points i .. j-1
            # max(...).values, never amax: its gradient goes to one argmax, so it follows one derivation
            split = (com_r[:, i[:, None], k] + com_l[:, k + 1, j[:, None]]).max(-1).values
            inc_l[:, i, j] = split + arc[:, j, i]
            inc_r[:, i, j] = split + arc[:, i, j]
            com_l[:, i, j] = (com_l[:, i[:, None], k] + inc_l[:, k, j[:, None]]).max(-1).values
            right = (inc_r[:, i[:, None], k + 1] + com_r[:, k + 1, j[:, None]]).max(-1).values
            if single_root:  # the root's complete span may only be the whole sentence
                right[:, 0] = torch.where(lengths == width, right[:, 0], NEG)
            com_r[:, i, j] = right
        best = com_r[torch.arange(batch, device=leaf.device), 0, lengths]
        (grad,) = torch.autograd.grad(best.sum(), leaf, allow_unused=True) if best.requires_grad else (None,)
    if grad is None:
        grad = torch.zeros_like(leaf)
    return _word_heads(grad.argmax(-1), lengths)


ALGORITHMS = ("chu-liu-edmonds", "eisner", "greedy")


def decode(logits: Any, *, algorithm: str = "chu-liu-edmonds", single_root: bool = True,
           backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Heads and relations ``(batch, words)`` (-1 at padding) from the parser's logits (a ``ParserLogits``, or a
    mapping with ``arcs``, ``relations`` and ``word_mask``). ``algorithm``: ``"chu-liu-edmonds"`` (any tree),
    ``"eisner"`` (projective trees) or ``"greedy"`` (each word's best head; not always a tree); ``backend`` as in
    the module docstring. Each arc's relation is its best-scoring one."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(map(repr, ALGORITHMS))}")
    if not isinstance(logits, Mapping) or not {"arcs", "relations", "word_mask"} <= set(logits.keys()):
        raise ValueError("decode takes the parser's logits (model(...).logits): arcs, relations and word_mask")
    arcs, relations, word_mask = logits["arcs"], logits["relations"], logits["word_mask"]
    lengths = word_mask.sum(-1)
    if algorithm == "greedy":
        heads = _word_heads(arcs.masked_fill(~_allowed(lengths, arcs.shape[1]), NEG).argmax(-1), lengths)
    else:
        heads = (eisner if algorithm == "eisner" else chu_liu_edmonds)(arcs, lengths, single_root=single_root,
                                                                              backend=backend)
    at_head = relations[:, 1:].gather(2, heads.clamp(min=0)[:, :, None, None].expand(-1, -1, 1, relations.shape[-1]))
    return heads, at_head.squeeze(2).argmax(-1).masked_fill(heads < 0, -1)
