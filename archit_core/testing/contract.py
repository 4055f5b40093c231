"""The contract every archit backbone and head keeps, as checks a plugin runs in its own tests.

A backbone plugin checks its backbone against every installed head, a head plugin its head against every installed
backbone. For each pair the model is built with ``tiny=True`` and must: run with and without labels (logits
unchanged by labels, finite loss only with labels), give every layer's hidden states on request, send finite
gradients to every trainable parameter, and come back from ``save_pretrained`` / ``archit_core.load`` with the same
weights and outputs. A head that needs a capability the backbone lacks must be refused with
:class:`archit_core.IncompatibleHeadError` when built.

Inputs are generic: random token ids below the backbone's vocabulary size and an attention mask with padding.
Labels come from the head: its module class provides ::

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None): ...   # labels for such a batch

and, when its :class:`HeadSpec` declares extra ``inputs``, ``dummy_inputs`` with the same signature returning a dict
of them. In a plugin's ``tests/test_contract.py``::

    from archit_core.testing import backbone_contract      # or head_contract (archit_core.testing.suite)
    test_contract = backbone_contract("roberta")           # one test per installed head, plus the backbone alone

torch is imported when a check runs, not when this module is imported.
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs


class ContractError(AssertionError):
    """A backbone or head breaks archit's plugin contract; the message names the pair and the check."""


@attrs.frozen
class PairReport:
    """What :func:`check_pair` verified for one backbone and head."""

    backbone: str
    head: str
    status: str  # "ok" | "incompatible" (the build was refused, as it must be)
    checks: tuple[str, ...] = ()


def _host(host: Any) -> Any:
    from archit_core import get_host

    return host if host is not None else get_host()


def counterparts(*, backbone: str | None = None, head: str | None = None, host: Any = None) -> list[str]:
    """Every installed head (given ``backbone``) or every installed backbone (given ``head``)."""
    if (backbone is None) == (head is None):
        raise TypeError("give exactly one of backbone= or head=")
    registry = _host(host).registry
    return registry.names("head" if backbone is not None else "backbone")


def _fail(where: str, message: str) -> ContractError:
    return ContractError(f"{where}: {message}")


def _tensors(value: Any) -> list[Any]:
    """The tensors in a (possibly nested) head output: logits may be a tensor, a tuple or a dict of them."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _pad_last(batch: dict[str, Any]) -> dict[str, Any]:
    """Mask the last two positions of the last sequence (of each example, for ``(batch, choices, length)``
    inputs), so padding is exercised."""
    mask = batch["attention_mask"]
    if mask.shape[-2] > 1 and mask.shape[-1] > 2:
        mask[..., -1, -2:] = 0
    return batch


#: Model output fields that are no predictions: the contract compares every other field as logits.
_NOT_PREDICTIONS = frozenset({"loss", "hidden_states", "cache", "past_key_values", "losses", "attentions"})


def _predictions(output: Any) -> dict[str, Any]:
    """The prediction fields of a model output: ``logits``, or a head's named outputs (``start_logits``, ...)."""
    return {k: v for k, v in output.items() if k not in _NOT_PREDICTIONS}


def _model_batch(where: str, model: Any, batch_size: int, seq_len: int, generator: Any) -> tuple[dict[str, Any], Any]:
    """Inputs (with the head's extra inputs) and labels from :func:`archit_core.parts.dummy.dummy_batch`."""
    from archit_core import ArchitError
    from archit_core.parts.dummy import dummy_batch

    try:
        batch = dummy_batch(model, batch_size, seq_len, generator=generator)
    except ArchitError as exc:
        raise _fail(where, str(exc)) from None
    if "labels" not in batch:
        raise _fail(where, f"{type(model.head).__qualname__} has no dummy_labels(config, batch_size, seq_len, *, "
                    "generator=None) classmethod; add one so the contract suite can train it on any backbone")
    missing = sorted(set(model.head_spec.inputs) - set(batch))
    if missing:
        raise _fail(where, f"dummy_inputs returned no {', '.join(missing)}")
    labels = batch.pop("labels")
    return _pad_last(batch), labels


def _check_logits(where: str, logits: Any, batch_size: int) -> list[Any]:
    import torch

    tensors = _tensors(logits)
    if not tensors:
        raise _fail(where, f"the model returned no logits tensor (got {type(logits).__name__})")
    for t in tensors:
        if t.shape[:1] != (batch_size,):
            raise _fail(where, f"logits of shape {tuple(t.shape)} do not start with the batch size {batch_size}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise _fail(where, "logits are not finite")
    return tensors


def _check_loss(where: str, loss: Any) -> None:
    import torch

    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise _fail(where, f"with labels the loss must be a scalar tensor, got {loss!r}")
    if not torch.isfinite(loss):
        raise _fail(where, f"the loss is not finite: {loss.item()}")


def _assert_close(where: str, actual: Any, expected: Any, what: str) -> None:
    import torch

    try:
        torch.testing.assert_close(actual, expected)
    except AssertionError as exc:
        raise _fail(where, f"{what} differ: {exc}") from None


def check_pair(
    backbone: str,
    head: str,
    head_config: Mapping[str, Any] | Any = None,
    *,
    host: Any = None,
    tmp_path: str | Path | None = None,
    batch_size: int = 2,
    seq_len: int = 7,
    allow_no_grad: Iterable[str] = (),
    seed: int = 0,
) -> PairReport:
    """Check one backbone with one head (see the module docstring); raise :class:`ContractError` on a breach.

    ``allow_no_grad`` holds ``fnmatch`` patterns of parameter names that legitimately get no gradient.
    ``tmp_path`` is where the checkpoint is written (a temporary folder when None).
    """
    import torch

    import archit_core
    from archit_core.parts.head import needs_of

    host = _host(host)
    where = f"backbone {backbone!r} with head {head!r}"
    b, h = host.backbone(backbone), host.head(head)
    bconf = b.obj.make_config(None, tiny=True)
    hconf = h.obj.make_config(head_config)
    missing = needs_of(hconf) - b.obj.provides(bconf)
    if missing:
        try:
            archit_core.build(backbone, head, head_config=hconf, tiny=True, host=host)
        except archit_core.IncompatibleHeadError:
            return PairReport(b.name, h.name, "incompatible", ("refused at build time",))
        raise _fail(where, f"the head needs {sorted(missing)}, which the backbone lacks, yet build() did not raise IncompatibleHeadError")

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = archit_core.build(backbone, head, head_config=hconf, tiny=True, host=host)
    facts = b.obj.facts(model.config.backbone_config)
    inputs, labels = _model_batch(where, model, batch_size, seq_len, torch.Generator().manual_seed(seed))
    checks: list[str] = []

    model.eval()
    with torch.no_grad():
        plain = model(**inputs)
        labelled = model(**inputs, labels=labels)
        layered = model(**inputs, output_hidden_states=True)
    if plain.loss is not None:
        raise _fail(where, "without labels the loss must be None")
    if plain.hidden_states is not None:
        raise _fail(where, "hidden states were returned without output_hidden_states=True")
    logits = _check_logits(where, _predictions(plain), batch_size)
    checks.append("forward without labels")
    _check_loss(where, labelled.loss)
    _assert_close(where, _tensors(_predictions(labelled)), logits, "logits with and without labels")
    checks.append("forward with labels: finite scalar loss, same logits")
    if "hidden_states" in b.obj.provides(bconf):
        states = layered.hidden_states
        if states is None or len(states) != facts.num_layers + 1:
            got = None if states is None else len(states)
            raise _fail(where, f"output_hidden_states=True gave {got} hidden states, not num_layers + 1 = {facts.num_layers + 1}")
        for s in states:
            # The backbone sees inputs.numel() // seq_len sequences (more than batch_size when a head reshapes them).
            expected = (inputs["input_ids"].numel() // seq_len, seq_len, facts.hidden_size)
            if tuple(s.shape) != expected:
                raise _fail(where, f"a hidden state has shape {tuple(s.shape)}, not {expected}")
        checks.append("output_hidden_states")

    model.train()
    model.zero_grad(set_to_none=True)
    loss = model(**inputs, labels=labels).loss
    _check_loss(where, loss)
    loss.backward()
    allowed = tuple(allow_no_grad)
    no_grad, bad_grad = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad or any(fnmatch.fnmatchcase(name, p) for p in allowed):
            continue
        if param.grad is None:
            no_grad.append(name)
        elif not torch.isfinite(param.grad).all():
            bad_grad.append(name)
    if no_grad or bad_grad:
        raise _fail(where, f"parameters without a gradient: {no_grad or 'none'}; with a non-finite gradient: "
                    f"{bad_grad or 'none'} (a part the head does not use should not be built)")
    checks.append("gradients reach every trainable parameter")

    model.eval()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(tmp_path or scratch) / f"{b.name}-{h.name}"
        model.save_pretrained(folder)
        loaded = archit_core.load(folder, host=host)
    loaded.eval()
    with torch.no_grad():
        again = loaded(**inputs, labels=labels)
    if loaded.config.plugins != model.config.plugins:
        raise _fail(where, f"the reloaded model names other plugins: {loaded.config.plugins} != {model.config.plugins}")
    saved, restored = model.state_dict(), loaded.state_dict()
    if sorted(saved) != sorted(restored):
        raise _fail(where, f"save/load changed the parameter names: {sorted(set(saved) ^ set(restored))}")
    _assert_close(where, restored, saved, "weights after save_pretrained/load")
    _assert_close(where, _tensors(_predictions(again)), logits, "outputs after save_pretrained/load")
    _assert_close(where, again.loss, labelled.loss, "losses after save_pretrained/load")
    checks.append("save_pretrained/load round trip")
    return PairReport(b.name, h.name, "ok", tuple(checks))


def _json_round_trip(where: str, to_dict: Callable[[Any], dict], from_dict: Callable[[dict], Any], config: Any) -> None:
    data = to_dict(config)
    try:
        text = json.dumps(data)
    except TypeError as exc:
        raise _fail(where, f"the config does not serialise to JSON: {exc}") from None
    if to_dict(from_dict(json.loads(text))) != data:
        raise _fail(where, "the config changes in a JSON round trip")


def check_backbone_alone(name: str, *, host: Any = None, batch_size: int = 2, seq_len: int = 7, seed: int = 0) -> list[str]:
    """The backbone's own contract: its tiny config survives JSON; encode's shapes agree with its facts; every
    declared module role names modules; a pooler exists only when asked for; input embeddings fit the vocabulary."""
    import torch

    from archit_core import Backbone
    from archit_core.parts.dummy import token_batch

    reg = _host(host).backbone(name)
    spec, where = reg.obj, f"backbone {name!r}"
    if not isinstance(spec, Backbone):
        raise _fail(where, f"registered a {type(spec).__name__}, not an archit_core.Backbone")
    config = spec.make_config(None, tiny=True)
    _json_round_trip(where, spec.config_to_dict, spec.config_from_dict, config)
    checks = ["tiny config JSON round trip"]
    facts, provides = spec.facts(config), spec.provides(config)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = spec.build(config)
    module.eval()
    inputs = _pad_last(token_batch(facts.vocab_size, (batch_size, seq_len), generator=torch.Generator().manual_seed(seed)))
    with torch.no_grad():
        out = spec.encode(module, inputs)
        layered = spec.encode(module, inputs, output_hidden_states=True) if "hidden_states" in provides else None
    if tuple(out.token_states.shape) != (batch_size, seq_len, facts.hidden_size):
        raise _fail(where, f"token states of shape {tuple(out.token_states.shape)}, not {(batch_size, seq_len, facts.hidden_size)}")
    if out.hidden_states is not None:
        raise _fail(where, "encode returned hidden states without output_hidden_states=True")
    if out.pooled is not None:
        raise _fail(where, "built without 'pooler' in needs, the backbone still returned a pooled output")
    if layered is not None and len(layered.hidden_states or ()) != facts.num_layers + 1:
        raise _fail(where, f"encode(output_hidden_states=True) gave {len(layered.hidden_states or ())} states, not {facts.num_layers + 1}")
    checks.append("encode shapes agree with facts")
    if "pooler" in provides:
        with torch.no_grad():
            pooled = spec.encode(spec.build(config, frozenset({"pooler"})).eval(), inputs).pooled
        if pooled is None or tuple(pooled.shape) != (batch_size, facts.hidden_size):
            raise _fail(where, f"built with the pooler, encode gave pooled output {None if pooled is None else tuple(pooled.shape)}")
        checks.append("pooler only on request")
    if "input_embeddings" in provides:
        emb = spec.input_embeddings(module)
        rows = getattr(getattr(emb, "weight", None), "shape", (None,))[0]
        if rows != facts.vocab_size:
            raise _fail(where, f"input embeddings have {rows} rows, not vocab_size {facts.vocab_size}")
        checks.append("input embeddings")
    for role in spec.roles:
        paths = spec.role_paths(module, role)
        if not paths:
            raise _fail(where, f"module role {role!r} ({spec.roles[role]}) names no module")
        for path in paths:
            module.get_submodule(path)
    if spec.roles:
        checks.append("module roles")
    return checks


def check_head_alone(name: str, head_config: Mapping[str, Any] | Any = None, *, host: Any = None) -> list[str]:
    """The head's own contract: a HeadSpec whose config validates and survives JSON, and whose module class is an
    ``archit_core.Head`` that provides ``dummy_labels`` (and ``dummy_inputs`` for extra inputs)."""
    from archit_core import Head, HeadSpec, config_to_dict

    reg = _host(host).head(name)
    spec, where = reg.obj, f"head {name!r}"
    if not isinstance(spec, HeadSpec):
        raise _fail(where, f"registered a {type(spec).__name__}, not an archit_core.HeadSpec")
    config = spec.make_config(head_config)
    _json_round_trip(where, config_to_dict, spec.make_config, config)
    cls = spec.module_class()
    if not (isinstance(cls, type) and issubclass(cls, Head)):
        raise _fail(where, f"its module {spec.module!r} is not a subclass of archit_core.Head")
    for method, needed in (("dummy_labels", True), ("dummy_inputs", bool(spec.inputs))):
        if needed and not callable(getattr(cls, method, None)):
            raise _fail(where, f"{cls.__qualname__} has no {method}(config, batch_size, seq_len, *, generator=None)")
    return ["config JSON round trip", "Head subclass with dummy batch"]
