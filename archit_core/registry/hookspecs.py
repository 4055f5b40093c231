"""The pluggy hook specifications that archit plugins implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # annotations only: importing this module imports neither torch nor the declaration code
    from torch import nn

    from ..declaration import DeclarationContext, ModuleCode
    from .registrations import PluginRegistry

PROJECT = "archit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def provide_backbone(registry: PluginRegistry) -> None:
    """Register named backbones with ``registry.add_backbone(name, backbone)``."""


@hookspec
def provide_head(registry: PluginRegistry) -> None:
    """Register named heads with ``registry.add_head(name, head_spec)``."""


@hookspec
def rewrite_module(registry: PluginRegistry) -> None:
    """Register named, opt-in rewrites with ``registry.add_rewrite(name, rewrite)``."""


@hookspec(firstresult=True)
def declare_module(module: nn.Module, context: DeclarationContext) -> ModuleCode | None:
    """Return source code (imports and a constructor expression) for one of the plugin's own module classes,
    as an ``archit_core.ModuleCode``, or None when the module is not the plugin's. ``context`` is an
    ``archit_core.DeclarationContext`` (the module's path, the reference module, the names in scope and a safe
    ``expression(value)``)."""


#: The registering hooks, in the order the host calls them.
REGISTERING_HOOKS = ("provide_backbone", "provide_head", "rewrite_module")
