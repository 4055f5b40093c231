"""Checkpoints: save_pretrained -> archit_core.load and AutoModel.from_pretrained, missing plugins, build(checkpoint=),
strict loading."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import attrs
import pytest
import torch
from safetensors.torch import load_file, save_file

import archit_core
from archit_core import CheckpointError, ConfigError, MissingPluginError, PluginHost
from archit_core.testing.toys import ToyPlugin


@pytest.fixture
def saved(real_host, tmp_path, batch):
    """A tiny roberta tagger (trained one step, so no weight is at its initial value), saved to tmp_path/model."""
    torch.manual_seed(0)
    model = archit_core.build("roberta", "token-classification", head_config={"num_labels": 3}, tiny=True)
    labels = torch.tensor([[-100, 0, 1, 2, 1, 0, 2], [-100, 2, 2, 1, 0, -100, -100]])
    model(**batch, labels=labels).loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    model.eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    return model, folder


def test_load_gives_the_same_model(saved, batch):
    model, folder = saved
    loaded = archit_core.load(folder).eval()
    assert type(loaded) is type(model)
    for field in ("backbone", "head", "head_config", "plugins", "num_labels"):
        assert getattr(loaded.config, field) == getattr(model.config, field)
    bookkeeping = {"_name_or_path", "dtype"}  # transformers records where and in which dtype it loaded
    assert {k: v for k, v in loaded.config.backbone_config.to_dict().items() if k not in bookkeeping} == {
        k: v for k, v in model.config.backbone_config.to_dict().items() if k not in bookkeeping
    }
    torch.testing.assert_close(loaded.state_dict(), model.state_dict())
    torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


AUTO_SCRIPT = """
import sys
import torch
{imports}
from transformers import AutoModelForTokenClassification
model = AutoModelForTokenClassification.from_pretrained(sys.argv[1]).eval()
inputs = torch.load(sys.argv[2])
with torch.no_grad():
    logits = model(**inputs).logits
torch.save({{"class": type(model).__module__ + "." + type(model).__name__, "logits": logits}}, sys.argv[3])
"""


@pytest.mark.parametrize(
    "imports",
    ["import archit_core\nimport transformers", "import transformers\nfrom transformers import AutoConfig, AutoModelForTokenClassification\nimport archit_core"],
    ids=["archit-first", "transformers-first"],
)
def test_automodel_for_its_task_loads_an_archit_checkpoint(saved, batch, tmp_path, imports):
    model, folder = saved
    torch.save(batch, tmp_path / "inputs.pt")
    script = AUTO_SCRIPT.format(imports=imports)
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(tmp_path / "inputs.pt"), str(tmp_path / "out.pt")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = torch.load(tmp_path / "out.pt")
    assert result["class"] == "archit_core.model.modeling.ArchitForTokenClassification"
    torch.testing.assert_close(result["logits"], model(**batch).logits)


def test_automodel_without_archit_core_does_not_know_the_checkpoint(saved):
    _, folder = saved
    script = f"from transformers import AutoModel\nAutoModel.from_pretrained({str(folder)!r})"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "archit" in done.stderr  # so the tests above show what importing archit_core does


def edit_config(folder, **changes):
    file = folder / "config.json"
    config = json.loads(file.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    file.write_text(json.dumps(config))


def test_a_checkpoint_whose_backbone_plugin_is_missing_names_the_distribution_to_install(saved):
    _, folder = saved
    edit_config(folder, backbone="gpt9", plugins={"backbone": {"name": "gpt9", "plugin": "acme-gpt9:gpt9",
                                                               "distribution": "acme-gpt9", "version": "9.1"}})
    with pytest.raises(MissingPluginError, match=r"the backbone 'gpt9' from the distribution acme-gpt9 9\.1, .*Install it with `pip install acme-gpt9`"):
        archit_core.load(folder)


def test_a_host_lacking_the_head_plugin_names_the_distribution_to_install(saved):
    _, folder = saved
    host = PluginHost(allow=["archit-backbone-roberta"], strict=True)
    with pytest.raises(MissingPluginError, match=r"the head 'token-classification' from the distribution archit-head-token-classification .*Install it with `pip install archit-head-token-classification`"):
        archit_core.load(folder, host=host)


def test_build_from_a_checkpoint_with_the_same_head_loads_everything(saved):
    model, folder = saved
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = archit_core.build("roberta", "token-classification", head_config={"num_labels": 3}, checkpoint=folder)
    torch.testing.assert_close(again.state_dict(), model.state_dict())


@pytest.mark.parametrize(
    ("head", "head_config", "options"),
    [("token-classification", {"num_labels": 5}, {"reinit_head": True}), ("pooled", {"pooling": "mean"}, {})],
    ids=["same-head-reinitialised", "other-head"],
)
def test_build_from_a_checkpoint_with_another_head_loads_the_backbone_only(saved, head, head_config, options):
    model, folder = saved
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = archit_core.build("roberta", head, head_config=head_config, checkpoint=folder, **options)
    left_behind = [w for w in caught if "checkpoint's own head (2 weights" in str(w.message)]
    assert len(left_behind) == (0 if options.get("reinit_head") else 1)  # asked for a fresh head: no warning
    torch.testing.assert_close(again.backbone.state_dict(), model.backbone.state_dict())
    assert again.config.head == head
    assert again.config.head_config == archit_core.config_to_dict(again.head.config)
    assert head_config.items() <= again.config.head_config.items()
    report = again.loading_report
    assert set(report.fresh["head"]) == {k for k in again.state_dict() if k.startswith("head.")}
    assert set(report.ignored) == {k for k in model.state_dict() if k.startswith("head.")}
    assert "fresh" in report.notes[0] and "head.classifier.weight" in str(report)
    assert again.head.classifier.weight.shape != model.head.classifier.weight.shape or not torch.equal(
        again.head.classifier.weight, model.head.classifier.weight
    )


def test_build_from_a_checkpoint_refuses_a_head_size_mismatch_unless_reinitialised(saved):
    _, folder = saved
    with pytest.raises(CheckpointError, match=r"head_config\.num_labels=5 but the checkpoint's 'token-classification' head has num_labels=3; pass reinit_head=True"):
        archit_core.build("roberta", "token-classification", head_config={"num_labels": 5}, checkpoint=folder)


def test_build_from_a_checkpoint_checks_the_backbone(saved, real_host):
    _, folder = saved
    with pytest.raises(CheckpointError, match="holds the archit backbone 'roberta', not 'toy'"):
        archit_core.build("toy", "pooled", head_config={"pooling": "mean"}, checkpoint=folder)
    with pytest.raises(ConfigError, match="either checkpoint= or backbone_config="):
        archit_core.build("roberta", "token-classification", checkpoint=folder, backbone_config={"num_hidden_layers": 1})


@pytest.mark.parametrize("change", ["drop", "add"])
def test_load_is_strict(saved, change):
    _, folder = saved
    weights = load_file(folder / "model.safetensors")
    if change == "drop":
        del weights["head.classifier.bias"]
    else:
        weights["head.extra.weight"] = torch.zeros(2)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="does not load strictly") as info:
        archit_core.load(folder)
    assert ("head.classifier.bias" if change == "drop" else "head.extra.weight") in str(info.value)


def test_load_refuses_what_is_not_an_archit_checkpoint(saved, tmp_path):
    model, _ = saved
    model.backbone.save_pretrained(tmp_path / "plain")
    with pytest.raises(CheckpointError, match="is not an archit checkpoint \\(model_type='roberta'\\)"):
        archit_core.load(tmp_path / "plain")
    with pytest.raises(CheckpointError, match="does not exist"):
        archit_core.load(tmp_path / "nowhere")


# Provenance: the recorded plugins, not whichever provides the name now ------------------------------------------


def test_a_disabled_backbone_plugin_is_missing_even_though_the_generic_backbones_have_the_name(saved):
    _, folder = saved
    host = PluginHost(disable=["archit-backbone-roberta"])
    assert host.backbone("roberta").plugin.distribution == "archit-core"  # the generic provider has the name
    for attempt in (lambda: archit_core.load(folder, host=host),
                    lambda: archit_core.build("roberta", "token-classification", checkpoint=folder, host=host)):
        with pytest.raises(MissingPluginError, match=r"the backbone 'roberta' from the distribution archit-backbone-roberta "
                           r".*pip install archit-backbone-roberta.*now provided by archit-core.*providers=\{'backbone': 'archit-core'\}"):
            attempt()


def test_the_generic_provider_only_when_asked_for(saved, batch):
    model, folder = saved
    host = PluginHost(disable=["archit-backbone-roberta"])
    loaded = archit_core.load(folder, host=host, providers={"backbone": "archit-core"}).eval()
    assert loaded.config.plugins["backbone"]["distribution"] == "archit-core"  # the model now records what it uses
    torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


@pytest.mark.parametrize(("version", "warned"), [("99.0", True), ("0.0.1", False)])
def test_a_checkpoint_from_a_newer_plugin_version_is_a_warning_naming_both(saved, version, warned):
    _, folder = saved
    installed = json.loads((folder / "config.json").read_text())["plugins"]["backbone"]["version"]
    edit_config(folder, plugins={"backbone": {**json.loads((folder / "config.json").read_text())["plugins"]["backbone"], "version": version}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        archit_core.load(folder)
    messages = {str(w.message) for w in caught if issubclass(w.category, archit_core.ArchitPluginWarning)}
    expected = (f"this model's backbone 'roberta' was saved by archit-backbone-roberta {version}, newer than the installed "
                f"{installed}")
    assert any(m.startswith(expected) for m in messages) == warned, messages


# Every fresh parameter initialised -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CRFConfig(archit_core.HeadConfig):
    num_labels: int = attrs.field(default=3, validator=archit_core.positive)


class CRFHead(archit_core.Head):
    """A tagger with a plain ``nn.Parameter`` (a CRF's transition matrix) and a constant non-persistent buffer, both
    set in ``__init__``: no init rule of transformers knows them."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.classifier = torch.nn.Linear(backbone.hidden_size, config.num_labels)
        self.transitions = torch.nn.Parameter(torch.full((config.num_labels, config.num_labels), 0.5))
        self.register_buffer("allowed", torch.ones(config.num_labels), persistent=False)

    def forward(self, features, labels=None, **inputs):
        return archit_core.HeadOutput(logits=self.classifier(features.token_states) + self.transitions[0] * self.allowed)


@pytest.fixture
def crf_host(real_host):
    real_host.add(ToyPlugin(heads={"crf": archit_core.HeadSpec(module=CRFHead, config_class=CRFConfig)}), name="crf",
                  distribution="archit-test-crf", version="0.1")
    return real_host


def test_a_plain_parameter_of_a_fresh_head_gets_its_constructor_value_when_loading(crf_host, tmp_path):
    tagger = archit_core.build("roberta", "token-classification", tiny=True)
    tagger.backbone.save_pretrained(tmp_path / "base")
    for checkpoint in (tmp_path / "base", None):
        model = archit_core.build("roberta", "crf", checkpoint=checkpoint, **({} if checkpoint else {"tiny": True}))
        assert torch.equal(model.head.transitions, torch.full((3, 3), 0.5))  # never uninitialised memory
        assert torch.equal(model.head.allowed, torch.ones(3))
    model = archit_core.build("roberta", "crf", checkpoint=tmp_path / "base")
    report = model.loading_report
    assert report.initialised == {"head.classifier.bias": "transformers' default init",
                                  "head.classifier.weight": "transformers' default init",
                                  "head.transitions": "its module's constructor, rebuilt on the CPU"}
    assert "fresh: head.transitions (its module's constructor, rebuilt on the CPU)" in str(report)
    with torch.no_grad():
        model.head.transitions.fill_(2.0)
    model.save_pretrained(tmp_path / "crf")
    loaded = archit_core.load(tmp_path / "crf")
    assert torch.equal(loaded.head.transitions, torch.full((3, 3), 2.0))  # loaded values are never rebuilt over
    assert torch.equal(loaded.head.allowed, torch.ones(3))


def test_fresh_backbone_weights_are_reported_as_the_backbone_models_own_init(saved, tmp_path):
    model, folder = saved
    weights = load_file(folder / "model.safetensors")
    del weights["backbone.embeddings.LayerNorm.weight"]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.warns(UserWarning, match="1 backbone weight"):
        again = archit_core.build("roberta", "pooled", head_config={"pooling": "mean"}, checkpoint=folder)
    assert again.loading_report.initialised["backbone.embeddings.LayerNorm.weight"] == "the backbone model's own initialisation"
