"""What does a LoRA variant next to its base model cost in memory? A model plus ``archit_core.rewrite(model,
"lora")`` should hold the base weights once plus the adapter weights (target: at most 5 percent above that).

Model: roberta-base with a 9-label token-classification head (125M parameters, random weights, nothing
downloaded); LoRA r=8 on attention query and value (the defaults). Each variant runs in a fresh interpreter:

- archit: ``lora = archit_core.rewrite(model, "lora", r=8)``: both models usable side by side;
- peft, in place: ``get_peft_model(model, LoraConfig(...))``: the base model is mutated (no side-by-side variant);
- peft, side by side: ``get_peft_model(copy.deepcopy(model), ...)``: what a peft user does to keep both.

Figures: bytes of the distinct tensor storages the two models reach (exact), and the increase of the process's
resident set (RSS, after ``gc.collect()``) caused by the rewrite, both over the base model's weight bytes.

    python benchmarks/bench_rewrite_memory.py [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import machine, publish, table

TARGET = 1.05

CHILD = r"""
import copy, gc, json, os, sys
import torch
import archit_core

def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def storages(*models):
    seen = {}
    for m in models:
        for t in list(m.parameters()) + list(m.buffers()):
            s = t.untyped_storage()
            seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())

torch.manual_seed(0)
model = archit_core.build("roberta", "token-classification", head_config={"num_labels": 9})
base = storages(model)
before = rss()
how = sys.argv[1]
if how == "archit":
    other = archit_core.rewrite(model, "lora", r=8)
    adapter = sum(p.numel() * p.element_size() for n, p in other.named_parameters() if "lora_" in n)
    total = storages(model, other)
else:
    import peft
    config = peft.LoraConfig(r=8, lora_alpha=8, target_modules=["query", "value"])
    other = peft.get_peft_model(copy.deepcopy(model) if how == "peft-copy" else model, config)
    adapter = sum(p.numel() * p.element_size() for n, p in other.named_parameters() if "lora_" in n)
    total = storages(model, other)
grown = rss() - before
print(json.dumps({"base": base, "adapter": adapter, "total": total, "rss_increase": grown}))
"""


def run(how: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, how], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-doc", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    labels = {"archit": "archit `rewrite` (both usable)", "peft": "peft in place (base mutated)", "peft-copy": "peft on a deepcopy (both usable)"}
    for how in ("archit", "peft", "peft-copy"):
        r = run(how)
        mb = lambda b: f"{b / 2**20:.1f}"  # noqa: E731
        rows.append([
            labels[how], mb(r["base"]), mb(r["adapter"]), mb(r["total"]),
            f"{r['total'] / (r['base'] + r['adapter']):.3f}", mb(r["rss_increase"]),
            f"{(r['base'] + max(r['rss_increase'], 0)) / (r['base'] + r['adapter']):.3f}",
        ])
    body = "\n".join([
        "## Memory of a LoRA variant beside its base model",
        "",
        f"Machine: {machine()}. Script: `python benchmarks/bench_rewrite_memory.py`. roberta-base token classifier,",
        "LoRA r=8 on attention query and value. *Storage* counts the distinct tensor storages both models reach;",
        "*ratio* is that over (base weights + adapter weights), target at most "
        f"{TARGET:.2f}; the RSS columns measure the process instead (RSS ratio = (base + RSS increase) / (base + adapter)).",
        "",
        table(["variant", "base MB", "adapter MB", "storage MB", "ratio", "RSS increase MB", "RSS ratio"], rows),
    ])
    publish("rewrite-memory", body, write=not args.no_doc)


if __name__ == "__main__":
    main()
