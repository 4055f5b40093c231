"""A third-party plugin written against archit-core 0.1's documented API (docs/plugins.md as it was): a ``Backbone``
subclass implementing every method itself, and a head declared with ``HFEquivalent`` and ``hf_equivalent=``. It is
kept unchanged so the tests prove that such plugins still install and pass the contract suite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from archit_core import (
    Backbone,
    BackboneFacts,
    BackboneOutput,
    ConfigError,
    HeadConfig,
    HeadSpec,
    HFEquivalent,
    hookimpl,
    positive,
    probability,
)

DEFAULTS = {"vocab_size": 30522, "hidden_size": 512, "num_layers": 2, "dropout": 0.1}
TINY = {"vocab_size": 1000, "hidden_size": 32}


class LegacyBiLSTMBackbone(Backbone):
    """A bidirectional LSTM over token ids, with a plain-dict config."""

    roles = {"embeddings": "embeddings", "layers": "layers.*"}
    description = "a bidirectional LSTM encoder (old-style plugin)"

    def make_config(self, overrides: Any = None, *, tiny: bool = False) -> dict[str, Any]:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"backbone_config.{unknown[0]}: the BiLSTM backbone has no field {unknown[0]!r}")
        return {**DEFAULTS, **(TINY if tiny else {}), **overrides}

    def config_from_dict(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return dict(data)

    def config_to_dict(self, config: Any) -> dict[str, Any]:
        return dict(config)

    def provides(self, config: Any) -> frozenset[str]:
        return frozenset({"token_states", "hidden_states", "input_embeddings", "vocabulary"})

    def build(self, config: Any, needs: frozenset[str] = frozenset()) -> Any:
        from .module import LegacyBiLSTM

        return LegacyBiLSTM(**config)

    def facts(self, config: Any) -> BackboneFacts:
        return BackboneFacts(hidden_size=config["hidden_size"], num_layers=config["num_layers"],
                             vocab_size=config["vocab_size"], dropout=config["dropout"], provides=self.provides(config))

    def encode(self, module: Any, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        states, hidden = module(inputs["input_ids"], inputs.get("attention_mask"))
        return BackboneOutput(token_states=states, attention_mask=inputs.get("attention_mask"),
                              hidden_states=hidden if output_hidden_states else None)


@attrs.frozen(kw_only=True)
class MeanClassifierConfig(HeadConfig):
    """``num_labels`` classes for the masked mean of the token states."""

    num_labels: int = attrs.field(default=2, validator=positive)
    dropout: float | None = attrs.field(default=None, validator=probability)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("bilstm-legacy", LegacyBiLSTMBackbone())


@hookimpl
def provide_head(registry):
    registry.add_head("mean-classifier", HeadSpec(
        module="archit_backbone_bilstm_legacy.module:MeanClassifierHead",
        config_class=MeanClassifierConfig,
        hf_equivalent=HFEquivalent(auto_class="AutoModelForSequenceClassification", keys={"classifier.": "classifier."},
                                   config={"pooling": "mean"}, config_fields=("num_labels",)),
        description="a linear classifier on the masked mean (old-style head)",
    ))
