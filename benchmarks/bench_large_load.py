"""Loading a large sharded checkpoint: about 1B parameters of bf16 BERT, ``device_map="cpu"``, archit's ``build``
against transformers' ``AutoModelForTokenClassification.from_pretrained``.

- The checkpoint: BERT with hidden 2048, 20 layers, 16 heads, intermediate 8192 (1.07B parameters, 2.1 GB of bf16
  safetensors in 5 shards with an index), random weights written shard by shard from a meta-device model, so the
  writer never holds the whole model; written once into ``--folder`` (default a temporary folder) and reused.
- Each load runs in a fresh interpreter that imports torch, transformers and archit_core, makes a tiny warm-up load
  (so that plugin discovery and the lazy import of the BERT modelling code are not counted), then times the one
  call: wall time, and the peak RSS (VmHWM, reset just before) over the RSS before it; then every weight is read
  (``p.sum()``), which makes the weights transformers leaves mapped from the files resident, and the time and peak
  are taken again. archit and HF alternate (A B B A ...); medians and archit/HF ratios. Target: at most 1.05 for
  time and for peak memory.

    python benchmarks/bench_large_load.py [--rounds 3] [--folder PATH] [--device cpu] [--quick] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import load_average, machine, median, run_script, table

SIZE = {"hidden_size": 2048, "num_hidden_layers": 20, "num_attention_heads": 16, "intermediate_size": 8192}
QUICK = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}
SHARDS = 5

LOADS = {
    "archit": "archit_core.build('bert', 'token-classification', checkpoint=folder, head_config={'num_labels': 9}, "
              "dtype=torch.bfloat16, device_map=device)",
    "HF": "transformers.AutoModelForTokenClassification.from_pretrained(folder, num_labels=9, dtype=torch.bfloat16, "
          "device_map=device)",
}

PROBE = """
import gc, json, sys, time, warnings
sys.path.insert(0, {here!r})
import torch, transformers, archit_core
from _common import proc_status, reset_peak_rss
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
warnings.simplefilter("ignore")
warm, large, device = sys.argv[1:4]


def load(folder):
    return {load}


load(warm)
gc.collect()
before = proc_status("VmRSS")
reset_peak_rss()
start = time.perf_counter()
model = load(large)
wall = time.perf_counter() - start
peak = proc_status("VmHWM") - before
with torch.no_grad():
    for p in model.parameters():
        p.sum()  # read every weight: pages mapped from the checkpoint become resident
read = time.perf_counter() - start
print(json.dumps({{"wall": wall, "peak": peak, "read": read, "peak_read": proc_status("VmHWM") - before,
                   "params": sum(p.numel() for p in model.parameters())}}))
"""


def write_checkpoint(folder: Path, size: dict) -> None:
    """Random bf16 weights of ``BertModel(size)`` in shards, with the index and config transformers expect."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    config = BertConfig(**size)
    with torch.device("meta"):
        shapes = {name: t.shape for name, t in BertModel(config).state_dict().items()}
    names, total = list(shapes), sum(s.numel() for s in shapes.values())
    per_shard, shard, filled, index = total / SHARDS, {}, 0, {}
    generator = torch.Generator().manual_seed(0)

    def flush(number: int) -> None:
        file = f"model-{number:05d}-of-{SHARDS:05d}.safetensors"
        save_file(shard, str(folder / file), metadata={"format": "pt"})
        index.update(dict.fromkeys(shard, file))
        shard.clear()

    number = 1
    for name in names:
        shard[name] = (torch.randn(shapes[name], generator=generator) * 0.02).to(torch.bfloat16)
        filled += shapes[name].numel()
        if filled >= per_shard * number and number < SHARDS:
            flush(number)
            number += 1
    flush(number)
    total_size = sum((folder / f).stat().st_size for f in set(index.values()))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total_size}, "weight_map": index}))
    config.architectures = ["BertModel"]
    config.dtype = "bfloat16"
    config.save_pretrained(folder)


def measure(name: str, folder: Path, warm: Path, device: str) -> dict:
    code = PROBE.format(here=str(Path(__file__).parent), load=LOADS[name])
    out = subprocess.run([sys.executable, "-c", code, str(warm), str(folder), device], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(args: argparse.Namespace) -> str:
    """The section's Markdown (the checkpoint written first where ``args.folder`` has none)."""
    rounds, folder, quick, device = args.rounds, args.folder, args.quick, args.device
    size = QUICK if quick else SIZE
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(folder or Path(tmp) / "large")
        warm = Path(tmp) / "warm"
        for path, config in ((folder, size), (warm, QUICK)):
            if not (path / "model.safetensors.index.json").exists():
                path.mkdir(parents=True, exist_ok=True)
                write_checkpoint(path, config)
        load_before = load_average()
        results: dict[str, list[dict]] = {"archit": [], "HF": []}
        for r in range(rounds):
            for name in (("archit", "HF") if r % 2 == 0 else ("HF", "archit")):
                results[name].append(measure(name, folder, warm, device))
        gigabytes = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e9
    keys = ("wall", "peak", "read", "peak_read")
    med = {name: {key: median([r[key] for r in runs]) for key in keys} for name, runs in results.items()}
    params = results["HF"][0]["params"]
    rows = [[name, f"{med[name]['wall']:.2f}", f"{med[name]['peak'] / 2**20:.0f}", f"{med[name]['read']:.2f}",
             f"{med[name]['peak_read'] / 2**20:.0f}"] for name in results]
    rows.append(["archit / HF", *(f"{med['archit'][key] / med['HF'][key]:.3f}" for key in keys)])
    worst = max(med["archit"][key] / med["HF"][key] for key in keys)
    return (
        f"Machine: {machine()}. BERT hidden {size['hidden_size']}, {size['num_hidden_layers']} layers "
        f"({params / 1e9:.2f}B parameters, {gigabytes:.2f} GB bf16 in {SHARDS} shards), `dtype=torch.bfloat16, "
        f"device_map=\"{device}\"`; {rounds} alternating rounds, fresh process each, medians. Load average before "
        f"{load_before}, after {load_average()}. Target: at most 1.05.\n\n"
        + table(["load", "load s", "peak RSS increase MiB", "load + read every weight s",
                 "peak RSS increase after reading MiB"], rows)
        + f"\n\nThe loaded bf16 weights stay mapped from the safetensors files until read, hence the small peak of the "
        f"load itself; reading every weight makes them resident. Worst ratio {worst:.3f} (target <= 1.05): "
        f"{'met' if worst <= 1.05 else 'not met'}."
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, default ``sys.argv[1:]``), ``--quick`` applied."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None, help="where to write (or find) the checkpoint")
    parser.add_argument("--quick", action="store_true", help="a small checkpoint, 2 rounds: a check that everything runs")
    parser.add_argument("--device", default="cpu", help="the device_map")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 2
    return args


def main() -> None:
    run_script("bench_large_load", report, parse)


if __name__ == "__main__":
    main()
