"""Parity of the ``roberta`` backbone with Hugging Face's ``RobertaModel`` on the same weights."""

from __future__ import annotations

import torch
import transformers

import archit_core
from archit_core.testing.parity import assert_backbone_matches


def test_encode_matches_roberta_model_with_padding() -> None:
    # RoBERTa counts positions from the padding index (1), so padded rows must agree too.
    input_ids = torch.tensor([[0, 11, 12, 13, 2], [0, 21, 2, 1, 1]])
    assert_backbone_matches("roberta", transformers.RobertaModel, {"input_ids": input_ids, "attention_mask": (input_ids != 1).long()})


def test_default_is_roberta_base() -> None:
    config = archit_core.get_host().backbone("roberta").obj.make_config()
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers, config.max_position_embeddings) == (50265, 768, 12, 514)
