"""``torch.compile``, bf16 and gradient checkpointing: an archit BERT token classifier against transformers'
``BertForTokenClassification`` holding the same weights, in one process.

- Both models: BERT hidden 256, 4 layers (``--quick``: hidden 64, 2 layers), 9 labels, the HF model built first and
  its weights copied into archit's (``import_hf_state_dict``); batch 8 x 128 tokens.
- compile: ``torch.compile(model)`` (inductor), eval forward under ``torch.no_grad()``; reported: each model's
  compiled time, its speed-up over its own eager forward, the archit/HF ratio of the compiled times, and the graph
  breaks ``torch._dynamo.explain`` finds in each (0 is the goal: a break costs a trip back to Python).
- bf16: both models ``.to(torch.bfloat16)``, a training step (forward, loss from labels, backward, gradients freed).
- gradient checkpointing: ``gradient_checkpointing_enable()`` on both, a float32 training step.
- Times: interleaved rounds (order rotating), one warm-up, medians; ratios archit/HF of the medians and the median of
  per-round ratios. Peak memory of one step: the most tensor bytes alive at once (activations, gradients), from
  ``torch.profiler``'s allocation records on CPU, ``max_memory_allocated`` on CUDA (``_common.peak_tensor_bytes``).
  Target: at most 1.02 for time and memory.

    python benchmarks/bench_train_modes.py [--rounds 7] [--threads 1] [--device cpu] [--quick] [--no-doc]
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
MODES = ("bf16", "gradient checkpointing")


def make_models(size: dict, device: str) -> dict[str, torch.nn.Module]:
    from transformers import BertConfig, BertForTokenClassification

    import archit_core
    from archit_core.checkpoints.interop import import_hf_state_dict

    torch.manual_seed(0)
    hf = BertForTokenClassification(BertConfig(num_labels=LABELS, **size))
    archit = archit_core.build("bert", "token-classification", backbone_config=size, head_config={"num_labels": LABELS})
    import_hf_state_dict(archit, hf.state_dict())
    return {"archit": archit.to(device), "HF": hf.to(device)}


def make_batch(batch: int, seq: int, device: str) -> dict[str, torch.Tensor]:
    return token_batch(batch, seq, LABELS, device)


def prepare(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """The model set up for ``mode`` (in place), in train mode."""
    if mode == "bf16":
        model.to(torch.bfloat16)
    else:
        model.gradient_checkpointing_enable()
    return model.train()


def train_step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        model(**batch).loss.backward()
        model.zero_grad(set_to_none=True)

    return run


def forward(model: Callable, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    inputs = {k: v for k, v in batch.items() if k != "labels"}

    def run() -> None:
        with torch.no_grad():
            model(**inputs)

    return run


def graph_breaks(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> int:
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    torch._dynamo.reset()
    with torch.no_grad():
        return torch._dynamo.explain(model)(**inputs).graph_break_count


def report(args: argparse.Namespace) -> str:
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else SIZE
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    batch = make_batch(args.batch, args.seq, args.device)
    load_before = load_average()
    # compile
    models = make_models(size, args.device)
    for model in models.values():
        model.eval()
    breaks = {name: graph_breaks(model, batch) for name, model in models.items()}
    torch._dynamo.reset()
    compiled = {name: torch.compile(model) for name, model in models.items()}
    runs = {f"{name} eager": forward(model, batch) for name, model in models.items()}
    runs |= {f"{name} compiled": forward(model, batch) for name, model in compiled.items()}
    for run in runs.values():  # compile outside the timed rounds
        run()
    times = interleaved(runs, args.rounds, sync=sync)
    t = {name: median(values) for name, values in times.items()}
    rows = [[
        "compiled forward (eval)", f"{1000 * t['archit compiled']:.1f}", f"{1000 * t['HF compiled']:.1f}",
        f"{t['archit compiled'] / t['HF compiled']:.3f}", f"{per_round_ratio(times, 'archit compiled', 'HF compiled'):.3f}",
        f"speed-up over eager: archit {t['archit eager'] / t['archit compiled']:.2f}x, HF "
        f"{t['HF eager'] / t['HF compiled']:.2f}x; graph breaks: archit {breaks['archit']}, HF {breaks['HF']}",
    ]]
    ratios = [t["archit compiled"] / t["HF compiled"]]
    del compiled, models, runs
    torch._dynamo.reset()
    gc.collect()
    for mode in MODES:
        models = {name: prepare(model, mode) for name, model in make_models(size, args.device).items()}
        runs = {name: train_step(model, batch) for name, model in models.items()}
        times = interleaved(runs, args.rounds, sync=sync)
        memory = {name: peak_tensor_bytes(train_step(model, batch), args.device) for name, model in models.items()}
        t = {name: median(values) for name, values in times.items()}
        ratios += [t["archit"] / t["HF"], memory["archit"] / memory["HF"]]
        rows.append([
            f"{mode} training step", f"{1000 * t['archit']:.1f}", f"{1000 * t['HF']:.1f}", f"{t['archit'] / t['HF']:.3f}",
            f"{per_round_ratio(times, 'archit', 'HF'):.3f}",
            f"peak memory archit {memory['archit'] / 2**20:.0f} MiB, HF {memory['HF'] / 2**20:.0f} MiB: "
            f"{memory['archit'] / memory['HF']:.3f}",
        ])
        del models, runs
        gc.collect()
    worst = max(ratios)
    return (
        f"Machine: {machine()}; device {args.device}, torch threads: {args.threads}. BERT hidden {size['hidden_size']}, "
        f"{size['num_hidden_layers']} layers, batch {args.batch} x {args.seq}; {args.rounds} interleaved rounds after one "
        f"warm-up, medians; memory: peak tensor bytes of one step. Load average before {load_before}, after {load_average()}. "
        "Target: at most 1.02.\n\n"
        + table(["what", "archit ms", "HF ms", "archit / HF (medians)", "archit / HF (per round)", "also"], rows)
        + f"\n\nWorst ratio {worst:.3f} (target <= 1.02): {'met' if worst <= 1.02 else 'not met'}."
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, default ``sys.argv[1:]``), ``--quick`` applied."""
    return batch_args(__doc__, argv)


def main() -> None:
    run_script("bench_train_modes", report, parse)


if __name__ == "__main__":
    main()
