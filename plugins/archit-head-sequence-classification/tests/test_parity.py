"""Parity with Hugging Face's ``*ForSequenceClassification``: same weights, same logits and loss."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import equivalent, head_config_for_hf, import_hf_state_dict

HEAD = "sequence-classification"


def paired(backbone: str, **hf_config: object) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A tiny random Hugging Face sequence classifier on ``backbone`` and the archit model holding its weights."""
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True)
    for name, value in hf_config.items():
        setattr(config, name, value)
    torch.manual_seed(0)
    hf = getattr(transformers, equivalent(backbone, HEAD).auto_class).from_config(config).eval()
    model = archit_core.build(backbone, HEAD, backbone_config=config, head_config=head_config_for_hf(backbone, HEAD, config))
    import_hf_state_dict(model, hf.state_dict())
    return hf, model.eval()


def batch(vocab: int = 1000) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, vocab, (3, 7), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def assert_same(hf: torch.nn.Module, model: torch.nn.Module, labels: torch.Tensor) -> None:
    inputs = batch()
    with torch.no_grad():
        expected = hf(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)


@pytest.mark.parametrize("backbone", ["roberta", "bert", "deberta"])
def test_single_label(backbone: str) -> None:
    hf, model = paired(backbone, num_labels=3)
    assert_same(hf, model, torch.tensor([0, 2, 1]))


@pytest.mark.parametrize(
    ("backbone", "problem_type"), [("bert", None), ("roberta", None), ("deberta", "multi_label_classification")]
)
def test_multi_label(backbone: str, problem_type: str | None) -> None:
    # DeBERTa decides an unset problem_type its own way (soft labels), so its multi-label case names it.
    hf, model = paired(backbone, num_labels=4, problem_type=problem_type)
    assert_same(hf, model, torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]]))


@pytest.mark.parametrize(("backbone", "problem_type"), [("bert", None), ("roberta", None), ("deberta", "regression")])
def test_regression(backbone: str, problem_type: str | None) -> None:
    # With problem_type unset, DeBERTa returns its regression logits flattened to (batch,); named, it does not.
    hf, model = paired(backbone, num_labels=1, problem_type=problem_type)
    assert_same(hf, model, torch.tensor([0.5, -1.0, 2.0]))


def test_explicit_single_label_problem_type() -> None:
    hf, model = paired("bert", num_labels=2, problem_type="single_label_classification")
    assert model.head.config.problem_type == "single_label_classification"
    assert_same(hf, model, torch.tensor([1, 0, 1]))


def test_layouts_match_hugging_face_configs() -> None:
    pytest.importorskip("archit_backbone_deberta")
    config = archit_core.get_host().backbone("deberta").obj.make_config(tiny=True, overrides={"pooler_hidden_act": "tanh"})
    values = head_config_for_hf("deberta", HEAD, config)
    assert values["pooling"] == "first" and values["pooler_dense"] is True
    assert values["pooler_activation"] == "tanh"

