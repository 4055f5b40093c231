"""The `archit` command."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'EXIT_ERROR': '.main',
    'main': '.main',
    'make_parser': '.main',
    'module_tree': '.main',
    'plugins_report': '.main',
    'print_build': '.main',
    'print_convert': '.main',
    'print_inspect': '.main',
    'print_plugins': '.main',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
