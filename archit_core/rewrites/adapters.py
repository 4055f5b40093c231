"""Adapter layers: a shared base layer plus named adapters that add to its output (LoRA, IA3, DoRA, ...), the
bookkeeping every such rewrite repeats (wrapping, names, the active set, merging into a new weight and back) and
the functions that act on every adapter layer of a model. A plugin writes only its adapter's mathematics."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..parts.configs import config_to_dict


class AdapterLayer(nn.Module):
    """``base_layer`` (shared with the model that was rewritten) and named adapters, the ``active`` ones adding up.

    A subclass names its per-adapter ``nn.ModuleDict`` containers in ``adapter_modules`` (their keys are the adapter
    names; they are registered in that order after ``base_layer``, which fixes the state-dict keys), says which layers
    it wraps (``base_class``) and what it is called in messages (``kind``), and implements :meth:`create_adapter`,
    :meth:`adapter_output` and :meth:`delta_weight`. Merging folds the active adapters into a *new* base weight and
    keeps the shared one, so the model the adapters were added to never changes.
    """

    kind: ClassVar[str] = "adapter"
    base_class: ClassVar[type[nn.Module] | tuple[type[nn.Module], ...]] = nn.Linear
    adapter_modules: ClassVar[tuple[str, ...]] = ()

    def __init__(self, base_layer: nn.Module) -> None:
        super().__init__()
        self.base_layer = base_layer
        for name in self.adapter_modules:
            setattr(self, name, nn.ModuleDict())
        self.active: tuple[str, ...] = ()
        self._unmerged: tuple[nn.Parameter, ...] = ()  # the shared base weight while merged (a tuple: not registered)

    @classmethod
    def wrap(cls, module: nn.Module) -> AdapterLayer:
        """``module`` itself when it is already one of these layers (a rewrite of a rewritten model adds an adapter
        to it), else a new layer around it; a module of another type is a ``TypeError`` (the rewrite reports it)."""
        if isinstance(module, cls):
            return module
        if not isinstance(module, cls.base_class):
            classes = cls.base_class if isinstance(cls.base_class, tuple) else (cls.base_class,)
            names = [f"nn.{c.__name__}" if c.__module__.startswith("torch.nn") else c.__qualname__ for c in classes]
            also = f" (also to {' and '.join(names[1:])})" if names[1:] else ""
            raise TypeError(f"{cls.kind} applies to {names[0]} layers, not {type(module).__name__}{also}; choose targets "
                            f"that are {' or '.join(names)} layers")
        return cls(module)

    @classmethod
    def rewrite(cls, module: nn.Module, config: Any, *, path: str = "") -> AdapterLayer:
        """The ``replace`` of an adapter rewrite (``RewriteSpec(replace="package.module:Layer.rewrite")``): ``module``
        wrapped (see :meth:`wrap`) with a new adapter named by the config's ``adapter`` field, made by
        :meth:`create_adapter` from its other fields."""
        layer = cls.wrap(module)
        layer.add_adapter(config.adapter, **{k: v for k, v in config_to_dict(config).items() if k != "adapter"})
        return layer

    @property
    def adapters(self) -> tuple[str, ...]:
        """The adapter names, oldest first."""
        return tuple(getattr(self, self.adapter_modules[0])) if self.adapter_modules else ()

    @property
    def merged(self) -> bool:
        return bool(self._unmerged)

    def add_adapter(self, name: str, **options: Any) -> None:
        """A new adapter ``name`` made by :meth:`create_adapter` (which must leave the layer's output unchanged), made
        the only active one."""
        if name in self.adapters:
            raise ValueError(f"adapter {name!r} is already there; choose another adapter name")
        if self.merged:
            raise ValueError("the layer has merged adapters; unmerge before adding one")
        self.create_adapter(name, **options)
        self.active = (name,)

    def set_active(self, names: tuple[str, ...]) -> None:
        """Make ``names`` the active adapters (none: the base layer's outputs)."""
        unknown = [n for n in names if n not in self.adapters]
        if unknown:
            raise ValueError(f"no adapter {unknown[0]!r}; adapters here: {', '.join(self.adapters)}")
        if self.merged:
            raise ValueError("unmerge the adapters before switching")
        self.active = tuple(names)

    def create_adapter(self, name: str, **options: Any) -> None:
        """Put adapter ``name``'s modules into the ``adapter_modules`` containers."""
        raise NotImplementedError

    def adapter_output(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """What adapter ``name`` adds to the base layer's output for input ``x``."""
        raise NotImplementedError

    def delta_weight(self, name: str) -> torch.Tensor:
        """What adapter ``name`` adds to the base weight (for merging)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        for name in self.active:
            out = out + self.adapter_output(name, x)
        return out

    def merge(self) -> None:
        """Fold the active adapters into a new base weight; the shared original weight is kept, untouched."""
        if self.merged or not self.active:
            return
        original = self.base_layer.weight
        with torch.no_grad():
            merged = original + sum(self.delta_weight(n) for n in self.active)
        self._unmerged = (original,)
        self.base_layer.weight = nn.Parameter(merged, requires_grad=False)

    def unmerge(self) -> None:
        """Go back to the shared original weight and apply the adapters on the fly."""
        if self._unmerged:
            self.base_layer.weight, self._unmerged = self._unmerged[0], ()


def adapter_layers(model: nn.Module, kind: type[AdapterLayer] = AdapterLayer) -> list[AdapterLayer]:
    """The adapter layers (of class ``kind``) of ``model``; none is a ``ValueError`` saying to rewrite it first."""
    layers = [m for m in model.modules() if isinstance(m, kind)]
    if not layers:
        what = kind.kind if kind is not AdapterLayer else "adapter"
        raise ValueError(f"the model has no {what} layers; apply the rewrite that adds them first (archit_core.rewrite(model, name))")
    return layers


def set_adapter(model: nn.Module, *names: str) -> None:
    """Make ``names`` the active adapters of every adapter layer of ``model`` (none: the base model's outputs)."""
    for layer in adapter_layers(model):
        layer.set_active(names)


def merge(model: nn.Module) -> None:
    """Fold the active adapters into the weights of ``model``'s adapter layers (the shared base weights stay unchanged)."""
    for layer in adapter_layers(model):
        layer.merge()


def unmerge(model: nn.Module) -> None:
    """Undo :func:`merge`."""
    for layer in adapter_layers(model):
        layer.unmerge()
