"""What ``archit backbones`` lists, as data: the dedicated backbones, the on-demand providers (the generic plugin)
and, on request, every generic name with the dedicated plugin that takes precedence over it. Printed by
:mod:`archit_core.cli.backbones`."""

from __future__ import annotations

from typing import Any


def backbones_report(host: Any, *, include_generic: bool = False) -> dict[str, Any]:
    """What ``archit backbones`` shows: the dedicated backbones (name, provider, description), the on-demand
    providers, and with ``include_generic`` every generic name (which imports transformers), each marked with the
    dedicated plugin that takes precedence over it, if any."""
    registry = host.registry
    dedicated = [
        {"name": r.name, "distribution": r.plugin.distribution, "version": r.plugin.version, "plugin": r.plugin.name,
         "description": getattr(r.obj, "description", "") or ""}
        for r in registry.registrations("backbone")
    ]
    providers = [
        {"plugin": e.plugin.name, "distribution": e.plugin.distribution, "version": e.plugin.version,
         "description": e.resolver.description}
        for e in registry.resolvers("backbone")
    ]
    report: dict[str, Any] = {"dedicated": dedicated, "generic_providers": providers}
    if include_generic:
        owners = {d["name"]: d["distribution"] or d["plugin"] for d in dedicated}
        report["generic"] = [
            {"name": n, "qualified_name": f"{n}@{e.plugin.distribution or e.plugin.name}", "overridden_by": owners.get(n)}
            for e in registry.resolvers("backbone") for n in e.resolver.names()
        ]
    return report
