"""Tree decoding: archit's Chu-Liu/Edmonds and Eisner against every peer decoder that imports, in one process.

- Inputs: random arc scores (float32, standard normal, like an untrained parser's: many cycles), every sentence of
  the batch at full length, batches 32 x 50 and 128 x 30 words; one torch tensor handed to every decoder (each peer
  pays its own conversion, as it would in a parser).
- Tasks: maximum spanning tree with one root child and without (Chu-Liu/Edmonds), best projective tree with one root
  child and without (Eisner). archit runs with ``backend="auto"`` (the numba-compiled kernels when numba is
  installed) and, for reference, ``backend="torch"`` (its batched tensor path, the one ``auto`` takes on a GPU) and,
  off the CPU, ``backend="kernels"`` (the compiled loops on a host copy).
- Peers (each where it imports): ufal.chu_liu_edmonds (UDPipe's, compiled, per sentence; unconstrained root only),
  supar 1.1.4 (``supar.structs.fn.mst``, and ``DependencyCRF(...).argmax`` for Eisner), torch-struct
  (``DependencyCRF(...).argmax``, Eisner only). Before timing, every exact peer's trees are checked to score the same
  as archit's (supar's single-root MST is a heuristic: its score may only be lower).
- ``torch.set_num_threads(t)`` for t in 1 and 2; one warm-up call each; then rounds in which every decoder runs once,
  in an order that rotates each round; medians. Ratio: the fastest peer's median over archit's (above 1: archit is
  faster). The load average is printed with the table.

    python benchmarks/bench_decode.py [--rounds 15] [--threads 1 2] [--device cpu] [--quick] [--no-doc]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from _common import machine, median, run_script, table

SHAPES = ((32, 50), (128, 30))
TASKS = (("chu-liu-edmonds", True), ("chu-liu-edmonds", False), ("eisner", True), ("eisner", False))


def tree_scores(scores: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """Each tree's score: ``heads`` (batch, n) word heads, -1 at padding."""
    picked = scores[:, 1:].double().gather(2, heads.clamp(min=0)[:, :, None]).squeeze(2)
    return picked.masked_fill(heads < 0, 0).sum(1)


def peers(algorithm: str, single_root: bool) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """The peer decoders for one task that import here, each taking (scores, lengths) and returning word heads."""
    found: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
    if algorithm == "chu-liu-edmonds" and not single_root:
        try:
            import ufal.chu_liu_edmonds as ufal

            def run_ufal(scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                s = scores.detach().cpu().double().numpy()
                out = np.full((s.shape[0], s.shape[1] - 1), -1, dtype=np.int64)
                for b, n in enumerate(lengths.tolist()):
                    out[b, :n] = ufal.chu_liu_edmonds(s[b, : n + 1, : n + 1].copy())[0][1:]
                return torch.from_numpy(out)

            found["ufal"] = run_ufal
        except ImportError:
            pass
    try:
        from supar.structs import DependencyCRF as SuparCRF
        from supar.structs.fn import mst as supar_mst

        def mask_of(lengths: torch.Tensor, nodes: int) -> torch.Tensor:
            index = torch.arange(nodes, device=lengths.device)
            return (index <= lengths[:, None]) & (index > 0)

        if algorithm == "chu-liu-edmonds":
            def run_supar(scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                return supar_mst(scores, mask_of(lengths, scores.shape[1]), multiroot=not single_root)[:, 1:]
        else:
            def run_supar(scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                heads = SuparCRF(scores, lengths, multiroot=not single_root).argmax
                return heads[:, 1:].masked_fill(~mask_of(lengths, scores.shape[1])[:, 1:], -1)
        found["supar"] = run_supar
    except Exception:  # noqa: BLE001 - a peer that does not import is left out, and the table says so
        pass
    if algorithm == "eisner":
        try:
            from torch_struct import DependencyCRF as StructCRF

            def run_struct(scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                # torch-struct: potentials[b, head, dependent] over words, root arcs on the diagonal
                words = scores[:, 1:, 1:].transpose(1, 2).clone()
                diagonal = torch.arange(words.shape[1], device=scores.device)
                words[:, diagonal, diagonal] = scores[:, 1:, 0]
                tree = StructCRF(words, lengths, multiroot=not single_root).argmax  # (b, head, dependent) one-hot
                heads = tree.argmax(1) + 1
                heads = torch.where(tree[:, diagonal, diagonal] > 0, 0, heads)
                return heads.masked_fill(diagonal[None, :] >= lengths[:, None], -1)

            found["torch-struct"] = run_struct
        except Exception:  # noqa: BLE001
            pass
    return found


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(device: str, shapes: tuple[tuple[int, int], ...], threads: list[int],
            rounds: int) -> tuple[list[list[object]], list[float]]:
    """One table row per (shape, task, threads): medians in ms and the ratio to the fastest peer; and the ratios."""
    from archit_head_depparse.decoding import chu_liu_edmonds, eisner

    rows, ratios = [], []
    for batch, words in shapes:
        generator = torch.Generator().manual_seed(batch * 1000 + words)
        scores = torch.randn(batch, words + 1, words + 1, generator=generator).to(device)
        lengths = torch.full((batch,), words, dtype=torch.long, device=device)
        for algorithm, single_root in TASKS:
            decoder = chu_liu_edmonds if algorithm == "chu-liu-edmonds" else eisner
            contestants = {
                "archit": lambda s, n, d=decoder, r=single_root: d(s, n, single_root=r),
                "archit torch": lambda s, n, d=decoder, r=single_root: d(s, n, single_root=r, backend="torch"),
            }
            if device != "cpu":  # on the CPU, "auto" is the kernels already
                contestants["archit kernels"] = lambda s, n, d=decoder, r=single_root: d(s, n, single_root=r, backend="kernels")
            peer = peers(algorithm, single_root)
            best = tree_scores(scores, contestants["archit"](scores, lengths)).cpu()
            for name, run in list(peer.items()):
                try:
                    got = tree_scores(scores, run(scores, lengths).to(device)).cpu()
                except Exception as exc:  # noqa: BLE001 - a peer that fails on this input is left out, and said so
                    print(f"{name} failed on {batch} x {words} {algorithm}: {type(exc).__name__}: {exc}")
                    del peer[name]
                    continue
                heuristic = name == "supar" and algorithm == "chu-liu-edmonds" and single_root
                if heuristic:
                    assert bool((got <= best + 1e-6).all()), f"{name} found a better tree than archit"
                else:
                    torch.testing.assert_close(got, best, msg=f"{name} disagrees with archit on {algorithm}")
            contestants.update(peer)
            for count in threads:
                torch.set_num_threads(count)
                times: dict[str, list[float]] = {name: [] for name in contestants}
                names = list(contestants)
                for r in range(rounds + 1):
                    order = names[r % len(names):] + names[: r % len(names)]
                    for name in order:
                        sync(device)
                        start = time.perf_counter()
                        contestants[name](scores, lengths)
                        sync(device)
                        if r:  # round 0 warms up
                            times[name].append(time.perf_counter() - start)
                ms = {name: 1000 * median(values) for name, values in times.items()}
                fastest = min(peer, key=ms.get) if peer else None
                rows.append([
                    f"{batch} x {words}", f"{algorithm}{', one root' if single_root else ''}", count,
                    f"{ms['archit']:.2f}", f"{ms['archit torch']:.1f}",
                    f"{ms['archit kernels']:.2f}" if "archit kernels" in ms else "= archit",
                    *(f"{ms[p]:.2f}" if p in ms else "—" for p in ("ufal", "supar", "torch-struct")),
                    f"{ms[fastest] / ms['archit']:.1f}x ({fastest})" if fastest else "no peer",
                ])
                ratios.append(ms[fastest] / ms["archit"] if fastest else float("inf"))
    return rows, ratios


HEADER = ["batch x words", "task", "threads", "archit ms", "archit torch ms", "archit kernels ms", "ufal ms", "supar ms", "torch-struct ms",
          "fastest peer / archit"]


def report(args: argparse.Namespace) -> str:
    """The Markdown section: machine, load, peers, table."""
    device, shapes, threads, rounds = args.device, SHAPES, args.threads, args.rounds
    warnings.filterwarnings("ignore", category=UserWarning)  # the peers' deprecation warnings on new torch
    from archit_head_depparse import kernels

    load_before = os.getloadavg()
    rows, ratios = measure(device, shapes, threads, rounds)
    load_after = os.getloadavg()
    available = sorted({p for a, r in TASKS for p in peers(a, r)})
    return (
        f"Machine: {machine()}; device {device}. archit kernels compiled with numba: {kernels.COMPILED}. "
        f"Peers that imported: {', '.join(available) or 'none'}. {rounds} interleaved rounds after one warm-up; "
        f"medians. Load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}, after "
        f"{', '.join(f'{x:.2f}' for x in load_after)}.\n\n" + table(HEADER, rows)
        + _verdict(ratios)
    )


def _verdict(ratios: list[float]) -> str:
    """How many rows archit wins, counting only rows where a peer ran."""
    compared = [r for r in ratios if r != float("inf")]
    if not compared:
        return "\n\nNo peer ran."
    return (f"\n\narchit is faster than the fastest peer on {sum(r > 1 for r in compared)} of the {len(compared)} rows "
            f"where a peer ran (the smallest margin {min(compared):.1f}x). ufal has no single-root option; archit's "
            "single-root trees still take less time than ufal's unconstrained ones.")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, default ``sys.argv[1:]``), ``--quick`` applied."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 1 thread: a check that everything runs")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.threads = 3, [1]
    return args


def main() -> None:
    run_script("bench_decode", report, parse)


if __name__ == "__main__":
    main()
