"""Parity of the ``deberta`` backbone with Hugging Face's ``DebertaV2Model`` (v3 architecture), its defaults,
and the refusal of heads that need a base-model pooler."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.testing.parity import assert_backbone_matches


def deberta() -> archit_core.Backbone:
    return archit_core.get_host().backbone("deberta").obj


def test_encode_matches_deberta_v2_model() -> None:
    config = deberta().make_config(tiny=True)
    assert config.relative_attention and config.position_buckets == 256 and config.share_att_key  # v3 attention
    input_ids = torch.randint(3, config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1))
    inputs = {"input_ids": input_ids, "attention_mask": torch.tensor([[1] * 9, [1] * 6 + [0] * 3])}
    assert_backbone_matches("deberta", transformers.DebertaV2Model, inputs, pooler=False)


def test_default_is_deberta_v3_base() -> None:
    config = deberta().make_config()
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (128100, 768, 12, 12)
    assert (config.intermediate_size, config.max_relative_positions, config.type_vocab_size) == (3072, -1, 0)
    assert (config.position_buckets, config.norm_rel_ebd, config.share_att_key) == (256, "layer_norm", True)
    assert config.pos_att_type == ["p2c", "c2p"] and config.position_biased_input is False
    assert config.layer_norm_eps == 1e-7 and config.pad_token_id == 0


def test_extra_attributes_can_be_overridden_and_round_trip() -> None:
    config = deberta().make_config({"position_buckets": 64, "share_att_key": False}, tiny=True)
    again = deberta().config_from_dict(deberta().config_to_dict(config))
    assert (again.position_buckets, again.share_att_key) == (64, False)
    assert deberta().build(again).encoder.rel_embeddings.num_embeddings == 128
    with pytest.raises(archit_core.ConfigError, match="position_bucket"):
        deberta().make_config({"position_bucket": 64})


def test_no_pooler_so_pooler_heads_are_refused() -> None:
    assert "pooler" not in deberta().provides(deberta().make_config(tiny=True))
    pytest.importorskip("archit_head_sequence_classification")
    with pytest.raises(archit_core.IncompatibleHeadError, match="'pooler'"):
        archit_core.build("deberta", "sequence-classification", tiny=True, head_config={"pooling": "pooler"})
