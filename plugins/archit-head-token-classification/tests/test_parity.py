"""Parity with Hugging Face's ``*ForTokenClassification``: same weights, same logits and loss."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import equivalent, head_config_for_hf, import_hf_state_dict

HEAD = "token-classification"


@pytest.mark.parametrize("backbone", ["roberta", "bert", "deberta"])
def test_logits_and_loss_match_hugging_face(backbone: str) -> None:
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True)
    config.num_labels = 5
    torch.manual_seed(0)
    hf = getattr(transformers, equivalent(backbone, HEAD).auto_class).from_config(config).eval()
    model = archit_core.build(backbone, HEAD, backbone_config=config, head_config=head_config_for_hf(backbone, HEAD, config))
    import_hf_state_dict(model, hf.state_dict())
    model.eval()

    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, config.vocab_size, (2, 6), generator=generator)
    attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    labels = torch.randint(0, 5, (2, 6), generator=generator)
    labels[1, 4:] = -100
    with torch.no_grad():
        expected = hf(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        got = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert model.head.config.num_labels == 5
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)


def test_invalid_config_names_the_field() -> None:
    spec = archit_core.get_host().head(HEAD).obj
    for data, field in [({"num_labels": 0}, "num_labels"), ({"labels": 3}, "labels"), ({"dropout": "0.1"}, "dropout")]:
        with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
            spec.make_config(data)


def test_transform_runs_dense_activation_and_norm_on_every_token() -> None:
    pytest.importorskip("archit_backbone_bert")
    with pytest.raises(archit_core.ConfigError, match="head_config.transform: unknown activation 'nope'"):
        archit_core.build("bert", HEAD, tiny=True, head_config={"transform": "nope"})
    model = archit_core.build("bert", HEAD, tiny=True, head_config={"num_labels": 3, "transform": "gelu", "transform_bias": False}).eval()
    dense, norm = model.head.transform.dense, model.head.transform.norm
    assert dense.bias is None and norm.bias is None
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        states = model.backbone(input_ids=ids).last_hidden_state
        expected = model.head.classifier(norm(torch.nn.functional.gelu(dense(states))))
        torch.testing.assert_close(model(input_ids=ids).logits, expected)
