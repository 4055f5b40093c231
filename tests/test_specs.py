"""Whole models from specs (dict, JSON, YAML): what they build, the optimizer they describe, the JSON Schema of the
installed plugins, and an error that names the place in the spec for everything a spec can get wrong."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import torch

import archit_core
from archit_core import ConfigError
from archit_core.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "specs" / "multitask.yaml"
SMALL = {"num_hidden_layers": 1}


def test_a_single_head_spec_builds_what_build_builds(tmp_path):
    spec = {"backbone": "roberta", "tiny": True, "backbone_config": SMALL,
            "head": {"head": "token-classification", "config": {"num_labels": 4}}, "options": {"id2label": {0: "O", 1: "A", 2: "B", 3: "C"}}}
    torch.manual_seed(0)
    from_spec = archit_core.build_from_spec(spec)
    torch.manual_seed(0)
    direct = archit_core.build("roberta", "token-classification", tiny=True, backbone_config=SMALL, head_config={"num_labels": 4})
    assert from_spec.config.to_dict()["head_config"] == direct.config.to_dict()["head_config"]
    assert from_spec.config.id2label[3] == "C"
    for (name, a), b in zip(from_spec.state_dict().items(), direct.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert archit_core.build_from_spec(tmp_path / "spec.json").config.head_config == from_spec.config.head_config


def test_the_example_yaml_spec_builds_a_multitask_lora_model_and_its_optimizer():
    model = archit_core.build_from_spec(EXAMPLE)
    assert model.config.heads is not None and set(model.head.heads) == {"ner", "sentiment"}
    assert [m["rewrite"] for m in archit_core.rewrites_of(model)] == ["lora"]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    optimizer = archit_core.build_optimizer(EXAMPLE, model)
    assert isinstance(optimizer, torch.optim.AdamW)
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optimizer.param_groups:
        for p in group["params"]:
            expected_lr = 1e-3 if names[id(p)].startswith("head.") else 1e-4
            assert group["lr"] == pytest.approx(expected_lr), names[id(p)]
            assert group["weight_decay"] == (0.01 if p.ndim > 1 else 0.0), names[id(p)]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(trainable)


def test_archit_build_runs_the_main_job_from_a_spec(capsys):
    assert main(["build", "--spec", str(EXAMPLE)]) == 0
    shown = capsys.readouterr().out
    assert "heads ner: 'token-classification' (loss weight 1.0), sentiment: 'mlp' (loss weight 0.5)" in shown
    assert 'rewrite: lora {"r": 4, "alpha": 8.0, "dropout": 0.0, "adapter": "default"} on 4 modules' in shown
    assert "MultiTaskHead" in shown and "loss:" in shown
    assert main(["build", "bert", "--spec", str(EXAMPLE)]) == 2
    assert "drop BACKBONE" in capsys.readouterr().err


def test_the_schema_describes_the_installed_plugins_and_accepts_the_example(capsys):
    import yaml

    assert main(["spec-schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(yaml.safe_load(EXAMPLE.read_text()))
    heads = schema["properties"]["heads"]["additionalProperties"]["oneOf"]
    token = next(h for h in heads if h.get("properties", {}).get("head", {}).get("const") == "token-classification")
    assert token["properties"]["config"]["properties"]["num_labels"] == {"type": "integer", "default": 2, "minimum": 1, "maximum": 1_000_000}
    mlp = next(h for h in heads if h.get("properties", {}).get("head", {}).get("const") == "mlp")
    assert mlp["properties"]["config"]["properties"]["activation"]["enum"] == ["gelu", "relu", "tanh", "silu"]
    bad = {"backbone": "bert", "heads": {"x": {"head": "mlp", "config": {"activation": "swish"}}}}
    assert not validator.is_valid(bad)


BASE = {"backbone": "bert", "tiny": True, "head": "token-classification"}


@pytest.mark.parametrize("spec, message", [
    ({"tiny": True, "head": "token-classification"}, r"spec: 'backbone' is required"),
    ({**BASE, "hedas": {}}, r"hedas: unknown key; did you mean 'heads'\?"),
    ({**BASE, "heads": {"a": "mlp"}}, r"exactly one of 'head' .* or 'heads'"),
    ({"backbone": "bert", "heads": {"ner": {"head": "token-classification", "config": {"num_labels": 0}}}}, r"heads\.ner\.num_labels: .*must be > 0"),
    ({"backbone": "bert", "heads": {"ner": {"head": "token-clasification"}}}, r"heads\.ner\.head: .*Did you mean 'token-classification'"),
    ({"backbone": "bert", "heads": {"ner": {"head": "mlp", "loss_weight": -1}}}, r"heads\.ner\.loss_weight: must be a finite number >= 0"),
    ({"backbone": "bert", "heads": {"ner": {"head": "mlp", "wieght": 1}}}, r"heads\.ner\.wieght: unknown key"),
    ({"backbone": "bret", "head": "mlp"}, r"backbone: .*Did you mean 'bert'"),
    ({**BASE, "backbone_config": {"num_layers_hidden": 2}}, r"backbone_config\.num_layers_hidden: .*no field"),
    ({**BASE, "checkpoint": "x", "backbone_config": {}}, r"'checkpoint' or 'backbone_config', not both"),
    ({**BASE, "rewrites": [{"rewrite": "lora", "options": {"r": 0}}]}, r"rewrites\[0\]\.options\.r: .*must be > 0"),
    ({**BASE, "rewrites": ["lora", {"rewrite": "lorra"}]}, r"rewrites\[1\]\.rewrite: .*lora"),
    ({**BASE, "rewrites": [{"rewrite": "lora", "targets": ["attention.qeury"]}]}, r"rewrites\[0\]: .*'attention.qeury' matches no module"),
    ({**BASE, "rewrites": {"rewrite": "lora"}}, r"rewrites: expected a list"),
    ({**BASE, "optimizer": {"type": "adamax"}}, r"optimizer\.type: 'adamax' is not one of adamw, adam, sgd"),
    ({**BASE, "optimizer": {"lr": 0}}, r"optimizer\.lr: must be a finite number > 0"),
    ({**BASE, "optimizer": {"lr_multipliers": {"head": -2}}}, r"optimizer\.lr_multipliers\.head: must be a finite number > 0"),
    ({**BASE, "options": {"id2labels": {}}}, r"options\.id2labels: unknown key; did you mean 'id2label'"),
])
def test_errors_name_the_place_in_the_spec(spec, message):
    with pytest.raises(ConfigError, match=message):
        archit_core.build_from_spec(spec)


def test_optimizer_errors_that_need_the_model():
    model = archit_core.build("bert", "token-classification", tiny=True, backbone_config=SMALL)
    with pytest.raises(ConfigError, match=r"optimizer\.lr_multipliers\.haed: matches no trainable parameter"):
        archit_core.build_optimizer({"backbone": "bert", "optimizer": {"lr_multipliers": {"haed": 2}}}, model)
    sgd = archit_core.build_optimizer({"type": "sgd", "lr": 0.1, "momentum": 0.9}, model)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9


def test_spec_files_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        archit_core.build_from_spec(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("backbone: bert\nheads: [unclosed\n")
    with pytest.raises(ConfigError, match="(?s)is not valid YAML.*line 2"):
        archit_core.build_from_spec(tmp_path / "bad.yaml")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        archit_core.build_from_spec(tmp_path / "list.json")
    (tmp_path / "spec.toml").write_text("")
    with pytest.raises(ConfigError, match="unknown format '.toml'"):
        archit_core.build_from_spec(tmp_path / "spec.toml")


def test_a_spec_with_a_checkpoint_loads_its_backbone(tmp_path):
    import transformers

    torch.manual_seed(0)
    base = transformers.BertModel(transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1,
                                                          num_attention_heads=4, intermediate_size=64), add_pooling_layer=False)
    base.save_pretrained(tmp_path / "bert")
    model = archit_core.build_from_spec({"backbone": "bert", "checkpoint": str(tmp_path / "bert"),
                                         "head": {"head": "mlp", "config": {"num_labels": 2}}})
    assert not model.loading_report.fresh.get("backbone")
    for name, value in base.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[name], value, msg=name)


def test_yaml_exponent_floats_are_numbers(tmp_path):
    (tmp_path / "spec.yaml").write_text("backbone: bert\ntiny: true\nhead: mlp\noptimizer: {lr: 5e-5, weight_decay: 1e-2}\n")
    model = archit_core.build_from_spec(tmp_path / "spec.yaml")
    optimizer = archit_core.build_optimizer(tmp_path / "spec.yaml", model)
    assert {g["lr"] for g in optimizer.param_groups} == {5e-5}
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.01, 0.0}
