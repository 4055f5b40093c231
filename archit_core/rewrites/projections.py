"""Projections adapters wrap: ``nn.Linear``, transformers' ``Conv1D`` (GPT-2's fused, transposed linear layer) and
``nn.Conv1d`` (SqueezeBERT's), with what a low-rank adapter needs of each, as peft does it: the widths, the two factors
of the kind that reads the layer's input, and a product of factors in the layer's own weight layout (for merging)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


def _conv1d_class() -> tuple[type, ...]:
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # transformers absent: only torch's layers
        return ()
    return (Conv1D,)


#: The layer classes a projection adapter wraps.
PROJECTIONS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, *_conv1d_class())


def is_projection(module: Any) -> bool:
    """Whether ``module`` is one of :data:`PROJECTIONS`."""
    return isinstance(module, PROJECTIONS)


def projection_features(module: nn.Module) -> tuple[int, int]:
    """``(in, out)`` widths of a projection (a ``Conv1D`` stores its weight as ``(in, out)``)."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, nn.Conv1d):
        return module.in_channels, module.out_channels
    return tuple(module.weight.shape)  # type: ignore[return-value]


def low_rank_factors(base: nn.Module, rank: int) -> tuple[nn.Module, nn.Module]:
    """``(down, up)``: the factors of a rank-``rank`` update of ``base``, on its device and dtype, as peft's
    ``lora_A``/``lora_B``: linear layers for a linear layer or a ``Conv1D``; for a ``nn.Conv1d``, ``down`` a
    convolution of ``base``'s kernel, stride and padding and ``up`` a 1-wide one in ``base``'s groups (the rank must
    then be a multiple of the groups)."""
    fan_in, fan_out = projection_features(base)
    kw = {"device": base.weight.device, "dtype": base.weight.dtype, "bias": False}
    if isinstance(base, nn.Conv1d):
        if rank % base.groups:
            raise ValueError(f"a rank of {rank} does not split over the layer's {base.groups} groups; choose a multiple of {base.groups}")
        down = nn.Conv1d(fan_in, rank, base.kernel_size, base.stride, base.padding, **kw)
        return down, nn.Conv1d(rank, fan_out, 1, 1, groups=base.groups, **kw)
    return nn.Linear(fan_in, rank, **kw), nn.Linear(rank, fan_out, **kw)


def factor_product(base: nn.Module, down: nn.Module, up: nn.Module) -> torch.Tensor:
    """``up @ down`` in ``base.weight``'s layout (transposed for a ``Conv1D``, a convolution kernel for a
    ``nn.Conv1d``): what the factors add to ``base``'s weight. A grouped convolution has none (peft's neither)."""
    if isinstance(base, nn.Conv1d):
        if base.groups > 1:
            raise ValueError("an adapter on a grouped convolution cannot be merged into its weight (peft's neither)")
        return F.conv1d(down.weight.transpose(0, 1), up.weight).transpose(0, 1)
    product = up.weight @ down.weight
    return product if isinstance(base, nn.Linear) else product.T
