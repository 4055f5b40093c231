"""``archit backbones``: the dedicated and generic backbone names, printed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def print_backbones(report: Mapping[str, Any], out: Any) -> None:
    """The human-readable form of :func:`archit_core.generic.listing.backbones_report`."""
    out.write("dedicated backbones (plugins; they take precedence over generic ones):\n")
    for d in report["dedicated"] or [{"name": "(none)", "distribution": "", "version": "", "description": ""}]:
        source = " ".join(filter(None, [d["distribution"], d["version"]]))
        out.write(f"  {d['name']:24} {source:36} {d['description']}".rstrip() + "\n")
    out.write("generic backbones:\n")
    for p in report["generic_providers"] or []:
        source = " ".join(filter(None, [p["distribution"], p["version"]]))
        out.write(f"  {p['plugin']} ({source}): {p['description']}\n")
    if not report["generic_providers"]:
        out.write("  (none: the built-in generic plugin is disabled)\n")
    if "generic" in report:
        for g in report["generic"]:
            note = f"  (the name gives {g['overridden_by']}; use {g['qualified_name']})" if g["overridden_by"] else ""
            out.write(f"  {g['name']}{note}\n")
        out.write(f"{len(report['generic'])} generic names\n")
