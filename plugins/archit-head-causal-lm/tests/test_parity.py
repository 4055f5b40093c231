"""Parity with Hugging Face's ``*ForCausalLM`` (GPT-2 tied, Llama untied and tied): same weights, same logits and
shifted loss (padding and -100 labels included), from the state dict and from a saved checkpoint; and
``model.generate`` gives the same tokens as the Hugging Face model's greedy generation."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import head_config_for_hf, import_hf_state_dict

HEAD = "causal-lm"
CASES = [("gpt2", {}), ("llama", {}), ("llama", {"tie_word_embeddings": True})]
IDS = ["gpt2", "llama-untied", "llama-tied"]


def hf_model(backbone: str, overrides: dict) -> torch.nn.Module:
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True, overrides=overrides)
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def imported(backbone: str, hf: torch.nn.Module) -> torch.nn.Module:
    head_config = head_config_for_hf(backbone, HEAD, hf.config)
    model = archit_core.build(backbone, HEAD, backbone_config=hf.config, head_config=head_config)
    import_hf_state_dict(model, hf.state_dict())
    return model.eval()


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 999, (3, 8), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0  # left padding, as for generation
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[2, 5] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def assert_same(hf: torch.nn.Module, model: torch.nn.Module) -> None:
    inputs = batch()
    with torch.no_grad():
        expected = hf(**inputs)
        got = model(**inputs)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)


@pytest.mark.parametrize(("backbone", "overrides"), CASES, ids=IDS)
def test_imported_state_dict(backbone: str, overrides: dict) -> None:
    hf = hf_model(backbone, overrides)
    model = imported(backbone, hf)
    tied = hf.config.tie_word_embeddings
    assert (model.head.decoder.weight is model.backbone.get_input_embeddings().weight) == tied
    assert_same(hf, model)


@pytest.mark.parametrize(("backbone", "overrides"), CASES, ids=IDS)
def test_saved_hugging_face_checkpoint(backbone: str, overrides: dict, tmp_path) -> None:
    hf = hf_model(backbone, overrides)
    hf.save_pretrained(tmp_path / "hf")
    model = archit_core.build(backbone, HEAD, checkpoint=tmp_path / "hf").eval()
    report = model.loading_report
    assert not any(report.fresh.values()) and not report.ignored, str(report)
    assert_same(hf, model)


@pytest.mark.parametrize(("backbone", "overrides"), CASES, ids=IDS)
def test_greedy_generation_matches(backbone: str, overrides: dict) -> None:
    hf = hf_model(backbone, overrides)
    model = imported(backbone, hf)
    inputs = batch()
    del inputs["labels"]
    options = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 0}
    expected = hf.generate(**inputs, **options)
    got = model.generate(**inputs, **options)
    assert got.shape == (3, 14)
    assert torch.equal(got, expected)


@pytest.mark.parametrize(("backbone", "overrides"), CASES, ids=IDS)
def test_beam_search_and_generate_outputs_match(backbone: str, overrides: dict) -> None:
    """Beam search over the key/value cache and ``return_dict_in_generate``: the same sequences, scores and
    output fields as the Hugging Face model's, under this transformers' names."""
    hf = hf_model(backbone, overrides)
    model = imported(backbone, hf)
    inputs = batch()
    del inputs["labels"]
    options = {"max_new_tokens": 4, "do_sample": False, "num_beams": 3, "pad_token_id": 0,
               "return_dict_in_generate": True, "output_scores": True, "use_cache": True}
    expected, got = hf.generate(**inputs, **options), model.generate(**inputs, **options)
    assert type(got) is type(expected) and set(got.keys()) == set(expected.keys())
    assert torch.equal(got.sequences, expected.sequences)
    torch.testing.assert_close(got.sequences_scores, expected.sequences_scores)
    for ours, theirs in zip(got.scores, expected.scores, strict=True):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize(("backbone", "overrides"), CASES, ids=IDS)
def test_exports_to_hugging_face(backbone: str, overrides: dict) -> None:
    hf = hf_model(backbone, overrides)
    exported = archit_core.to_transformers(imported(backbone, hf))
    assert type(exported) is type(hf) and exported.config.tie_word_embeddings == hf.config.tie_word_embeddings
    assert_same(exported.eval(), imported(backbone, hf))


def test_loss_is_the_next_token_cross_entropy() -> None:
    hf = hf_model("gpt2", {})
    model = imported("gpt2", hf)
    inputs = batch()
    with torch.no_grad():
        out = model(**inputs)
    labels = inputs["labels"][:, 1:]
    expected = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 1000), labels.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)
