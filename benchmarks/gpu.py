"""Every peer benchmark of this folder on one GPU, in under five minutes: tree decoding, multi-task, the 1B-parameter
sharded checkpoint load (``device_map`` the GPU), ``torch.compile`` / bf16 / gradient checkpointing, and the
dependency-parsing training step. Each writes its own ``gpu-<name>`` section of docs/benchmarks.md, so the CPU
sections stay as they are.

    python benchmarks/gpu.py                        # CUDA, full sizes, writes the docs
    python benchmarks/gpu.py --device cpu --quick   # a check that everything runs, on CPU, no docs written

Peers as in benchmarks/requirements.txt; a peer that does not import is left out and the tables say so.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import bench_decode
import bench_large_load
import bench_multitask
import bench_parser_step
import bench_train_modes
import torch
from _common import publish

# (script, its arguments on a GPU); --device and --quick are added from the command line
PLAN = (
    (bench_decode, ["--rounds", "10", "--threads", "1"]),
    (bench_multitask, ["--rounds", "7", "--batch", "32", "--seq", "256"]),
    (bench_large_load, ["--rounds", "2"]),
    (bench_train_modes, ["--rounds", "10", "--batch", "32", "--seq", "256"]),
    (bench_parser_step, ["--rounds", "10"]),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="small sizes and 2-3 rounds each; no docs written")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; use --device cpu --quick to check the scripts")
    warnings.filterwarnings("ignore")
    start, failed = time.perf_counter(), []
    for script, options in PLAN:
        name = script.__name__
        argv = ([] if args.quick else options) + ["--device", args.device] + (["--quick"] if args.quick else [])
        began = time.perf_counter()
        try:
            body = script.report(script.parse(argv))
        except Exception as error:  # noqa: BLE001 - one failing benchmark must not stop the others
            failed.append(name)
            print(f"{name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        if args.device.startswith("cuda"):
            body = f"GPU: {torch.cuda.get_device_name()}.\n\n{body}"
        publish(f"gpu-{name}", body, write=not (args.no_doc or args.quick))
        print(f"{name}: {time.perf_counter() - began:.0f} s\n")
    print(f"all: {time.perf_counter() - start:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
