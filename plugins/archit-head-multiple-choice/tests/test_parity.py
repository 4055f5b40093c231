"""Parity with Hugging Face's ``*ForMultipleChoice``: same weights, same (batch, choices) logits and loss, through
``import_hf_state_dict``, ``build(checkpoint=)`` of a saved Hugging Face checkpoint, and ``to_transformers``."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.interop import equivalent, head_config_for_hf, import_hf_state_dict

HEAD = "multiple-choice"
BACKBONES = ["roberta", "bert", "deberta"]


def hf_model(backbone: str) -> torch.nn.Module:
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True, overrides={"hidden_act": "gelu"})
    torch.manual_seed(0)
    return getattr(transformers, equivalent(backbone, HEAD).auto_class).from_config(config).eval()


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 1000, (2, 4, 7), generator=generator)  # (batch, choices, length)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 2, 5:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": torch.zeros_like(input_ids)}


LABELS = torch.tensor([3, 1])


def assert_same(hf: torch.nn.Module, model: torch.nn.Module) -> None:
    inputs = batch()
    with torch.no_grad():
        expected = hf(**inputs, labels=LABELS, output_hidden_states=True)
        got = model(**inputs, labels=LABELS, output_hidden_states=True)
    assert got.logits.shape == (2, 4)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)
    torch.testing.assert_close(got.hidden_states, expected.hidden_states)  # (batch * choices, length, hidden)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_imported_weights_match_hugging_face(backbone: str) -> None:
    hf = hf_model(backbone)
    model = archit_core.build(backbone, HEAD, backbone_config=hf.config, head_config=head_config_for_hf(backbone, HEAD, hf.config))
    import_hf_state_dict(model, hf.state_dict())
    assert_same(hf, model.eval())


@pytest.mark.parametrize("backbone", BACKBONES)
def test_hugging_face_checkpoint_matches(backbone: str, tmp_path) -> None:
    hf = hf_model(backbone)
    hf.save_pretrained(tmp_path)
    model = archit_core.build(backbone, HEAD, checkpoint=tmp_path, strict=True)
    assert model.loading_report.complete, str(model.loading_report)
    assert_same(hf, model.eval())


@pytest.mark.parametrize("backbone", BACKBONES)
def test_exports_to_hugging_face(backbone: str) -> None:
    hf = hf_model(backbone)
    model = archit_core.build(backbone, HEAD, backbone_config=hf.config, head_config=head_config_for_hf(backbone, HEAD, hf.config))
    exported = archit_core.to_transformers(model.eval()).eval()
    assert type(exported).__name__.endswith("ForMultipleChoice")
    assert_same(exported, model)


def test_deberta_uses_its_context_pooler_layout() -> None:
    hf = hf_model("deberta")
    assert {"pooler.dense.weight", "classifier.weight"} <= set(hf.state_dict())
    values = head_config_for_hf("deberta", HEAD, hf.config)
    assert values == {"pooling": "first", "pooler_dense": True, "pooler_activation": "gelu"}
