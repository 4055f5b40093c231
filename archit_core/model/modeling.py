"""``ModelWithHead``: a ``transformers.PreTrainedModel`` made of a plugin's backbone and another plugin's head."""

from __future__ import annotations

from typing import Any

import torch
from transformers import GenerationMixin, PreTrainedModel
from transformers.utils import ModelOutput

from .._imports import resolve
from ..errors import IncompatibleHeadError
from ..parts.backbone import CAPABILITIES
from ..parts.head import needs_of
from ..parts.head_module import Head
from ..registry.registrations import Registration
from .config import ArchitConfig, resolve_part
from .transformers_compat import CACHE, output_class, rename_cache_kwargs

#: Head parts other than one registered head, by the :class:`ArchitConfig` field that holds them, as
#: ``"module:class"`` (the multi-task part of ``archit_core.multitask``). The model finds them here by name, as the
#: plugin host finds its built-in plugins, so that it never imports the packages that build on it. Such a class has
#: ``build_part(heads, loss_weights)`` (``build``'s head part) and ``parts_of(config, backbone)`` (the head spec and
#: head config of a saved model).
HEAD_PARTS: dict[str, str] = {"heads": "archit_core.multitask.head:MultiTaskHead"}


def head_part_class(field: str) -> Any:
    """The head-part class :data:`HEAD_PARTS` names for an :class:`ArchitConfig` field."""
    return resolve(HEAD_PARTS[field])


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


ArchitOutput = output_class(
    "ArchitOutput",
    [("loss", "torch.Tensor | None"), ("logits", Any), ("cache", Any), ("hidden_states", "tuple[torch.Tensor, ...] | None")],
    doc="Output of :class:`ModelWithHead`: ``loss``, ``logits``, a decoder's key/value cache under transformers' own "
    "name for it (``cache`` from 5.24, ``past_key_values`` before) and the hidden states on request.",
    module=__name__,
)


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

    def __new__(cls, config: ArchitConfig | None = None, *args: Any, **kwargs: Any) -> ModelWithHead:
        # A generative head (causal LM) gets a model that is a GenerationMixin; every other head does not, so
        # `generate` and generation configs exist only where they make sense. Deciding here covers build, load
        # and AutoModel.from_pretrained alike.
        if cls is ModelWithHead and isinstance(config, ArchitConfig) and _generative(config):
            cls = GenerativeModelWithHead
        return super().__new__(cls)

    def __init__(self, config: ArchitConfig) -> None:
        super().__init__(config)
        plugins = config.plugins or {}
        backbone = resolve_part("backbone", config.backbone, plugins.get("backbone"))
        field = next((f for f in HEAD_PARTS if getattr(config, f, None)), None)
        if field is not None:  # several named heads on one backbone (archit_core.multitask)
            self.head_spec, head_config = head_part_class(field).parts_of(config, backbone)
        else:
            head = resolve_part("head", config.head, plugins.get("head"))
            head_config = head.obj.make_config(config.head_config)
            check_compatible(backbone, head, config.backbone_config, head_config)
            self.head_spec = head.obj
        self.backbone_spec = backbone.obj
        self.backbone = backbone.obj.build(config.backbone_config, needs_of(head_config))
        self.head = self.head_spec.module_class()(head_config, backbone.obj.facts(config.backbone_config))
        self._tied_weights_keys = _tied_keys(self)
        self.post_init()

    def get_output_embeddings(self) -> Any:
        """The head's vocabulary projection (``Head.get_output_embeddings``), or None: what transformers'
        ``resize_token_embeddings`` resizes along with the input embeddings."""
        return self.head.get_output_embeddings()

    def set_output_embeddings(self, new_embeddings: Any) -> None:
        self.head.set_output_embeddings(new_embeddings)

    def resize_token_embeddings(self, *args: Any, **kwargs: Any) -> Any:
        """transformers' resizing (input embeddings, the head's projection, the backbone config's
        ``vocab_size``, ties), then the heads' backbone facts are re-read so their ``vocab_size`` agrees."""
        from ..parts.head_module import Head

        embeddings = super().resize_token_embeddings(*args, **kwargs)
        projection = self.get_output_embeddings()
        if isinstance(getattr(projection, "out_features", None), int):  # a tied projection re-tied to the resized
            projection.out_features = projection.weight.shape[0]  # matrix keeps a stale size on some releases
        facts = self.backbone_spec.facts(self.config.backbone_config)
        for module in self.head.modules():
            if isinstance(module, Head):
                module.backbone_facts = facts
        return embeddings

    def _init_weights(self, module: Any) -> None:
        """A head may initialise its own modules (``Head.init_module``, e.g. a configured init); the rest as
        transformers does."""
        owner = None  # the innermost head holding the module (a task head inside a multi-task head)
        head = self._modules.get("head")
        for candidate in head.modules() if head is not None else ():
            if isinstance(candidate, Head) and any(module is m for m in candidate.modules()):
                owner = candidate
        if owner is not None and owner.init_module(module):
            return
        super()._init_weights(module)

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
        rename_cache_kwargs(kwargs)
        head_names = (*self.head_spec.inputs, *getattr(self.head_spec, "optional_inputs", ()))
        head_inputs = {name: kwargs.pop(name) for name in head_names if name in kwargs}
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "position_ids": position_ids,
            "inputs_embeds": inputs_embeds,
        }
        inputs = {k: v for k, v in inputs.items() if v is not None} | kwargs
        inputs, prepared = self.head.prepare_inputs(inputs)  # e.g. (batch, choices, length) -> (batch * choices, length)
        head_inputs |= prepared
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.output_hidden_states)
        wants_layers = "hidden_states" in needs_of(self.head.config)
        features = self.backbone_spec.encode(self.backbone, inputs, output_hidden_states=output_hidden_states or wants_layers)
        result = self.head(features, labels=labels, **head_inputs)
        output = _output(
            self.head,
            result,
            loss=result.loss,
            logits=result.logits,
            **{CACHE: features.cache},
            hidden_states=features.hidden_states if output_hidden_states else None,
        )
        return output if return_dict is not False else output.to_tuple()


def _output(head: Any, result: Any, **values: Any) -> ModelOutput:
    """The model output: :class:`ArchitOutput`, or the head's ``output_class`` holding its named ``outputs``
    (``values`` the class has no field for, such as a decoder's cache, are left out)."""
    cls = getattr(head, "output_class", None) or ArchitOutput
    named = dict(result.outputs or {})
    fields = cls.__dataclass_fields__  # a plain class attribute: torch.compile traces it, dataclasses.fields() not
    unknown = sorted(set(named) - set(fields))
    if unknown:
        raise TypeError(f"{type(head).__qualname__} returned the outputs {unknown}, which its output class {cls.__name__} has no field for")
    return cls(**{k: v for k, v in values.items() if k in fields}, **named)


class GenerativeModelWithHead(ModelWithHead, GenerationMixin):
    """A :class:`ModelWithHead` whose head predicts the next token (``Head.generative``): ``model.generate`` works,
    with the backbone's key/value cache. ``ModelWithHead(config)`` returns one when the config's head is generative."""


def _generative(config: ArchitConfig) -> bool:
    """Whether the head ``config`` names is generative (imports the head's module class)."""
    if not config.head:
        return False
    head = resolve_part("head", config.head, (config.plugins or {}).get("head"))
    return bool(getattr(head.obj.module_class(), "generative", False))


def _tied_keys(model: ModelWithHead) -> dict[str, str]:
    """``{head parameter: input embedding weight}`` for every parameter a head ties to the backbone's input
    embeddings: transformers' ``_tied_weights_keys`` of this instance (``{target: source}``)."""
    from ..parts.head_module import Head

    tied = {f"{name}.{param}": None for name, module in model.named_modules() if isinstance(module, Head)
            for param in module.tied_to_input_embeddings()}
    if not tied:
        return {}
    embeddings = model.backbone_spec.input_embeddings(model.backbone)
    path = next((name for name, module in model.backbone.named_modules() if module is embeddings), None)
    if embeddings is None or path is None or not isinstance(getattr(embeddings, "weight", None), torch.Tensor):
        raise IncompatibleHeadError(
            f"head {model.config.head!r} ties {', '.join(sorted(tied))} to the input embeddings, but backbone "
            f"{model.config.backbone!r} exposes no input embedding module with a weight; untie the head "
            "(its head config) or use another backbone."
        )
    source = f"{model.base_model_prefix}.{path}.weight" if path else f"{model.base_model_prefix}.weight"
    return dict.fromkeys(tied, source)
