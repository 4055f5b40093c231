"""The dependency-parsing head: scores and loss against a per-word Python reference of Dozat & Manning's parser,
masking of padding and special tokens, its output structure, its config, and clear errors on bad input."""

from __future__ import annotations

import pytest
import torch
from archit_head_depparse import DependencyParsingConfig
from archit_head_depparse.head import DependencyParsingHead, ParserLogits

import archit_core
from archit_core import BackboneFacts, BackboneOutput

HEAD = "dependency-parsing"


def _head(**config) -> DependencyParsingHead:
    torch.manual_seed(0)
    head = DependencyParsingHead(DependencyParsingConfig(**{"num_relations": 3, "arc_size": 6, "relation_size": 4, **config}),
                                 BackboneFacts(hidden_size=8, num_layers=2))
    for p in head.parameters():  # transformers' init is not run here; give every weight a visible value
        torch.nn.init.normal_(p, std=0.5)
    return head.eval()


def _inputs():
    generator = torch.Generator().manual_seed(1)
    word_ids = torch.tensor([[-1, 0, 0, 1, 2, 3, -1], [-1, 0, 1, 1, -1, -1, -1]])
    attention_mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 1, 0, 0]])
    states = torch.randn(2, 7, 8, generator=generator)
    labels = torch.tensor([[2, 0, 2, 3], [0, 1, -100, -100]])
    relations = torch.tensor([[1, 0, 2, -100], [0, 2, -100, -100]])
    return states, attention_mask, word_ids, labels, relations


def _reference(head: DependencyParsingHead, states, word_ids, labels, relations):
    """Arc and relation scores and the loss, word by word, from the formulas in Dozat & Manning (2017)."""
    arc_u = head.arc_biaffine.weight  # (arc + 1, arc)
    rel_u = head.relation_bilinear.weight.view(3, 5, 5)
    losses_arc, losses_rel, all_arcs = [], [], []
    for b in range(states.shape[0]):
        n = int(word_ids[b].max()) + 1
        firsts = [int((word_ids[b] == w).nonzero()[0]) for w in range(n)]
        x = torch.cat([head.root.weight, states[b, firsts]])  # root first
        dep, hd = head.arc_dependent(x), head.arc_head(x)
        rdep, rhd = head.relation_dependent(x), head.relation_head(x)
        one = torch.ones(1)
        arcs = torch.stack([torch.stack([torch.cat([dep[d], one]) @ arc_u @ hd[h] for h in range(n + 1)]) for d in range(n + 1)])
        all_arcs.append(arcs)
        for i in range(n):
            d, gold = i + 1, int(labels[b, i])
            if gold == -100:
                continue
            candidates = [h for h in range(n + 1) if h != d]
            logp = arcs[d, candidates].log_softmax(0)
            losses_arc.append(-logp[candidates.index(gold)])
            if relations[b, i] != -100:
                rel = torch.stack([torch.cat([rdep[d], one]) @ rel_u[r] @ torch.cat([rhd[gold], one]) for r in range(3)])
                losses_rel.append(-rel.log_softmax(0)[relations[b, i]])
    return all_arcs, torch.stack(losses_arc).mean() + torch.stack(losses_rel).mean()


def test_scores_and_loss_match_the_reference() -> None:
    head = _head()
    states, attention_mask, word_ids, labels, relations = _inputs()
    with torch.no_grad():
        out = head(BackboneOutput(token_states=states, attention_mask=attention_mask), labels=labels,
                   word_ids=word_ids, relation_labels=relations)
        arcs, loss = _reference(head, states, word_ids, labels, relations)
    logits = out.logits
    assert isinstance(logits, ParserLogits) and logits.arcs.shape == (2, 5, 5) and logits.relations.shape == (2, 5, 5, 3)
    assert logits.word_mask.tolist() == [[False, True, True, True, True], [False, True, True, False, False]]
    low = torch.finfo(logits.arcs.dtype).min
    for b, ref in enumerate(arcs):
        n = ref.shape[0]
        got = logits.arcs[b, :n, :n]
        allowed = ~torch.eye(n, dtype=torch.bool)
        allowed[0] = False  # the root has no head
        torch.testing.assert_close(got[allowed], ref[allowed])
        assert (got[~allowed] == low).all()
        assert (logits.arcs[b, n:] == low).all() and (logits.arcs[b, :, n:] == low).all()  # padding never scored
    torch.testing.assert_close(out.loss, loss)


def test_padding_and_special_tokens_change_nothing() -> None:
    """A sentence alone and padded inside a batch (more tokens, more words, extra label columns) gets the same scores
    and the same loss: padding positions are never scored."""
    model = _model()
    single = {"input_ids": torch.tensor([[2, 11, 12, 13, 14, 3]]), "attention_mask": torch.ones(1, 6, dtype=torch.long),
              "word_ids": torch.tensor([[-1, 0, 1, 1, 2, -1]])}
    padded = {"input_ids": torch.tensor([[2, 11, 12, 13, 14, 3, 0, 0]]), "attention_mask": torch.tensor([[1] * 6 + [0, 0]]),
              "word_ids": torch.tensor([[-1, 0, 1, 1, 2, -1, -1, -1]])}
    labels, rels = torch.tensor([[2, 0, 2]]), torch.tensor([[1, 0, 1]])
    with torch.no_grad():
        a = model(**single, labels=labels, relation_labels=rels)
        b = model(**padded, labels=torch.tensor([[2, 0, 2, -100]]), relation_labels=torch.tensor([[1, 0, 1, -100]]))
        # padded with a longer second sentence: the first sentence's rows are unchanged
        batch = {k: torch.cat([v, torch.tensor([[2, 11, 12, 13, 14, 15, 16, 3]]) if k == "input_ids" else
                               torch.ones(1, 8, dtype=torch.long) if k == "attention_mask" else
                               torch.tensor([[-1, 0, 1, 2, 3, 4, 5, -1]])]) for k, v in padded.items()}
        c = model(**batch)
    torch.testing.assert_close(b.logits.arcs, a.logits.arcs)
    torch.testing.assert_close(b.loss, a.loss)
    torch.testing.assert_close(c.logits.arcs[0, :4, :4], a.logits.arcs[0])
    torch.testing.assert_close(c.logits.relations[0, :4, :4], a.logits.relations[0])
    assert (c.logits.arcs[0, 4:] == torch.finfo(torch.float32).min).all()


_MODEL = {}


def _model(**config):
    key = tuple(sorted(config.items()))
    if key not in _MODEL:
        torch.manual_seed(0)
        _MODEL[key] = archit_core.build("roberta", HEAD, tiny=True, head_config={"num_relations": 3, **config}).eval()
    return _MODEL[key]


def _batch():
    return {"input_ids": torch.tensor([[0, 11, 12, 13, 2], [0, 14, 15, 2, 1]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]),
            "word_ids": torch.tensor([[-1, 0, 1, 1, -1], [-1, 0, 1, -1, -1]])}


LABELS = torch.tensor([[0, 1], [2, 0]])
RELATIONS = torch.tensor([[0, 1], [2, 0]])


def test_word_spans_give_the_same_output_as_word_ids() -> None:
    model = _model(pooling="mean")
    batch = _batch()
    spans = torch.tensor([[[1, 2], [2, 4]], [[1, 2], [2, 3]]])
    with torch.no_grad():
        by_ids = model(**batch, labels=LABELS, relation_labels=RELATIONS)
        by_spans = model(**{**batch, "word_ids": None}, word_spans=spans, labels=LABELS, relation_labels=RELATIONS)
    torch.testing.assert_close(by_spans.logits.arcs, by_ids.logits.arcs)
    torch.testing.assert_close(by_spans.loss, by_ids.loss)


def test_output_without_return_dict_and_by_name() -> None:
    model = _model()
    with torch.no_grad():
        out = model(**_batch(), labels=LABELS, relation_labels=RELATIONS)
        loss, logits = model(**_batch(), labels=LABELS, relation_labels=RELATIONS, return_dict=False)
    torch.testing.assert_close(loss, out.loss)
    assert isinstance(logits, ParserLogits)
    arcs, relations, mask = logits.to_tuple()
    torch.testing.assert_close(arcs, out.logits["arcs"])
    torch.testing.assert_close(relations, out.logits.relations)
    assert torch.equal(logits[2], mask) and mask.tolist() == [[False, True, True], [False, True, True]]
    assert model(**_batch()).loss is None  # no labels, no loss (relation_labels alone are not read)
    assert model(**_batch(), relation_labels=RELATIONS).loss is None


def test_layer_mix_needs_every_layer() -> None:
    spec = archit_core.get_host().head(HEAD).obj
    assert spec.make_config({"layer_mix": True}).needs() == {"token_states", "hidden_states"}
    assert spec.make_config({}).needs() == {"token_states"}
    model = _model(layer_mix=True)
    assert model.head.layer_mix.weights.weight.shape == (1, 3)  # embeddings + 2 layers of the tiny backbone
    with torch.no_grad():
        out = model(**_batch())
    assert out.hidden_states is None  # fetched for the head, not returned unasked


@pytest.mark.parametrize(
    "data, field",
    [({"pooling": "max"}, "pooling"), ({"num_relations": 0}, "num_relations"), ({"layer_mix": "yes"}, "layer_mix"),
     ({"dropout": 1.5}, "dropout"), ({"arc_size": -1}, "arc_size"), ({"root": "learned"}, "root")],
)
def test_invalid_config_names_the_field(data, field) -> None:
    with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
        archit_core.get_host().head(HEAD).obj.make_config(data)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"word_ids": None}, "needs word_ids"),
        ({"word_ids": None, "relation_labels": None, "labels": None}, "needs word_ids"),
        ({"word_ids": torch.tensor([[-1, 0, 1, 1], [-1, 0, 1, -1]])}, r"word_ids has shape \(2, 4\) but the token states are \(2, 5\)"),
        ({"word_spans": torch.tensor([[[1, 2]], [[1, 2]]])}, "not both"),
        ({"relation_labels": None}, "needs relation_labels"),
        ({"labels": torch.tensor([[0], [2]])}, "labels has 1 columns but the inputs have up to 2 words"),
        ({"labels": torch.tensor([[0, 1, 2], [2, 0, -100]])}, r"labels\[0, 2\] labels word 3, but example 0 has only 2 words"),
        ({"labels": torch.tensor([[0, 3], [2, 0]])}, r"labels\[0, 1\] = 3 is no head for word 2 of a 2-word sentence"),
        ({"labels": torch.tensor([[1, 1], [2, 0]])}, r"labels\[0, 0\] = 1 is no head for word 1"),
        ({"labels": torch.tensor([[0.0, 1.0], [2.0, 0.0]])}, "labels must be an integer tensor"),
        ({"labels": torch.tensor([0, 1])}, r"labels must have shape \(batch, words\)"),
        ({"relation_labels": torch.tensor([[0, 3], [2, 0]])}, r"relation_labels\[0, 1\] = 3 is outside 0 .. num_relations - 1 = 2"),
    ],
    ids=["no-word-info", "no-word-info-no-labels", "word-ids-shape", "ids-and-spans", "no-relations", "few-columns",
         "label-beyond-words", "head-out-of-range", "self-head", "float-labels", "labels-1d", "relation-out-of-range"],
)
def test_bad_input_is_a_clear_error(change, message) -> None:
    inputs = {**_batch(), "labels": LABELS, "relation_labels": RELATIONS, **change}
    with pytest.raises(ValueError, match=message):
        _model()(**inputs)
