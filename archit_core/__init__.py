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
    IncompatibleHeadError,
    MissingPluginError,
    PluginConflictError,
    PluginError,
    UnknownNameError,
)
from .head import HeadConfig, HeadSpec, HFEquivalent
from .hookspecs import hookimpl, hookspec
from .host import PluginHost, get_host, set_host, using
from .registry import PluginInfo, Registration, Registry

__version__ = "0.1.0"

_LAZY = {
    "ArchitConfig": "archit_core.model_config",
    "ModelWithHead": "archit_core.modeling",
    "ArchitOutput": "archit_core.modeling",
    "Head": "archit_core.head_module",
    "HeadOutput": "archit_core.head_module",
    "pool_sequence": "archit_core.head_module",
    "to_transformers": "archit_core.export",
}

__all__ = [
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
    "HFEquivalent",
    "Head",
    "HeadConfig",
    "HeadOutput",
    "HeadSpec",
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
    "build",
    "config_from_dict",
    "config_to_dict",
    "get_host",
    "hookimpl",
    "hookspec",
    "load",
    "one_of",
    "pool_sequence",
    "positive",
    "probability",
    "set_host",
    "summary",
    "to_transformers",
    "using",
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
