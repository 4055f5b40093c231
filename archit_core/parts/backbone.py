"""The uniform face of a backbone: how to configure, build and run it, and what it offers a head.

Nothing here imports torch or transformers at module import; classes are resolved when a backbone is built.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from .._imports import resolve
from ..errors import ConfigError
from . import fields
from .configs import config_fields, construct_config, did_you_mean
from .deprecation import renamed_field
from .head import HFLayout

#: Capabilities a backbone may provide and a head may need.
CAPABILITIES: dict[str, str] = {
    "token_states": "one vector per token from the last layer",
    "hidden_states": "the vectors of every layer (embeddings first)",
    "pooler": "a pooled sequence vector computed by the backbone's own pooler",
    "input_embeddings": "an input embedding matrix (for tied output projections)",
    "causal": "causal attention: each token sees only earlier tokens (a decoder, needed for causal language modelling)",
    "vocabulary": "a token vocabulary of known size (vocab_size), for heads that predict tokens",
}


@attrs.frozen(kw_only=True)
class BackboneFacts:
    """What a head may rely on, read from a built backbone's config."""

    hidden_size: int
    num_layers: int
    vocab_size: int | None = None
    dropout: float = 0.0
    classifier_dropout: float | None = None
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    hidden_act: str | None = None
    provides: frozenset[str] = frozenset({"token_states"})
    #: Width of the input embeddings when it differs from ``hidden_size`` (ALBERT-style factorised embeddings).
    embedding_size: int | None = None
    #: The backbone config's own choice of tying output projections to the input embeddings, if it states one.
    tie_word_embeddings: bool | None = None

    @property
    def head_dropout(self) -> float:
        """Dropout a head uses by default: the backbone's classifier dropout, else its hidden dropout."""
        return self.classifier_dropout if self.classifier_dropout is not None else self.dropout

    def dropout_or(self, value: float | None) -> float:
        """A head config's ``dropout``, or :attr:`head_dropout` when it is None (the backbone decides)."""
        return value if value is not None else self.head_dropout


# ``past_key_values`` is the cache's name before transformers 5.24: a deprecated alias of ``cache`` for one release.
@renamed_field("past_key_values", "cache")
@dataclasses.dataclass
class BackboneOutput:
    """What a backbone hands to a head."""

    token_states: Any
    attention_mask: Any = None
    hidden_states: tuple[Any, ...] | None = None
    pooled: Any = None
    #: The key/value cache a decoder returns (``use_cache``), handed back to it on the next generation step.
    cache: Any = None


class Backbone:
    """How to build and drive one kind of backbone. Subclass it for any ``nn.Module``; use
    :class:`TransformersBackbone` for a Hugging Face base model."""

    #: Hugging Face ``base_model_prefix`` of the family's task checkpoints (``"roberta"``), if any.
    checkpoint_prefix: str | None = None
    #: Module roles: role name -> dotted path under the backbone module, ``*`` standing for every child.
    roles: Mapping[str, str] = {}
    #: Family-specific Hugging Face layouts of heads, by head name (they override the head's own).
    head_layouts: Mapping[str, HFLayout] = {}
    description: str = ""

    def make_config(self, overrides: Any = None, *, tiny: bool = False) -> Any:
        """The backbone config: the documented default (or tiny) architecture with ``overrides`` applied."""
        raise NotImplementedError

    def config_from_dict(self, data: Mapping[str, Any]) -> Any:
        """Rebuild a config saved with a model (no validation of extra keys)."""
        raise NotImplementedError

    def config_to_dict(self, config: Any) -> dict[str, Any]:
        """A JSON-serialisable dict of ``config``."""
        raise NotImplementedError

    def provides(self, config: Any) -> frozenset[str]:
        """Capabilities this backbone can provide."""
        return frozenset({"token_states"})

    def build(self, config: Any, needs: frozenset[str] = frozenset()) -> Any:
        """A fresh backbone module for ``config``, including the optional parts ``needs`` asks for."""
        raise NotImplementedError

    def facts(self, config: Any) -> BackboneFacts:
        """The facts a head is built from."""
        raise NotImplementedError

    def encode(self, module: Any, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        """Run the backbone on model inputs."""
        raise NotImplementedError

    def input_embeddings(self, module: Any) -> Any:
        """The input embedding module (for tying), or None."""
        get = getattr(module, "get_input_embeddings", None)
        return get() if get else None

    def head_layout(self, head_name: str, head_spec: Any) -> HFLayout | None:
        """The Hugging Face layout of a head on this backbone: the backbone's own layout, else the head's."""
        return self.head_layouts.get(head_name) or head_spec.hf_layout

    def role_paths(self, module: Any, role: str) -> list[str]:
        """Dotted paths (under the backbone module) of every submodule playing ``role``."""
        if role not in self.roles:
            known = ", ".join(sorted(self.roles)) or "none"
            raise KeyError(f"this backbone declares no module role {role!r}; declared roles: {known}")
        return list(_expand(module, self.roles[role].split("."), ""))


def _expand(module: Any, parts: list[str], prefix: str) -> Iterator[str]:
    if not parts:
        yield prefix.rstrip(".")
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for name, child in module.named_children():
            yield from _expand(child, rest, f"{prefix}{name}.")
    else:
        child = getattr(module, head, None)
        if child is not None:
            yield from _expand(child, rest, f"{prefix}{head}.")


@attrs.frozen(kw_only=True)
class TransformersBackbone(Backbone):
    """A Hugging Face base model as a backbone; a plugin gives the classes and a few specifics.

    ``defaults`` and ``tiny`` are config overrides for the documented default and the tiny test architecture (None,
    the default: derived from the default architecture by ``archit_core.parts.tiny.derive_tiny``); ``roles`` name module paths for rewrites; ``head_layouts`` give the family's Hugging Face head layouts;
    ``causal`` says the model is a decoder (a config with ``is_decoder=True`` makes any model one).
    """

    config_class: str | type
    model_class: str | type
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    tiny: Mapping[str, Any] | None = None
    checkpoint_prefix: str | None = None
    roles: Mapping[str, str] = attrs.field(factory=dict)
    head_layouts: Mapping[str, HFLayout] = attrs.field(factory=dict)
    description: str = ""
    causal: bool = False

    def _config_cls(self) -> type:
        return resolve(self.config_class)

    def _model_cls(self) -> type:
        return resolve(self.model_class)

    @property
    def model_type(self) -> str:
        """The Hugging Face ``model_type`` this backbone builds (used to check checkpoints)."""
        return self._config_cls().model_type

    def tiny_overrides(self) -> dict[str, Any]:
        """The overrides of the tiny architecture: the plugin's ``tiny``, else derived from the default one."""
        if self.tiny is not None:
            return dict(self.tiny)
        from .tiny import derive_tiny

        cls = self._config_cls()
        return derive_tiny(cls, cls(**self.defaults))

    def make_config(self, overrides: Any = None, *, tiny: bool = False) -> Any:
        cls = self._config_cls()
        if overrides is not None and not isinstance(overrides, Mapping):
            if not isinstance(overrides, cls):
                raise ConfigError(
                    f"backbone_config: this backbone takes a {cls.__name__} (or a dict of overrides), "
                    f"got a {type(overrides).__name__}"
                )
            return copy.deepcopy(overrides)
        overrides = dict(overrides or {})
        known = config_fields(cls) | set(self.defaults) | set(self.tiny or {})  # extra attributes the plugin sets itself
        for key in overrides:
            if key not in known:
                raise ConfigError(f"backbone_config.{key}: {cls.__name__} has no field {key!r}{did_you_mean(key, known)}")
        values = {**self.defaults, **(self.tiny_overrides() if tiny else {}), **overrides}
        return construct_config(cls, values)

    def config_from_dict(self, data: Mapping[str, Any]) -> Any:
        return self._config_cls().from_dict(dict(data))

    def config_to_dict(self, config: Any) -> dict[str, Any]:
        return config.to_dict()

    def model_kwargs(self, needs: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The keyword arguments the base model class is built with for ``needs`` (``add_pooling_layer`` where the
        class takes one): what :meth:`build` passes, and what generated standalone code passes."""
        takes = "add_pooling_layer" in inspect.signature(self._model_cls().__init__).parameters
        return {"add_pooling_layer": "pooler" in needs} if takes else {}

    def provides(self, config: Any) -> frozenset[str]:
        caps = {"token_states", "hidden_states", "input_embeddings"}
        if getattr(config, "vocab_size", None):
            caps.add("vocabulary")
        if self.model_kwargs():
            caps.add("pooler")
        if self.causal or getattr(config, "is_decoder", False):
            caps.add("causal")
        return frozenset(caps)

    def build(self, config: Any, needs: frozenset[str] = frozenset()) -> Any:
        return self._model_cls()(config, **self.model_kwargs(needs))

    def facts(self, config: Any) -> BackboneFacts:
        return facts_from_config(config, self.provides(config))

    def encode(self, module: Any, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        from ..model.transformers_compat import cache_of

        out = module(**inputs, output_hidden_states=output_hidden_states, return_dict=True)
        return BackboneOutput(
            token_states=out.last_hidden_state,
            attention_mask=inputs.get("attention_mask"),
            hidden_states=getattr(out, "hidden_states", None),
            pooled=getattr(out, "pooler_output", None),
            cache=cache_of(out),
        )


_MISSING: Any = object()


def facts_from_config(config: Any, provides: frozenset[str]) -> BackboneFacts:
    """:class:`BackboneFacts` read from a config object or a dict by the field names families use (``hidden_size``
    or ``d_model`` or ``n_embd``, ...: the tables of :mod:`.fields`, shared with the generic backbones); a missing hidden size or layer count is a :class:`ConfigError`."""
    read = config.get if isinstance(config, Mapping) else lambda name: getattr(config, name, None)

    def field(*names: str, default: Any = _MISSING) -> Any:
        for name in names:
            value = read(name)
            if value is not None:
                return value
        if default is _MISSING:
            raise ConfigError(f"{type(config).__name__} has none of the fields {', '.join(names)}; the backbone needs one")
        return default

    return BackboneFacts(
        hidden_size=field(*fields.HIDDEN),
        num_layers=field(*fields.LAYERS),
        vocab_size=field("vocab_size", default=None),
        dropout=float(field(*fields.DROPOUT, default=0.0)),
        classifier_dropout=field(*fields.CLASSIFIER_DROPOUT, default=None),
        initializer_range=float(field(*fields.INIT_RANGE, default=0.02)),
        layer_norm_eps=float(field(*fields.LAYER_NORM_EPS, default=1e-12)),
        hidden_act=field(*fields.ACTIVATION, default=None),
        provides=provides,
        embedding_size=field("embedding_size", default=None),
        tie_word_embeddings=field("tie_word_embeddings", default=None),
    )


def encoder_roles(*, query: str = "query", key: str = "key", value: str = "value", **extra: str) -> dict[str, str]:
    """The module roles of an encoder laid out as BERT's (``embeddings``, ``encoder.layer.*`` with
    ``attention.self.{query,key,value}``, ``attention.output.dense``, ``intermediate.dense``, ``output.dense``);
    ``query``/``key``/``value`` rename the projections, ``extra`` adds roles."""
    layer = "encoder.layer.*"
    return {
        "embeddings": "embeddings",
        "word_embeddings": "embeddings.word_embeddings",
        "layers": layer,
        "attention.query": f"{layer}.attention.self.{query}",
        "attention.key": f"{layer}.attention.self.{key}",
        "attention.value": f"{layer}.attention.self.{value}",
        "attention.output": f"{layer}.attention.output.dense",
        "feed_forward.in": f"{layer}.intermediate.dense",
        "feed_forward.out": f"{layer}.output.dense",
        **extra,
    }
