"""archit backbone ``gpt2``: transformers' ``GPT2Model``, a causal decoder; the default is gpt2's (124M)
architecture.

GPT-2 computes query, key and value with one fused projection (``attn.c_attn``, a ``Conv1D``), so its module
roles name ``attention.qkv`` instead of separate ``attention.query``/``key``/``value`` roles.
"""

from __future__ import annotations

from archit_core import HFLayout, TransformersBackbone, hookimpl

GPT2 = TransformersBackbone(
    config_class="transformers:GPT2Config",
    model_class="transformers:GPT2Model",
    # GPT2Config's own defaults are gpt2 (124M): 12 layers, width 768, 12 heads, 1024 positions, vocabulary 50257,
    # gelu_new, input and output embeddings tied; token 50256 (<|endoftext|>) begins and ends texts.
    defaults={},
    # Tiny: the last id of the small vocabulary stands for <|endoftext|>, as 50256 does in gpt2's.
    tiny={"vocab_size": 1000, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 128, "bos_token_id": 999,
          "eos_token_id": 999},
    checkpoint_prefix="transformer",
    causal=True,
    roles={
        "embeddings": "wte",
        "word_embeddings": "wte",
        "position_embeddings": "wpe",
        "layers": "h.*",
        "attention.qkv": "h.*.attn.c_attn",
        "attention.output": "h.*.attn.c_proj",
        "feed_forward.in": "h.*.mlp.c_fc",
        "feed_forward.out": "h.*.mlp.c_proj",
        "final_norm": "ln_f",
    },
    head_layouts={
        # GPT2ForSequenceClassification: a bias-free `score` on the last non-padding token.
        "sequence-classification": HFLayout(
            auto_class="AutoModelForSequenceClassification",
            keys={"score.": "classifier."},
            config={"pooling": "last", "classifier_bias": False},
            config_fields=("num_labels", "problem_type"),
        ),
    },
    description="GPT-2 decoder (default: gpt2 124M architecture, random weights)",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("gpt2", GPT2)
