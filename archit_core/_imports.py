"""Lazy ``"package.module:attribute"`` references, so plugins register names without importing torch."""

from __future__ import annotations

import importlib
from typing import Any


def resolve(ref: str | Any) -> Any:
    """Import and return the object a ``"module:attr"`` string names; other values are returned unchanged."""
    if not isinstance(ref, str):
        return ref
    module_name, sep, attr = ref.partition(":")
    if not sep or not attr:
        raise ValueError(f"{ref!r} is not a 'package.module:attribute' reference")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
