"""A multi-task model in the Hugging Face Trainer: per-task label columns (<task>_labels) with label_names."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import archit_core

transformers = pytest.importorskip("transformers")
pytest.importorskip("archit_backbone_bert")
if importlib.util.find_spec("accelerate") is None:
    pytest.skip("the Trainer needs accelerate (in the test extra)", allow_module_level=True)


class Rows(torch.utils.data.Dataset):
    """Token ids, a tag per token (id mod 3) and a class per sequence (first id mod 2)."""

    def __init__(self, n: int = 8) -> None:
        self.ids = torch.randint(5, 1000, (n, 6), generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "ner_labels": self.ids[i] % 3, "cls_labels": self.ids[i, 0] % 2}


def test_trainer_trains_and_evaluates_with_per_task_label_columns(tmp_path) -> None:
    torch.manual_seed(0)
    model = archit_core.build("bert", {"ner": ("token-classification", {"num_labels": 3}), "cls": "sequence-classification"}, tiny=True)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), report_to=[], use_cpu=True, disable_tqdm=True, save_strategy="no", max_steps=3,
        per_device_train_batch_size=4, per_device_eval_batch_size=4, label_names=["ner_labels", "cls_labels"],
    )
    before = [p.detach().clone() for p in model.head.parameters()]
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Rows(), eval_dataset=Rows(4))
    trainer.train()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.head.parameters()))  # both heads trained
    prediction = trainer.predict(Rows(4))
    logits = prediction.predictions  # one dict: the per-task losses stay out of predictions
    assert set(logits) == {"ner", "cls"} and logits["ner"].shape == (4, 6, 3) and logits["cls"].shape == (4, 2)
    assert prediction.label_ids[0].shape == (4, 6) and prediction.metrics["test_loss"] > 0
