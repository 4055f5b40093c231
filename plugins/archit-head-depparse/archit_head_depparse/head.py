"""The dependency-parsing head module: word pooling, a root vector, MLPs, biaffine arcs, bilinear relations, loss.

Word positions: position 0 is the root (a learned vector), positions ``1 .. n`` the example's words in order, then
padding. Gold heads (``labels``) and relations (``relation_labels``) are ``(batch, words)``: entry ``i`` is about word
``i + 1``; a head of 0 means the root, ``j`` word ``j``; ``-100`` is ignored. Every step is batched (no loop over
examples). Label values (heads in range, relations below ``num_relations``) are checked on CPU tensors, where that
costs nothing, with an error saying where; on an accelerator by a device-side assertion, so a training step never
waits on the device. Parameters live in standard modules (``nn.Linear``, ``nn.Embedding``) so that transformers initialises
them when a checkpoint lacks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers.utils import ModelOutput

from archit_core import IGNORE_INDEX as IGNORE
from archit_core import ArchitError, Head, HeadOutput, pool_words, word_ids_from_spans


@dataclass
class ParserLogits(ModelOutput):
    """The parser's logits (a ``ModelOutput``: fields by name, ``to_tuple()``, nested in the model output).

    ``arcs`` ``(batch, words + 1, words + 1)``: ``arcs[b, d, h]`` scores head ``h`` for dependent ``d`` (position 0
    is the root); impossible arcs (padding, the root as dependent, self-loops) hold the dtype's lowest finite value.
    ``relations`` ``(batch, words + 1, words + 1, num_relations)``: relation scores of each arc ``h -> d``.
    ``word_mask`` ``(batch, words + 1)``: True at real words (False at the root and padding).
    """

    arcs: torch.Tensor | None = None
    relations: torch.Tensor | None = None
    word_mask: torch.Tensor | None = None


class LayerMix(nn.Module):
    """A softmax-weighted sum of every backbone layer's states (ELMo's scalar mix, without the scale: the MLPs that
    follow learn it). The weights are an ``nn.Linear`` row so transformers' initialisation covers them."""

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.Linear(num_layers, 1, bias=False)

    def forward(self, layers: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if len(layers) != self.weights.in_features:
            raise ArchitError(f"layer_mix was built for {self.weights.in_features} layers but the backbone gave {len(layers)}")
        weights = self.weights.weight[0].softmax(0).to(layers[0].dtype)
        return torch.einsum("l,lbth->bth", weights, torch.stack(layers))


def _mlp(hidden: int, size: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(hidden, size), nn.LeakyReLU(0.1), nn.Dropout(dropout))


def _with_ones(x: torch.Tensor) -> torch.Tensor:
    """``x`` with a constant 1 appended to its last dimension (the bias terms of biaffine scoring)."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], -1)


def _integers(name: str, value: Any, batch: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.is_floating_point() or value.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor of shape (batch, words) (-100 where ignored), got {value!r:.80}")
    if value.dim() != 2 or value.shape[0] != batch:
        raise ValueError(f"{name} must have shape (batch, words) = ({batch}, words), one entry per word, got {tuple(value.shape)}")
    return value.long()


def _first(bad: torch.Tensor) -> tuple[int, int]:
    b, i = bad.nonzero()[0].tolist()
    return b, i


def _any_bad(bad: torch.Tensor, message: str) -> bool:
    """On CPU, whether ``bad`` holds a True (the caller then says where); elsewhere a device-side assertion with
    ``message`` that does not stall the device, and False."""
    if bad.device.type == "cpu":
        return bool(bad.any())
    torch._assert_async(~bad.any(), message)
    return False


class DependencyParsingHead(Head):
    """Biaffine dependency parser (Dozat & Manning, 2017) over word states pooled from any backbone."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        hidden = backbone.hidden_size
        dropout = backbone.dropout_or(config.dropout)
        self.layer_mix = LayerMix(backbone.num_layers + 1) if config.layer_mix else None
        self.root = nn.Embedding(1, hidden)
        self.dropout = nn.Dropout(dropout)
        self.arc_dependent = _mlp(hidden, config.arc_size, dropout)
        self.arc_head = _mlp(hidden, config.arc_size, dropout)
        self.relation_dependent = _mlp(hidden, config.relation_size, dropout)
        self.relation_head = _mlp(hidden, config.relation_size, dropout)
        # arcs[b, d, h] = [dep_d; 1] U head_h: a bilinear term plus a head-only bias (Dozat & Manning's biaffine).
        self.arc_biaffine = nn.Linear(config.arc_size, config.arc_size + 1, bias=False)
        # relations[b, d, h, r] = [dep_d; 1] U_r [head_h; 1]: bilinear, both linear terms and a bias per relation.
        size = config.relation_size + 1
        self.relation_bilinear = nn.Linear(size, config.num_relations * size, bias=False)

    # --- dummy batches (archit's contract suite and `archit build`) ---------------------------------------------

    @staticmethod
    def _dummy_word_ids(batch_size: int, seq_len: int) -> torch.Tensor:
        """Words of 2 and 1 subwords between a special first and last token; the last example ends 2 tokens early
        (so padding those does not remove a word)."""
        tokens = torch.arange(seq_len)
        ids = torch.where((tokens >= 1) & (tokens < seq_len - 1), (tokens - 1) * 2 // 3, -1).expand(batch_size, -1).clone()
        if batch_size > 1:
            ids[-1, max(seq_len - 3, 0):] = -1
        return ids

    @classmethod
    def _dummy_words(cls, batch_size: int, seq_len: int) -> tuple[torch.Tensor, int]:
        counts = cls._dummy_word_ids(batch_size, seq_len).amax(1) + 1
        return counts, int(counts.max()) if batch_size else 0

    @classmethod
    def dummy_inputs(cls, config, batch_size, seq_len, *, generator=None):
        """``word_ids`` for a ``(batch_size, seq_len)`` batch and random ``relation_labels`` for its words."""
        counts, words = cls._dummy_words(batch_size, seq_len)
        relations = torch.randint(0, config.num_relations, (batch_size, words), generator=generator)
        relations[torch.arange(words) >= counts[:, None]] = IGNORE
        return {"word_ids": cls._dummy_word_ids(batch_size, seq_len), "word_spans": None, "relation_labels": relations}

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None):
        """Random gold heads (not necessarily trees: the loss does not need them to be) for the dummy words."""
        counts, words = cls._dummy_words(batch_size, seq_len)
        dependents = torch.arange(1, words + 1)
        draw = (torch.rand(batch_size, words, generator=generator) * counts[:, None]).long()  # among n candidates
        heads = draw + (draw >= dependents).long()  # skip the word itself
        return heads.masked_fill(dependents > counts[:, None], IGNORE)

    # --- forward --------------------------------------------------------------------------------------------------

    def _word_ids(self, states: torch.Tensor, word_ids: Any, word_spans: Any) -> torch.Tensor:
        if word_ids is not None and word_spans is not None:
            raise ValueError("give either word_ids (per token) or word_spans (per word) to the dependency-parsing head, not both")
        if word_spans is not None:
            return word_ids_from_spans(word_spans, states.shape[1])
        if word_ids is None:
            raise ValueError(
                "the dependency-parsing head scores words, so it needs word_ids (batch, tokens): each token's word "
                "index from 0, -1 for special tokens and padding (a tokenizer's word_ids() with None as -1), or "
                "word_spans (batch, words, 2): each word's [start, end) token range; labels are per word as well"
            )
        return word_ids

    def forward(self, features, labels=None, word_ids=None, word_spans=None, relation_labels=None, **inputs):
        if self.layer_mix is not None:
            if features.hidden_states is None:
                raise ArchitError("layer_mix=True needs every layer's states, but the backbone returned none")
            states = self.layer_mix(features.hidden_states)
        else:
            states = features.token_states
        ids = self._word_ids(states, word_ids, word_spans)
        words, mask = pool_words(states, ids, self.config.pooling, attention_mask=features.attention_mask)
        batch, count = mask.shape
        x = self.dropout(torch.cat([self.root.weight.to(words.dtype).expand(batch, 1, -1), words], 1))
        arcs = torch.einsum("bdi,bhi->bdh", _with_ones(self.arc_dependent(x)), self.arc_biaffine(self.arc_head(x)))
        per_head = self.relation_bilinear(_with_ones(self.relation_head(x))).view(batch, count + 1, self.config.num_relations, -1)
        relations = torch.einsum("bdi,bhri->bdhr", _with_ones(self.relation_dependent(x)), per_head)
        word_mask = F.pad(mask, (1, 0), value=False)
        allowed = word_mask[:, :, None] & F.pad(mask, (1, 0), value=True)[:, None, :]
        allowed &= ~torch.eye(count + 1, dtype=torch.bool, device=mask.device)
        arcs = arcs.masked_fill(~allowed, torch.finfo(arcs.dtype).min)
        loss = None if labels is None else self._loss(arcs, relations, labels, relation_labels, mask)
        return HeadOutput(logits=ParserLogits(arcs=arcs, relations=relations, word_mask=word_mask), loss=loss)

    # --- loss -----------------------------------------------------------------------------------------------------

    def _labels(self, name: str, value: Any, mask: torch.Tensor) -> torch.Tensor:
        """``value`` checked against the batch's words and cut to ``(batch, words)``."""
        batch, words = mask.shape
        value = _integers(name, value, batch).to(mask.device)
        if value.shape[1] < words:
            raise ValueError(f"{name} has {value.shape[1]} columns but the inputs have up to {words} words "
                             "(from word_ids/word_spans); give one entry per word, -100 for padding")
        value, beyond = value[:, :words], value[:, words:]
        outside = (value != IGNORE) & ~mask
        message = f"{name} label words not in the input (they must be -100)"
        if _any_bad(beyond != IGNORE, message) or _any_bad(outside, message):
            b, i = _first(outside) if bool(outside.any()) else (_first(beyond != IGNORE)[0], words)
            raise ValueError(f"{name}[{b}, {i}] labels word {i + 1}, but example {b} has only {int(mask[b].sum())} words "
                             "(from word_ids/word_spans); labels of words not in the input must be -100 (truncated?)")
        return value

    def _loss(self, arcs, relations, labels, relation_labels, mask):
        if relation_labels is None:
            raise ValueError("the dependency-parsing loss needs relation_labels (gold relations, (batch, words), -100 where "
                             "ignored) with labels (gold heads, 0 = root); pass all -100 to train on arcs alone")
        heads = self._labels("labels", labels, mask)
        rels = self._labels("relation_labels", relation_labels, mask)
        batch, words = mask.shape
        counts = mask.sum(1, keepdim=True)
        position = torch.arange(1, words + 1, device=mask.device)
        used = heads != IGNORE
        bad = used & ((heads < 0) | (heads > counts) | (heads == position))
        if _any_bad(bad, "labels hold no head for some word: use 0 for the root, 1 .. n for another word, -100 to ignore"):
            b, i = _first(bad)
            raise ValueError(f"labels[{b}, {i}] = {int(heads[b, i])} is no head for word {i + 1} of a {int(counts[b])}-word "
                             "sentence: use 0 for the root, 1 .. n for a word other than itself, -100 to ignore")
        bad = (rels != IGNORE) & ((rels < 0) | (rels >= self.config.num_relations))
        if _any_bad(bad, "relation_labels outside 0 .. num_relations - 1 (and not -100)"):
            b, i = _first(bad)
            raise ValueError(f"relation_labels[{b}, {i}] = {int(rels[b, i])} is outside 0 .. num_relations - 1 = "
                             f"{self.config.num_relations - 1} (and not -100)")
        nodes = words + 1
        arc_loss = F.cross_entropy(arcs[:, 1:].reshape(-1, nodes).float(), heads.reshape(-1), ignore_index=IGNORE, reduction="sum")
        gold = heads.clamp(min=0)[:, :, None, None].expand(-1, -1, 1, self.config.num_relations)
        at_gold = relations[:, 1:].gather(2, gold).squeeze(2)  # (batch, words, relations): scores at the gold head
        rels = rels.masked_fill(~used, IGNORE)
        rel_loss = F.cross_entropy(at_gold.reshape(-1, self.config.num_relations).float(), rels.reshape(-1),
                                   ignore_index=IGNORE, reduction="sum")
        return arc_loss / used.sum().clamp(min=1) + rel_loss / (rels != IGNORE).sum().clamp(min=1)
