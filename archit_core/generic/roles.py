"""Module roles of a generic backbone (:func:`probe_roles`), inferred from the family's module tree and checked by a
probe: the tiny model runs once with a hook on every projection (``nn.Linear``, ``transformers.Conv1D``, ``nn.Conv1d``),
and a role is kept only when the calls agree with it.

* ``layers``: the one ``nn.ModuleList`` of ``num_hidden_layers`` blocks (lists nested in another one's blocks are
  not candidates); every such list is searched for the roles below (XLM's ``attentions.*`` and ``ffns.*``), the whole
  model when there is none (ALBERT's shared layer). List indices inside a block become ``*`` (T5, Funnel).
* ``attention.query`` / ``key`` / ``value``: three projections of one parent module whose names say which
  (``q``/``query``/``q_proj``/``q_lin``/``Wq``/...: the conventions transformers' families name them by, not a table
  of families), query and key reading the same input tensor; ``attention.qkv``: one fused projection so named whose output width is
  a fused one by the config (three times the hidden size, or ``(heads + 2 * key/value heads) * head_dim``);
  for multi-head latent attention (no key or value projection), ``attention.query`` (``q_proj`` or the query's
  up-projection ``q_b_proj``) and ``attention.kv`` (the key-value up-projection ``kv_b_proj``); ``attention.output``: the first projection called after them in the same attention block
  (the layer's child holding them) that maps back to the hidden width.
* ``feed_forward.out``: the last projection of the block, outside the attention block, mapping to the hidden width;
  ``feed_forward.in``: the projection called just before it that reads the hidden width and gives its input width
  (or twice that: a fused gate and up projection), ``feed_forward.gate`` a second one reading the same input (the
  one named ``gate``, else the first called). Projections called more than once per block (per-expert copies) are
  not feed-forward roles.

A role must have the same path in every block that has it (hybrid models: the attention blocks only); otherwise it is
left out. torch is imported when roles are probed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..parts.fields import HEADS, HIDDEN, KV_HEADS, LAYERS, first_field
from .family import input_embeddings

#: Projection names (lowercase, ``w``/``project_`` prefixes and ``_proj``/``_lin``/``_head``/``_layer`` suffixes
#: removed) that say which attention projection a module is.
ATTENTION_NAMES = {
    "attention.query": frozenset({"q", "query"}),
    "attention.key": frozenset({"k", "key"}),
    "attention.value": frozenset({"v", "value"}),
    "attention.qkv": frozenset({"qkv", "c_attn", "query_key_value", "in", "pack"}),
    "attention.kv": frozenset({"kv", "kv_b"}),  # latent attention's key-value up-projection (DeepSeek's kv_b_proj)
}
#: Query projections of multi-head latent attention (the up-projection of a low-rank query).
LATENT_QUERY = frozenset({"q", "query", "q_b"})
_AFFIXES = re.compile(r"^(?:project_|w_?(?=q|k|v|pack))?(?P<stem>.*?)(?:_proj|_lin|_head|_layer)?$")


def projection_name(name: str) -> str:
    """The stem a projection's attribute name is compared by (``q_proj`` -> ``q``, ``Wqkv`` -> ``qkv``)."""
    match = _AFFIXES.match(name.lower())
    return match["stem"] if match else name.lower()


def layer_lists(module: Any, layers: int | None) -> list[str]:
    """Paths of the ``nn.ModuleList`` of ``layers`` blocks in ``module``, outermost only."""
    from torch import nn

    found = [n for n, c in module.named_modules() if n and isinstance(c, nn.ModuleList) and len(c) == layers]
    return [n for n in found if not any(n.startswith(f"{o}.") for o in found if o != n)]


def probe_roles(module: Any, config: Any, run: Any) -> dict[str, str]:
    """The module roles of ``module`` (a tiny instance of ``config`` with real weights): ``word_embeddings``,
    ``layers`` and the projection roles above, checked by calling ``run(module)`` (one forward pass) with a hook on
    every projection."""
    roles: dict[str, str] = {}
    embeddings = input_embeddings(module)
    path = next((name for name, child in module.named_modules() if child is embeddings and name), None)
    if path:
        roles["word_embeddings"] = path
    lists = layer_lists(module, first_field(config, LAYERS))
    if len(lists) == 1:
        roles["layers"] = f"{lists[0]}.*"
    calls = _record_calls(module, run)
    widths = _fused_widths(config)
    blocks = [(f"{o}.{n}.", f"{o}.*.") for o in lists for n, _ in module.get_submodule(o).named_children()] or [("", "")]
    found: dict[str, set[str]] = {}
    for prefix, pattern in blocks:
        block_calls = [(_generalise(p[len(prefix):]), c) for p, c in calls if p.startswith(prefix)]
        for role, rel in _block_roles(block_calls, widths).items():
            found.setdefault(role, set()).add(pattern + rel)
    roles.update({role: next(iter(paths)) for role, paths in sorted(found.items()) if len(paths) == 1})
    return roles


def _generalise(path: str) -> str:
    """A path with every list index as ``*`` (T5's ``layer.0.SelfAttention.q`` -> ``layer.*.SelfAttention.q``)."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def _fused_widths(config: Any) -> set[int]:
    """The output widths of a fused query-key-value projection by the config: three times the hidden size, or
    ``(heads + 2 key/value heads) * head_dim``."""
    widths: set[int] = set()
    try:  # a config may refuse a global read of a per-layer field (Gemma 4's head_dim): then fewer widths
        hidden, heads = first_field(config, HIDDEN), first_field(config, HEADS)
        widths |= {3 * hidden} if isinstance(hidden, int) else set()
        if isinstance(hidden, int) and isinstance(heads, int) and heads:
            kv = first_field(config, KV_HEADS) or heads
            head_dim = getattr(config, "head_dim", None) or hidden // heads
            if isinstance(kv, int) and isinstance(head_dim, int):  # grouped, multi-query (one pair) and multi-head
                widths.update((heads + 2 * n) * head_dim for n in (kv, 1, heads))
    except Exception:
        pass
    return widths


def _record_calls(module: Any, run: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(path, call)`` of every projection call in one forward pass, in order: the input's storage and shape, the
    in and out widths."""
    import torch

    from ..rewrites.projections import is_projection, projection_features

    calls: list[tuple[str, dict[str, Any]]] = []

    def hook(path: str) -> Any:
        def record(mod: Any, args: tuple[Any, ...], out: Any) -> None:
            x = args[0] if args else None
            if torch.is_tensor(x):
                fan_in, fan_out = projection_features(mod)
                calls.append((path, {"input": (x.data_ptr(), tuple(x.shape)), "in": fan_in, "out": fan_out}))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in module.named_modules() if n and is_projection(m)]
    try:
        with torch.no_grad():
            run(module)
    finally:
        for h in handles:
            h.remove()
    return calls


def _attention(first: Mapping[str, Any], widths: set[int]) -> dict[str, str]:
    """Query, key and value (three projections of one parent, so named, query and key reading one input: self
    attention, MobileBERT's value reading another), else one fused
    projection so named whose output has a fused width: the first parent that has them."""
    parents = list(dict.fromkeys(p.rpartition(".")[0] for p in first))

    def named(parent: str, role: str) -> list[str]:
        return [p for p in first if p.rpartition(".")[0] == parent and projection_name(p.rpartition(".")[2]) in ATTENTION_NAMES[role]]

    for parent in parents:
        qkv = [named(parent, r) for r in ("attention.query", "attention.key", "attention.value")]
        if all(len(g) == 1 for g in qkv) and first[qkv[0][0]][1]["input"] == first[qkv[1][0]][1]["input"]:
            return dict(zip(("attention.query", "attention.key", "attention.value"), (g[0] for g in qkv)))
    for parent in parents:
        fused = named(parent, "attention.qkv")
        if len(fused) == 1 and first[fused[0]][1]["out"] in widths:
            return {"attention.qkv": fused[0]}
    for parent in parents:  # latent attention: a query and a key-value up-projection, no separate key or value
        query = [p for p in first if p.rpartition(".")[0] == parent and projection_name(p.rpartition(".")[2]) in LATENT_QUERY]
        kv = named(parent, "attention.kv")
        if len(query) == 1 and len(kv) == 1 and not named(parent, "attention.key") and not named(parent, "attention.value"):
            return {"attention.query": query[0], "attention.kv": kv[0]}
    return {}


def _block_roles(calls: list[tuple[str, dict[str, Any]]], widths: set[int]) -> dict[str, str]:
    """The roles of one block from its projection calls (paths relative to the block), see the module docstring."""
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, (path, call) in enumerate(calls):
        first.setdefault(path, (i, call))
    roles = _attention(first, widths)
    end, block, hidden = -1, None, calls[0][1]["in"] if calls else None
    if roles:
        end = max(first[p][0] for p in roles.values())
        parent = next(iter(roles.values())).rpartition(".")[0]
        hidden = next(c["in"] for p, c in calls if p.rpartition(".")[0] == parent)  # the block's first input width
        block = _block_of(parent)
        output = next((p for i, (p, c) in enumerate(calls) if i > end and c["out"] == hidden and _under(p, block)
                       and p not in roles.values()), None)
        if output is not None:
            roles["attention.output"], end = output, first[output][0]
    return {**roles, **_feed_forward(calls, block, end, hidden)}


def _feed_forward(calls: list[tuple[str, dict[str, Any]]], block: str | None, after: int, hidden: int | None) -> dict[str, str]:
    """``feed_forward.in`` / ``gate`` / ``out`` among the calls after ``after`` outside the attention ``block``
    (projections called more than once in the block, per-expert copies, left out)."""
    counts: dict[str, int] = {}
    for p, _ in calls:
        counts[p] = counts.get(p, 0) + 1
    outside = [(i, p, c) for i, (p, c) in enumerate(calls) if i > after and not _under(p, block) and counts[p] == 1]
    out = next((x for x in reversed(outside) if x[2]["out"] == hidden), None)
    if out is None:
        return {}
    ins = [x for x in outside if x[0] < out[0] and x[2]["in"] == hidden and x[2]["out"] in (out[2]["in"], 2 * out[2]["in"])]
    ins = [x for x in ins if x[2]["input"] == ins[-1][2]["input"]] if ins else []
    if not ins or any(ins[-1][0] < i < out[0] for i, _, _ in outside):  # nothing between the input and the output
        return {}
    ins = [x[1] for x in ins]
    if len(ins) == 2:  # gated: the one named gate is the gate, else the one called first
        gate = next((p for p in ins if "gate" in p.rpartition(".")[2].lower()), ins[0])
        return {"feed_forward.gate": gate, "feed_forward.in": next(p for p in ins if p != gate), "feed_forward.out": out[1]}
    return {"feed_forward.in": ins[0], "feed_forward.out": out[1]} if len(ins) == 1 else {}


def _block_of(parent: str) -> str:
    """The attention block of the attention projections' parent: its shortest prefix that is no list (BERT's
    ``attention`` for ``attention.self``, T5's ``layer.*.SelfAttention``)."""
    parts = parent.split(".")
    return next((".".join(parts[:i]) for i in range(1, len(parts) + 1) if "*" not in parts[i - 1:i + 1]), parent)


def _under(path: str, block: str | None) -> bool:
    return block is not None and (path == block or path.startswith(f"{block}."))


def iter_roles(roles: Mapping[str, str]) -> Iterator[str]:
    """The projection roles of ``roles`` in a fixed order (for listings)."""
    order = ("attention.query", "attention.key", "attention.value", "attention.qkv", "attention.kv", "attention.output",
             "feed_forward.gate", "feed_forward.in", "feed_forward.out")
    return (r for r in order if r in roles)


class ProbedRoles(Mapping[str, str]):
    """Module roles probed on first use (``probe()``: role -> path), ``fallback`` (roles the meta-device tree gives)
    when the probe fails, with the reason in :attr:`why`. Compared by identity, so comparing or hashing a backbone
    never runs a probe."""

    def __init__(self, probe: Any, fallback: Mapping[str, str]) -> None:
        self._probe, self._fallback, self._roles = probe, dict(fallback), None
        self.why = ""

    def _get(self) -> dict[str, str]:
        if self._roles is None:
            try:
                self._roles = {**self._fallback, **self._probe()}
            except Exception as exc:  # a family whose tiny model does not run keeps the roles its tree gives
                self._roles, self.why = dict(self._fallback), f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return self._roles

    def __getitem__(self, role: str) -> str:
        return self._get()[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return f"ProbedRoles({self._roles if self._roles is not None else 'not probed yet'})"

    __eq__ = object.__eq__
    __hash__ = object.__hash__
