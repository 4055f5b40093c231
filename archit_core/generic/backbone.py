"""The core's built-in backbone plugin: every Hugging Face text ``model_type`` as a backbone, with no plugin.

The host loads this module (the plugin's hook module, kept light) as plugin ``archit-core:generic``. It registers a *resolver*, not names: the registry asks
it only for names no installed plugin registers (a dedicated plugin always wins), and it answers any ``model_type``
transformers' ``AutoModel`` builds, so importing it (and ``archit plugins``) imports neither torch nor transformers.

A generic backbone is a :class:`~archit_core.TransformersBackbone` over the family's ``AutoModel`` class (for an
encoder-decoder model: its ``*EncoderModel`` class if the family has one, else the class of
``AutoModel.get_encoder()``). Its facts are read from the config under the names families use; its Hugging Face head
layouts are inferred by matching the task class's head structurally and checking it numerically (see
:func:`archit_core.generic.layouts.infer_head_layout`); its tiny architecture is derived from the config class
(:mod:`archit_core.parts.tiny`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import ConfigError
from ..parts.backbone import BackboneFacts, BackboneOutput, TransformersBackbone
from ..parts.fields import (
    ACTIVATION,
    CLASSIFIER_DROPOUT,
    DROPOUT,
    HIDDEN,
    INIT_RANGE,
    LAYER_NORM_EPS,
    LAYERS,
    first_field,
)
from ..parts.head import HFLayout
from ..parts.tiny import accepted_tiny, derive_tiny
from ..registry.hookspecs import hookimpl
from .family import encoder_class, has_pooler_switch, infer_roles, is_decoder, meta_instance
from .roles import ProbedRoles, probe_roles

DESCRIPTION = "any model_type transformers' AutoModel builds (`archit backbones --all` lists them)"

#: Inputs beyond token ids some text families read (layout models: one box per token), by name: the per-token shape.
#: A generic backbone whose forward names one declares it in ``extra_inputs``; probes and benchmarks feed zeros.
EXTRA_INPUTS: dict[str, tuple[int, ...]] = {"bbox": (4,)}
#: Model inputs a generic backbone drops when the model's forward does not name them (tokenizers emit them freely).
_STANDARD_INPUTS = frozenset({"token_type_ids", "position_ids", "inputs_embeds"})


# -- transformers' tables, read lazily ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def model_types() -> dict[str, str]:
    """Normalised name -> ``model_type`` for every model type ``AutoModel`` maps (imports transformers)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    from ..registry.registrations import normalise_name

    return {normalise_name(t): t for t in CONFIG_MAPPING_NAMES if t in MODEL_MAPPING_NAMES}


class GenericBackbones:
    """The resolver the built-in plugin registers: a :class:`GenericBackbone` for any known ``model_type``."""

    description = DESCRIPTION

    def names(self) -> list[str]:
        return sorted(model_types())

    def resolve(self, name: str) -> GenericBackbone | None:
        model_type = model_types().get(name)
        return generic_backbone(model_type) if model_type else None


@hookimpl
def provide_backbone(registry: Any) -> None:
    registry.add_backbone_resolver(GenericBackbones())


# -- one generic backbone --------------------------------------------------------------------------------------------
class _FactsView:
    """``config`` seen under the canonical field names :meth:`TransformersBackbone.facts` reads."""

    def __init__(self, config: Any, values: Mapping[str, Any]) -> None:
        self._config, self._values = config, values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return getattr(self._config, name)


@attrs.frozen(kw_only=True)
class GenericBackbone(TransformersBackbone):
    """A :class:`TransformersBackbone` for one Hugging Face ``model_type``, built by :func:`generic_backbone`.

    ``hf_model_type`` is the ``model_type``; ``encoder_of`` names the encoder-decoder ``AutoModel`` class whose
    encoder this backbone is (None for encoders and decoders).
    """

    hf_model_type: str
    encoder_of: str | None = None
    always_pooled: bool = False
    extra_inputs: Mapping[str, tuple[int, ...]] = attrs.field(factory=dict)
    checkpoint_aliases: Mapping[str, str] = attrs.field(factory=dict)

    def provides(self, config: Any) -> frozenset[str]:
        caps = super().provides(config)
        return caps | {"pooler"} if self.always_pooled else caps

    def facts(self, config: Any) -> BackboneFacts:
        hidden = first_field(config, HIDDEN)
        if hidden is None:
            raise ConfigError(
                f"{self.hf_model_type} config ({type(config).__name__}) has none of {'/'.join(HIDDEN)}, so the generic "
                "backbone cannot tell its hidden size; a dedicated backbone plugin for this family must give it"
            )
        layers = first_field(config, LAYERS)
        if layers is None:
            raise ConfigError(
                f"{self.hf_model_type} config ({type(config).__name__}) has none of {'/'.join(LAYERS)}, so the generic "
                "backbone cannot tell its number of layers; a dedicated backbone plugin for this family must give it"
            )
        canonical = {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "hidden_dropout_prob": first_field(config, DROPOUT),
            "classifier_dropout": first_field(config, CLASSIFIER_DROPOUT),
            "initializer_range": first_field(config, INIT_RANGE),
            "layer_norm_eps": first_field(config, LAYER_NORM_EPS),
            "hidden_act": first_field(config, ACTIVATION),
        }
        facts = super().facts(_FactsView(config, canonical))
        return attrs.evolve(facts, provides=self.provides(config))

    def _forward_params(self, module: Any) -> tuple[frozenset[str], bool]:
        params = inspect.signature(module.forward).parameters
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        return frozenset(params), var_kw

    def encode(self, module: Any, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        named, var_kw = self._forward_params(module)
        kept = {k: v for k, v in inputs.items() if k in named or (var_kw and k not in _STANDARD_INPUTS)}
        if "use_cache" in named and "use_cache" not in kept:
            kept["use_cache"] = False  # no key/value cache unless the caller asks (generation passes it)
        return super().encode(module, kept, output_hidden_states=output_hidden_states)

    def head_layout(self, head_name: str, head_spec: Any) -> HFLayout | None:
        from .layouts import infer_head_layout

        return infer_head_layout(self, head_name, head_spec)[0]


@functools.cache
def generic_backbone(model_type: str) -> GenericBackbone:
    """The generic backbone of ``model_type`` (imports transformers); a :class:`ConfigError` says why a model type
    cannot be one (not a text model)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    config_class = CONFIG_MAPPING[model_type]
    try:
        auto_class = MODEL_MAPPING[config_class]
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"transformers' AutoModel builds no {model_type!r} model ({exc})") from exc
    if isinstance(auto_class, (tuple, list)):  # several base classes (funnel's full and base models): the first
        auto_class = auto_class[0]
    if getattr(auto_class, "main_input_name", "input_ids") != "input_ids":
        raise ConfigError(
            f"{model_type!r} is not a text model: {auto_class.__name__} reads {auto_class.main_input_name!r}, not "
            "input_ids, so the generic backbone cannot drive it; a dedicated backbone plugin must"
        )
    default = config_class()
    tiny = derive_tiny(config_class, default)
    module_class, prefix, encoder_of = auto_class, auto_class.base_model_prefix or None, None
    tiny, tiny_config = accepted_tiny(config_class, tiny)
    aliases: dict[str, str] = {}
    if getattr(default, "is_encoder_decoder", False):
        module_class, prefix, aliases = encoder_class(auto_class, tiny_config)
        encoder_of = auto_class.__name__
    try:
        module = meta_instance(module_class, tiny_config)
        tree_roles = infer_roles(module, first_field(tiny_config, LAYERS))
    except Exception:  # roles are a convenience for rewrites; a family whose tree cannot be built on meta has none
        module, tree_roles = None, {}
    roles = ProbedRoles(functools.partial(_probed_roles, model_type), tree_roles)
    # a pooler the model always builds (no add_pooling_layer switch) is a capability too
    always_pooled = getattr(module, "pooler", None) is not None and not has_pooler_switch(module_class)
    what = f"the encoder ({module_class.__name__}) of {auto_class.__name__}" if encoder_of else auto_class.__name__
    return GenericBackbone(
        config_class=config_class,
        model_class=module_class,
        tiny=tiny,
        checkpoint_prefix=prefix,
        checkpoint_aliases=aliases,
        roles=roles,
        description=f"generic: {what}, {config_class.__name__} defaults",
        hf_model_type=model_type,
        encoder_of=encoder_of,
        causal=is_decoder(model_type),
        always_pooled=always_pooled,
        extra_inputs={k: v for k, v in EXTRA_INPUTS.items() if k in inspect.signature(module_class.forward).parameters},
    )


def _probed_roles(model_type: str) -> dict[str, str]:
    """The module roles of ``model_type``'s generic backbone, probed on its tiny model (:mod:`.roles`)."""
    import torch

    from ..parts.dummy import probe_batch

    backbone = generic_backbone(model_type)
    config = backbone.make_config(tiny=True)
    torch.manual_seed(0)
    module = backbone.build(config).eval()
    batch = probe_batch(config, None, backbone.extra_inputs, labels=False)
    return probe_roles(module, config, lambda m: backbone.encode(m, batch))
