"""Lazy exports for archit_core and its subpackages: one table of ``name -> module`` gives ``__all__``,
``__getattr__`` and ``__dir__``, so importing a package imports none of its modules until a name is used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``: each name in ``table`` is imported from its module
    (relative to ``package``) on first use and then cached in ``namespace``, the package's globals."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__, sorted(table)


def lazy_attributes(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a plugin package: each name in ``table`` is the object a ``"module:attr"``
    reference names, imported on first use, so plugin discovery (which imports the package) imports no torch. Unlike
    :func:`lazy_exports` it gives no ``__dir__``: pluggy reads every name ``dir(plugin)`` lists, which would import them.
    ``__getattr__ = lazy_attributes(__name__, {"best_spans": "archit_core.parts.spans:best_spans"})``."""

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from ._imports import resolve

        return resolve(table[name])

    return __getattr__
