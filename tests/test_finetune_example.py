"""examples/finetune_tagger.py keeps working: a few steps of fine-tuning the real MiniLM checkpoint lower the loss."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "finetune_tagger.py"


def load_example():
    spec = importlib.util.spec_from_file_location("finetune_tagger_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_follow_the_first_piece_of_each_word() -> None:
    from transformers import AutoTokenizer

    example = load_example()
    tokenizer = AutoTokenizer.from_pretrained(example.checkpoint_folder())
    words = ["Kilimanjaro", "met", "1843", "unbelievable"]
    batch = example.encode(tokenizer, [words])
    word_ids = tokenizer(words, is_split_into_words=True).word_ids()
    assert len(word_ids) > len(words) + 2  # some words split into several pieces
    labels = batch["labels"][0].tolist()
    expected, previous = [], None
    for word_id in word_ids:
        first_piece = word_id is not None and word_id != previous
        expected.append(example.LABELS.index(example.tag(words[word_id])) if first_piece else -100)
        previous = word_id
    assert labels == expected
    assert [example.LABELS[label] for label in labels if label != -100] == ["NAME", "O", "NUM", "O"]


def test_finetuning_lowers_the_loss() -> None:
    lines: list[str] = []
    result = load_example().main(8, window=3, log=lines.append)
    assert len(result["losses"]) == 8 and len(lines) == 10
    assert result["fell"] and result["last"] < 0.9 * result["first"], result["losses"]
    report = result["model"].loading_report
    assert not report.fresh.get("backbone") and report.fresh["head"]
