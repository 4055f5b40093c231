"""Parity of the ``gpt2`` backbone with Hugging Face's ``GPT2Model`` and ``GPT2ForTokenClassification``."""

from __future__ import annotations

import torch
import transformers

import archit_core
from archit_core.testing.parity import assert_backbone_matches, assert_head_matches

INPUTS = {"input_ids": torch.tensor([[11, 12, 13, 14, 15], [21, 22, 23, 0, 0]]),
          "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}


def spec():
    return archit_core.get_host().backbone("gpt2").obj


def test_encode_matches_gpt2_model_with_padding() -> None:
    assert_backbone_matches("gpt2", transformers.GPT2Model, INPUTS, pooler=False)


def test_default_is_gpt2_124m_and_causal() -> None:
    config = spec().make_config()
    assert (config.vocab_size, config.n_embd, config.n_layer, config.n_head, config.n_positions) == (50257, 768, 12, 12, 1024)
    assert config.tie_word_embeddings and "causal" in spec().provides(config)
    facts = spec().facts(spec().make_config(tiny=True))
    assert (facts.hidden_size, facts.num_layers, facts.vocab_size, facts.hidden_act) == (32, 2, 1000, "gelu_new")
    assert facts.layer_norm_eps == 1e-5 and facts.tie_word_embeddings is True


def test_roles_name_the_fused_attention() -> None:
    module = spec().build(spec().make_config(tiny=True))
    assert spec().role_paths(module, "attention.qkv") == ["h.0.attn.c_attn", "h.1.attn.c_attn"]
    assert spec().role_paths(module, "word_embeddings") == ["wte"]


def test_token_classification_matches() -> None:
    labels = torch.tensor([[0, 1, 2, 1, 0], [2, 2, 1, -100, -100]])
    assert_head_matches("gpt2", "token-classification", transformers.GPT2ForTokenClassification, INPUTS, labels, num_labels=3)


def test_sequence_classification_matches() -> None:
    # Hugging Face finds the last non-padding token from pad_token_id; the archit head from the attention mask.
    inputs = {"input_ids": torch.tensor([[11, 12, 13, 14, 15], [21, 22, 23, 0, 0]]),
              "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}
    assert_head_matches("gpt2", "sequence-classification", transformers.GPT2ForSequenceClassification, inputs, torch.tensor([2, 0]),
                        num_labels=3, pad_token_id=0)
