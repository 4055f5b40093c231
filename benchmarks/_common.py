"""Shared by the benchmark scripts: medians, the machine line, and refreshing a table in docs/benchmarks.md.

Each script owns one section of docs/benchmarks.md, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``;
running it replaces that section and leaves the rest of the page alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    """A one-line description of where the numbers come from."""
    import importlib.metadata as md

    versions = []
    for dist in ("torch", "transformers"):
        try:
            versions.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, {', '.join(versions)}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def update_doc(name: str, body: str) -> None:
    """Replace the section ``name`` of docs/benchmarks.md with ``body`` (appending the section if it is new)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
    print(f"updated the {name} section of {DOC.relative_to(ROOT)}")


def publish(name: str, body: str, *, write: bool = True) -> None:
    """Print a script's results and, unless ``write`` is false (``--no-doc``), make them its section of the page."""
    print(body)
    if write:
        update_doc(name, body)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the line under a table."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def interleaved(runs: dict[str, Callable[[], object]], rounds: int, *, sync: Callable[[], None] = lambda: None,
                warmup: int = 1) -> dict[str, list[float]]:
    """Wall times (s) of each callable over ``rounds`` rounds in which each runs once, the order rotating each round
    so that drifting machine load hits all alike; ``warmup`` rounds first, untimed."""
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            sync()
            start = time.perf_counter()
            runs[name]()
            sync()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def per_round_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of ``a``'s time over ``b``'s in the same round."""
    return median([x / y for x, y in zip(times[a], times[b])])


def proc_status(field: str) -> int | None:
    """A ``/proc/self/status`` field in bytes (``VmRSS``, ``VmHWM``, ...), None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the peak RSS (``VmHWM``) to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# BERT sizes of the peer benchmarks: small enough for 2 CPU cores; TINY for --quick runs
BERT_SMALL = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}
BERT_TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}


def token_batch(batch: int, seq: int, num_labels: int, device: str) -> dict:
    """A seeded token-classification batch: random ids of BERT's vocabulary, full attention, random labels."""
    import torch

    generator = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(5, 30000, (batch, seq), generator=generator).to(device),
        "attention_mask": torch.ones(batch, seq, dtype=torch.long, device=device),
        "labels": torch.randint(0, num_labels, (batch, seq), generator=generator).to(device),
    }


def peak_tensor_bytes(fn: Callable[[], object], device: str = "cpu") -> int:
    """The most bytes of tensors allocated while ``fn`` runs and alive at one time (tensors that existed before do
    not count). On CUDA ``max_memory_allocated``; on the CPU, from the allocations and frees ``torch.profiler``
    records, in time order: deterministic and blind to the C allocator's caching, unlike a peak RSS (to the operator:
    a temporary that one operator allocates and frees itself is not seen)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    live = top = 0
    for _, change in sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage):
        live += change
        top = max(top, live)
    return top


def bench_parser(doc: str, *, rounds: int, quick: str, threads: int | None = 1) -> argparse.ArgumentParser:
    """A benchmark's command line with the options they share: ``--rounds``, ``--threads`` (unless None),
    ``--device``, ``--quick`` (described by ``quick``) and ``--no-doc``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=rounds)
    if threads is not None:
        parser.add_argument("--threads", type=int, default=threads,
                            help="torch threads (1: see docs/benchmarks.md on shared machines)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    return parser


def batch_args(doc: str, argv: list[str] | None = None, *, rounds: int = 7) -> Any:
    """The command line of a benchmark on a batch of token sequences (``--batch``, ``--seq``), ``--quick`` applied."""
    parser = bench_parser(doc, rounds=rounds, quick="a tiny model, 2 rounds: a check that everything runs")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seq = 2, 32
    return args


def run_script(name: str, report: Any, parse: Any) -> None:
    """A benchmark script's main: parse, measure, publish its section of docs/benchmarks.md (not with --quick)."""
    import warnings

    warnings.filterwarnings("ignore")
    args = parse()
    publish(name, report(args), write=not (args.no_doc or args.quick))
