"""attrs configs: strict construction from dicts with errors that name the field, and JSON round trips."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ..errors import ConfigError

T = TypeVar("T")


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` names, or an empty string."""
    close = difflib.get_close_matches(str(key), sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def config_from_dict(cls: type[T], data: Mapping[str, Any] | T | None, *, where: str = "") -> T:
    """Build the attrs config ``cls`` from ``data``; unknown fields, wrong types and invalid values raise
    :class:`ConfigError` naming the field (prefixed with ``where``, e.g. ``head_config``)."""
    prefix = f"{where}." if where else ""
    if data is None:
        data = {}
    if isinstance(data, cls):
        return data
    if attrs.has(type(data)):
        raise ConfigError(f"{where or 'config'}: expected {cls.__name__} or a dict, got {type(data).__name__}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a dict of {cls.__name__} fields, got {type(data).__name__}")
    fields = {f.name: f for f in attrs.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for {cls.__name__}; valid fields: {', '.join(sorted(fields))}"
        )
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        field = _field_of(exc, fields)
        raise ConfigError(f"{prefix}{field + ': ' if field else ''}{_message(exc)}") from exc


def _field_of(exc: BaseException, fields: Mapping[str, Any]) -> str | None:
    for arg in exc.args:
        if isinstance(arg, attrs.Attribute):
            return arg.name
        if isinstance(arg, str):
            for name in fields:
                if f"'{name}'" in arg:
                    return name
    return None


def _message(exc: BaseException) -> str:
    first = exc.args[0] if exc.args else str(exc)
    return first if isinstance(first, str) else str(exc)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-serialisable dict of an attrs config."""
    return attrs.asdict(config, recurse=True)


def positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: an int > 0 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{attribute.name}' must be an int, got {type(value).__name__} {value!r}", attribute)
    if value <= 0:
        raise ValueError(f"'{attribute.name}' must be > 0, got {value}", attribute)


def probability(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: None or a float in [0, 1)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{attribute.name}' must be a float in [0, 1) or None, got {type(value).__name__} {value!r}", attribute)
    if not 0 <= value < 1:
        raise ValueError(f"'{attribute.name}' must be in [0, 1), got {value}", attribute)


def non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a finite int or float >= 0 (bools refused), such as a loss weight."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{attribute.name}' must be a number >= 0, got {type(value).__name__} {value!r}", attribute)
    if not 0 <= value < float("inf"):
        raise ValueError(f"'{attribute.name}' must be a finite number >= 0, got {value}", attribute)


def one_of(*choices: Any):
    """attrs validator: the value is one of ``choices``."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"'{attribute.name}' must be one of {', '.join(map(repr, choices))}, got {value!r}", attribute)

    check.choices = choices  # type: ignore[attr-defined]  # read by the spec schema
    return check


def flag(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: True or False (no other value stands in for a bool)."""
    if not isinstance(value, bool):
        raise TypeError(f"'{attribute.name}' must be True or False, got {type(value).__name__} {value!r}", attribute)


def activation_name(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a non-empty activation name such as ``"gelu"`` (whether it exists is checked when the head is
    built, by :func:`archit_core.activation`, since the table lives in transformers)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"'{attribute.name}' must be an activation name such as 'tanh' or 'gelu', got {value!r}", attribute)


def positive_number(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: an int or float > 0 (bools refused), such as a layer-norm epsilon."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"'{attribute.name}' must be a positive number, got {value!r}", attribute)


def identifier(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a Python identifier, such as an adapter's name."""
    if not isinstance(value, str) or not value.isidentifier():
        raise ValueError(f"'{attribute.name}' must be an identifier, got {value!r}", attribute)


def positive_ints(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a tuple of ints > 0, such as layer widths (pair it with ``converter=as_tuple``)."""
    if not isinstance(value, tuple) or any(isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in value):
        raise ValueError(f"'{attribute.name}' must be a list of positive integers, got {value!r}", attribute)


def as_tuple(value: Any) -> Any:
    """attrs converter: a list (as JSON gives) becomes a tuple; anything else is left for the validator."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def config_fields(config_class: type) -> set[str]:
    """The field names a transformers config class accepts: dataclass fields, ``attribute_map`` aliases and
    ``__init__`` parameters."""
    names = {f.name for f in dataclasses.fields(config_class)} if dataclasses.is_dataclass(config_class) else set()
    names |= set(getattr(config_class, "attribute_map", {}))
    try:
        names |= set(inspect.signature(config_class.__init__).parameters) - {"self", "kwargs"}
    except (TypeError, ValueError):
        pass
    return names
