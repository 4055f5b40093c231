"""The ``archit`` command: list installed plugins, and build a model to check that a backbone and a head fit.

``archit plugins`` imports neither torch nor transformers; ``archit build`` does, when it builds.
Errors archit raises on purpose (:class:`archit_core.ArchitError`) print one paragraph to stderr and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from .errors import ArchitError, ArchitPluginWarning, ConfigError
from .host import PluginHost, get_host
from .registry import KINDS, PluginInfo, Registration

EXIT_ERROR = 2


# -- archit plugins ----------------------------------------------------------------------------------------------
def plugins_report(host: PluginHost) -> dict[str, Any]:
    """Everything ``archit plugins`` shows, as JSON-serialisable data."""
    with warnings.catch_warnings():  # broken plugins are listed below, not warned about
        warnings.simplefilter("ignore", ArchitPluginWarning)
        registry = host.registry
        plugins = host.plugins
    conflicted = {(regs[0].kind, regs[0].name) for regs in registry.conflicts()}

    def entry(reg: Registration) -> dict[str, Any]:
        return {
            "name": reg.name,
            "qualified_name": reg.qualified_name,
            "plugin": reg.plugin.name,
            "distribution": reg.plugin.distribution,
            "version": reg.plugin.version,
            "description": getattr(reg.obj, "description", "") or "",
            "conflict": (reg.kind, reg.name) in conflicted,
        }

    report: dict[str, Any] = {f"{kind}s": [entry(r) for r in registry.registrations(kind)] for kind in KINDS}
    report["declaration_providers"] = [_plugin_entry(p) for p in host.declaration_providers()]
    report["plugins"] = [_plugin_entry(p) for p in plugins]
    report["conflicts"] = [
        {
            "kind": regs[0].kind,
            "name": regs[0].name,
            "providers": [{"distribution": r.plugin.distribution, "version": r.plugin.version, "plugin": r.plugin.name,
                           "qualified_name": r.qualified_name} for r in regs],
        }
        for regs in registry.conflicts()
    ]
    return report


def _plugin_entry(info: PluginInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "distribution": info.distribution,
        "version": info.version,
        "status": info.status,
        "error": info.error,
    }


def _source(entry: dict[str, Any]) -> str:
    if entry["distribution"]:
        return f"{entry['distribution']} {entry['version']}" if entry["version"] else entry["distribution"]
    return entry.get("plugin") or entry["name"]


def _table(rows: list[list[str]], out: TextIO, indent: str = "  ") -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        out.write((indent + "  ".join(cells)).rstrip() + "\n")


def print_plugins(report: dict[str, Any], out: TextIO) -> None:
    """The human-readable form of :func:`plugins_report`."""
    for kind in KINDS:
        entries = report[f"{kind}s"]
        out.write(f"{kind}s:\n")
        if not entries:
            out.write("  (none)\n")
            continue
        _table(
            [[e["name"] + (" (!)" if e["conflict"] else ""), _source(e), e["description"]] for e in entries],
            out,
        )
    out.write("declaration providers:\n")
    if report["declaration_providers"]:
        _table([[p["name"], _source(p)] for p in report["declaration_providers"]], out)
    else:
        out.write("  (none)\n")
    out.write("plugins:\n")
    if report["plugins"]:
        _table([[p["status"], p["name"], _source(p)] for p in report["plugins"]], out)
        for p in report["plugins"]:
            if p["status"] == "broken":
                out.write(f"  ! {p['name']} is broken: {p['error']}\n")
    else:
        out.write("  (none installed: pip install an archit-backbone-* and an archit-head-* plugin)\n")
    if report["conflicts"]:
        out.write("conflicts (!):\n")
        for c in report["conflicts"]:
            who = " and ".join(_source(p) for p in c["providers"])
            pick = " or ".join(repr(p["qualified_name"]) for p in c["providers"])
            out.write(
                f"  the {c['kind']} {c['name']!r} is registered by {who}: select {pick}, or disable one "
                "with ARCHIT_DISABLE_PLUGINS=<distribution>\n"
            )


def _cmd_plugins(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    report = plugins_report(host)
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        print_plugins(report, out)
    return 0


# -- archit build ------------------------------------------------------------------------------------------------
def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{option} is not valid JSON ({exc}): {text!r}. Give an object, e.g. '{{\"num_labels\": 5}}'") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object of config fields, got {type(value).__name__} {text!r}")
    return value


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def module_tree(module: Any, *, depth: int = 3) -> list[tuple[str, str, int]]:
    """A compact tree of ``module``: ``(indented name, class, parameter count)`` rows down to ``depth`` levels.
    A container whose children are all of one class (the layers of an encoder) is one row, ``ModuleList[12 x Layer]``."""
    rows: list[tuple[str, str, int]] = [(type(module).__name__, "", _count(module))]

    def walk(parent: Any, level: int) -> None:
        for name, child in parent.named_children():
            kids = list(child.children())
            uniform = len(kids) > 1 and len({type(k) for k in kids}) == 1
            cls = f"{type(child).__name__}[{len(kids)} x {type(kids[0]).__name__}]" if uniform else type(child).__name__
            rows.append(("  " * level + name, cls, _count(child)))
            if level < depth and not uniform:
                walk(child, level + 1)

    walk(module, 1)
    return rows


def _cmd_build(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    from .build import build, summary

    if args.batch_size < 1 or args.seq_len < 1:
        raise ConfigError(f"--batch-size and --seq-len must be positive, got {args.batch_size} and {args.seq_len}")
    model = build(
        args.backbone,
        args.head,
        backbone_config=_json_object(args.backbone_config, "--backbone-config"),
        head_config=_json_object(args.head_config, "--head-config"),
        tiny=args.tiny,
        host=host,
    )
    import torch

    from .dummy import dummy_batch

    torch.manual_seed(args.seed)
    batch = dummy_batch(model, args.batch_size, args.seq_len)
    model.train()
    output = model(**batch)
    loss = output.loss
    if loss is not None:
        loss.backward()
    grads = sum(1 for p in model.parameters() if p.grad is not None)
    trainable = sum(1 for p in model.parameters() if p.requires_grad)

    out.write(f"model: backbone {model.config.backbone!r} + head {model.config.head!r}\n")
    out.write(f"head config: {json.dumps(model.config.head_config)}\n")
    rows = module_tree(model, depth=args.depth)
    width = max(len(r[0]) + (len(r[1]) + 2 if r[1] else 0) for r in rows)
    out.write("modules (parameters):\n")
    for name, cls, n in rows:
        label = f"{name}: {cls}" if cls else name
        out.write(f"  {label.ljust(width)}  {n:>14,}\n")
    counts = summary(model)
    out.write("parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + "\n")
    shapes = {k: tuple(v.shape) for k, v in batch.items() if hasattr(v, "shape")}
    out.write(f"dummy batch: {shapes}\n")
    logits = output.logits
    if hasattr(logits, "shape"):
        out.write(f"logits: {tuple(logits.shape)}\n")
    if loss is None:
        out.write(f"loss: none ({type(model.head).__qualname__} defines no dummy_labels, so only the forward pass ran)\n")
    else:
        out.write(f"loss: {loss.item():.6f} (backward pass: gradients on {grads} of {trainable} trainable tensors)\n")
    if args.save:
        model.save_pretrained(args.save)
        out.write(f"saved to {args.save}\n")
    return 0


# -- entry point -------------------------------------------------------------------------------------------------
def make_parser() -> argparse.ArgumentParser:
    """The ``archit`` argument parser."""
    parser = argparse.ArgumentParser(prog="archit", description="Any task head on any transformer backbone, from plugins.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("plugins", help="list installed backbones, heads, rewrites and plugins (imports no torch)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(run=_cmd_plugins)

    b = commands.add_parser("build", help="build BACKBONE + HEAD, run forward and backward on a dummy batch")
    b.add_argument("backbone", metavar="BACKBONE", help="backbone name (or name@distribution)")
    b.add_argument("head", metavar="HEAD", help="head name (or name@distribution)")
    b.add_argument("--tiny", action="store_true", help="use the backbone's tiny test architecture")
    b.add_argument("--backbone-config", metavar="JSON", help="backbone config overrides, a JSON object")
    b.add_argument("--head-config", metavar="JSON", help="head config, a JSON object")
    b.add_argument("--save", metavar="DIR", help="save the model with save_pretrained to DIR")
    b.add_argument("--batch-size", type=int, default=2, metavar="N", help="dummy batch size (default 2)")
    b.add_argument("--seq-len", type=int, default=16, metavar="N", help="dummy sequence length (default 16)")
    b.add_argument("--seed", type=int, default=0, help="random seed for the dummy batch (default 0)")
    b.add_argument("--depth", type=int, default=3, help="levels of the module tree to print (default 3)")
    b.set_defaults(run=_cmd_build)
    return parser


def main(argv: Sequence[str] | None = None, *, host: PluginHost | None = None) -> int:
    """Run the ``archit`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = make_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            if args.command == "plugins":  # it lists broken plugins itself
                warnings.simplefilter("ignore", ArchitPluginWarning)
            host = host or get_host()
        return args.run(args, host, sys.stdout)
    except ArchitError as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"archit {args.command}: error: {message}\n")
        return EXIT_ERROR
    except BrokenPipeError:  # `archit plugins --json | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
