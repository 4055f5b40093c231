"""build(): capabilities checked at build time, head and backbone configs validated with errors naming the field."""

from __future__ import annotations

import pytest
import torch

import archit_core
from archit_core import ConfigError, IncompatibleHeadError
from archit_core.testing.toys import PooledConfig


def test_a_head_needing_what_the_backbone_lacks_is_refused_at_build_time(toy_host, monkeypatch):
    from archit_core.model.modeling import ModelWithHead

    built = []
    monkeypatch.setattr(ModelWithHead, "__init__", lambda self, config: built.append(config))
    with pytest.raises(IncompatibleHeadError) as info:
        archit_core.build("toy", "pooled")
    assert not built  # refused before any module was made
    message = str(info.value)
    assert "head 'pooled'" in message and "backbone 'toy' (archit-toy 0.0.1)" in message
    assert "needs 'pooler'" in message and "it provides: hidden_states, input_embeddings, token_states" in message


def test_the_same_head_without_the_need_builds(toy_host, batch):
    model = archit_core.build("toy", "pooled", head_config={"pooling": "mean", "num_labels": 3})
    assert model(**batch).logits.shape == (2, 3)


def test_a_pooler_is_built_only_for_a_head_that_needs_it(real_host, batch):
    pooled = archit_core.build("roberta", "pooled", tiny=True)
    assert pooled.backbone.pooler is not None
    assert pooled(**batch).logits.shape == (2, 2)
    tagger = archit_core.build("roberta", "token-classification", tiny=True)
    assert tagger.backbone.pooler is None
    assert not [n for n in tagger.state_dict() if "pooler" in n]


@pytest.mark.parametrize(
    ("head_config", "message"),
    [
        ({"num_labels": 0}, r"head_config\.num_labels: 'num_labels' must be > 0, got 0"),
        ({"num_labels": -3}, r"head_config\.num_labels: .*> 0"),
        ({"num_labels": "3"}, r"head_config\.num_labels: 'num_labels' must be an int, got str '3'"),
        ({"num_labels": True}, r"head_config\.num_labels: 'num_labels' must be an int, got bool"),
        ({"num_lables": 3}, r"head_config\.num_lables: unknown field 'num_lables' for TokenClassificationConfig; valid fields: dropout, num_labels"),
        ({"dropout": 1.5}, r"head_config\.dropout: 'dropout' must be in \[0, 1\), got 1\.5"),
        ({"dropout": "high"}, r"head_config\.dropout: 'dropout' must be a float"),
        ([3], r"head_config: expected a dict of TokenClassificationConfig fields, got list"),
        (PooledConfig(), r"head_config: expected TokenClassificationConfig or a dict, got PooledConfig"),
    ],
    ids=["zero-labels", "negative-labels", "str-labels", "bool-labels", "unknown-field", "dropout-range", "dropout-type", "not-a-dict", "other-config"],
)
def test_invalid_head_configs_name_the_field(real_host, head_config, message):
    with pytest.raises(ConfigError, match=message):
        archit_core.build("roberta", "token-classification", head_config=head_config, tiny=True)


def test_a_valid_head_config_object_is_used_as_given(real_host):
    from archit_head_token_classification import TokenClassificationConfig

    config = TokenClassificationConfig(num_labels=4, dropout=0.0)
    model = archit_core.build("roberta", "token-classification", head_config=config, tiny=True)
    assert model.head.config == config
    assert model.config.head_config == {"num_labels": 4, "dropout": 0.0, "transform": None, "transform_bias": True}
    assert model.head.classifier.out_features == 4 and model.config.num_labels == 4


def test_a_bad_backbone_config_key_gets_a_did_you_mean(real_host):
    with pytest.raises(ConfigError, match=r"backbone_config\.hidden_sise: RobertaConfig has no field 'hidden_sise'; did you mean 'hidden_size'\?"):
        archit_core.build("roberta", "token-classification", backbone_config={"hidden_sise": 64}, tiny=True)


def test_backbone_config_overrides_apply_over_the_tiny_architecture(real_host):
    model = archit_core.build("roberta", "token-classification", backbone_config={"num_hidden_layers": 3}, tiny=True)
    assert model.config.backbone_config.num_hidden_layers == 3
    assert model.config.backbone_config.hidden_size == 32  # from the tiny architecture
    assert len(model.backbone.encoder.layer) == 3


def test_a_backbone_config_of_another_type_is_refused(real_host):
    from transformers import BertConfig

    with pytest.raises(ConfigError, match="backbone_config: this backbone takes a RobertaConfig .* got a BertConfig"):
        archit_core.build("roberta", "token-classification", backbone_config=BertConfig())


def test_unknown_build_options_are_refused(real_host):
    with pytest.raises(ConfigError, match=r"unknown option\(s\) 'num_layers' for build\(\)"):
        archit_core.build("roberta", "token-classification", tiny=True, num_layers=2)


def test_dtype_places_the_model(real_host):
    model = archit_core.build("roberta", "token-classification", tiny=True, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert torch.get_default_dtype() == torch.float32
