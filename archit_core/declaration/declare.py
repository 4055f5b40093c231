"""Declaration: the class code for a model that was modified in place.

``declare(model)`` compares the model with a fresh build of its class from its own config (on the meta device) and
writes one new class per modified level, each inheriting ``forward`` from the class it replaces. A new class's
``__init__`` is a copy of the original's, edited where a child changed, so unchanged children are built exactly as
the original builds them and no module is built twice. Constructor expressions come from the owning plugin's
``declare_module`` hook, then the ``torch.nn`` emitters, then checked signature inference (:mod:`.emitters`).
"""

from __future__ import annotations

import ast
import copy
import hashlib
import inspect
import linecache
import os
import tempfile
import sys
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from . import codegen
from .codegen import InitCopy, Namespace, attribute, call, name
from .emitters import CONTAINERS, Call, InferenceError, check_call, infer_call, is_literal, literal, native_call
from ..errors import ArchitPluginWarning, DeclarationError, DeclarationWarning
from ..registry.host import PluginHost, get_host, using
from .diff import (
    ADDED, DELETED, MODIFIED, NONE, REPLACED, SAME, SHARED, Diff, _init_owner, build_reference, compare, structure_difference, tied_groups,
)

DEFAULT_SUFFIX = "Modified"


@attrs.frozen
class ModuleCode:
    """What a plugin's ``declare_module`` returns: a constructor expression and the imports it needs, e.g.
    ``ModuleCode("Adapter(config.hidden_size, 8)", ("from my_plugin.modules import Adapter",))``."""

    expression: str
    imports: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class DeclarationContext:
    """What ``declare_module(module, context)`` receives besides the module.

    ``path`` is the module's dotted path in the model; ``reference`` the module a fresh build has there (None for an
    added one); ``scope`` the names the expression can use (the parameters of the ``__init__`` it goes into, e.g.
    ``config``) and their values. :meth:`expression` writes a value safely: a plain literal or a name in scope.
    """

    path: str
    reference: Any
    scope: Mapping[str, Any]
    host: Any = None

    @property
    def config(self) -> Any:
        """The value of ``config`` where the expression goes, or None."""
        return self.scope.get("config")

    def expression(self, value: Any) -> str:
        """Source text for ``value``: a literal (None, bool, int, float, str, tuples/lists of them) or a name in
        :attr:`scope` (or one attribute of one); raises :class:`DeclarationError` for anything else."""
        return ast.unparse(_render(value, self.scope, None))


def _render(value: Any, scope: Mapping[str, Any], namespace: Namespace | None) -> ast.expr:
    if is_literal(value):
        return literal(value)
    if isinstance(value, torch.dtype) and namespace is not None:
        dtype = str(value).rpartition(".")[2]
        if getattr(torch, dtype, None) is value:
            return attribute(name(namespace.module(torch)), dtype)
    for key, known in scope.items():
        if known is value:
            return name(key)
    for key, known in scope.items():
        for attr, sub in getattr(known, "__dict__", {}).items():
            if sub is value and codegen.is_identifier(attr) and not is_literal(sub):
                return attribute(name(key), attr)
    raise DeclarationError(f"a {type(value).__qualname__} value cannot be written as code here (names in scope: {', '.join(scope) or 'none'})")


def _writable(value: Any, scope: Mapping[str, Any]) -> bool:
    try:
        _render(value, scope, None)
    except DeclarationError:
        return isinstance(value, torch.dtype)
    return True


def _statement_set(target: ast.expr, child: str, value: ast.expr) -> ast.stmt:
    if codegen.is_identifier(child):
        return ast.Assign([ast.Attribute(target, child, ast.Store())], value, lineno=0)
    return ast.Expr(call(name("setattr"), [target, ast.Constant(child), value]))


def _access(base: ast.expr, path: str) -> ast.expr:
    if not path:
        return base
    if all(codegen.is_identifier(p) for p in path.split(".")):
        for part in path.split("."):
            base = attribute(base, part)
        return base
    return call(attribute(base, "get_submodule"), [ast.Constant(path)])


def _parent(path: str) -> tuple[str, str]:
    parent, _, child = path.rpartition(".")
    return parent, child


class _Generator:
    """Writes the classes for one comparison tree."""

    def __init__(self, records: dict[int, Any], host: PluginHost, suffix: str, ties: dict[str, dict[str, str]]) -> None:
        self.records = records
        self.host = host
        self.suffix = suffix
        self.ties = ties
        self.ns = Namespace()
        self.classes: list[ast.ClassDef] = []
        self.class_names: list[str] = []
        self._declared: dict[int, str] = {}
        self._by_content: dict[str, str] = {}
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.top_statements: list[ast.stmt] = []

    # -- values and calls --------------------------------------------------------------------------------------
    def scope_of(self, node: Diff) -> dict[str, Any]:
        record = self.records.get(id(node.reference))
        return dict(record.arguments) if record is not None else {}

    def render_call(self, callee: ast.expr, values: Call, scope: Mapping[str, Any]) -> ast.Call:
        _, args, kwargs = values
        return call(callee, [_render(v, scope, self.ns) for v in args], {k: _render(v, scope, self.ns) for k, v in kwargs.items()})

    def class_expr(self, cls: type) -> ast.expr:
        if getattr(nn, cls.__name__, None) is cls:
            return attribute(name(self.ns.module(nn)), cls.__name__)
        return self.ns.object(cls)

    def recorded_call(self, callee: ast.expr, node: Diff, scope: Mapping[str, Any]) -> ast.Call:
        """The call that built ``node``'s reference module, with another callee."""
        record = self.records.get(id(node.reference))
        if record is None:
            raise DeclarationError(f"{node.path}: archit did not see how {type(node.reference).__qualname__} was built")
        params = inspect.signature(record.function).parameters
        args: list[ast.expr] = []
        keywords: dict[str, ast.expr] = {}
        try:
            for key, value in record.arguments.items():
                param = params[key]
                if param.kind is param.VAR_POSITIONAL:
                    args.extend(_render(v, scope, self.ns) for v in value)
                elif param.kind is param.VAR_KEYWORD:
                    keywords.update({k: _render(v, scope, self.ns) for k, v in value.items()})
                elif param.kind is param.POSITIONAL_ONLY:
                    args.append(_render(value, scope, self.ns))
                elif not (param.default is not param.empty and is_literal(value) and type(value) is type(param.default)
                          and value == param.default):
                    keywords[key] = _render(value, scope, self.ns)
        except DeclarationError as exc:
            raise DeclarationError(f"{node.path or '(top)'}: the arguments of {type(node.reference).__qualname__} cannot be written: {exc}") from exc
        return call(callee, args, keywords)

    # -- constructors of modules without a reference -----------------------------------------------------------
    def plugin_code(self, module: nn.Module, path: str, reference: Any, scope: Mapping[str, Any]) -> ast.expr | None:
        context = DeclarationContext(path, reference, dict(scope), self.host)
        hook = self.host.hook.declare_module
        for impl in reversed(hook.get_hookimpls()):
            try:
                result = impl.function(*[{"module": module, "context": context}[a] for a in impl.argnames])
            except Exception as exc:
                message = f"declare_module of plugin {impl.plugin_name!r} raised {type(exc).__name__}: {exc} (module {path})"
                if self.host.strict:
                    raise DeclarationError(message) from exc
                warnings.warn(message + "; the other ways of declaring it are tried", ArchitPluginWarning, stacklevel=4)
                continue
            if result is None:
                continue
            return self._plugin_expression(result, f"declare_module of plugin {impl.plugin_name!r}", path)
        return None

    def _plugin_expression(self, result: Any, who: str, path: str) -> ast.expr:
        if not isinstance(result, ModuleCode):
            raise DeclarationError(f"{who} returned a {type(result).__name__} for {path}; return archit_core.ModuleCode(expression, imports) or None")
        try:
            expression = ast.parse(result.expression, mode="eval").body
        except SyntaxError as exc:
            raise DeclarationError(f"{who} returned the expression {result.expression!r} for {path}, which is not valid Python: {exc}") from exc
        for line in result.imports:
            try:
                statements = ast.parse(line).body
            except SyntaxError as exc:
                raise DeclarationError(f"{who} returned the import {line!r}, which is not valid Python: {exc}") from exc
            if len(statements) != 1 or not isinstance(statements[0], (ast.Import, ast.ImportFrom)) or getattr(statements[0], "level", 0):
                raise DeclarationError(f"{who} returned {line!r} as an import; give one absolute import statement per entry")
            self.ns.add_import(statements[0], who)
        return expression

    def construct(self, module: nn.Module, path: str, scope: Mapping[str, Any], reference: Any = None) -> ast.expr:
        """A constructor expression for ``module``: plugin hook, torch.nn emitter, container, checked inference."""
        expression = self.plugin_code(module, path, reference, scope)
        if expression is not None:
            return expression
        values = native_call(module)
        how = "the torch.nn emitter"
        if values is None and type(module) in CONTAINERS:
            return self.container(module, path, scope, None)
        if values is None:
            how = "signature inference"
            try:
                values = infer_call(module, lambda v: _writable(v, scope))
            except InferenceError as exc:
                raise self._undeclarable(module, path, str(exc)) from exc
        problem = check_call(values, module)
        if problem is not None:
            raise self._undeclarable(module, path, f"the call found by {how} does not rebuild it: {problem}")
        return self.render_call(self.class_expr(type(module)), values, scope)

    @staticmethod
    def _undeclarable(module: nn.Module, path: str, why: str) -> DeclarationError:
        cls = type(module)
        return DeclarationError(
            f"cannot declare {path or '(top)'} ({cls.__module__}.{cls.__qualname__}): {why}. Implement the hook "
            "declare_module(module, context) for this class in a plugin (it returns archit_core.ModuleCode), or give "
            f"{cls.__qualname__}.__init__ parameters that the module stores as attributes of the same names"
        )

    # -- containers --------------------------------------------------------------------------------------------
    def container(self, module: nn.Module, path: str, scope: Mapping[str, Any], node: Diff | None) -> ast.expr:
        """``nn.ModuleList([...])``, ``nn.Sequential(...)`` or ``nn.ModuleDict({...})`` written element by element."""
        elements: list[tuple[str, ast.expr]] = []
        for key, child in module._modules.items():
            sub = f"{path}.{key}" if path else key
            if child is None:
                raise DeclarationError(f"{sub}: a container element is None, which no torch.nn container can be built with")
            if node is not None and key in node.children:
                element = node.children[key]
                if element.kind == SHARED:  # built as the original, then shared by the top class
                    element = Diff(element.path, SAME, element.reference, element.reference)
                elements.append((key, self.expression(element, scope)))
            else:
                elements.append((key, self.construct(child, sub, scope)))
        callee = attribute(name(self.ns.module(nn)), type(module).__name__)
        values = [e for _, e in elements]
        if isinstance(module, nn.ModuleList):
            return call(callee, [ast.List(values, ast.Load())])
        if isinstance(module, nn.ModuleDict):
            return call(callee, [ast.Dict([ast.Constant(k) for k, _ in elements], values)])
        if [k for k, _ in elements] == [str(i) for i in range(len(elements))]:
            return call(callee, values)
        import collections

        pairs = ast.List([ast.Tuple([ast.Constant(k), e], ast.Load()) for k, e in elements], ast.Load())
        return call(callee, [call(self.ns.object(collections.OrderedDict), [pairs])])

    def _comprehension(self, node: Diff, site_value: ast.expr, source: InitCopy, scope: Mapping[str, Any]) -> ast.expr | None:
        """``Container([elt for x in xs])`` with the changed elements chosen by index, or None if not that shape."""
        cls = type(node.module)
        if cls is nn.ModuleDict or list(node.module._modules) != list(node.reference._modules):
            return None
        if any(c.kind not in (SAME, REPLACED, MODIFIED, SHARED) for c in node.children.values()):
            return None
        value = copy.deepcopy(site_value)
        comp = codegen.comprehension_parts(value, lambda f: source.resolve(f) is cls)
        if comp is None:
            return None
        taken = set(codegen.names_in(value)) | set(scope)
        index = next(f"_index{n or ''}" for n in range(1000) if f"_index{n or ''}" not in taken)
        variants: dict[str, tuple[ast.expr, list[int]]] = {}
        for position, child in enumerate(node.children.values()):
            if not child.changed or child.kind == SHARED:  # a shared element is built as before, then shared
                continue
            expr = self.expression(child, scope, comp.elt, source)
            variants.setdefault(ast.dump(expr), (expr, []))[1].append(position)
        elt = comp.elt
        for expr, positions in variants.values():
            if len(positions) == 1:
                test = ast.Compare(name(index), [ast.Eq()], [ast.Constant(positions[0])])
            else:
                test = ast.Compare(name(index), [ast.In()], [ast.Tuple([ast.Constant(p) for p in positions], ast.Load())])
            elt = ast.IfExp(test, expr, elt)
        generator = comp.generators[0]
        generator.target = ast.Tuple([ast.Name(index, ast.Store()), generator.target], ast.Store())
        generator.iter = call(name("enumerate"), [generator.iter])
        comp.elt = elt
        return value

    # -- one place ---------------------------------------------------------------------------------------------
    def expression(self, node: Diff, scope: Mapping[str, Any], site_value: ast.expr | None = None,
                   source: InitCopy | None = None) -> ast.expr:
        """The expression building what the instance holds at ``node`` (inside the parent's ``__init__``)."""
        module = node.module
        if node.kind in (REPLACED, ADDED):
            return self.construct(module, node.path, scope, node.reference)
        if node.kind == SHARED:
            raise DeclarationError(f"{node.path}: the same module as {node.source} inside a container is not supported")
        if type(module) in CONTAINERS:
            if node.kind == MODIFIED and site_value is not None and source is not None:
                rewritten = self._comprehension(node, site_value, source, scope)
                if rewritten is not None:
                    return rewritten
            return self.container(module, node.path, scope, node)
        if node.kind == SAME:
            values = native_call(module)
            if values is not None:
                return self.render_call(self.class_expr(type(module)), values, scope)
            return self.recorded_call(self.class_expr(type(module)), node, scope)
        cls_name = self.declare_class(node)
        if site_value is not None and source is not None:
            record = self.records.get(id(node.reference))
            swapped = copy.deepcopy(site_value)
            target = source.call_at(swapped, record.site if record is not None else None)
            if target is None and isinstance(swapped, ast.Call) and source.resolve(swapped.func) is type(module):
                target = swapped
            if target is not None:  # the very call that built the original: same arguments, new class
                target.func = name(cls_name)
                return swapped
        return self.recorded_call(name(cls_name), node, scope)

    # -- one class ---------------------------------------------------------------------------------------------
    def declare_class(self, node: Diff) -> str:
        """The name of the new class for the modified level ``node`` (written on first use)."""
        if id(node) in self._declared:
            return self._declared[id(node)]
        cls = type(node.module)
        owner = _init_owner(cls)
        base = self.class_expr(cls)
        try:
            if owner is None:
                raise DeclarationError(f"{cls.__qualname__} defines no __init__")
            source = InitCopy(owner, self.ns, self.class_expr(owner))
        except DeclarationError as exc:
            source = None
            reason = str(exc)
        scope = self.scope_of(node)
        if source is not None:
            function = self._edit(node, source, scope)
        else:
            function = self._replacing_init(node, scope, reason)
        body: list[ast.stmt] = [ast.Expr(ast.Constant(self._docstring(node)))]
        if node.path in self.ties:
            mapping = self.ties[node.path]
            body.append(ast.Assign([ast.Name("_tied_weights_keys", ast.Store())],
                                   ast.Dict([ast.Constant(k) for k in mapping], [ast.Constant(v) for v in mapping.values()]), lineno=0))
        body.append(function)
        key = ast.dump(ast.Module([*body[1:]], [])) + ast.dump(base)
        if key in self._by_content:
            self._declared[id(node)] = self._by_content[key]
            return self._by_content[key]
        class_name = self.ns.reserve(codegen.identifier(cls.__name__) + self.suffix, object())
        self.classes.append(ast.ClassDef(class_name, [base], [], body, []))
        self.class_names.append(class_name)
        self._by_content[key] = class_name
        self._declared[id(node)] = class_name
        return class_name

    @staticmethod
    def _docstring(node: Diff) -> str:
        cls = type(node.module).__qualname__
        changes = [f"{c.path.rpartition('.')[2]} {c.kind}" for c in node.children.values() if c.changed]
        if node.added_state:
            changes.append(f"own {', '.join(node.added_state)} added")
        return f"{cls} with {'; '.join(changes) or 'other tied weights'} (declared by archit)."

    def _edit(self, node: Diff, source: InitCopy, scope: Mapping[str, Any]) -> ast.FunctionDef:
        me = source.self_expr()
        appended: list[ast.stmt] = []
        for key, child in node.children.items():
            if not child.changed:
                continue
            sites = source.sites(key)
            if child.kind == DELETED:
                if not source.remove(key):
                    appended.append(ast.Delete([_access(me, key)]) if codegen.is_identifier(key) else
                                    ast.Expr(call(name("delattr"), [me, ast.Constant(key)])))
                self.warnings.append(f"{child.path} was deleted: {type(node.module).__qualname__}.forward likely uses it and needs rewriting")
                continue
            if child.kind == NONE:
                value_of: Any = lambda site: ast.Constant(None)  # noqa: E731
                self.warnings.append(f"{child.path} was set to None: {type(node.module).__qualname__}.forward likely uses it and needs rewriting")
            elif child.kind == SHARED:
                parent, source_key = _parent(child.source or "")
                if parent != node.path:
                    continue  # shared across levels: the top class shares it (see declare)
                value_of = lambda site, k=source_key: _access(me, k) if codegen.is_identifier(k) else call(  # noqa: E731
                    name("getattr"), [me, ast.Constant(k)])
            else:
                value_of = lambda site, c=child: self.expression(  # noqa: E731
                    c, scope, source.value(site) if site is not None else None, source)
            if sites:
                for site in sites:
                    source.set_value(site, value_of(site))
            else:
                appended.append(_statement_set(me, key, value_of(None)))
                if child.kind in (REPLACED, MODIFIED):
                    self.notes.append(f"{child.path}: {type(node.module).__qualname__}.__init__ builds it in a way archit "
                                      "cannot edit, so the generated class builds the original and then replaces it")
        appended += self._own_state(node, me)
        if not node.path and self.top_statements:
            source.insert(appended)
            source.insert(self.top_statements, before_post_init=False)
        else:
            source.insert(appended)
        return source.node

    def _own_state(self, node: Diff, me: ast.expr) -> list[ast.stmt]:
        statements: list[ast.stmt] = []
        torch_name = name(self.ns.module(torch)) if node.added_state else None
        for key, (kind, shape, persistent) in node.added_state.items():
            tensor = getattr(node.module, key)
            empty = call(attribute(torch_name, "empty"), [literal(tuple(shape))], {"dtype": _render(tensor.dtype, {}, self.ns)})
            if kind == "parameter":
                value = call(attribute(name(self.ns.module(nn)), "Parameter"), [empty],
                             {} if tensor.requires_grad else {"requires_grad": ast.Constant(False)})
                statements.append(_statement_set(me, key, value))
            else:
                if not persistent:
                    self.warnings.append(f"{node.path}.{key} is a non-persistent buffer: its values are not in the state dict, "
                                         "so the generated code cannot reproduce them")
                statements.append(ast.Expr(call(attribute(me, "register_buffer"), [ast.Constant(key), empty],
                                                {} if persistent else {"persistent": ast.Constant(False)})))
        return statements

    def _share_at_top(self, child: Diff) -> None:
        parent, key = _parent(child.path)
        me = name("self")
        target = _access(me, parent)
        self.top_statements.append(_statement_set(target, key, _access(me, child.source or "")))
        self.notes.append(f"{child.path} is the same module as {child.source}: the top class builds it and then shares it")

    def _replacing_init(self, node: Diff, scope: Mapping[str, Any], reason: str) -> ast.FunctionDef:
        """``__init__(self, *args, **kwargs)`` calling the original and then replacing the changed children (the
        fallback when the original ``__init__`` cannot be copied)."""
        self.notes.append(f"{node.path or '(top)'}: the original __init__ cannot be copied ({reason}); the generated class "
                          "builds the original children and then replaces the changed ones")
        me = name("self")
        args, forward = _forwarding_signature(type(node.module))
        if args is None:
            scope = {}
        body: list[ast.stmt] = [ast.Expr(forward)]
        for key, child in node.children.items():
            if not child.changed:
                continue
            if child.kind == DELETED:
                body.append(ast.Expr(call(name("delattr"), [me, ast.Constant(key)])))
            elif child.kind == NONE:
                body.append(_statement_set(me, key, ast.Constant(None)))
            elif child.kind == SHARED:
                parent, source_key = _parent(child.source or "")
                if parent == node.path:
                    body.append(_statement_set(me, key, call(name("getattr"), [me, ast.Constant(source_key)])))
            else:
                body.append(_statement_set(me, key, self.expression(child, scope)))
        body += self._own_state(node, me)
        if not node.path:
            body += self.top_statements
        if args is None:
            args = ast.arguments([], [ast.arg("self")], ast.arg("args"), [], [], ast.arg("kwargs"), [])
        return ast.FunctionDef("__init__", args, body, [], None, None, lineno=0)


def _forwarding_signature(cls: type) -> tuple[ast.arguments | None, ast.Call]:
    """The parameters of ``cls.__init__`` (when its defaults are plain values) and ``super().__init__(...)``
    passing them on; ``(None, super().__init__(*args, **kwargs))`` otherwise."""
    generic = call(attribute(call(name("super")), "__init__"), [ast.Starred(name("args"), ast.Load())])
    generic.keywords = [ast.keyword(None, name("kwargs"))]
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())
    except (TypeError, ValueError):
        return None, generic
    if not params or any(p.default is not p.empty and not is_literal(p.default) for p in params):
        return None, generic
    spec: dict[str, Any] = {"posonlyargs": [], "args": [], "vararg": None, "kwonlyargs": [], "kw_defaults": [], "kwarg": None, "defaults": []}
    positional: list[ast.expr] = []
    keywords: list[ast.keyword] = []
    for i, p in enumerate(params):
        arg = ast.arg(p.name)
        if p.kind is p.VAR_POSITIONAL:
            spec["vararg"] = arg
            positional.append(ast.Starred(name(p.name), ast.Load()))
        elif p.kind is p.VAR_KEYWORD:
            spec["kwarg"] = arg
            keywords.append(ast.keyword(None, name(p.name)))
        elif p.kind is p.KEYWORD_ONLY:
            spec["kwonlyargs"].append(arg)
            spec["kw_defaults"].append(literal(p.default) if p.default is not p.empty else None)
            keywords.append(ast.keyword(p.name, name(p.name)))
        else:
            spec["posonlyargs" if p.kind is p.POSITIONAL_ONLY else "args"].append(arg)
            if p.default is not p.empty:
                spec["defaults"].append(literal(p.default))
            if i:
                positional.append(name(p.name))
    return ast.arguments(**spec), call(attribute(call(name("super")), "__init__"), positional, {}) if not keywords else \
        ast.Call(attribute(call(name("super")), "__init__"), positional, keywords)


# -- the public API ----------------------------------------------------------------------------------------------
def _reference_class(instance: nn.Module, reference_class: Any) -> type:
    if reference_class is None:
        return type(instance)
    if isinstance(reference_class, str):
        from .._imports import resolve

        text = reference_class if ":" in reference_class else ":".join(reference_class.rsplit(".", 1))
        try:
            reference_class = resolve(text)
        except (ImportError, AttributeError, ValueError) as exc:
            raise DeclarationError(f"unknown reference class {reference_class!r} ({type(exc).__name__}: {exc}); give 'package.module:Class'") from exc
    if not (isinstance(reference_class, type) and issubclass(reference_class, nn.Module)):
        raise DeclarationError(f"reference_class must be an nn.Module class, got {reference_class!r}")
    if type(instance) is not reference_class:
        raise DeclarationError(
            f"the instance is a {type(instance).__qualname__}, not a {reference_class.__qualname__}: declare compares a "
            "model with a fresh build of its own class, so give that class (or leave reference_class out)"
        )
    return reference_class


def _tie_overrides(instance: nn.Module, reference: nn.Module, diff: Diff) -> dict[str, dict[str, str]]:
    """For each Hugging Face model level whose declared ties the modification broke: the ties still valid."""
    overrides: dict[str, dict[str, str]] = {}
    modules = dict(instance.named_modules())
    for path, ref in reference.named_modules():
        expand = getattr(ref, "get_expanded_tied_weights_keys", None)
        mine = modules.get(path)
        if expand is None or mine is None or type(mine) is not type(ref):
            continue
        mapping = expand(all_submodels=False)
        kept = {}
        for target, src in mapping.items():
            try:
                if mine.get_parameter(target) is mine.get_parameter(src):
                    kept[target] = src
            except AttributeError:
                pass
        if kept != mapping:
            overrides[path] = kept
    return overrides


def _shared_across(node: Diff) -> bool:
    """A module shared with a place under another parent (the top class shares it)."""
    return node.kind == SHARED and _parent(node.source or "")[0] != _parent(node.path)[0]


def _force(node: Diff, paths: set[str]) -> bool:
    """Mark as modified every level in ``paths`` or above a change; True if ``node`` needs a new class or
    expression."""
    below = [_force(child, paths) and not _shared_across(child) for child in node.children.values()]
    if node.kind in (SAME, MODIFIED):
        needed = any(below) or bool(node.added_state) or node.path in paths
        node.kind = MODIFIED if needed else SAME
    return node.changed


class Declaration:
    """The generated code for a modified model: ``code`` (a complete module), ``classes`` (new class names, top
    class last), ``notes`` and ``warnings`` (what to look at); :meth:`write`, :meth:`load`, :meth:`verify`."""

    def __init__(self, code: str, classes: list[str], instance: nn.Module, reference_class: type, *,
                 notes: list[str], warnings: list[str], host: PluginHost) -> None:
        self.code = code
        self.classes = classes
        self.notes = notes
        self.warnings = warnings
        self.instance = instance
        self.reference_class = reference_class
        self.host = host
        self._module: types.ModuleType | None = None

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"<Declaration of {self.reference_class.__qualname__}: {', '.join(self.classes) or 'no difference'}>"

    @property
    def top(self) -> str | None:
        """The name of the class to build the model with (None when nothing changed)."""
        return self.classes[-1] if self.classes else None

    def write(self, path: str | Path) -> Path:
        """Write the code to ``path`` (a ``.py`` file) and return the path."""
        path = Path(path)
        path.write_text(self.code)
        return path

    def load(self) -> types.ModuleType:
        """Import the code as a real module (in ``sys.modules``, with its source known to ``inspect``)."""
        if self._module is None:
            digest = hashlib.sha256(self.code.encode()).hexdigest()[:16]
            module_name = f"archit_declared_{digest}"
            # A real file: transformers reads a model class's module source from its __file__ (some releases
            # open() it directly), and inspect finds the classes' source there.
            filename = str(_source_file(module_name, self.code))
            module = types.ModuleType(module_name, "Classes declared by archit_core.declare.")
            module.__file__ = filename
            lines = self.code.splitlines(keepends=True)
            linecache.cache[filename] = (len(self.code), None, lines, filename)
            sys.modules[module_name] = module
            try:
                exec(compile(self.code, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code
            except Exception:
                del sys.modules[module_name]
                raise
            self._module = module
        return self._module

    def top_class(self) -> type:
        """The class to build the modified model with (the reference class when nothing changed)."""
        return getattr(self.load(), self.top) if self.top else self.reference_class

    def verify(self, inputs: Mapping[str, Any] | None = None, *, outputs: bool = True) -> Any:
        """Build the top class from the instance's config and check it against the instance (see
        :func:`archit_core.declaration.verify.verify`); raises :class:`DeclarationError` on any difference."""
        from .verify import verify

        with using(self.host):
            return verify(self, inputs, outputs=outputs)


def declare(instance: nn.Module, reference_class: type | str | None = None, *, suffix: str | None = None,
            host: PluginHost | None = None) -> Declaration:
    """The class code for ``instance``, a model modified in place, compared with a fresh
    ``reference_class(instance.config)`` (default: the instance's own class; for an archit model, a fresh build
    from its own config). New classes are named after the ones they replace plus ``suffix`` (default
    ``"Modified"``)."""
    if not isinstance(instance, nn.Module):
        raise DeclarationError(f"declare takes an nn.Module, got a {type(instance).__qualname__}")
    suffix = DEFAULT_SUFFIX if suffix is None else suffix
    if not suffix or not codegen.is_identifier("X" + suffix):
        raise DeclarationError(f"suffix must be a non-empty identifier part (letters, digits, _), got {suffix!r}")
    cls = _reference_class(instance, reference_class)
    config = getattr(instance, "config", None)
    if config is None:
        raise DeclarationError(
            f"the {type(instance).__qualname__} has no config attribute: declare builds the reference as "
            f"{cls.__qualname__}(instance.config), so it needs a model built from a config (a transformers "
            "PreTrainedModel, an archit model, or a module that keeps its config as .config)"
        )
    host = host or get_host()
    with using(host):
        classes = {type(m) for m in instance.modules()}
        reference, records = build_reference(cls, config, classes)
        diff = compare(instance, reference, native_call)
        ties = _tie_overrides(instance, reference, diff)
        new_ties = tied_groups(instance) - tied_groups(reference)
        shared = [n for n in diff.walk() if _shared_across(n)]
        _force(diff, set(ties) | ({""} if new_ties or shared else set()))
        generator = _Generator(records, host, suffix, ties)
        for node in shared:
            generator._share_at_top(node)
        if diff.changed:
            generator.top_statements += _tie_statements(new_ties, instance, shared)
            generator.declare_class(diff)
        elif (attribute := structure_difference(instance, reference)) is not None:
            raise DeclarationError(
                f"the model differs from a fresh {cls.__qualname__} only outside its modules ({attribute}); declare "
                "writes the modules a class builds, not values set on them afterwards: make the value a constructor "
                "argument or config field of a module you replace, or set it after building"
            )
        code = _module_code(cls, generator)
    notes = generator.notes + generator.ns.notes
    for group in sorted(tied_groups(reference) - tied_groups(instance), key=sorted):
        notes.append(f"{' and '.join(sorted(group))} are tied in a fresh model but not in this one, so the generated "
                     "classes do not tie them")
    for message in generator.warnings:
        warnings.warn(message, DeclarationWarning, stacklevel=2)
    return Declaration(code, list(generator.class_names), instance, cls, notes=notes, warnings=list(generator.warnings), host=host)


def _tie_statements(groups: set[frozenset[str]], instance: nn.Module, shared: list[Diff]) -> list[ast.stmt]:
    """``self.a.weight = self.b.weight`` for parameters the instance ties and a fresh model does not (leaving out
    those tied because their whole module is ``shared``)."""
    order = {n: i for i, (n, _) in enumerate(instance.named_parameters(remove_duplicate=False))}

    def canonical(param: str) -> str:
        for node in shared:
            if param.startswith(node.path + "."):
                return canonical((node.source or "") + param[len(node.path):])
        return param

    statements: list[ast.stmt] = []
    me = name("self")
    for group in sorted(groups, key=lambda g: min(order[n] for n in g)):
        if len({canonical(n) for n in group}) == 1:
            continue
        first, *others = sorted(group, key=order.__getitem__)
        owner, key = _parent(first)
        for other in others:
            parent, attr = _parent(other)
            statements.append(_statement_set(_access(me, parent), attr, attribute(_access(me, owner), key) if codegen.is_identifier(key)
                                             else call(attribute(me, "get_parameter"), [ast.Constant(first)])))
    return statements


def _module_code(cls: type, generator: _Generator) -> str:
    doc = (f"Classes for a modified {cls.__qualname__}, declared by archit (archit_core.declare).\n\n"
           f"Build the model with {generator.class_names[-1]}(config)." if generator.class_names else
           f"No difference: the model is a plain {cls.__qualname__}.")
    body: list[ast.stmt] = [ast.Expr(ast.Constant(doc))]
    used = set(codegen.names_in(ast.Module(generator.classes, [])))
    body += generator.ns.import_statements(used)
    body += generator.classes
    body.append(ast.Assign([ast.Name("__all__", ast.Store())], ast.List([ast.Constant(n) for n in generator.class_names], ast.Load()), lineno=0))
    return codegen.format_code(ast.Module(body, []))


def print_difference(instance: nn.Module, reference_class: type | str | None = None, **options: Any) -> Declaration:
    """Print the class code :func:`declare` writes for ``instance`` (and return the :class:`Declaration`)."""
    declaration = declare(instance, reference_class, **options)
    print(declaration.code, end="")
    for note in declaration.notes:
        print(f"# note: {note}")
    return declaration


# -- archit declare ----------------------------------------------------------------------------------------------
def _import_reference(text: str, what: str) -> Any:
    """The object a ``module:attribute`` string names (the current folder importable, as with ``python -m``)."""
    from .._imports import resolve

    if ":" not in text:
        raise DeclarationError(f"{what} {text!r} must be 'package.module:name'")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return resolve(text)
    except (ImportError, AttributeError, ValueError) as exc:
        raise DeclarationError(f"cannot import {what} {text!r}: {type(exc).__name__}: {exc}") from exc


def declare_command(factory: str, *, reference: str | None = None, output: str | None = None, verify: bool = False,
                    out: Any = None, err: Any = None, host: PluginHost | None = None) -> int:
    """``archit declare``: call ``factory`` (``module:function``, returning the modified model), declare it and
    print the code (or write it to ``output``); with ``verify``, verify it and print the report to ``err``."""
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
    declaration = declare(model, ref, host=host)
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


def _source_file(module_name: str, code: str) -> Path:
    """``code`` written (atomically, once per content) to ``<tmp>/archit-declarations/<module_name>.py``."""
    folder = Path(tempfile.gettempdir()) / "archit-declarations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module_name}.py"
    if not path.is_file() or path.read_text(encoding="utf-8") != code:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(code)
        os.replace(tmp, path)
    return path
