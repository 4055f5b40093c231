"""The config field names Hugging Face families use for one fact (hidden size, depth, ...), and reading them: shared by
the generic backbone's facts and the tiny-architecture derivation. Imports nothing of archit."""

from __future__ import annotations

from typing import Any

#: Config field names families use for one fact, in the order they are tried.
HIDDEN = ("hidden_size", "d_model", "n_embd", "dim", "embed_dim", "n_embed", "model_dim")
LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers")
HEADS = ("num_attention_heads", "num_heads", "n_head", "n_heads", "encoder_attention_heads", "decoder_attention_heads")
DROPOUT = ("hidden_dropout_prob", "hidden_dropout", "dropout", "resid_pdrop", "dropout_rate", "residual_dropout", "dropout_prob")
CLASSIFIER_DROPOUT = ("classifier_dropout", "classifier_dropout_prob", "seq_classif_dropout", "classif_dropout")
INIT_RANGE = ("initializer_range", "init_std")
LAYER_NORM_EPS = ("layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps", "norm_eps")
ACTIVATION = ("hidden_act", "activation_function", "hidden_activation", "activation")
KV_HEADS = ("num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num")


def first_field(config: Any, names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` that ``config`` sets (not None), or None."""
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None
