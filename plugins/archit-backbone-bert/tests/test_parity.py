"""Parity of the ``bert`` backbone with Hugging Face's ``BertModel``, and BERT's pooler-based classifier layout."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import convert_hf_state_dict, head_config_for_hf
from archit_core.testing.parity import assert_backbone_matches


def test_encode_matches_bert_model_with_segments() -> None:
    inputs = {
        "input_ids": torch.tensor([[101, 7, 8, 102, 9, 102], [101, 5, 102, 6, 102, 0]]),
        "token_type_ids": torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]),
    }
    assert_backbone_matches("bert", transformers.BertModel, inputs)


def test_default_is_bert_base_uncased() -> None:
    config = archit_core.get_host().backbone("bert").obj.make_config()
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (30522, 768, 12, 12)


def test_pooler_is_built_only_for_heads_that_pool_with_it() -> None:
    pytest.importorskip("archit_head_sequence_classification")
    assert archit_core.build("bert", "sequence-classification", tiny=True).backbone.pooler is None
    config = archit_core.get_host().backbone("bert").obj.make_config(tiny=True)
    model = archit_core.build("bert", "sequence-classification", backbone_config=config,
                              head_config=head_config_for_hf("bert", "sequence-classification", config))
    assert model.backbone.pooler is not None
    # BertForSequenceClassification's pooler sits in the base model: bert.pooler.* -> backbone.pooler.*
    hf = transformers.BertForSequenceClassification(config)
    converted, unused = convert_hf_state_dict(model, hf.state_dict())
    assert not unused
    assert set(converted) == set(model.state_dict())
    assert "backbone.pooler.dense.weight" in converted and "head.classifier.weight" in converted
