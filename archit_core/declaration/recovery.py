"""Constructor arguments recovered from a module and its class's ``__init__`` source (:func:`recover_call`).

A user's module rarely keeps its constructor arguments as attributes (``LowRankEmbedding(vocab_size, hidden_size,
rank=8)`` keeps only ``self.low = nn.Embedding(vocab_size, rank)``). Recovery reads ``__init__`` with :mod:`ast`
(following ``super().__init__(...)`` into user base classes), follows each parameter to where it lands (a child
module's constructor argument, a parameter or buffer shape, an attribute under any name, the length of an
``nn.Sequential``/``nn.ModuleList`` built in a loop or comprehension, simple arithmetic of those) and solves for the
values from the instance. Nothing is executed: the source is interpreted symbolically. The caller checks the result
by rebuilding the module (:func:`~archit_core.declaration.emitters.check_call`).
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import math
import operator
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

#: A constructor call as values: ``(class, positional args, keyword args)`` (as in :mod:`.emitters`).
Call = tuple[type, tuple[Any, ...], dict[str, Any]]

_UNKNOWN = "\x00"  # prefix of the names of unknown parameters in symbolic expressions
_LOOP = "\x01"  # prefix of loop variables
_OPAQUE = ast.Name("\x02", ast.Load())  # something archit cannot follow
_LIST = "\x04"  # prefix of a marker naming a list being built
_MARKERS = (_UNKNOWN, _LOOP, "\x02", _LIST)
_CONTAINERS = (nn.ModuleList, nn.Sequential)
_SHAPED = {torch.empty, torch.zeros, torch.ones, torch.randn, torch.rand}
_SAFE_CALLS = {int, float, bool, abs, max, min, round, len, math.ceil, math.floor, math.sqrt}
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_MAX_DEPTH = 8


class RecoveryError(Exception):
    """A constructor argument that recovery cannot solve: ``parameter`` (None when the whole ``__init__`` cannot be
    read) and ``why``."""

    def __init__(self, cls: type, parameter: str | None, why: str) -> None:
        self.cls, self.parameter, self.why = cls, parameter, why
        what = f"needs {parameter!r}, which {why}" if parameter else why
        super().__init__(f"{cls.__qualname__}.__init__ {what}")


class _Unknown(Exception):
    """An expression depends on something not known (yet)."""


class _Opaque(Exception):
    """An expression depends on something archit does not follow."""


# -- symbolic values ---------------------------------------------------------------------------------------------
class _List:
    """A list being built: ``parts`` are single element expressions or ``(count, var, elements)`` loops."""

    def __init__(self, cls: type | None = None) -> None:
        self.cls = cls
        self.parts: list[Any] = []


def _unknown_names(expr: ast.AST) -> set[str]:
    return {n.id[1:] for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id.startswith(_UNKNOWN)}


def _is_opaque(expr: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == _OPAQUE.id for n in ast.walk(expr))


def _plain(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str, type(None))):
        return True
    return isinstance(value, (tuple, list)) and all(_plain(v) for v in value)


def _evaluate(expr: ast.AST, values: Mapping[str, Any]) -> Any:
    """The value of a symbolic expression given the solved ``values``; raises :class:`_Unknown` / :class:`_Opaque`."""
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name):
        if expr.id.startswith(_UNKNOWN):
            if expr.id[1:] in values:
                return values[expr.id[1:]]
            raise _Unknown(expr.id[1:])
        raise _Opaque(expr.id)
    if isinstance(expr, (ast.Tuple, ast.List)):
        items = tuple(_evaluate(e, values) for e in expr.elts)
        return items if isinstance(expr, ast.Tuple) else list(items)
    if isinstance(expr, ast.BinOp) and type(expr.op) in _OPS:
        return _OPS[type(expr.op)](_evaluate(expr.left, values), _evaluate(expr.right, values))
    if isinstance(expr, ast.UnaryOp):
        operand = _evaluate(expr.operand, values)
        return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}.get(type(expr.op), _raise_opaque)(operand)
    if isinstance(expr, ast.BoolOp):
        results = [_evaluate(v, values) for v in expr.values]
        return all(results) if isinstance(expr.op, ast.And) else any(results)
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and type(expr.ops[0]) in _COMPARE:
        return _COMPARE[type(expr.ops[0])](_evaluate(expr.left, values), _evaluate(expr.comparators[0], values))
    if isinstance(expr, ast.IfExp):
        return _evaluate(expr.body if _evaluate(expr.test, values) else expr.orelse, values)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Constant) and expr.func.value in _SAFE_CALLS and not expr.keywords:
        return expr.func.value(*[_evaluate(a, values) for a in expr.args])
    raise _Opaque(ast.dump(expr)[:40])


def _raise_opaque(_: Any) -> Any:
    raise _Opaque("operator")


class _Substitute(ast.NodeTransformer):
    def __init__(self, mapping: Mapping[str, ast.expr]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return copy.deepcopy(self.mapping[node.id]) if node.id in self.mapping else node


def _substitute(expr: ast.expr, mapping: Mapping[str, ast.expr]) -> ast.expr:
    return _Substitute(mapping).visit(copy.deepcopy(expr))


# -- the solver --------------------------------------------------------------------------------------------------
class _Solver:
    """Equations ``expression == value`` over the unknown parameters, solved by substitution and inversion."""

    def __init__(self, known: Mapping[str, Any]) -> None:
        self.values: dict[str, Any] = dict(known)
        self.pending: list[tuple[ast.expr, Any]] = []
        self.reasons: dict[str, str] = {}
        self.conflicts: list[str] = []

    def reason(self, expr: ast.AST, why: str) -> None:
        for unknown in _unknown_names(expr):
            self.reasons.setdefault(unknown, why)

    def equation(self, expr: ast.expr, value: Any) -> None:
        if isinstance(expr, (ast.Tuple, ast.List)):
            if isinstance(value, (tuple, list, torch.Size)) and len(value) == len(expr.elts):
                for e, v in zip(expr.elts, value):
                    self.equation(e, v)
            elif len(expr.elts) == 1:
                self.equation(expr.elts[0], value)
            return
        if isinstance(value, (tuple, list)) and len(value) == 1 and not isinstance(expr, (ast.Tuple, ast.List)) \
                and not isinstance(expr, ast.Name):
            value = value[0]
        self.pending.append((expr, value))
        self.solve()

    def solve(self) -> None:
        progress = True
        while progress:
            progress = False
            for item in list(self.pending):
                expr, value = item
                unknowns = _unknown_names(expr) - set(self.values)
                if _is_opaque(expr):
                    self.pending.remove(item)
                    self.reason(expr, "only reaches the module through code archit does not follow")
                    continue
                if not unknowns:
                    self.pending.remove(item)
                    try:
                        seen = _evaluate(expr, self.values)
                    except (_Unknown, _Opaque, Exception):  # noqa: BLE001 - a foreign expression
                        continue
                    if seen != value:
                        self.conflicts.append(f"{ast.unparse(_named(expr))} is {seen!r} but the module has {value!r}")
                    continue
                if len(unknowns) == 1 and sum(1 for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id[1:] in unknowns) == 1:
                    self.pending.remove(item)
                    solved = self._invert(expr, value)
                    if solved is not None:
                        self.values[solved[0]] = solved[1]
                        progress = True

    def known(self, expr: ast.expr) -> tuple[bool, Any]:
        """``(True, value)`` when ``expr`` evaluates with the values solved so far, else ``(False, None)``."""
        try:
            return True, _evaluate(expr, self.values)
        except (_Unknown, _Opaque):
            return False, None
        except Exception:  # noqa: BLE001 - arithmetic on foreign values
            return False, None

    def _invert(self, expr: ast.expr, value: Any) -> tuple[str, Any] | None:
        if isinstance(expr, ast.Name):
            return expr.id[1:], value
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) and isinstance(value, (int, float)):
            return self._invert(expr.operand, -value)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not) and isinstance(value, bool):
            return self._invert(expr.operand, not value)
        if isinstance(expr, ast.Attribute):
            self.reason(expr, f"is read through its attributes ({ast.unparse(_named(expr))}): archit recovers values "
                              "(numbers, strings, flags), not objects")
            return None
        if isinstance(expr, ast.BinOp) and isinstance(value, (int, float)) and not isinstance(value, bool):
            left_known, left = self.known(expr.left)
            right_known, right = self.known(expr.right)
            if left_known == right_known or not isinstance(left if left_known else right, (int, float)):
                return None
            c, unknown = (left, expr.right) if left_known else (right, expr.left)
            op = type(expr.op)
            result: Any = None
            if op is ast.Add:
                result = value - c
            elif op is ast.Sub:
                result = value + c if right_known else c - value
            elif op is ast.Mult and c:
                result = value // c if isinstance(value, int) and isinstance(c, int) and value % c == 0 else \
                    (value / c if not (isinstance(value, int) and isinstance(c, int)) else None)
            elif op is ast.Div and right_known and c:
                result = value * c
                result = int(result) if isinstance(result, float) and result.is_integer() else result
            elif op is ast.FloorDiv and right_known and c == 1:
                result = value
            if result is None:
                self.reason(expr, f"appears only as {ast.unparse(_named(expr))}, which does not determine it")
                return None
            return self._invert(unknown, result)
        self.reason(expr, f"appears only in {ast.unparse(_named(expr))}, which archit cannot solve")
        return None


class _Named(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id.startswith((_UNKNOWN, _LOOP)):
            return ast.Name(node.id[1:], ast.Load())
        return ast.Name("<?>", ast.Load()) if node.id == _OPAQUE.id else node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if _plain(node.value):
            return node
        return ast.Name(getattr(node.value, "__name__", type(node.value).__name__), ast.Load())


def _named(expr: ast.AST) -> ast.AST:
    """An expression with the recovery's markers turned back into the source's names (for messages)."""
    return ast.fix_missing_locations(_Named().visit(copy.deepcopy(expr)))


# -- interpretation of __init__ ----------------------------------------------------------------------------------
def _function_tree(function: Any, cls: type) -> ast.FunctionDef:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise RecoveryError(cls, None, f"cannot be read (no source: {exc})") from exc
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise RecoveryError(cls, None, "is not a plain function definition")
    return node


def _init_owner(cls: type, after: type | None = None) -> type | None:
    mro = cls.__mro__
    start = mro.index(after) + 1 if after is not None else 0
    for klass in mro[start:]:
        if "__init__" in vars(klass):
            return None if klass in (nn.Module, object) or klass.__module__.startswith("torch.") else klass
    return None


class _Interpreter:
    """Walks the ``__init__`` of a module's class (and its user base classes) and hands the solver one equation per
    place a parameter lands in the instance."""

    def __init__(self, module: nn.Module, solver: _Solver, depth: int, recover: Callable[[nn.Module, int], Call | None]) -> None:
        self.module = module
        self.solver = solver
        self.depth = depth
        self.recover = recover
        self.self_lists: dict[str, _List] = {}
        self.lists: dict[str, _List] = {}

    # -- symbolic expressions of the source ------------------------------------------------------------------
    def symbolic(self, expr: ast.expr, env: Mapping[str, Any], globs: Mapping[str, Any]) -> Any:
        """``expr`` with locals replaced by their symbolic values, globals by constants, comprehension variables by
        loop markers; a local list stays a :class:`_List` (inside an expression, a marker naming it)."""
        if isinstance(expr, ast.Name) and isinstance(env.get(expr.id), _List):
            return env[expr.id]
        lists = self.lists
        bound: set[str] = set()

        class Resolve(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:
                if node.id.startswith(_MARKERS):
                    return node
                if node.id in bound:
                    return ast.Name(_LOOP + node.id, node.ctx)
                if node.id in env:
                    value = env[node.id]
                    if isinstance(value, _List):
                        lists[f"{_LIST}{id(value)}"] = value
                        return ast.Name(f"{_LIST}{id(value)}", ast.Load())
                    return copy.deepcopy(value) if isinstance(value, ast.AST) else _OPAQUE
                if node.id in globs:
                    return ast.Constant(globs[node.id])
                if hasattr(builtins, node.id):
                    return ast.Constant(getattr(builtins, node.id))
                return _OPAQUE

            def _comprehension(self, node: Any) -> ast.AST:
                for generator in node.generators:
                    generator.iter = self.visit(generator.iter)
                    bound.update(n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name))
                return self.generic_visit(node)

            visit_ListComp = visit_GeneratorExp = visit_SetComp = _comprehension

            def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
                if isinstance(node.value, ast.Name) and node.value.id == env.get("\x03self"):
                    value = env.get("\x03self." + node.attr)
                    return copy.deepcopy(value) if isinstance(value, ast.AST) else _OPAQUE
                node = self.generic_visit(node)
                if isinstance(node.value, ast.Constant) and not _plain(node.value.value):
                    try:
                        return ast.Constant(getattr(node.value.value, node.attr))
                    except AttributeError:
                        return _OPAQUE
                return node

            def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
                return _OPAQUE

        return Resolve().visit(copy.deepcopy(expr))

    def run(self, function: Any, cls: type, bindings: dict[str, ast.expr]) -> None:
        tree = _function_tree(function, cls)
        args = tree.args
        names = [a.arg for a in [*args.posonlyargs, *args.args]]
        env: dict[str, Any] = {"\x03self": names[0] if names else "self"}
        env.update(bindings)
        self.block(tree.body, env, function.__globals__, cls)

    def block(self, body: list[ast.stmt], env: dict[str, Any], globs: Mapping[str, Any], cls: type) -> None:
        for statement in body:
            self.statement(statement, env, globs, cls)

    def _self_key(self, target: ast.expr, env: Mapping[str, Any]) -> str | None:
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == env.get("\x03self"):
            return target.attr
        return None

    def statement(self, statement: ast.stmt, env: dict[str, Any], globs: Mapping[str, Any], cls: type) -> None:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                self.assign(target, statement.value, env, globs)
        elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            current = env.get(statement.target.id)
            value = self.symbolic(statement.value, env, globs)
            if isinstance(current, _List):
                self._extend(current, value)
            elif isinstance(current, ast.AST) and isinstance(value, ast.AST):
                env[statement.target.id] = ast.BinOp(current, statement.op, value)
            else:
                env[statement.target.id] = _OPAQUE
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            self.call_statement(statement.value, env, globs, cls)
        elif isinstance(statement, ast.If):
            self.branch(statement, env, globs, cls)
        elif isinstance(statement, ast.For):
            self.loop(statement, env, globs, cls)

    def assign(self, target: ast.expr, value_expr: ast.expr, env: dict[str, Any], globs: Mapping[str, Any]) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value_expr, (ast.Tuple, ast.List)) and len(value_expr.elts) == len(target.elts):
                for t, v in zip(target.elts, value_expr.elts):
                    self.assign(t, v, env, globs)
            else:
                for t in target.elts:
                    if isinstance(t, ast.Name):
                        env[t.id] = _OPAQUE
            return
        value = self.symbolic(value_expr, env, globs)
        if isinstance(value, ast.AST) and isinstance(value, ast.Call) and isinstance(value.func, ast.Constant) \
                and value.func.value is list and not value.args:
            value = _List()
        if isinstance(value, ast.List) and not value.elts:
            value = _List()
        if isinstance(target, ast.Name):
            env[target.id] = value
            return
        key = self._self_key(target, env)
        if key is None:
            return
        env["\x03self." + key] = value
        self.land(key, value)

    def land(self, key: str, value: Any) -> None:
        """An equation for each place the value assigned to ``self.<key>`` shows in the instance."""
        module = self.module
        if isinstance(value, _List):
            return
        if key in module._modules and module._modules[key] is not None:
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Constant) and value.func.value in _CONTAINERS \
                    and not value.args and not value.keywords:
                self.self_lists[key] = _List(value.func.value)
                return
            self.match_module(value, module._modules[key])
        elif key in module._parameters and module._parameters[key] is not None:
            self.match_tensor(value, module._parameters[key])
        elif key in module._buffers and module._buffers[key] is not None:
            self.match_tensor(value, module._buffers[key])
        elif key in vars(module):
            seen = vars(module)[key]
            if _plain(seen) or isinstance(seen, (int, float, str)):
                self.solver.equation(value, seen)

    def call_statement(self, node: ast.Call, env: dict[str, Any], globs: Mapping[str, Any], cls: type) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "__init__":  # super().__init__(...) / Base.__init__(self, ...)
            target = func.value
            explicit = None
            if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == "super":
                args = node.args
            else:
                explicit = self.symbolic(target, env, globs)
                args = node.args[1:]
            base = _init_owner(self.module.__class__, cls) if explicit is None else (
                explicit.value if isinstance(explicit, ast.Constant) and isinstance(explicit.value, type) else None)
            if base is None or base in (nn.Module, object) or base.__module__.startswith("torch."):
                return
            owner = _init_owner(base)
            if owner is None or self.depth > _MAX_DEPTH:
                return
            function = inspect.unwrap(vars(owner)["__init__"])
            signature = inspect.signature(function)
            sym_args = [self.symbolic(a, env, globs) for a in args if not isinstance(a, ast.Starred)]
            sym_kwargs = {k.arg: self.symbolic(k.value, env, globs) for k in node.keywords if k.arg is not None}
            try:
                bound = signature.bind_partial(None, *sym_args, **sym_kwargs)
            except TypeError:
                return
            bindings: dict[str, Any] = {}
            for pname, param in list(signature.parameters.items())[1:]:
                if pname in bound.arguments and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    bindings[pname] = bound.arguments[pname]
                elif param.default is not param.empty and _plain(param.default):
                    bindings[pname] = ast.Constant(param.default)
                else:
                    bindings[pname] = _OPAQUE
            sub = _Interpreter(self.module, self.solver, self.depth + 1, self.recover)
            sub.lists = self.lists
            sub.run(function, owner, bindings)
            self.self_lists.update(sub.self_lists)
            return
        if isinstance(func, ast.Attribute) and func.attr in ("append", "extend"):
            holder = env.get(func.value.id) if isinstance(func.value, ast.Name) else None
            key = self._self_key(func.value, env)
            if key is not None:
                holder = self.self_lists.get(key)
            if isinstance(holder, _List) and len(node.args) == 1:
                value = self.symbolic(node.args[0], env, globs)
                if func.attr == "append":
                    holder.parts.append(value)
                else:
                    self._extend(holder, value)
            return
        if isinstance(func, ast.Attribute) and func.attr in ("register_buffer", "register_parameter") and len(node.args) >= 2 \
                and self._self_key(ast.Attribute(func.value, "x", ast.Load()), env) is not None \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            key = node.args[0].value
            value = self.symbolic(node.args[1], env, globs)
            store = self.module._buffers if func.attr == "register_buffer" else self.module._parameters
            if isinstance(value, ast.AST) and store.get(key) is not None:
                self.match_tensor(value, store[key])

    @staticmethod
    def _extend(target: _List, value: Any) -> None:
        if isinstance(value, _List):
            target.parts.extend(value.parts)
        elif isinstance(value, (ast.List, ast.Tuple)):
            target.parts.extend(value.elts)
        else:
            target.parts.append(("opaque",))

    def branch(self, statement: ast.If, env: dict[str, Any], globs: Mapping[str, Any], cls: type) -> None:
        test = self.symbolic(statement.test, env, globs)
        if not isinstance(test, ast.AST):
            return
        known, value = self.solver.known(test)
        if not known:
            value = self._evidence(statement)
            if value is None:
                self.solver.reason(test, f"decides the branch `if {ast.unparse(_named(test))}:`, which archit cannot "
                                         "tell from the module")
                return
            if isinstance(test, ast.Name):
                self.solver.equation(test, value)
        self.block(statement.body if value else statement.orelse, env, globs, cls)

    def _evidence(self, statement: ast.If) -> bool | None:
        """Which branch built the instance, from the children/parameters/attributes only one branch assigns."""

        def assigned(body: list[ast.stmt]) -> set[str]:
            keys = set()
            for node in body:
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                        keys.add(sub.attr)
            return keys

        present = {k for k, v in {**self.module._modules, **self.module._parameters, **self.module._buffers}.items() if v is not None}
        present |= set(vars(self.module))
        body, orelse = assigned(statement.body), assigned(statement.orelse)
        if (body - orelse) & present:
            return True
        if (orelse - body) & present or ((body - orelse) and not statement.orelse and not (body & present)):
            return False
        return None

    def loop(self, statement: ast.For, env: dict[str, Any], globs: Mapping[str, Any], cls: type) -> None:
        count = self._range_count(statement.iter, env, globs)
        if count is None or statement.orelse:
            return
        var = statement.target.id if isinstance(statement.target, ast.Name) else None
        inner = dict(env)
        if var is not None:
            inner[var] = ast.Name(_LOOP + var, ast.Load())
        lists = {k: v for k, v in env.items() if isinstance(v, _List)} | {f"self.{k}": v for k, v in self.self_lists.items()}
        collected = {id(v): _List(v.cls) for v in lists.values()}
        for k, v in lists.items():
            if not k.startswith("self."):
                inner[k] = collected[id(v)]
        saved = dict(self.self_lists)
        self.self_lists = {k: collected[id(v)] for k, v in saved.items()}
        try:
            self.block(statement.body, inner, globs, cls)
        finally:
            self.self_lists = saved
        for v in lists.values():
            elements = collected[id(v)].parts
            if elements:
                v.parts.append((count, _LOOP + var if var else None, elements))

    def _range_count(self, iterator: ast.expr, env: Mapping[str, Any], globs: Mapping[str, Any]) -> ast.expr | None:
        it = self.symbolic(iterator, env, globs)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Constant) and it.func.value is range and not it.keywords:
            if len(it.args) == 1:
                return it.args[0]
            if len(it.args) == 2:
                start = it.args[0]
                if isinstance(start, ast.Constant) and start.value == 0:
                    return it.args[1]
        return None

    # -- matching a symbolic value with what the instance holds -----------------------------------------------
    def match_module(self, value: Any, child: nn.Module) -> None:
        if isinstance(value, ast.IfExp):
            for branch, taken in ((value.body, True), (value.orelse, False)):
                callee = branch.func.value if isinstance(branch, ast.Call) and isinstance(branch.func, ast.Constant) else None
                if callee is type(child):
                    if isinstance(value.test, ast.Name):
                        self.solver.equation(value.test, taken)
                    self.match_module(branch, child)
                    return
            return
        if not isinstance(value, ast.Call):
            if isinstance(value, ast.AST):
                self.solver.reason(value, f"reaches the child {type(child).__qualname__} through "
                                          f"{ast.unparse(_named(value))}, which archit does not follow")
            return
        callee = value.func.value if isinstance(value.func, ast.Constant) else None
        if not (isinstance(callee, type) and issubclass(callee, nn.Module)):
            what = getattr(callee, "__qualname__", None) or ast.unparse(_named(value.func))
            for arg in [*value.args, *(k.value for k in value.keywords)]:
                self.solver.reason(arg, f"is only passed to {what}(), a function archit does not follow")
            return
        if type(child) is not callee:
            return
        if callee in _CONTAINERS:
            self.match_container(value, child)
            return
        if any(isinstance(a, ast.Starred) for a in value.args) or any(k.arg is None for k in value.keywords):
            return
        found = self.recover(child, self.depth + 1)
        if found is None:
            for arg in [*value.args, *(k.value for k in value.keywords)]:
                self.solver.reason(arg, f"is passed to a {callee.__qualname__}, whose own arguments archit cannot recover")
            return
        _, args, kwargs = found
        try:
            signature = inspect.signature(callee)
            actual = signature.bind(*args, **kwargs)
            actual.apply_defaults()
            symbolic = signature.bind(*value.args, **{k.arg: k.value for k in value.keywords})
        except (TypeError, ValueError):
            return
        for pname, sym in symbolic.arguments.items():
            param = signature.parameters[pname]
            seen = actual.arguments.get(pname)
            if param.kind is param.VAR_POSITIONAL:
                for s, v in zip(sym, seen or ()):
                    self.solver.equation(s, v)
            elif param.kind is param.VAR_KEYWORD:
                for k, s in sym.items():
                    if k in (seen or {}):
                        self.solver.equation(s, seen[k])
            elif isinstance(sym, ast.AST):
                self.solver.equation(sym, seen)

    def match_container(self, value: ast.Call, child: nn.Module) -> None:
        parts: list[Any] = []
        for arg in value.args:
            if isinstance(arg, ast.Starred):
                parts += self._parts(arg.value)
            elif isinstance(child, nn.ModuleList):
                parts += self._parts(arg)
            else:
                parts.append(arg)
        self.match_parts(parts, list(child._modules.values()))

    def _parts(self, value: Any) -> list[Any]:
        if isinstance(value, ast.Name) and value.id in self.lists:
            value = self.lists[value.id]
        if isinstance(value, _List):
            return list(value.parts)
        if isinstance(value, (ast.List, ast.Tuple)):
            return list(value.elts)
        if isinstance(value, (ast.ListComp, ast.GeneratorExp)) and len(value.generators) == 1 and not value.generators[0].ifs:
            generator = value.generators[0]
            count = self._range_count(generator.iter, {}, {}) if isinstance(generator.iter, ast.Call) else None
            if count is not None:
                var = generator.target.id if isinstance(generator.target, ast.Name) else None
                return [(count, var, [value.elt])]
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
            return self._parts(value.left) + self._parts(value.right)
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult) and isinstance(value.left, ast.List):
            return [(value.right, None, list(value.left.elts))]
        return [("opaque",)]

    def match_parts(self, parts: list[Any], children: list[nn.Module]) -> None:
        loops = [p for p in parts if isinstance(p, tuple) and len(p) == 3]
        if any(isinstance(p, tuple) and len(p) == 1 for p in parts) or len(loops) > 1:
            return
        fixed = len(parts) - len(loops)
        iterations = 0
        if loops:
            count, _, elements = loops[0]
            rest = len(children) - fixed
            if rest < 0 or rest % len(elements):
                return
            iterations = rest // len(elements)
            self.solver.equation(count, iterations)
        position = 0
        for part in parts:
            if isinstance(part, tuple):
                _, var, elements = part
                for k in range(iterations):
                    for element in elements:
                        if position >= len(children):
                            return
                        expr = _substitute(element, {var: ast.Constant(k)}) if var else element
                        self.match_module(expr, children[position])
                        position += 1
            else:
                if position >= len(children):
                    return
                self.match_module(part, children[position])
                position += 1

    def match_tensor(self, value: Any, tensor: torch.Tensor) -> None:
        shape = tuple(tensor.shape)
        for _ in range(6):
            if isinstance(value, ast.BinOp):
                value = value.left if isinstance(value.left, ast.Call) else value.right
                continue
            if not isinstance(value, ast.Call):
                return
            func = value.func.value if isinstance(value.func, ast.Constant) else None
            if func in (nn.Parameter, getattr(nn, "Buffer", None)) and value.args:
                value = value.args[0]
            elif func is not None and getattr(func, "__module__", "").startswith("torch.nn.init") and value.args:
                value = value.args[0]
            elif isinstance(value.func, ast.Attribute) and value.func.attr.endswith("_"):  # x.fill_(...), x.normal_()
                value = value.func.value
            else:
                break
        if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Constant):
            return
        func = value.func.value
        args = [a for a in value.args if not isinstance(a, ast.Starred)]
        if func in _SHAPED or func is torch.full or func is torch.Tensor:
            dims = args[:1] if func is torch.full else args
            if len(dims) == 1 and isinstance(dims[0], (ast.Tuple, ast.List)):
                dims = dims[0].elts
            if len(dims) == len(shape):
                for d, n in zip(dims, shape):
                    self.solver.equation(d, n)
        elif func is torch.arange and len(args) == 1 and len(shape) == 1:
            self.solver.equation(args[0], shape[0])
        elif func is torch.eye and len(args) == 1 and len(shape) == 2:
            self.solver.equation(args[0], shape[0])


# -- the entry point ---------------------------------------------------------------------------------------------
def recover_call(module: nn.Module, can_write: Callable[[Any], bool], given: Mapping[str, Any] | None = None,
                 *, depth: int = 0) -> Call:
    """The call ``type(module)(...)`` that built ``module``, its arguments solved from the instance through the
    class's ``__init__`` source; ``given`` fixes some of them. Required parameters are positional, others keywords
    (left out when equal to their default). Raises :class:`RecoveryError` naming a parameter it cannot solve."""
    from .emitters import native_call

    cls = type(module)
    owner = _init_owner(cls)
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError) as exc:
        raise RecoveryError(cls, None, f"has no signature archit can read ({exc})") from exc
    given = dict(given or {})
    unknown_given = sorted(set(given) - set(signature.parameters))
    if unknown_given:
        raise RecoveryError(cls, unknown_given[0], f"is not a parameter (it has {', '.join(signature.parameters) or 'none'})")
    solver = _Solver(given)

    def recover_child(child: nn.Module, level: int) -> Call | None:
        found = native_call(child)
        if found is not None:
            return found
        if level > _MAX_DEPTH:
            return None
        try:
            return recover_call(child, lambda v: True, depth=level)
        except RecoveryError:
            return None

    if owner is not None:
        function = inspect.unwrap(vars(owner)["__init__"])
        names = list(inspect.signature(function).parameters)[1:]
        interpreter = _Interpreter(module, solver, depth, recover_child)
        try:
            interpreter.run(function, owner, {n: ast.Name(_UNKNOWN + n, ast.Load()) for n in names})
            for key, built in interpreter.self_lists.items():
                child = module._modules.get(key)
                if child is not None:
                    interpreter.match_parts(built.parts, list(child._modules.values()))
            solver.solve()
        except RecoveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - source archit does not understand: a clear refusal, not a crash
            raise RecoveryError(cls, None, f"could not be followed ({type(exc).__name__}: {exc})") from exc
        for expr, value in solver.pending:
            solver.reason(expr, f"appears only in {ast.unparse(_named(expr))} == {value!r}, which does not determine it")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if pname in solver.values:
            value = solver.values[pname]
        elif param.default is not param.empty:
            continue
        else:
            why = solver.reasons.get(pname) or ("cannot be recovered: it reaches no submodule, parameter shape or "
                                                "attribute of the module that archit can see")
            if owner is None:
                why = "cannot be recovered: the class's __init__ is torch's or not Python code archit can read"
            raise RecoveryError(cls, pname, why)
        if param.default is not param.empty and type(value) is type(param.default) and _equal(value, param.default):
            continue
        if not can_write(value):
            raise RecoveryError(cls, pname, f"is {value!r}, a {type(value).__qualname__} value that cannot be written as code")
        if param.kind is param.POSITIONAL_ONLY or (param.kind is param.POSITIONAL_OR_KEYWORD and param.default is param.empty
                                                   and not kwargs):
            args.append(value)
        else:
            kwargs[pname] = value
    return cls, tuple(args), kwargs


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a foreign __eq__
        return False
