"""Pipelines that heads contribute: ``transformers.pipeline(task, model=...)`` for what a head predicts."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'SpanPipeline': '.spans',
    'WordPipeline': '.words',
    'register_pipelines': '.registration',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
