"""The cost of ``ModelWithHead.forward``'s input checks (unknown keywords, per-token shapes, the labels' batch size):
forward with the checks against forward with them replaced by no-ops, interleaved rounds in one process, one torch
thread. Prints the median ratio (checked / unchecked) per model size, and, since on a loaded machine that ratio is
noisier than the effect, the checks' own time per call (timed alone, 10,000 calls) as a fraction of one forward.
docs/benchmarks.md records a run.

    python benchmarks/bench_input_checks.py [--rounds 30] [--calls 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import archit_core
from archit_core.model import modeling


def _timed(model, batch, calls: int) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(calls):
            model(**batch)
    return time.perf_counter() - start


def measure(size: str, rounds: int, calls: int) -> float:
    torch.manual_seed(0)
    config = {"tiny": {}, "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}}[size]
    model = archit_core.build("bert", "token-classification", tiny=True, backbone_config=config or None, head_config={"num_labels": 5}).eval()
    ids = torch.randint(5, 1000, (8, 64))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids % 5}
    checks, known = modeling._check_shapes, type(model)._known_inputs
    ratios = []
    _timed(model, batch, calls)  # warm-up
    for i in range(rounds):
        times = {}
        for checked in ((True, False) if i % 2 else (False, True)):  # alternate which goes first
            modeling._check_shapes = checks if checked else (lambda *a, **k: None)
            times[checked] = _timed(model, batch, calls)
        ratios.append(times[True] / times[False])
    modeling._check_shapes = checks
    assert type(model)._known_inputs is known
    n = 10_000
    start = time.perf_counter()
    for _ in range(n):
        checks(batch["input_ids"], None, batch["attention_mask"], None, batch["labels"], {})
    per_check = (time.perf_counter() - start) / n
    forward = statistics.median(_timed(model, batch, 1) for _ in range(rounds))
    return statistics.median(ratios), per_check / forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for size in ("tiny", "small"):
        ratio, share = measure(size, args.rounds, args.calls)
        print(f"{size}: forward with checks / without = {ratio:.4f} (median of {args.rounds} interleaved rounds); "
              f"the checks alone = {100 * share:.3f}% of a forward")


if __name__ == "__main__":
    main()
