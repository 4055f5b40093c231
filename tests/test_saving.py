"""Saves that cannot lose data: ``save_pretrained`` (and ``archit build --save``, ``convert``) write a temporary folder
beside the target and swap it in; another model is refused, a file is refused, other files are kept, no stale index
or old weights survive, symlinks are never written through, and readers prefer the weights transformers prefers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest
import torch
from safetensors.torch import load_file

import archit_core
from archit_core import CheckpointError
from archit_core.checkpoints import inspect_checkpoint, open_checkpoint, read_state_dict


def tagger(num_labels: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    return archit_core.build("roberta", "token-classification", head_config={"num_labels": num_labels}, tiny=True)


def snapshot(folder):
    """Every file under ``folder`` with its bytes (symlinks as their targets), to show that nothing was touched."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = ("link", os.readlink(path)) if os.path.islink(path) else open(path, "rb").read()
    return found


def leftovers(parent):
    return sorted(n for n in os.listdir(parent) if ".archit-" in n)


@pytest.fixture
def host(real_host):
    import archit_head_sequence_classification

    real_host.add(archit_head_sequence_classification, distribution="archit-head-sequence-classification", version="0.1.0")
    return real_host


def test_a_save_leaves_only_the_checkpoint(host, tmp_path):
    model = tagger()
    model.save_pretrained(tmp_path / "m")
    assert sorted(os.listdir(tmp_path)) == ["m"]
    assert sorted(os.listdir(tmp_path / "m")) == ["README.md", "config.json", "model.safetensors"]
    torch.testing.assert_close(archit_core.load(tmp_path / "m").state_dict(), model.state_dict())


def test_another_model_is_refused_and_nothing_is_touched(host, tmp_path):
    tagger().save_pretrained(tmp_path / "m")
    before = snapshot(tmp_path / "m")
    other = archit_core.build("roberta", "sequence-classification", tiny=True)
    with pytest.raises(CheckpointError, match=r"holds another model \(archit model roberta \+ token-classification\); saving "
                       r"archit model roberta \+ sequence-classification there would replace it.*overwrite=True"):
        other.save_pretrained(tmp_path / "m")
    assert snapshot(tmp_path / "m") == before and leftovers(tmp_path) == []
    other.save_pretrained(tmp_path / "m", overwrite=True)
    assert archit_core.load(tmp_path / "m").config.head == "sequence-classification"


def test_a_hugging_face_checkpoint_and_unidentified_weights_are_refused(host, tmp_path):
    model = tagger()
    model.backbone.save_pretrained(tmp_path / "hf")
    with pytest.raises(CheckpointError, match=r"holds another model \(roberta model RobertaModel\)"):
        model.save_pretrained(tmp_path / "hf")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "model.safetensors").write_bytes(b"weights of something")
    with pytest.raises(CheckpointError, match="holds another model \\(a model archit cannot identify\\)"):
        model.save_pretrained(tmp_path / "w")
    assert (tmp_path / "w" / "model.safetensors").read_bytes() == b"weights of something"


def test_a_retrained_model_of_another_size_replaces_its_earlier_checkpoint_and_other_files_stay(host, tmp_path):
    folder = tmp_path / "m"
    tagger(3).save_pretrained(folder)
    (folder / "tokenizer.json").write_text("{}")
    (folder / "checkpoint-10").mkdir()
    (folder / "checkpoint-10" / "trainer_state.json").write_text("{}")
    (folder / "vocab.txt").symlink_to(tmp_path / "elsewhere.txt")
    new = tagger(5, seed=1)
    new.save_pretrained(folder)
    assert sorted(os.listdir(folder)) == ["README.md", "checkpoint-10", "config.json", "model.safetensors", "tokenizer.json", "vocab.txt"]
    assert (folder / "checkpoint-10" / "trainer_state.json").read_text() == "{}"
    assert os.readlink(folder / "vocab.txt") == str(tmp_path / "elsewhere.txt")  # a link stays a link
    torch.testing.assert_close(archit_core.load(folder).state_dict(), new.state_dict())


def test_a_file_is_refused(host, tmp_path):
    file = tmp_path / "file"
    file.write_text("precious")
    with pytest.raises(CheckpointError, match="it is a file, not a folder"):
        tagger().save_pretrained(file)
    assert file.read_text() == "precious" and sorted(os.listdir(tmp_path)) == ["file"]


def test_build_save_onto_a_file_is_an_error_not_saved_to(tmp_path):
    file = tmp_path / "file"
    file.write_text("precious")
    done = subprocess.run([sys.executable, "-m", "archit_core.cli.main", "build", "roberta", "token-classification",
                           "--tiny", "--save", str(file)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "saved to" not in done.stdout
    assert "it is a file, not a folder" in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert file.read_text() == "precious"


def test_saving_over_a_sharded_checkpoint_keeps_no_stale_index(host, tmp_path):
    folder = tmp_path / "m"
    tagger().save_pretrained(folder, max_shard_size="100KB")
    assert (folder / "model.safetensors.index.json").exists()
    new = tagger(seed=1)
    new.save_pretrained(folder)
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model.safetensors"]
    torch.testing.assert_close(archit_core.load(folder).state_dict(), new.state_dict())


def as_sharded_bin(folder):
    """Rewrite a sharded safetensors checkpoint as the sharded ``.bin`` checkpoint of an older transformers."""
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    weight_map = {}
    shards = sorted(set(index["weight_map"].values()))
    for i, shard in enumerate(shards, 1):
        name = f"pytorch_model-{i:05d}-of-{len(shards):05d}.bin"
        part = load_file(folder / shard)
        torch.save(part, folder / name)
        weight_map.update(dict.fromkeys(part, name))
        (folder / shard).unlink()
    (folder / "model.safetensors.index.json").unlink()
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))


def test_saving_over_an_older_sharded_bin_checkpoint_reads_the_new_weights(host, tmp_path):
    folder = tmp_path / "m"
    tagger().save_pretrained(folder, max_shard_size="100KB")
    as_sharded_bin(folder)
    new = tagger(seed=5)
    new.save_pretrained(folder)
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model.safetensors"]  # the old shards are gone too
    with pytest.warns(UserWarning, match="the checkpoint's own head"):  # read by archit's reader, skipping the head
        other_head = archit_core.build("roberta", "sequence-classification", checkpoint=folder)
    torch.testing.assert_close(other_head.backbone.state_dict(), new.backbone.state_dict())
    assert inspect_checkpoint(folder, archit_core.get_host()).weights == {"format": "safetensors", "sharded": False, "files": ["model.safetensors"]}


def test_weights_are_read_in_the_order_transformers_reads_them(host, tmp_path):
    """A folder holding both a model.safetensors and an older .bin index (written by another tool) is read from the
    safetensors file by archit, as by transformers."""
    folder = tmp_path / "m"
    tagger().save_pretrained(folder, max_shard_size="100KB")
    as_sharded_bin(folder)
    new = tagger(seed=5)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in new.state_dict().items()}, folder / "model.safetensors", metadata={"format": "pt"})
    assert [f.name for f in open_checkpoint(folder).files] == ["model.safetensors"]
    by_transformers = type(new).from_pretrained(folder)
    torch.testing.assert_close(read_state_dict(folder), by_transformers.state_dict())
    torch.testing.assert_close(read_state_dict(folder), new.state_dict())


def test_a_config_symlink_is_never_written_through(host, tmp_path):
    folder = tmp_path / "m"
    tagger().save_pretrained(folder)
    outside = tmp_path / "outside.json"
    outside.write_text((folder / "config.json").read_text())
    before = outside.read_text()
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(outside)
    tagger(seed=1).save_pretrained(folder)
    assert outside.read_text() == before
    assert not (folder / "config.json").is_symlink()


def test_a_symlinked_folder_is_saved_into_the_folder_it_names(host, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    model = tagger()
    model.save_pretrained(tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real" / "model.safetensors").exists()
    assert leftovers(tmp_path) == []


def test_keywords_pass_through_to_transformers(host, tmp_path):
    model = tagger()
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    model.save_pretrained(tmp_path / "m", state_dict=state, max_shard_size="100KB")
    assert (tmp_path / "m" / "model.safetensors.index.json").exists()
    assert all(not t.any() for t in read_state_dict(tmp_path / "m").values())


def test_push_to_hub_uploads_the_saved_folder(host, tmp_path, monkeypatch):
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, exist_ok, private):
            calls.append(("create", repo_id, exist_ok, private))
            return types.SimpleNamespace(repo_id=f"me/{repo_id}")

        def upload_folder(self, repo_id, folder_path, commit_message, create_pr):
            calls.append(("upload", repo_id, sorted(os.listdir(folder_path)), commit_message, create_pr))

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    tagger().save_pretrained(tmp_path / "tagger", push_to_hub=True, commit_message="first", token="t")
    assert calls == [("token", "t"), ("create", "tagger", True, None),
                     ("upload", "me/tagger", ["README.md", "config.json", "model.safetensors"], "first", False)]


def test_standalone_writes_into_the_temporary_folder_before_the_swap(host, tmp_path, monkeypatch):
    seen = []

    def write_standalone(model, folder):
        seen.append(folder)
        assert folder.parent == tmp_path and folder.name.startswith(".m.archit-tmp-")  # not yet the target
        (folder / "modeling_archit.py").write_text("# code")

    from archit_core.checkpoints import standalone

    monkeypatch.setattr(standalone, "write_standalone", write_standalone)
    tagger().save_pretrained(tmp_path / "m", standalone=True)
    assert len(seen) == 1 and (tmp_path / "m" / "modeling_archit.py").read_text() == "# code"
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_a_failed_save_leaves_the_old_checkpoint_and_no_temporary_folder(host, tmp_path, monkeypatch):
    folder = tmp_path / "m"
    old = tagger()
    old.save_pretrained(folder)
    before = snapshot(folder)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("transformers.modeling_utils.safe_save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        tagger(seed=1).save_pretrained(folder)
    assert snapshot(folder) == before and leftovers(tmp_path) == []


def test_convert_swaps_its_folder_in(host, tmp_path):
    tagger().save_pretrained(tmp_path / "m")
    archit_core.convert(tmp_path / "m", tmp_path / "hf")
    assert sorted(os.listdir(tmp_path)) == ["hf", "m"]
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["RobertaForTokenClassification"]


def test_a_multi_task_model_is_another_model_when_its_tasks_differ(host, tmp_path):
    both = archit_core.build("roberta", {"ner": "token-classification", "cls": "sequence-classification"}, tiny=True)
    both.save_pretrained(tmp_path / "mt")
    both.save_pretrained(tmp_path / "mt")  # the same model again
    with pytest.raises(CheckpointError, match=r"tasks cls=sequence-classification, ner=token-classification\); saving "
                       r"archit model roberta \+ tasks ner=token-classification"):
        archit_core.build("roberta", {"ner": "token-classification"}, tiny=True).save_pretrained(tmp_path / "mt")


def test_a_save_by_another_rank_is_transformers_own(host, tmp_path):
    from transformers import PreTrainedModel

    model = tagger()
    model.save_pretrained(tmp_path / "m", is_main_process=False)  # in place, as every rank takes part
    PreTrainedModel.save_pretrained(model, tmp_path / "hf", is_main_process=False)
    assert sorted(os.listdir(tmp_path)) == ["hf", "m"] and sorted(os.listdir(tmp_path / "m")) == sorted(os.listdir(tmp_path / "hf"))


def test_build_save_over_another_model_needs_overwrite(tmp_path, capsys):
    """``archit build --save`` refuses a folder holding another model, and ``--overwrite`` replaces it."""
    from archit_core.cli.main import main

    folder = tmp_path / "m"
    archit_core.build("bert", "sequence-classification", tiny=True).save_pretrained(folder)
    argv = ["build", "roberta", "token-classification", "--tiny", "--save", str(folder)]
    assert main(argv) == 2 and "saved to" not in capsys.readouterr().out
    assert json.loads((folder / "config.json").read_text())["backbone"] == "bert"
    assert main([*argv, "--overwrite"]) == 0 and "saved to" in capsys.readouterr().out
    assert json.loads((folder / "config.json").read_text())["backbone"] == "roberta"
    assert main(["build", "roberta", "token-classification", "--tiny", "--overwrite"]) == 2
