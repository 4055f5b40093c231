"""Parity with Hugging Face's ``*ForQuestionAnswering``: same weights, same start/end logits and loss, whether the
weights come through ``import_hf_state_dict`` or ``build(checkpoint=)`` of a saved Hugging Face QA checkpoint."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.interop import equivalent, head_config_for_hf, import_hf_state_dict

HEAD = "question-answering"
BACKBONES = ["roberta", "bert", "deberta"]


def hf_model(backbone: str) -> torch.nn.Module:
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True)
    torch.manual_seed(0)
    return getattr(transformers, equivalent(backbone, HEAD).auto_class).from_config(config).eval()


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 1000, (3, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


# In range, past the end (clamped to seq_len and ignored) and negative (clamped to 0), as Hugging Face handles them.
START = torch.tensor([2, 40, -3])
END = torch.tensor([4, 5, 1])


def assert_same(hf: torch.nn.Module, model: torch.nn.Module) -> None:
    inputs = batch()
    with torch.no_grad():
        expected = hf(**inputs, start_positions=START, end_positions=END)
        by_name = model(**inputs, start_positions=START, end_positions=END)
        by_labels = model(**inputs, labels=torch.stack([START, END], dim=1))
        plain_hf = hf(**inputs, return_dict=False)
        plain = model(**inputs, return_dict=False)
    for got in (by_name, by_labels):
        torch.testing.assert_close(got.start_logits, expected.start_logits)
        torch.testing.assert_close(got.end_logits, expected.end_logits)
        torch.testing.assert_close(got.loss, expected.loss)
        assert got.logits is None and got.answerable_logits is None
    assert len(plain) == len(plain_hf) == 2  # (start_logits, end_logits), in Hugging Face's order
    for ours, theirs in zip(plain, plain_hf):
        torch.testing.assert_close(ours, theirs)


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
    report = model.loading_report
    assert report.complete, str(report)
    assert any("imported" in note for note in report.notes)
    assert_same(hf, model.eval())


@pytest.mark.parametrize("backbone", BACKBONES)
def test_exports_to_hugging_face(backbone: str) -> None:
    pytest.importorskip(f"archit_backbone_{backbone}")
    model = archit_core.build(backbone, HEAD, tiny=True).eval()
    hf = archit_core.to_transformers(model).eval()
    assert type(hf).__name__.endswith("ForQuestionAnswering")
    assert_same(hf, model)


def test_answerability_head_is_not_taken_from_a_hugging_face_checkpoint(tmp_path) -> None:
    hf = hf_model("bert")
    hf.save_pretrained(tmp_path)
    model = archit_core.build("bert", HEAD, checkpoint=tmp_path, head_config={"answerability": True})
    assert model.head.config.answerability
    assert any("fresh" in note and "answerability" in note for note in model.loading_report.notes)
    with pytest.raises(archit_core.ArchitError, match="answerability"):
        archit_core.to_transformers(model)
