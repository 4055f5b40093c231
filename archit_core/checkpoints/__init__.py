"""Checkpoint folders: reading them, planning and loading weights, inspection, Hugging Face interop, export and convert."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'BIN_INDEX': '.folder',
    'BIN_SINGLE': '.folder',
    'LoadingReport': '.load',
    'PARTS': '.load',
    'SAFE_INDEX': '.folder',
    'SAFE_SINGLE': '.folder',
    'backbone_for': '.inspection',
    'checkpoint_dir': '.folder',
    'convert_hf_state_dict': '.interop',
    'equivalent': '.interop',
    'from_pretrained': '.load',
    'head_config_for_hf': '.interop',
    'head_for': '.inspection',
    'hf_class_name': '.interop',
    'hf_config': '.export',
    'hf_equivalent': '.export',
    'hf_key_map': '.interop',
    'hf_state_dict': '.export',
    'import_hf_state_dict': '.interop',
    'inspect_report': '.inspection',
    'is_archit_config': '.folder',
    'local_checkpoint': '.folder',
    'read_config': '.folder',
    'read_state_dict': '.folder',
    'resolve_hf_values': '.interop',
    'tensor_info': '.inspection',
    'to_transformers': '.export',
    'weight_files': '.folder',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
