"""The sequence-classification head module."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from transformers.activations import ACT2FN

from archit_core import ConfigError, Head, HeadOutput, pool_sequence


def check_activation(name: str) -> str:
    """``name`` if transformers knows the activation, else a :class:`ConfigError` naming the field."""
    if name not in ACT2FN:
        raise ConfigError(f"head_config.pooler_activation: unknown activation {name!r}; use one of {', '.join(sorted(ACT2FN))}")
    return name


class DensePooler(nn.Module):
    """A dense layer and an activation on the pooled sequence vector (RoBERTa's and DeBERTa's head-side pooler),
    optionally followed by a layer norm (``norm_eps``; ModernBERT's prediction head)."""

    def __init__(self, hidden_size: int, activation: str = "tanh", *, bias: bool = True, norm_eps: float | None = None) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.activation_name = activation
        self.dense = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.activation = ACT2FN[check_activation(activation)]
        self.norm = nn.LayerNorm(hidden_size, eps=norm_eps, bias=bias) if norm_eps is not None else None

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        pooled = self.activation(self.dense(pooled))
        return self.norm(pooled) if self.norm is not None else pooled


def infer_problem_type(num_labels: int, labels: torch.Tensor) -> str:
    """Hugging Face's rule: one label is regression, integer labels single-label, anything else multi-label."""
    if num_labels == 1:
        return "regression"
    if labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None) -> torch.Tensor:
    """The loss Hugging Face's ``*ForSequenceClassification`` computes for ``problem_type`` (None: inferred)."""
    num_labels = logits.size(-1)
    labels = labels.to(logits.device)
    problem_type = problem_type or infer_problem_type(num_labels, labels)
    if problem_type == "regression":
        labels = labels.to(logits.dtype)
        if num_labels == 1:
            return nn.functional.mse_loss(logits.squeeze(), labels.squeeze())
        return nn.functional.mse_loss(logits, labels)
    if problem_type == "single_label_classification":
        return nn.functional.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class SequenceClassificationHead(Head):
    """Pool the sequence, then [dropout, dense, activation], dropout and a linear classifier."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        hidden = backbone.hidden_size
        check_activation(config.pooler_activation)  # refused at build time even when pooler_dense is off
        self.dropout = nn.Dropout(config.dropout if config.dropout is not None else backbone.head_dropout)
        norm_eps = backbone.layer_norm_eps if config.pooler_norm else None
        self.pooler = DensePooler(hidden, config.pooler_activation, bias=config.pooler_bias, norm_eps=norm_eps) if config.pooler_dense else None
        self.classifier = nn.Linear(hidden, config.num_labels, bias=config.classifier_bias)

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random labels of the kind ``config``'s problem type takes (archit's contract tests train with them)."""
        problem_type = config.problem_type or ("regression" if config.num_labels == 1 else "single_label_classification")
        if problem_type == "single_label_classification":
            return torch.randint(0, config.num_labels, (batch_size,), generator=generator)
        shape = (batch_size,) if config.num_labels == 1 else (batch_size, config.num_labels)
        if problem_type == "regression":
            return torch.randn(shape, generator=generator)
        return torch.randint(0, 2, shape, generator=generator).float()

    def forward(self, features, labels=None, **inputs):
        if self.config.pooling == "late":  # dense and activation on every token, then the masked mean
            states = self.pooler(features.token_states) if self.pooler is not None else features.token_states
            pooled = self.dropout(pool_sequence(dataclasses.replace(features, token_states=states), "mean"))
        else:
            pooled = self.dropout(pool_sequence(features, self.config.pooling))
            if self.pooler is not None:
                pooled = self.dropout(self.pooler(pooled))
        logits = self.classifier(pooled)
        loss = sequence_classification_loss(logits, labels, self.config.problem_type) if labels is not None else None
        return HeadOutput(logits=logits, loss=loss)
