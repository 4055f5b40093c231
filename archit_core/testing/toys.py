"""Toys for tests: a tiny torch-only backbone, a pooled sequence head, and a plugin object that registers any
backbones and heads on a host. A head plugin can test itself on :class:`ToyBackbone` with no backbone plugin
installed::

    host.add(ToyPlugin(backbones={"toy": ToyBackbone()}), name="toys")

This module imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import torch
from torch import nn

from archit_core import (
    Backbone,
    BackboneFacts,
    BackboneOutput,
    ConfigError,
    Head,
    HeadConfig,
    HeadOutput,
    HeadSpec,
    hookimpl,
    one_of,
    pool_sequence,
    positive,
)

#: The toy backbone's default architecture (every field can be overridden).
TOY_CONFIG = {"vocab_size": 50, "hidden_size": 8, "num_layers": 2}


class ToyEncoder(nn.Module):
    """Embeddings, then tanh layers, and a pooler when asked; the forward refuses keyword arguments it does not know."""

    def __init__(self, config: Mapping[str, Any], pooler: bool) -> None:
        super().__init__()
        size = config["hidden_size"]
        self.embeddings = nn.Embedding(config["vocab_size"], size)
        self.layers = nn.ModuleList(nn.Linear(size, size) for _ in range(config["num_layers"]))
        self.pooler = nn.Linear(size, size) if pooler else None

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, output_hidden_states: bool = False):
        x = self.embeddings(input_ids)
        states = [x]
        for layer in self.layers:
            x = torch.tanh(layer(x))
            states.append(x)
        pooled = torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None
        return x, tuple(states) if output_hidden_states else None, pooled


class ToyBackbone(Backbone):
    """A backbone over :class:`ToyEncoder` with a plain-dict config; ``pooler`` says whether it offers a pooler,
    ``input_embeddings`` whether it exposes its embedding matrix (for heads that tie to it)."""

    roles = {"layers": "layers.*", "embeddings": "embeddings"}

    def __init__(self, pooler: bool = False, input_embeddings: bool = True) -> None:
        self.with_pooler = pooler
        self.with_input_embeddings = input_embeddings

    def make_config(self, overrides: Any = None, *, tiny: bool = False) -> dict[str, Any]:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(TOY_CONFIG))
        if unknown:
            raise ConfigError(f"backbone_config.{unknown[0]}: the toy backbone has no field {unknown[0]!r}")
        return {**TOY_CONFIG, **overrides}

    def config_from_dict(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return dict(data)

    def config_to_dict(self, config: Any) -> dict[str, Any]:
        return dict(config)

    def provides(self, config: Any) -> frozenset[str]:
        caps = {"token_states", "hidden_states", "vocabulary"} | ({"pooler"} if self.with_pooler else set())
        return frozenset(caps | ({"input_embeddings"} if self.with_input_embeddings else set()))

    def input_embeddings(self, module: nn.Module) -> nn.Module | None:
        return module.get_input_embeddings() if self.with_input_embeddings else None

    def build(self, config: Any, needs: frozenset[str] = frozenset()) -> nn.Module:
        return ToyEncoder(config, pooler="pooler" in needs)

    def facts(self, config: Any) -> BackboneFacts:
        return BackboneFacts(
            hidden_size=config["hidden_size"],
            num_layers=config["num_layers"],
            vocab_size=config["vocab_size"],
            provides=self.provides(config),
        )

    def encode(self, module: nn.Module, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        states, hidden, pooled = module(**inputs, output_hidden_states=output_hidden_states)
        return BackboneOutput(states, inputs.get("attention_mask"), hidden, pooled)


@attrs.frozen(kw_only=True)
class PooledConfig(HeadConfig):
    """``pooling="pooler"`` (the default) needs the backbone's pooler; ``"mean"`` and ``"first"`` need token states."""

    num_labels: int = attrs.field(default=2, validator=positive)
    pooling: str = attrs.field(default="pooler", validator=one_of("pooler", "mean", "first"))

    def needs(self) -> frozenset[str]:
        return frozenset({"token_states", "pooler"} if self.pooling == "pooler" else {"token_states"})


class PooledHead(Head):
    """A linear classifier on one pooled vector per sequence; cross-entropy loss."""

    def __init__(self, config: PooledConfig, backbone: BackboneFacts) -> None:
        super().__init__(config, backbone)
        self.classifier = nn.Linear(backbone.hidden_size, config.num_labels)

    @classmethod
    def dummy_labels(cls, config: PooledConfig, batch_size: int, seq_len: int, *, generator: Any = None) -> torch.Tensor:
        return torch.randint(0, config.num_labels, (batch_size,), generator=generator)

    def forward(self, features: BackboneOutput, labels: torch.Tensor | None = None, **inputs: Any) -> HeadOutput:
        logits = self.classifier(pool_sequence(features, self.config.pooling))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)


#: The spec of :class:`PooledHead`.
POOLED = HeadSpec(module=PooledHead, config_class=PooledConfig, description="toy sequence classifier")


class ToyPlugin:
    """A plugin object registering the given backbones and heads: ``host.add(ToyPlugin(heads={...}), name=...)``."""

    def __init__(self, backbones: Mapping[str, Any] | None = None, heads: Mapping[str, Any] | None = None) -> None:
        self.backbones = dict(backbones or {})
        self.heads = dict(heads or {})

    @hookimpl
    def provide_backbone(self, registry: Any) -> None:
        for name, backbone in self.backbones.items():
            registry.add_backbone(name, backbone)

    @hookimpl
    def provide_head(self, registry: Any) -> None:
        for name, head in self.heads.items():
            registry.add_head(name, head)
