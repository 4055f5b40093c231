"""Introspection of a Hugging Face family for the generic backbone: whether it is a decoder, the encoder of an
encoder-decoder model (class, checkpoint prefix, key aliases), and the module roles its tree makes unambiguous.
transformers and torch are imported when asked."""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

from ..errors import ConfigError


def meta_instance(cls: type, config: Any) -> Any:
    """``cls(config)`` built on the meta device (no memory, no initialisation)."""
    import torch

    with torch.device("meta"):
        return cls(config)


def encoder_class(auto_class: type, config: Any) -> tuple[type, str, dict[str, str]]:
    """The encoder of an encoder-decoder ``AutoModel`` class, the checkpoint prefix of its weights, and key aliases:
    the encoder's weights in a bare base checkpoint (``encoder.*``) and its tied weights stored once at the model
    level (BART's ``model.shared`` for ``model.encoder.embed_tokens``), from the class's ``_tied_weights_keys``."""
    family = sys.modules[auto_class.__module__]
    stem = auto_class.__name__[: -len("Model")] if auto_class.__name__.endswith("Model") else auto_class.__name__
    dedicated = getattr(family, f"{stem}EncoderModel", None)
    if dedicated is not None:
        return dedicated, dedicated.base_model_prefix, {}
    model = meta_instance(auto_class, config)
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


def infer_roles(module: Any, layers: int | None) -> dict[str, str]:
    """Module roles that are unambiguous in the module tree: the input embeddings, and the one ``ModuleList`` of
    ``layers`` blocks (several candidate lists: no ``layers`` role)."""
    from torch import nn

    roles: dict[str, str] = {}
    embeddings = input_embeddings(module)
    path = next((name for name, child in module.named_modules() if child is embeddings and name), None)
    if path:
        roles["word_embeddings"] = path
    lists = [name for name, child in module.named_modules() if isinstance(child, nn.ModuleList) and len(child) == layers]
    if len(lists) == 1:
        roles["layers"] = f"{lists[0]}.*"
    return roles


def input_embeddings(module: Any) -> Any:
    """``module.get_input_embeddings()``, or None where the family does not say (CANINE raises)."""
    try:
        return module.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        return None


def has_pooler_switch(module_class: type) -> bool:
    """Whether the model class builds its pooler only on request (an ``add_pooling_layer`` argument)."""
    return "add_pooling_layer" in inspect.signature(module_class.__init__).parameters


def is_decoder(model_type: str) -> bool:
    """A model type transformers has a causal LM for and no masked LM: a decoder."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
