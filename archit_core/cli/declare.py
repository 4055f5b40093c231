"""``archit declare`` and the printing of declarations: call a factory that returns a modified model, and print (or
write) the class code :func:`archit_core.declare` gives for it, with its notes and, on request, the verification."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from .._imports import resolve
from ..declaration.declare import Declaration, declare
from ..errors import DeclarationError
from ..registry.host import PluginHost


def print_difference(instance: nn.Module, reference_class: type | str | None = None, **options: Any) -> Declaration:
    """Print the class code :func:`~archit_core.declare` writes for ``instance`` (and return the :class:`~archit_core.Declaration`)."""
    declaration = declare(instance, reference_class, **options)
    print(declaration.code, end="")
    for note in declaration.notes:
        print(f"# note: {note}")
    return declaration


def _import_reference(text: str, what: str) -> Any:
    """The object a ``module:attribute`` string names (the current folder importable, as with ``python -m``)."""
    if ":" not in text:
        raise DeclarationError(f"{what} {text!r} must be 'package.module:name'")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return resolve(text)
    except (ImportError, AttributeError, ValueError) as exc:
        raise DeclarationError(f"cannot import {what} {text!r}: {type(exc).__name__}: {exc}") from exc


def declare_command(factory: str, *, reference: str | None = None, output: str | None = None, verify: bool = False,
                    out: Any = None, err: Any = None, host: PluginHost | None = None,
                    arguments: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    """``archit declare``: call ``factory`` (``module:function``, returning the modified model), declare it and
    print the code (or write it to ``output``); with ``verify``, verify it and print the report to ``err``.
    ``arguments`` are the constructor arguments by module path that recovery cannot find (see
    :func:`archit_core.declare`)."""
    out = out or sys.stdout
    err = err or sys.stderr
    make = _import_reference(factory, "the factory")
    if not callable(make):
        raise DeclarationError(f"{factory!r} is a {type(make).__name__}, not a function returning the modified model")
    try:
        model = make()
    except Exception as exc:
        raise DeclarationError(f"the factory {factory!r} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise DeclarationError(f"the factory {factory!r} returned a {type(model).__qualname__}, not an nn.Module")
    ref = _import_reference(reference, "the reference class") if reference else None
    declaration = declare(model, ref, host=host, arguments=arguments)
    if output:
        declaration.write(output)
        out.write(f"wrote {', '.join(declaration.classes) or 'no classes (no difference)'} to {output}\n")
    else:
        out.write(declaration.code)
    for note in declaration.notes:
        err.write(f"note: {note}\n")
    if verify:
        err.write(f"{declaration.verify()}\n")
    return 0
