"""The Hugging Face Trainer with its default arguments (``remove_unused_columns=True``, no ``label_names``) on heads
that read more than ``input_ids`` and ``labels``: question answering (``start_positions``/``end_positions``, as
``BertForQuestionAnswering`` takes them), dependency parsing (``word_ids``, ``relation_labels``) and a multi-task
model (``<task>_labels``). The model's ``forward`` signature names these inputs, which is all the Trainer reads."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import pytest
import torch

import archit_core

transformers = pytest.importorskip("transformers")
for plugin in ("archit_backbone_bert", "archit_head_question_answering", "archit_head_depparse",
               "archit_head_token_classification", "archit_head_sequence_classification"):
    pytest.importorskip(plugin)
if importlib.util.find_spec("accelerate") is None:
    pytest.skip("the Trainer needs accelerate (in the test extra)", allow_module_level=True)

N, LENGTH = 8, 6


class Rows(torch.utils.data.Dataset):
    """Rows of tensors made by ``columns`` (name -> function of the row's token ids), plus an ``example_id`` column no
    model reads, which column removal must drop."""

    def __init__(self, **columns: Any) -> None:
        self.ids = torch.randint(5, 1000, (N, LENGTH), generator=torch.Generator().manual_seed(0))
        self.columns = columns

    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "example_id": i} | {k: make(self.ids[i]) for k, make in self.columns.items()}


def default_args(tmp_path: Path, **overrides: Any) -> Any:
    """TrainingArguments with defaults for everything this test is about (columns, labels)."""
    return transformers.TrainingArguments(
        output_dir=str(tmp_path), report_to=[], use_cpu=True, disable_tqdm=True, save_strategy="no", max_steps=2,
        per_device_train_batch_size=4, per_device_eval_batch_size=4, learning_rate=1e-2, **overrides)


def trained(model: Any, data: Rows, tmp_path: Path) -> tuple[Any, list[set[str]]]:
    calls: list[set[str]] = []
    model.register_forward_pre_hook(lambda _m, _a, kwargs: calls.append(set(kwargs)), with_kwargs=True)
    before = [p.detach().clone() for p in model.head.parameters()]
    trainer = transformers.Trainer(model=model, args=default_args(tmp_path), train_dataset=data, eval_dataset=data)
    assert trainer.args.remove_unused_columns and trainer.args.label_names is None
    trainer.train()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.head.parameters()))  # the head learned: a loss
    assert calls and all("example_id" not in call for call in calls)
    return trainer, calls


def test_question_answering_with_start_and_end_positions_like_bert_for_question_answering(tmp_path) -> None:
    torch.manual_seed(0)
    model = archit_core.build("bert", "question-answering", tiny=True)
    data = Rows(start_positions=lambda ids: ids[0] % LENGTH, end_positions=lambda ids: ids[1] % LENGTH)
    hf = transformers.BertForQuestionAnswering
    assert transformers.utils.find_labels(type(model)) == transformers.utils.find_labels(hf) == ["start_positions", "end_positions"]
    trainer, calls = trained(model, data, tmp_path)
    assert all(call == {"input_ids", "start_positions", "end_positions"} for call in calls)
    metrics = trainer.evaluate()
    assert metrics["eval_loss"] > 0  # the label columns are found, so evaluation computes the loss too


def test_dependency_parsing_keeps_word_ids_and_relation_labels(tmp_path) -> None:
    torch.manual_seed(0)
    model = archit_core.build("bert", "dependency-parsing", tiny=True, head_config={"num_relations": 4, "arc_size": 8, "relation_size": 8})
    words = LENGTH - 2  # [CLS] w1 .. w4 [SEP]
    data = Rows(word_ids=lambda ids: torch.tensor([-1, 0, 1, 2, 3, -1]), labels=lambda ids: torch.tensor([2, 0, 2, 3]),
                relation_labels=lambda ids: ids[:words] % 4)
    assert transformers.utils.find_labels(type(model)) == ["labels", "relation_labels"]
    _, calls = trained(model, data, tmp_path)
    assert all(call == {"input_ids", "word_ids", "labels", "relation_labels"} for call in calls)


def test_multi_task_label_columns_are_found_without_label_names(tmp_path) -> None:
    torch.manual_seed(0)
    model = archit_core.build("bert", {"ner": ("token-classification", {"num_labels": 3}), "cls": "sequence-classification"}, tiny=True)
    assert {"ner_labels", "cls_labels"} <= set(inspect.signature(model.forward).parameters)
    data = Rows(ner_labels=lambda ids: ids % 3, cls_labels=lambda ids: ids[0] % 2)
    trainer, calls = trained(model, data, tmp_path)
    assert sorted(trainer.label_names) == ["cls_labels", "ner_labels"]
    assert all(call == {"input_ids", "ner_labels", "cls_labels"} for call in calls)
    assert trainer.evaluate()["eval_loss"] > 0
