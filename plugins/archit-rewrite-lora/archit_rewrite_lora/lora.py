"""The LoRA module: a linear layer plus named low-rank adapters, ``W x + (alpha / r) B A dropout(x)`` as in peft."""

from __future__ import annotations

import math

import torch
from torch import nn

from archit_core.rewrites import AdapterLayer, merge, set_adapter, unmerge

__all__ = ["LoRALinear", "merge", "set_adapter", "unmerge"]  # the model-wide functions: archit_core's


class LoRALinear(AdapterLayer):
    """``base_layer`` (the shared linear layer) with adapters ``lora_A[name]``, ``lora_B[name]``; the active ones add up.

    Key names follow peft (``base_layer``, ``lora_A.<adapter>``, ``lora_B.<adapter>``) so adapters move between the two.
    """

    kind = "LoRA"
    adapter_modules = ("lora_A", "lora_B", "lora_dropout")
    scaling: dict[str, float] = {}  # alpha / r per adapter: replaced on each new adapter, never changed in place

    def create_adapter(self, name: str, r: int, alpha: float, dropout: float) -> None:
        """A and B of rank ``r`` (peft's init: B starts at zero, so the layer computes what it did before)."""
        weight = self.base_layer.weight
        a = nn.Linear(self.base_layer.in_features, r, bias=False, device=weight.device, dtype=weight.dtype)
        b = nn.Linear(r, self.base_layer.out_features, bias=False, device=weight.device, dtype=weight.dtype)
        nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
        nn.init.zeros_(b.weight)
        self.lora_A[name], self.lora_B[name] = a, b
        self.lora_dropout[name] = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = {**self.scaling, name: alpha / r}

    def adapter_output(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.lora_B[name](self.lora_A[name](self.lora_dropout[name](x))) * self.scaling[name]

    def delta_weight(self, name: str) -> torch.Tensor:
        return (self.lora_B[name].weight @ self.lora_A[name].weight) * self.scaling[name]

