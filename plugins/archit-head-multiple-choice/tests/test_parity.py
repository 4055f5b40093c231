"""Parity with Hugging Face's ``*ForMultipleChoice``: same weights, same (batch, choices) logits and loss, through
``import_hf_state_dict``, ``build(checkpoint=)`` of a saved Hugging Face checkpoint, and ``to_transformers``."""

from __future__ import annotations

import torch

from archit_core.checkpoints.interop import head_config_for_hf
from archit_core.testing.parity import assert_outputs_match, head_parity, hf_head_model

HEAD = "multiple-choice"
BACKBONES = ["roberta", "bert", "deberta"]


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
    # hidden states: (batch * choices, length, hidden), as Hugging Face's
    assert_outputs_match(got, expected, ("logits", "loss", "hidden_states"))


test_parity = head_parity(HEAD, BACKBONES, assert_same, hidden_act="gelu")


def test_deberta_uses_its_context_pooler_layout() -> None:
    hf = hf_head_model("deberta", HEAD, hidden_act="gelu")
    assert {"pooler.dense.weight", "classifier.weight"} <= set(hf.state_dict())
    values = head_config_for_hf("deberta", HEAD, hf.config)
    assert values == {"pooling": "first", "pooler_dense": True, "pooler_activation": "gelu"}
