"""Reading checkpoint folders: config, weights (safetensors, sharded or not; ``.bin`` only with ``weights_only``).

:func:`open_checkpoint` opens a folder once into a :class:`CheckpointFolder` (its config, format and weight files),
the one record that planning, loading, inspection and convert are handed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import CheckpointError
from ..parts.options import check_label_count

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
        from .saving import LEFTOVER

        parent = folder.absolute().parent
        aside = sorted(e.name for e in os.scandir(parent) if (m := LEFTOVER.fullmatch(e.name)) and m["kind"] == "old"
                       and m["name"] == folder.name) if parent.is_dir() else []
        if aside:
            raise CheckpointError(
                f"checkpoint {str(path)!r} does not exist: a save to it was interrupted between its two renames (a "
                f"filesystem without atomic exchange); the previous checkpoint is intact in {str(parent / aside[0])!r}, "
                "and the next save to this path puts it back first"
            )
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
        config = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{file} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{file} holds a JSON {type(config).__name__}, not an object; it is not a model config")
    check_label_count(config, where=str(file), error=CheckpointError)
    return config


def is_archit_config(config: dict[str, Any]) -> bool:
    """An archit checkpoint is recognised by its config, never by its key names."""
    return config.get("model_type") == "archit"


#: The weight files transformers looks for, in its order of preference (``PreTrainedModel.from_pretrained``): a
#: folder holding several formats is read from the first, so archit and transformers always read the same weights.
WEIGHT_FILES = (SAFE_SINGLE, SAFE_INDEX, BIN_SINGLE, BIN_INDEX)


def weight_files(path: str | Path) -> list[Path]:
    """The weight files of a checkpoint folder, in transformers' order of preference (:data:`WEIGHT_FILES`): the
    single file, or the shards its index names."""
    return list(_weights(checkpoint_dir(path))[0])


def _weights(folder: Path) -> tuple[tuple[Path, ...], bool]:
    """The weight files of ``folder`` and whether they are shards of an index."""
    for name in WEIGHT_FILES:
        file = folder / name
        if file.is_file():
            return (_shards(folder, file), True) if name.endswith(".index.json") else ((file,), False)
    raise CheckpointError(
        f"{str(folder)!r} holds no weights ({', '.join(WEIGHT_FILES)}); save the model with save_pretrained first"
    )


def _shards(folder: Path, index: Path) -> tuple[Path, ...]:
    """The shard files a shard index names, each confined to ``folder`` (no absolute path, no ``..``)."""
    try:
        weight_map = json.loads(index.read_text()).get("weight_map")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise CheckpointError(f"{index} is not a valid shard index: {exc}") from exc
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(f"{index} is not a valid shard index: its weight_map must map tensor names to file names")
    shards = sorted(set(weight_map.values()))
    for shard in shards:
        normal = os.path.normpath(shard)
        if not shard or "\0" in shard or os.path.isabs(shard) or normal == ".." or normal.startswith(".." + os.sep):
            raise CheckpointError(
                f"{index} names the shard {shard[:200]!r}, which is outside the checkpoint folder; a shard index may "
                "only name files inside its folder. Do not load this checkpoint from an untrusted source."
            )
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise CheckpointError(f"{index} names shards that are missing: {', '.join(missing[:10])}")
    return tuple(folder / s for s in shards)


def read_state_dict(path: str | Path | CheckpointFolder, *, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """All tensors of a checkpoint folder (or only ``keys``); corrupt files and unsafe pickles raise
    :class:`CheckpointError`."""
    return open_checkpoint(path).read_state_dict(keys=keys)


def _read_tensors(files: Iterable[Path], keys: Iterable[str] | None) -> dict[str, Any]:
    """The tensors of ``files`` (only ``keys`` when given: other safetensors entries are never read)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    wanted = set(keys) if keys is not None else None
    state: dict[str, Any] = {}
    for file in files:
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


def _safetensors_keys(files: Iterable[Path]) -> list[str]:
    """The tensor names in safetensors ``files``, read from their headers (no tensor is loaded)."""
    from safetensors import SafetensorError, safe_open

    keys: list[str] = []
    for file in files:
        try:
            with safe_open(str(file), framework="numpy") as f:
                keys.extend(f.keys())
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{file} is not a readable safetensors file (corrupt or truncated?): {exc}") from exc
    return keys


@attrs.frozen
class CheckpointFolder:
    """One checkpoint folder, opened once: where it is, its parsed ``config.json``, its weight files (safetensors
    preferred) and whether they are sharded. Made by :func:`open_checkpoint`."""

    path: Path
    config: Mapping[str, Any] = attrs.field(repr=False)
    files: tuple[Path, ...]
    sharded: bool = False

    @property
    def is_archit(self) -> bool:
        """Whether the folder is an archit checkpoint (recognised by its config, never by its key names)."""
        return is_archit_config(self.config)

    @property
    def format(self) -> str:
        """``"archit"`` or ``"transformers"``."""
        return "archit" if self.is_archit else "transformers"

    @property
    def weights_format(self) -> str:
        """``"safetensors"`` or ``"bin"``."""
        return "safetensors" if self.files[0].suffix == ".safetensors" else "bin"

    def keys(self) -> list[str]:
        """Every tensor name of the weights; safetensors names come from the file headers, without reading a tensor."""
        if self.weights_format == "safetensors":
            return _safetensors_keys(self.files)
        return list(self.read_state_dict())

    def read_state_dict(self, *, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """All tensors (or only ``keys``; other safetensors tensors are not read); corrupt files and unsafe pickles
        raise :class:`CheckpointError`."""
        return _read_tensors(self.files, keys)

    def read_state_dict_without(self, prefix: str) -> tuple[dict[str, Any], list[str]]:
        """The tensors whose keys do not start with ``prefix``, and the sorted keys that do (whose safetensors
        tensors are never read)."""
        if self.weights_format == "safetensors":
            keys = self.keys()
            return self.read_state_dict(keys=[k for k in keys if not k.startswith(prefix)]), sorted(k for k in keys if k.startswith(prefix))
        state = self.read_state_dict()
        return {k: v for k, v in state.items() if not k.startswith(prefix)}, sorted(k for k in state if k.startswith(prefix))

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def open_checkpoint(path: str | Path | CheckpointFolder, *, revision: str | None = None) -> CheckpointFolder:
    """The :class:`CheckpointFolder` of a folder or Hugging Face Hub id (see :func:`local_checkpoint`): its config
    parsed and its weight files listed, once. A record passes through unchanged."""
    if isinstance(path, CheckpointFolder):
        return path
    folder = local_checkpoint(path, revision=revision)
    config = read_config(folder)
    files, sharded = _weights(folder)
    return CheckpointFolder(folder, config, files, sharded)
