"""Parity with Hugging Face's ``*ForQuestionAnswering``: same weights, same start/end logits and loss, whether the
weights come through ``import_hf_state_dict``, ``build(checkpoint=)`` of a saved Hugging Face QA checkpoint, or
go back through ``to_transformers``; exporting warns only when the head's dropout is lost."""

from __future__ import annotations

import warnings

import pytest
import torch

import archit_core
from archit_core.testing.parity import assert_outputs_match, head_parity, hf_head_model

HEAD = "question-answering"
BACKBONES = ["roberta", "bert", "deberta"]


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
        assert_outputs_match(got, expected, ("start_logits", "end_logits", "loss"))
        assert got.logits is None and got.answerable_logits is None
    assert len(plain) == len(plain_hf) == 2  # (start_logits, end_logits), in Hugging Face's order
    for ours, theirs in zip(plain, plain_hf):
        torch.testing.assert_close(ours, theirs)


test_parity = head_parity(HEAD, BACKBONES, assert_same)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_export_warns_only_when_the_dropout_is_lost(backbone: str) -> None:
    # *ForQuestionAnswering apply no dropout before qa_outputs: the default dropout=0.0 is exactly theirs.
    model = archit_core.build(backbone, HEAD, tiny=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        archit_core.to_transformers(model)
    lossy = archit_core.build(backbone, HEAD, tiny=True, head_config={"dropout": 0.2})
    with pytest.warns(UserWarning, match=r"dropout=0.2 does not carry over: \w+ForQuestionAnswering applies no dropout"):
        archit_core.to_transformers(lossy)
    backbone_dropout = archit_core.build(backbone, HEAD, tiny=True, head_config={"dropout": None})
    with pytest.warns(UserWarning, match=r"dropout=None \(the backbone's classifier dropout, 0.1\) does not carry over"):
        archit_core.to_transformers(backbone_dropout)


def test_answerability_head_is_not_taken_from_a_hugging_face_checkpoint(tmp_path) -> None:
    hf = hf_head_model("bert", HEAD)
    hf.save_pretrained(tmp_path)
    model = archit_core.build("bert", HEAD, checkpoint=tmp_path, head_config={"answerability": True})
    assert model.head.config.answerability
    assert any("fresh" in note and "answerability" in note for note in model.loading_report.notes)
    with pytest.raises(archit_core.ArchitError, match="answerability"):
        archit_core.to_transformers(model)
