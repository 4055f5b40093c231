"""Configs and specs are validated completely before anything is allocated: finite numbers, sane sizes, option values
that fit the head, duplicate keys refused, and error messages of bounded size however large (or alias-expanded) the
bad value is. Each example of the bad-input report is one test here."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import attrs
import pytest

import archit_core
from archit_core import ConfigError, check_spec
from archit_core.cli.main import main
from archit_core.parts import (
    MAX_DIMENSION,
    MAX_LABELS,
    NON_FINITE_OK,
    check_model_options,
    config_from_dict,
    construct_config,
)

SMALL = {"num_hidden_layers": 1}
BASE = {"backbone": "bert", "tiny": True, "backbone_config": SMALL}
TOKENS = {**BASE, "head": "token-classification"}
#: 318 bytes of YAML that stand for 9**9 (387 million) strings through nested aliases.
ALIAS_BOMB = ("tiny: [&a [x,x,x,x,x,x,x,x,x], "
              + ", ".join(f"&{chr(98 + i)} [{','.join('*' + chr(97 + i) for _ in range(9))}]" for i in range(8))
              + "]\nbackbone: *i\nhead: mlp\n")


def _write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- finite numbers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_masked_lm_layer_norm_eps_of_nan_or_inf_is_refused(value):
    with pytest.raises(ConfigError, match=r"head_config\.layer_norm_eps: .*finite"):
        archit_core.build("bert", "masked-lm", tiny=True, backbone_config=SMALL, head_config={"layer_norm_eps": value})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_lora_alpha_that_is_not_finite_is_refused_in_specs_and_by_rewrite(value):
    with pytest.raises(ConfigError, match=r"rewrites\[0\]\.options\.alpha: must be a finite number"):
        check_spec({**TOKENS, "rewrites": [{"rewrite": "lora", "options": {"alpha": value}}]})
    model = archit_core.build("bert", "token-classification", tiny=True, backbone_config=SMALL)
    with pytest.raises(ConfigError, match=r"alpha: must be a finite number"):
        archit_core.rewrite(model, "lora", alpha=value)


def test_every_float_field_of_every_config_must_be_finite_unless_it_says_otherwise():
    @attrs.frozen(kw_only=True)
    class Settings:
        scale: float = 1.0
        widths: tuple = (1.0, 2.0)
        clip: float = attrs.field(default=math.inf, metadata={NON_FINITE_OK: True})

    assert config_from_dict(Settings, {"clip": math.inf}).clip == math.inf
    with pytest.raises(ConfigError, match=r"^opts\.scale: must be a finite number, got nan"):
        config_from_dict(Settings, {"scale": math.nan}, where="opts")
    with pytest.raises(ConfigError, match=r"^opts\.widths: must be a finite number, got inf"):
        config_from_dict(Settings, {"widths": (1.0, math.inf)}, where="opts")
    with pytest.raises(ConfigError, match=r"scale: must be a finite number"):  # an instance made in Python too
        config_from_dict(Settings, Settings(scale=-math.inf))


@pytest.mark.parametrize("optimizer, message", [
    ({"lr": math.inf}, r"optimizer\.lr: must be a finite number > 0, got inf"),
    ({"lr": math.nan}, r"optimizer\.lr: must be a finite number > 0, got nan"),
    ({"weight_decay": math.inf}, r"optimizer\.weight_decay: must be a finite number >= 0"),
    ({"lr_multipliers": {"head": math.inf}}, r"optimizer\.lr_multipliers\.head: must be a finite number > 0"),
    ({"lr_multipliers": {"": 2}}, r"optimizer\.lr_multipliers: keys are module path prefixes"),
    ({"betas": 5}, r"optimizer\.betas: expected two numbers in \[0, 1\)"),
    ({"betas": [0.9, 2]}, r"optimizer\.betas\[1\]: must be a finite number >= 0 and < 1, got 2"),
    ({"type": "sgd", "betas": [0.9, 0.99]}, r"optimizer\.betas: SGD takes no betas"),
    ({"type": "sgd", "momentum": -1}, r"optimizer\.momentum: must be a finite number >= 0"),
    ({"type": "sgd", "momentum": math.nan}, r"optimizer\.momentum: must be a finite number >= 0"),
    ({"momentum": 0.9}, r"optimizer\.momentum: AdamW takes no momentum"),
    ({"type": ["adamw"]}, r"optimizer\.type: \['adamw'\] is not one of adamw, adam, sgd"),
])
def test_optimizer_settings_are_finite_and_fit_the_optimizer(optimizer, message):
    with pytest.raises(ConfigError, match=message):
        check_spec({**TOKENS, "optimizer": optimizer})


def test_yaml_and_json_nan_are_refused_in_spec_files(tmp_path):
    with pytest.raises(ConfigError, match=r"optimizer\.lr: must be a finite number > 0, got nan"):
        check_spec(_write(tmp_path, "backbone: bert\ntiny: true\nhead: mlp\noptimizer: {lr: .nan}\n"))
    with pytest.raises(ConfigError, match=r"NaN is not a number a spec may hold"):
        check_spec(_write(tmp_path, '{"backbone": "bert", "head": "mlp", "optimizer": {"lr": NaN}}', "spec.json"))


# -- sane sizes --------------------------------------------------------------------------------------------------
def test_num_labels_of_10_12_is_refused_before_anything_is_allocated():
    for head in ("mlp", "token-classification"):
        with pytest.raises(ConfigError, match=r"head_config\.num_labels: .*at most"):
            archit_core.build("bert", head, tiny=True, backbone_config=SMALL, head_config={"num_labels": 10**12})
    with pytest.raises(ConfigError, match=rf"head\.num_labels: 'num_labels' must be at most {MAX_LABELS:,}"):
        check_spec({**BASE, "head": {"head": "mlp", "config": {"num_labels": MAX_LABELS + 1}}})
    assert check_spec({**BASE, "head": {"head": "mlp", "config": {"num_labels": MAX_LABELS}}})


def test_widths_and_backbone_sizes_have_sane_bounds():
    with pytest.raises(ConfigError, match=r"head\.hidden: .*at most"):
        check_spec({**BASE, "head": {"head": "mlp", "config": {"hidden": [10**12]}}})
    with pytest.raises(ConfigError, match=r"rewrites\[0\]\.options\.r: .*at most"):
        check_spec({**TOKENS, "rewrites": [{"rewrite": "lora", "options": {"r": MAX_DIMENSION + 1}}]})
    with pytest.raises(ConfigError, match=r"^backbone_config\.hidden_size: must be an int in 1 \.\. "):
        check_spec({**TOKENS, "backbone_config": {"hidden_size": -1}})
    with pytest.raises(ConfigError, match=r"^backbone_config\.vocab_size: must be an int in 1 \.\. "):
        check_spec({**TOKENS, "backbone_config": {"vocab_size": 10**9}})
    assert check_spec({**TOKENS, "backbone_config": {"num_hidden_layers": 0}})  # an encoder of no layers is allowed


def test_backbone_config_type_errors_name_the_field():
    from transformers import BertConfig

    # transformers >= 5.x checks the type itself (StrictDataclassFieldValidationError); 5.0 accepts it, archit does not
    refused = r"(BertConfig refused the value: .*expected int, got str|must be an int in 1 \.\. 16,777,216, got 'x')"
    with pytest.raises(ConfigError, match=rf"^backbone_config\.hidden_size: {refused}"):
        check_spec({**TOKENS, "backbone_config": {"hidden_size": "x"}})
    with pytest.raises(ConfigError, match=rf"^backbone_config\.hidden_size: {refused}"):
        construct_config(BertConfig, {"hidden_size": "x"})
    with pytest.raises(ConfigError, match=r"^backbone_config\.hidden_act: .*(expected str|must be an activation name)"):
        construct_config(BertConfig, {"hidden_act": 5})
    assert construct_config(BertConfig, {"hidden_size": 64}).hidden_size == 64


# -- what build_from_spec would raise on, check_spec raises on -----------------------------------------------------
@pytest.mark.parametrize("spec, message", [
    ({**TOKENS, "rewrites": [{"rewrite": "lora", "targets": 5}]}, r"rewrites\[0\]\.targets: expected a list of module roles"),
    ({**TOKENS, "rewrites": [{"rewrite": "lora", "targets": [5]}]}, r"rewrites\[0\]\.targets: expected a list"),
    ({**TOKENS, "rewrites": [{"rewrite": "lora", "targets": []}]}, r"rewrites\[0\]\.targets: .*leave it out for the defaults"),
    ({**TOKENS, "rewrites": [{"rewrite": "lora", "trainable": 5}]}, r"rewrites\[0\]\.trainable: expected a list"),
    ({**TOKENS, "options": {"id2label": 5}}, r"options\.id2label: expected a mapping of class index to label name"),
    ({**TOKENS, "options": {"id2label": {"x": "a", "y": "b"}}}, r"options\.id2label: keys are class indices"),
    ({**TOKENS, "options": {"id2label": {1: "a", 2: "b"}}}, r"options\.id2label: the class indices must be 0 \.\. 1"),
    ({**TOKENS, "options": {"id2label": {0: "a", 1: 7}}}, r"options\.id2label\.1: a label name"),
    ({**TOKENS, "options": {"id2label": {0: "a", 1: "b"}, "label2id": {"x": 0, "y": 1}}}, r"options\.label2id: must be the inverse"),
    ({**TOKENS, "options": {"label2id": {"a": 0, "b": 1}}}, r"options\.label2id: give id2label with it"),
    ({**TOKENS, "options": {"problem_type": "bogus"}}, r"options\.problem_type: must be one of regression"),
    ({**TOKENS, "options": {"output_hidden_states": "yes"}}, r"options\.output_hidden_states: must be True or False"),
    ({**TOKENS, "options": {"attn_implementation": 5}}, r"options\.attn_implementation: must be a name"),
    ({**TOKENS, "tiny": "false"}, r"tiny: must be true or false, got str 'false'"),
    ({**TOKENS, "tiny": 1}, r"tiny: must be true or false, got int 1"),
    ({"backbone": "bert", "head": "mlp", "checkpoint": 5}, r"checkpoint: expected a folder or Hugging Face Hub id"),
    ({"backbone": "bert", "head": "mlp", "checkpoint": "./no/such/folder"}, r"checkpoint: the folder .* does not exist"),
    ({**BASE, "heads": {"bad name": "mlp"}}, r"task name 'bad name': use a Python identifier"),
    ({**BASE, "heads": {"a": {"head": "mlp", "loss_weight": math.inf}}}, r"heads\.a\.loss_weight: must be a finite number >= 0"),
    ({**BASE, "head": {"head": "causal-lm"}}, r"^head: head 'causal-lm' .*needs 'causal'"),
    ({**BASE, "heads": {"a": "mlp"}, "options": {"id2label": {0: "x", 1: "y"}}}, r"unknown option\(s\) 'id2label' for a multi-task build"),
])
def test_check_spec_catches_what_build_from_spec_raises_on(spec, message):
    with pytest.raises(ConfigError, match=message):
        check_spec(spec)
    with pytest.raises(ConfigError, match=message):
        archit_core.build_from_spec(spec)


def test_id2label_with_3_entries_and_num_labels_2_is_an_error():
    labels = {0: "O", 1: "PER", 2: "LOC"}
    with pytest.raises(ConfigError, match=r"options\.id2label: 3 label names for a head with num_labels=2; give num_labels=3"):
        check_spec({**TOKENS, "options": {"id2label": labels}})
    with pytest.raises(ConfigError, match=r"^id2label: 3 label names for a head with num_labels=2"):
        check_model_options({"id2label": labels}, num_labels=2)
    ok = {**BASE, "head": {"head": "token-classification", "config": {"num_labels": 3}}, "options": {"id2label": labels}}
    assert archit_core.build_from_spec(ok).config.id2label == labels
    assert check_model_options({"id2label": {"0": "O", "1": "PER"}}, num_labels=2)["id2label"] == {0: "O", 1: "PER"}  # JSON keys


@pytest.mark.parametrize("kwargs, message", [
    ({"tiny": "false"}, r"^tiny must be True or False, got 'false'"),
    ({"tiny": True, "id2label": {0: "O", 1: "PER", 2: "LOC"}}, r"^id2label: 3 label names for a head with num_labels=2"),
    ({"tiny": True, "problem_type": "bogus"}, r"^problem_type: must be one of regression"),
    ({"tiny": True, "label2id": {"O": 0, "PER": 1}}, r"^label2id: give id2label with it"),
    ({"tiny": True, "backbone_config": {"hidden_size": "x"}}, r"^backbone_config\.hidden_size: "),
])
def test_build_itself_checks_what_check_spec_checks(kwargs, message):
    """The plain Python API refuses the same bad options as specs, before anything is allocated."""
    with pytest.raises(ConfigError, match=message):
        archit_core.build("bert", "sequence-classification", **kwargs)


def test_a_checkpoint_whose_config_does_not_fit_its_weights_names_the_tensors(tmp_path):
    """transformers' size-mismatch error points at a report archit silences; archit's lists keys and both shapes."""
    archit_core.build("bert", "token-classification", tiny=True, backbone_config=SMALL).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["backbone_config"]["hidden_size"] = 48
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(archit_core.CheckpointError,
                       match=r"other shapes than the model .*word_embeddings\.weight: checkpoint \(\d+, 32\), model \(\d+, 48\)"):
        archit_core.load(tmp_path)


def test_a_checkpoint_of_another_family_is_caught_by_check_spec(tmp_path):
    import transformers

    transformers.RobertaModel(transformers.RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                         intermediate_size=32)).save_pretrained(tmp_path / "roberta")
    with pytest.raises(ConfigError, match=r"^checkpoint: .*is a 'roberta' checkpoint, but backbone 'bert' builds 'bert' models"):
        check_spec({"backbone": "bert", "head": "mlp", "checkpoint": str(tmp_path / "roberta")})
    assert check_spec({"backbone": "roberta", "head": "mlp", "checkpoint": str(tmp_path / "roberta")})


# -- duplicate keys ----------------------------------------------------------------------------------------------
def test_duplicate_yaml_keys_are_refused_with_both_lines(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)found the key 'head' twice \(first 3:1\); keep one.*line 4"):
        check_spec(_write(tmp_path, "backbone: bert\ntiny: true\nhead: mlp\nhead: token-classification\n"))
    with pytest.raises(ConfigError, match=r"found the key 'num_labels' twice"):
        check_spec(_write(tmp_path, "backbone: bert\nhead: {head: mlp, config: {num_labels: 2, num_labels: 3}}\n"))


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = _write(tmp_path, "backbone: bert\ntiny: true\nheads:\n  a: &a {head: mlp, config: {num_labels: 3}}\n"
                            "  b: {<<: *a, loss_weight: 0.5, head: mlp}\n")
    data = check_spec(path)
    assert data["heads"]["b"] == {"head": "mlp", "config": {"num_labels": 3}, "loss_weight": 0.5}


def test_duplicate_json_keys_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"the key 'head' appears twice in one object"):
        check_spec(_write(tmp_path, '{"backbone": "bert", "head": "x", "head": "mlp"}', "spec.json"))
    assert main(["build", "bert", "mlp", "--tiny", "--head-config", '{"num_labels": 2, "num_labels": 3}']) == 2


# -- bounded error messages and expansion --------------------------------------------------------------------------
def test_a_400_byte_alias_bomb_is_refused_at_once(tmp_path):
    assert len(ALIAS_BOMB) < 400
    with pytest.raises(ConfigError, match=r"more than 2,000,000 values once YAML aliases \(\*name\) are expanded"):
        check_spec(_write(tmp_path, ALIAS_BOMB))
    with pytest.raises(ConfigError, match=r"a value contains itself"):
        check_spec(_write(tmp_path, "backbone: bert\nhead: mlp\noptions: &o {id2label: *o}\n"))


def test_archit_build_of_an_alias_bomb_exits_2_without_a_traceback(tmp_path):
    path = _write(tmp_path, ALIAS_BOMB)
    result = subprocess.run([sys.executable, "-m", "archit_core.cli.main", "build", "--spec", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "YAML aliases" in result.stderr
    assert len(result.stderr) < 1000


@pytest.mark.parametrize("spec", [
    {"backbone": ["x"] * 100_000, "head": "mlp"},
    {"backbone": "bert", "head": {"head": "mlp", "config": {"activation": "x" * 100_000}}},
    {"backbone": "bert", "head": {"head": "mlp", "config": {"x" * 100_000: 1}}},
    {"backbone": "bert", "head": "mlp", "options": {"id2label": {"k" * 100_000: "a"}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"num_labels": 10**5000}}},
    {"backbone": "bert", "head": "mlp", "optimizer": {"lr": "1" * 100_000}},
])
def test_error_messages_are_bounded_in_size(spec):
    with pytest.raises(ConfigError) as caught:
        check_spec(spec)
    assert len(str(caught.value)) < 1000, str(caught.value)[:300]


def test_spec_files_that_are_not_text_or_too_deep(tmp_path):
    (tmp_path / "latin.yaml").write_bytes(b"backbone: \xff\xfe\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        check_spec(tmp_path / "latin.yaml")
    nested: list = []
    for _ in range(100):
        nested = [nested]
    with pytest.raises(ConfigError, match=r"spec: nested more than 64 levels deep"):
        check_spec(_write(tmp_path, json.dumps({"backbone": "bert", "head": "mlp", "options": {"x": nested}}), "deep.json"))
    with pytest.raises(ConfigError, match=r"spec: expected a dict, or the path of a .json, .yaml or .yml file, got int 5"):
        check_spec(5)


def test_rewrite_targets_and_trainable_must_be_names():
    model = archit_core.build("bert", "token-classification", tiny=True, backbone_config=SMALL)
    for kwargs in ({"targets": 5}, {"targets": [5]}, {"trainable": 5}, {"targets": ["attention.query", ""]}):
        with pytest.raises(ConfigError, match=rf"^{next(iter(kwargs))}: a module role or path"):
            archit_core.rewrite(model, "lora", **kwargs)


def test_sequence_classification_num_labels_is_bounded_like_every_classifier():
    with pytest.raises(ConfigError, match=r"head_config\.num_labels: .*at most 1,000,000"):
        archit_core.build("bert", "sequence-classification", tiny=True, head_config={"num_labels": 10**7})
