"""archit backbone ``electra``: transformers' ``ElectraModel`` (default: electra-base-discriminator's architecture)."""

from archit_core import TransformersBackbone, hookimpl

ELECTRA = TransformersBackbone(
    config_class="transformers:ElectraConfig",
    model_class="transformers:ElectraModel",
    defaults={"embedding_size": 768, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
              "intermediate_size": 3072},
    tiny={"vocab_size": 1000, "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 64},
    checkpoint_prefix="electra",
    roles={"embeddings": "embeddings", "layers": "encoder.layer.*",
           "attention.query": "encoder.layer.*.attention.self.query",
           "attention.value": "encoder.layer.*.attention.self.value"},
    description="ELECTRA discriminator encoder",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("electra", ELECTRA)
