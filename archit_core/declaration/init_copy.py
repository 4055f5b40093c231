"""An editable copy of a class's ``__init__`` (:class:`InitCopy`): its syntax tree, the statements in it that build a
given child, and the edits a declaration makes there (new values, removals, statements before ``post_init``)."""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import importlib.util
import inspect
import sys
import textwrap
from typing import Any

from ..errors import DeclarationError
from .codegen import Namespace, name


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
