"""Registers archit with transformers' Auto classes once transformers loads them, without ``import archit_core``
importing transformers: ``ArchitConfig`` with ``AutoConfig``; with ``AutoModel`` a loader that gives an archit
checkpoint's backbone (as ``AutoModel`` gives the base model of a ``*For*`` checkpoint); and with every
``AutoModelFor<Task>`` an installed head is equivalent to, that head's model class (``ArchitForTokenClassification``),
which refuses a checkpoint of another head."""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
import warnings
from collections.abc import Callable
from typing import Any

CONFIG_MODULE = "transformers.models.auto.configuration_auto"
MODEL_MODULE = "transformers.models.auto.modeling_auto"
PIPELINES_MODULE = "transformers.pipelines"


def _register_config() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    from .config import ArchitConfig

    CONFIG_MAPPING.register("archit", ArchitConfig, exist_ok=True)


def _register_model() -> None:
    from transformers.models.auto.modeling_auto import AutoModel

    from .config import ArchitConfig
    from .modeling import CLASS_LISTENERS, ArchitModel

    AutoModel.register(ArchitConfig, ArchitModel, exist_ok=True)
    if _announce not in CLASS_LISTENERS:
        CLASS_LISTENERS.append(_announce)
    register_heads()


def register_heads(host: Any = None) -> dict[str, type]:
    """Register the model class of every head of ``host`` (the current plugin host) that has a Hugging Face
    equivalent with that equivalent's ``AutoModelFor<Task>``, and the pipelines heads declare; returns ``{auto class:
    model class}``. Runs when transformers loads its Auto classes; a head's class made later registers itself."""
    from ..registry.host import get_host
    from .modeling import task_class_of

    host = host or get_host()
    done: dict[str, type] = {}
    for name in host.registry.names("head"):
        cls = task_class_of(name, host.registry.get("head", name).obj)  # announced: registered by _announce
        if cls.auto_class:
            done.setdefault(cls.auto_class, cls)
    return done


def _announce(head: str, spec: Any, cls: type) -> None:
    """Register a head's new model class with its ``AutoModelFor<Task>`` and its pipelines with transformers."""
    import transformers

    from .config import ArchitConfig

    auto = getattr(transformers, cls.auto_class, None) if cls.auto_class else None
    if auto is not None and auto._model_mapping._extra_content.get(ArchitConfig) is None:
        auto.register(ArchitConfig, cls, exist_ok=True)
    loaded = getattr(sys.modules.get(PIPELINES_MODULE), "PIPELINE_REGISTRY", None) is not None  # not while it loads
    if loaded:
        from ..pipelines.registration import register_spec_pipelines

        register_spec_pipelines(spec, cls)


def _register_pipelines() -> None:
    """Register the pipelines of every head class made so far and of the current host's heads, and have transformers'
    registry retry them on an unknown task: a pipeline module that is itself importing ``transformers.pipelines``
    (the first import of it) cannot be registered yet, and a later host may hold other heads."""
    from transformers.pipelines import PIPELINE_REGISTRY

    check = PIPELINE_REGISTRY.check_task
    if not getattr(check, "archit_retries", False):

        def check_task(task: str) -> Any:
            try:
                return check(task)
            except KeyError:  # transformers' "Unknown task": perhaps a head's, not registered yet
                _register_known_pipelines()
                return check(task)

        check_task.archit_retries = True  # type: ignore[attr-defined]
        PIPELINE_REGISTRY.check_task = check_task
    _register_known_pipelines()


def _register_known_pipelines() -> None:
    from ..pipelines.registration import register_pipelines

    with contextlib.suppress(ImportError, AttributeError):  # a pipeline module mid-import: retried on first use
        register_pipelines()


_CALLBACKS: dict[str, Callable[[], None]] = {CONFIG_MODULE: _register_config, MODEL_MODULE: _register_model,
                                             PIPELINES_MODULE: _register_pipelines}


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
