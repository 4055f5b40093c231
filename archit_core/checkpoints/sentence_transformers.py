"""sentence-transformers folders: ``modules.json`` naming a Transformer (a Hugging Face base model and its
tokenizer), a Pooling and optionally a Normalize module. archit reads one into a backbone checkpoint plus a pooling
mode, and writes a backbone with a pooling mode as one, which ``SentenceTransformer(path)`` loads without archit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from ..errors import CheckpointError

#: archit's pooling modes (``archit_core.pool_sequence``) by sentence-transformers' Pooling config field.
POOLING_FIELDS = {"mean": "pooling_mode_mean_tokens", "first": "pooling_mode_cls_token", "last": "pooling_mode_lasttoken"}
#: The same modes as sentence-transformers 6 names them (``pooling_mode``).
_POOLING_NAMES = {"mean": "mean", "first": "cls", "last": "lasttoken"}
_MODULE = "sentence_transformers.models."


@attrs.frozen
class SentenceTransformersFolder:
    """What a sentence-transformers folder holds: the transformer's folder and ``model_type``, the pooling mode and
    whether embeddings are normalised."""

    transformer: Path
    model_type: str
    pooling: str
    normalize: bool


def read_sentence_transformers(path: str | Path) -> SentenceTransformersFolder:
    """Read a sentence-transformers folder; :class:`CheckpointError` for modules or poolings archit has no part for."""
    path = Path(path)
    try:
        modules = {m["type"].rsplit(".", 1)[-1]: m for m in json.loads((path / "modules.json").read_text())}
        pooling = json.loads((path / modules["Pooling"]["path"] / "config.json").read_text())
        transformer = path / modules["Transformer"]["path"]
        model_type = json.loads((transformer / "config.json").read_text())["model_type"]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a sentence-transformers folder archit reads (modules.json with a "
                              f"Transformer and a Pooling module): {exc!r}") from exc
    if isinstance(pooling.get("pooling_mode"), str):  # sentence-transformers >= 6 names the mode
        modes = [mode for mode, name in _POOLING_NAMES.items() if name == pooling["pooling_mode"]]
    else:  # before 6: one boolean field per mode
        modes = [mode for mode, field in POOLING_FIELDS.items() if pooling.get(field)]
        modes += [k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True and k not in POOLING_FIELDS.values()]
    others = sorted(set(modules) - {"Transformer", "Pooling", "Normalize"})
    if len(modes) != 1 or modes[0] not in POOLING_FIELDS or others:
        raise CheckpointError(f"{path}: archit reads Transformer + Pooling (one of {', '.join(_POOLING_NAMES.values())}) "
                              f"+ Normalize; this folder has the modules {sorted(modules)} and pooling {pooling}")
    return SentenceTransformersFolder(transformer, model_type, modes[0], "Normalize" in modules)


def write_sentence_transformers(path: str | Path, backbone: Any, *, pooling: str, normalize: bool, hidden_size: int,
                                tokenizer: Any = None, max_seq_length: int | None = None) -> Path:
    """Write ``backbone`` (a Hugging Face base model) with ``pooling`` (a key of :data:`POOLING_FIELDS`) and optional
    normalisation as a sentence-transformers folder (the tokenizer too, when given), through the atomic save: a folder
    holding another model is refused."""
    if pooling not in POOLING_FIELDS:
        raise CheckpointError(f"sentence-transformers has no pooling for {pooling!r}; archit writes {', '.join(POOLING_FIELDS)}")
    from .saving import identity_of, save_folder

    def write(folder: Path) -> None:
        backbone.save_pretrained(folder)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
        names = [("Transformer", ""), ("Pooling", "1_Pooling")] + ([("Normalize", "2_Normalize")] if normalize else [])
        modules = [{"idx": i, "name": str(i), "path": sub, "type": _MODULE + kind} for i, (kind, sub) in enumerate(names)]
        (folder / "modules.json").write_text(json.dumps(modules, indent=2))
        (folder / "1_Pooling").mkdir(exist_ok=True)
        fields = {"word_embedding_dimension": hidden_size, **{field: mode == pooling for mode, field in POOLING_FIELDS.items()}}
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(fields, indent=2))
        length = max_seq_length or getattr(tokenizer, "model_max_length", None)
        settings = {"max_seq_length": length if isinstance(length, int) and length < 10**6 else 512, "do_lower_case": False}
        (folder / "sentence_bert_config.json").write_text(json.dumps(settings, indent=2))

    return save_folder(path, write, identity=identity_of(backbone.config.to_dict()))  # atomic, as every archit save
