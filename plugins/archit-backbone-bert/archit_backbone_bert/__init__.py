"""archit backbone ``bert``: transformers' ``BertModel``; the default is bert-base-uncased's architecture."""

from __future__ import annotations

from archit_core import HFEquivalent, TransformersBackbone, hookimpl

BERT = TransformersBackbone(
    config_class="transformers:BertConfig",
    model_class="transformers:BertModel",
    # BertConfig's own defaults are bert-base-uncased: 12 layers, hidden 768, 12 heads, vocabulary 30522.
    defaults={},
    tiny={"vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64},
    checkpoint_prefix="bert",
    roles={
        "embeddings": "embeddings",
        "word_embeddings": "embeddings.word_embeddings",
        "layers": "encoder.layer.*",
        "attention.query": "encoder.layer.*.attention.self.query",
        "attention.key": "encoder.layer.*.attention.self.key",
        "attention.value": "encoder.layer.*.attention.self.value",
        "attention.output": "encoder.layer.*.attention.output.dense",
        "feed_forward.in": "encoder.layer.*.intermediate.dense",
        "feed_forward.out": "encoder.layer.*.output.dense",
    },
    # The masked-lm head's own layout is BERT's (cls.predictions.*), so it needs no entry here.
    head_layouts={
        # BertForSequenceClassification: the base model's pooler (dense + tanh on the first token), dropout, classifier.
        "sequence-classification": HFEquivalent(
            auto_class="AutoModelForSequenceClassification",
            keys={"classifier.": "classifier."},
            config={"pooling": "pooler"},
            config_fields=("num_labels", "problem_type"),
        ),
    },
    description="BERT encoder (default: bert-base-uncased architecture, random weights)",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("bert", BERT)
