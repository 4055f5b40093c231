"""Hugging Face checkpoints into archit with ``build(backbone, head, checkpoint=...)``: task checkpoints give the
very Hugging Face model, base and other-task checkpoints give the backbone with a fresh head, the loading report
says which is which, and bad checkpoints raise a :class:`CheckpointError` that says what was wrong.

Every checkpoint is a tiny random model written by ``save_pretrained`` in the test; its weights are perturbed
away from their initial values, so a fresh weight can never pass for a loaded one.
"""

from __future__ import annotations

import json
import re
import warnings

import pytest
import torch
import transformers
from huggingface_hub import constants
from safetensors.torch import load_file, save_file

import archit_core
from archit_core import CheckpointError, MissingPluginError
from archit_core.checkpoints.interop import convert_hf_state_dict
from archit_core.cli.main import main

TINY = {"vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
#: archit backbone name -> prefix of its transformers classes
FAMILIES = {"roberta": "Roberta", "deberta": "DebertaV2", "bert": "Bert"}
#: archit head name -> suffix of the equivalent transformers class
TASKS = {"token-classification": "TokenClassification", "sequence-classification": "SequenceClassification"}


def save_hf(folder, family: str, cls_name: str = "Model", *, save: dict | None = None, **config) -> torch.nn.Module:
    """``{Family}{cls_name}`` (e.g. ``RobertaForTokenClassification``) on the tiny config, weights perturbed, in
    eval mode, saved to ``folder``; ``save`` goes to ``save_pretrained``."""
    prefix = FAMILIES[family]
    torch.manual_seed(0)
    model = getattr(transformers, f"{prefix}{cls_name}")(getattr(transformers, f"{prefix}Config")(**{**TINY, **config}))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval().save_pretrained(folder, **(save or {}))
    return model


def labels_for(head: str) -> torch.Tensor:
    if head == "token-classification":
        return torch.tensor([[-100, 0, 1, 2, 1, 0, 2], [-100, 2, 2, 1, 0, -100, -100]])
    return torch.tensor([0, 2])


def all_keys(groups) -> set[str]:
    return {k for keys in groups.values() for k in keys}


def assert_same_outputs(model, hf, batch, head: str = "token-classification") -> None:
    labels = labels_for(head)
    with torch.no_grad():
        expected, got = hf(**batch, labels=labels), model.eval()(**batch, labels=labels)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)


# -- task checkpoints of the same task: the Hugging Face model, exactly ------------------------------------------


@pytest.mark.parametrize("head", TASKS)
@pytest.mark.parametrize("family", FAMILIES)
def test_task_checkpoint_gives_the_hugging_face_model(tmp_path, batch, family, head):
    hf = save_hf(tmp_path, family, f"For{TASKS[head]}", num_labels=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = archit_core.build(family, head, checkpoint=tmp_path)
    assert_same_outputs(model, hf, batch, head)

    report = model.loading_report
    assert report.format == "transformers" and report.complete
    assert set(report.loaded) == {"backbone", "head"}
    assert all_keys(report.loaded) == set(model.state_dict())
    assert not any(report.fresh.values()) and report.ignored == () and report.mismatched == ()
    assert report.notes == (f"head {head!r} imported from the checkpoint's {type(hf).__name__} head",)
    # every tensor of the checkpoint landed, unchanged, where the prefix map of the interop module puts it
    converted, unused = convert_hf_state_dict(model, load_file(tmp_path / "model.safetensors"))
    assert unused == []
    torch.testing.assert_close(model.state_dict(), converted, rtol=0, atol=0)

    # the head config took num_labels from the checkpoint (none was given)
    assert model.head.config.num_labels == model.config.head_config["num_labels"] == model.config.num_labels == 3


# -- base and other-task checkpoints: the backbone, and a fresh head ---------------------------------------------


@pytest.mark.parametrize(
    ("family", "head", "head_config", "ignored"),
    [
        ("roberta", "token-classification", {}, ("pooler.dense.bias", "pooler.dense.weight")),
        ("deberta", "token-classification", {}, ()),  # DebertaV2Model has no pooler
        ("bert", "sequence-classification", {"pooling": "pooler"}, ()),  # a head that pools with the base pooler
    ],
    ids=["roberta-pooler-unused", "deberta", "bert-pooler-used"],
)
def test_base_model_checkpoint_loads_the_backbone_and_leaves_the_head_fresh(tmp_path, batch, family, head, head_config, ignored):
    hf = save_hf(tmp_path, family)
    model = archit_core.build(family, head, checkpoint=tmp_path, head_config={"num_labels": 4, **head_config}).eval()
    with torch.no_grad():
        expected = hf(**batch, output_hidden_states=True)
        got = model(**batch, output_hidden_states=True)
        backbone_out = model.backbone(**batch)
    torch.testing.assert_close(got.hidden_states, expected.hidden_states)
    torch.testing.assert_close(backbone_out.last_hidden_state, expected.last_hidden_state)
    assert got.logits.shape[-1] == 4
    if "pooler" in head_config.values():
        torch.testing.assert_close(backbone_out.pooler_output, expected.pooler_output)

    report = model.loading_report
    head_keys = {k for k in model.state_dict() if k.startswith("head.")}
    assert set(report.fresh) == {"head"} and set(report.fresh["head"]) == head_keys
    assert "head" not in report.loaded
    assert set(report.loaded["backbone"]) == {f"backbone.{k}" for k in model.backbone.state_dict()}
    assert report.ignored == ignored and report.mismatched == ()
    assert report.notes == (f"head {head!r} is fresh: the checkpoint holds {type(hf).__name__}, not "
                            f"{FAMILIES[family]}For{TASKS[head]}",)


@pytest.mark.parametrize(("family", "mlm_prefix"), [("bert", "cls."), ("roberta", "lm_head.")])
def test_checkpoint_of_another_task_loads_the_backbone_only(tmp_path, batch, family, mlm_prefix):
    hf = save_hf(tmp_path, f"{family}", "ForMaskedLM")
    model = archit_core.build(family, "token-classification", checkpoint=tmp_path, head_config={"num_labels": 3})

    saved = load_file(tmp_path / "model.safetensors")
    mlm_keys = sorted(k for k in saved if k.startswith(mlm_prefix))
    assert mlm_keys
    report = model.loading_report
    assert report.ignored == tuple(mlm_keys)  # never loaded into the token classifier
    assert dict(report.fresh) == {"head": ("head.classifier.bias", "head.classifier.weight")}
    assert set(report.loaded) == {"backbone"}
    assert any(n.startswith("head 'token-classification' is fresh") and f"{type(hf).__name__}" in n for n in report.notes)
    base = getattr(hf, hf.base_model_prefix)
    torch.testing.assert_close(model.backbone.state_dict(), base.state_dict(), rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(model.eval().backbone(**batch).last_hidden_state, base(**batch).last_hidden_state)


# -- what archit saves after a Hugging Face import ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "cls_name", "head"),
    [("roberta", "ForSequenceClassification", "sequence-classification"), ("bert", "Model", "token-classification")],
    ids=["task-checkpoint", "base-checkpoint"],
)
def test_save_after_import_writes_archit_layout_that_loads_strictly(tmp_path, batch, family, cls_name, head):
    save_hf(tmp_path / "hf", family, cls_name, num_labels=3)
    model = archit_core.build(family, head, checkpoint=tmp_path / "hf", head_config={"num_labels": 3}).eval()
    model.save_pretrained(tmp_path / "archit")

    config = json.loads((tmp_path / "archit" / "config.json").read_text())
    assert (config["model_type"], config["backbone"], config["head"]) == ("archit", family, head)
    keys = set(load_file(tmp_path / "archit" / "model.safetensors"))
    assert keys == set(model.state_dict())
    assert all(k.startswith(("backbone.", "head.")) for k in keys)

    loaded = archit_core.load(tmp_path / "archit").eval()
    assert loaded.loading_report.format == "archit" and loaded.loading_report.complete
    torch.testing.assert_close(loaded.state_dict(), model.state_dict(), rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


# -- weight files ------------------------------------------------------------------------------------------------


def test_plain_tensor_bin_checkpoint_loads(tmp_path, batch):
    hf = save_hf(tmp_path, "bert", "ForTokenClassification", num_labels=3)
    (tmp_path / "model.safetensors").unlink()
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    model = archit_core.build("bert", "token-classification", checkpoint=tmp_path)
    assert model.loading_report.complete
    assert_same_outputs(model, hf, batch)


def test_sharded_safetensors_checkpoint_loads(tmp_path, batch):
    hf = save_hf(tmp_path, "roberta", "ForTokenClassification", num_labels=3, save={"max_shard_size": "20KB"})
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "model.safetensors.index.json").exists()
    assert not (tmp_path / "model.safetensors").exists()
    model = archit_core.build("roberta", "token-classification", checkpoint=tmp_path)
    assert model.loading_report.complete
    assert_same_outputs(model, hf, batch)


def test_bfloat16(tmp_path, batch):
    hf = save_hf(tmp_path, "roberta", "ForTokenClassification", num_labels=3)
    model = archit_core.build("roberta", "token-classification", checkpoint=tmp_path, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.loading_report.complete
    torch.testing.assert_close(model.head.classifier.weight, hf.classifier.weight.to(torch.bfloat16), rtol=0, atol=0)
    with torch.no_grad():
        assert model.eval()(**batch).logits.dtype == torch.bfloat16


# -- bad input: a CheckpointError that says what was wrong -------------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint '.*nowhere' does not exist; give a folder written by save_pretrained"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path / "nowhere")


def test_folder_without_weights(tmp_path):
    transformers.BertConfig(**TINY).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r"holds no weights \(model\.safetensors, .*save the model with save_pretrained first"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_safetensors(tmp_path, damage):
    save_hf(tmp_path, "bert", "ForTokenClassification", num_labels=3)
    file = tmp_path / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00garbage\xff" * 64)
    with pytest.raises(CheckpointError, match=r"holds a safetensors file that is not readable \(corrupt or truncated\?\)"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path)


class _WritesMarker:
    """Unpickling this runs ``open(path, "w")``: what a malicious ``pytorch_model.bin`` could do."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_bin_that_runs_code_when_unpickled_is_refused(tmp_path):
    hf = save_hf(tmp_path, "bert", "ForTokenClassification", num_labels=3)
    (tmp_path / "model.safetensors").unlink()
    marker = tmp_path / "code-ran"
    torch.save({**hf.state_dict(), "payload": _WritesMarker(marker)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"could not be loaded with weights_only=True .*convert the checkpoint to safetensors"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path)
    assert not marker.exists()
    torch.load(tmp_path / "pytorch_model.bin", weights_only=False)  # the control: unpickling it does run the code
    assert marker.exists()


@pytest.mark.parametrize("kind", ["backbone", "head"])
def test_archit_checkpoint_whose_plugin_is_missing_names_the_distribution(tmp_path, kind):
    archit_core.build("roberta", "token-classification", tiny=True, head_config={"num_labels": 3}).save_pretrained(tmp_path)
    file = tmp_path / "config.json"
    config = json.loads(file.read_text())
    config[kind] = "acme-thing"
    config["plugins"][kind] = {"name": "acme-thing", "plugin": "acme-thing:thing", "distribution": "acme-thing", "version": "2.1"}
    file.write_text(json.dumps(config))
    names = {"backbone": "roberta", "head": "token-classification", kind: "acme-thing"}
    with pytest.raises(MissingPluginError, match=rf"the {kind} 'acme-thing' from the distribution acme-thing 2\.1, .*Install it with `pip install acme-thing`"):
        archit_core.build(names["backbone"], names["head"], checkpoint=tmp_path)


def test_checkpoint_of_another_backbone_family(tmp_path):
    save_hf(tmp_path, "roberta", "ForTokenClassification", num_labels=3)
    with pytest.raises(CheckpointError, match=r"is a 'roberta' checkpoint, but backbone 'bert' builds 'bert' models"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path)


def test_head_size_mismatch_is_refused_unless_the_head_is_reinitialised(tmp_path, batch):
    hf = save_hf(tmp_path, "bert", "ForTokenClassification", num_labels=9)
    with pytest.raises(CheckpointError, match=r"head_config\.num_labels=5 but the checkpoint's BertForTokenClassification head has num_labels=9; pass reinit_head=True"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path, head_config={"num_labels": 5})

    model = archit_core.build("bert", "token-classification", checkpoint=tmp_path, head_config={"num_labels": 5}, reinit_head=True)
    assert model.head.classifier.weight.shape == (5, TINY["hidden_size"]) and model.config.num_labels == 5
    report = model.loading_report
    assert dict(report.fresh) == {"head": ("head.classifier.bias", "head.classifier.weight")}
    assert report.ignored == ("classifier.bias", "classifier.weight") and report.mismatched == ()
    assert report.notes == ("head 'token-classification' is fresh: reinit_head=True",)
    torch.testing.assert_close(model.backbone.state_dict(), hf.bert.state_dict(), rtol=0, atol=0)


def test_missing_backbone_weight_strict_raises_default_warns(tmp_path):
    save_hf(tmp_path, "bert", "ForTokenClassification", num_labels=3)
    weights = load_file(tmp_path / "model.safetensors")
    del weights["bert.encoder.layer.1.output.dense.weight"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    missing = "backbone.encoder.layer.1.output.dense.weight"

    with pytest.raises(CheckpointError, match=rf"1 backbone weight\(s\) were not in .*\(e\.g\. {re.escape(missing)}\).*strict=True refuses this"):
        archit_core.build("bert", "token-classification", checkpoint=tmp_path, strict=True)
    with pytest.warns(UserWarning, match=rf"1 backbone weight\(s\) were not in .* randomly initialised \(e\.g\. {re.escape(missing)}\)"):
        model = archit_core.build("bert", "token-classification", checkpoint=tmp_path)
    report = model.loading_report
    assert dict(report.fresh) == {"backbone": (missing,)}
    assert not report.complete and report.ignored == ()
    assert len(report.loaded["head"]) == 2


# Hub ids resolve the way transformers resolves them: from the Hugging Face cache (offline here). Each test writes
# a hub cache of its own and turns the network off.

HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """``snapshot(repo_id)``: the folder of ``repo_id``'s ``main`` snapshot in an offline hub cache of this test."""
    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def snapshot(repo_id: str):
        repo = cache / f"models--{repo_id.replace('/', '--')}"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(HUB_COMMIT)
        return repo / "snapshots" / HUB_COMMIT

    return snapshot


def test_hub_id_of_a_transformers_task_checkpoint(hub_cache):
    hf = save_hf(hub_cache("acme/tiny-bert-ner"), "bert", "ForTokenClassification", num_labels=3)
    model = archit_core.build("bert", "token-classification", checkpoint="acme/tiny-bert-ner")
    assert model.loading_report.complete
    batch = {"input_ids": torch.randint(5, TINY["vocab_size"], (2, 7)), "attention_mask": torch.ones(2, 7, dtype=torch.long)}
    assert_same_outputs(model, hf, batch)


def test_hub_id_of_an_archit_checkpoint_loads_and_inspects(hub_cache, capsys):
    model = archit_core.build("roberta", "sequence-classification", tiny=True, head_config={"num_labels": 2})
    model.save_pretrained(hub_cache("acme/tiny-archit"), safe_serialization=True)
    loaded = archit_core.load("acme/tiny-archit")
    ids = torch.randint(5, 100, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)
    assert main(["inspect", "acme/tiny-archit"]) == 0
    shown = capsys.readouterr().out
    assert "archit" in shown and "sequence-classification" in shown


def test_unknown_hub_id_says_what_to_do(hub_cache):
    with pytest.raises(CheckpointError, match="not a local folder.*Hugging Face Hub id.*HF_HUB_OFFLINE"):
        archit_core.build("bert", "token-classification", checkpoint="acme/no-such-model")


def test_missing_local_path_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        archit_core.load(tmp_path / "nowhere" / "model")
