"""The pluggy hook specifications that archit plugins implement."""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "archit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def provide_backbone(registry: Any) -> None:
    """Register named backbones with ``registry.add_backbone(name, backbone)``."""


@hookspec
def provide_head(registry: Any) -> None:
    """Register named heads with ``registry.add_head(name, head_spec)``."""


@hookspec
def rewrite_module(registry: Any) -> None:
    """Register named, opt-in rewrites with ``registry.add_rewrite(name, rewrite)``."""


@hookspec(firstresult=True)
def declare_module(module: Any, context: Any) -> Any:
    """Return source code (imports and a constructor expression) for one of the plugin's own module classes,
    or None when the module is not the plugin's."""


#: The registering hooks, in the order the host calls them.
REGISTERING_HOOKS = ("provide_backbone", "provide_head", "rewrite_module")
