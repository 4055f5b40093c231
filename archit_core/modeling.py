"""``ModelWithHead``: a ``transformers.PreTrainedModel`` made of a plugin's backbone and another plugin's head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .errors import IncompatibleHeadError
from .backbone import CAPABILITIES
from .head import needs_of
from .model_config import ArchitConfig, resolve_part
from .registry import Registration


def check_compatible(backbone: Registration, head: Registration, backbone_config: Any, head_config: Any) -> None:
    """Raise :class:`IncompatibleHeadError` when the head needs a capability the backbone lacks."""
    missing = sorted(needs_of(head_config) - backbone.obj.provides(backbone_config))
    if missing:
        what = "; ".join(f"{m!r} ({CAPABILITIES.get(m, 'plugin-defined')})" for m in missing)
        have = ", ".join(sorted(backbone.obj.provides(backbone_config)))
        raise IncompatibleHeadError(
            f"head {head.name!r} with {head_config!r} needs {what}, which backbone {backbone.name!r} "
            f"({backbone.plugin.label}) does not provide; it provides: {have}. Change the head config or use "
            "another backbone."
        )


@dataclass
class ArchitOutput(ModelOutput):
    """Output of :class:`ModelWithHead`."""

    loss: torch.Tensor | None = None
    logits: Any = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class ModelWithHead(PreTrainedModel):
    """A backbone from one plugin with a head from another, built from its :class:`ArchitConfig` alone."""

    config_class = ArchitConfig
    config: ArchitConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    # The head returns a per-batch mean loss and ignores `num_items_in_batch`; without this the Trainer sees
    # `**kwargs` in forward, assumes the loss is normalised over the accumulated batch and skips its division by
    # gradient_accumulation_steps (gradients and logged loss come out gradient_accumulation_steps times too large).
    accepts_loss_kwargs = False

    def __init__(self, config: ArchitConfig) -> None:
        super().__init__(config)
        plugins = config.plugins or {}
        backbone = resolve_part("backbone", config.backbone, plugins.get("backbone"))
        head = resolve_part("head", config.head, plugins.get("head"))
        head_config = head.obj.make_config(config.head_config)
        check_compatible(backbone, head, config.backbone_config, head_config)
        self.backbone_spec = backbone.obj
        self.head_spec = head.obj
        self.backbone = backbone.obj.build(config.backbone_config, needs_of(head_config))
        self.head = head.obj.module_class()(head_config, backbone.obj.facts(config.backbone_config))
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: Any = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> ArchitOutput | tuple:
        kwargs.pop("num_items_in_batch", None)  # the Trainer's loss-normalisation hint is no backbone input
        head_inputs = {name: kwargs.pop(name) for name in self.head_spec.inputs if name in kwargs}
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "position_ids": position_ids,
            "inputs_embeds": inputs_embeds,
        }
        inputs = {k: v for k, v in inputs.items() if v is not None} | kwargs
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.output_hidden_states)
        wants_layers = "hidden_states" in needs_of(self.head.config)
        features = self.backbone_spec.encode(self.backbone, inputs, output_hidden_states=output_hidden_states or wants_layers)
        result = self.head(features, labels=labels, **head_inputs)
        output = ArchitOutput(
            loss=result.loss,
            logits=result.logits,
            hidden_states=features.hidden_states if output_hidden_states else None,
        )
        return output if return_dict is not False else output.to_tuple()
