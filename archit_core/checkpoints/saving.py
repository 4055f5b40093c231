"""Saves that cannot lose data: a checkpoint is written to a temporary folder beside its target and swapped in whole.

:func:`save_folder` is the one way archit writes a checkpoint folder (``ModelWithHead.save_pretrained``, ``archit
build --save``, :func:`~archit_core.checkpoints.convert.convert`): the target is refused (nothing touched) when it is
a file or holds another model, the new files are written and flushed in ``.<name>.archit-tmp-*`` beside it, the files
of the old folder that are not the model's own (tokenizer, training state, subfolders) are carried over as hard links,
and the two folders are exchanged in one ``renameat2(RENAME_EXCHANGE)``. A process killed at any point leaves the old
checkpoint or the new one at the target, and the next save beside it clears what the killed one left.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import CheckpointError

#: The files of a checkpoint that a new save replaces (weights of any format, shards, indexes, configs, a standalone
#: save's code); every other entry of the old folder is carried over into the new one.
MODEL_FILES = re.compile(
    r"(config|generation_config)\.json|modeling_archit\.py"
    r"|(model|pytorch_model|tf_model|flax_model)(\.[\w-]+)?(-\d{5}-of-\d{5})?\.(safetensors|bin|h5|msgpack)(\.index\.json)?"
)
#: The name of a save's temporary folder (``tmp``) or of an old checkpoint moved aside mid-swap (``old``).
LEFTOVER = re.compile(r"\.(?P<name>.+)\.archit-(?P<kind>tmp|old)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]+")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def identity_of(config: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a saved model "the same model" for :func:`save_folder`: an archit model's backbone and head (or its
    tasks' heads), a Hugging Face model's ``model_type`` and class. Sizes and head configs may differ: saving a
    retrained model over its earlier checkpoint is the normal case."""
    if config.get("model_type") == "archit":
        heads = config.get("heads")
        head = tuple(sorted((str(t), str((h or {}).get("head"))) for t, h in heads.items())) if isinstance(heads, Mapping) else config.get("head")
        return ("archit", config.get("backbone"), head)
    return (config.get("model_type"), tuple(config.get("architectures") or ()))


def describe(identity: tuple[Any, ...] | None) -> str:
    """An identity in words (``archit model roberta + token-classification``)."""
    if identity is None:
        return "a model archit cannot identify"
    if identity[0] == "archit":
        head = identity[2] if not isinstance(identity[2], tuple) else "tasks " + ", ".join(f"{t}={h}" for t, h in identity[2])
        return f"archit model {identity[1]} + {head}"
    return f"{identity[0]} model {', '.join(identity[1]) or '(no architectures recorded)'}"


def folder_identity(folder: Path) -> tuple[Any, ...] | None | bool:
    """The identity of the model ``folder`` holds; False when it holds no model (no config.json and no weights), None
    when it holds one archit cannot identify (weights without a config, an unreadable config.json)."""
    names = {entry.name for entry in os.scandir(folder)}
    if "config.json" not in names:
        return None if any(MODEL_FILES.fullmatch(n) for n in names) else False
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return identity_of(config) if isinstance(config, dict) else None


def check_target(path: str | os.PathLike[str], identity: tuple[Any, ...] | None, *, overwrite: bool = False) -> Path:
    """The folder to save to (a symlinked folder resolved to the folder it names), or :class:`CheckpointError` when
    it is a file or, unless ``overwrite``, holds another model than ``identity``."""
    target = Path(os.path.abspath(os.fspath(path)))
    if target.is_symlink() and target.is_dir():
        target = Path(os.path.realpath(target))
    if os.path.lexists(target) and not target.is_dir():
        raise CheckpointError(f"cannot save to {str(path)!r}: it is a file, not a folder; give a folder path (new or a "
                              "checkpoint of this model)")
    if target.is_dir() and not overwrite:
        found = folder_identity(target)
        if found is not False and found != identity:
            raise CheckpointError(
                f"{str(path)!r} holds another model ({describe(found)}); saving {describe(identity)} there would replace "
                "it. Choose another folder, or pass overwrite=True to replace it (other files in it are kept)."
            )
    return target


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _temp(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.archit-{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}")


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there: keep what might be another save's
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_leftovers(target: Path) -> list[Path]:
    """Remove what killed saves to ``target`` left beside it (their temporary folders, on this host, of processes
    that are gone); an old checkpoint moved aside by a save killed mid-swap is put back when the target is missing."""
    removed = []
    if not target.parent.is_dir():
        return removed
    for entry in os.scandir(target.parent):
        match = LEFTOVER.fullmatch(entry.name)
        if not match or match["name"] != target.name or match["host"] != _host() or _alive(int(match["pid"])):
            continue
        path = Path(entry.path)
        if match["kind"] == "old" and not os.path.lexists(target):
            os.rename(path, target)
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (the target's parent) for the check, carry-over and swap of one save, so that
    concurrent saves to one target follow each other; a filesystem without locks leaves them unordered."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _carry_over(old: Path, new: Path, *, top: bool = True) -> None:
    """Hard-link (else copy) the entries of ``old`` that ``new`` lacks into it; at the top level the old model's own
    files (:data:`MODEL_FILES`) are left behind. Symlinks are copied as links, never followed."""
    for entry in os.scandir(old):
        dst = new / entry.name
        if os.path.lexists(dst) or (top and MODEL_FILES.fullmatch(entry.name)) or (top and LEFTOVER.fullmatch(entry.name)):
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), dst)
        elif entry.is_dir():
            dst.mkdir()
            _carry_over(Path(entry.path), dst, top=False)
        else:
            try:
                os.link(entry.path, dst)
            except OSError:
                shutil.copy2(entry.path, dst)


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk, so a power cut after the swap cannot expose
    empty files."""
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform opens folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically (Linux ``renameat2``); False where the platform or filesystem cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap(new: Path, target: Path) -> Path | None:
    """Put the folder ``new`` at ``target`` and return where the old ``target`` now is (None when there was none).

    One atomic exchange where the filesystem offers it; elsewhere two renames, the old folder moved aside first
    (``.<name>.archit-old-*``, put back by :func:`clear_leftovers` if the process dies in between)."""
    if not os.path.lexists(target):
        try:
            os.rename(new, target)
            return None
        except OSError as exc:  # another save created it meanwhile
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if _exchange(new, target):
        return new
    aside = _temp(target, "old")
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)
        raise
    return aside


def save_folder(path: str | os.PathLike[str], write: Callable[[Path], None], *, identity: tuple[Any, ...] | None,
                overwrite: bool = False) -> Path:
    """Run ``write(folder)`` on a new temporary folder beside ``path`` and swap the result in atomically.

    Refused with :class:`CheckpointError` before anything is written when ``path`` is a file or holds another model
    than ``identity`` (unless ``overwrite``). Files of the old folder that are not its model's own are kept. On any
    error the target is untouched and the temporary folder removed. Returns the folder saved to."""
    target = check_target(path, identity, overwrite=overwrite)
    temp = _temp(target, "tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.mkdir()
    except OSError as exc:
        raise CheckpointError(
            f"cannot save to {str(path)!r}: the folder beside it, {str(target.parent)!r}, does not take a new folder "
            f"({exc.strerror or exc}); archit writes a checkpoint there first and swaps it in whole, so that folder must "
            "be writable"
        ) from exc
    try:
        write(temp)
        _fsync_tree(temp)
        with _locked(target.parent):
            clear_leftovers(target)
            check_target(target, identity, overwrite=overwrite)  # another save may have come first
            if target.is_dir():
                _carry_over(target, temp)
            old = swap(temp, target)
            _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:  # the target is untouched (or already the new folder): drop what was written
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return target


def save_pretrained(model: Any, write_model: Callable[..., Any], save_directory: str | os.PathLike[str], *,
                    overwrite: bool = False, standalone: bool = False, **kwargs: Any) -> None:
    """``ModelWithHead.save_pretrained``: transformers' own save (``write_model``, with ``kwargs``: ``state_dict``,
    ``max_shard_size``, ``safe_serialization``, ...) run through :func:`save_folder`; ``standalone=True`` adds the
    model's own code (``archit_core.checkpoints.standalone``); ``push_to_hub`` uploads the saved folder.

    A save that is not the main process's (``is_main_process=False``) or a distributed one writes in place, as
    transformers does: every rank takes part in it."""
    if not kwargs.get("is_main_process", True) or kwargs.get("distributed_checkpoint"):
        write_model(save_directory, **kwargs)
        return
    push = kwargs.pop("push_to_hub", False)
    hub = {k: kwargs.pop(k) for k in ("repo_id", "commit_message", "create_pr", "private") if k in kwargs}

    def write(folder: Path) -> None:
        from . import standalone as code  # the model card, and with standalone=True the model's own code

        write_model(folder, **kwargs)
        code.write_card(model, folder, previous=save_directory)
        if standalone:
            code.write_standalone(model, folder)

    folder = save_folder(save_directory, write, identity=identity_of(model.config.to_dict()), overwrite=overwrite)
    if push:
        from huggingface_hub import HfApi

        api = HfApi(token=kwargs.get("token"))
        repo = api.create_repo(hub.get("repo_id", folder.name), exist_ok=True, private=hub.get("private")).repo_id
        api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message=hub.get("commit_message"),
                          create_pr=hub.get("create_pr", False))
