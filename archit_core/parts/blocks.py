"""Blocks heads share: activations by name, the dense pooler of sequence-level heads and a head built on it, and a
head whose vocabulary projection may be tied to the backbone's input embeddings.

This module imports torch and transformers (it is imported when a head is built, never by plugin discovery).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from transformers.activations import ACT2FN

from ..errors import ConfigError
from .backbone import BackboneFacts, BackboneOutput
from .head_module import Head, pool_sequence


def activation(name: str, *, field: str = "activation") -> nn.Module:
    """transformers' activation module called ``name``; an unknown name is a :class:`ConfigError` naming the head
    config ``field`` and the names there are."""
    if name not in ACT2FN:
        raise ConfigError(f"head_config.{field}: unknown activation {name!r}; use one of {', '.join(sorted(ACT2FN))}")
    return ACT2FN[name]


class DensePooler(nn.Module):
    """A dense layer and an activation on the pooled sequence vector (RoBERTa's and DeBERTa's head-side pooler),
    optionally followed by a layer norm (``norm_eps``; ModernBERT's prediction head)."""

    def __init__(self, hidden_size: int, activation_name: str = "tanh", *, bias: bool = True, norm_eps: float | None = None,
                 field: str = "pooler_activation") -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.activation_name = activation_name
        self.dense = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.activation = activation(activation_name, field=field)
        self.norm = nn.LayerNorm(hidden_size, eps=norm_eps, bias=bias) if norm_eps is not None else None

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        pooled = self.activation(self.dense(pooled))
        return self.norm(pooled) if self.norm is not None else pooled


class SequencePoolingHead(Head):
    """Base of heads that read one vector per sequence, pooled as the ``sequence-classification`` head pools.

    Its config has ``pooling`` (one of ``POOLER_POOLINGS``), ``pooler_dense``, ``pooler_activation`` and ``dropout``,
    and may have ``pooler_bias`` (default True) and ``pooler_norm`` (default False). The head gets ``dropout`` and
    ``pooler`` (a :class:`DensePooler`, or None without ``pooler_dense``); :meth:`pool` gives the vector a subclass
    scores: [dropout, pool,] dropout[, dense pooler, dropout], or with ``"late"`` the dense pooler on every token
    before the masked mean.
    """

    def __init__(self, config: Any, backbone: BackboneFacts) -> None:
        super().__init__(config, backbone)
        activation(config.pooler_activation, field="pooler_activation")  # refused at build time even without the dense pooler
        self.dropout = nn.Dropout(backbone.dropout_or(config.dropout))
        bias, norm = getattr(config, "pooler_bias", True), getattr(config, "pooler_norm", False)
        norm_eps = backbone.layer_norm_eps if norm else None
        self.pooler = DensePooler(backbone.hidden_size, config.pooler_activation, bias=bias, norm_eps=norm_eps) if config.pooler_dense else None

    def pool(self, features: BackboneOutput) -> torch.Tensor:
        """One vector per sequence, ready for a classifier (see the class docstring)."""
        if self.config.pooling == "late":  # dense and activation on every token, then the masked mean
            states = self.pooler(features.token_states) if self.pooler is not None else features.token_states
            return self.dropout(pool_sequence(dataclasses.replace(features, token_states=states), "mean"))
        pooled = self.dropout(pool_sequence(features, self.config.pooling))
        return self.dropout(self.pooler(pooled)) if self.pooler is not None else pooled


class VocabularyHead(Head):
    """Base of heads with a projection onto the token vocabulary, ``self.decoder`` (an ``nn.Linear``), which is the
    backbone's input embedding matrix when ``self.tied`` is True: it is the model's output embeddings (so
    ``resize_token_embeddings`` resizes it) and names ``decoder.weight`` as tied. Dummy labels are token ids."""

    decoder: nn.Linear
    tied: bool = True

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder

    def set_output_embeddings(self, module: nn.Module) -> None:
        self.decoder = module

    def tied_to_input_embeddings(self) -> tuple[str, ...]:
        return ("decoder.weight",) if self.tied else ()

    @classmethod
    def dummy_labels(cls, config: Any, batch_size: int, seq_len: int, *, generator: Any = None, input_ids: Any = None,
                     backbone: BackboneFacts | None = None) -> torch.Tensor:
        """The batch's own tokens (random ones from the vocabulary without a batch), as in language-model training."""
        if input_ids is None:
            vocab = (backbone.vocab_size if backbone is not None else None) or 5
            return torch.randint(0, vocab, (batch_size, seq_len), generator=generator)
        return input_ids.clone()
