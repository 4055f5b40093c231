"""The LoRA module: a projection plus named low-rank adapters, ``W x + (alpha / r) B A dropout(x)`` as in peft."""

from __future__ import annotations

import math

import torch
from torch import nn

from archit_core.rewrites import AdapterLayer, merge, set_adapter, unmerge
from archit_core.rewrites.projections import PROJECTIONS, factor_product, low_rank_factors

__all__ = ["LoRALinear", "merge", "set_adapter", "unmerge"]  # the model-wide functions: archit_core's


class LoRALinear(AdapterLayer):
    """``base_layer`` (the shared ``nn.Linear``, ``Conv1D`` or ``nn.Conv1d``) with adapters ``lora_A[name]``,
    ``lora_B[name]``, the active ones adding up; keys and factor kinds are peft's, so adapters move between the two."""

    kind = "LoRA"
    base_class = PROJECTIONS
    adapter_modules = ("lora_A", "lora_B", "lora_dropout")
    scaling: dict[str, float] = {}  # alpha / r per adapter: replaced on each new adapter, never changed in place

    def create_adapter(self, name: str, r: int, alpha: float, dropout: float) -> None:
        """A and B of rank ``r`` (peft's init: B starts at zero, so the layer computes what it did before)."""
        a, b = low_rank_factors(self.base_layer, r)
        nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
        nn.init.zeros_(b.weight)
        self.lora_A[name], self.lora_B[name] = a, b
        self.lora_dropout[name] = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = {**self.scaling, name: alpha / r}

    def adapter_output(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.lora_B[name](self.lora_A[name](self.lora_dropout[name](x))) * self.scaling[name]

    def delta_weight(self, name: str) -> torch.Tensor:
        return factor_product(self.base_layer, self.lora_A[name], self.lora_B[name]) * self.scaling[name]
