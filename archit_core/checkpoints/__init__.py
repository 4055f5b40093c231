"""Checkpoint folders: reading them, planning and loading weights, safe saves, inspection, Hugging Face interop, export and
convert."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'BIN_INDEX': '.folder',
    'LEFTOVER': '.saving',
    'MODEL_FILES': '.saving',
    'WEIGHT_FILES': '.folder',
    'BIN_SINGLE': '.folder',
    'CheckpointFolder': '.folder',
    'CheckpointReport': '.inspection',
    'ConvertReport': '.convert',
    'INPUT_FILES': '.convert',
    'KeyMap': '.keymap',
    'LoadingReport': '.load',
    'PARTS': '.load',
    'SAFE_INDEX': '.folder',
    'SAFE_SINGLE': '.folder',
    'backbone_for': '.inspection',
    'backbone_key_map': '.interop',
    'check_archit_source': '.convert',
    'check_target': '.saving',
    'clear_leftovers': '.saving',
    'checkpoint_dir': '.folder',
    'convert': '.convert',
    'convert_hf_state_dict': '.interop',
    'equivalent': '.interop',
    'from_pretrained': '.load',
    'head_config_for_hf': '.interop',
    'head_for': '.inspection',
    'head_key_map': '.interop',
    'hf_class_name': '.interop',
    'hf_config': '.export',
    'hf_equivalent': '.export',
    'hf_key_map': '.interop',
    'hf_layout_of': '.interop',
    'hf_state_dict': '.export',
    'identity_of': '.saving',
    'import_hf_state_dict': '.interop',
    'inspect_checkpoint': '.inspection',
    'inspect_report': '.inspection',
    'is_archit_config': '.folder',
    'local_checkpoint': '.folder',
    'open_checkpoint': '.folder',
    'read_config': '.folder',
    'read_state_dict': '.folder',
    'resolve_hf_values': '.interop',
    'save_folder': '.saving',
    'swap': '.saving',
    'tensor_info': '.inspection',
    'to_transformers': '.export',
    'weight_files': '.folder',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
