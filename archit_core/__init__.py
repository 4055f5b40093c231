"""archit: any task head on any transformer backbone, from separately installed plugins.

``import archit_core`` imports neither torch nor transformers; the names that need them load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from . import _autoregister
from .backbone import CAPABILITIES, Backbone, BackboneFacts, BackboneOutput, TransformersBackbone
from .build import build, load, summary
from .configs import config_from_dict, config_to_dict, one_of, positive, probability
from .errors import (
    ArchitError,
    ArchitPluginWarning,
    CheckpointError,
    ConfigError,
    DeclarationError,
    DeclarationWarning,
    IncompatibleHeadError,
    MissingPluginError,
    PluginConflictError,
    PluginError,
    UnknownNameError,
)
from .head import SEQUENCE_POOLINGS, HeadConfig, HeadSpec, HFEquivalent
from .hookspecs import hookimpl, hookspec
from .host import PluginHost, get_host, set_host, using
from .registry import PluginInfo, Registration, Registry
from .rewriting import RewriteSpec, load_rewrites, rewrite, rewrites_of, save_rewrites
from .spec_schema import spec_schema
from .specs import build_from_spec, build_optimizer, check_spec
from .sharing import shared_copy, shares_storage

__version__ = "0.1.0"

_LAZY = {
    "ArchitConfig": "archit_core.model_config",
    "ModelWithHead": "archit_core.modeling",
    "ArchitOutput": "archit_core.modeling",
    "Head": "archit_core.head_module",
    "HeadOutput": "archit_core.head_module",
    "pool_sequence": "archit_core.head_module",
    "pool_words": "archit_core.word_pooling",
    "word_ids_from_spans": "archit_core.word_pooling",
    "WORD_POOLING_MODES": "archit_core.word_pooling",
    "to_transformers": "archit_core.export",
    "add_head": "archit_core.multitask",
    "drop_head": "archit_core.multitask",
    "build_multitask": "archit_core.multitask",
    "Declaration": "archit_core.declaration",
    "DeclarationContext": "archit_core.declaration",
    "ModuleCode": "archit_core.declaration",
    "declare": "archit_core.declaration",
    "print_difference": "archit_core.declaration",
}

__all__ = [
    "SEQUENCE_POOLINGS",
    "spec_schema",
    "check_spec",
    "build_optimizer",
    "build_from_spec",
    "shares_storage",
    "shared_copy",
    "save_rewrites",
    "rewrites_of",
    "rewrite",
    "load_rewrites",
    "RewriteSpec",
    "CAPABILITIES",
    "ArchitConfig",
    "ArchitError",
    "ArchitOutput",
    "ArchitPluginWarning",
    "Backbone",
    "BackboneFacts",
    "BackboneOutput",
    "CheckpointError",
    "ConfigError",
    "Declaration",
    "DeclarationContext",
    "DeclarationError",
    "DeclarationWarning",
    "HFEquivalent",
    "Head",
    "HeadConfig",
    "HeadOutput",
    "HeadSpec",
    "ModuleCode",
    "IncompatibleHeadError",
    "MissingPluginError",
    "ModelWithHead",
    "PluginConflictError",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "Registration",
    "Registry",
    "TransformersBackbone",
    "UnknownNameError",
    "WORD_POOLING_MODES",
    "add_head",
    "build",
    "build_multitask",
    "config_from_dict",
    "config_to_dict",
    "drop_head",
    "declare",
    "get_host",
    "hookimpl",
    "hookspec",
    "load",
    "one_of",
    "pool_sequence",
    "pool_words",
    "positive",
    "print_difference",
    "probability",
    "set_host",
    "summary",
    "to_transformers",
    "using",
    "word_ids_from_spans",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'archit_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_autoregister.install()
