"""The ``nn.Module`` side of heads: the base class and pooling shared by sequence-level heads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import ArchitError, ConfigError
from .backbone import BackboneFacts, BackboneOutput
from .head import SEQUENCE_POOLINGS


@dataclass
class HeadOutput:
    """What a head returns: its logits and, when labels were given, its loss.

    A head with several named outputs (``start_logits`` and ``end_logits``) returns them in ``outputs`` and
    declares :attr:`Head.output_class` with a field for each; ``logits`` may then be None."""

    logits: Any
    loss: torch.Tensor | None = None
    outputs: dict[str, Any] | None = None


class Head(nn.Module):
    """Base class of heads: built from a validated head config and the backbone's facts.

    ``forward(features, labels=None, **inputs)`` receives a :class:`BackboneOutput` and the extra inputs the head
    declared in its :class:`HeadSpec`, and returns a :class:`HeadOutput` with its own loss when labels are given.

    A head that predicts the next token sets ``generative = True``: its model then is a ``GenerationMixin`` and
    ``model.generate`` works. A head whose output projection shares the backbone's input embedding matrix names
    those parameters in :meth:`tied_to_input_embeddings`; the model declares the ties to transformers.
    """

    #: True for heads that predict the next token: the model gets ``generate`` (see ``GenerativeModelWithHead``).
    generative: ClassVar[bool] = False
    #: The model's output class when the head returns named ``outputs``: a ``transformers.utils.ModelOutput``
    #: dataclass with ``loss``, ``logits`` and ``hidden_states`` fields plus one per named output (None: ArchitOutput).
    output_class: ClassVar[type | None] = None

    # Optional classmethods, duck-typed by dummy batches (``archit_core.parts.dummy``), the contract suite and layout
    # inference: None here means "not provided". Each may also take the keywords ``backbone`` (the BackboneFacts) and
    # ``input_ids`` (the batch's token ids); they are passed when its signature names them.
    dummy_labels: ClassVar[Callable[..., Any] | None] = None
    """``dummy_labels(config, batch_size, seq_len, *, generator=None)``: random labels the head's loss accepts, for
    dummy batches (``archit build``, the contract suite); a head without it cannot be trained by the contract suite."""
    dummy_inputs: ClassVar[Callable[..., Any] | None] = None
    """``dummy_inputs(config, batch_size, seq_len, *, generator=None)``: a dict of the extra inputs the head's spec
    declares (``HeadSpec.inputs``), such as word ids; required when it declares any."""
    dummy_input_shape: ClassVar[Callable[..., tuple[int, ...]] | None] = None
    """``dummy_input_shape(config, batch_size, seq_len)``: the shape of ``input_ids`` the head reads, when it is not
    ``(batch_size, seq_len)`` (multiple choice: ``(batch, choices, length)``)."""

    def __init__(self, config: Any, backbone: BackboneFacts) -> None:
        super().__init__()
        self.config = config
        self.backbone_facts = backbone

    @classmethod
    def reshapes_inputs(cls) -> bool:
        """Whether this head class reshapes the model inputs before the backbone (overrides :meth:`prepare_inputs`)."""
        return cls.prepare_inputs is not Head.prepare_inputs

    def init_module(self, module: nn.Module) -> bool:
        """Initialise one of this head's modules when the model is initialised (never over loaded weights, if done
        with ``transformers.initialization``); return True when handled, False for transformers' default init."""
        return False

    def forward(self, features: BackboneOutput, labels: torch.Tensor | None = None, **inputs: Any) -> HeadOutput:
        raise NotImplementedError

    def prepare_inputs(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Reshape the model inputs before the backbone sees them; returns the backbone's inputs and extra keyword
        arguments for this head's ``forward`` (what it needs to undo the reshape). Unchanged by default; a
        multiple-choice head flattens ``(batch, choices, length)`` to ``(batch * choices, length)`` here."""
        return inputs, {}

    def get_output_embeddings(self) -> nn.Module | None:
        """The head's projection onto the token vocabulary (an ``nn.Linear`` of ``vocab_size`` outputs), or None
        for heads without one. The model exposes it to transformers, so ``resize_token_embeddings`` resizes it."""
        return None

    def set_output_embeddings(self, module: nn.Module) -> None:
        """Replace the projection :meth:`get_output_embeddings` returns (transformers' resizing calls this)."""
        raise NotImplementedError(f"{type(self).__qualname__} has no output projection to replace")

    def tied_to_input_embeddings(self) -> tuple[str, ...]:
        """Names (relative to the head) of parameters that are the backbone's input embedding weight, tied: kept
        the same tensor through ``tie_weights``, saving and loading. Empty by default."""
        return ()


def pool_sequence(features: BackboneOutput, mode: str) -> torch.Tensor:
    """One vector per sequence (``SEQUENCE_POOLINGS``): the ``first`` token, the ``last`` one the attention mask keeps
    (what decoder classifiers read), the ``mean`` over the attention mask, or the backbone's ``pooler``."""
    states = features.token_states
    if mode == "first":
        return states[:, 0]
    if mode == "last":
        mask = features.attention_mask
        if mask is None:
            return states[:, -1]
        positions = torch.arange(mask.shape[-1], device=states.device)
        last = (positions * mask.to(states.device).bool()).argmax(dim=-1)
        return states[torch.arange(states.shape[0], device=states.device), last]
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
    raise ConfigError(f"unknown pooling {mode!r}; use one of {', '.join(map(repr, SEQUENCE_POOLINGS))}")
