"""Plugins: the pluggy hook specs, the plugin host (entry points, allow/deny lists, isolation) and the registry of named backbones, heads and rewrites with their provenance."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'BUILTIN_PLUGINS': '.host',
    'CORE_DISTRIBUTION': '.host',
    'ENTRY_POINT_GROUP': '.host',
    'KINDS': '.registrations',
    'PROJECT': '.hookspecs',
    'PluginHost': '.host',
    'PluginInfo': '.registrations',
    'PluginRegistry': '.registrations',
    'REGISTERING_HOOKS': '.hookspecs',
    'Registration': '.registrations',
    'Registry': '.registrations',
    'Resolver': '.registrations',
    'ResolverEntry': '.registrations',
    'declare_module': '.hookspecs',
    'get_host': '.host',
    'hookimpl': '.hookspecs',
    'hookspec': '.hookspecs',
    'normalise_name': '.registrations',
    'provide_backbone': '.hookspecs',
    'provide_head': '.hookspecs',
    'rewrite_module': '.hookspecs',
    'set_host': '.host',
    'using': '.host',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
