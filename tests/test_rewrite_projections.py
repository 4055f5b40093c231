"""LoRA on every projection peft supports: transformers' ``Conv1D`` (GPT-2) and ``nn.Conv1d`` (SqueezeBERT), at peft
parity (same outputs, gradients and merged weights from the same adapter weights), with the default targets."""

from __future__ import annotations

import copy

import peft
import pytest
import torch
import transformers
from archit_rewrite_lora import merge

import archit_core

GPT2 = {"vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}
SQUEEZEBERT = {"vocab_size": 100, "hidden_size": 32, "embedding_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
               "intermediate_size": 64, "q_groups": 1, "k_groups": 1, "v_groups": 1, "post_attention_groups": 1,
               "intermediate_groups": 1, "output_groups": 1}
CASES = {  # family: (config, peft's target modules for the same layers)
    "GPT2": (GPT2, ["c_attn"]),
    "SqueezeBert": (SQUEEZEBERT, ["query", "value"]),
}


def _ids():
    g = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(3, 100, (2, 7), generator=g), "attention_mask": torch.tensor([[1] * 7, [1] * 5 + [0] * 2])}


def _pair(family, overrides=None):
    config, targets = CASES[family]
    torch.manual_seed(0)
    hf_config = getattr(transformers, f"{family}Config")(**{**config, **(overrides or {})}, num_labels=3, pad_token_id=0)
    hf = getattr(transformers, f"{family}ForSequenceClassification")(hf_config).eval()
    reference = peft.get_peft_model(copy.deepcopy(hf), peft.LoraConfig(r=4, lora_alpha=16, target_modules=targets)).eval()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for n, p in reference.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    ours = archit_core.rewrite(hf, "lora", r=4, alpha=16)  # default targets: the family's query and value roles
    theirs = {k.removeprefix("base_model.model."): v for k, v in reference.state_dict().items() if "lora_" in k}
    mine = {k for k in ours.state_dict() if "lora_" in k}
    assert mine == theirs.keys() and mine  # the same layers, peft's key names and shapes
    ours.load_state_dict(theirs, strict=False)
    return hf, ours.eval(), reference


@pytest.mark.parametrize("family", sorted(CASES))
def test_lora_on_conv_projections_gives_peft_outputs_gradients_and_merges(family):
    hf, ours, reference = _pair(family)
    labels = torch.tensor([0, 2])
    out, ref = ours(**_ids(), labels=labels), reference(**_ids(), labels=labels)
    torch.testing.assert_close(out.logits, ref.logits)
    out.loss.backward()
    ref.loss.backward()
    grads = {k.removeprefix("base_model.model."): p.grad for k, p in reference.named_parameters() if "lora_" in k}
    for name, p in ours.named_parameters():
        if "lora_" in name:
            torch.testing.assert_close(p.grad, grads[name], msg=name)
    with torch.no_grad():
        merge(ours)
        merged = reference.merge_and_unload()
        torch.testing.assert_close(ours(**_ids()).logits, merged(**_ids()).logits, rtol=1e-5, atol=1e-5)
        base = {k.replace(".base_layer", ""): v for k, v in ours.state_dict().items() if "lora_" not in k}
        for key, value in merged.state_dict().items():
            torch.testing.assert_close(base[key], value, rtol=1e-5, atol=1e-5, msg=key)


def test_grouped_convolutions_take_lora_and_refuse_to_merge_as_peft_does():
    groups = {"q_groups": 2, "k_groups": 2, "v_groups": 2}
    _, ours, reference = _pair("SqueezeBert", groups)
    with torch.no_grad():
        torch.testing.assert_close(ours(**_ids()).logits, reference(**_ids()).logits)
        with pytest.raises(ValueError, match="grouped convolution cannot be merged"):
            merge(ours)
    model = transformers.SqueezeBertModel(transformers.SqueezeBertConfig(**{**SQUEEZEBERT, **groups}))
    with pytest.raises(archit_core.ArchitError, match="rank of 3 does not split over the layer's 2 groups"):
        archit_core.rewrite(model, "lora", r=3)
