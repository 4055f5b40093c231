"""Non-destructive rewrites (LoRA and others): new models on the same storage, and saving/loading rewrite weights."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'AdapterLayer': '.adapters',
    'adapter_layers': '.adapters',
    'merge': '.adapters',
    'set_adapter': '.adapters',
    'unmerge': '.adapters',
    'PROJECTIONS': '.projections',
    'factor_product': '.projections',
    'is_projection': '.projections',
    'low_rank_factors': '.projections',
    'projection_features': '.projections',
    'BASE': '.rewrite',
    'HISTORY': '.rewrite',
    'ROLE_FALLBACKS': '.rewrite',
    'base_of': '.rewrite',
    'default_targets': '.rewrite',
    'REWRITES_FILE': '.rewrite',
    'RewriteSpec': '.rewrite',
    'WEIGHTS_FILE': '.rewrite',
    'load_rewrites': '.rewrite',
    'constructor_code': '.rewrite',
    'rewrite': '.rewrite',
    'rewrites_of': '.rewrite',
    'save_rewrites': '.rewrite',
    'shared_copy': '.sharing',
    'shares_storage': '.sharing',
    'target_paths': '.rewrite',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
