"""archit backbone ``deberta``: transformers' ``DebertaV2Model`` (DeBERTa-v2 and v3); the default is
deberta-v3-base's architecture.

DeBERTa-v2 has no pooler in its base model, so heads asking for ``pooling="pooler"`` are refused at build time;
its Hugging Face sequence classifier pools with a ``ContextPooler`` outside the base model, which the
``sequence-classification`` head reproduces with ``pooling="first", pooler_dense=True``.
"""

from __future__ import annotations

from operator import attrgetter

from archit_core import HFLayout, TransformersBackbone, encoder_roles, hookimpl

#: DeBERTa-v2's ContextPooler as the head-side dense pooler of the pooling heads (keys and head config).
CONTEXT_POOLER = {
    "keys": {"pooler.dense.": "pooler.dense.", "classifier.": "classifier."},
    "config": {"pooling": "first", "pooler_dense": True, "pooler_activation": attrgetter("pooler_hidden_act")},
}

DEBERTA = TransformersBackbone(
    config_class="transformers:DebertaV2Config",
    model_class="transformers:DebertaV2Model",
    # deberta-v3-base: 12 layers, hidden 768, 12 heads, vocabulary 128100, disentangled relative attention with
    # 256 log-buckets, shared position keys, no absolute positions in the input.
    # position_buckets, norm_rel_ebd and share_att_key are no DebertaV2Config fields: the config keeps them as
    # extra attributes, which DebertaV2Model reads. The tiny architecture is derived from this one.
    defaults={
        "vocab_size": 128100,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "max_position_embeddings": 512,
        "relative_attention": True,
        "position_buckets": 256,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "pos_att_type": ["p2c", "c2p"],
        "max_relative_positions": -1,
        "position_biased_input": False,
        "layer_norm_eps": 1e-7,
        "type_vocab_size": 0,
        "pad_token_id": 0,
    },
    checkpoint_prefix="deberta",
    roles=encoder_roles(query="query_proj", key="key_proj", value="value_proj", relative_embeddings="encoder.rel_embeddings"),
    head_layouts={
        # DebertaV2ForSequenceClassification: ContextPooler (dense + config.pooler_hidden_act on the first token)
        # at the top level, dropout, classifier; DebertaV2ForMultipleChoice: the same, a one-output classifier.
        "sequence-classification": HFLayout(auto_class="AutoModelForSequenceClassification", **CONTEXT_POOLER,
                                            config_fields=("num_labels", "problem_type")),
        "multiple-choice": HFLayout(auto_class="AutoModelForMultipleChoice", **CONTEXT_POOLER),
        # DebertaV2ForMaskedLM has two layouts, chosen by config.legacy: lm_predictions.lm_head.* (dense,
        # hidden_act, LayerNorm, output bias; the projection is always the word embeddings, as in the original
        # DeBERTa checkpoints) and, by default, the BERT-like cls.predictions.* (decoder tied to the word
        # embeddings, cls.predictions.bias the same tensor as cls.predictions.decoder.bias). Both import; the
        # legacy one, listed last, is the layout exported.
        "masked-lm": HFLayout(
            auto_class="AutoModelForMaskedLM",
            keys={
                "lm_predictions.lm_head.dense.": "transform.dense.",
                "lm_predictions.lm_head.LayerNorm.": "transform.layer_norm.",
                "lm_predictions.lm_head.bias": "decoder.bias",
                "cls.predictions.transform.dense.": "transform.dense.",
                "cls.predictions.transform.LayerNorm.": "transform.layer_norm.",
                "cls.predictions.decoder.": "decoder.",
                "cls.predictions.bias": "decoder.bias",
            },
            config_fields=("tie_word_embeddings",),
        ),
    },
    description="DeBERTa-v2/v3 encoder (default: deberta-v3-base architecture, random weights)",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("deberta", DEBERTA)
