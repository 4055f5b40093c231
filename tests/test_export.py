"""``archit_core.to_transformers``: an archit model as its equivalent Hugging Face task model, same weights and logits."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core import ArchitError, to_transformers
from archit_core.checkpoints.interop import head_config_for_hf

BACKBONES = ("roberta", "bert", "deberta")
HEADS = {
    "token-classification": ("AutoModelForTokenClassification", "ForTokenClassification"),
    "sequence-classification": ("AutoModelForSequenceClassification", "ForSequenceClassification"),
}
HF_NAMES = {"roberta": "Roberta", "bert": "Bert", "deberta": "DebertaV2"}
LABELS = {0: "O", 1: "B-PER", 2: "I-PER"}


def equivalent_model(backbone: str, head: str, **options) -> archit_core.ModelWithHead:
    """A tiny archit model whose head config is its Hugging Face equivalent's, with three named labels, in eval mode
    and with no weight at its initial value (biases and norms are not zeros and ones)."""
    bconf = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True)
    head_config = {**head_config_for_hf(backbone, head, bconf), "num_labels": 3}
    torch.manual_seed(0)
    model = archit_core.build(backbone, head, tiny=True, head_config=head_config, id2label=LABELS,
                              label2id={v: k for k, v in LABELS.items()}, **options)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 1000, (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -3:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_export_gives_the_same_logits_and_saves_what_auto_classes_load(backbone, head, tmp_path):
    model = equivalent_model(backbone, head)
    before = state(model)
    batch = inputs()
    with torch.no_grad():
        expected = model(**batch).logits

    hf_model = to_transformers(model)
    assert type(hf_model).__name__ == HF_NAMES[backbone] + HEADS[head][1]
    assert not hf_model.training
    with torch.no_grad():
        torch.testing.assert_close(hf_model(**batch).logits, expected, rtol=0, atol=0)

    hf_model.save_pretrained(tmp_path)
    reloaded = getattr(transformers, HEADS[head][0]).from_pretrained(tmp_path).eval()
    assert type(reloaded) is type(hf_model)
    assert reloaded.config.num_labels == 3 and reloaded.config.id2label == LABELS
    assert reloaded.config.label2id == {v: k for k, v in LABELS.items()}
    assert reloaded.config.architectures == [type(hf_model).__name__]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, expected, rtol=0, atol=0)

    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_the_exported_weights_are_a_copy():
    model = equivalent_model("bert", "token-classification")
    before = state(model)
    hf_model = to_transformers(model)
    with torch.no_grad():
        for p in hf_model.parameters():
            p.zero_()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_export_keeps_training_mode_dtype_and_shared_head_fields():
    model = equivalent_model("roberta", "sequence-classification", dtype=torch.float64)
    model.train()
    hf_model = to_transformers(model)
    assert hf_model.training
    assert {p.dtype for p in hf_model.parameters()} == {torch.float64}
    assert hf_model.device == model.device

    multi = archit_core.build("bert", "sequence-classification", tiny=True,
                              head_config={"pooling": "pooler", "num_labels": 4, "problem_type": "multi_label_classification"})
    config = to_transformers(multi).config
    assert config.num_labels == 4 and config.problem_type == "multi_label_classification"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_export_keeps_the_device():  # pragma: no cover - runs where a GPU is present
    model = equivalent_model("deberta", "sequence-classification", device="cuda")
    hf_model = to_transformers(model)
    assert {p.device.type for p in hf_model.parameters()} == {"cuda"}
    batch = {k: v.cuda() for k, v in inputs().items()}
    with torch.no_grad():
        torch.testing.assert_close(hf_model(**batch).logits, model(**batch).logits)


def test_head_dropout_carries_over_where_the_family_has_classifier_dropout():
    bert = archit_core.build("bert", "token-classification", tiny=True, head_config={"dropout": 0.3})
    hf_model = to_transformers(bert)
    assert hf_model.config.classifier_dropout == 0.3 and hf_model.dropout.p == 0.3

    deberta = archit_core.build("deberta", "token-classification", tiny=True, head_config={"dropout": 0.3})
    with pytest.warns(UserWarning, match=r"head_config.dropout=0.3 does not carry over"):
        to_transformers(deberta)


@pytest.mark.parametrize(
    ("backbone", "head_config", "expected"),
    [
        ("roberta", {"pooling": "mean"}, "head_config.pooling='mean' has no Hugging Face equivalent: RobertaForSequenceClassification computes pooling='first'"),
        ("roberta", {"pooling": "first"}, "head_config.pooler_dense=False has no Hugging Face equivalent"),
        ("bert", {"pooling": "first"}, "head_config.pooling='first' has no Hugging Face equivalent: BertForSequenceClassification computes pooling='pooler'"),
        ("deberta", {"pooling": "first", "pooler_dense": True, "pooler_activation": "tanh"},
         "head_config.pooler_activation='tanh' has no Hugging Face equivalent: DebertaV2ForSequenceClassification computes pooler_activation='gelu'"),
    ],
)
def test_a_head_config_without_equivalent_is_refused_naming_the_field(backbone, head_config, expected):
    model = archit_core.build(backbone, "sequence-classification", tiny=True, head_config=head_config)
    with pytest.raises(ArchitError) as info:
        to_transformers(model)
    assert expected in str(info.value)


def test_a_head_without_equivalent_is_refused(toy_host):
    model = archit_core.build("toy", "pooled", head_config={"pooling": "mean"}, host=toy_host)
    with pytest.raises(ArchitError, match=r"head 'pooled' declares no Hugging Face equivalent on backbone 'toy'"):
        to_transformers(model)


def test_weights_that_do_not_fill_the_hugging_face_class_are_refused():
    model = archit_core.build("bert", "token-classification", tiny=True)  # no pooler, as BertForTokenClassification
    model.backbone.pooler = transformers.models.bert.modeling_bert.BertPooler(model.config.backbone_config)
    with pytest.raises(ArchitError) as info:
        to_transformers(model)
    message = str(info.value)
    assert "do not fill BertForTokenClassification exactly" in message
    assert "2 archit weight(s) have no place in BertForTokenClassification: backbone.pooler.dense.bias" in message
    assert "the Hugging Face class has none" in message

    bert = archit_core.build("bert", "sequence-classification", tiny=True, head_config={"pooling": "pooler"})
    del bert.backbone.pooler
    bert.backbone.pooler = None
    with pytest.raises(ArchitError, match=r"2 BertForSequenceClassification weight\(s\) have no archit counterpart: bert.pooler.dense.bias"):
        to_transformers(bert)


def test_to_transformers_is_public_and_lazy():
    assert "to_transformers" in archit_core.__all__
    assert archit_core.to_transformers is to_transformers


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_a_generic_layout_with_an_unused_pooler_exports_what_it_imported(activation, tmp_path):
    from archit_core.generic.backbone import generic_backbone

    config = generic_backbone("big_bird").make_config(tiny=True)
    config.hidden_act, config.num_labels = activation, 3
    torch.manual_seed(0)
    hf = transformers.BigBirdForSequenceClassification(config).eval()  # keeps a pooler its classifier does not read
    hf.save_pretrained(tmp_path)
    model = archit_core.build("big_bird@archit-core", "sequence-classification", checkpoint=tmp_path, strict=True).eval()
    assert "backbone.pooler.weight" in model.loading_report.ignored
    exported = to_transformers(model).eval()
    assert type(exported).__name__ == "BigBirdForSequenceClassification" and exported.config.hidden_act == activation
    with torch.no_grad():
        torch.testing.assert_close(exported(**inputs()).logits, hf(**inputs()).logits)
    ours = {k: v for k, v in exported.state_dict().items() if "pooler" not in k}
    for key, value in ours.items():
        torch.testing.assert_close(value, hf.state_dict()[key], rtol=0, atol=0, msg=key)
