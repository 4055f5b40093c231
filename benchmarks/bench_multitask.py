"""Multi-task: one archit model with k token-classification heads on one BERT backbone against k separate
``BertForTokenClassification`` models, for k = 1, 2, 4.

- One training step serves every task once: archit runs one backbone pass, k heads and one weighted loss, then
  ``backward()``; the peer runs each of its k models' forward and ``backward()``. Gradients are freed between steps.
- Throughput: examples per second over all k tasks (batch / step time), from interleaved rounds (the two variants
  alternate, order rotating), medians; ratio HF time / archit time (above 1: archit faster).
- Peak memory: the most tensor bytes alive at once while the model(s) are built and run two steps (weights,
  gradients, activations), from ``torch.profiler``'s allocation records on CPU, ``max_memory_allocated`` on CUDA
  (``_common.peak_tensor_bytes``). Ratio archit / HF.

    python benchmarks/bench_multitask.py [--rounds 7] [--threads 1] [--device cpu] [--quick] [--no-doc]
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable

import torch
from _common import BERT_SMALL as SIZE
from _common import BERT_TINY as QUICK
from _common import (
    batch_args,
    interleaved,
    load_average,
    machine,
    median,
    peak_tensor_bytes,
    per_round_ratio,
    run_script,
    table,
    token_batch,
)

LABELS = 9


def models(variant: str, k: int, size: dict, device: str) -> list[torch.nn.Module]:
    """archit: one model with k heads; HF: k models."""
    import archit_core

    if variant == "archit":
        heads = {f"task{i}": ("token-classification", {"num_labels": LABELS}) for i in range(k)}
        return [archit_core.build("bert", heads, backbone_config=size).to(device).train()]
    from transformers import BertConfig, BertForTokenClassification

    return [BertForTokenClassification(BertConfig(num_labels=LABELS, **size)).to(device).train() for _ in range(k)]


def step(variant: str, group: list[torch.nn.Module], k: int, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    """One training step over every task: forward, loss, backward, gradients freed."""
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def run() -> None:
        for model in group:
            labels = {f"task{i}": batch["labels"] for i in range(k)} if variant == "archit" else batch["labels"]
            model(**inputs, labels=labels).loss.backward()
            model.zero_grad(set_to_none=True)

    return run


def make_batch(batch: int, seq: int, device: str) -> dict[str, torch.Tensor]:
    return token_batch(batch, seq, LABELS, device)


def peak_memory(variant: str, k: int, size: dict, batch: dict[str, torch.Tensor], device: str) -> int:
    """Peak tensor bytes of building the model(s) and two training steps: weights, gradients and activations."""

    def build_and_step() -> None:
        group = models(variant, k, size, device)
        run = step(variant, group, k, batch)
        run(), run()

    return peak_tensor_bytes(build_and_step, device)


def report(args: argparse.Namespace) -> str:
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else SIZE
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    batch = make_batch(args.batch, args.seq, args.device)
    rows, load_before = [], load_average()
    for k in (1, 2, 4):
        groups = {variant: models(variant, k, size, args.device) for variant in ("archit", "HF")}
        runs = {variant: step(variant, group, k, batch) for variant, group in groups.items()}
        times = interleaved(runs, args.rounds, sync=sync)
        memory = {variant: peak_memory(variant, k, size, batch, args.device) for variant in runs}
        t = {variant: median(values) for variant, values in times.items()}
        rows.append([
            k, f"{args.batch / t['archit']:.1f}", f"{args.batch / t['HF']:.1f}",
            f"{t['HF'] / t['archit']:.2f}x", f"{1 / per_round_ratio(times, 'archit', 'HF'):.2f}x",
            f"{memory['archit'] / 2**20:.0f}", f"{memory['HF'] / 2**20:.0f}", f"{memory['archit'] / memory['HF']:.2f}",
        ])
        del groups, runs
        gc.collect()
    return (
        f"Machine: {machine()}; device {args.device}, torch threads: {args.threads}. BERT hidden {size['hidden_size']}, "
        f"{size['num_hidden_layers']} layers, batch {args.batch} x {args.seq} tokens, training steps; {args.rounds} "
        f"interleaved rounds after one warm-up, medians. Memory: peak tensor bytes of building and two steps. Load "
        f"average before {load_before}, after {load_average()}.\n\n"
        + table(["k heads", "archit examples/s", "k HF models examples/s", "speed-up (medians)",
                 "speed-up (per round)", "archit peak MiB", "HF peak MiB", "memory archit / HF"], rows)
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, default ``sys.argv[1:]``), ``--quick`` applied."""
    return batch_args(__doc__, argv)


def main() -> None:
    run_script("bench_multitask", report, parse)


if __name__ == "__main__":
    main()
