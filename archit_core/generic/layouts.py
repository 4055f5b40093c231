"""Hugging Face head layouts of a generic backbone, inferred (:func:`infer_head_layout`): which of a head's candidate
layouts computes what the family's task class computes, and the key mapping between the two heads' parameters.
torch and transformers are imported when a layout is inferred."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._imports import resolve
from ..parts.dummy import probe_batch
from ..parts.head import HFLayout

if TYPE_CHECKING:
    from .backbone import GenericBackbone

_LAYOUTS: dict[tuple[str, str], tuple[HFLayout | None, str]] = {}


def infer_head_layout(backbone: GenericBackbone, head_name: str, head_spec: Any) -> tuple[HFLayout | None, str]:
    """The Hugging Face layout of ``head_spec`` on ``backbone`` and a one-line reason when there is none.

    The head declares candidate layouts (``hf_layout`` and ``hf_layouts``: configs under which it may compute
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


def _candidates(head_spec: Any) -> list[HFLayout]:
    found = [head_spec.hf_layout, *getattr(head_spec, "hf_layouts", ())]
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


def _infer(backbone: GenericBackbone, head_spec: Any) -> tuple[HFLayout | None, str]:
    import torch

    from ..checkpoints.interop import hf_class_name

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
    model_class = resolve(backbone.model_class)
    if not isinstance(base, model_class):
        found = type(base).__name__ if base is not None else "no base model"
        return None, f"{class_name}'s head reads {found}, not {model_class.__name__} (the generic backbone)"
    theirs, aliases = _leaf_params(hf, prefix)
    matches, reasons = _matches(backbone, head_spec, candidates, hf, config)
    if not matches:
        shown = ", ".join(f"{name}{[s for _, s in p]}" for name, p in theirs) or "no parameters"
        why = "no candidate layout gives its outputs" if "outputs" in reasons else "its parameters match no candidate layout"
        return None, f"{class_name}'s head ({shown}): {why}"
    matches = _discriminate(backbone, head_spec, hf_class, config, matches, candidates)
    if len({id(c.config) for c, _ in matches}) > 1:
        shown = " and ".join(_show(c) for c, _ in matches[:2])
        return None, (f"{class_name}'s head: the probes cannot tell the candidate layouts {shown} apart (they give the "
                      "same outputs whatever the config); a backbone plugin must declare the layout")
    candidate, pairs = matches[0]
    unused = _unused_keys(backbone, head_spec, candidate, config, hf)
    own = prefix if prefix and prefix != backbone.checkpoint_prefix else None  # LlamaForQuestionAnswering: transformer
    return attrs.evolve(candidate, keys=_key_map(pairs, aliases), unused_keys=unused, base_prefix=own), ""


def _unused_keys(backbone: GenericBackbone, head_spec: Any, candidate: HFLayout, config: Any, hf: Any) -> tuple[str, ...]:
    """The base-model keys of ``hf`` that the archit backbone, built for the candidate's head, lacks: parts the task
    class keeps and its outputs do not read (the probe matched without them)."""
    from ..checkpoints.interop import resolve_hf_values
    from .family import meta_instance

    required, shared = resolve_hf_values(candidate, config)
    needs = head_spec.make_config({**required, **shared}).needs()
    prefix = type(hf).base_model_prefix
    ours = meta_instance(lambda c: backbone.build(c, frozenset(needs)), config).state_dict()
    return tuple(sorted(k for k in hf.state_dict() if k.startswith(f"{prefix}.") and k[len(prefix) + 1:] not in ours))


def _show(candidate: HFLayout) -> str:
    return "{" + ", ".join(f"{k}: {getattr(v, '__name__', None) or repr(v)}" for k, v in candidate.config.items()) + "}"


def _matches(backbone: GenericBackbone, head_spec: Any, candidates: list[HFLayout], hf: Any, config: Any,
             pairings: Mapping[int, Any] | None = None) -> tuple[list[tuple[HFLayout, Any]], list[str]]:
    """The candidates whose head, with ``hf``'s head weights under some pairing (the given one per candidate, when
    ``pairings`` says), gives ``hf``'s outputs on the probe batch: ``[(candidate, pairing)]``, and why others fail."""
    import torch

    from ..checkpoints.interop import resolve_hf_values

    prefix = type(hf).base_model_prefix
    base = getattr(hf, prefix)
    theirs, _ = _leaf_params(hf, prefix)
    state = hf.state_dict()
    facts = backbone.facts(config)
    module_class = head_spec.module_class()
    expected: dict[tuple[int, ...], Any] = {}  # Hugging Face's outputs per probe shape
    found, reasons = [], []
    for candidate in candidates:
        required, shared = resolve_hf_values(candidate, config) if _resolvable(candidate, config) else (None, None)
        if required is None:
            continue
        head_config = head_spec.make_config({**required, **shared})
        head = module_class(head_config, facts).eval()
        inputs = probe_batch(config, head, backbone.extra_inputs, labels=False)
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
        options = [pairings[id(candidate)]] if pairings is not None else _pairings(ours, theirs)
        for pairs in options:
            tried = True
            head.load_state_dict({f"{o}.{n}" if o else n: state[f"{t}.{tn}" if t else tn]
                                  for (o, op), (t, tp) in pairs for (n, _), (tn, _) in zip(op, tp)})
            with torch.no_grad():
                got = _named_outputs(head(features, **head_inputs))
            if _same_outputs(got, expected[shape]):
                found.append((candidate, pairs))
                break
        else:
            reasons.append("outputs" if tried else "shapes")
    return found, reasons


class _Reads:
    """A config seen through a recorder of the attribute names read (what a layout's callable value depends on)."""

    def __init__(self, config: Any) -> None:
        self._config, self.names = config, []

    def __getattr__(self, name: str) -> Any:
        self.names.append(name)
        return getattr(self._config, name)


def _variations(matches: list[tuple[HFLayout, Any]], candidates: list[HFLayout], config: Any) -> list[tuple[str, Any]]:
    """``(config field, value)`` changes that may tell the matching candidates apart: each field a matching
    candidate's callable value reads, set in turn to the constants the candidates give that head option."""
    found: list[tuple[str, Any]] = []
    for candidate, _ in matches:
        for option, value in candidate.config.items():
            if not callable(value):
                continue
            reads = _Reads(config)
            current = value(reads)
            others = [c.config[option] for c in candidates if option in c.config and not callable(c.config[option])]
            for field in dict.fromkeys(reads.names):
                found += [(field, v) for v in dict.fromkeys(others) if v != current and (field, v) not in found]
    return found


def _discriminate(backbone: GenericBackbone, head_spec: Any, hf_class: type, config: Any,
                  matches: list[tuple[HFLayout, Any]], candidates: list[HFLayout]) -> list[tuple[HFLayout, Any]]:
    """The matching candidates that still match Hugging Face's outputs when the config fields their values read
    change (:func:`_variations`); a change under which none matches, or that the family refuses, tells nothing."""
    import copy

    import torch

    for field, value in _variations(matches, candidates, config):
        if len({id(c.config) for c, _ in matches}) <= 1:
            break
        varied = copy.deepcopy(config)
        try:
            setattr(varied, field, value)
            torch.manual_seed(0)
            hf = hf_class(varied).eval()
            kept, _ = _matches(backbone, head_spec, [c for c, _ in matches], hf, varied,
                               pairings={id(c): p for c, p in matches})
        except Exception:  # the family refuses the value: this change tells nothing
            continue
        matches = [(c, p) for c, p in matches if any(k is c for k, _ in kept)] or matches
    return matches


def _resolvable(candidate: HFLayout, config: Any) -> bool:
    try:
        [v(config) for v in candidate.config.values() if callable(v)]
    except AttributeError:
        return False
    return True
