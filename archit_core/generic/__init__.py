"""Any transformers model_type as a backbone, resolved on demand, with tiny architectures and head layouts inferred per family."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'DESCRIPTION': '.backbone',
    'EXTRA_INPUTS': '.backbone',
    'GenericBackbone': '.backbone',
    'GenericBackbones': '.backbone',
    'generic_backbone': '.backbone',
    'model_types': '.backbone',
    'provide_backbone': '.backbone',
    'encoder_class': '.family',
    'infer_roles': '.family',
    'is_decoder': '.family',
    'infer_head_layout': '.layouts',
    'POOLED_HEAD_CONFIGS': '.pooled',
    'pooled_layouts': '.pooled',
    'ATTENTION_NAMES': '.roles',
    'ProbedRoles': '.roles',
    'probe_roles': '.roles',
    'backbones_report': '.listing',
    'print_backbones': '..cli.backbones',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
