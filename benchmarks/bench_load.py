"""Does loading a checkpoint through archit cost more than through transformers? Wall time and peak memory of

- archit: ``archit_core.build("bert", "token-classification", checkpoint=folder, head_config={"num_labels": 9})``
- HF: ``transformers.AutoModelForTokenClassification.from_pretrained(folder, num_labels=9)``

on a base-size BERT checkpoint (hidden 768, 12 layers, 110M parameters, about 420 MB of float32 safetensors) written by
``BertModel(BertConfig()).save_pretrained`` (random weights; nothing is downloaded). Both leave the checkpoint's
pooler unused and start a fresh 9-label classifier.

Every measurement is a fresh interpreter (imports, allocator state and peak memory are per process) that imports
torch, transformers and archit_core, then times the one load call, cold: plugin discovery and transformers' lazy
import of the BERT modelling code are part of it, as they are for a user. Memory: the resident set size (RSS)
before the call, the peak RSS during it (VmHWM, reset just before the call) and the RSS after it; the figures are
increases over the RSS before. The process then loads three more times (warm: code already imported; the median).
archit and HF alternate (A B B A ...) after one warm-up run of each (which also puts the file in the page cache);
the tables give medians. Target: archit/HF at most 1.10 for time and for peak memory.

    python benchmarks/bench_load.py [--runs 7] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, median, publish, table

TARGET_RATIO = 1.10
NUM_LABELS = 9

LOADS = {
    "archit": (
        f"archit_core.build('bert', 'token-classification', checkpoint=folder, head_config={{'num_labels': {NUM_LABELS}}})"
    ),
    "HF": f"transformers.AutoModelForTokenClassification.from_pretrained(folder, num_labels={NUM_LABELS})",
}

# Run in a fresh interpreter: one cold load timed, with RSS before, peak during and after; then three warm loads.
PROBE = """
import gc, json, resource, sys, time, warnings
import torch, transformers, archit_core

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
warnings.simplefilter("ignore")
folder = sys.argv[1]


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak RSS, to the current RSS
        return True
    except OSError:
        return False


gc.collect()
before = status("VmRSS")
before_file = status("RssFile")
has_reset = reset_peak()
wall, cpu = time.perf_counter(), time.process_time()
model = {load}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = status("VmHWM") if has_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
after = status("VmRSS")
file_backed = status("RssFile") - before_file
params = sum(p.numel() * p.element_size() for p in model.parameters())
with torch.no_grad():
    for p in model.parameters():
        p.sum()  # read every weight: pages mapped from the checkpoint file become resident
touched = status("VmRSS")
warm = []
for _ in range(3):
    del model
    gc.collect()
    start = time.perf_counter()
    model = {load}
    warm.append(time.perf_counter() - start)
warm = sorted(warm)[1]
print(json.dumps({{"wall": wall, "cpu": cpu, "warm": warm, "before": before, "peak": peak, "after": after,
                   "file_backed": file_backed, "touched": touched, "params": params, "peak_reset": has_reset}}))
"""


def write_checkpoint(folder: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig()).save_pretrained(folder)


def check_same(folder: Path) -> str:
    """Both loads give the same backbone weights, and archit's report shows every backbone weight loaded."""
    import torch
    import transformers

    import archit_core

    transformers.logging.set_verbosity_error()
    archit = archit_core.build("bert", "token-classification", checkpoint=folder, head_config={"num_labels": NUM_LABELS})
    hf = transformers.AutoModelForTokenClassification.from_pretrained(folder, num_labels=NUM_LABELS)
    ours, theirs = archit.backbone.state_dict(), hf.bert.state_dict()
    if set(ours) != set(theirs):
        raise SystemExit(f"different backbone keys: {sorted(set(ours) ^ set(theirs))}")
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, rtol=0, atol=0, msg=key)
    report = archit.loading_report
    if report.fresh.get("backbone") or set(report.fresh) != {"head"} or report.mismatched:
        raise SystemExit(f"unexpected loading report:\n{report}")
    if archit.head.classifier.weight.shape != hf.classifier.weight.shape:
        raise SystemExit("different classifier shapes")
    return (f"{len(report.loaded['backbone'])} backbone tensors loaded and equal to HF's, fresh: "
            f"{', '.join(report.fresh['head'])}, unused: {', '.join(report.ignored)}")


def measure(name: str, folder: Path) -> dict:
    code = PROBE.format(load=LOADS[name])
    result = subprocess.run([sys.executable, "-c", code, str(folder)], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bert-base-random"
        write_checkpoint(folder)
        size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        checked = check_same(folder)
        print(checked)
        for name in LOADS:  # warm-up: page cache, compiled bytecode
            measure(name, folder)
        runs: dict[str, list[dict]] = {name: [] for name in LOADS}
        for i in range(args.runs):
            order = ["archit", "HF"] if i % 2 == 0 else ["HF", "archit"]
            for name in order:
                runs[name].append(measure(name, folder))
                print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in runs[name][-1].items()}, flush=True)
    load_after = os.getloadavg()[0]

    def med(name: str, key: str) -> float:
        return median([r[key] for r in runs[name]])

    def med_increase(name: str, key: str) -> float:
        return median([r[key] - r["before"] for r in runs[name]])

    def per_round(key: str, increase: bool) -> str:
        base = (lambda r: r[key] - r["before"]) if increase else (lambda r: r[key])
        pairs = [(base(a), base(h)) for a, h in zip(runs["archit"], runs["HF"])]
        return f"{median([a / h for a, h in pairs]):.3f}" if all(h for _, h in pairs) else "-"

    metrics = [
        ("wall time, cold (first load in the process)", "wall", False, lambda v: f"{v:.2f} s"),
        ("CPU time, cold", "cpu", False, lambda v: f"{v:.2f} s"),
        ("wall time, warm (median of 3 more loads in the process)", "warm", False, lambda v: f"{v * 1000:.0f} ms"),
        ("peak RSS increase during the load", "peak", True, mb),
        ("RSS increase after the load", "after", True, mb),
        ("  of which file-backed (pages of the mapped checkpoint)", "file_backed", False, mb),
        ("RSS increase after reading every weight", "touched", True, mb),
    ]
    rows, ratios = [], {}
    for label, key, increase, fmt in metrics:
        get = med_increase if increase else med
        a, h = get("archit", key), get("HF", key)
        ratios[key] = a / h if h else float("nan")
        rows.append([label, fmt(a), fmt(h), f"{ratios[key]:.3f}" if h else "-", per_round(key, increase)])
    params = runs["HF"][0]["params"]
    reset = all(r["peak_reset"] for rs in runs.values() for r in rs)
    peak_how = "VmHWM after resetting it" if reset else "ru_maxrss (peak RSS of the whole process)"
    worst = max(ratios["wall"], ratios["peak"])
    verdict = "met" if worst <= TARGET_RATIO else "MISSED"
    summary = (
        f"Cold load time ratio archit/HF {ratios['wall']:.3f}, peak memory ratio {ratios['peak']:.3f}: the "
        f"{TARGET_RATIO:.2f} target is {verdict}."
    )
    body = "\n\n".join([
        f"Machine: {machine()}. Load average {load_before:.2f} before, {load_after:.2f} after. Total benchmark time "
        f"{time.perf_counter() - started:.0f} s.",
        f"Checkpoint: `BertModel(BertConfig()).save_pretrained(folder)`, {mb(size)} of safetensors "
        f"({params / 4 / 1e6:.1f}M float32 parameters in the loaded model); {NUM_LABELS} labels. Before timing: {checked}.",
        f"{args.runs} interleaved runs of each after one warm-up run each, a fresh process per run; medians, the "
        f"ratio archit/HF of the medians and the median of the per-round ratios. Peak: {peak_how}.",
        table(["measure", "archit", "HF", "ratio (medians)", "ratio (median of rounds)"], rows),
        summary,
    ])
    publish("bench_load", body, write=not args.no_doc)


if __name__ == "__main__":
    main()
