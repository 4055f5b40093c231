"""The core's built-in backbone plugin: every Hugging Face text ``model_type`` as a backbone, with no plugin.

The host loads this module as plugin ``archit-core:generic``. It registers a *resolver*, not names: the registry asks
it only for names no installed plugin registers (a dedicated plugin always wins), and it answers any ``model_type``
transformers' ``AutoModel`` builds, so importing it (and ``archit plugins``) imports neither torch nor transformers.

A generic backbone is a :class:`~archit_core.TransformersBackbone` over the family's ``AutoModel`` class (for an
encoder-decoder model: its ``*EncoderModel`` class if the family has one, else the class of
``AutoModel.get_encoder()``). Its facts are read from the config under the names families use; its Hugging Face head
layouts are inferred by matching the task class's head structurally and checking it numerically (see
:func:`infer_head_layout`).
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Mapping
from typing import Any

import attrs

from ..parts.backbone import BackboneFacts, BackboneOutput, TransformersBackbone
from ..errors import ConfigError
from ..parts.head import HFEquivalent
from ..registry.hookspecs import hookimpl

DESCRIPTION = "any model_type transformers' AutoModel builds (`archit backbones --all` lists them)"

#: Config field names families use for one fact, in the order they are tried.
HIDDEN = ("hidden_size", "d_model", "n_embd", "dim", "embed_dim", "n_embed", "model_dim")
LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers")
HEADS = ("num_attention_heads", "num_heads", "n_head", "n_heads", "encoder_attention_heads", "decoder_attention_heads")
DROPOUT = ("hidden_dropout_prob", "hidden_dropout", "dropout", "resid_pdrop", "dropout_rate", "residual_dropout", "dropout_prob")
CLASSIFIER_DROPOUT = ("classifier_dropout", "classifier_dropout_prob", "seq_classif_dropout", "classif_dropout")
INIT_RANGE = ("initializer_range", "init_std")
LAYER_NORM_EPS = ("layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps", "norm_eps")
ACTIVATION = ("hidden_act", "activation_function", "hidden_activation", "activation")

#: The tiny test architecture: value for every field name that sets it (fields a config lacks are skipped).
TINY_VOCAB = 1000
TINY_LAYERS = 2
_TINY_HEAD_DIM = 8
_KV_HEADS = ("num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num")
_TINY_KV = frozenset(_KV_HEADS)
_TINY: dict[tuple[str, ...], int] = {
    HIDDEN: 32,
    LAYERS + ("decoder_layers", "num_decoder_layers"): TINY_LAYERS,
    HEADS: 4,
    _KV_HEADS: 2,
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
_TINY_LAYOUT = {
    "max_2d_position_embeddings": {"hidden_size": 48, "coordinate_size": 8, "shape_size": 8},
    "dim_bbox": {"hidden_size": 64},
}
#: Fields capped in the tiny architecture (a default above the cap is replaced by it).
_TINY_CAPS = {"vocab_size": TINY_VOCAB, "max_position_embeddings": 512}
#: Inputs beyond token ids some text families read (layout models: one box per token), by name: the per-token shape.
#: A generic backbone whose forward names one declares it in ``extra_inputs``; probes and benchmarks feed zeros.
EXTRA_INPUTS: dict[str, tuple[int, ...]] = {"bbox": (4,)}
#: Model inputs a generic backbone drops when the model's forward does not name them (tokenizers emit them freely).
_STANDARD_INPUTS = frozenset({"token_type_ids", "position_ids", "inputs_embeds"})


# -- transformers' tables, read lazily ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def model_types() -> dict[str, str]:
    """Normalised name -> ``model_type`` for every model type ``AutoModel`` maps (imports transformers)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    from ..registry.registrations import _normalise

    return {_normalise(t): t for t in CONFIG_MAPPING_NAMES if t in MODEL_MAPPING_NAMES}


class GenericBackbones:
    """The resolver the built-in plugin registers: a :class:`GenericBackbone` for any known ``model_type``."""

    description = DESCRIPTION

    def names(self) -> list[str]:
        return sorted(model_types())

    def resolve(self, name: str) -> GenericBackbone | None:
        model_type = model_types().get(name)
        return generic_backbone(model_type) if model_type else None


@hookimpl
def provide_backbone(registry: Any) -> None:
    registry.add_backbone_resolver(GenericBackbones())


# -- one generic backbone --------------------------------------------------------------------------------------------
def _first(config: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


class _FactsView:
    """``config`` seen under the canonical field names :meth:`TransformersBackbone.facts` reads."""

    def __init__(self, config: Any, values: Mapping[str, Any]) -> None:
        self._config, self._values = config, values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return getattr(self._config, name)


@attrs.frozen(kw_only=True)
class GenericBackbone(TransformersBackbone):
    """A :class:`TransformersBackbone` for one Hugging Face ``model_type``, built by :func:`generic_backbone`.

    ``hf_model_type`` is the ``model_type``; ``encoder_of`` names the encoder-decoder ``AutoModel`` class whose
    encoder this backbone is (None for encoders and decoders).
    """

    hf_model_type: str
    encoder_of: str | None = None
    always_pooled: bool = False
    extra_inputs: Mapping[str, tuple[int, ...]] = attrs.field(factory=dict)
    checkpoint_aliases: Mapping[str, str] = attrs.field(factory=dict)

    def provides(self, config: Any) -> frozenset[str]:
        caps = super().provides(config)
        return caps | {"pooler"} if self.always_pooled else caps

    def facts(self, config: Any) -> BackboneFacts:
        hidden = _first(config, HIDDEN)
        if hidden is None:
            raise ConfigError(
                f"{self.hf_model_type} config ({type(config).__name__}) has none of {'/'.join(HIDDEN)}, so the generic "
                "backbone cannot tell its hidden size; a dedicated backbone plugin for this family must give it"
            )
        layers = _first(config, LAYERS)
        if layers is None:
            raise ConfigError(
                f"{self.hf_model_type} config ({type(config).__name__}) has none of {'/'.join(LAYERS)}, so the generic "
                "backbone cannot tell its number of layers; a dedicated backbone plugin for this family must give it"
            )
        canonical = {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "hidden_dropout_prob": _first(config, DROPOUT),
            "classifier_dropout": _first(config, CLASSIFIER_DROPOUT),
            "initializer_range": _first(config, INIT_RANGE),
            "layer_norm_eps": _first(config, LAYER_NORM_EPS),
            "hidden_act": _first(config, ACTIVATION),
        }
        facts = super().facts(_FactsView(config, canonical))
        return attrs.evolve(facts, provides=self.provides(config))

    def _forward_params(self, module: Any) -> tuple[frozenset[str], bool]:
        params = inspect.signature(module.forward).parameters
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        return frozenset(params), var_kw

    def encode(self, module: Any, inputs: Mapping[str, Any], *, output_hidden_states: bool = False) -> BackboneOutput:
        named, var_kw = self._forward_params(module)
        kept = {k: v for k, v in inputs.items() if k in named or (var_kw and k not in _STANDARD_INPUTS)}
        if "use_cache" in named and "use_cache" not in kept:
            kept["use_cache"] = False  # no key/value cache unless the caller asks (generation passes it)
        return super().encode(module, kept, output_hidden_states=output_hidden_states)

    def head_layout(self, head_name: str, head_spec: Any) -> HFEquivalent | None:
        return infer_head_layout(self, head_name, head_spec)[0]


def _tiny_overrides(config_class: type, default: Any) -> dict[str, Any]:
    """Overrides that make ``config_class``'s default a tiny model (see the module's ``_TINY`` table)."""
    from ..parts.backbone import _config_fields

    fields = _config_fields(config_class) | set(vars(default))
    values: dict[str, Any] = {}
    for names, value in _TINY.items():
        for name in names:
            if name in fields and not (name in ("q_lora_rank", "rotary_dim") and getattr(default, name, None) is None):
                values[name] = value
    hidden = _first(default, HIDDEN)
    if "embedding_size" in values and getattr(default, "embedding_size", None) in (hidden, None):
        values["embedding_size"] = _TINY[HIDDEN]  # embeddings factorised only where the family's default factorises
    for name, cap in _TINY_CAPS.items():
        current = getattr(default, name, None)
        if name in fields and isinstance(current, int) and current > cap:
            values[name] = cap
    layers = _first(default, LAYERS)
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
    for marker, sizes in _TINY_LAYOUT.items():  # layout models slice the hidden state per box part
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


def _accepted_tiny(config_class: type, tiny: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``tiny`` and its config; a config class that refuses grouped key/value heads (its validation raises) gets one
    key/value head per attention head instead, which every attention layout accepts."""
    try:
        return tiny, config_class(**tiny)
    except Exception:
        kv = _TINY_KV & set(tiny)
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


def _meta_instance(cls: type, config: Any) -> Any:
    import torch

    with torch.device("meta"):
        return cls(config)


def _encoder_class(auto_class: type, config: Any) -> tuple[type, str, dict[str, str]]:
    """The encoder of an encoder-decoder ``AutoModel`` class, the checkpoint prefix of its weights, and key aliases:
    the encoder's weights in a bare base checkpoint (``encoder.*``) and its tied weights stored once at the model
    level (BART's ``model.shared`` for ``model.encoder.embed_tokens``), from the class's ``_tied_weights_keys``."""
    family = sys.modules[auto_class.__module__]
    stem = auto_class.__name__[: -len("Model")] if auto_class.__name__.endswith("Model") else auto_class.__name__
    dedicated = getattr(family, f"{stem}EncoderModel", None)
    if dedicated is not None:
        return dedicated, dedicated.base_model_prefix, {}
    model = _meta_instance(auto_class, config)
    encoder = model.get_encoder()
    path = next((name for name, child in model.named_modules() if child is encoder and name), None)
    if path is None:
        raise ConfigError(f"{auto_class.__name__} is an encoder-decoder model, but get_encoder() names no encoder module")
    base = auto_class.base_model_prefix
    owner = f"(?:{re.escape(base)}\\.)?" if base else ""
    aliases = {f"^{re.escape(path)}\\.": "backbone."} if base else {}
    ties = getattr(auto_class, "_tied_weights_keys", None)
    for key, source in (ties.items() if isinstance(ties, dict) else ()):
        if key.startswith(f"{path}.") and not source.startswith(f"{path}."):
            aliases[f"^{owner}{re.escape(source)}$"] = f"backbone.{key[len(path) + 1:]}"
    return type(encoder), f"{base}.{path}" if base else path, aliases


def _infer_roles(module: Any, layers: int | None) -> dict[str, str]:
    """Module roles that are unambiguous in the module tree: the input embeddings, and the one ``ModuleList`` of
    ``layers`` blocks (several candidate lists: no ``layers`` role)."""
    from torch import nn

    roles: dict[str, str] = {}
    embeddings = module.get_input_embeddings() if hasattr(module, "get_input_embeddings") else None
    path = next((name for name, child in module.named_modules() if child is embeddings and name), None)
    if path:
        roles["word_embeddings"] = path
    lists = [name for name, child in module.named_modules() if isinstance(child, nn.ModuleList) and len(child) == layers]
    if len(lists) == 1:
        roles["layers"] = f"{lists[0]}.*"
    return roles


@functools.lru_cache(maxsize=None)
def generic_backbone(model_type: str) -> GenericBackbone:
    """The generic backbone of ``model_type`` (imports transformers); a :class:`ConfigError` says why a model type
    cannot be one (not a text model)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    config_class = CONFIG_MAPPING[model_type]
    try:
        auto_class = MODEL_MAPPING[config_class]
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"transformers' AutoModel builds no {model_type!r} model ({exc})") from exc
    if isinstance(auto_class, (tuple, list)):  # several base classes (funnel's full and base models): the first
        auto_class = auto_class[0]
    if getattr(auto_class, "main_input_name", "input_ids") != "input_ids":
        raise ConfigError(
            f"{model_type!r} is not a text model: {auto_class.__name__} reads {auto_class.main_input_name!r}, not "
            "input_ids, so the generic backbone cannot drive it; a dedicated backbone plugin must"
        )
    default = config_class()
    tiny = _tiny_overrides(config_class, default)
    module_class, prefix, encoder_of = auto_class, auto_class.base_model_prefix or None, None
    tiny, tiny_config = _accepted_tiny(config_class, tiny)
    aliases: dict[str, str] = {}
    if getattr(default, "is_encoder_decoder", False):
        module_class, prefix, aliases = _encoder_class(auto_class, tiny_config)
        encoder_of = auto_class.__name__
    try:
        module = _meta_instance(module_class, tiny_config)
        roles = _infer_roles(module, _first(tiny_config, LAYERS))
    except Exception:  # roles are a convenience for rewrites; a family whose tree cannot be built on meta has none
        module, roles = None, {}
    # a pooler the model always builds (no add_pooling_layer switch) is a capability too
    always_pooled = getattr(module, "pooler", None) is not None and not _pooler_switch(module_class)
    what = f"the encoder ({module_class.__name__}) of {auto_class.__name__}" if encoder_of else auto_class.__name__
    return GenericBackbone(
        config_class=config_class,
        model_class=module_class,
        tiny=tiny,
        checkpoint_prefix=prefix,
        checkpoint_aliases=aliases,
        roles=roles,
        description=f"generic: {what}, {config_class.__name__} defaults",
        hf_model_type=model_type,
        encoder_of=encoder_of,
        causal=_is_decoder(model_type),
        always_pooled=always_pooled,
        extra_inputs={k: v for k, v in EXTRA_INPUTS.items() if k in inspect.signature(module_class.forward).parameters},
    )


def _pooler_switch(module_class: type) -> bool:
    return "add_pooling_layer" in inspect.signature(module_class.__init__).parameters


def _is_decoder(model_type: str) -> bool:
    """A model type transformers has a causal LM for and no masked LM: a decoder."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


# -- Hugging Face head layouts, inferred ------------------------------------------------------------------------------
_LAYOUTS: dict[tuple[str, str], tuple[HFEquivalent | None, str]] = {}


def infer_head_layout(backbone: GenericBackbone, head_name: str, head_spec: Any) -> tuple[HFEquivalent | None, str]:
    """The Hugging Face layout of ``head_spec`` on ``backbone`` and a one-line reason when there is none.

    The head declares candidate layouts (``hf_equivalent`` and ``hf_layouts``: configs under which it may compute
    what a Hugging Face task class does). On the tiny architecture, the family's task class (for the candidates'
    Auto class) is built with random weights (``num_labels`` 3 only when a candidate shares that field: question
    answering needs Hugging Face's 2); a candidate is the layout when the head built with it has the same parameter
    modules as the task class's head part and, with those weights, the same outputs on a padded batch of the head's
    own input shape (``dummy_input_shape``, through ``prepare_inputs``): every output it names (``logits``, or
    ``start_logits`` and ``end_logits``) equals Hugging Face's of that name. Modules are paired by parameter shapes,
    registration order first, and modules of equal shapes are permuted (at most ``_MAX_PAIRINGS``): the outputs decide,
    so no pairing that computes something else is kept. A Hugging Face parameter registered under several names is
    matched once and its aliases map to the same key. The pairing gives the key mapping. Cached per model type and head.
    """
    key = (backbone.hf_model_type, head_name)
    if key not in _LAYOUTS:
        try:
            _LAYOUTS[key] = _infer(backbone, head_spec)
        except Exception as exc:  # a family whose task class cannot be built has no layout; say why
            _LAYOUTS[key] = (None, f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
    return _LAYOUTS[key]


def _candidates(head_spec: Any) -> list[HFEquivalent]:
    found = [head_spec.hf_equivalent, *getattr(head_spec, "hf_layouts", ())]
    return [c for c in found if c is not None]


def _leaf_params(module: Any, prefix: str = "") -> tuple[list[tuple[str, list[tuple[str, tuple[int, ...]]]]], dict[str, str]]:
    """``(module path, [(param name, shape)])`` of every module holding parameters directly, in order, outside
    ``prefix``; and the aliases dropped: a parameter registered under several names (XLM-R's ``lm_head.bias`` is
    ``lm_head.decoder.bias``) is kept once, at its deepest path, and each other full name maps to that one."""
    paths: dict[int, list[str]] = {}
    for name, child in module.named_modules(remove_duplicate=False):
        if prefix and (name == prefix or name.startswith(prefix + ".")):
            continue
        for n, p in child.named_parameters(recurse=False):
            full = f"{name}.{n}" if name else n
            if full not in paths.setdefault(id(p), []):
                paths[id(p)].append(full)
    kept = {max(names, key=lambda k: k.count(".")): names for names in paths.values()}
    aliases = {alias: key for key, names in kept.items() for alias in names if alias != key}
    rows: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for name, child in module.named_modules(remove_duplicate=False):
        for n, p in child.named_parameters(recurse=False):
            full = f"{name}.{n}" if name else n
            if full in kept and n not in [m for m, _ in rows.get(name, [])]:
                rows.setdefault(name, []).append((n, tuple(p.shape)))
    return list(rows.items()), aliases


#: At most this many pairings of head parameter groups are tried per candidate (groups of equal shapes permuted).
_MAX_PAIRINGS = 24


def _pairings(ours: list[Any], theirs: list[Any]) -> Any:
    """Ways to pair each of ``ours`` (module path, params) with one of ``theirs`` of the same parameter shapes,
    registration order first; modules of equal shapes are permuted among themselves (the outputs decide)."""
    import itertools

    def shapes(group: Any) -> tuple[tuple[int, ...], ...]:
        return tuple(s for _, s in group[1])

    if sorted(map(shapes, ours)) != sorted(map(shapes, theirs)):
        return
    classes: dict[Any, list[int]] = {}
    for i, group in enumerate(theirs):
        classes.setdefault(shapes(group), []).append(i)
    orders = [itertools.permutations(members) for members in classes.values()]
    for choice in itertools.islice(itertools.product(*orders), _MAX_PAIRINGS):
        queues = {key: list(order) for key, order in zip(classes, choice)}
        yield [(group, theirs[queues[shapes(group)].pop(0)]) for group in ours]


def _key_map(pairs: list[Any], aliases: Mapping[str, str]) -> dict[str, str]:
    """Hugging Face key prefix -> archit head key prefix of a pairing (whole keys where a module path is empty),
    with the Hugging Face aliases of paired parameters mapped to the same archit parameter."""
    keys: dict[str, str] = {}
    full: dict[str, str] = {}
    for (o, op), (t, tp) in pairs:
        group = {f"{t}.{tn}" if t else tn: f"{o}.{n}" if o else n for (n, _), (tn, _) in zip(op, tp)}
        full.update(group)
        keys.update({f"{t}.": f"{o}."} if o and t else group)
    keys.update({alias: full[key] for alias, key in aliases.items() if key in full})
    return keys


def _named_outputs(out: Any) -> dict[str, Any]:
    """A head's outputs by name: ``logits`` (when set) and its named ``outputs`` (``start_logits``, ...)."""
    named = dict(out.outputs or {})
    if out.logits is not None:
        named["logits"] = out.logits
    return named


def _same_outputs(got: Mapping[str, Any], expected: Any) -> bool:
    """Whether every output the head names is the Hugging Face output of that name (same shape, same values)."""
    import torch

    for name, value in got.items():
        ref = expected.get(name) if hasattr(expected, "get") else getattr(expected, name, None)
        if not (torch.is_tensor(ref) and ref.shape == value.shape and torch.allclose(value, ref, atol=1e-5, rtol=1e-4)):
            return False
    return bool(got)


def _infer(backbone: GenericBackbone, head_spec: Any) -> tuple[HFEquivalent | None, str]:
    import torch

    from ..checkpoints.interop import hf_class_name, resolve_hf_values

    candidates = _candidates(head_spec)
    if not candidates:
        return None, "the head declares no Hugging Face equivalent"
    auto_class = candidates[0].auto_class
    class_name = hf_class_name(auto_class, backbone.hf_model_type)
    if class_name is None:
        return None, f"transformers has no {auto_class} class for {backbone.hf_model_type!r}"
    import transformers

    hf_class = getattr(transformers, class_name)
    config = backbone.make_config(tiny=True)
    if any("num_labels" in c.config_fields for c in candidates):
        config.num_labels = 3  # a width unlike the default 2, so the classifier's comes from the shared field
    torch.manual_seed(0)
    hf = hf_class(config).eval()
    prefix = hf_class.base_model_prefix
    base = getattr(hf, prefix, None) if prefix else None
    if not isinstance(base, backbone._model_cls()):
        found = type(base).__name__ if base is not None else "no base model"
        return None, f"{class_name}'s head reads {found}, not {backbone._model_cls().__name__} (the generic backbone)"
    theirs, aliases = _leaf_params(hf, prefix)
    state = hf.state_dict()
    facts = backbone.facts(config)
    module_class = head_spec.module_class()
    expected: dict[tuple[int, ...], Any] = {}  # Hugging Face's outputs per probe shape
    reasons = []
    for candidate in candidates:
        required, shared = resolve_hf_values(candidate, config) if _resolvable(candidate, config) else (None, None)
        if required is None:
            continue
        head_config = head_spec.make_config({**required, **shared})
        head = module_class(head_config, facts).eval()
        inputs = _probe_batch(config, backbone.extra_inputs, _probe_shape(module_class, head_config))
        shape = tuple(inputs["input_ids"].shape)
        with torch.no_grad():
            if shape not in expected:
                expected[shape] = hf(**inputs)
            encoded, head_inputs = head.prepare_inputs(dict(inputs))
            features = backbone.encode(base, encoded)
        needs = head_config.needs() if hasattr(head_config, "needs") else frozenset()
        if "pooler" in needs and features.pooled is None:
            continue
        ours, _ = _leaf_params(head)
        tried = False
        for pairs in _pairings(ours, theirs):
            tried = True
            head.load_state_dict({f"{o}.{n}" if o else n: state[f"{t}.{tn}" if t else tn]
                                  for (o, op), (t, tp) in pairs for (n, _), (tn, _) in zip(op, tp)})
            with torch.no_grad():
                got = _named_outputs(head(features, **head_inputs))
            if _same_outputs(got, expected[shape]):
                return attrs.evolve(candidate, keys=_key_map(pairs, aliases)), ""
        reasons.append("outputs" if tried else "shapes")
    shown = ", ".join(f"{name}{[s for _, s in p]}" for name, p in theirs) or "no parameters"
    why = "no candidate layout gives its outputs" if "outputs" in reasons else "its parameters match no candidate layout"
    return None, f"{class_name}'s head ({shown}): {why}"


def _probe_shape(module_class: type, head_config: Any) -> tuple[int, ...]:
    """The probe's ``input_ids`` shape: three sequences of seven tokens, or the head's own (``dummy_input_shape``:
    ``(batch, choices, length)`` for multiple choice)."""
    shape = getattr(module_class, "dummy_input_shape", None)
    return tuple(shape(head_config, 3, 7)) if shape is not None else (3, 7)


def _resolvable(candidate: HFEquivalent, config: Any) -> bool:
    try:
        [v(config) for v in candidate.config.values() if callable(v)]
    except AttributeError:
        return False
    return True


def _probe_batch(
    config: Any, extra_inputs: Mapping[str, tuple[int, ...]] | None = None, shape: tuple[int, ...] = (3, 7)
) -> dict[str, Any]:
    """Ordinary token ids of ``shape`` (three sequences of seven), the second example right-padded with the config's
    pad token, and zeros for the backbone's ``extra_inputs``."""
    import torch

    vocab = int(getattr(config, "vocab_size", None) or TINY_VOCAB)
    special = {v for k, v in vars(config).items() if k.endswith("token_id") and isinstance(v, int)}
    ordinary = torch.tensor([i for i in range(5, vocab) if i not in special][:200])
    generator = torch.Generator().manual_seed(1)
    input_ids = ordinary[torch.randint(0, len(ordinary), shape, generator=generator)]
    attention_mask = torch.ones_like(input_ids)
    pad = getattr(config, "pad_token_id", None)
    if isinstance(pad, int):
        input_ids[1, ..., 5:] = pad
        attention_mask[1, ..., 5:] = 0
    extra = {k: torch.zeros(*input_ids.shape, *shape, dtype=torch.long) for k, shape in (extra_inputs or {}).items()}
    return {"input_ids": input_ids, "attention_mask": attention_mask, **extra}


# -- listing -----------------------------------------------------------------------------------------------------------
def backbones_report(host: Any, *, include_generic: bool = False) -> dict[str, Any]:
    """What ``archit backbones`` shows: the dedicated backbones (name, provider, description), the on-demand
    providers, and with ``include_generic`` every generic name (which imports transformers), each marked with the
    dedicated plugin that takes precedence over it, if any."""
    registry = host.registry
    dedicated = [
        {"name": r.name, "distribution": r.plugin.distribution, "version": r.plugin.version, "plugin": r.plugin.name,
         "description": getattr(r.obj, "description", "") or ""}
        for r in registry.registrations("backbone")
    ]
    providers = [
        {"plugin": e.plugin.name, "distribution": e.plugin.distribution, "version": e.plugin.version,
         "description": e.resolver.description}
        for e in registry.resolvers("backbone")
    ]
    report: dict[str, Any] = {"dedicated": dedicated, "generic_providers": providers}
    if include_generic:
        owners = {d["name"]: d["distribution"] or d["plugin"] for d in dedicated}
        report["generic"] = [
            {"name": n, "qualified_name": f"{n}@{e.plugin.distribution or e.plugin.name}", "overridden_by": owners.get(n)}
            for e in registry.resolvers("backbone") for n in e.resolver.names()
        ]
    return report


def print_backbones(report: Mapping[str, Any], out: Any) -> None:
    """The human-readable form of :func:`backbones_report`."""
    out.write("dedicated backbones (plugins; they take precedence over generic ones):\n")
    for d in report["dedicated"] or [{"name": "(none)", "distribution": "", "version": "", "description": ""}]:
        source = " ".join(filter(None, [d["distribution"], d["version"]]))
        out.write(f"  {d['name']:24} {source:36} {d['description']}".rstrip() + "\n")
    out.write("generic backbones:\n")
    for p in report["generic_providers"] or []:
        source = " ".join(filter(None, [p["distribution"], p["version"]]))
        out.write(f"  {p['plugin']} ({source}): {p['description']}\n")
    if not report["generic_providers"]:
        out.write("  (none: the built-in generic plugin is disabled)\n")
    if "generic" in report:
        for g in report["generic"]:
            note = f"  (the name gives {g['overridden_by']}; use {g['qualified_name']})" if g["overridden_by"] else ""
            out.write(f"  {g['name']}{note}\n")
        out.write(f"{len(report['generic'])} generic names\n")
