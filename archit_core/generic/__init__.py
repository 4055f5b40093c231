"""Any transformers model_type as a backbone, resolved on demand, with tiny architectures and head layouts inferred per family."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'ACTIVATION': '.backbones',
    'CLASSIFIER_DROPOUT': '.backbones',
    'DESCRIPTION': '.backbones',
    'DROPOUT': '.backbones',
    'EXTRA_INPUTS': '.backbones',
    'GenericBackbone': '.backbones',
    'GenericBackbones': '.backbones',
    'HEADS': '.backbones',
    'HIDDEN': '.backbones',
    'INIT_RANGE': '.backbones',
    'LAYERS': '.backbones',
    'LAYER_NORM_EPS': '.backbones',
    'TINY_LAYERS': '.backbones',
    'TINY_VOCAB': '.backbones',
    'backbones_report': '.backbones',
    'generic_backbone': '.backbones',
    'infer_head_layout': '.backbones',
    'model_types': '.backbones',
    'print_backbones': '.backbones',
    'provide_backbone': '.backbones',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
