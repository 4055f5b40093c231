"""Constructor expressions of declarations: how one module is written as code (:class:`Constructors`). In order:
the owning plugin's ``declare_module`` hook, the ``torch.nn`` emitters, containers element by element, checked
signature inference (:mod:`.emitters`), arguments recovered from the class's ``__init__`` source (:mod:`.recovery`)
with those ``declare(arguments=...)`` gives; otherwise a :class:`~archit_core.DeclarationError` naming the module
path, the parameter and the ways out. Values equal to a config field are written through it (:mod:`.follow`)."""

from __future__ import annotations

import ast
import copy
import inspect
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from ..errors import ArchitPluginWarning, DeclarationError
from ..registry.host import PluginHost
from .codegen import Namespace, attribute, call, name, names_in
from .context import DeclarationContext, ModuleCode, is_writable, render_value
from .diff import SAME, SHARED, Diff
from .emitters import CONTAINERS, Call, InferenceError, check_call, infer_call, is_literal, native_call
from .follow import config_field
from .recovery import RecoveryError, recover_call


class Constructors:
    """Constructor expressions for one comparison tree: calls recorded while the reference was built, a plugin's
    ``declare_module``, the ``torch.nn`` emitters and containers, checked signature inference, recovery. The classes themselves
    are written by the subclass :class:`~archit_core.declaration.writer.ClassWriter` (:meth:`expression`)."""

    def __init__(self, records: dict[int, Any], host: PluginHost, suffix: str, ties: dict[str, dict[str, str]], *,
                 arguments: Mapping[Any, Any] | None = None, config_fields: bool = True) -> None:
        self.records = records
        self.arguments = dict(arguments or {})
        self.config_fields = config_fields
        #: ``(config object, field)`` for every value written as ``config.<field>``.
        self.config_uses: list[tuple[Any, str]] = []
        #: The config fields the original read where a value is being written, and in the whole ``__init__`` (they
        #: break ties between equal fields, see :func:`.follow.config_field`).
        self.prefer: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
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

    def value(self, value: Any, scope: Mapping[str, Any]) -> ast.expr:
        """A constructor value as code: ``config.<field>`` when it equals exactly one field of a config in scope
        (see :mod:`.follow`), else :func:`render_value`."""
        if self.config_fields and not isinstance(value, bool):
            found = config_field(value, scope, *self.prefer)
            if found is not None:
                key, field, config = found
                self.config_uses.append((config, field))
                return attribute(name(key), field)
        if self.config_fields and type(value) in (tuple, list) and any(config_field(v, scope, *self.prefer) for v in value):
            items = [self.value(v, scope) for v in value]
            return ast.Tuple(items, ast.Load()) if type(value) is tuple else ast.List(items, ast.Load())
        return render_value(value, scope, self.ns)

    def render_call(self, callee: ast.expr, values: Call, scope: Mapping[str, Any]) -> ast.Call:
        _, args, kwargs = values
        return call(callee, [self.value(v, scope) for v in args], {k: self.value(v, scope) for k, v in kwargs.items()})

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
                    args.extend(render_value(v, scope, self.ns) for v in value)
                elif param.kind is param.VAR_KEYWORD:
                    keywords.update({k: render_value(v, scope, self.ns) for k, v in value.items()})
                elif param.kind is param.POSITIONAL_ONLY:
                    args.append(render_value(value, scope, self.ns))
                elif not (param.default is not param.empty and is_literal(value) and type(value) is type(param.default)
                          and value == param.default):
                    keywords[key] = render_value(value, scope, self.ns)
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
        if values is None and type(module) in CONTAINERS:
            return self.container(module, path, scope, None)
        if values is None:
            values = self._arguments_of(module, path, scope)
        else:
            problem = check_call(values, module)
            if problem is not None:
                raise self._undeclarable(module, path, f"the call found by the torch.nn emitter does not rebuild it: {problem}")
        return self.render_call(self.class_expr(type(module)), values, scope)

    def given_arguments(self, module: nn.Module, path: str) -> dict[str, Any]:
        """The arguments ``declare(arguments=...)`` gives for the module at ``path`` (by path, else by class)."""
        for key in (path, type(module)):
            if key not in self.arguments:
                continue
            given = self.arguments[key]
            if callable(given) and not isinstance(given, Mapping):
                try:
                    given = given(module)
                except Exception as exc:
                    raise DeclarationError(f"the arguments function for {path} ({getattr(key, '__qualname__', key)}) raised "
                                           f"{type(exc).__name__}: {exc}") from exc
            if not isinstance(given, Mapping) or not all(isinstance(k, str) for k in given):
                raise DeclarationError(f"arguments for {path} must be a dict of {type(module).__qualname__}.__init__ "
                                       f"arguments by name (or a function returning one), got {type(given).__qualname__}")
            return dict(given)
        return {}

    def _arguments_of(self, module: nn.Module, path: str, scope: Mapping[str, Any]) -> Call:
        """Checked signature inference (attributes named like the parameters), else the arguments recovered from the
        class's ``__init__`` source (:mod:`.recovery`), with what ``declare(arguments=...)`` gives fixed."""
        can_write = lambda v: is_writable(v, scope)  # noqa: E731
        given = self.given_arguments(module, path)
        if not given:
            try:
                values = infer_call(module, can_write)
            except InferenceError:
                pass
            else:
                if check_call(values, module) is None:
                    return values
        try:
            values = recover_call(module, can_write, given)
        except RecoveryError as exc:
            raise self._undeclarable(module, path, str(exc), exc.parameter) from exc
        problem = check_call(values, module)
        if problem is not None:
            how = "the arguments given and recovered" if given else f"the arguments recovered from {type(module).__qualname__}.__init__"
            shown = ", ".join([*(repr(a) for a in values[1]), *(f"{k}={v!r}" for k, v in values[2].items())])
            raise self._undeclarable(module, path, f"{how} ({shown}) do not rebuild it: {problem}", None)
        return values

    @staticmethod
    def _undeclarable(module: nn.Module, path: str, why: str, parameter: str | None = None) -> DeclarationError:
        cls = type(module)
        where = path or "(top)"
        wanted = repr(parameter) if parameter else "'<parameter>'"
        return DeclarationError(
            f"cannot declare {where} ({cls.__module__}.{cls.__qualname__}): {why}. Give the arguments yourself: "
            f"declare(model, arguments={{{where!r}: {{{wanted}: ...}}}}), or key them by the class with a function of "
            f"the module (arguments={{{cls.__qualname__}: lambda module: {{...}}}}). Implement the hook "
            "declare_module(module, context) for this class in a plugin (it returns archit_core.ModuleCode) if the "
            "class belongs to one"
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
        if not isinstance(module, nn.ModuleDict) and [k for k, _ in elements] == [str(i) for i in range(len(elements))]:
            repeated = self._repeated(values, scope)
            if repeated is not None:
                return call(callee, [repeated if isinstance(module, nn.ModuleList) else ast.Starred(repeated, ast.Load())])
        if isinstance(module, nn.ModuleList):
            return call(callee, [ast.List(values, ast.Load())])
        if isinstance(module, nn.ModuleDict):
            return call(callee, [ast.Dict([ast.Constant(k) for k, _ in elements], values)])
        if [k for k, _ in elements] == [str(i) for i in range(len(elements))]:
            return call(callee, values)
        import collections

        pairs = ast.List([ast.Tuple([ast.Constant(k), e], ast.Load()) for k, e in elements], ast.Load())
        return call(callee, [call(self.ns.object(collections.OrderedDict), [pairs])])

    def _repeated(self, values: list[ast.expr], scope: Mapping[str, Any]) -> ast.ListComp | None:
        """``[element for i in range(n)]`` when the elements are one expression (the same, or differing only by
        their position), with ``n`` a config field when it is one; None when they differ, or when there are fewer
        than four and the length is no config field."""
        if len(values) < 2:
            return None
        taken = set(names_in(ast.Module([ast.Expr(v) for v in values], []))) | set(scope)
        var = next(v for v in ("i", "j", "k", "_i", "_j") if v not in taken)

        class Position(ast.NodeTransformer):
            def __init__(self, index: int) -> None:
                self.index = index

            def visit_Constant(self, node: ast.Constant) -> ast.AST:
                return name(var) if type(node.value) is int and node.value == self.index else node

        general = values
        if len({ast.dump(v) for v in values}) != 1:
            general = [Position(i).visit(copy.deepcopy(v)) for i, v in enumerate(values)]
            if len({ast.dump(g) for g in general}) != 1:
                return None
        uses = len(self.config_uses)
        count = self.value(len(values), scope)
        if len(values) < 4 and len(self.config_uses) == uses:
            return None
        elt = copy.deepcopy(general[0])
        target = var if var in names_in(elt) else "_"
        return ast.ListComp(elt, [ast.comprehension(ast.Name(target, ast.Store()), call(name("range"), [count]), [], 0)])

    def expression(self, node: Diff, scope: Mapping[str, Any], site_value: ast.expr | None = None,
                   source: Any = None) -> ast.expr:
        """The expression building what the instance holds at ``node`` (written by the class writer)."""
        raise NotImplementedError
