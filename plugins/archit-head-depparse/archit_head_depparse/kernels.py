"""Per-sentence tree decoders as plain loops over numpy arrays, compiled with numba when it is installed.

These are the CPU path of :mod:`.decoding`: one call decodes a whole batch, sentence by sentence, with no torch
operator (and so no thread synchronisation) in the loop. Compiled (``pip install archit-head-depparse[fast]``),
Chu-Liu/Edmonds takes microseconds per sentence; without numba, :mod:`.decoding` uses its batched torch path instead
(the loops here stay importable and correct as plain Python, which the tests use to check them without numba).

Layout as in :mod:`.decoding`: ``scores[b, d, h]`` is the score of head ``h`` for dependent ``d``, node 0 the root,
nodes ``1 .. lengths[b]`` the words; the result holds each word's head, -1 at padding.
"""

from __future__ import annotations

import os

import numpy as np

NEG = -np.inf


def _allowed_bounds(s: np.ndarray, n: int) -> tuple[float, float]:
    """The largest and smallest score of an arc that exists (dependent a word, head another node)."""
    high, low = NEG, np.inf
    for d in range(1, n + 1):
        for h in range(n + 1):
            if h != d:
                v = s[d, h]
                high = max(high, v)
                low = min(low, v)
    return high, low


def _load(scores: np.ndarray, b: int, n: int, w: np.ndarray, single_root: bool) -> None:
    """Copy example ``b``'s arcs into ``w[:n + 1, :n + 1]`` (-inf where no arc exists), with the root penalty
    for ``single_root``: more than any two trees can differ is subtracted from every root arc, so the best tree has
    exactly one root arc and is the best of those (the reduction of Gabow & Tarjan)."""
    s = scores[b]
    penalty = 0.0
    if single_root and n > 0:
        high, low = _allowed_bounds(s, n)
        penalty = (high - low + 1.0) * (n + 1)
    for h in range(n + 1):
        w[0, h] = NEG
    for d in range(1, n + 1):
        for h in range(n + 1):
            w[d, h] = NEG if h == d else s[d, h]
        w[d, 0] -= penalty


def _find_cycle(heads: np.ndarray, live: np.ndarray, n: int, stamp: np.ndarray, on_cycle: np.ndarray,
                members: np.ndarray) -> int:
    """Mark one cycle of the greedy heads in ``on_cycle``, list its nodes in ``members`` and return how many there
    are (0: no cycle)."""
    for v in range(n + 1):
        stamp[v] = -1
    stamp[0] = n + 1  # the root ends every walk
    for start in range(1, n + 1):
        if not live[start] or stamp[start] >= 0:
            continue
        v = start
        while stamp[v] < 0:
            stamp[v] = start
            v = heads[v]
        if stamp[v] == start:  # this walk closed on itself: v is on a cycle
            size, u = 0, v
            while True:
                on_cycle[u] = True
                members[size] = u
                size += 1
                u = heads[u]
                if u == v:
                    return size
    return 0


def _best_head(w: np.ndarray, d: int, n: int, live: np.ndarray) -> int:
    """The best live head of node ``d`` (the first of equals)."""
    best, arg = NEG, 0
    for h in range(n + 1):
        if (h == 0 or live[h]) and w[d, h] > best:
            best, arg = w[d, h], h
    return arg


def _mst_one(w: np.ndarray, n: int, out: np.ndarray, work: np.ndarray, scratch: np.ndarray, rounds: np.ndarray,
             masks: np.ndarray) -> None:
    """Chu-Liu/Edmonds on ``w[:n + 1, :n + 1]`` (overwritten), heads of words 1..n into ``out[:n]``.

    Contractions happen in place: a cycle is represented by its smallest node, whose row gets the scores of entering
    the cycle and whose column the scores of leaving it; the other cycle nodes die. Each round is recorded in
    ``rounds``/``masks`` and undone in reverse to expand the tree. A round costs O(n) plus O(n) per cycle node, so
    O(n^2) in all, the bound of Tarjan's dense version; ``work``/``scratch`` are reused buffers.
    """
    heads, live, stamp, members = work[0], masks[0], work[1], work[2]
    inside = scratch
    for v in range(n + 1):
        live[v] = v > 0
        heads[v] = 0
    for d in range(1, n + 1):
        heads[d] = _best_head(w, d, n, live)
    count = 0
    while True:
        cycle = masks[2 + count]
        for v in range(n + 1):
            cycle[v] = False
        size = _find_cycle(heads, live, n, stamp, cycle, members)
        if size == 0:
            break
        rep = members[0]
        for c in range(1, size):
            rep = min(rep, members[c])
        cycle_heads, enter_from, leave_to = rounds[count, 0], rounds[count, 1], rounds[count, 2]
        for c in range(size):
            v = members[c]
            cycle_heads[v] = heads[v]
            inside[c] = w[v, heads[v]]
        for u in range(n + 1):  # an outside head u enters the cycle at the node where that costs least
            if (u == 0 or live[u]) and not cycle[u]:
                best, arg = NEG, rep
                for c in range(size):
                    gain = w[members[c], u] - inside[c]
                    if gain > best:
                        best, arg = gain, members[c]
                enter_from[u] = arg
                w[rep, u] = best
        for x in range(1, n + 1):  # an outside dependent x leaves the cycle from its best cycle node
            if live[x] and not cycle[x]:
                best, arg = NEG, rep
                for c in range(size):
                    if w[x, members[c]] > best:
                        best, arg = w[x, members[c]], members[c]
                leave_to[x] = arg
                w[x, rep] = best
        for c in range(size):
            v = members[c]
            w[rep, v] = NEG
            if v != rep:
                live[v] = False
                heads[v] = -1
        # the greedy heads of the contracted graph: a word that chose a cycle node now chooses the cycle (its column
        # holds the best of those scores), every other word keeps its head; only the cycle's own row is new
        for x in range(1, n + 1):
            if live[x] and not cycle[x] and cycle[heads[x]]:
                heads[x] = rep
        heads[rep] = _best_head(w, rep, n, live)
        rounds[count, 3, 0] = rep
        count += 1
    for r in range(count - 1, -1, -1):
        cycle, cycle_heads, enter_from, leave_to = masks[2 + r], rounds[r, 0], rounds[r, 1], rounds[r, 2]
        rep = rounds[r, 3, 0]
        outside = heads[rep]
        entry = enter_from[outside]
        for x in range(1, n + 1):
            if cycle[x]:
                heads[x] = cycle_heads[x]
            elif heads[x] == rep:
                heads[x] = leave_to[x]
        heads[entry] = outside
    for d in range(n):
        out[d] = heads[d + 1]


def mst_batch(scores: np.ndarray, lengths: np.ndarray, single_root: bool) -> np.ndarray:
    """Maximum spanning trees of a batch: ``scores`` (batch, m, m) float64, ``lengths`` (batch,) int64."""
    batch, m = scores.shape[0], scores.shape[1]
    out = np.full((batch, m - 1), -1, dtype=np.int64)
    w = np.empty((m, m), dtype=np.float64)
    work = np.empty((3, m), dtype=np.int64)
    scratch = np.empty(m, dtype=np.float64)
    rounds = np.empty((m, 4, m), dtype=np.int64)
    masks = np.empty((m + 2, m), dtype=np.bool_)
    for b in range(batch):
        n = lengths[b]
        if n > 0:
            _load(scores, b, n, w, single_root)
            _mst_one(w, n, out[b], work, scratch, rounds, masks)
    return out


def _eisner_one(s: np.ndarray, n: int, single_root: bool, out: np.ndarray, tables: np.ndarray,
                back: np.ndarray, stack: np.ndarray) -> None:
    """Eisner's algorithm on ``s[:n + 1, :n + 1]`` (-inf where no arc), heads of words 1..n into ``out[:n]``.

    ``tables[0..3]``: incomplete spans headed left / right, complete spans headed left / right, ``back`` their split
    points; the tree is read back with an explicit stack. With ``single_root`` the root's complete span may only be
    the whole sentence, so the root has one child.
    """
    inc_l, inc_r, com_l, com_r = tables[0], tables[1], tables[2], tables[3]
    for i in range(n + 1):
        for k in range(4):
            tables[k, i, i] = 0.0
    for width in range(1, n + 1):
        for i in range(n + 1 - width):
            j = i + width
            best, arg = NEG, i
            for k in range(i, j):
                v = com_r[i, k] + com_l[k + 1, j]
                if v > best:
                    best, arg = v, k
            inc_l[i, j] = best + s[i, j]  # j heads i
            inc_r[i, j] = best + s[j, i]  # i heads j
            back[0, i, j] = arg
            back[1, i, j] = arg
            best, arg = NEG, i
            for k in range(i, j):
                v = com_l[i, k] + inc_l[k, j]
                if v > best:
                    best, arg = v, k
            com_l[i, j] = best
            back[2, i, j] = arg
            best, arg = NEG, j
            if not (single_root and i == 0 and j != n):
                for k in range(i + 1, j + 1):
                    v = inc_r[i, k] + com_r[k, j]
                    if v > best:
                        best, arg = v, k
            com_r[i, j] = best
            back[3, i, j] = arg
    top = 0
    stack[0, 0], stack[0, 1], stack[0, 2] = 3, 0, n
    top = 1
    while top > 0:
        top -= 1
        kind, i, j = stack[top, 0], stack[top, 1], stack[top, 2]
        if i == j:
            continue
        k = back[kind, i, j]
        if kind == 0 or kind == 1:  # incomplete: the arc, then the two complete halves
            if kind == 0:
                out[i - 1] = j
            else:
                out[j - 1] = i
            stack[top, 0], stack[top, 1], stack[top, 2] = 3, i, k
            stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = 2, k + 1, j
            top += 2
        elif kind == 2:
            stack[top, 0], stack[top, 1], stack[top, 2] = 2, i, k
            stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = 0, k, j
            top += 2
        else:
            stack[top, 0], stack[top, 1], stack[top, 2] = 1, i, k
            stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = 3, k, j
            top += 2


def eisner_batch(scores: np.ndarray, lengths: np.ndarray, single_root: bool) -> np.ndarray:
    """Best projective trees of a batch: ``scores`` (batch, m, m) float64, ``lengths`` (batch,) int64."""
    batch, m = scores.shape[0], scores.shape[1]
    out = np.full((batch, m - 1), -1, dtype=np.int64)
    w = np.empty((m, m), dtype=np.float64)
    tables = np.full((4, m, m), NEG, dtype=np.float64)
    back = np.zeros((4, m, m), dtype=np.int64)
    stack = np.empty((2 * m + 2, 3), dtype=np.int64)
    for b in range(batch):
        n = lengths[b]
        if n > 0:
            _load(scores, b, n, w, False)
            _eisner_one(w, n, single_root, out[b], tables, back, stack)
    return out


def _compile() -> bool:
    """Replace the loops above by numba-compiled versions (cached on disk); False when numba is not installed or
    ``ARCHIT_DEPPARSE_NUMBA=0``."""
    if os.environ.get("ARCHIT_DEPPARSE_NUMBA", "1") == "0":
        return False
    try:
        import numba
    except ImportError:
        return False
    jit = numba.njit(cache=True, nogil=True)
    namespace = globals()
    for name in ("_allowed_bounds", "_load", "_find_cycle", "_best_head", "_mst_one", "mst_batch", "_eisner_one", "eisner_batch"):
        namespace[name] = jit(namespace[name])
    return True


COMPILED = _compile()
