"""The plugin API of declarations: what a plugin's ``declare_module(module, context)`` hook receives
(:class:`DeclarationContext`) and returns (:class:`ModuleCode`), and how values are written as code safely
(:func:`render_value`: literals and names in scope, never ``repr()``)."""

from __future__ import annotations

import ast
import enum
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from ..errors import DeclarationError
from .codegen import Namespace, attribute, call, is_identifier, name
from .emitters import is_literal, literal


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
        return ast.unparse(render_value(value, self.scope, None))


def render_value(value: Any, scope: Mapping[str, Any], namespace: Namespace | None) -> ast.expr:
    """``value`` as an expression node: a literal, an enum member or a ``str``/``int``/``float`` subclass instance of an
    importable class (``Mode.GELU``, ``Tag('x')``), a ``torch`` dtype (with a ``namespace`` to import torch in), a
    name in ``scope`` or one attribute of one; raises :class:`DeclarationError` for anything else."""
    if is_literal(value):
        return literal(value)
    special = _subclass_value(value)
    if special is not None:
        kind, plain = special
        cls = (namespace or Namespace()).object(type(value))  # raises DeclarationError when not importable
        return attribute(cls, plain) if kind == "member" else call(cls, [literal(plain)])
    if isinstance(value, torch.dtype) and namespace is not None:
        dtype = str(value).rpartition(".")[2]
        if getattr(torch, dtype, None) is value:
            return attribute(name(namespace.module(torch)), dtype)
    for key, known in scope.items():
        if known is value:
            return name(key)
    for key, known in scope.items():
        for attr, sub in getattr(known, "__dict__", {}).items():
            if sub is value and is_identifier(attr) and not is_literal(sub):
                return attribute(name(key), attr)
    raise DeclarationError(f"a {type(value).__qualname__} value cannot be written as code here (names in scope: {', '.join(scope) or 'none'})")


def _subclass_value(value: Any) -> tuple[str, Any] | None:
    """An enum member (``("member", name)``), or an instance of a subclass of ``str``/``int``/``float`` that its class
    rebuilds from the plain value (``("call", plain)``); None otherwise."""
    kind = type(value)
    if isinstance(value, enum.Enum):
        return ("member", value.name) if getattr(kind, value.name, None) is value and is_identifier(value.name) else None
    if kind in (str, int, float, bool) or not isinstance(value, (str, int, float)):
        return None
    plain = next(base(value) for base in (str, float, int) if isinstance(value, base))
    try:
        rebuilt = kind(plain)
    except Exception:  # noqa: BLE001 - a foreign constructor: not rebuilt from the plain value
        return None
    same = type(rebuilt) is kind and rebuilt == value and getattr(rebuilt, "__dict__", {}) == getattr(value, "__dict__", {})
    return ("call", plain) if same else None


def is_writable(value: Any, scope: Mapping[str, Any]) -> bool:
    """Whether :func:`render_value` can write ``value`` (a dtype always can, given a namespace)."""
    try:
        render_value(value, scope, None)
    except DeclarationError:
        return isinstance(value, torch.dtype)
    return True
