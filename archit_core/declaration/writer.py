"""The class writer of declarations (:class:`ClassWriter`): one new class per modified level, each inheriting
``forward`` from the class it replaces, whose ``__init__`` is a copy of the original's edited where a child changed
(or, when it cannot be copied, one that builds the original and then replaces the changed children); and the
module around those classes (:func:`module_code`)."""

from __future__ import annotations

import ast
import copy
import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..errors import DeclarationError
from .codegen import (
    access,
    attribute,
    call,
    comprehension_parts,
    format_code,
    identifier,
    is_identifier,
    name,
    names_in,
    set_attribute,
    split_path,
)
from .constructors import Constructors
from .context import render_value
from .diff import ADDED, DELETED, MODIFIED, NONE, REPLACED, SAME, SHARED, Diff, init_owner
from .emitters import CONTAINERS, is_literal, literal, native_call
from .init_copy import InitCopy


class ClassWriter(Constructors):
    """Writes the classes for one comparison tree (``classes``, ``class_names``, top class last), with the notes and
    warnings a reader should see; statements for the top class (ties, shared modules) go in ``top_statements``."""

    def _comprehension(self, node: Diff, site_value: ast.expr, source: InitCopy, scope: Mapping[str, Any]) -> ast.expr | None:
        """``Container([elt for x in xs])`` with the changed elements chosen by index, or None if not that shape."""
        cls = type(node.module)
        if cls is nn.ModuleDict or list(node.module._modules) != list(node.reference._modules):
            return None
        if any(c.kind not in (SAME, REPLACED, MODIFIED, SHARED) for c in node.children.values()):
            return None
        value = copy.deepcopy(site_value)
        comp = comprehension_parts(value, lambda f: source.resolve(f) is cls)
        if comp is None:
            return None
        taken = set(names_in(value)) | set(scope)
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
        owner = init_owner(cls)
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
        class_name = self.ns.reserve(identifier(cls.__name__) + self.suffix, object())
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
        outer = self.prefer
        self.prefer = (frozenset(), _reads(source.node, scope))
        try:
            return self._edited(node, source, scope)
        finally:
            self.prefer = outer

    def _edited(self, node: Diff, source: InitCopy, scope: Mapping[str, Any]) -> ast.FunctionDef:
        me = source.self_expr()
        appended: list[ast.stmt] = []
        for key, child in node.children.items():
            if not child.changed:
                continue
            sites = source.sites(key)
            if child.kind == DELETED:
                if not source.remove(key):
                    appended.append(ast.Delete([access(me, key)]) if is_identifier(key) else
                                    ast.Expr(call(name("delattr"), [me, ast.Constant(key)])))
                self.warnings.append(f"{child.path} was deleted: {type(node.module).__qualname__}.forward likely uses it and needs rewriting")
                continue
            if child.kind == NONE:
                value_of: Any = lambda site: ast.Constant(None)  # noqa: E731
                self.warnings.append(f"{child.path} was set to None: {type(node.module).__qualname__}.forward likely uses it and needs rewriting")
            elif child.kind == SHARED:
                parent, source_key = split_path(child.source or "")
                if parent != node.path:
                    continue  # shared across levels: the top class shares it (see declare)
                value_of = lambda site, k=source_key: access(me, k) if is_identifier(k) else call(  # noqa: E731
                    name("getattr"), [me, ast.Constant(k)])
            else:
                value_of = lambda site, c=child: self.expression(  # noqa: E731
                    c, scope, source.value(site) if site is not None else None, source)
            if sites:
                for site in sites:
                    # a value equal to several config fields is written through the one the original read here
                    outer = self.prefer
                    self.prefer = (_reads(source.value(site), scope), outer[1])
                    try:
                        source.set_value(site, value_of(site))
                    finally:
                        self.prefer = outer
            else:
                appended.append(set_attribute(me, key, value_of(None)))
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
            empty = call(attribute(torch_name, "empty"), [literal(tuple(shape))], {"dtype": render_value(tensor.dtype, {}, self.ns)})
            if kind == "parameter":
                value = call(attribute(name(self.ns.module(nn)), "Parameter"), [empty],
                             {} if tensor.requires_grad else {"requires_grad": ast.Constant(False)})
                statements.append(set_attribute(me, key, value))
            else:
                if not persistent:
                    self.warnings.append(f"{node.path}.{key} is a non-persistent buffer: its values are not in the state dict, "
                                         "so the generated code cannot reproduce them")
                statements.append(ast.Expr(call(attribute(me, "register_buffer"), [ast.Constant(key), empty],
                                                {} if persistent else {"persistent": ast.Constant(False)})))
        return statements

    def share_at_top(self, child: Diff) -> None:
        parent, key = split_path(child.path)
        me = name("self")
        target = access(me, parent)
        self.top_statements.append(set_attribute(target, key, access(me, child.source or "")))
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
                body.append(set_attribute(me, key, ast.Constant(None)))
            elif child.kind == SHARED:
                parent, source_key = split_path(child.source or "")
                if parent == node.path:
                    body.append(set_attribute(me, key, call(name("getattr"), [me, ast.Constant(source_key)])))
            else:
                body.append(set_attribute(me, key, self.expression(child, scope)))
        body += self._own_state(node, me)
        if not node.path:
            body += self.top_statements
        if args is None:
            args = ast.arguments([], [ast.arg("self")], ast.arg("args"), [], [], ast.arg("kwargs"), [])
        return ast.FunctionDef("__init__", args, body, [], None, None, lineno=0)


def _reads(tree: ast.AST, scope: Mapping[str, Any]) -> frozenset[str]:
    """The attributes ``tree`` reads from names in ``scope`` (``config.hidden_size`` -> ``hidden_size``)."""
    return frozenset(n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                     and n.value.id in scope)


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


def tie_statements(groups: set[frozenset[str]], instance: nn.Module, shared: list[Diff]) -> list[ast.stmt]:
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
        owner, key = split_path(first)
        for other in others:
            parent, attr = split_path(other)
            statements.append(set_attribute(access(me, parent), attr, attribute(access(me, owner), key) if is_identifier(key)
                                             else call(attribute(me, "get_parameter"), [ast.Constant(first)])))
    return statements


def module_code(cls: type, generator: ClassWriter) -> str:
    """The complete module: docstring, the imports the classes use, the classes, ``__all__``."""
    doc = (f"Classes for a modified {cls.__qualname__}, declared by archit (archit_core.declare).\n\n"
           f"Build the model with {generator.class_names[-1]}(config)." if generator.class_names else
           f"No difference: the model is a plain {cls.__qualname__}.")
    body: list[ast.stmt] = [ast.Expr(ast.Constant(doc))]
    used = set(names_in(ast.Module(generator.classes, [])))
    body += generator.ns.import_statements(used)
    body += generator.classes
    body.append(ast.Assign([ast.Name("__all__", ast.Store())], ast.List([ast.Constant(n) for n in generator.class_names], ast.Load()), lineno=0))
    return format_code(ast.Module(body, []))
