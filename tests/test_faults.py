"""Fault injection: a save killed (SIGKILL) at each point, concurrent saves to one folder, hostile checkpoint files
(symlinks, shard paths out of the folder, corrupt or truncated weights, malformed indexes and configs) and inputs
that would take unbounded memory (``num_labels=10**12``). Each ends in the old or the new checkpoint, or in an
``ArchitError`` raised before anything is allocated. Runs in well under a minute on two cores."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tracemalloc

import pytest
import torch

import archit_core
from archit_core import CheckpointError, ConfigError
from archit_core.checkpoints import clear_leftovers, inspect_checkpoint, open_checkpoint, read_state_dict

#: A child process that saves a new model (5 labels, seed 1) over the target after saving it untouched to a reference
#: folder, with the fault of its first argument injected: it kills itself (SIGKILL) at that point of the save.
CHILD = r"""
import os, shutil, signal, sys
import torch
import archit_core
from archit_core.checkpoints import saving

point, target, reference = sys.argv[1:4]
torch.manual_seed(1)
model = archit_core.build("roberta", "token-classification", head_config={"num_labels": 5}, tiny=True)
model.save_pretrained(reference)

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "weights":  # half of the weights file written
    import transformers.modeling_utils as modeling_utils
    write = modeling_utils.safe_save_file
    def half(tensors, filename, metadata=None):
        write(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:
            f.truncate(os.path.getsize(filename) // 2)
        die()
    modeling_utils.safe_save_file = half
elif point == "swap":  # everything written and flushed, not yet swapped in
    saving.swap = die
elif point == "cleanup":  # swapped in, the old folder not yet removed
    shutil.rmtree = die
elif point == "between-renames":  # a filesystem without atomic exchange: old folder moved aside, new not yet in place
    saving._exchange = lambda a, b: False
    rename = os.rename
    def rename_then_die(a, b):
        rename(a, b)
        die()
    os.rename = rename_then_die
if sys.argv[4:] == ["cli"]:
    from archit_core.cli.main import main
    main(["build", "roberta", "token-classification", "--tiny", "--save", target])
else:
    model.save_pretrained(target)
print("the save was not interrupted")
"""


def tagger(num_labels: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    return archit_core.build("roberta", "token-classification", head_config={"num_labels": num_labels}, tiny=True)


def leftovers(parent):
    return sorted(n for n in os.listdir(parent) if ".archit-" in n)


def state(folder):
    return archit_core.load(folder).state_dict()


@pytest.fixture(scope="module")
def old_checkpoint(tmp_path_factory):
    """A 3-label tagger's checkpoint (the one a killed save must not lose), and its state dict."""
    folder = tmp_path_factory.mktemp("old") / "model"
    model = tagger()
    model.save_pretrained(folder)
    return folder, model.state_dict()


def kill_during_save(point, tmp_path, old_checkpoint, *extra):
    old_folder, _ = old_checkpoint
    target = tmp_path / "model"
    shutil.copytree(old_folder, target)
    done = subprocess.run([sys.executable, "-c", CHILD, point, str(target), str(tmp_path / "reference"), *extra],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr[-3000:]
    return target


@pytest.mark.parametrize("point", ["weights", "swap", "cleanup"])
def test_a_save_killed_at_any_point_leaves_the_old_or_the_new_checkpoint(point, tmp_path, old_checkpoint):
    target = kill_during_save(point, tmp_path, old_checkpoint)
    expected = old_checkpoint[1] if point != "cleanup" else state(tmp_path / "reference")
    torch.testing.assert_close(state(target), expected)
    assert leftovers(tmp_path)  # the killed process's temporary folder (or old folder) ...
    tagger(seed=2).save_pretrained(target)  # ... is cleared by the next save beside it
    assert leftovers(tmp_path) == []


def test_a_killed_archit_build_save_leaves_the_old_checkpoint(tmp_path, old_checkpoint):
    target = kill_during_save("swap", tmp_path, old_checkpoint, "cli")
    torch.testing.assert_close(state(target), old_checkpoint[1])


def test_without_atomic_exchange_a_killed_save_is_recovered(tmp_path, old_checkpoint):
    target = kill_during_save("between-renames", tmp_path, old_checkpoint)
    with pytest.raises(CheckpointError, match="a save to it was interrupted between its two renames.*the previous checkpoint is intact"):
        archit_core.load(target)
    clear_leftovers(target)  # what the next save does first
    torch.testing.assert_close(state(target), old_checkpoint[1])


def _save_many(folder, seed, start):
    start.wait()
    model = tagger(seed=seed)
    for _ in range(3):
        model.save_pretrained(folder)


def test_concurrent_saves_to_one_folder_end_in_one_whole_checkpoint(tmp_path):
    folder = tmp_path / "model"
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [context.Process(target=_save_many, args=(folder, seed, start)) for seed in (10, 11)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(300)
    assert [w.exitcode for w in workers] == [0, 0]
    saved = state(folder)
    candidates = [tagger(seed=seed).state_dict() for seed in (10, 11)]
    assert sum(all(torch.equal(saved[k], c[k]) for k in c) for c in candidates) == 1
    assert sorted(os.listdir(tmp_path)) == ["model"]


# Hostile files --------------------------------------------------------------------------------------------------


@pytest.fixture
def sharded(tmp_path):
    folder = tmp_path / "ck"
    tagger().save_pretrained(folder, max_shard_size="100KB")
    return folder, json.loads((folder / "model.safetensors.index.json").read_text())


def write_index(folder, index):
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("where", ["parent", "absolute"])
def test_a_shard_path_out_of_the_folder_is_refused(sharded, tmp_path, where):
    folder, index = sharded
    first = sorted(set(index["weight_map"].values()))[0]
    (tmp_path / "outside").mkdir()
    shutil.copy(folder / first, tmp_path / "outside" / "evil.safetensors")
    escape = "../outside/evil.safetensors" if where == "parent" else str(tmp_path / "outside" / "evil.safetensors")
    write_index(folder, {**index, "weight_map": {k: escape if v == first else v for k, v in index["weight_map"].items()}})
    for read in (open_checkpoint, archit_core.load, lambda f: archit_core.build("roberta", "token-classification", checkpoint=f),
                 lambda f: inspect_checkpoint(f, archit_core.get_host())):
        with pytest.raises(CheckpointError, match="which is outside the checkpoint folder"):
            read(folder)


@pytest.mark.parametrize(("index", "message"), [
    ("{not json", "is not a valid shard index"),
    ({"weight_map": ["a", "b"]}, "its weight_map must map tensor names to file names"),
    ({"weight_map": {"backbone.x": 5}}, "its weight_map must map tensor names to file names"),
    ({"weight_map": {"backbone.x": "model-00009-of-00009.safetensors"}}, "names shards that are missing"),
    ([1, 2], "is not a valid shard index"),
])
def test_a_malformed_shard_index_is_a_checkpoint_error(sharded, index, message):
    folder, _ = sharded
    (folder / "model.safetensors.index.json").write_text(index if isinstance(index, str) else json.dumps(index))
    with pytest.raises(CheckpointError, match=message):
        archit_core.load(folder)


def corrupt_header(file):
    data = bytearray(file.read_bytes())
    data[8:20] = b"\xff" * 12
    file.write_bytes(bytes(data))


def truncate(file):
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def huge_header(file):
    data = bytearray(file.read_bytes())
    data[:8] = (2**62).to_bytes(8, "little")
    file.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [corrupt_header, truncate, huge_header])
def test_damaged_safetensors_are_checkpoint_errors(tmp_path, damage):
    folder = tmp_path / "ck"
    tagger().save_pretrained(folder)
    damage(folder / "model.safetensors")
    for read in (archit_core.load, read_state_dict, lambda f: inspect_checkpoint(f, archit_core.get_host()),
                 lambda f: archit_core.build("roberta", "sequence-classification", checkpoint=f)):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            read(folder)


def test_a_truncated_bin_is_a_checkpoint_error(tmp_path):
    folder = tmp_path / "ck"
    tagger().backbone.save_pretrained(folder)
    weights = read_state_dict(folder)
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    truncate(folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError):
        archit_core.build("roberta", "token-classification", checkpoint=folder)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_state_dict(folder)


@pytest.mark.parametrize(("config", "message"), [
    ("{", "is not valid JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
    (json.dumps({"model_type": "roberta", "num_labels": 10**12}), r"num_labels must be an int in 1 \.\. 1,000,000"),
    (json.dumps({"model_type": "roberta", "num_labels": "many"}), "num_labels must be an int"),
    (json.dumps({"model_type": "archit", "backbone_config": {"num_labels": 10**12}}), "num_labels must be an int"),
])
def test_a_hostile_config_is_refused_before_anything_is_built(tmp_path, config, message):
    folder = tmp_path / "ck"
    tagger().backbone.save_pretrained(folder)
    (folder / "config.json").write_text(config)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=message):
            archit_core.build("roberta", "token-classification", checkpoint=folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_a_config_symlink_out_of_the_folder_is_only_read(tmp_path):
    folder = tmp_path / "ck"
    model = tagger()
    model.save_pretrained(folder)
    outside = tmp_path / "outside.json"
    shutil.move(folder / "config.json", outside)
    (folder / "config.json").symlink_to(outside)
    before = outside.read_bytes()
    torch.testing.assert_close(state(folder), model.state_dict())  # reading through it is fine (hub caches do)
    tagger(seed=3).save_pretrained(folder)  # writing never goes through it
    assert outside.read_bytes() == before and not (folder / "config.json").is_symlink()


# Bounded memory ----------------------------------------------------------------------------------------------------


def _model_config(**options):
    from archit_core.model.config import ArchitConfig

    return ArchitConfig(**options)


@pytest.mark.parametrize("make", [
    lambda: archit_core.build("roberta", "token-classification", head_config={"num_labels": 10**12}, tiny=True),
    lambda: _model_config(num_labels=10**12),
    lambda: _model_config(id2label={i: str(i) for i in range(1_000_001)}),
], ids=["head-config", "model-config", "model-config-id2label"])
def test_num_labels_10_12_is_an_error_before_allocation(make):
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="num_labels|id2label"):
            make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20  # a 10**12-entry id2label would need terabytes


def test_a_parent_that_takes_no_new_folder_is_a_checkpoint_error(tmp_path):
    (tmp_path / "file").write_text("precious")  # a file where the parent folder should be
    with pytest.raises(CheckpointError, match="does not take a new folder"):
        tagger().save_pretrained(tmp_path / "file" / "m")
    assert (tmp_path / "file").read_text() == "precious" and sorted(os.listdir(tmp_path)) == ["file"]
