"""The tiny test architecture of any Hugging Face config class, derived from its defaults (:func:`derive_tiny`).

Every field that sets a size takes the value of :data:`TINY` (fields a config lacks are skipped); defaults above a cap
are capped; per-layer lists shrink with the depth; a few layouts need their own sizes (multi-head latent attention,
layout models' box embeddings, partial rotary factors); special token ids are renumbered to fit the tiny vocabulary.
Used by the generic backbones and by :class:`~archit_core.TransformersBackbone` when a plugin gives no ``tiny``.
"""

from __future__ import annotations

from typing import Any

from .configs import config_fields
from .fields import HEADS, HIDDEN, KV_HEADS, LAYERS, first_field

TINY_VOCAB = 1000
TINY_LAYERS = 2
_TINY_HEAD_DIM = 8
_KV = frozenset(KV_HEADS)
#: The tiny test architecture: value for every field name that sets it (fields a config lacks are skipped).
TINY: dict[tuple[str, ...], int] = {
    HIDDEN: 32,
    LAYERS + ("decoder_layers", "num_decoder_layers"): TINY_LAYERS,
    HEADS: 4,
    KV_HEADS: 2,
    ("intermediate_size", "d_ff", "n_inner", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim", "hidden_dim", "dim_feedforward", "d_inner"): 64,
    ("head_dim", "d_head", "d_kv", "attention_head_dim", "kv_channels", "v_head_dim"): _TINY_HEAD_DIM,
    ("embedding_size",): 16,
    ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"): 4,
    ("num_experts_per_tok", "moe_topk"): 2,
    ("n_shared_experts",): 1,
    ("moe_intermediate_size", "shared_expert_intermediate_size", "expert_intermediate_size"): 32,
    ("kv_lora_rank", "q_lora_rank"): 16,
    ("qk_rope_head_dim", "qk_nope_head_dim", "rotary_dim"): 4,
}
#: Layout models embed one box per token from slices of the hidden state, so their tiny hidden size must divide:
#: with ``max_2d_position_embeddings`` into six box parts (x0, y0, x1, y1, width, height; LayoutLMv3: four
#: coordinates and two shapes), with ``dim_bbox`` into a quarter whose share per box coordinate is even (BROS).
TINY_LAYOUT = {
    "max_2d_position_embeddings": {"hidden_size": 48, "coordinate_size": 8, "shape_size": 8},
    "dim_bbox": {"hidden_size": 64},
}
#: Fields capped in the tiny architecture (a default above the cap is replaced by it).
TINY_CAPS = {"vocab_size": TINY_VOCAB, "max_position_embeddings": 512}


def derive_tiny(config_class: type, default_config: Any) -> dict[str, Any]:
    """Config overrides that make ``config_class``'s default (``default_config``, an instance) a tiny model: the
    values of :data:`TINY` for the fields it has, caps, shrunk per-layer lists, family-specific fixes (see the module
    docstring), special token ids renumbered into the tiny vocabulary."""
    default = default_config
    fields = config_fields(config_class) | set(vars(default))
    values: dict[str, Any] = {}
    for names, value in TINY.items():
        for name in names:
            if name in fields and not (name in ("q_lora_rank", "rotary_dim") and getattr(default, name, None) is None):
                values[name] = value
    hidden = first_field(default, HIDDEN)
    if "embedding_size" in values and getattr(default, "embedding_size", None) in (hidden, None):
        values["embedding_size"] = TINY[HIDDEN]  # embeddings factorised only where the family's default factorises
    for name, cap in TINY_CAPS.items():
        current = getattr(default, name, None)
        if name in fields and isinstance(current, int) and current > cap:
            values[name] = cap
    layers = first_field(default, LAYERS)
    for name, current in vars(default).items():  # per-layer lists (layer_types, attention_window, ...) shrink too
        if isinstance(current, (list, tuple)) and layers and len(current) == layers > TINY_LAYERS and not name.startswith("_"):
            values[name] = _shrink_per_layer(list(current))
        elif _layer_counts(current, layers):  # layers per block (funnel's block_sizes): one layer per block
            values[name] = [1] * len(current)
    if "kv_lora_rank" in fields:  # multi-head latent attention: rope over head_dim, one key/value head per head
        values.update({k: _TINY_HEAD_DIM for k in ("qk_rope_head_dim", "qk_nope_head_dim") if k in fields})
        if "qk_head_dim" in fields:
            values["qk_head_dim"] = 2 * _TINY_HEAD_DIM
        if "num_key_value_heads" in values:
            values["num_key_value_heads"] = values.get("num_attention_heads", 4)
    if isinstance(getattr(default, "attention_window", None), int):
        values["attention_window"] = 4
    for marker, sizes in TINY_LAYOUT.items():  # layout models slice the hidden state per box part
        if marker in fields:
            values.update({k: v for k, v in sizes.items() if k in fields})
    if "qk_head_dim" in values and getattr(default, "head_dim", None) == getattr(default, "qk_head_dim", None):
        values["head_dim"] = values["qk_head_dim"]  # the rotary fraction applies to the query/key head size
    values.update(_tiny_rope(default))
    for name, current in vars(default).items():  # a default chosen among the config's options: the first option
        options = getattr(default, name[len("default_"):] + "s", None) if name.startswith("default_") else None
        if current is None and isinstance(options, (list, tuple)) and options:
            values[name] = options[0]
    vocab = values.get("vocab_size", getattr(default, "vocab_size", None))
    free = iter(range((vocab or TINY_VOCAB) - 1, 0, -1))
    renumbered: dict[int, int] = {}
    for name, current in sorted(vars(default).items()):  # special token ids must fit the tiny vocabulary
        if not name.endswith("token_id") or not isinstance(vocab, int):
            continue
        if isinstance(current, int) and current >= vocab:
            values[name] = renumbered.setdefault(current, next(free))
        elif isinstance(current, list) and any(isinstance(i, int) and i >= vocab for i in current):
            values[name] = [renumbered.setdefault(i, next(free)) if i >= vocab else i for i in current]
    if "pad_token_id" in fields and getattr(default, "pad_token_id", None) is None:
        values["pad_token_id"] = 0  # Hugging Face's decoder classifiers need one to find the last token
    return values


def accepted_tiny(config_class: type, tiny: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``tiny`` and its config; a config class that refuses grouped key/value heads (its validation raises) gets one
    key/value head per attention head instead, which every attention layout accepts."""
    try:
        return tiny, config_class(**tiny)
    except Exception:
        kv = _KV & set(tiny)
        heads = next((tiny[h] for h in HEADS if h in tiny), None)
        if not kv or heads is None:
            raise
        tiny = {**tiny, **dict.fromkeys(kv, heads)}
        return tiny, config_class(**tiny)


def _tiny_rope(default: Any) -> dict[str, Any]:
    """Rotary parameters whose partial factor rotates a multiple of 4 of the tiny head's dimensions (families that
    rotate pairs of pairs refuse others): a smaller factor becomes 0.5. Nested per-layer-type parameters too."""
    rope = getattr(default, "rope_parameters", None)
    if not isinstance(rope, dict):
        return {}

    def fixed(params: dict[str, Any]) -> dict[str, Any]:
        factor = params.get("partial_rotary_factor")
        if isinstance(factor, float) and (factor * _TINY_HEAD_DIM) % 4:
            return {**params, "partial_rotary_factor": 0.5}
        return params

    nested = {k: fixed(v) if isinstance(v, dict) else v for k, v in rope.items()}
    new = fixed(nested)
    return {"rope_parameters": new} if new != rope else {}


def _shrink_per_layer(values: list[Any]) -> list[Any]:
    """A per-layer list cut to the tiny depth, keeping each kind of layer it has (sliding and full attention)."""
    kinds = [v for i, v in enumerate(values) if v not in values[:i]] if all(isinstance(v, str) for v in values) else []
    if 1 < len(kinds) <= TINY_LAYERS:
        return kinds + [kinds[-1]] * (TINY_LAYERS - len(kinds))
    return values[:TINY_LAYERS]


def _layer_counts(value: Any, layers: Any) -> bool:
    """Whether ``value`` is a list of per-block layer counts adding up to ``layers``."""
    return (
        isinstance(value, (list, tuple)) and 1 < len(value) < (layers or 0)
        and all(isinstance(v, int) and v > 0 for v in value) and sum(value) == layers
    )

