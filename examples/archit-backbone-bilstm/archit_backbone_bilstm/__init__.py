"""archit backbone ``bilstm``: a bidirectional LSTM over token ids, a backbone that is no Hugging Face model."""

import attrs

from archit_core import ModuleBackbone, hookimpl, positive, probability


@attrs.frozen(kw_only=True)
class BiLSTMConfig:
    """``hidden_size``: the width of the token states (half of it per direction)."""

    vocab_size: int = attrs.field(default=30522, validator=positive)
    hidden_size: int = attrs.field(default=512, validator=positive)
    num_layers: int = attrs.field(default=2, validator=positive)
    dropout: float = attrs.field(default=0.1, validator=probability)


BILSTM = ModuleBackbone(
    config_class=BiLSTMConfig,
    module_class="archit_backbone_bilstm.module:BiLSTM",
    tiny={"vocab_size": 1000, "hidden_size": 32},
    roles={"embeddings": "embeddings", "word_embeddings": "embeddings", "layers": "layers.*"},
    description="a bidirectional LSTM encoder over token ids",
)


@hookimpl
def provide_backbone(registry):
    registry.add_backbone("bilstm", BILSTM)
