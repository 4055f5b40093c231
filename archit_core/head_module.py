"""The ``nn.Module`` side of heads: the base class and pooling shared by sequence-level heads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .backbone import BackboneFacts, BackboneOutput
from .errors import ArchitError


@dataclass
class HeadOutput:
    """What a head returns: its logits and, when labels were given, its loss."""

    logits: Any
    loss: torch.Tensor | None = None


class Head(nn.Module):
    """Base class of heads: built from a validated head config and the backbone's facts.

    ``forward(features, labels=None, **inputs)`` receives a :class:`BackboneOutput` and the extra inputs the head
    declared in its :class:`HeadSpec`, and returns a :class:`HeadOutput` with its own loss when labels are given.
    """

    def __init__(self, config: Any, backbone: BackboneFacts) -> None:
        super().__init__()
        self.config = config
        self.backbone_facts = backbone

    def forward(self, features: BackboneOutput, labels: torch.Tensor | None = None, **inputs: Any) -> HeadOutput:
        raise NotImplementedError


def pool_sequence(features: BackboneOutput, mode: str) -> torch.Tensor:
    """One vector per sequence: the ``first`` token, the ``mean`` over the attention mask, or the backbone's ``pooler``."""
    states = features.token_states
    if mode == "first":
        return states[:, 0]
    if mode == "mean":
        mask = features.attention_mask
        if mask is None:
            return states.mean(dim=1)
        mask = mask.to(states.dtype).unsqueeze(-1)
        return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if mode == "pooler":
        if features.pooled is None:
            raise ArchitError("pooling='pooler' but the backbone returned no pooled output")
        return features.pooled
    raise ValueError(f"unknown pooling {mode!r}; use 'first', 'mean' or 'pooler'")
