"""Registers ``ArchitConfig`` and ``ModelWithHead`` with transformers' Auto classes once transformers loads them,
so ``AutoModel.from_pretrained`` reads archit checkpoints without ``import archit_core`` importing transformers."""

from __future__ import annotations

import importlib.abc
import sys
import warnings
from collections.abc import Callable
from typing import Any

CONFIG_MODULE = "transformers.models.auto.configuration_auto"
MODEL_MODULE = "transformers.models.auto.modeling_auto"


def _register_config() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    from .config import ArchitConfig

    CONFIG_MAPPING.register("archit", ArchitConfig, exist_ok=True)


def _register_model() -> None:
    from transformers.models.auto.modeling_auto import AutoModel

    from .config import ArchitConfig
    from .modeling import ModelWithHead

    AutoModel.register(ArchitConfig, ModelWithHead, exist_ok=True)


_CALLBACKS: dict[str, Callable[[], None]] = {CONFIG_MODULE: _register_config, MODEL_MODULE: _register_model}


def _run(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception as exc:  # never break the user's transformers import
        warnings.warn(f"archit could not register with transformers' Auto classes: {exc}", stacklevel=2)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: Any, callback: Callable[[], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _run(self._callback)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ... for inspect and tracebacks
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        callback = _CALLBACKS.get(fullname)
        if callback is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, callback)
                return spec
        return None


def install() -> None:
    """Register now for what transformers already loaded, and on import for the rest."""
    for name, callback in _CALLBACKS.items():
        if name in sys.modules:
            _run(callback)
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
