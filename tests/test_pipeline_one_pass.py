"""One pipeline, one checkpoint record: a checkpoint folder is opened once per build, another head's weights are
never read, ``build_multitask`` is ``build``, and the key map, ``convert`` and ``smoke`` APIs behave as the CLI shows."""

from __future__ import annotations

import collections
import json
import warnings
from pathlib import Path

import pytest
import torch

import archit_core
from archit_core.checkpoints import folder as folder_module
from archit_core.checkpoints.folder import CheckpointFolder, open_checkpoint
from archit_core.checkpoints.keymap import KeyMap

TASKS = {"ner": ("token-classification", {"num_labels": 3}), "cls": ("sequence-classification", {"num_labels": 2})}


@pytest.fixture
def folders(tmp_path):
    """A single-head and a multi-task archit checkpoint of tiny BERTs."""
    torch.manual_seed(0)
    archit_core.build("bert", "token-classification", tiny=True).save_pretrained(tmp_path / "one")
    archit_core.build("bert", TASKS, tiny=True).save_pretrained(tmp_path / "mt")
    return tmp_path / "one", tmp_path / "mt"


@pytest.fixture
def reads(monkeypatch):
    """Counts of config.json reads, weight-file listings and tensors read by archit."""
    counts: collections.Counter = collections.Counter()
    read_text, listing, tensors = Path.read_text, folder_module._weights, CheckpointFolder.read_state_dict

    def counting_read_text(self, *args, **kwargs):
        counts["config"] += self.name == "config.json"
        return read_text(self, *args, **kwargs)

    def counting_listing(*args, **kwargs):
        counts["listings"] += 1
        return listing(*args, **kwargs)

    def counting_tensors(self, **kwargs):
        state = tensors(self, **kwargs)
        counts["tensors"] += len(state)
        return state

    monkeypatch.setattr(Path, "read_text", counting_read_text)
    monkeypatch.setattr(folder_module, "_weights", counting_listing)  # what weight_files and CheckpointFolder list with
    monkeypatch.setattr(CheckpointFolder, "read_state_dict", counting_tensors)
    return counts


@pytest.mark.parametrize("head", ["token-classification", "sequence-classification", TASKS, {"ner": "token-classification"}])
def test_a_checkpoint_is_opened_once_per_build(folders, reads, head) -> None:
    one, mt = folders
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archit_core.build("bert", head, checkpoint=mt if isinstance(head, dict) else one)
    assert reads["config"] == 1 and reads["listings"] == 1


def test_another_heads_weights_are_not_read(folders, reads) -> None:
    one, _ = folders
    with pytest.warns(UserWarning, match="own head"):
        model = archit_core.build("bert", "sequence-classification", checkpoint=one)
    head_keys = [k for k in open_checkpoint(one).keys() if k.startswith("head.")]
    reads.clear()  # the listing above counted too
    with pytest.warns(UserWarning, match="own head"):
        archit_core.build("bert", "sequence-classification", checkpoint=one)
    assert reads["tensors"] == len(open_checkpoint(one).keys()) - len(head_keys)
    assert sorted(model.loading_report.ignored) == sorted(head_keys)


def test_build_multitask_is_a_deprecated_build(folders) -> None:
    torch.manual_seed(0)
    expected = archit_core.build("bert", TASKS, tiny=True)
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match="build_multitask is deprecated"):
        model = archit_core.build_multitask("bert", TASKS, tiny=True)
    assert model.config.to_dict() == expected.config.to_dict()
    for (k, a), (_, b) in zip(model.state_dict().items(), expected.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)


def test_key_map_renames_inverts_and_feeds_transformers() -> None:
    keys = KeyMap.of({"roberta.": "backbone.", "classifier": "head.classifier"}, {r"^encoder\.x$": "backbone.x"})
    assert keys.rename("roberta.embeddings.weight") == "backbone.embeddings.weight"
    assert keys.rename("encoder.x") == "backbone.x" and keys.rename("other") is None
    assert keys.transformers_mapping() == {r"^roberta\.": "backbone.", "^classifier": "head.classifier", r"^encoder\.x$": "backbone.x"}
    with pytest.raises(ValueError, match="no inverse"):
        keys.inverse()
    back = KeyMap.of({"roberta.": "backbone.", "roberta.pooler.": "backbone.pool."}).inverse()
    assert back.rename("backbone.pool.dense") == "roberta.pooler.dense"  # the longest prefix wins
    assert back.with_default("backbone.", "x.") is back


def test_convert_is_an_api_returning_a_report(folders, tmp_path) -> None:
    one, _ = folders
    report = archit_core.convert(one, tmp_path / "hf")
    assert (report.source_format, report.hf_class, report.backbone) == ("archit", "BertForTokenClassification", "bert")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["BertForTokenClassification"]
    back = archit_core.convert(tmp_path / "hf", tmp_path / "again")
    assert back.source_format == "transformers" and back.head == "token-classification" and back.loading.complete
    with pytest.raises(archit_core.ConfigError, match="head= apply to Hugging Face sources"):
        archit_core.convert(one, tmp_path / "x", head="token-classification")


def test_smoke_runs_one_step_and_reports() -> None:
    from archit_core.model.build import smoke

    model = archit_core.build("bert", "token-classification", tiny=True)
    report = smoke(model, batch_size=2, seq_len=8)
    assert report.batch_shapes["input_ids"] == (2, 8) and report.logits_shape[:2] == (2, 8)
    assert report.loss is not None and report.with_grad == report.trainable > 0
    assert report.parameters == archit_core.summary(model)


def test_hf_layout_of_names_the_missing_layout() -> None:
    from archit_core.checkpoints.interop import hf_layout_of

    model = archit_core.build("bert", "token-classification", tiny=True)
    assert hf_layout_of(model).auto_class == "AutoModelForTokenClassification"
    assert hf_layout_of("bert", "token-classification") == hf_layout_of(model)
