"""Constructor expressions of declarations: how one module is written as code (:class:`Constructors`). In order:
the owning plugin's ``declare_module`` hook, the ``torch.nn`` emitters, containers element by element, checked
signature inference (:mod:`.emitters`); otherwise a :class:`~archit_core.DeclarationError` naming the module path."""

from __future__ import annotations

import ast
import inspect
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from ..errors import ArchitPluginWarning, DeclarationError
from ..registry.host import PluginHost
from .codegen import Namespace, attribute, call, name
from .context import DeclarationContext, ModuleCode, is_writable, render_value
from .diff import SAME, SHARED, Diff
from .emitters import CONTAINERS, Call, InferenceError, check_call, infer_call, is_literal, native_call


class Constructors:
    """Constructor expressions for one comparison tree: calls recorded while the reference was built, a plugin's
    ``declare_module``, the ``torch.nn`` emitters and containers, checked signature inference. The classes themselves
    are written by the subclass :class:`~archit_core.declaration.writer.ClassWriter` (:meth:`expression`)."""

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
        return call(callee, [render_value(v, scope, self.ns) for v in args], {k: render_value(v, scope, self.ns) for k, v in kwargs.items()})

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
        how = "the torch.nn emitter"
        if values is None and type(module) in CONTAINERS:
            return self.container(module, path, scope, None)
        if values is None:
            how = "signature inference"
            try:
                values = infer_call(module, lambda v: is_writable(v, scope))
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

    def expression(self, node: Diff, scope: Mapping[str, Any], site_value: ast.expr | None = None,
                   source: Any = None) -> ast.expr:
        """The expression building what the instance holds at ``node`` (written by the class writer)."""
        raise NotImplementedError
