"""Registers the pipeline tasks of installed heads (``HeadSpec.pipelines``) with transformers' pipeline registry,
when transformers loads its pipelines (see ``archit_core.model.auto``), so ``pipeline("dependency-parsing", ...)``
works like a built-in task."""

from __future__ import annotations

from typing import Any

from .._imports import resolve
from ..registry.host import get_host


def register_pipelines(host: Any = None) -> dict[str, type]:
    """Register every pipeline task the heads of ``host`` (the current plugin host) and every head class made so
    far declare, each loading models with its head's model class; returns ``{task: pipeline class}``. Call it again
    after installing a plugin in a running process."""
    from ..model.modeling import ANNOUNCED, task_class_of

    host = host or get_host()
    for name in host.registry.names("head"):
        task_class_of(name, host.registry.get("head", name).obj)  # makes (and announces) the head's model class
    done: dict[str, type] = {}
    for (_head, cls), spec in list(ANNOUNCED.items()):
        done |= register_spec_pipelines(spec, cls)
    return done


def register_spec_pipelines(spec: Any, model_class: type) -> dict[str, type]:
    """Register the pipeline tasks one head's spec declares (``HeadSpec.pipelines``), each loading ``model_class``."""
    return {task: register_pipeline(task, ref, model_class) for task, ref in (getattr(spec, "pipelines", None) or {}).items()}


def register_pipeline(task: str, ref: str | type, model_class: type) -> type:
    """Register the pipeline class ``ref`` (``"module:Class"`` or the class) for ``task``, loading ``model_class``."""
    from transformers.pipelines import PIPELINE_REGISTRY

    cls = resolve(ref)
    known = PIPELINE_REGISTRY.supported_tasks.get(task)
    if known is None or known.get("impl") is not cls or known.get("pt") != (model_class,):
        PIPELINE_REGISTRY.register_pipeline(task, pipeline_class=cls, pt_model=model_class, type="text")
    return cls
