"""Source-code building blocks of declarations: identifiers, expression and statement nodes, a namespace of
imports, and formatting (the editable copy of an ``__init__`` is :mod:`.init_copy`).

Everything is built as :mod:`ast` nodes and written with :func:`ast.unparse` (through black when it is
installed), so no text from a model (module names, keys, strings) is ever pasted into code.
"""

from __future__ import annotations

import ast
import builtins
import copy
import keyword
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

from .._imports import resolve
from ..errors import DeclarationError

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def identifier(text: str) -> str:
    """``text`` made a valid Python identifier: other characters become ``_``, a leading digit or a keyword gets
    a ``_`` prefix."""
    name = re.sub(r"\W", "_", text, flags=re.ASCII) or "_"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "_" + name
    return name


def is_identifier(text: str) -> bool:
    return text.isidentifier() and text.isascii() and not keyword.iskeyword(text)


def name(text: str) -> ast.Name:
    return ast.Name(text, ast.Load())


def attribute(value: ast.expr, attr: str) -> ast.Attribute:
    return ast.Attribute(value, attr, ast.Load())


def call(func: ast.expr, args: list[ast.expr] | None = None, keywords: dict[str, ast.expr] | None = None) -> ast.Call:
    return ast.Call(func, list(args or []), [ast.keyword(k, v) for k, v in (keywords or {}).items()])


def set_attribute(target: ast.expr, child: str, value: ast.expr) -> ast.stmt:
    """``target.child = value`` (``setattr(target, "child", value)`` when ``child`` is no identifier)."""
    if is_identifier(child):
        return ast.Assign([ast.Attribute(target, child, ast.Store())], value, lineno=0)
    return ast.Expr(call(name("setattr"), [target, ast.Constant(child), value]))


def access(base: ast.expr, path: str) -> ast.expr:
    """The submodule at dotted ``path`` under ``base``: attributes, or ``base.get_submodule(path)`` when a part of it
    is no identifier."""
    if not path:
        return base
    if all(is_identifier(p) for p in path.split(".")):
        for part in path.split("."):
            base = attribute(base, part)
        return base
    return call(attribute(base, "get_submodule"), [ast.Constant(path)])


def split_path(path: str) -> tuple[str, str]:
    """``("a.b", "c")`` for ``"a.b.c"``: the parent's path and the child's name."""
    parent, _, child = path.rpartition(".")
    return parent, child


def _lookup(module_name: str, qualname: str) -> Any:
    return resolve(f"{module_name}:{qualname}")


class Namespace:
    """The names a generated module binds: its imports and its classes. Each object gets one local name; a name
    already taken by another object gets a numbered alias."""

    def __init__(self) -> None:
        self._objects: dict[str, Any] = {}  # local name -> object
        self._imports: dict[str, ast.stmt] = {}  # local name -> the statement binding it
        self._notes: list[str] = []

    @property
    def notes(self) -> list[str]:
        return self._notes

    def _free(self, preferred: str, obj: Any) -> tuple[str, bool]:
        """A local name for ``obj`` (preferring ``preferred``) and whether it is already bound to it."""
        base = identifier(preferred)
        candidate, n = base, 1
        while candidate in self._objects or hasattr(builtins, candidate):
            if candidate in self._objects and self._objects[candidate] is obj:
                return candidate, True
            n += 1
            candidate = f"{base}_{n}"
        return candidate, False

    def reserve(self, preferred: str, obj: Any) -> str:
        """Bind a new name (a generated class) and return it."""
        local, _ = self._free(preferred, obj)
        self._objects[local] = obj
        return local

    def _bind(self, local: str, obj: Any, statement: ast.stmt) -> str:
        self._objects[local] = obj
        self._imports[local] = statement
        return local

    def module(self, module: types.ModuleType, preferred: str | None = None) -> str:
        """The local name of an imported module (``from torch import nn``, ``import torch``)."""
        full = module.__name__
        if not _DOTTED.match(full):
            raise DeclarationError(f"the module {full!r} has no importable name")
        parent, _, last = full.rpartition(".")
        local, bound = self._free(preferred or last, module)
        if bound:
            return local
        if parent:
            statement: ast.stmt = ast.ImportFrom(parent, [ast.alias(last, None if local == last else local)], 0)
        else:
            statement = ast.Import([ast.alias(full, None if local == full else local)])
        return self._bind(local, module, statement)

    def global_of(self, home: str, global_name: str, obj: Any) -> str:
        """The local name of ``obj``, found as the global ``global_name`` of the module ``home``."""
        if isinstance(obj, types.ModuleType):
            return self.module(obj, global_name)
        origin = (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None))
        if origin[0] and origin[1] == global_name and _DOTTED.match(origin[0]) and _importable(origin[0], global_name, obj):
            home = origin[0]
        if not _DOTTED.match(home) or not is_identifier(global_name):
            raise DeclarationError(f"{global_name!r} of module {home!r} cannot be imported by name")
        local, bound = self._free(global_name, obj)
        if bound:
            return local
        return self._bind(local, obj, ast.ImportFrom(home, [ast.alias(global_name, None if local == global_name else local)], 0))

    def object(self, obj: Any) -> ast.expr:
        """An expression for a class or function, imported from the module that defines it."""
        module_name, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
        if not module_name or "<locals>" in qualname or not _DOTTED.match(module_name) or not _DOTTED.match(qualname):
            raise DeclarationError(
                f"{qualname or obj!r} (module {module_name!r}) cannot be imported by name, so the generated code cannot "
                "use it: define the class at the top level of an importable module"
            )
        if not _importable(module_name, qualname, obj):
            raise DeclarationError(
                f"{qualname} is not importable as {module_name}.{qualname} (the module does not hold that object); "
                "define the class at the top level of an importable module"
            )
        if module_name == "__main__":
            self._notes.append(f"{qualname} comes from __main__: the generated code imports it from the running script")
        top, _, rest = qualname.partition(".")
        expr: ast.expr = name(self.global_of(module_name, top, _lookup(module_name, top)))
        for part in rest.split(".") if rest else ():
            expr = attribute(expr, part)
        return expr

    def add_import(self, statement: ast.Import | ast.ImportFrom, who: str) -> None:
        """Bind the names of a plugin's import statement (importing it to learn what it binds)."""
        scratch: dict[str, Any] = {}
        try:
            exec(compile(ast.Module([statement], []), f"<import from {who}>", "exec"), scratch)  # noqa: S102
        except Exception as exc:
            raise DeclarationError(f"{who} gave the import {ast.unparse(statement)!r}, which fails: {type(exc).__name__}: {exc}") from exc
        for alias in statement.names:
            local = alias.asname or alias.name.split(".")[0]
            obj = scratch[local]
            if local in self._objects and self._objects[local] is not obj:
                raise DeclarationError(f"{who} imports {local!r}, a name the generated code already uses for another object")
            if local not in self._objects:
                self._bind(local, obj, ast.fix_missing_locations(copy.deepcopy(statement)) if len(statement.names) == 1 else
                           _single(statement, alias))

    def import_statements(self, used: set[str] | None = None) -> list[ast.stmt]:
        """The import statements binding the names in ``used`` (default: all): plain imports first, then one
        ``from`` statement per module, sorted."""
        plain: list[ast.stmt] = []
        froms: dict[str, list[ast.alias]] = {}
        for local, statement in self._imports.items():
            if used is not None and local not in used:
                continue
            if isinstance(statement, ast.Import):
                plain.append(statement)
            else:
                froms.setdefault(statement.module or "", []).extend(statement.names)
        plain.sort(key=ast.unparse)
        merged = [ast.ImportFrom(module, sorted(aliases, key=lambda a: (a.name, a.asname or "")), 0) for module, aliases in sorted(froms.items())]
        return [*plain, *merged]


def _single(statement: ast.Import | ast.ImportFrom, alias: ast.alias) -> ast.stmt:
    if isinstance(statement, ast.Import):
        return ast.Import([alias])
    return ast.ImportFrom(statement.module, [alias], statement.level)


def _importable(module_name: str, qualname: str, obj: Any) -> bool:
    try:
        return _lookup(module_name, qualname) is obj
    except Exception:  # not importable, whatever the reason
        return False


def comprehension_parts(value: ast.expr, container_check: Callable[[ast.expr], bool]) -> ast.ListComp | ast.GeneratorExp | None:
    """The single-loop comprehension inside ``Container([... for x in xs])`` or ``Container(*[...])``, if that is
    the shape of ``value``."""
    if not isinstance(value, ast.Call) or len(value.args) != 1 or value.keywords or not container_check(value.func):
        return None
    arg = value.args[0]
    if isinstance(arg, ast.Starred):
        arg = arg.value
    if isinstance(arg, (ast.ListComp, ast.GeneratorExp)) and len(arg.generators) == 1 and not arg.generators[0].ifs \
            and not arg.generators[0].is_async:
        return arg
    return None


def names_in(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id


def format_code(module: ast.Module) -> str:
    """Unparse, parse again (the code must be valid), and format with black when it is installed (else two blank
    lines around classes, as black would put them)."""
    parts: list[str] = []
    for i, statement in enumerate(module.body):
        text = ast.unparse(ast.fix_missing_locations(statement))
        if i == 0 and isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            doc = statement.value.value
            if isinstance(doc, str) and '"""' not in doc and "\\" not in doc and not doc.endswith('"'):
                text = f'"""{doc}\n"""'
        if i and (isinstance(statement, ast.ClassDef) or isinstance(module.body[i - 1], ast.ClassDef)):
            parts.append("\n\n")
        elif i and type(statement) is not type(module.body[i - 1]) and not isinstance(statement, (ast.Import, ast.ImportFrom)):
            parts.append("\n")
        elif i == 1:
            parts.append("\n")
        parts.append(text + "\n")
    text = "".join(parts)
    ast.parse(text)
    try:
        import black
    except ImportError:
        return text
    return black.format_str(text, mode=black.Mode(line_length=110))
