"""Source-code building blocks of declarations: a namespace of imports, a copy of a class's ``__init__`` as an
editable syntax tree, the statements in it that build a given child, and formatting.

Everything is built as :mod:`ast` nodes and written with :func:`ast.unparse` (through black when it is
installed), so no text from a model (module names, keys, strings) is ever pasted into code.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import importlib.util
import inspect
import keyword
import re
import sys
import textwrap
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


# -- a copy of __init__ ------------------------------------------------------------------------------------------
class InitCopy:
    """An editable copy of ``owner.__init__``: its syntax tree with ``super()`` pointing past ``owner`` and its
    global names bound in a :class:`Namespace`."""

    def __init__(self, owner: type, namespace: Namespace, owner_expr: ast.expr) -> None:
        function = inspect.unwrap(vars(owner)["__init__"])
        code = getattr(function, "__code__", None)
        if code is None:
            raise DeclarationError(f"{owner.__qualname__}.__init__ is not Python code")
        if set(code.co_freevars) - {"__class__"}:
            raise DeclarationError(f"{owner.__qualname__}.__init__ is a closure over {', '.join(code.co_freevars)}")
        try:
            raw = inspect.getsource(function)
        except (OSError, TypeError) as exc:
            raise DeclarationError(f"the source of {owner.__qualname__}.__init__ is not available ({exc})") from exc
        source = textwrap.dedent(raw)
        self._line_offset = code.co_firstlineno - 1
        self._col_offset = len(raw.splitlines()[0]) - len(source.splitlines()[0])
        self._filename = code.co_filename
        tree = ast.parse(source)
        node = tree.body[0]
        if not isinstance(node, ast.FunctionDef):
            raise DeclarationError(f"{owner.__qualname__}.__init__ is not a plain function definition")
        self.owner = owner
        self.function = function
        self.node = node
        self.self_name = node.args.args[0].arg if node.args.args else "self"
        self.globals = function.__globals__
        self._strip(node)
        package = getattr(sys.modules.get(function.__module__), "__package__", None)
        for sub in ast.walk(node):  # relative imports inside __init__ become absolute
            if isinstance(sub, ast.ImportFrom) and sub.level:
                sub.module = importlib.util.resolve_name("." * sub.level + (sub.module or ""), package)
                sub.level = 0
        for sub in ast.walk(node):
            for text in (getattr(sub, "attr", None), getattr(sub, "id", None)):
                if isinstance(text, str) and text.startswith("__") and not text.endswith("__"):
                    raise DeclarationError(f"{owner.__qualname__}.__init__ uses the private name {text}")
        self._bind_globals(namespace)
        for sub in ast.walk(node):  # super() -> super(Owner, self): the copy *is* Owner.__init__
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "super" and not sub.args:
                sub.args = [copy.deepcopy(owner_expr), name(self.self_name)]

    @staticmethod
    def _strip(node: ast.FunctionDef) -> None:
        """Drop the docstring and annotations (they may name things imported only for type checkers)."""
        node.returns = None
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]:
            if arg is not None:
                arg.annotation = None
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body.pop(0)
        for sub in ast.walk(node):
            for field in ("body", "orelse", "finalbody"):
                stmts = getattr(sub, field, None)
                if isinstance(stmts, list):
                    for i, stmt in enumerate(stmts):
                        if isinstance(stmt, ast.AnnAssign):
                            stmts[i] = ast.Assign([stmt.target], stmt.value, lineno=0) if stmt.value is not None else ast.Pass()
        if not node.body:
            node.body = [ast.Pass()]

    def _bind_globals(self, namespace: Namespace) -> None:
        local = {a.arg for a in ast.walk(self.node) if isinstance(a, ast.arg)}
        local |= {n.id for n in ast.walk(self.node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
        local |= {(a.asname or a.name).split(".")[0] for n in ast.walk(self.node) if isinstance(n, (ast.Import, ast.ImportFrom))
                  for a in n.names}
        renames: dict[str, str] = {}
        for n in ast.walk(self.node):
            if not isinstance(n, ast.Name) or not isinstance(n.ctx, ast.Load) or n.id in local or n.id in renames:
                continue
            if n.id in self.globals:
                renames[n.id] = namespace.global_of(self.function.__module__, n.id, self.globals[n.id])
            elif not hasattr(builtins, n.id):
                raise DeclarationError(f"{self.owner.__qualname__}.__init__ uses {n.id!r}, which is not a global of its module")
        for n in ast.walk(self.node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in renames:
                n.id = renames[n.id]
        self.renames = renames

    def resolve(self, expr: ast.expr) -> Any:
        """The object a name or dotted attribute in the original code stands for, or None."""
        parts: list[str] = []
        while isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        original = {v: k for k, v in self.renames.items()}.get(expr.id, expr.id)
        value = self.globals.get(original, getattr(builtins, original, None))
        for part in reversed(parts):
            value = getattr(value, part, None)
        return value

    def call_at(self, tree: ast.AST, site: tuple[Any, ...] | None) -> ast.Call | None:
        """The call in ``tree`` (part of this copy) at the recorded source position ``site``, if any."""
        if site is None or site[0] != self._filename:
            return None
        _, line, end_line, col, end_col = site
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not hasattr(node, "lineno"):
                continue
            if node.lineno + self._line_offset != line:
                continue
            if col is None or (node.end_lineno + self._line_offset == end_line and node.col_offset + self._col_offset == col
                               and node.end_col_offset + self._col_offset == end_col):
                return node
        return None

    # -- where a child is built --------------------------------------------------------------------------------
    def _is_self(self, expr: ast.expr) -> bool:
        return isinstance(expr, ast.Name) and expr.id == self.self_name

    def sites(self, child: str) -> list[tuple[ast.AST, str]]:
        """The places that assign child ``child``: ``(node, field)`` pairs whose ``field`` holds the value."""
        found: list[tuple[ast.AST, str]] = []
        for node in ast.walk(self.node):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Attribute) and self._is_self(target.value) and target.attr == child:
                    found.append((node, "value"))
            elif isinstance(node, ast.Call) and len(node.args) >= 2:
                func = node.func
                setter = isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) == 3 and self._is_self(node.args[0])
                adder = (isinstance(func, ast.Attribute) and self._is_self(func.value)
                         and func.attr in ("add_module", "register_module") and len(node.args) == 2)
                key = node.args[1] if setter else node.args[0] if adder else None
                if isinstance(key, ast.Constant) and key.value == child:
                    found.append((node, "args"))
        return found

    @staticmethod
    def value(site: tuple[ast.AST, str]) -> ast.expr:
        node, field = site
        return node.value if field == "value" else node.args[-1]  # type: ignore[attr-defined]

    @staticmethod
    def set_value(site: tuple[ast.AST, str], value: ast.expr) -> None:
        node, field = site
        if field == "value":
            node.value = value  # type: ignore[attr-defined]
        else:
            node.args[-1] = value  # type: ignore[attr-defined]

    def remove(self, child: str) -> bool:
        """Remove the statements assigning ``child``; False when there are none."""
        targets = {id(node) for node, _ in self.sites(child)}
        removed = False
        for holder in ast.walk(self.node):
            for field in ("body", "orelse", "finalbody"):
                stmts = getattr(holder, field, None)
                if not isinstance(stmts, list):
                    continue
                kept = [s for s in stmts if not (id(s) in targets or (isinstance(s, ast.Expr) and id(s.value) in targets))]
                if len(kept) != len(stmts):
                    removed = True
                    stmts[:] = kept or ([ast.Pass()] if field != "orelse" else [])
        return removed

    def insert(self, statements: list[ast.stmt], *, before_post_init: bool = True) -> None:
        """Add statements at the end of ``__init__`` (before a final ``self.post_init()`` when asked)."""
        body = self.node.body
        at = len(body)
        if before_post_init:
            for i in range(len(body) - 1, -1, -1):
                stmt = body[i]
                if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute)
                        and self._is_self(stmt.value.func.value) and stmt.value.func.attr == "post_init"):
                    at = i
                    break
        body[at:at] = statements

    def self_expr(self) -> ast.Name:
        return name(self.self_name)


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
