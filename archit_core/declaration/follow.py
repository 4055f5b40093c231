"""Constructor values written through the model's config (``config.vocab_size`` rather than ``60``), so a declared
class follows a changed config as a hand-written one would, and the check of that with a second config whose fields
differ (:func:`follows_config`)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

#: Above this many parameters, the second config is checked by building on the meta device only (no forward).
SMALL_MODEL = 5_000_000


def is_config(obj: Any) -> bool:
    """Whether ``obj`` is a config object whose fields a value may be written through (a transformers config, or any
    object with ``to_dict`` or a class named ``...Config``)."""
    if obj is None or isinstance(obj, (nn.Module, type, int, float, str, bool, tuple, list, dict)):
        return False
    return hasattr(obj, "__dict__") and (hasattr(obj, "to_dict") or type(obj).__name__.endswith("Config"))


def _fields(obj: Any) -> dict[str, Any]:
    """The fields of a config a constructor value may come from: numbers, not token ids, not 0 or +-1 (too common
    to mean anything)."""
    found = {}
    for key, value in vars(obj).items():
        if key.startswith("_") or key.endswith(("_id", "_ids", "_index")) or type(value) not in (int, float):
            continue
        if (type(value) is int and abs(value) < 2) or (type(value) is float and (value in (0.0, 1.0) or not math.isfinite(value))):
            continue
        found[key] = value
    return found


#: Below this, an integer equal to several fields is too common to be taken from the enclosing ``__init__``'s reads.
_SMALL = 8


def config_field(value: Any, scope: Mapping[str, Any], site: Iterable[str] = (), reads: Iterable[str] = ()) -> tuple[str, str, Any] | None:
    """``(name in scope, field, config)`` when ``value`` equals exactly one field of exactly one config in ``scope``
    (same type and value). Several equal fields are told apart by those the original read at this very place
    (``site``), then, for a float or an integer of 8 or more, by those the enclosing ``__init__`` reads (``reads``:
    DeBERTa's ``hidden_size`` rather than its ``pooler_hidden_size`` of the same value); None otherwise (ambiguous
    values stay literals)."""
    if type(value) not in (int, float):
        return None
    matches = [(key, field, obj) for key, obj in scope.items() if is_config(obj)
               for field, known in _fields(obj).items() if type(known) is type(value) and known == value]
    unique = {(id(obj), field): (key, field, obj) for key, field, obj in matches}
    tiers = [set(site)] + ([set(reads)] if type(value) is float or abs(value) >= _SMALL else [])
    for preferred in tiers:
        if len(unique) <= 1:
            break
        narrowed = {k: v for k, v in unique.items() if v[1] in preferred}
        unique = narrowed if narrowed else unique
    return next(iter(unique.values())) if len(unique) == 1 else None


def second_config(config: Any, uses: Iterable[tuple[Any, str]]) -> Any:
    """A copy of ``config`` whose fields differ: in each config object a declared value was written through (``config``
    or a config held by it), every integer field of 2 or more is doubled (divisibility, e.g. of the hidden size by the
    number of heads, is kept) and every float field used is halved."""
    uses = list(uses)
    twin = copy.deepcopy(config)
    pairs = [(config, twin)] + [(value, getattr(twin, key)) for key, value in vars(config).items() if is_config(value)]
    for original, copied in pairs:
        used = {field for obj, field in uses if obj is original}
        if not used:
            continue
        for field, value in _fields(original).items():
            if type(value) is int:
                setattr(copied, field, value * 2)
            elif field in used:
                setattr(copied, field, value / 2)
    return twin


def _forward(model: nn.Module) -> None:
    from ..parts.dummy import module_batch

    model.eval()
    with torch.no_grad():
        model(**module_batch(model))


def follows_config(top: type, reference_class: type, config: Any, uses: Iterable[tuple[Any, str]]) -> str | None:
    """Build ``top`` from :func:`second_config` (on the meta device; for a small model also for real, with a forward
    pass on a dummy batch) and say what fails, or None. A second config the reference class itself cannot build or
    run proves nothing, so it gives None too."""
    second = second_config(config, uses)
    with torch.random.fork_rng(devices=[]):
        try:
            with torch.device("meta"):
                reference_class(second)
        except Exception:  # noqa: BLE001 - the second config is not valid for the family itself
            return None
        try:
            with torch.device("meta"):
                built = top(second)
        except Exception as exc:  # noqa: BLE001 - any failure of the generated code is the finding
            return f"{top.__qualname__} built from a config with other field values raised {type(exc).__name__}: {exc}"
        if sum(p.numel() for p in built.parameters()) > SMALL_MODEL:
            return None
        try:
            _forward(top(second))
        except Exception as exc:  # noqa: BLE001
            try:
                _forward(reference_class(second))
            except Exception:  # noqa: BLE001 - the family itself does not run with it
                return None
            return f"{top.__qualname__} built from a config with other field values fails on a dummy batch ({type(exc).__name__}: {exc})"
    return None
