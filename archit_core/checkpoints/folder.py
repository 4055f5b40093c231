"""Reading checkpoint folders: config, weights (safetensors, sharded or not; ``.bin`` only with ``weights_only``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import CheckpointError

SAFE_SINGLE = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
BIN_SINGLE = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
#: What a hub snapshot needs for archit: configs and tokenizer files, and the weights (safetensors, else .bin).
_HUB_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]


def local_checkpoint(path: str | Path, *, revision: str | None = None) -> Path:
    """A local folder for ``path``: the folder itself, or for a Hugging Face Hub id its snapshot in the hub cache,
    fetched with ``huggingface_hub.snapshot_download`` (cache, ``HF_HUB_OFFLINE`` and token as transformers uses them)."""
    if Path(path).exists() or not _REPO_ID.match(str(path)):
        return checkpoint_dir(path)
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(str(path), revision=revision, allow_patterns=_HUB_FILES))
        if not any(folder.glob("*.safetensors")):  # an older checkpoint: its pickled weights (loaded weights_only)
            folder = Path(snapshot_download(str(path), revision=revision, allow_patterns=[*_HUB_FILES, "*.bin"]))
        if not (folder / "config.json").exists():
            raise OSError("the repository has no config.json")
    except Exception as exc:  # RepositoryNotFoundError, LocalEntryNotFoundError (offline), HTTP errors
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a local folder, and as a Hugging Face Hub id it could not be resolved: "
            f"{exc}. Give a folder written by save_pretrained, or check the id, your network and HF_HUB_OFFLINE."
        ) from exc
    return folder


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint folder, or a clear error when it does not exist."""
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; give a folder written by save_pretrained")
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a file; give the folder that holds config.json and the weights")
    return folder


def read_config(path: str | Path) -> dict[str, Any]:
    """The checkpoint's ``config.json`` as a dict."""
    file = checkpoint_dir(path) / "config.json"
    if not file.exists():
        raise CheckpointError(f"{str(path)!r} has no config.json; it is not a Hugging Face or archit checkpoint folder")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{file} is not valid JSON: {exc}") from exc


def is_archit_config(config: dict[str, Any]) -> bool:
    """An archit checkpoint is recognised by its config, never by its key names."""
    return config.get("model_type") == "archit"


def weight_files(path: str | Path) -> list[Path]:
    """The weight files of a checkpoint folder, safetensors preferred."""
    folder = checkpoint_dir(path)
    for index_name in (SAFE_INDEX, BIN_INDEX):
        index = folder / index_name
        if index.exists():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (json.JSONDecodeError, KeyError) as exc:
                raise CheckpointError(f"{index} is not a valid shard index: {exc}") from exc
            missing = [s for s in shards if not (folder / s).exists()]
            if missing:
                raise CheckpointError(f"{index} names shards that are missing: {', '.join(missing)}")
            return [folder / s for s in shards]
    for single in (SAFE_SINGLE, BIN_SINGLE):
        if (folder / single).exists():
            return [folder / single]
    raise CheckpointError(
        f"{str(path)!r} holds no weights ({SAFE_SINGLE}, {SAFE_INDEX}, {BIN_SINGLE} or {BIN_INDEX}); "
        "save the model with save_pretrained first"
    )


def read_state_dict(path: str | Path, *, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """All tensors of a checkpoint folder (or only ``keys``); corrupt files and unsafe pickles raise
    :class:`CheckpointError`."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    wanted = set(keys) if keys is not None else None
    state: dict[str, Any] = {}
    for file in weight_files(path):
        if file.suffix == ".safetensors":
            try:
                with safe_open(str(file), framework="pt") as f:
                    for key in f.keys():
                        if wanted is None or key in wanted:
                            state[key] = f.get_tensor(key)
            except (SafetensorError, OSError, ValueError) as exc:
                raise CheckpointError(f"{file} is not a readable safetensors file (corrupt or truncated?): {exc}") from exc
        else:
            try:
                loaded = torch.load(str(file), map_location="cpu", weights_only=True)
            except Exception as exc:  # UnpicklingError and friends: refuse anything that is not plain tensors
                raise CheckpointError(
                    f"{file} could not be loaded with weights_only=True (it may contain code, or be corrupt): {exc}. "
                    "archit never unpickles arbitrary objects; convert the checkpoint to safetensors."
                ) from exc
            state.update({k: v for k, v in loaded.items() if wanted is None or k in wanted})
    return state
