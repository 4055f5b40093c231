"""The ``archit`` command: list installed plugins, build a model to check that a backbone and a head fit, inspect a
checkpoint folder, and convert checkpoints between Hugging Face and archit.

``archit plugins`` imports neither torch nor transformers (nor does ``archit inspect`` of an archit safetensors
checkpoint); ``archit build`` and ``archit convert`` do.
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

from ..checkpoints.inspection import CheckpointReport, inspect_checkpoint
from ..errors import ArchitError, ArchitPluginWarning, ConfigError, bounded_repr
from ..registry.host import PluginHost, get_host
from ..registry.registrations import KINDS, PluginInfo, Registration

EXIT_ERROR = 2
#: The most characters of an error message the command prints.
_MESSAGE_LIMIT = 8000


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

    def on_demand(e: Any) -> dict[str, Any]:  # a resolver (the core's generic backbones): names resolved when asked
        return {"name": "<generic>", "qualified_name": f"<name>@{e.plugin.distribution or e.plugin.name}",
                "plugin": e.plugin.name, "distribution": e.plugin.distribution, "version": e.plugin.version,
                "description": e.resolver.description, "conflict": False, "on_demand": True}

    report: dict[str, Any] = {
        f"{kind}s": [entry(r) for r in registry.registrations(kind)] + [on_demand(e) for e in registry.resolvers(kind)]
        for kind in KINDS
    }
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


def _cmd_plugins(args: argparse.Namespace, host: PluginHost, out: TextIO, *, report: dict[str, Any] | None = None,
                 show: Any = print_plugins) -> int:
    report = plugins_report(host) if report is None else report
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        show(report, out)
    return 0


def _cmd_backbones(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    from ..generic.listing import backbones_report
    from .backbones import print_backbones

    return _cmd_plugins(args, host, out, report=backbones_report(host, include_generic=args.all), show=print_backbones)


# -- archit build ------------------------------------------------------------------------------------------------
def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    from ..specs.spec import loads_json

    if text is None:
        return None
    try:
        value = loads_json(text)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"{option} is not valid JSON ({exc}): {bounded_repr(text)}. Give an object, e.g. '{{\"num_labels\": 5}}'") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object of config fields, got {type(value).__name__} {bounded_repr(text)}")
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
    from ..model.build import smoke
    from ..specs.spec import build_from_spec

    if args.batch_size < 1 or args.seq_len < 1:
        raise ConfigError(f"--batch-size and --seq-len must be positive, got {args.batch_size} and {args.seq_len}")
    if args.spec is not None:
        given = [flag for flag, value in (("BACKBONE", args.backbone), ("HEAD", args.head), ("--backbone-config", args.backbone_config),
                                          ("--head-config", args.head_config), ("--tiny", args.tiny)) if value]
        if given:
            raise ConfigError(f"--spec describes the whole model; drop {', '.join(given)} (or put them in the spec)")
        spec: Any = args.spec
    elif args.backbone is None or args.head is None:
        raise ConfigError("give BACKBONE and HEAD, or --spec FILE")
    else:  # the arguments as a spec, so they are checked as completely as a spec file before anything is built
        spec = {"backbone": args.backbone, "tiny": args.tiny,
                "head": {"head": args.head, "config": _json_object(args.head_config, "--head-config")}}
        if args.backbone_config is not None:
            spec["backbone_config"] = _json_object(args.backbone_config, "--backbone-config")
    model = build_from_spec(spec, host=host)
    report = smoke(model, batch_size=args.batch_size, seq_len=args.seq_len, seed=args.seed)
    print_build(model, report, out, depth=args.depth)
    if args.save:
        model.save_pretrained(args.save, overwrite=args.overwrite)
        out.write(f"saved to {args.save}\n")
    elif args.overwrite:
        raise ConfigError("--overwrite applies to --save DIR; give --save too")
    return 0


def print_build(model: Any, report: Any, out: TextIO, *, depth: int = 3) -> None:
    """The human-readable form of a built model and its :class:`~archit_core.model.build.SmokeReport`."""
    from ..rewrites.rewrite import rewrites_of

    if model.config.heads:
        tasks = ", ".join(f"{task}: {entry['head']!r} (loss weight {entry['loss_weight']})" for task, entry in model.config.heads.items())
        out.write(f"model: backbone {model.config.backbone!r} + heads {tasks}\n")
    else:
        out.write(f"model: backbone {model.config.backbone!r} + head {model.config.head!r}\n")
        out.write(f"head config: {json.dumps(model.config.head_config)}\n")
    for record in rewrites_of(model):
        out.write(f"rewrite: {record['rewrite']} {json.dumps(record['options'])} on {len(record['paths'])} modules "
                  f"({', '.join(record['targets'])})\n")
    rows = module_tree(model, depth=depth)
    width = max(len(r[0]) + (len(r[1]) + 2 if r[1] else 0) for r in rows)
    out.write("modules (parameters):\n")
    for name, cls, n in rows:
        label = f"{name}: {cls}" if cls else name
        out.write(f"  {label.ljust(width)}  {n:>14,}\n")
    out.write("parameters: " + ", ".join(f"{k} {v:,}" for k, v in report.parameters.items()) + "\n")
    out.write(f"dummy batch: {dict(report.batch_shapes)}\n")
    if report.logits_shape is not None:
        out.write(f"logits: {report.logits_shape}\n")
    if report.loss is None:
        out.write(f"loss: none ({report.head_class} defines no dummy_labels, so only the forward pass ran)\n")
    else:
        out.write(f"loss: {report.loss:.6f} (backward pass: gradients on {report.with_grad} of {report.trainable} trainable tensors)\n")


def _cmd_spec_schema(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    from ..specs.schema import spec_schema

    out.write(json.dumps(spec_schema(host), indent=2) + "\n")
    return 0


# -- archit inspect ----------------------------------------------------------------------------------------------

def _plugin_line(p: dict[str, Any]) -> str:
    saved = " ".join(filter(None, [p["distribution"], p["version"]])) or "no distribution recorded"
    if p["status"] == "ok":
        version = p["installed_version"]
        state = f"installed {version}" if version else "installed"
        if p["version"] and version and version != p["version"]:
            state += f", saved with {p['version']}"
    elif p["status"] == "missing":
        state = f"NOT installed: pip install {p['distribution']}" if p["distribution"] else "NOT installed"
    else:
        state = f"{p['status']} (installed {p['installed_version']})"
    return f"{p['part']}: {p['name']} from {saved} ({state})"


_ARCHITECTURE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")


def print_inspect(report: CheckpointReport | dict[str, Any], out: TextIO, *, keys: bool = False) -> None:
    """The human-readable form of a :class:`~archit_core.checkpoints.inspection.CheckpointReport` (or its ``to_dict()``)."""
    if isinstance(report, CheckpointReport):
        report = report.to_dict()
    weights = report["weights"]
    files = f"{len(weights['files'])} shards" if weights["sharded"] else weights["files"][0]
    kind = "archit" if report["format"] == "archit" else "Hugging Face"
    out.write(f"checkpoint: {report['path']}\n")
    out.write(f"format: {kind} checkpoint, {weights['format']} weights ({files})\n")
    out.write(f"model_type: {report['model_type']}; architectures: {', '.join(report['architectures']) or '(none)'}\n")
    if report["format"] == "archit":
        for p in report["plugins"]:
            out.write(_plugin_line(p) + "\n")
        bconf = report["backbone_config"]
        shown = ", ".join(f"{k}={bconf[k]}" for k in _ARCHITECTURE_FIELDS if k in bconf)
        out.write(f"backbone config: model_type={bconf.get('model_type')}, {shown} ({len(bconf)} fields; --json for all)\n")
        out.write(f"head config: {json.dumps(report['head_config'])}\n")
    else:
        eq = report["archit_equivalent"]
        if eq["head"]:
            out.write(f"archit equivalent: backbone {eq['backbone']!r} + head {eq['head']!r} (archit convert uses these)\n")
        else:
            out.write(f"archit equivalent: {'backbone ' + repr(eq['backbone']) + '; ' if eq['backbone'] else ''}{eq['note']}\n")
    rows = [["part", "keys", "parameters"]]
    rows += [[part, str(g["keys"]), f"{g['parameters']:,}"] for part, g in report["parts"].items()]
    rows.append(["total", str(report["total"]["keys"]), f"{report['total']['parameters']:,}"])
    out.write("weights:\n")
    _table(rows, out)
    out.write(f"dtypes: {', '.join(report['dtypes'])}\n")
    for part, group in report["parts"].items():
        if keys or part != "backbone":
            out.write(f"{part} keys:\n")
            for key, t in group["tensors"].items():
                out.write(f"  {key}  {t['dtype']}{list(t['shape'])}\n")


def _cmd_inspect(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    report = inspect_checkpoint(args.path, host)
    if args.json:
        json.dump(report.to_dict(), out, indent=2)
        out.write("\n")
    else:
        print_inspect(report, out, keys=args.keys)
    return 0


# -- archit convert ----------------------------------------------------------------------------------------------
def print_convert(report: Any, out: TextIO) -> None:
    """The human-readable form of a :class:`~archit_core.checkpoints.convert.ConvertReport`."""
    if report.source_format == "archit":
        out.write(f"converted archit {report.backbone!r} + {report.head!r} to {report.hf_class} (Hugging Face)\n")
    else:
        out.write(f"converted {report.hf_class} (Hugging Face) to archit {report.backbone!r} + {report.head!r}\n")
        loading = report.loading
        for note in loading.notes:
            out.write(f"note: {note}\n")
        if loading.ignored:
            more = ", ..." if len(loading.ignored) > 5 else ""
            out.write(f"note: {len(loading.ignored)} weight(s) of the checkpoint are not used: {', '.join(loading.ignored[:5])}{more}\n")
        fresh = loading.fresh.get("head", ())
        if fresh:
            out.write(f"warning: {len(fresh)} head weight(s) are freshly initialised, not converted; train the head before use\n")
    if report.copied:
        out.write(f"copied {', '.join(report.copied)}\n")
    out.write(f"saved to {report.destination}\n")


def _cmd_convert(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    from ..checkpoints.convert import check_archit_source, convert
    from ..checkpoints.folder import open_checkpoint

    folder = open_checkpoint(args.src)
    check_archit_source(folder, [o for o, v in (("--backbone", args.backbone), ("--head", args.head), ("--head-config", args.head_config)) if v])
    report = convert(folder, args.dst, backbone=args.backbone, head=args.head,
                     head_config=_json_object(args.head_config, "--head-config"), host=host)
    print_convert(report, out)
    return 0


# -- archit export -----------------------------------------------------------------------------------------------
def _cmd_export(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    from ..model.build import load

    if not args.standalone:
        raise ConfigError("archit export writes a checkpoint that loads without archit: give --standalone (for the "
                          "Hugging Face task class of a head that has one, use archit convert)")
    model = load(args.src, host=host)
    model.save_pretrained(args.dst, standalone=True, overwrite=args.overwrite)
    out.write(f"exported {args.src} to {args.dst}: transformers' Auto classes load it with trust_remote_code=True, "
              "without archit\n")
    return 0


# -- archit declare ----------------------------------------------------------------------------------------------
def _cmd_declare(args: argparse.Namespace, host: PluginHost, out: TextIO) -> int:
    from .declare import declare_command

    return declare_command(args.factory, reference=args.reference, output=args.output, verify=args.verify, out=out, host=host,
                           arguments=_json_object(args.arguments, "--arguments"))


# -- entry point -------------------------------------------------------------------------------------------------
def make_parser() -> argparse.ArgumentParser:
    """The ``archit`` argument parser."""
    parser = argparse.ArgumentParser(prog="archit", description="Any task head on any transformer backbone, from plugins.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("plugins", help="list installed backbones, heads, rewrites and plugins (imports no torch)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(run=_cmd_plugins)

    k = commands.add_parser("backbones", help="list dedicated and generic backbone names (--all imports transformers)")
    k.add_argument("--all", action="store_true", help="list every generic name (each transformers model_type)")
    k.add_argument("--json", action="store_true", help="print JSON instead of text")
    k.set_defaults(run=_cmd_backbones)

    b = commands.add_parser("build", help="build BACKBONE + HEAD, run forward and backward on a dummy batch")
    b.add_argument("backbone", metavar="BACKBONE", nargs="?", help="backbone name (or name@distribution)")
    b.add_argument("head", metavar="HEAD", nargs="?", help="head name (or name@distribution)")
    b.add_argument("--spec", metavar="FILE", help="build the model a JSON/YAML spec describes instead (see docs/specs.md)")
    b.add_argument("--tiny", action="store_true", help="use the backbone's tiny test architecture")
    b.add_argument("--backbone-config", metavar="JSON", help="backbone config overrides, a JSON object")
    b.add_argument("--head-config", metavar="JSON", help="head config, a JSON object")
    b.add_argument("--save", metavar="DIR", help="save the model with save_pretrained to DIR")
    b.add_argument("--overwrite", action="store_true", help="with --save: replace a folder that holds another model")
    b.add_argument("--batch-size", type=int, default=2, metavar="N", help="dummy batch size (default 2)")
    b.add_argument("--seq-len", type=int, default=16, metavar="N", help="dummy sequence length (default 16)")
    b.add_argument("--seed", type=int, default=0, help="random seed for the dummy batch (default 0)")
    b.add_argument("--depth", type=int, default=3, help="levels of the module tree to print (default 3)")
    b.set_defaults(run=_cmd_build)

    s = commands.add_parser("spec-schema", help="print the JSON Schema of model specs for the installed plugins")
    s.set_defaults(run=_cmd_spec_schema)

    i = commands.add_parser("inspect", help="what a checkpoint folder holds: format, model, plugins, weights by part")
    i.add_argument("path", metavar="PATH", help="checkpoint folder (archit or Hugging Face)")
    i.add_argument("--json", action="store_true", help="print JSON (every key with dtype and shape)")
    i.add_argument("--keys", action="store_true", help="list the backbone's keys too")
    i.set_defaults(run=_cmd_inspect)

    c = commands.add_parser("convert", help="convert a Hugging Face task checkpoint to archit, or an archit one to Hugging Face")
    c.add_argument("src", metavar="SRC", help="checkpoint folder to convert (archit or Hugging Face)")
    c.add_argument("dst", metavar="DST", help="new folder to save the converted checkpoint to")
    c.add_argument("--backbone", metavar="NAME", help="archit backbone for a Hugging Face SRC (default: the one of its model_type)")
    c.add_argument("--head", metavar="NAME", help="archit head for a Hugging Face SRC (default: the one equivalent to its architecture)")
    c.add_argument("--head-config", metavar="JSON", help="head config for a Hugging Face SRC, a JSON object")
    c.set_defaults(run=_cmd_convert)

    e = commands.add_parser("export", help="save an archit checkpoint with its own modeling code, to load without archit")
    e.add_argument("src", metavar="SRC", help="archit checkpoint folder")
    e.add_argument("dst", metavar="DST", help="folder to write (modeling_archit.py, auto_map, weights, model card)")
    e.add_argument("--standalone", action="store_true", help="generated modeling code and an auto_map (required)")
    e.add_argument("--overwrite", action="store_true", help="replace a folder that holds another model")
    e.set_defaults(run=_cmd_export)

    d = commands.add_parser("declare", help="print the class code of a model modified in place (MODULE:FACTORY returns it)")
    d.add_argument("factory", metavar="MODULE:FACTORY", help="a function returning the modified model, e.g. mymodels:make")
    d.add_argument("--reference", metavar="MODULE:CLASS", help="the class to compare with (default: the model's own class)")
    d.add_argument("--output", metavar="FILE", help="write the code to FILE instead of printing it")
    d.add_argument("--verify", action="store_true", help="verify the code rebuilds the model; the report goes to stderr")
    d.add_argument("--arguments", metavar="JSON", help='constructor arguments recovery cannot find, by module path: '
                   '{"roberta.embeddings.word_embeddings": {"vocab_size": 100}}')
    d.set_defaults(run=_cmd_declare)
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
        if len(message) > _MESSAGE_LIMIT:  # the sources bound what they quote; this bounds what they say
            message = f"{message[:_MESSAGE_LIMIT]} ... ({len(message) - _MESSAGE_LIMIT:,} more characters)"
        sys.stderr.write(f"archit {args.command}: error: {message}\n")
        return EXIT_ERROR
    except BrokenPipeError:  # `archit plugins --json | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
