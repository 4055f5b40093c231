"""Parity of the ``llama`` backbone with Hugging Face's ``LlamaModel`` and ``LlamaForTokenClassification``."""

from __future__ import annotations

import torch
import transformers

import archit_core
from archit_core.testing.parity import assert_backbone_matches, assert_head_matches

INPUTS = {"input_ids": torch.tensor([[11, 12, 13, 14, 15], [0, 0, 21, 22, 23]]),
          "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])}


def spec():
    return archit_core.get_host().backbone("llama").obj


def test_encode_matches_llama_model_with_padding() -> None:
    assert_backbone_matches("llama", transformers.LlamaModel, INPUTS, pooler=False)


def test_default_is_smollm2_135m_and_causal() -> None:
    config = spec().make_config()
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.num_key_value_heads, config.intermediate_size) == (49152, 576, 30, 9, 3, 1536)
    assert config.tie_word_embeddings and config.rope_parameters["rope_theta"] == 100000.0
    assert "causal" in spec().provides(config)
    facts = spec().facts(spec().make_config(tiny=True))
    assert (facts.hidden_size, facts.num_layers, facts.vocab_size, facts.hidden_act) == (32, 2, 1000, "silu")
    assert facts.layer_norm_eps == 1e-5 and facts.tie_word_embeddings is False


def test_roles() -> None:
    module = spec().build(spec().make_config(tiny=True))
    assert spec().role_paths(module, "attention.key") == ["layers.0.self_attn.k_proj", "layers.1.self_attn.k_proj"]
    assert spec().role_paths(module, "feed_forward.gate") == ["layers.0.mlp.gate_proj", "layers.1.mlp.gate_proj"]


def test_token_classification_matches() -> None:
    labels = torch.tensor([[0, 1, 2, 1, 0], [-100, -100, 1, 2, 2]])
    assert_head_matches("llama", "token-classification", transformers.LlamaForTokenClassification, INPUTS, labels, num_labels=3)


def test_sequence_classification_matches() -> None:
    # Hugging Face finds the last non-padding token from pad_token_id; the archit head from the attention mask.
    inputs = {"input_ids": torch.tensor([[11, 12, 13, 14, 15], [21, 22, 23, 0, 0]]),
              "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}
    assert_head_matches("llama", "sequence-classification", transformers.LlamaForSequenceClassification, inputs, torch.tensor([2, 0]),
                        num_labels=3, pad_token_id=0)
