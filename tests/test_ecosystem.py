"""archit models in the Hugging Face ecosystem: ``Trainer`` (gradient accumulation, checkpoints and resuming,
column removal), ``peft`` LoRA adapters and ``torch.compile``, all on the tiny roberta token classifier."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import archit_core
from archit_core import Head, HeadOutput, HeadSpec
from archit_core.testing.toys import PooledConfig, ToyBackbone, ToyPlugin

transformers = pytest.importorskip("transformers")
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402

#: Trainer needs accelerate (in the ``test`` extra).
needs_accelerate = pytest.mark.skipif(importlib.util.find_spec("accelerate") is None, reason="Trainer needs accelerate")

NUM_LABELS = 3
SEQ_LEN = 8
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


class TokenDataset(torch.utils.data.Dataset):
    """Synthetic token classification: the label of a token is its id modulo 3 (learnable from the embeddings).

    Every item is a dict of tensors; ``extra`` adds further columns (name -> function of the index)."""

    def __init__(self, n: int = 16, *, seed: int = 0, extra: dict[str, Any] | None = None) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(5, 1000, (n, SEQ_LEN), generator=generator)
        self.labels = self.input_ids % NUM_LABELS
        self.extra = extra or {}

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {"input_ids": self.input_ids[i], "attention_mask": torch.ones(SEQ_LEN, dtype=torch.long), "labels": self.labels[i]}
        return item | {name: make(i) for name, make in self.extra.items()}

    def batch(self) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids, "attention_mask": torch.ones_like(self.input_ids), "labels": self.labels}


def tiny_model(seed: int = 0, **backbone_config: Any) -> Any:
    torch.manual_seed(seed)
    return archit_core.build(
        "roberta", "token-classification", tiny=True, head_config={"num_labels": NUM_LABELS},
        backbone_config=backbone_config or None,
    )


def training_args(output_dir: Path, **overrides: Any) -> TrainingArguments:
    options: dict[str, Any] = dict(
        output_dir=str(output_dir), report_to=[], use_cpu=True, disable_tqdm=True, seed=0, save_strategy="no",
        logging_strategy="no", per_device_train_batch_size=4, learning_rate=5e-3, dataloader_num_workers=0,
    )
    return TrainingArguments(**(options | overrides))


def mean_loss(model: Any, data: TokenDataset) -> float:
    model.eval()
    with torch.no_grad():
        return model(**data.batch()).loss.item()


def record_kwargs(module: nn.Module) -> list[set[str]]:
    """The keyword-argument names of every call of ``module`` (a forward pre-hook)."""
    calls: list[set[str]] = []
    module.register_forward_pre_hook(lambda _m, _args, kwargs: calls.append(set(kwargs)), with_kwargs=True)
    return calls


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The models are tiny: a second intra-op thread only spins, and on a busy 2-core machine makes these tests
    several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _host(real_host: archit_core.PluginHost) -> Iterator[archit_core.PluginHost]:
    """Every test builds with the in-repo roberta backbone and token-classification head (plus the toys)."""
    yield real_host


# --- Trainer ---------------------------------------------------------------------------------------------------------


@needs_accelerate
def test_trainer_trains_with_gradient_accumulation_and_no_num_items_in_backbone(tmp_path: Path) -> None:
    data = TokenDataset(16)
    model = tiny_model()
    before = mean_loss(model, data)
    model_calls, backbone_calls = record_kwargs(model), record_kwargs(model.backbone)
    trainer = Trainer(model=model, args=training_args(tmp_path, gradient_accumulation_steps=2, max_steps=20), train_dataset=data)
    # The head's loss is a per-batch mean, so the Trainer must divide by gradient_accumulation_steps itself.
    assert trainer.model_accepts_loss_kwargs is False
    trainer.train()
    assert trainer.state.global_step == 20
    assert len(backbone_calls) == 40  # 20 optimiser steps of 2 accumulated micro-batches
    assert all("num_items_in_batch" not in call for call in model_calls + backbone_calls)
    assert mean_loss(model, data) < 0.5 * before

    # Were it passed anyway (a custom trainer, a user), the hint stops at the model and does not change the loss.
    backbone_calls.clear()
    batch = data.batch()
    with torch.no_grad():
        hinted = model(**batch, num_items_in_batch=torch.tensor(batch["labels"].numel()))
        plain = model(**batch)
    assert backbone_calls and all("num_items_in_batch" not in call for call in backbone_calls)
    torch.testing.assert_close(hinted.loss, plain.loss)


class _GradientCapture(TrainerCallback):
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.grads: dict[str, torch.Tensor] = {}

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.grads = {n: p.grad.clone() for n, p in self.model.named_parameters() if p.grad is not None}


def _one_optimizer_step(tmp_path: Path, state: dict[str, torch.Tensor], batch_size: int, accumulation: int) -> tuple[dict[str, torch.Tensor], float]:
    model = tiny_model(**NO_DROPOUT)
    model.load_state_dict(state)
    capture = _GradientCapture(model)
    args = training_args(
        tmp_path / f"bs{batch_size}", per_device_train_batch_size=batch_size, gradient_accumulation_steps=accumulation,
        max_steps=1, learning_rate=0.0, max_grad_norm=0.0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=TokenDataset(8), callbacks=[capture])
    output = trainer.train()
    return capture.grads, output.training_loss


@needs_accelerate
def test_gradient_accumulation_equals_the_full_batch(tmp_path: Path) -> None:
    """2 accumulated micro-batches of 4 give the gradients (and logged loss) of 1 batch of 8 (no -100 labels)."""
    state = tiny_model(**NO_DROPOUT).state_dict()
    full, full_loss = _one_optimizer_step(tmp_path, state, batch_size=8, accumulation=1)
    accumulated, accumulated_loss = _one_optimizer_step(tmp_path, state, batch_size=4, accumulation=2)
    assert full.keys() == accumulated.keys() and "head.classifier.weight" in full
    for name in full:
        torch.testing.assert_close(accumulated[name], full[name], rtol=1e-4, atol=1e-7, msg=name)
    assert accumulated_loss == pytest.approx(full_loss, rel=1e-5)


@needs_accelerate
def test_trainer_checkpoint_loads_with_archit_and_resumes(tmp_path: Path) -> None:
    data = TokenDataset(24)
    out = tmp_path / "run"
    model = tiny_model()
    trainer = Trainer(model=model, args=training_args(out, max_steps=6, save_strategy="steps", save_steps=3), train_dataset=data)
    trainer.train()
    assert {p.name for p in out.iterdir()} >= {"checkpoint-3", "checkpoint-6"}
    assert (out / "checkpoint-6" / "model.safetensors").is_file()

    final = {k: v.detach().clone() for k, v in model.state_dict().items()}
    loaded = archit_core.load(out / "checkpoint-6")
    assert type(loaded) is type(model)
    assert loaded.state_dict().keys() == final.keys()
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, final[key], rtol=0, atol=0, msg=key)

    # Resuming from the half-way checkpoint in a fresh model (other initial weights) ends where the full run ended.
    resumed = tiny_model(seed=1)
    assert not torch.equal(resumed.head.classifier.weight, final["head.classifier.weight"])
    trainer = Trainer(model=resumed, args=training_args(out, max_steps=6), train_dataset=data)
    trainer.train(resume_from_checkpoint=str(out / "checkpoint-3"))
    assert trainer.state.global_step == 6
    for key, value in resumed.state_dict().items():
        torch.testing.assert_close(value, final[key], msg=key)


@needs_accelerate
def test_trainer_column_removal_keeps_the_model_inputs(tmp_path: Path) -> None:
    """``remove_unused_columns=True`` keeps input_ids, attention_mask and labels and drops columns the model
    does not name (which would otherwise reach the backbone through ``**kwargs``)."""
    data = TokenDataset(8, extra={"example_id": lambda i: i})
    model = tiny_model()
    model_calls, backbone_calls = record_kwargs(model), record_kwargs(model.backbone)
    args = training_args(tmp_path, remove_unused_columns=True, max_steps=2)
    Trainer(model=model, args=args, train_dataset=data).train()
    assert model_calls and all(call == {"input_ids", "attention_mask", "labels"} for call in model_calls)
    assert all("example_id" not in call and "labels" not in call for call in backbone_calls)


# A head reading an extra input (as a question-answering head reads start_positions) through HeadSpec.inputs.


class _WeightedHead(Head):
    """Pooled classifier whose loss weights each example by ``example_weight``."""

    def __init__(self, config: PooledConfig, backbone: Any) -> None:
        super().__init__(config, backbone)
        self.classifier = nn.Linear(backbone.hidden_size, config.num_labels)

    def forward(self, features: Any, labels: Any = None, example_weight: Any = None, **inputs: Any) -> HeadOutput:
        logits = self.classifier(features.token_states[:, 0])
        loss = None
        if labels is not None:
            weight = torch.ones(len(labels)) if example_weight is None else example_weight
            loss = (nn.functional.cross_entropy(logits, labels, reduction="none") * weight).mean()
        return HeadOutput(logits=logits, loss=loss)


_WEIGHTED = HeadSpec(module=_WeightedHead, config_class=PooledConfig, inputs=("example_weight",))


class _SequenceDataset(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": torch.arange(i, i + 5) % 50, "labels": i % 2, "example_weight": float(i % 3)}


def _head_calls_with_trainer(host: archit_core.PluginHost, tmp_path: Path, remove_unused_columns: bool) -> list[set[str]]:
    host.add(ToyPlugin(backbones={"toy-ecosystem": ToyBackbone()}, heads={"weighted": _WEIGHTED}), name="ecosystem-toys")
    model = archit_core.build("toy-ecosystem", "weighted", head_config={"pooling": "first"})
    calls = record_kwargs(model.head)
    args = training_args(tmp_path, remove_unused_columns=remove_unused_columns, max_steps=1)
    Trainer(model=model, args=args, train_dataset=_SequenceDataset()).train()
    return calls


@needs_accelerate
def test_head_inputs_reach_the_head_without_column_removal(_host: archit_core.PluginHost, tmp_path: Path) -> None:
    calls = _head_calls_with_trainer(_host, tmp_path, remove_unused_columns=False)
    assert calls and all(call == {"labels", "example_weight"} for call in calls)


@needs_accelerate
def test_head_inputs_survive_trainer_column_removal(_host: archit_core.PluginHost, tmp_path: Path) -> None:
    calls = _head_calls_with_trainer(_host, tmp_path, remove_unused_columns=True)
    assert calls and all("example_weight" in call for call in calls)


# --- peft ------------------------------------------------------------------------------------------------------------

peft_params = [
    pytest.param({"task_type": "TOKEN_CLS"}, "classifier", id="TOKEN_CLS"),
    pytest.param({"task_type": None, "modules_to_save": ["head"]}, "head", id="modules_to_save-head"),
]


@needs_accelerate
@pytest.mark.parametrize(("options", "saved_module"), peft_params)
def test_peft_lora_trains_saves_only_the_adapter_and_reloads(tmp_path: Path, options: dict[str, Any], saved_module: str) -> None:
    peft = pytest.importorskip("peft")
    base_dir = tmp_path / "base"
    tiny_model(**NO_DROPOUT).save_pretrained(base_dir)
    base = archit_core.load(base_dir)
    base_state = {k: v.clone() for k, v in base.state_dict().items()}

    model = peft.get_peft_model(base, peft.LoraConfig(target_modules=["query", "value"], r=4, lora_alpha=8, **options))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n or ".modules_to_save." in n for n in trainable)
    assert sum(".lora_" in n for n in trainable) == 8  # A and B for query and value in each of the 2 layers
    assert {n.split(".modules_to_save.")[0].rsplit(".", 1)[-1] for n in trainable if ".modules_to_save." in n} == {saved_module}

    data = TokenDataset(16)
    before = mean_loss(model, data)
    trainer = Trainer(model=model, args=training_args(tmp_path / "out", max_steps=15, learning_rate=2e-2), train_dataset=data)
    assert trainer.model_accepts_loss_kwargs is False
    trainer.train()
    assert mean_loss(model, data) < before
    # The frozen base weights did not move.
    for key, value in model.get_base_model().state_dict().items():
        if key in base_state and "lora_" not in key:
            torch.testing.assert_close(value, base_state[key], rtol=0, atol=0, msg=key)

    adapter_dir = tmp_path / "adapter"
    model.save_pretrained(adapter_dir)
    assert {p.name for p in adapter_dir.iterdir()} == {"adapter_config.json", "adapter_model.safetensors", "README.md"}
    from safetensors.torch import load_file

    saved = load_file(adapter_dir / "adapter_model.safetensors")
    assert len(saved) == len(trainable)
    assert all("lora_" in k or f"{saved_module}." in k for k in saved)
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["r"] == 4

    reloaded = peft.PeftModel.from_pretrained(archit_core.build("roberta", "token-classification", checkpoint=base_dir, head_config={"num_labels": NUM_LABELS}), adapter_dir)
    model.eval()
    reloaded.eval()
    batch = data.batch()
    with torch.no_grad():
        expected, got = model(**batch), reloaded(**batch)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)


# --- torch.compile ---------------------------------------------------------------------------------------------------

#: inductor compiles this model in 15-25 s on a cold 2-core CPU cache (5 s warm); aot_eager still captures the whole
#: forward with Dynamo and traces forward and backward through AOTAutograd, in about 4 s.
COMPILE_BACKEND = "aot_eager"


def test_torch_compile_matches_eager() -> None:
    torch._dynamo.reset()
    model = tiny_model(**NO_DROPOUT)
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 1000, (2, 7), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -2:] = 0
    labels = torch.randint(0, NUM_LABELS, (2, 7), generator=generator)
    labels[:, 0] = -100
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    compiled = torch.compile(model, backend=COMPILE_BACKEND, fullgraph=True)  # fullgraph: no graph break in archit
    eager = model(**batch)
    eager_grads = torch.autograd.grad(eager.loss, list(model.parameters()))
    out = compiled(**batch)
    torch.testing.assert_close(out.logits, eager.logits)
    torch.testing.assert_close(out.loss, eager.loss)
    for got, expected in zip(torch.autograd.grad(out.loss, list(model.parameters())), eager_grads):
        torch.testing.assert_close(got, expected)
