"""The LoRA module: a linear layer plus named low-rank adapters, ``W x + (alpha / r) B A dropout(x)`` as in peft."""

from __future__ import annotations

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    """``base_layer`` (the shared linear layer) with adapters ``lora_A[name]``, ``lora_B[name]``; the active ones add up.

    Key names follow peft (``base_layer``, ``lora_A.<adapter>``, ``lora_B.<adapter>``) so adapters move between the two.
    """

    def __init__(self, base_layer: nn.Linear) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.lora_A = nn.ModuleDict()
        self.lora_B = nn.ModuleDict()
        self.lora_dropout = nn.ModuleDict()
        self.scaling: dict[str, float] = {}
        self.active: tuple[str, ...] = ()
        self._unmerged: tuple[nn.Parameter, ...] = ()  # the shared base weight while merged (a tuple: not registered)

    @property
    def merged(self) -> bool:
        return bool(self._unmerged)

    def add_adapter(self, name: str, r: int, alpha: float, dropout: float) -> None:
        """A new adapter, made active; B starts at zero so the layer computes what it did before."""
        if name in self.lora_A:
            raise ValueError(f"adapter {name!r} is already there; choose another adapter name")
        if self.merged:
            raise ValueError("the layer has merged adapters; unmerge before adding one")
        weight = self.base_layer.weight
        a = nn.Linear(self.base_layer.in_features, r, bias=False, device=weight.device, dtype=weight.dtype)
        b = nn.Linear(r, self.base_layer.out_features, bias=False, device=weight.device, dtype=weight.dtype)
        nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
        nn.init.zeros_(b.weight)
        self.lora_A[name], self.lora_B[name] = a, b
        self.lora_dropout[name] = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = {**self.scaling, name: alpha / r}
        self.active = (name,)

    def delta_weight(self, name: str) -> torch.Tensor:
        """What adapter ``name`` adds to the base weight."""
        return (self.lora_B[name].weight @ self.lora_A[name].weight) * self.scaling[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        for name in self.active:
            out = out + self.lora_B[name](self.lora_A[name](self.lora_dropout[name](x))) * self.scaling[name]
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


def add_lora(module: nn.Module, config, *, path: str) -> LoRALinear:
    """The ``replace`` of the ``lora`` rewrite: wrap a linear layer, or add an adapter to an already wrapped one."""
    if isinstance(module, LoRALinear):
        layer = module  # archit's copy: new containers, the earlier adapters' weights shared
    elif isinstance(module, nn.Linear):
        layer = LoRALinear(module)
    else:
        raise TypeError(f"LoRA applies to nn.Linear layers, not {type(module).__name__}; choose linear targets")
    layer.add_adapter(config.adapter, config.r, config.alpha, config.dropout)
    return layer


def _layers(model: nn.Module) -> list[LoRALinear]:
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    if not layers:
        raise ValueError("the model has no LoRA layers; apply archit_core.rewrite(model, 'lora') first")
    return layers


def set_adapter(model: nn.Module, *names: str) -> None:
    """Make ``names`` the active adapters of every LoRA layer (none: the base model's outputs)."""
    for layer in _layers(model):
        unknown = [n for n in names if n not in layer.lora_A]
        if unknown:
            raise ValueError(f"no adapter {unknown[0]!r}; adapters here: {', '.join(layer.lora_A)}")
        if layer.merged:
            raise ValueError("unmerge the adapters before switching")
        layer.active = tuple(names)


def merge(model: nn.Module) -> None:
    """Fold the active adapters into the weights of ``model``'s LoRA layers (the shared base weights stay unchanged)."""
    for layer in _layers(model):
        layer.merge()


def unmerge(model: nn.Module) -> None:
    """Undo :func:`merge`."""
    for layer in _layers(model):
        layer.unmerge()
