"""Rewrites with default targets on the generic backbones: roles inferred from each family's module tree and checked
by a probe (``archit_core.generic.roles``), so ``rewrite(model, "lora")`` needs no target table; saved rewrites
record the base they were made for; rewrite options must be finite."""

from __future__ import annotations

import peft
import pytest
import torch
import transformers
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

import archit_core
from archit_core.generic.backbone import generic_backbone

#: Families of peft's own target table that archit serves through its generic backbone (the encoder of T5 and BART).
PEFT_FAMILIES = ["bart", "bert", "bloom", "codegen", "deberta", "deberta-v2", "electra", "falcon", "gemma", "gemma2",
                 "gpt2", "gpt_bigcode", "gpt_neox", "layoutlm", "llama", "mistral", "mixtral", "opt", "qwen2", "qwen3",
                 "roberta", "t5", "xlm-roberta"]
#: Families peft has no table entry for: LoRA's defaults must still find their attention projections.
QV, QKV, LATENT = ("attention.query", "attention.value"), ("attention.qkv",), ("attention.query", "attention.kv")
OTHERS = {  # model type: (a path suffix LoRA's defaults must reach, the roles they are)
    "distilbert": ("attention.q_lin", QV), "albert": ("attention.query", QV), "mpnet": ("attention.attn.q", QV),
    "modernbert": ("attn.Wqkv", QKV), "xlm": ("q_lin", QV), "funnel": ("attention.q_head", QV),
    "squeezebert": ("attention.query", QV), "phi3": ("self_attn.qkv_proj", QKV), "mobilebert": ("attention.self.query", QV),
    "nomic_bert": ("self_attn.q_proj", QV), "deepseek_v3": ("self_attn.kv_b_proj", LATENT), "minicpm3": ("self_attn.q_b_proj", LATENT),
}


def _generic(model_type):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:  # a family newer than the installed transformers
        pytest.skip(f"transformers {transformers.__version__} has no {model_type!r}")
    return archit_core.build(f"{model_type}@archit-core", "sequence-classification", tiny=True)


@pytest.mark.parametrize("model_type", PEFT_FAMILIES)
def test_default_lora_targets_are_the_modules_peft_targets(model_type):
    model = _generic(model_type)
    ours = archit_core.rewrites_of(archit_core.rewrite(model, "lora"))[0]["paths"]
    injected = peft.inject_adapter_in_model(peft.LoraConfig(r=2, target_modules=PEFT_TARGETS[model_type]), model.backbone)
    theirs = [n for n, m in injected.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer)]
    assert sorted(p.removeprefix("backbone.") for p in ours) == sorted(theirs)


@pytest.mark.parametrize("model_type", sorted(OTHERS))
def test_default_lora_targets_work_on_families_peft_has_no_table_for(model_type):
    model = _generic(model_type)
    lora = archit_core.rewrite(model, "lora")
    paths = archit_core.rewrites_of(lora)[0]["paths"]
    suffix, roles = OTHERS[model_type]
    assert paths and any(p.endswith(suffix) for p in paths)
    assert paths == archit_core.rewrites_of(archit_core.rewrite(model, "lora", targets=list(roles)))[0]["paths"]
    lora.train()
    batch = {"input_ids": torch.randint(5, 50, (2, 6)), "labels": torch.tensor([0, 1])}
    lora(**batch).loss.backward()
    assert all(p.grad is not None for n, p in lora.named_parameters() if "lora_B" in n)


def test_roles_are_checked_by_the_probe_not_taken_from_names_alone():
    roles = generic_backbone("llama").roles
    assert roles["attention.query"] == "layers.*.self_attn.q_proj" and roles["feed_forward.gate"] == "layers.*.mlp.gate_proj"
    assert roles["feed_forward.in"] == "layers.*.mlp.up_proj" and roles["attention.output"] == "layers.*.self_attn.o_proj"
    mamba = generic_backbone("mamba").roles  # in_proj is no fused query-key-value: its width is not one
    assert "attention.qkv" not in mamba and "attention.query" not in mamba and mamba["layers"] == "layers.*"
    with pytest.raises(archit_core.ConfigError, match="matches no module.*declared roles"):
        archit_core.rewrite(_generic("mamba"), "lora")


def test_saved_rewrites_record_their_base_and_refuse_another(tmp_path):
    tiny = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
    bert = archit_core.build("bert", "token-classification", backbone_config=tiny)
    folder = archit_core.save_rewrites(archit_core.rewrite(bert, "lora"), tmp_path / "adapter")
    roberta = archit_core.build("roberta", "token-classification", backbone_config=tiny)
    with pytest.raises(archit_core.CheckpointError, match="made for another model: backbone 'bert' \\(this model: 'roberta'\\)"):
        archit_core.load_rewrites(roberta, folder)
    archit_core.load_rewrites(bert, folder)  # its own base loads


@pytest.mark.parametrize("option", [{"alpha": float("nan")}, {"alpha": float("inf")}, {"dropout": float("nan")}])
def test_rewrite_options_must_be_finite(option):
    model = archit_core.build("bert", "token-classification", tiny=True)
    with pytest.raises(archit_core.ConfigError, match=f"{next(iter(option))}"):
        archit_core.rewrite(model, "lora", **option)


def test_rewrites_saved_as_a_bare_list_still_load(tmp_path):
    import json

    model = archit_core.build("bert", "token-classification", tiny=True)
    folder = archit_core.save_rewrites(archit_core.rewrite(model, "lora"), tmp_path / "adapter")
    saved = json.loads((folder / "archit_rewrites.json").read_text())
    assert saved["base"]["backbone"] == "bert" and saved["base"]["backbone_model_type"] == "bert"
    (folder / "archit_rewrites.json").write_text(json.dumps(saved["rewrites"]))  # archit-core 0.1's format: no base
    assert archit_core.rewrites_of(archit_core.load_rewrites(model, folder))[0]["rewrite"] == "lora"
