"""The flat module paths of archit-core 0.1 (``archit_core.configs``, ``archit_core.modeling``, ...) as deprecated
aliases of their new homes in the subpackages, for one release: ``import archit_core.configs`` still works and
warns, and the names read through it are the new modules' own objects."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings
from importlib import import_module
from types import ModuleType
from typing import Any

#: old module -> new module
MOVED: dict[str, str] = {
    "archit_core.hookspecs": "archit_core.registry.hookspecs",
    "archit_core.host": "archit_core.registry.host",
    "archit_core._autoregister": "archit_core.model.auto",
    "archit_core.backbone": "archit_core.parts.backbone",
    "archit_core.head": "archit_core.parts.head",
    "archit_core.head_module": "archit_core.parts.head_module",
    "archit_core.word_pooling": "archit_core.parts.word_pooling",
    "archit_core.configs": "archit_core.parts.configs",
    "archit_core.dummy": "archit_core.parts.dummy",
    "archit_core.model_config": "archit_core.model.config",
    "archit_core.modeling": "archit_core.model.modeling",
    "archit_core.transformers_compat": "archit_core.model.transformers_compat",
    "archit_core.build": "archit_core.model.build",
    "archit_core.multitask_head": "archit_core.multitask.head",
    "archit_core.loading": "archit_core.checkpoints.load",
    "archit_core.inspection": "archit_core.checkpoints.inspection",
    "archit_core.interop": "archit_core.checkpoints.interop",
    "archit_core.export": "archit_core.checkpoints.export",
    "archit_core.module_diff": "archit_core.declaration.diff",
    "archit_core.emitters": "archit_core.declaration.emitters",
    "archit_core.codegen": "archit_core.declaration",
    "archit_core.verification": "archit_core.declaration.verify",
    "archit_core.spec_schema": "archit_core.specs.schema",
    "archit_core.rewriting": "archit_core.rewrites.rewrite",
    "archit_core.sharing": "archit_core.rewrites.sharing",
}


class _CallableAlias(ModuleType):
    """An alias module standing where a function of the same name was (``archit_core.build``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["__call__"](*args, **kwargs)


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: Any) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        new = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} is deprecated and will be removed in archit-core 0.3: import {new}, or the "
                      "name from archit_core", DeprecationWarning, stacklevel=2)
        real = import_module(new)
        module.__dict__["__getattr__"] = lambda name: getattr(real, name)
        parent, _, leaf = module.__name__.rpartition(".")
        shadowed = getattr(sys.modules[parent], leaf, None)  # archit_core.build: the old module and the function
        if callable(shadowed) and not isinstance(shadowed, ModuleType):
            # importing the alias rebinds archit_core.<leaf> to it; calling it still calls the function
            module.__class__ = _CallableAlias
            module.__dict__["__call__"] = shadowed
        module.__dict__["__all__"] = getattr(real, "__all__", [n for n in vars(real) if not n.startswith("_")])
        module.__doc__ = f"Deprecated alias of {new}."


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
