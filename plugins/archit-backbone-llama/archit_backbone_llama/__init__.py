"""archit backbone ``llama``: transformers' ``LlamaModel``, a causal decoder (rotary positions, RMSNorm, SwiGLU,
grouped-query attention).

The default is a small Llama, SmolLM2-135M's architecture (about 135M parameters, 0.5 GB in float32), not a
multi-gigabyte Llama 2/3: pass ``backbone_config`` overrides (or a checkpoint) for larger ones.
"""

from __future__ import annotations

from archit_core import HFLayout, TransformersBackbone, hookimpl

LLAMA = TransformersBackbone(
    config_class="transformers:LlamaConfig",
    model_class="transformers:LlamaModel",
    # SmolLM2-135M: 30 layers, width 576, 9 query heads sharing 3 key/value heads, SwiGLU width 1536,
    # vocabulary 49152, 8192 positions, rope theta 100000, input and output embeddings tied.
    defaults={
        "vocab_size": 49152,
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5,
        "rope_parameters": {"rope_type": "default", "rope_theta": 100000.0},
        "tie_word_embeddings": True,
    },
    # Tiny: untied, so the test architecture exercises a separate output projection (GPT-2's tiny one ties).
    tiny={"vocab_size": 1000, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
          "tie_word_embeddings": False},
    checkpoint_prefix="model",
    causal=True,
    roles={
        "embeddings": "embed_tokens",
        "word_embeddings": "embed_tokens",
        "layers": "layers.*",
        "attention.query": "layers.*.self_attn.q_proj",
        "attention.key": "layers.*.self_attn.k_proj",
        "attention.value": "layers.*.self_attn.v_proj",
        "attention.output": "layers.*.self_attn.o_proj",
        "feed_forward.gate": "layers.*.mlp.gate_proj",
        "feed_forward.in": "layers.*.mlp.up_proj",
        "feed_forward.out": "layers.*.mlp.down_proj",
        "final_norm": "norm",
    },
    head_layouts={
        # LlamaForSequenceClassification: a bias-free `score` on the last non-padding token.
        "sequence-classification": HFLayout(
            auto_class="AutoModelForSequenceClassification",
            keys={"score.": "classifier."},
            config={"pooling": "last", "classifier_bias": False},
            config_fields=("num_labels", "problem_type"),
        ),
        # LlamaForTokenClassification names its classifier `score`.
        "token-classification": HFLayout(
            auto_class="AutoModelForTokenClassification",
            keys={"score.": "classifier."},
            config_fields=("num_labels",),
        ),
    },
    description="Llama decoder (default: SmolLM2-135M architecture, random weights)",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("llama", LLAMA)
