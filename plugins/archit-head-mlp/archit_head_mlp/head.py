"""The MLP head module."""

from __future__ import annotations

import torch
from torch import nn

from archit_core import IGNORE_INDEX, Head, HeadOutput, pool_sequence

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLPHead(Head):
    """``[dropout, linear, norm, activation] x len(hidden)``, then dropout and the output layer."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        p = backbone.dropout_or(config.dropout)
        layers, width = [], backbone.hidden_size
        for size in config.hidden:
            layers += [nn.Dropout(p), nn.Linear(width, size)]
            if config.norm == "layer":
                layers.append(nn.LayerNorm(size, eps=backbone.layer_norm_eps))
            layers.append(ACTIVATIONS[config.activation]())
            width = size
        layers += [nn.Dropout(p), nn.Linear(width, config.num_labels)]
        self.mlp = nn.Sequential(*layers)
        self._std = backbone.initializer_range

    def init_module(self, module):
        """The configured init of this head's linear layers (archit calls it when the model is initialised; the
        guarded initialisers of transformers leave loaded weights alone). True when ``module`` was handled."""
        from transformers import initialization as init

        if not isinstance(module, nn.Linear):
            return False
        if self.config.init == "normal":
            init.normal_(module.weight, std=self._std)
        elif self.config.init == "xavier":
            init.xavier_uniform_(module.weight)
        elif self.config.init == "kaiming":
            init.kaiming_uniform_(module.weight, nonlinearity="relu")
        else:
            init.zeros_(module.weight)
        init.zeros_(module.bias)
        return True

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        shape = (batch_size, seq_len) if config.level == "token" else (batch_size,)
        if config.loss == "cross_entropy":
            return torch.randint(0, config.num_labels, shape, generator=generator)
        return torch.rand((*shape, config.num_labels), generator=generator).round() if config.loss == "bce" else torch.randn((*shape, config.num_labels), generator=generator)

    def forward(self, features, labels=None, **inputs):
        states = features.token_states if self.config.level == "token" else pool_sequence(features, self.config.pooling)
        logits = self.mlp(states)
        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            if self.config.loss == "cross_entropy":
                loss = nn.functional.cross_entropy(logits.reshape(-1, self.config.num_labels), labels.reshape(-1), ignore_index=IGNORE_INDEX)
            elif self.config.loss == "mse":
                loss = nn.functional.mse_loss(logits, labels.to(logits.dtype).reshape(logits.shape))
            else:
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype).reshape(logits.shape))
        return HeadOutput(logits=logits, loss=loss)
