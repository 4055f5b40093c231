"""Renamed fields that keep their old name for one release: the old keyword is accepted and the old attribute read,
each with a ``DeprecationWarning`` naming the new one."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

C = TypeVar("C", bound=type)

_UNSET: Any = object()


def renamed_field(old: str, new: str) -> Callable[[C], C]:
    """Class decorator: ``cls(old=value)`` means ``cls(new=value)`` (when ``new`` is left unset) and ``obj.old`` reads
    ``obj.new``; both warn. Works on dataclasses and on frozen attrs classes alike."""

    def decorate(cls: C) -> C:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            value = kwargs.pop(old, _UNSET)
            init(self, *args, **kwargs)
            if value is not _UNSET:
                warnings.warn(f"{cls.__name__}({old}=...) is deprecated; pass {new}=...", DeprecationWarning, stacklevel=2)
                if getattr(self, new) is None:
                    object.__setattr__(self, new, value)  # frozen classes too

        def read(self: Any) -> Any:
            warnings.warn(f"{cls.__name__}.{old} is deprecated; read .{new}", DeprecationWarning, stacklevel=2)
            return getattr(self, new)

        cls.__init__ = __init__  # type: ignore[method-assign]
        setattr(cls, old, property(read))
        return cls

    return decorate
