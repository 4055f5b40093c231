"""Whole architectures from JSON/YAML specs: building, checking, the optimizer, and the JSON Schema."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'HEAD_KEYS': '.spec',
    'OPTIMIZERS': '.spec',
    'SPEC_KEYS': '.spec',
    'build_from_spec': '.spec',
    'build_optimizer': '.spec',
    'check_spec': '.spec',
    'loads_json': '.spec',
    'config_schema': '.schema',
    'read_spec': '.spec',
    'spec_schema': '.schema',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
