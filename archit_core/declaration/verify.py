"""Verification of a declaration: the generated code, imported as a module, rebuilds the modified model.

:func:`verify` builds the top class from the instance's config and checks, in order: the module tree (paths,
classes, parameter and buffer shapes, every value attribute by type and value, private ones included), that the
instance's state dict loads strictly, the tied parameter groups, every buffer's values, and the outputs on a dummy
batch in eval mode and in train mode under a fixed seed, with the gradients of the outputs. Any difference raises
:class:`~archit_core.DeclarationError` with the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import torch
from torch import nn

from ..errors import ArchitError, DeclarationError
from ..parts.dummy import module_batch
from .diff import structure_difference, tied_groups


@attrs.frozen
class Check:
    """One verification step: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str


@attrs.frozen
class VerificationReport:
    """The checks :func:`verify` ran; ``str()`` gives one line per check."""

    top: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def __str__(self) -> str:
        lines = [f"verified {self.top}:" if self.ok else f"verification of {self.top} FAILED:"]
        lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


def dummy_inputs(model: nn.Module, *, batch_size: int = 2, seq_len: int = 8) -> dict[str, Any]:
    """The batch :func:`verify` runs when given none: :func:`archit_core.parts.dummy.module_batch` (an archit
    model's dummy batch without labels, else token ids below its ``config.vocab_size``, else its own
    ``dummy_inputs``)."""
    try:
        return module_batch(model, batch_size=batch_size, seq_len=seq_len)
    except ArchitError as exc:
        if hasattr(model, "backbone_spec") and hasattr(model, "head_spec"):
            raise  # an archit model's own dummy batch failed: its message says why
        raise DeclarationError(f"{exc}; pass verify(inputs={{...}}) or verify(outputs=False)") from exc


def _compare_outputs(mine: Any, theirs: Any, where: str = "output") -> str | None:
    if hasattr(mine, "to_tuple") and hasattr(theirs, "to_tuple"):
        mine, theirs = mine.to_tuple(), theirs.to_tuple()
    if isinstance(mine, torch.Tensor) and isinstance(theirs, torch.Tensor):
        try:
            torch.testing.assert_close(theirs, mine)
        except AssertionError as exc:
            return f"{where}: {str(exc).splitlines()[0]}"
        return None
    if type(mine) is type(theirs) and hasattr(mine, "layers") and hasattr(mine, "get_seq_length"):  # a KV cache
        mine, theirs = ([(getattr(layer, "keys", None), getattr(layer, "values", None)) for layer in c.layers] for c in (mine, theirs))
    if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
        if mine.keys() != theirs.keys():
            return f"{where}: keys {sorted(mine)} vs {sorted(theirs)}"
        return next((d for k in mine if (d := _compare_outputs(mine[k], theirs[k], f"{where}[{k!r}]"))), None)
    if isinstance(mine, (tuple, list)) and isinstance(theirs, (tuple, list)):
        if len(mine) != len(theirs):
            return f"{where}: {len(mine)} values vs {len(theirs)}"
        return next((d for i, (a, b) in enumerate(zip(mine, theirs)) if (d := _compare_outputs(a, b, f"{where}[{i}]"))), None)
    return None if mine == theirs else f"{where}: {mine!r} vs {theirs!r}"


def _run(model: nn.Module, inputs: Mapping[str, Any]) -> Any:
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(**inputs)
    finally:
        model.train(training)


#: The seed of the train-mode comparison (dropout masks and any other randomness in forward).
TRAIN_SEED = 0


def _floats(value: Any) -> list[torch.Tensor]:
    if hasattr(value, "to_tuple"):
        value = value.to_tuple()
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() and value.requires_grad else []
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _floats(v)]
    return []


def _train_run(model: nn.Module, inputs: Mapping[str, Any]) -> tuple[Any, dict[str, torch.Tensor | None]]:
    """Train-mode outputs under :data:`TRAIN_SEED` and the gradients of their sum of means by parameter name; the
    model's mode, buffers (running statistics) and ``.grad`` fields are left as they were."""
    training = model.training
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    model.train()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(TRAIN_SEED)
            output = model(**inputs)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        floats = _floats(output)
        grads: dict[str, torch.Tensor | None] = {}
        if floats and named:
            total = sum(t.float().mean() for t in floats)
            found = torch.autograd.grad(total, [p for _, p in named], allow_unused=True)
            grads = dict(zip((n for n, _ in named), found))
        return output, grads
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])
        model.train(training)


def _compare_gradients(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> str | None:
    if mine.keys() != theirs.keys():
        return f"gradients of {sorted(mine.keys() ^ theirs.keys())} exist in one model only"
    for key, grad in mine.items():
        other = theirs[key]
        if (grad is None) != (other is None):
            return f"gradient of {key}: {'none' if grad is None else 'some'} in the model, {'none' if other is None else 'some'} rebuilt"
        if grad is not None:
            problem = _compare_outputs(grad, other, f"gradient of {key}")
            if problem:
                return problem
    return None


def _train_problem(instance: nn.Module, built: nn.Module, batch: Mapping[str, Any]) -> tuple[str | None, str]:
    """What differs in train mode (outputs under a fixed seed, then gradients), and a description of what was
    compared."""
    try:
        expected, expected_grads = _train_run(instance, batch)
    except Exception as exc:  # noqa: BLE001 - a model that does not run in train mode cannot be compared there
        return None, f"train mode not compared: the instance's own forward raises there ({type(exc).__name__}: {exc})"
    try:
        got, got_grads = _train_run(built, batch)
    except Exception as exc:  # noqa: BLE001
        return f"the rebuilt model's train-mode forward raised {type(exc).__name__}: {exc}", ""
    problem = _compare_outputs(expected, got, f"train-mode output (seed {TRAIN_SEED})") or _compare_gradients(expected_grads, got_grads)
    return problem, f"in train mode (seed {TRAIN_SEED}), and {len(expected_grads)} gradients"


def verify(declaration: Any, inputs: Mapping[str, Any] | None = None, *, outputs: bool = True) -> VerificationReport:
    """Check that ``declaration``'s top class, built from the instance's config, is the instance (see the module
    docstring). Returns the report; raises :class:`DeclarationError` when a check fails."""
    instance = declaration.instance
    top = declaration.top_class()
    module_name = top.__module__
    checks: list[Check] = []

    def fail() -> DeclarationError:
        return DeclarationError(str(VerificationReport(top.__qualname__, tuple(checks))))

    try:
        built = top(instance.config)
    except Exception as exc:
        checks.append(Check("build", False, f"{top.__qualname__}(config) raised {type(exc).__name__}: {exc}"))
        raise fail() from exc
    dtypes = {p.dtype for p in instance.parameters() if p.is_floating_point()}
    if len(dtypes) == 1:
        built = built.to(dtype=dtypes.pop())
    checks.append(Check("build", True, f"{top.__qualname__}(config) from the instance's config"))

    def same_class(mine: type, theirs: type) -> bool:
        return mine is theirs or (theirs.__module__ == module_name and mine in theirs.__bases__)

    problem = structure_difference(instance, built, classes=same_class)
    count = sum(1 for _ in instance.modules())
    checks.append(Check("module tree", problem is None, problem or f"{count} modules, same classes, parameter and buffer shapes"))
    if problem:
        raise fail()
    try:
        result = built.load_state_dict(instance.state_dict(), strict=True)
    except RuntimeError as exc:
        checks.append(Check("state dict", False, " ".join(str(exc).split())))
        raise fail() from exc
    checks.append(Check("state dict", not result.missing_keys and not result.unexpected_keys,
                        f"{len(instance.state_dict())} tensors loaded strictly"))
    mine_ties, theirs_ties = tied_groups(instance), tied_groups(built)
    checks.append(Check("tied weights", mine_ties == theirs_ties,
                        f"{len(mine_ties)} tied group(s) {sorted(sorted(g) for g in mine_ties)}" if mine_ties == theirs_ties else
                        f"tied in the model only: {sorted(sorted(g) for g in mine_ties - theirs_ties)}; "
                        f"in the rebuilt one only: {sorted(sorted(g) for g in theirs_ties - mine_ties)}"))
    theirs_buffers = dict(built.named_buffers())
    differing = [n for n, b in instance.named_buffers() if n not in theirs_buffers or not torch.equal(b, theirs_buffers[n].to(b.device))]
    checks.append(Check("buffers", not differing, f"differ: {differing}" if differing else f"{len(theirs_buffers)} buffers equal"))
    if not all(c.ok for c in checks):
        raise fail()
    if outputs:
        batch = dict(inputs) if inputs is not None else dummy_inputs(instance)
        try:
            expected = _run(instance, batch)
        except Exception as exc:
            raise DeclarationError(
                f"the instance's own forward fails on the dummy batch ({type(exc).__name__}: {exc}); pass "
                "verify(inputs={...}) with inputs it accepts, or verify(outputs=False)"
            ) from exc
        try:
            got = _run(built, batch)
            problem = _compare_outputs(expected, got)
        except Exception as exc:
            problem = f"the rebuilt model's forward raised {type(exc).__name__}: {exc}"
        compared = ""
        if problem is None:
            problem, compared = _train_problem(instance, built, batch)
        shapes = {k: tuple(v.shape) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        checks.append(Check("outputs", problem is None, problem or f"equal in eval mode on {shapes}; {compared}"))
        if problem:
            raise fail()
    return VerificationReport(top.__qualname__, tuple(checks))
