"""archit backbone ``roberta``: transformers' ``RobertaModel``; the default is roberta-base's architecture."""

from __future__ import annotations

from archit_core import HFLayout, TransformersBackbone, encoder_roles, hookimpl


def _lm_head_activation(config) -> str | None:
    """RobertaLMHead's activation as a masked-lm head config value: gelu, whatever hidden_act says (None, the
    head's default, takes hidden_act, so it is right when hidden_act is gelu)."""
    return None if config.hidden_act == "gelu" else "gelu"


ROBERTA = TransformersBackbone(
    config_class="transformers:RobertaConfig",
    model_class="transformers:RobertaModel",
    # roberta-base: 12 layers, hidden 768, 12 heads, vocabulary 50265, positions offset by the padding index.
    defaults={
        "vocab_size": 50265,
        "max_position_embeddings": 514,
        "type_vocab_size": 1,
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    },
    # Not the derived tiny architecture, which would also cap max_position_embeddings at 512.
    tiny={"vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64},
    checkpoint_prefix="roberta",
    roles=encoder_roles(),
    head_layouts={
        # RobertaClassificationHead: dense + tanh on the first token, then out_proj.
        "sequence-classification": HFLayout(
            auto_class="AutoModelForSequenceClassification",
            keys={"classifier.dense.": "pooler.dense.", "classifier.out_proj.": "classifier."},
            config={"pooling": "first", "pooler_dense": True, "pooler_activation": "tanh"},
            config_fields=("num_labels", "problem_type"),
        ),
        # RobertaLMHead: dense, gelu (fixed, whatever hidden_act says), layer_norm, decoder tied to the word
        # embeddings; its output bias lm_head.bias is the same tensor as lm_head.decoder.bias.
        "masked-lm": HFLayout(
            auto_class="AutoModelForMaskedLM",
            keys={
                "lm_head.dense.": "transform.dense.",
                "lm_head.layer_norm.": "transform.layer_norm.",
                "lm_head.decoder.": "decoder.",
                "lm_head.bias": "decoder.bias",
            },
            config={"activation": _lm_head_activation},
            config_fields=("tie_word_embeddings",),
        ),
    },
    description="RoBERTa encoder (default: roberta-base architecture, random weights)",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("roberta", ROBERTA)
