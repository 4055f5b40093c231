"""Loading checkpoints into the right parts of a model, with a report of every key that was not loaded."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import CheckpointError
from .folder import CheckpointFolder, open_checkpoint
from .keymap import KeyMap

PARTS = ("backbone", "head")
#: How a fresh tensor was initialised, as :attr:`LoadingReport.initialised` says it.
CONSTRUCTOR_INIT = "its module's constructor, rebuilt on the CPU"
BACKBONE_INIT = "the backbone model's own initialisation"


def _part(key: str) -> str:
    first = key.split(".", 1)[0]
    return first if first in PARTS else "other"


def _group(keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        groups.setdefault(_part(key), []).append(key)
    return {part: tuple(found) for part, found in groups.items()}


@attrs.frozen
class LoadingReport:
    """What a load did, by part: keys loaded, left fresh (missing from the checkpoint), ignored (in the
    checkpoint but not used) and mismatched in shape; plus notes on decisions such as a fresh head."""

    source: str
    format: str
    loaded: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    fresh: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    ignored: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: How each fresh key was initialised: the head's ``init_module``, transformers' default init, its module's
    #: constructor (rebuilt on the CPU: a plain ``nn.Parameter``), or the backbone's own initialisation.
    initialised: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def complete(self) -> bool:
        """Every weight of the model came from the checkpoint and nothing in it was left unused."""
        return not (any(self.fresh.values()) or self.ignored or self.mismatched)

    def __str__(self) -> str:
        lines = [f"loaded {self.source} ({self.format} checkpoint)"]
        for part in sorted(set(self.loaded) | set(self.fresh)):
            loaded, fresh = self.loaded.get(part, ()), self.fresh.get(part, ())
            lines.append(f"  {part}: {len(loaded)} loaded, {len(fresh)} fresh")
            lines.extend(f"    fresh: {k} ({self.initialised.get(k, BACKBONE_INIT)})" for k in fresh[:20])
            if len(fresh) > 20:
                lines.append(f"    ... and {len(fresh) - 20} more fresh")
        if self.ignored:
            lines.append(f"  ignored (in the checkpoint, not used): {len(self.ignored)}")
            lines.extend(f"    {k}" for k in self.ignored[:20])
        if self.mismatched:
            lines.append(f"  mismatched shapes: {', '.join(self.mismatched)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    previous, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bar:
            hf_logging.enable_progress_bar()


def from_pretrained(
    cls: type,
    path: str | Path | CheckpointFolder,
    config: Any,
    *,
    key_mapping: KeyMap | Mapping[str, str] | None,
    format: str,
    notes: Iterable[str] = (),
    strict: bool = False,
    skip_prefix: str | None = None,
    warn_skipped: bool = True,
    **kwargs: Any,
) -> Any:
    """``cls.from_pretrained`` with archit's renaming, then a :class:`LoadingReport` on ``model.loading_report``.

    Checkpoint keys starting with ``skip_prefix`` (another task's head) are never loaded and are reported as
    ignored (their tensors are not read). ``key_mapping`` is a :class:`KeyMap` (or transformers' own regex dict);
    the renaming is forgotten after loading, so the model saves in archit's own layout. With ``strict``, any fresh
    backbone weight raises :class:`CheckpointError`; otherwise it is warned about.
    """
    folder = open_checkpoint(path)
    path = folder.path
    renames = key_mapping if isinstance(key_mapping, KeyMap) else KeyMap.of(patterns=key_mapping)
    key_mapping = renames.transformers_mapping()
    skipped: list[str] = []
    if skip_prefix is not None:
        kwargs["state_dict"], skipped = folder.read_state_dict_without(skip_prefix)
    from pickle import UnpicklingError

    from safetensors import SafetensorError

    try:
        source = None if "state_dict" in kwargs else str(path)
        with _quiet_transformers():  # its key listing would repeat, in its own terms, what the LoadingReport says
            model, info = cls.from_pretrained(source, config=config, key_mapping=dict(key_mapping or {}), output_loading_info=True, **kwargs)
    except SafetensorError as exc:
        raise CheckpointError(
            f"{str(path)!r} holds a safetensors file that is not readable (corrupt or truncated?): {exc}. "
            "Save or download the checkpoint again."
        ) from exc
    except UnpicklingError as exc:  # transformers loads .bin with weights_only=True: nothing else is unpickled
        raise CheckpointError(
            f"the .bin weights of {str(path)!r} could not be loaded with weights_only=True (they may contain code, "
            "or be corrupt); archit never unpickles arbitrary objects: convert the checkpoint to safetensors. "
            f"Details: {exc}"
        ) from exc
    except (RuntimeError, ValueError, OSError) as exc:
        if "ignore_mismatched_sizes" in str(exc):
            raise CheckpointError(_size_mismatch_message(cls, config, folder, renames)) from exc
        raise CheckpointError(f"could not load {str(path)!r}: {exc}") from exc
    model.__dict__.pop("_weight_conversions", None)  # save in archit's layout, not the checkpoint's
    initialised = _initialised(model, info.get("missing_keys") or ())
    missing = set(info.get("missing_keys") or ())
    mismatched = {m[0] if isinstance(m, tuple) else m for m in info.get("mismatched_keys") or ()}
    unexpected = sorted({*info.get("unexpected_keys", ()), *skipped})
    report = LoadingReport(
        source=str(path),
        format=format,
        loaded=_group(set(model.state_dict()) - missing - mismatched),
        fresh=_group(missing),
        ignored=tuple(unexpected),
        mismatched=tuple(sorted(mismatched)),
        notes=tuple(notes),
        initialised=initialised,
    )
    model.loading_report = report
    fresh_backbone = report.fresh.get("backbone", ())
    if fresh_backbone:
        message = (
            f"{len(fresh_backbone)} backbone weight(s) were not in {str(path)!r} and are randomly initialised "
            f"(e.g. {', '.join(fresh_backbone[:3])}). See model.loading_report."
        )
        if strict:
            raise CheckpointError(message + " Loading with strict=True refuses this.")
        warnings.warn(message, stacklevel=3)
    if skipped and warn_skipped:  # the checkpoint's own task head, which is not this head's equivalent: trained weights left behind
        warnings.warn(
            f"the checkpoint's own head ({len(skipped)} weights, e.g. {skipped[0]}) is not loaded: it is not the "
            f"equivalent of this head, which starts fresh. Train it before use; see model.loading_report.",
            stacklevel=3,
        )
    return model


def _loading(model: Any) -> bool:
    """Whether ``model`` is being loaded: transformers marks every loaded tensor ``_is_hf_initialized`` before it
    initialises the rest (a fresh build marks none)."""
    return any(getattr(p, "_is_hf_initialized", False) for p in model.parameters())


def record_initialisation(model: Any, module: Any, owner: Any, fresh: Mapping[str, Any], untouched: Iterable[str],
                          how: str) -> None:
    """Called by ``ModelWithHead._init_weights`` for each module: while loading, the ``untouched`` tensors (which no
    init rule wrote, so they hold whatever memory the meta-device build left) get their constructor's values
    (:func:`constructor_values`), and how each fresh tensor was initialised is kept for the loading report."""
    if not fresh or not _loading(model):
        return  # a fresh build: untouched tensors hold their constructor's values already
    untouched = list(untouched)
    if untouched:
        constructor_values(model, module, owner, untouched)
    record = model.__dict__.setdefault("_archit_initialised", {})
    record[id(module)] = {name: CONSTRUCTOR_INIT if name in untouched else how for name in fresh}


def constructor_values(model: Any, module: Any, owner: Any, names: Iterable[str]) -> None:
    """Copy into ``module``'s tensors ``names`` the values its constructor gives them: the part holding it (its head
    ``owner``, else the backbone) is built again on the CPU and the same tensors are copied over."""
    import torch

    from ..parts.head import needs_of

    part = owner if owner is not None else model.backbone
    path = next((name for name, m in part.named_modules() if m is module), None)
    if path is None:
        raise CheckpointError(f"cannot initialise {type(module).__qualname__}: it is in neither the head nor the backbone")
    built = model.__dict__.setdefault("_archit_references", {})  # one CPU rebuild per part and load
    reference = built.get(id(part))
    if reference is None:
        with torch.device("cpu"):
            if owner is not None:
                reference = type(owner)(owner.config, owner.backbone_facts)
            else:
                reference = model.backbone_spec.build(model.config.backbone_config, needs_of(model.head.config))
        built[id(part)] = reference
    source = reference.get_submodule(path)
    with torch.no_grad():
        for name in names:
            getattr(module, name).copy_(getattr(source, name))


def _initialised(model: Any, missing: Iterable[str]) -> dict[str, str]:
    """``{fresh key: how it was initialised}`` from what ``_init_weights`` recorded (other fresh keys are the
    backbone model's own business)."""
    record = model.__dict__.pop("_archit_initialised", {})
    how = {f"{name}.{tensor}" if name else tensor: way for name, m in model.named_modules() if id(m) in record
           for tensor, way in record[id(m)].items()}
    return {key: how.get(key, BACKBONE_INIT) for key in sorted(missing)}


def _size_mismatch_message(cls: Any, config: Any, folder: CheckpointFolder, renames: KeyMap) -> str:
    """What transformers' "look at the above report" (silenced here) would have said: the tensors whose shapes
    differ, the checkpoint's against the model's (built on the meta device), and what to do."""
    import torch

    from .inspection import tensor_info

    with torch.device("meta"):
        expected = {k: list(v.shape) for k, v in cls(config).state_dict().items()}
    found = []
    for key, (_, shape) in tensor_info(folder).items():
        key = renames.rename(key) or key
        if key in expected and expected[key] != shape:
            found.append(f"{key}: checkpoint {tuple(shape)}, model {tuple(expected[key])}")
    listed = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    return (
        f"{str(folder.path)!r} holds tensors of other shapes than the model built from its config ({listed or 'see the keys of the checkpoint'}). "
        "The config does not match the weights: build with the backbone_config the checkpoint was saved with, or "
        "reinit_head=True when only the head's size differs."
    )
