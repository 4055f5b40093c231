"""archit backbone ``bert``: transformers' ``BertModel``; the default is bert-base-uncased's architecture."""

from __future__ import annotations

from archit_core import HFLayout, TransformersBackbone, encoder_roles, hookimpl

BERT = TransformersBackbone(
    config_class="transformers:BertConfig",
    model_class="transformers:BertModel",
    # BertConfig's own defaults are bert-base-uncased: 12 layers, hidden 768, 12 heads, vocabulary 30522.
    # The tiny architecture is derived from the default one (archit_core.parts.tiny.derive_tiny).
    defaults={},
    checkpoint_prefix="bert",
    roles=encoder_roles(),
    # The masked-lm head's own layout is BERT's (cls.predictions.*), so it needs no entry here.
    head_layouts={
        # BertForSequenceClassification: the base model's pooler (dense + tanh on the first token), dropout, classifier.
        "sequence-classification": HFLayout(
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
