"""Several named heads on one backbone: the multi-task head part, add_head and drop_head."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'LABELS_SUFFIX': '.tasks',
    'MultiTaskConfig': '.tasks',
    'MultiTaskHead': '.head',
    'MultiTaskOutput': '.head',
    'MultiTaskSpec': '.tasks',
    'TaskHeads': '.tasks',
    'add_head': '.tasks',
    'build_multitask': '.tasks',
    'drop_head': '.tasks',
    'config_entries': '.tasks',
    'multitask_parts': '.head',
    'normalise_heads': '.tasks',
    'resolve_tasks': '.tasks',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
