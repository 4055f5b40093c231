"""Blocks heads share: activations by name, the dense pooler of sequence-level heads and a head built on it, a head
whose vocabulary projection may be tied to the backbone's input embeddings, the classification losses by problem type
and their random labels, label checks, initialisation by name, and the output class of a head with named outputs.

This module imports torch and transformers (it is imported when a head is built, never by plugin discovery).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from transformers.activations import ACT2FN

from ..errors import ArchitError, ConfigError
from ..model.transformers_compat import output_class
from .backbone import BackboneFacts, BackboneOutput
from .head import IGNORE_INDEX
from .head_module import Head, HeadOutput, pool_sequence


def activation(name: str, *, field: str = "activation") -> nn.Module:
    """transformers' activation module called ``name``; an unknown name is a :class:`ConfigError` naming the head
    config ``field`` and the names there are."""
    if name not in ACT2FN:
        raise ConfigError(f"head_config.{field}: unknown activation {name!r}; use one of {', '.join(sorted(ACT2FN))}")
    return ACT2FN[name]


class DensePooler(nn.Module):
    """A dense layer and an activation on the pooled sequence vector (RoBERTa's and DeBERTa's head-side pooler),
    optionally followed by a layer norm (``norm_eps``; ModernBERT's prediction head, the transform of masked-LM heads).

    ``out_features`` (default ``hidden_size``) is the dense layer's width; ``norm_name`` the attribute, and so the
    state-dict key, of the layer norm (``norm``; masked-LM transforms say ``layer_norm``)."""

    def __init__(self, hidden_size: int, activation_name: str = "tanh", *, bias: bool = True, norm_eps: float | None = None,
                 field: str = "pooler_activation", out_features: int | None = None, norm_name: str = "norm") -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.activation_name = activation_name
        self.out_features = width = out_features or hidden_size
        self.norm_name = norm_name
        self.dense = nn.Linear(hidden_size, width, bias=bias)
        self.activation = activation(activation_name, field=field)
        setattr(self, norm_name, nn.LayerNorm(width, eps=norm_eps, bias=bias) if norm_eps is not None else None)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        pooled = self.activation(self.dense(pooled))
        norm = getattr(self, self.norm_name)
        return norm(pooled) if norm is not None else pooled


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
    #: The share of positions :meth:`dummy_labels` labels (at least the first of each sequence; the others
    #: ``IGNORE_INDEX``): 1.0 labels every position, as causal-LM training does; masked-LM data labels a few.
    dummy_label_share: float = 1.0

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder

    def set_output_embeddings(self, module: nn.Module) -> None:
        self.decoder = module

    def tied_to_input_embeddings(self) -> tuple[str, ...]:
        return ("decoder.weight",) if self.tied else ()

    @classmethod
    def dummy_labels(cls, config: Any, batch_size: int, seq_len: int, *, generator: Any = None, input_ids: Any = None,
                     backbone: BackboneFacts | None = None) -> torch.Tensor:
        """The batch's own tokens (random ones from the vocabulary without a batch), as in language-model training, at
        ``dummy_label_share`` of the positions."""
        if input_ids is None:
            vocab = (backbone.vocab_size if backbone is not None else None) or 5
            labels = torch.randint(0, vocab, (batch_size, seq_len), generator=generator)
        else:
            labels = input_ids.clone()
        if cls.dummy_label_share >= 1:
            return labels
        keep = torch.rand(labels.shape, generator=generator) < cls.dummy_label_share
        keep[:, 0] = True
        return torch.where(keep, labels, torch.full_like(labels, IGNORE_INDEX))


def problem_type_of(num_labels: int, labels: torch.Tensor) -> str:
    """The problem type transformers' classification heads infer when the config names none: one output is
    regression, integer labels single-label classification, anything else multi-label classification."""
    if num_labels == 1:
        return "regression"
    return "single_label_classification" if labels.dtype in (torch.long, torch.int) else "multi_label_classification"


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None = None) -> torch.Tensor:
    """The loss of Hugging Face's classification heads for ``problem_type`` (``PROBLEM_TYPES``; None: as
    :func:`problem_type_of` infers it): cross-entropy over the last dimension of ``logits`` with ``IGNORE_INDEX``
    ignored (single-label; labels hold class indices), mean squared error (regression) or binary cross-entropy on the
    logits (multi-label). Regression and multi-label targets have the logits' shape (one output: the last dimension
    may be left out), as transformers computes them; any other shape is an error naming ``labels``."""
    num_labels, labels = logits.size(-1), labels.to(logits.device)
    problem_type = problem_type or problem_type_of(num_labels, labels)
    if problem_type == "single_label_classification":
        if labels.numel() != logits.numel() // max(num_labels, 1):  # (batch, 1) for (batch, C) passes, as in transformers
            raise ArchitError(
                f"labels: shape {tuple(labels.shape)} does not fit the logits {tuple(logits.shape)}: single-label "
                f"classification takes one class index per prediction, shape {tuple(logits.shape[:-1])}"
            )
        return nn.functional.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1), ignore_index=IGNORE_INDEX)
    labels = labels.to(logits.dtype)
    if num_labels == 1 and labels.shape == logits.shape[:-1]:
        labels = labels.unsqueeze(-1)
    if labels.shape != logits.shape:
        raise ArchitError(
            f"labels: shape {tuple(labels.shape)} does not fit the logits {tuple(logits.shape)}: {problem_type} takes "
            "one target per logit (the last dimension may be left out for one output)"
        )
    if problem_type == "regression":
        return nn.functional.mse_loss(logits, labels)
    return nn.functional.binary_cross_entropy_with_logits(logits, labels)


def classifier_output(logits: torch.Tensor, labels: torch.Tensor | None = None, problem_type: str | None = None) -> HeadOutput:
    """A head's output of ``logits``, with :func:`classification_loss` for ``problem_type`` when ``labels`` are given:
    the last line of every classifier head's ``forward``."""
    return HeadOutput(logits=logits, loss=None if labels is None else classification_loss(logits, labels, problem_type))


def random_labels(problem_type: str | None, num_labels: int, shape: tuple[int, ...], *, generator: Any = None) -> torch.Tensor:
    """Random labels of ``problem_type`` for predictions of ``shape`` (``(batch,)``, ``(batch, seq_len)``):
    class indices, or ``num_labels`` scores (regression) or 0/1 targets (multi-label) each, the label dimension left out
    for one output. None: regression for one output, single-label otherwise. For heads' ``dummy_labels``."""
    problem_type = problem_type or ("regression" if num_labels == 1 else "single_label_classification")
    if problem_type == "single_label_classification":
        return torch.randint(0, num_labels, shape, generator=generator)
    shape = (*shape, num_labels) if num_labels > 1 else shape
    if problem_type == "regression":
        return torch.randn(shape, generator=generator)
    return torch.randint(0, 2, shape, generator=generator).float()


def integer_labels(value: torch.Tensor, shape: tuple[int, ...], *, head: str, name: str = "labels", holding: str,
                   squeeze: bool = False) -> torch.Tensor:
    """``value`` when it is an integer tensor of ``shape`` (with ``squeeze``, a trailing dimension of 1 is dropped
    first, as Hugging Face accepts for positions); otherwise an :class:`ArchitError` naming the head, the input, the
    shape it must have and what it must hold (``holding``)."""
    if squeeze and value.dim() == len(shape) + 1 and value.shape[-1] == 1:
        value = value.squeeze(-1)
    if tuple(value.shape) != tuple(shape) or value.is_floating_point():
        kind = "a float" if value.is_floating_point() else "an integer"
        raise ArchitError(f"{head}: {name} must be an integer tensor of shape {tuple(shape)} holding {holding}, got "
                          f"{kind} tensor of shape {tuple(value.shape)} ({value.dtype})")
    return value


def flatten_groups(inputs: dict[str, Any], *, head: str, group: str, hint: str = "") -> tuple[dict[str, Any], int]:
    """Model inputs of shape ``(batch, <group>, length[, hidden])`` flattened to ``(batch * <group>, ...)`` for the
    backbone, and the number of sequences per example: the ``prepare_inputs`` of a head that scores several sequences
    per example (multiple choice, listwise ranking), which views its scores back as ``(batch, <group>)``. Wrong shapes
    are :class:`ArchitError` naming the head and the input (``hint`` is added to the one about ``input_ids``)."""
    ids, embeds = inputs.get("input_ids"), inputs.get("inputs_embeds")
    name, ref, dims = ("input_ids", ids, 3) if ids is not None else ("inputs_embeds", embeds, 4)
    if ref is None:
        raise ArchitError(f"{head}: give input_ids of shape (batch, {group}, length) (or inputs_embeds)")
    if ref.dim() != dims:
        shape = f"(batch, {group}, length)" if dims == 3 else f"(batch, {group}, length, hidden)"
        raise ArchitError(f"{head}: {name} must have shape {shape}, got {tuple(ref.shape)}{hint}")
    leading = tuple(ref.shape[:2])

    def flat(key: str, value: torch.Tensor) -> torch.Tensor:
        if tuple(value.shape[:2]) != leading or value.dim() < 3:
            raise ArchitError(f"{head}: {key} has shape {tuple(value.shape)}, but {name} say (batch, {group}) = {leading}; "
                              f"every input must have shape (batch, {group}, length)")
        return value.flatten(0, 1)

    return {k: flat(k, v) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}, leading[1]


def init_linear(module: nn.Module, scheme: str, *, std: float) -> bool:
    """Initialise a linear layer by ``scheme`` (``INIT_SCHEMES``): weights normal with ``std``, Xavier uniform,
    Kaiming uniform (for ReLU) or zeros, and a zero bias, through ``transformers.initialization`` (which leaves loaded
    weights alone). Returns False, touching nothing, for any other module: what a head's ``init_module`` returns."""
    from transformers import initialization as init

    if not isinstance(module, nn.Linear):
        return False
    if scheme == "normal":
        init.normal_(module.weight, std=std)
    elif scheme == "xavier":
        init.xavier_uniform_(module.weight)
    elif scheme == "kaiming":
        init.kaiming_uniform_(module.weight, nonlinearity="relu")
    elif scheme == "zeros":
        init.zeros_(module.weight)
    else:
        raise ConfigError(f"unknown init {scheme!r}; use one of normal, xavier, kaiming, zeros")
    if module.bias is not None:
        init.zeros_(module.bias)
    return True


def head_output_class(name: str, *outputs: str, doc: str, module: str) -> type:
    """The model output class of a head with named outputs (``Head.output_class``): a ``ModelOutput`` with ``loss``,
    ``logits``, one field per name in ``outputs`` and ``hidden_states``, in that (tuple) order, all None by default,
    built through the transformers-version adapter as every archit output is."""
    tensor = "torch.Tensor | None"
    fields = [("loss", tensor), ("logits", tensor), *((o, tensor) for o in outputs), ("hidden_states", "tuple[torch.Tensor, ...] | None")]
    return output_class(name, fields, doc=doc, module=module)
