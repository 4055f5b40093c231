"""The MLP head module."""

from __future__ import annotations

from torch import nn

from archit_core import Head, classifier_output, init_linear, pool_sequence, random_labels

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}
#: The config's ``loss`` names as the problem types of ``archit_core.classification_loss``.
LOSSES = {"cross_entropy": "single_label_classification", "mse": "regression", "bce": "multi_label_classification"}


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
        self.problem_type = LOSSES[config.loss]

    def init_module(self, module):
        """The configured init of this head's linear layers (archit calls it when the model is initialised)."""
        return init_linear(module, self.config.init, std=self.backbone_facts.initializer_range)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        shape = (batch_size, seq_len) if config.level == "token" else (batch_size,)
        return random_labels(LOSSES[config.loss], config.num_labels, shape, generator=generator)

    def forward(self, features, labels=None, **inputs):
        states = features.token_states if self.config.level == "token" else pool_sequence(features, self.config.pooling)
        return classifier_output(self.mlp(states), labels, self.problem_type)
