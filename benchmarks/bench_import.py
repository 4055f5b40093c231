"""How cheap is discovery? Wall time of ``import archit_core`` and of ``archit plugins``, and whether torch loads.

Every measurement is a fresh subprocess (imports are cached within a process), run interleaved with the others
``--runs`` times; the table gives medians. ``python -c pass`` is the interpreter's own start-up, included in every
command's wall time, and ``import torch`` / ``import transformers`` are there for scale. Target: ``archit plugins``
under 0.5 s.

    python benchmarks/bench_import.py [--runs 11] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

from _common import machine, median, publish, table

TARGET_S = 0.5

# Code run in a fresh interpreter: time an import from inside, and report which heavy modules it pulled in.
IMPORT_PROBE = """
import json, sys, time
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
print(json.dumps({{"seconds": elapsed, "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}}))
"""

PLUGINS_PROBE = """
import contextlib, io, json, sys
from archit_core.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["plugins"])
print(json.dumps({"code": code, "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))
"""


def archit_command() -> list[str]:
    """The installed console script, else the module."""
    script = shutil.which("archit")
    return [script] if script else [sys.executable, "-m", "archit_core.cli.main"]


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def probe(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    walls = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import archit_core'": [sys.executable, "-c", "import archit_core"],
        "archit plugins": archit_command() + ["plugins"],
        "archit plugins --json": archit_command() + ["plugins", "--json"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "python -c 'import transformers'": [sys.executable, "-c", "import transformers"],
    }
    inside = {"import archit_core": "archit_core", "import torch": "torch", "import transformers": "transformers"}
    times: dict[str, list[float]] = {k: [] for k in [*walls, *inside]}
    loaded: dict[str, dict] = {}
    for cmd in walls.values():  # warm the file-system cache once
        wall(cmd)
    for _ in range(args.runs):
        for name, cmd in walls.items():
            times[name].append(wall(cmd))
        for name, module in inside.items():
            info = probe(IMPORT_PROBE.format(module=module))
            times[name].append(info["seconds"])
            loaded[name] = info
    plugins = probe(PLUGINS_PROBE)

    notes = {"python -c pass": "interpreter start-up alone", "python -c 'import torch'": "for scale",
             "python -c 'import transformers'": "for scale"}
    rows_wall = [[f"`{name}`", f"{median(times[name]) * 1000:.0f} ms", f"{min(times[name]) * 1000:.0f} ms", notes.get(name, "")]
                 for name in walls]
    rows_inside = [
        [f"`{name}`", f"{median(times[name]) * 1000:.0f} ms",
         "yes" if loaded[name]["torch"] else "no", "yes" if loaded[name]["transformers"] else "no"]
        for name in inside
    ]
    plugins_s = median(times["archit plugins"])
    verdict = "meets" if plugins_s < TARGET_S else "MISSES"
    summary = (
        f"`archit plugins` takes {plugins_s * 1000:.0f} ms (median wall time, interpreter start-up included): it "
        f"{verdict} the {TARGET_S * 1000:.0f} ms target. Torch imported by `archit plugins`: "
        f"{'YES' if plugins['torch'] else 'no'}; transformers: {'YES' if plugins['transformers'] else 'no'}."
    )
    body = "\n\n".join([
        f"Machine: {machine()}. {args.runs} interleaved runs of each, fresh process each time.",
        "Wall time of the whole command (start-up included):",
        table(["command", "median", "min", "note"], rows_wall),
        "Time of the import statement alone, measured inside a fresh interpreter, and what it loaded:",
        table(["statement", "median", "torch loaded", "transformers loaded"], rows_inside),
        summary,
    ])
    publish("bench_import", body, write=not args.no_doc)


if __name__ == "__main__":
    main()
