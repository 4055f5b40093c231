"""The shared parts plugins are built from: derived tiny architectures, role presets, validators, the renamed Hugging
Face layout (and its deprecated old names), the optional Head classmethods, and the pooling and vocabulary blocks."""

from __future__ import annotations

import warnings

import attrs
import pytest

import archit_core
from archit_core import HeadConfig, HeadSpec, HFLayout

OLD_TINY = {"vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


@pytest.mark.parametrize("name", ["bert", "deberta"])
def test_plugins_without_tiny_get_the_derived_one_which_is_what_they_had(name: str) -> None:
    pytest.importorskip(f"archit_backbone_{name}")
    backbone = archit_core.get_host().backbone(name).obj
    assert backbone.tiny is None
    assert backbone.tiny_overrides() == OLD_TINY
    cls = backbone._config_cls()
    assert backbone.make_config(tiny=True).to_dict() == cls(**{**backbone.defaults, **OLD_TINY}).to_dict()


def test_roberta_keeps_its_tiny_because_the_derived_one_differs() -> None:
    pytest.importorskip("archit_backbone_roberta")
    backbone = archit_core.get_host().backbone("roberta").obj
    from archit_core.parts.tiny import derive_tiny

    cls = backbone._config_cls()
    assert dict(backbone.tiny) == OLD_TINY != derive_tiny(cls, cls(**backbone.defaults))


def test_encoder_roles_are_the_bert_layout() -> None:
    roles = archit_core.encoder_roles(query="q", extra="x.y")
    assert roles["attention.query"] == "encoder.layer.*.attention.self.q"
    assert roles["attention.value"] == "encoder.layer.*.attention.self.value"
    assert roles["feed_forward.out"] == "encoder.layer.*.output.dense" and roles["extra"] == "x.y"


@attrs.frozen(kw_only=True)
class _Config(HeadConfig):
    on: bool = attrs.field(default=False, validator=archit_core.flag)
    act: str = attrs.field(default="gelu", validator=archit_core.activation_name)
    eps: float = attrs.field(default=1e-5, validator=archit_core.positive_number)
    name: str = attrs.field(default="a", validator=archit_core.identifier)
    widths: tuple = attrs.field(default=(), converter=archit_core.as_tuple, validator=archit_core.positive_ints)


@pytest.mark.parametrize(("data", "field"), [({"on": 1}, "on"), ({"act": ""}, "act"), ({"eps": 0}, "eps"),
                                             ({"eps": True}, "eps"), ({"name": "a b"}, "name"), ({"widths": [3, 0]}, "widths")])
def test_validators_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(archit_core.ConfigError, match=f"x.{field}"):
        archit_core.config_from_dict(_Config, data, where="x")
    assert archit_core.config_from_dict(_Config, {"widths": [3, 4]}).widths == (3, 4)


def test_pooling_configs_need_the_pooler_only_for_pooler_pooling() -> None:
    assert archit_core.pooling_needs("pooler") == {"token_states", "pooler"}
    assert archit_core.pooling_needs("mean") == {"token_states"}
    assert archit_core.SequencePoolingConfig(pooling="pooler").needs() == {"token_states", "pooler"}
    with pytest.raises(ValueError, match="pooler_dense"):
        archit_core.SequencePoolingConfig(pooling="pooler", pooler_dense=True)


def test_hf_layout_keeps_its_old_names_as_deprecated_aliases() -> None:
    assert archit_core.HFEquivalent is HFLayout
    layout = HFLayout(auto_class="AutoModelForTokenClassification")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = HeadSpec(module="m:C", config_class=HeadConfig, hf_layout=layout)
    with pytest.warns(DeprecationWarning, match="pass hf_layout="):
        old = HeadSpec(module="m:C", config_class=HeadConfig, hf_equivalent=layout)
    assert old == spec and old.hf_layout is layout
    with pytest.warns(DeprecationWarning, match="read .hf_layout"):
        assert spec.hf_equivalent is layout
    assert [v.config for v in HFLayout.variants("A", {"x": 1}, {"x": 2}, config_fields=("n",))] == [{"x": 1}, {"x": 2}]


def test_head_declares_its_optional_classmethods_as_not_provided() -> None:
    from archit_core import Head

    for name in ("dummy_labels", "dummy_inputs", "dummy_input_shape"):
        assert getattr(Head, name) is None


def test_activation_lookup_names_the_field() -> None:
    pytest.importorskip("torch")
    with pytest.raises(archit_core.ConfigError, match="head_config.transform: unknown activation 'nope'"):
        archit_core.activation("nope", field="transform")
    assert archit_core.activation("tanh") is not None


def test_multiple_choice_no_longer_depends_on_sequence_classification() -> None:
    pytest.importorskip("archit_head_multiple_choice")
    from importlib.metadata import requires

    from archit_head_multiple_choice.head import MultipleChoiceHead

    assert not any("sequence-classification" in r for r in requires("archit-head-multiple-choice") or ())
    assert MultipleChoiceHead.__mro__[1] is archit_core.SequencePoolingHead
