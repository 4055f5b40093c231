"""The parser learns a small synthetic treebank: a tiny random BERT plus the head reaches UAS > 0.9 on held-out
sentences, decoded with Chu-Liu/Edmonds and with Eisner.

The grammar: the first word hangs from the root ("root"); every later word hangs from the first word when it is a
"noun" (token ids 10..59, relation "nmod") and from the previous word otherwise (ids 60..109, "next"). A third of the
words get a second subword (ids 200..249), so heads must be read through word pooling.
"""

from __future__ import annotations

import torch
from archit_head_depparse.decoding import decode
from archit_head_depparse.metrics import attachment_scores

import archit_core

CLS, SEP, PAD = 2, 3, 0


def _sentence(generator: torch.Generator) -> tuple[list[int], list[int], list[int], list[int]]:
    words = int(torch.randint(3, 9, (1,), generator=generator))
    tokens, word_ids, heads, relations = [], [], [], []
    for w in range(words):
        noun = bool(torch.rand(1, generator=generator) < 0.5)
        tokens.append(int(torch.randint(10, 60, (1,), generator=generator)) + (0 if noun else 50))
        word_ids.append(w)
        if torch.rand(1, generator=generator) < 1 / 3:
            tokens.append(int(torch.randint(200, 250, (1,), generator=generator)))
            word_ids.append(w)
        if w == 0:
            heads.append(0), relations.append(0)
        else:
            heads.append(1 if noun else w), relations.append(1 if noun else 2)
    return tokens, word_ids, heads, relations


def _batch(sentences: list[tuple[list[int], ...]]) -> dict[str, torch.Tensor]:
    length = max(len(s[0]) for s in sentences) + 2
    words = max(len(s[2]) for s in sentences)
    batch = {
        "input_ids": torch.full((len(sentences), length), PAD),
        "attention_mask": torch.zeros(len(sentences), length, dtype=torch.long),
        "word_ids": torch.full((len(sentences), length), -1),
        "labels": torch.full((len(sentences), words), -100),
        "relation_labels": torch.full((len(sentences), words), -100),
    }
    for b, (tokens, word_ids, heads, relations) in enumerate(sentences):
        n = len(tokens)
        batch["input_ids"][b, : n + 2] = torch.tensor([CLS, *tokens, SEP])
        batch["attention_mask"][b, : n + 2] = 1
        batch["word_ids"][b, 1 : n + 1] = torch.tensor(word_ids)
        batch["labels"][b, : len(heads)] = torch.tensor(heads)
        batch["relation_labels"][b, : len(heads)] = torch.tensor(relations)
    return batch


def test_parser_learns_a_synthetic_treebank() -> None:
    generator = torch.Generator().manual_seed(0)
    train = [_sentence(generator) for _ in range(256)]
    held_out = _batch([_sentence(generator) for _ in range(200)])
    torch.manual_seed(0)
    model = archit_core.build("bert", "dependency-parsing", tiny=True,
                              head_config={"num_relations": 3, "arc_size": 64, "relation_size": 32, "dropout": 0.0})
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    for _ in range(8):  # 64 steps
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(train), 32):
            loss = model(**_batch([train[i] for i in order[start : start + 32]])).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    gold_heads, gold_relations = held_out.pop("labels"), held_out.pop("relation_labels")
    with torch.no_grad():
        logits = model(**held_out).logits
    for algorithm in ("chu-liu-edmonds", "eisner"):
        heads, relations = decode(logits, algorithm=algorithm)
        scores = attachment_scores(heads, gold_heads, relations, gold_relations)
        assert scores["uas"] > 0.9, (algorithm, scores)
        assert scores["las"] > 0.85, (algorithm, scores)


def test_trainer_evaluates_uas_through_decode(tmp_path) -> None:
    """With the Trainer: the parser's extra inputs survive (remove_unused_columns=False), logits are decoded in
    preprocess_logits_for_metrics, and compute_metrics gets word-level heads to score against the gold."""
    from transformers import Trainer, TrainingArguments

    generator = torch.Generator().manual_seed(3)
    rows = [_sentence(generator) for _ in range(10)]
    torch.manual_seed(0)
    model = archit_core.build("bert", "dependency-parsing", tiny=True, head_config={"num_relations": 3, "arc_size": 16})
    expected = _batch(rows)
    gold_heads, gold_relations = expected.pop("labels"), expected.pop("relation_labels")
    model.eval()
    with torch.no_grad():
        heads, relations = decode(model(**expected).logits)
    wanted = attachment_scores(heads, gold_heads, relations, gold_relations)

    def metrics(prediction):
        (pred_heads, pred_rels), (gold, gold_rels) = prediction.predictions, prediction.label_ids
        return attachment_scores(*(torch.as_tensor(x) for x in (pred_heads, gold, pred_rels, gold_rels)))

    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=4, remove_unused_columns=False,
                             label_names=["labels", "relation_labels"], report_to=[], use_cpu=True)
    trainer = Trainer(model=model, args=args, eval_dataset=rows, data_collator=_batch, compute_metrics=metrics,
                      preprocess_logits_for_metrics=lambda logits, labels: decode(logits))
    scores = trainer.evaluate()
    assert scores["eval_uas"] == wanted["uas"] and scores["eval_las"] == wanted["las"]
