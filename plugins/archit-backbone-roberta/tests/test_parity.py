"""Parity of the ``roberta`` backbone with Hugging Face's ``RobertaModel`` on the same weights."""

from __future__ import annotations

import torch
import transformers

import archit_core


def test_encode_matches_roberta_model_with_padding() -> None:
    spec = archit_core.get_host().backbone("roberta").obj
    config = spec.make_config(tiny=True)
    torch.manual_seed(0)
    hf = transformers.RobertaModel(config).eval()
    module = spec.build(config, frozenset({"pooler"})).eval()
    module.load_state_dict(hf.state_dict())
    # RoBERTa counts positions from the padding index, so padded rows must agree too.
    input_ids = torch.tensor([[0, 11, 12, 13, 2], [0, 21, 2, config.pad_token_id, config.pad_token_id]])
    inputs = {"input_ids": input_ids, "attention_mask": (input_ids != config.pad_token_id).long()}
    with torch.no_grad():
        expected = hf(**inputs, output_hidden_states=True)
        got = spec.encode(module, inputs, output_hidden_states=True)
    torch.testing.assert_close(got.token_states, expected.last_hidden_state)
    torch.testing.assert_close(got.hidden_states, expected.hidden_states)
    torch.testing.assert_close(got.pooled, expected.pooler_output)


def test_default_is_roberta_base() -> None:
    config = archit_core.get_host().backbone("roberta").obj.make_config()
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers, config.max_position_embeddings) == (50265, 768, 12, 514)
