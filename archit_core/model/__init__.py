"""The model: ArchitConfig, ModelWithHead and its outputs, the build/load pipeline, and the transformers-version adapter."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'ArchitConfig': '.config',
    'ArchitOutput': '.modeling',
    'CACHE': '.transformers_compat',
    'CONFIG_OPTIONS': '.build',
    'DIFFERENCES': '.transformers_compat',
    'GenerativeModelWithHead': '.modeling',
    'HEAD_PARTS': '.modeling',
    'ModelWithHead': '.modeling',
    'OTHER_CACHE_NAMES': '.transformers_compat',
    'Plan': '.build',
    'SingleHead': '.build',
    'SmokeReport': '.build',
    'TRANSFORMERS_VERSION': '.transformers_compat',
    'build': '.build',
    'cache_of': '.transformers_compat',
    'check_compatible': '.modeling',
    'features': '.transformers_compat',
    'head_part': '.build',
    'head_part_class': '.modeling',
    'hf_backbone_key_map': '.build',
    'hf_backbone_mapping': '.build',
    'load': '.build',
    'output_class': '.transformers_compat',
    'plan_checkpoint': '.build',
    'registration': '.build',
    'rename_cache_kwargs': '.transformers_compat',
    'resolve_part': '.config',
    'smoke': '.build',
    'summary': '.build',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
