"""Shared by the benchmark scripts: medians, the machine line, and refreshing a table in docs/benchmarks.md.

Each script owns one section of docs/benchmarks.md, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``;
running it replaces that section and leaves the rest of the page alone.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

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
