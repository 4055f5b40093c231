"""Parity with Hugging Face's ``*ForMaskedLM`` (BERT, RoBERTa, DeBERTa-v2 in both of its layouts): the same
weights give the same logits and loss, whether imported from the state dict or loaded with build(checkpoint=)."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import equivalent, head_config_for_hf, import_hf_state_dict

HEAD = "masked-lm"
BACKBONES = ["bert", "roberta", "deberta"]


def hf_model(backbone: str, **overrides: object) -> torch.nn.Module:
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True, overrides=overrides)
    torch.manual_seed(0)
    hf = getattr(transformers, equivalent(backbone, HEAD).auto_class).from_config(config).eval()
    with torch.no_grad():  # a non-zero output bias, so that a bias mapped to the wrong place shows
        for name, param in hf.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.1)
    return hf


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 1000, (3, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[2, 6:] = 0
    labels = torch.full_like(input_ids, -100)
    labels[:, 2:5] = input_ids[:, 2:5]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def assert_same(hf: torch.nn.Module, model: torch.nn.Module) -> None:
    inputs = batch()
    with torch.no_grad():
        expected = hf(**inputs)
        got = model.eval()(**inputs)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_imported_state_dict(backbone: str) -> None:
    hf = hf_model(backbone)
    config = hf.config
    model = archit_core.build(backbone, HEAD, backbone_config=config, head_config=head_config_for_hf(backbone, HEAD, config))
    import_hf_state_dict(model, hf.state_dict())
    assert model.head.decoder.weight is model.backbone.get_input_embeddings().weight
    assert_same(hf, model)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_saved_hugging_face_checkpoint(backbone: str, tmp_path) -> None:
    hf = hf_model(backbone)
    hf.save_pretrained(tmp_path / "hf")
    model = archit_core.build(backbone, HEAD, checkpoint=tmp_path / "hf")
    report = model.loading_report
    assert not any(report.fresh.values()) and not report.ignored, str(report)
    assert "imported from the checkpoint's" in report.notes[0]
    assert model.head.decoder.weight is model.backbone.get_input_embeddings().weight
    assert_same(hf, model)


def test_deberta_lm_predictions_layout(tmp_path) -> None:
    # legacy=False: DeBERTa's original head (lm_predictions.lm_head.*), whose projection is the word embeddings.
    hf = hf_model("deberta", legacy=False)
    assert any(k.startswith("lm_predictions.lm_head.") for k in hf.state_dict())
    model = archit_core.build("deberta", HEAD, backbone_config=hf.config)
    import_hf_state_dict(model, hf.state_dict())
    assert_same(hf, model)
    hf.save_pretrained(tmp_path / "hf")
    loaded = archit_core.build("deberta", HEAD, checkpoint=tmp_path / "hf")
    assert not any(loaded.loading_report.fresh.values()) and not loaded.loading_report.ignored
    assert_same(hf, loaded)


def test_untied_hugging_face_model() -> None:
    hf = hf_model("bert", tie_word_embeddings=False)
    assert hf.cls.predictions.decoder.weight is not hf.bert.embeddings.word_embeddings.weight
    head_config = head_config_for_hf("bert", HEAD, hf.config)
    assert head_config["tie_word_embeddings"] is False
    model = archit_core.build("bert", HEAD, backbone_config=hf.config, head_config=head_config)
    import_hf_state_dict(model, hf.state_dict())
    assert model.head.decoder.weight is not model.backbone.get_input_embeddings().weight
    assert_same(hf, model)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_exports_to_hugging_face(backbone: str) -> None:
    hf = hf_model(backbone)
    model = archit_core.build(backbone, HEAD, backbone_config=hf.config, head_config=head_config_for_hf(backbone, HEAD, hf.config))
    import_hf_state_dict(model, hf.state_dict())
    exported = archit_core.to_transformers(model)
    assert type(exported) is type(hf)
    assert exported.get_output_embeddings().weight is exported.get_input_embeddings().weight
    assert_same(exported.eval(), model)


def test_roberta_layout_fixes_gelu() -> None:
    # RobertaLMHead applies gelu whatever hidden_act says; the roberta layout says so.
    hf = hf_model("roberta", hidden_act="relu")
    head_config = head_config_for_hf("roberta", HEAD, hf.config)
    assert head_config["activation"] == "gelu"
    assert head_config_for_hf("roberta", HEAD, hf_model("roberta").config)["activation"] is None  # hidden_act is gelu
    model = archit_core.build("roberta", HEAD, backbone_config=hf.config, head_config=head_config)
    import_hf_state_dict(model, hf.state_dict())
    assert_same(hf, model)
