"""The head config: validation errors name the field; needs follow pooling."""

from __future__ import annotations

import pytest
from archit_head_sequence_classification import SequenceClassificationConfig

import archit_core

HEAD = "sequence-classification"


def make(data: dict) -> SequenceClassificationConfig:
    return archit_core.get_host().head(HEAD).obj.make_config(data)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"num_labels": 0}, "num_labels"),
        ({"num_labels": 2.0}, "num_labels"),
        ({"num_label": 3}, "num_label"),
        ({"pooling": "cls"}, "pooling"),
        ({"problem_type": "ranking"}, "problem_type"),
        ({"pooler_dense": "yes"}, "pooler_dense"),
        ({"pooling": "pooler", "pooler_dense": True}, "pooler_dense"),
        ({"pooler_activation": 3}, "pooler_activation"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_invalid_configs_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
        make(data)


def test_unknown_activation_is_refused_at_build_time() -> None:
    pytest.importorskip("archit_backbone_bert")
    with pytest.raises(archit_core.ConfigError, match="pooler_activation"):
        archit_core.build("bert", HEAD, tiny=True, head_config={"pooler_activation": "no-such-activation"})


def test_needs_follow_pooling() -> None:
    assert make({}).needs() == {"token_states"}
    assert make({"pooling": "pooler"}).needs() == {"token_states", "pooler"}


def test_round_trip() -> None:
    config = make({"num_labels": 5, "problem_type": "regression", "pooling": "mean", "pooler_dense": True, "dropout": 0.2})
    assert make(archit_core.config_to_dict(config)) == config


def test_mean_pooling_builds_and_trains() -> None:
    pytest.importorskip("archit_backbone_bert")
    import torch

    model = archit_core.build("bert", HEAD, tiny=True, head_config={"num_labels": 3, "pooling": "mean"})
    out = model(input_ids=torch.tensor([[5, 6, 7], [8, 9, 0]]), attention_mask=torch.tensor([[1, 1, 1], [1, 1, 0]]),
                labels=torch.tensor([0, 2]))
    out.loss.backward()
    assert out.logits.shape == (2, 3)
    assert model.head.classifier.weight.grad is not None


def test_late_pooling_is_the_mean_of_the_dense_layer_on_every_token() -> None:
    pytest.importorskip("archit_backbone_bert")
    import torch

    model = archit_core.build("bert", HEAD, tiny=True, head_config={"num_labels": 3, "pooling": "late", "pooler_dense": True,
                                                                    "pooler_norm": True, "pooler_bias": False}).eval()
    assert model.head.pooler.dense.bias is None and model.head.pooler.norm.bias is None
    ids, mask = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([[1, 1, 1], [1, 1, 0]])
    with torch.no_grad():
        states = model.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        per_token = model.head.pooler(states)
        expected = model.head.classifier(torch.stack([per_token[0].mean(0), per_token[1, :2].mean(0)]))
        torch.testing.assert_close(model(input_ids=ids, attention_mask=mask).logits, expected)
