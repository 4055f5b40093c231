"""examples/lora_tagger.py keeps working: LoRA on the real MiniLM tagger trains, leaves the base model as it was and
shares its weights, and the adapters save alone and load back onto the unchanged base."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

import archit_core

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lora_tagger.py"


def test_lora_finetuning_trains_the_adapters_only_and_keeps_the_base(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("lora_tagger_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(12, lr=3e-3, save=tmp_path / "adapter", log=lambda line: None)
    losses = result["losses"]
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3]), losses
    assert result["base_unchanged"]
    assert result["trainable"] < 0.05 * result["total"]
    assert result["adapter_bytes"] < 2 * 2**20
    base, model = result["base"], result["model"]
    query = base.backbone.encoder.layer[0].attention.self.query.weight
    assert archit_core.shares_storage(model.backbone.encoder.layer[0].attention.self.query.base_layer.weight, query)
    reloaded = archit_core.load_rewrites(base, tmp_path / "adapter")
    ids = torch.tensor([[101, 2000, 3000, 4000, 102]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)
