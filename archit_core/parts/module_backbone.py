"""Any ``nn.Module`` over token ids as a backbone: an attrs config class and the module class are the whole plugin.

Nothing here imports torch at module import; the module class is resolved when a backbone is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import attrs

from .._imports import resolve
from ..errors import ConfigError
from .backbone import Backbone, BackboneFacts, BackboneOutput, facts_from_config
from .configs import config_from_dict, config_to_dict, did_you_mean
from .head import HFLayout

#: Model inputs a module may leave out of its ``forward`` (they are then not passed); any other input is passed, so a
#: module that cannot take it fails loudly instead of ignoring it.
OPTIONAL_INPUTS = frozenset({"token_type_ids", "position_ids"})


@attrs.frozen(kw_only=True)
class ModuleBackbone(Backbone):
    """A backbone from an attrs config class and an ``nn.Module`` class (either may be a ``"package.module:Class"``
    string, imported when first used).

    The module is built as ``module_class(config)``, ``config`` an instance of ``config_class`` (plus ``pooler=``
    when its ``__init__`` takes one: True when a head needs the pooler). It is called with the model inputs its
    ``forward`` names (``input_ids``, ``attention_mask``, and ``output_hidden_states`` when it takes it) and returns
    the token states, a tuple ``(token_states, hidden_states[, pooled])`` with every layer's states (embeddings first)
    when asked, or a :class:`BackboneOutput`.

    The config a model stores is the attrs config's dict (``defaults``, then ``tiny`` for the test architecture, then
    the caller's overrides, validated by ``config_class``), so it saves as JSON as it is. Facts are read from its
    fields by the usual names (``hidden_size``, ``num_layers``, ``vocab_size``, ``dropout``, ...). Capabilities are
    inferred from the module class unless ``capabilities`` lists them: ``token_states``; ``hidden_states`` when
    ``forward`` takes ``output_hidden_states``; ``input_embeddings`` when it has ``get_input_embeddings``;
    ``vocabulary`` with a ``vocab_size``; ``pooler`` when ``__init__`` takes ``pooler``; ``causal`` when ``causal``.
    """

    config_class: str | type
    module_class: str | type
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    tiny: Mapping[str, Any] = attrs.field(factory=dict)
    checkpoint_prefix: str | None = None
    roles: Mapping[str, str] = attrs.field(factory=dict)
    head_layouts: Mapping[str, HFLayout] = attrs.field(factory=dict)
    description: str = ""
    causal: bool = False
    capabilities: frozenset[str] | None = None

    def _config_cls(self) -> type:
        return resolve(self.config_class)

    def _module_cls(self) -> type:
        return resolve(self.module_class)

    def config_instance(self, config: Mapping[str, Any]) -> Any:
        """The ``config_class`` instance of a stored config dict (what the module is built from)."""
        return config_from_dict(self._config_cls(), dict(config), where="backbone_config")

    def make_config(self, overrides: Any = None, *, tiny: bool = False) -> dict[str, Any]:
        cls = self._config_cls()
        if isinstance(overrides, cls):
            return config_to_dict(overrides)
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ConfigError(f"backbone_config: this backbone takes a {cls.__name__} (or a dict of overrides), "
                              f"got a {type(overrides).__name__}")
        known = {f.name for f in attrs.fields(cls) if f.init}
        for key in overrides or {}:
            if key not in known:
                raise ConfigError(f"backbone_config.{key}: {cls.__name__} has no field {key!r}{did_you_mean(key, known)}")
        return config_to_dict(self.config_instance({**self.defaults, **(self.tiny if tiny else {}), **(overrides or {})}))

    def config_from_dict(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return config_to_dict(self.config_instance(data))

    def config_to_dict(self, config: Any) -> dict[str, Any]:
        return dict(config)

    def _takes(self, method: str, name: str) -> bool:
        return name in inspect.signature(getattr(self._module_cls(), method)).parameters

    def provides(self, config: Any) -> frozenset[str]:
        if self.capabilities is not None:
            return frozenset(self.capabilities)
        caps = {"token_states"}
        caps |= {"hidden_states"} if self._takes("forward", "output_hidden_states") else set()
        caps |= {"input_embeddings"} if hasattr(self._module_cls(), "get_input_embeddings") else set()
        caps |= {"vocabulary"} if config.get("vocab_size") else set()
        caps |= {"pooler"} if self._takes("__init__", "pooler") else set()
        return frozenset(caps | ({"causal"} if self.causal else set()))

    def build(self, config: Any, needs: frozenset[str] = frozenset()) -> Any:
        kwargs = {"pooler": "pooler" in needs} if self._takes("__init__", "pooler") else {}
        return self._module_cls()(self.config_instance(config), **kwargs)

    def facts(self, config: Any) -> BackboneFacts:
        return facts_from_config(config, self.provides(config))

    def encode(self, module: Any, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        params = inspect.signature(module.forward).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in inputs.items() if takes_all or k in params or k not in OPTIONAL_INPUTS}
        if "output_hidden_states" in params:
            kwargs["output_hidden_states"] = output_hidden_states
        out = module(**kwargs)
        if isinstance(out, BackboneOutput):
            return out
        states, hidden, pooled = (*out, None, None)[:3] if isinstance(out, tuple) else (out, None, None)
        return BackboneOutput(states, inputs.get("attention_mask"), hidden if output_hidden_states else None, pooled)
