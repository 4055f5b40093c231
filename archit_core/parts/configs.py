"""attrs configs: strict construction from dicts with errors that name the field, and JSON round trips."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ..errors import ConfigError, bounded_repr

T = TypeVar("T")
#: The largest int :func:`positive` accepts: a tensor dimension (a width, a number of labels, a rank) above it is a typo
#: (``num_labels=10**12``) that would fill the machine's memory before anything else could refuse it.
MAX_DIMENSION = 2**24
#: The most classes :func:`label_count` accepts: transformers writes one label name per class into the model config.
MAX_LABELS = 1_000_000
#: attrs field metadata that lets a float field hold ``inf`` or ``nan`` (every other float field must be finite).
NON_FINITE_OK = "archit_non_finite_ok"
#: The longest error message of a config field that :func:`config_from_dict` passes on.
_MESSAGE_LIMIT = 600


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` names, or an empty string."""
    close = difflib.get_close_matches(str(key), sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def config_from_dict(cls: type[T], data: Mapping[str, Any] | T | None, *, where: str = "") -> T:
    """Build the attrs config ``cls`` from ``data``; unknown fields, wrong types and invalid values raise
    :class:`ConfigError` naming the field (prefixed with ``where``, e.g. ``head_config``)."""
    prefix = f"{where}." if where else ""
    if not attrs.has(cls):
        raise ConfigError(f"{where or 'config'}: {cls!r} is not an attrs class; a plugin's config class must be one (attrs.frozen)")
    if data is None:
        data = {}
    if isinstance(data, cls):
        return check_finite(data, where=where)
    if attrs.has(type(data)):
        raise ConfigError(f"{where or 'config'}: expected {cls.__name__} or a dict, got {type(data).__name__}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a dict of {cls.__name__} fields, got {type(data).__name__} {bounded_repr(data)}")
    fields = {f.name: f for f in attrs.fields(cls) if f.init}
    unknown = sorted((k for k in data if k not in fields), key=str)
    if unknown:
        shown = ", ".join(bounded_repr(k, 60) for k in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        first = unknown[0] if isinstance(unknown[0], str) else bounded_repr(unknown[0], 60)
        hint = did_you_mean(unknown[0], fields) if isinstance(unknown[0], str) and len(unknown) == 1 else ""
        raise ConfigError(
            f"{prefix}{first[:60]}: unknown field{'s' if len(unknown) > 1 else ''} {shown} for {cls.__name__}; "
            f"valid fields: {', '.join(sorted(fields))}{hint}"
        )
    try:
        config = cls(**data)
    except (TypeError, ValueError, OverflowError) as exc:
        field = _field_of(exc, fields)
        raise ConfigError(f"{prefix}{field + ': ' if field else ''}{_message(exc)}") from exc
    return check_finite(config, where=where)


def check_finite(config: T, *, where: str = "") -> T:
    """``config`` when every float in its fields (and in their lists, tuples and dicts) is finite; else
    :class:`ConfigError` naming the field. A NaN or infinite setting (``alpha=nan``, ``layer_norm_eps=inf``) makes
    every output NaN without an error, so it is refused here, once for every config class. A field whose metadata
    sets :data:`NON_FINITE_OK` may hold one."""
    prefix = f"{where}." if where else ""
    for field in attrs.fields(type(config)):
        if field.metadata.get(NON_FINITE_OK):
            continue
        bad = _non_finite(getattr(config, field.name, None))
        if bad is not None:
            raise ConfigError(f"{prefix}{field.name}: must be a finite number, got {bad!r}; nan and inf make every output nan")
    return config


def _non_finite(value: Any, depth: int = 0) -> float | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if depth < 3 and isinstance(value, (list, tuple)):
        return next((b for b in (_non_finite(v, depth + 1) for v in value[:10_000]) if b is not None), None)
    if depth < 3 and isinstance(value, Mapping):
        return next((b for b in (_non_finite(v, depth + 1) for v in list(value.values())[:10_000]) if b is not None), None)
    return None


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
    text = first if isinstance(first, str) else str(exc)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-serialisable dict of an attrs config."""
    return attrs.asdict(config, recurse=True)


def positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: an int in 1 .. :data:`MAX_DIMENSION` (bools refused), such as a width or a rank."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{attribute.name}' must be an int, got {type(value).__name__} {bounded_repr(value)}", attribute)
    if value <= 0:
        raise ValueError(f"'{attribute.name}' must be > 0, got {bounded_repr(value)}", attribute)
    if value > MAX_DIMENSION:
        raise ValueError(f"'{attribute.name}' must be at most {MAX_DIMENSION:,} (a tensor dimension), got {bounded_repr(value)}", attribute)


positive.schema = {"minimum": 1, "maximum": MAX_DIMENSION}  # type: ignore[attr-defined]  # read by the spec schema


def label_count(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a number of classes, an int in 1 .. :data:`MAX_LABELS` (``num_labels``)."""
    positive(instance, attribute, value)
    if value > MAX_LABELS:
        raise ValueError(
            f"'{attribute.name}' must be at most {MAX_LABELS:,}, got {value:,}: the model config holds one label name per class",
            attribute,
        )


label_count.schema = {"minimum": 1, "maximum": MAX_LABELS}  # type: ignore[attr-defined]


def probability(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: None or a float in [0, 1)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{attribute.name}' must be a float in [0, 1) or None, got {type(value).__name__} {bounded_repr(value)}", attribute)
    if not 0 <= value < 1:
        raise ValueError(f"'{attribute.name}' must be in [0, 1), got {bounded_repr(value)}", attribute)


def non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a finite int or float >= 0 (bools refused), such as a loss weight."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{attribute.name}' must be a number >= 0, got {type(value).__name__} {bounded_repr(value)}", attribute)
    if not 0 <= value < float("inf"):
        raise ValueError(f"'{attribute.name}' must be a finite number >= 0, got {bounded_repr(value)}", attribute)


def one_of(*choices: Any):
    """attrs validator: the value is one of ``choices``."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"'{attribute.name}' must be one of {', '.join(map(repr, choices))}, got {bounded_repr(value)}", attribute)

    check.choices = choices  # type: ignore[attr-defined]  # read by the spec schema
    return check


def flag(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: True or False (no other value stands in for a bool)."""
    if not isinstance(value, bool):
        raise TypeError(f"'{attribute.name}' must be True or False, got {type(value).__name__} {bounded_repr(value)}", attribute)


def activation_name(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a non-empty activation name such as ``"gelu"`` (whether it exists is checked when the head is
    built, by :func:`archit_core.activation`, since the table lives in transformers)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"'{attribute.name}' must be an activation name such as 'tanh' or 'gelu', got {bounded_repr(value)}", attribute)


def positive_number(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a finite int or float > 0 (bools refused), such as a layer-norm epsilon."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"'{attribute.name}' must be a finite positive number, got {bounded_repr(value)}", attribute)


def identifier(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a Python identifier, such as an adapter's name."""
    if not isinstance(value, str) or not value.isidentifier():
        raise ValueError(f"'{attribute.name}' must be an identifier, got {bounded_repr(value)}", attribute)


def positive_ints(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """attrs validator: a tuple of ints in 1 .. :data:`MAX_DIMENSION`, such as layer widths (pair it with
    ``converter=as_tuple``)."""
    if not isinstance(value, tuple) or any(isinstance(w, bool) or not isinstance(w, int) or not 0 < w <= MAX_DIMENSION for w in value):
        raise ValueError(
            f"'{attribute.name}' must be a list of positive integers of at most {MAX_DIMENSION:,}, got {bounded_repr(value)}", attribute
        )


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


def config_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a config class raises for a bad value: ``TypeError``, ``ValueError``, ``OverflowError`` and
    huggingface_hub's ``StrictDataclassError`` (transformers 5's strict config dataclasses), when installed."""
    found: tuple[type[BaseException], ...] = (TypeError, ValueError, OverflowError)
    try:
        from huggingface_hub.errors import StrictDataclassError
    except ImportError:  # an older huggingface_hub: its configs raise TypeError / ValueError
        return found
    return (*found, StrictDataclassError)


def construct_config(cls: type[T], values: Mapping[str, Any], *, where: str = "backbone_config") -> T:
    """``cls(**values)`` for a transformers config class, its refusal of a value as :class:`ConfigError` naming the
    field (``backbone_config.hidden_size: ...expected int, got str``) instead of the class's own exception."""
    try:
        config = cls(**values)
    except config_errors() as exc:
        raise as_config_error(exc, values, where=where, owner=cls.__name__) from exc
    return check_sizes(config, where=where)


def check_sizes(config: T, *, where: str = "backbone_config") -> T:
    """``config`` when the sizes it sets under the field names families use (``hidden_size``, ``num_hidden_layers``,
    ``vocab_size``, ...; :mod:`archit_core.parts.fields`) are ints in 1 .. :data:`MAX_DIMENSION` (depth: 0 ..) and its
    activation is a name; else :class:`ConfigError` naming the field, before a tensor of a negative or absurd size is
    allocated (transformers 5.0 configs check no types, later ones only types)."""
    from .fields import ACTIVATION, HEADS, HIDDEN, LAYERS

    for name in (*HIDDEN, *LAYERS, *HEADS, "intermediate_size", "vocab_size"):
        value = _global_field(config, name)
        if value is None or isinstance(value, (list, tuple, Mapping)):  # per-layer sizes are the family's own
            continue
        least = 0 if name in LAYERS else 1
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_DIMENSION:
            raise ConfigError(f"{where}.{name}: must be an int in {least} .. {MAX_DIMENSION:,}, got {bounded_repr(value)}")
    for name in ACTIVATION:
        value = _global_field(config, name)
        if isinstance(value, (bool, int, float)) or value == "":
            raise ConfigError(f"{where}.{name}: must be an activation name such as 'gelu', got {bounded_repr(value)}")
    return config


def _global_field(config: Any, name: str) -> Any:
    """``config.<name>``, or None where the family keeps it per layer and refuses a global read (transformers'
    ``AmbiguousGlobalPerLayerAttributeError``): those sizes are the family's own to check."""
    try:
        return getattr(config, name, None)
    except Exception:  # noqa: BLE001 - any refusal to read a global value means "not a global field"
        return None


def as_config_error(exc: BaseException, values: Mapping[str, Any], *, where: str, owner: str = "the config class") -> ConfigError:
    """A config class's refusal of ``values`` (one of :func:`config_errors`) as a :class:`ConfigError` at
    ``where.<field>``, its message bounded."""
    field = _field_of(exc, {k: None for k in values if isinstance(k, str)})
    text = " ".join(str(exc).split())
    if field and text.startswith(f"Validation error for field '{field}':"):
        text = text.split(":", 1)[1].strip()
    text = text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."
    return ConfigError(f"{where}{'.' + field if field else ''}: {owner} refused the value: {text}")
