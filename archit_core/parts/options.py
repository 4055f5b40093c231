"""The model-config options of ``build`` and specs (``id2label``, ``label2id``, ``problem_type``, ...), checked before
anything is built: label names that do not fit the head's ``num_labels`` are an error, not a config that disagrees
with its head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, bounded_repr
from .configs import MAX_LABELS
from .head import PROBLEM_TYPES

#: The options and what each holds.
MODEL_OPTIONS = {
    "id2label": "class index -> label name, one for each of the head's num_labels classes",
    "label2id": "label name -> class index, the inverse of id2label (given with it)",
    "problem_type": f"the loss of classification heads: {', '.join(PROBLEM_TYPES)}",
    "output_hidden_states": "True to return every layer's hidden states",
    "attn_implementation": "transformers' attention implementation ('eager', 'sdpa', ...)",
}


def check_model_options(options: Mapping[str, Any], *, num_labels: int | None = None, where: str = "") -> dict[str, Any]:
    """``options`` with ``id2label`` keys as ints, when every value is valid and the labels fit ``num_labels`` (the
    head's, when it has one); else :class:`ConfigError` naming the option (prefixed with ``where``, e.g. ``options``)."""
    prefix = f"{where}." if where else ""
    checked = dict(options)
    if "problem_type" in checked and checked["problem_type"] not in (None, *PROBLEM_TYPES):
        raise ConfigError(f"{prefix}problem_type: must be one of {', '.join(PROBLEM_TYPES)}, got {bounded_repr(checked['problem_type'])}")
    if "output_hidden_states" in checked and not isinstance(checked["output_hidden_states"], bool):
        raise ConfigError(f"{prefix}output_hidden_states: must be True or False, got {bounded_repr(checked['output_hidden_states'])}")
    attn = checked.get("attn_implementation")
    if attn is not None and (not isinstance(attn, str) or not attn):
        raise ConfigError(f"{prefix}attn_implementation: must be a name such as 'eager' or 'sdpa', got {bounded_repr(attn)}")
    if "label2id" in checked and "id2label" not in checked:
        raise ConfigError(f"{prefix}label2id: give id2label with it (label2id alone would be ignored); label2id is its inverse")
    if "id2label" in checked:
        checked["id2label"] = _id2label(prefix, checked["id2label"], num_labels)
    if "label2id" in checked:
        _label2id(prefix, checked["label2id"], checked["id2label"])
    return checked


def _id2label(prefix: str, value: Any, num_labels: int | None) -> dict[int, str]:
    where = f"{prefix}id2label"
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{where}: expected a mapping of class index to label name ({{0: 'O', 1: 'PER'}}), got {bounded_repr(value)}")
    if len(value) > MAX_LABELS:
        raise ConfigError(f"{where}: at most {MAX_LABELS:,} labels, got {len(value):,}")
    labels: dict[int, str] = {}
    for key, name in value.items():
        index = key if isinstance(key, int) and not isinstance(key, bool) else int(key) if isinstance(key, str) and key.isdigit() else None
        if index is None:
            raise ConfigError(f"{where}: keys are class indices 0, 1, ...; got the key {bounded_repr(key)}")
        if not isinstance(name, str):
            raise ConfigError(f"{where}.{index}: a label name (a string), got {bounded_repr(name)}")
        labels[index] = name
    if sorted(labels) != list(range(len(labels))):
        missing = sorted(set(range(len(labels))) - set(labels))[:3]
        raise ConfigError(f"{where}: the class indices must be 0 .. {len(labels) - 1}, each once; missing {missing}")
    if num_labels is not None and len(labels) != num_labels:
        raise ConfigError(
            f"{where}: {len(labels)} label names for a head with num_labels={num_labels}; give num_labels={len(labels)} in the "
            f"head config, or {num_labels} label names"
        )
    if len(set(labels.values())) != len(labels):
        raise ConfigError(f"{where}: every label name must be different (label2id maps each name back to one index)")
    return labels


def _label2id(prefix: str, value: Any, id2label: Mapping[int, str]) -> None:
    expected = {name: index for index, name in id2label.items()}
    if not isinstance(value, Mapping) or dict(value) != expected:
        raise ConfigError(
            f"{prefix}label2id: must be the inverse of id2label ({bounded_repr(expected)}), got {bounded_repr(value)}; "
            "or leave it out and it is derived"
        )


def check_label_count(config: Mapping[str, Any], *, where: str, error: type[Exception] = ConfigError) -> None:
    """Refuse a config (and its ``backbone_config``) whose ``num_labels`` or ``id2label`` exceeds
    :data:`~archit_core.parts.configs.MAX_LABELS`: transformers writes one label name per class before any check, so
    ``num_labels=10**12`` would fill the memory. Used on configs read from checkpoints and by ``ArchitConfig``."""
    for part in (config, config.get("backbone_config")):
        if not isinstance(part, Mapping):
            continue
        n = part.get("num_labels")
        labels = part.get("id2label")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_LABELS):
            raise error(f"{where}: num_labels must be an int in 1 .. {MAX_LABELS:,}, got {str(n)[:40]}")
        if labels is not None and (not isinstance(labels, Mapping) or len(labels) > MAX_LABELS):
            raise error(f"{where}: id2label must be a mapping of at most {MAX_LABELS:,} labels")
