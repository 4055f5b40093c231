"""One error surface: every error a user can cause is an ``ArchitError`` subclass that says where and what to do; the
CLI prints it as one paragraph and exits 2, never with a traceback; a plugin author's mistake names the plugin and the
rule it broke. The sweep at the end runs many bad inputs through the API and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import attrs
import pytest

import archit_core
from archit_core import ArchitError, ConfigError, HeadConfig, HeadSpec, PluginError, PluginHost, hookimpl
from archit_core.cli.main import main
from archit_core.testing.toys import POOLED, ToyBackbone, ToyPlugin

SMALL = {"num_hidden_layers": 1}


def _host(*plugins: tuple[object, str], strict: bool = True) -> PluginHost:
    host = PluginHost(entry_points=False, strict=strict)
    for plugin, name in plugins:
        host.add(plugin, name=name, distribution=f"archit-{name}", version="0.1")
    return host


class NotAttrs:
    def __init__(self, **kwargs: object) -> None:
        pass


@attrs.frozen(kw_only=True)
class StringNeeds(HeadConfig):
    def needs(self):  # the plugin author's mistake: a string, not a set of names
        return "token_states"


class StringRewrite:
    @hookimpl
    def rewrite_module(self, registry):
        registry.add_rewrite("shout", "mypkg.rewrites:shout")


class RaisingResolver:
    description = "any name, badly"

    def resolve(self, name):
        raise RuntimeError("resolver broke")

    def names(self):
        return []


class ResolverPlugin:
    def __init__(self, resolver: object) -> None:
        self.resolver = resolver

    @hookimpl
    def provide_backbone(self, registry):
        registry.add_backbone_resolver(self.resolver)


# -- plugin authors' mistakes name the plugin and the rule -----------------------------------------------------------
def test_a_head_config_that_is_not_an_attrs_class_names_the_plugin_and_the_rule():
    host = _host((ToyPlugin(heads={"bad": HeadSpec(module=POOLED.module, config_class=NotAttrs)}), "badhead"))
    with pytest.raises(PluginError, match=r"archit-badhead 0\.1 is broken: provide_head raised TypeError: archit-badhead 0\.1: the "
                                          r"config_class of head 'bad' must be an attrs class \(decorate it with @attrs\.frozen"):
        host.registry  # noqa: B018 - collecting registers the plugin's names


def test_a_broken_head_plugin_is_isolated_and_named_when_its_head_is_asked_for():
    host = _host((ToyPlugin(backbones={"toy": ToyBackbone()}), "toys"),
                 (ToyPlugin(heads={"bad": HeadSpec(module=POOLED.module, config_class=NotAttrs)}), "badhead"), strict=False)
    with pytest.warns(archit_core.ArchitPluginWarning, match="must be an attrs class"):
        host.registry  # noqa: B018
    with pytest.raises(archit_core.UnknownNameError, match=r"Plugin archit-badhead 0\.1 failed to load .*must be an attrs class"):
        archit_core.build("toy", "bad", host=host)


def test_a_module_reference_that_is_not_package_module_attr_is_refused_at_registration():
    host = _host((ToyPlugin(heads={"bad": HeadSpec(module="mypkg.heads.Tagger", config_class=POOLED.config_class)}), "badref"))
    with pytest.raises(PluginError, match=r"the module of head 'bad' must be 'package\.module:attribute'"):
        host.registry  # noqa: B018


def test_head_inputs_given_as_a_string_are_refused_at_registration():
    spec = HeadSpec(module=POOLED.module, config_class=POOLED.config_class, inputs="word_ids")
    with pytest.raises(PluginError, match=r"the inputs of head 'bad' must be a tuple of keyword names such as \('word_ids',\), got 'word_ids'"):
        _host((ToyPlugin(heads={"bad": spec}), "badinputs")).registry  # noqa: B018


def test_the_command_bounds_the_message_it_prints(monkeypatch, capsys):
    from archit_core.cli import main as cli

    def huge(*args, **kwargs):
        raise ArchitError("x" * 100_000)

    monkeypatch.setattr(cli, "inspect_checkpoint", huge)
    assert main(["inspect", "."]) == 2
    err = capsys.readouterr().err
    assert len(err) < 8200 and err.rstrip().endswith("(92,000 more characters)")


def test_a_rewrite_registered_as_a_string_names_the_plugin():
    with pytest.raises(PluginError, match=r"archit-strings 0\.1: rewrite 'shout' must be an archit_core\.RewriteSpec, got str"):
        _host((StringRewrite(), "strings")).registry  # noqa: B018


def test_needs_returning_a_string_names_the_config_class_and_the_rule():
    host = _host((ToyPlugin(backbones={"toy": ToyBackbone()}, heads={"bad": HeadSpec(module=POOLED.module, config_class=StringNeeds)}), "toys"))
    with pytest.raises(PluginError, match=r"test_errors\.StringNeeds\.needs\(\) must return a set of capability names .*got 'token_states'"):
        archit_core.build("toy", "bad", host=host)


def test_a_resolver_that_raises_names_its_plugin():
    host = _host((ResolverPlugin(RaisingResolver()), "resolve"))
    with pytest.raises(PluginError, match=r"the backbone resolver of plugin archit-resolve 0\.1 raised RuntimeError: resolver broke "
                                          r"while resolving 'anything'.*ARCHIT_DISABLE_PLUGINS=archit-resolve"):
        host.backbone("anything")


def test_a_resolver_without_its_methods_is_refused_at_registration():
    with pytest.raises(PluginError, match=r"a backbone resolver needs resolve\(name\), names\(\) and a description string; str lacks resolve, names"):
        _host((ResolverPlugin("not a resolver"), "resolve")).registry  # noqa: B018


def test_an_allowlist_given_as_one_string_is_refused_not_read_as_letters():
    with pytest.raises(ConfigError, match=r"PluginHost\(allow=\.\.\.\) takes a list .*did you mean \['archit-backbone-bert'\]\?"):
        PluginHost(allow="archit-backbone-bert")
    with pytest.raises(ConfigError, match=r"PluginHost\(disable=\.\.\.\) takes a list"):
        PluginHost(entry_points=False, disable=[3])


def test_a_name_that_is_not_a_string_is_a_config_error():
    for bad in (5, "", ["bert"]):
        with pytest.raises(ConfigError, match=r"a backbone name is a non-empty string such as 'bert'"):
            archit_core.build(bad, "mlp", tiny=True)
    with pytest.raises(ConfigError, match=r"a rewrite name is a non-empty string such as 'lora'"):
        archit_core.get_host().rewrite(3)


# -- one error surface -----------------------------------------------------------------------------------------------
def test_every_archit_error_is_an_archit_error_subclass():
    for cls in (ConfigError, PluginError, archit_core.PluginConflictError, archit_core.UnknownNameError,
                archit_core.MissingPluginError, archit_core.IncompatibleHeadError, archit_core.CheckpointError,
                archit_core.DeclarationError):
        assert issubclass(cls, ArchitError)
    assert issubclass(ConfigError, ValueError)  # code that caught ValueError keeps working


BAD_SPECS = [
    {"tiny": True, "head": "mlp"},
    {"backbone": 5, "head": "mlp"},
    {"backbone": "bret", "head": "mlp"},
    {"backbone": "bert", "head": "mlp", "tiny": "false"},
    {"backbone": "bert", "head": "mlp", "tiny": [1]},
    {"backbone": "bert", "tiny": True},
    {"backbone": "bert", "tiny": True, "head": "mlp", "heads": {"a": "mlp"}},
    {"backbone": "bert", "tiny": True, "head": 5},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": 5}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"num_labels": 0}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"num_labels": 10**12}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"num_labels": "2"}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"dropout": 1.5}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"hidden": "64"}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "mlp", "config": {"activation": "swish"}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "masked-lm", "config": {"layer_norm_eps": -1}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "masked-lm", "config": {"tie_word_embeddings": "yes"}}},
    {"backbone": "bert", "tiny": True, "head": {"head": "causal-lm"}},
    {"backbone": "bert", "tiny": True, "heads": {}},
    {"backbone": "bert", "tiny": True, "heads": {"a": {"head": "mlp", "loss_weight": -1}}},
    {"backbone": "bert", "tiny": True, "heads": {"labels": "mlp"}},
    {"backbone": "bert", "tiny": True, "heads": {"1a": "mlp"}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "backbone_config": 5},
    {"backbone": "bert", "tiny": True, "head": "mlp", "backbone_config": {"hidden_sise": 8}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "backbone_config": {"hidden_size": "x"}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "backbone_config": {"hidden_act": 5}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "backbone_config": {"hidden_size": 0}},
    {"backbone": "bert", "head": "mlp", "checkpoint": "./missing/folder", "backbone_config": {}},
    {"backbone": "bert", "head": "mlp", "checkpoint": "./missing/folder"},
    {"backbone": "bert", "head": "mlp", "checkpoint": 7},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": {"rewrite": "lora"}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": [5]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": ["lorra"]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": [{"rewrite": "lora", "options": {"r": -1}}]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": [{"rewrite": "lora", "options": {"alpha": "many"}}]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": [{"rewrite": "lora", "targets": 5}]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": [{"rewrite": "lora", "targets": ["attention.qeury"]}]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "rewrites": [{"rewrite": "lora", "trainable": ["haed"]}]},
    {"backbone": "bert", "tiny": True, "head": "mlp", "optimizer": {"lr": -1}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "optimizer": {"lr": "fast"}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "optimizer": {"type": "lion"}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "optimizer": {"betas": [0.9]}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "optimizer": 5},
    {"backbone": "bert", "tiny": True, "head": "mlp", "options": 5},
    {"backbone": "bert", "tiny": True, "head": "mlp", "options": {"num_labels": 3}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "options": {"id2label": 5}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "options": {"id2label": {0: "a", 1: "b", 2: "c"}}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "options": {"id2label": []}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "options": {"problem_type": 5}},
    {"backbone": "bert", "tiny": True, "head": "mlp", "extra": 1},
]


@pytest.mark.parametrize("spec", BAD_SPECS, ids=[f"spec{i}" for i in range(len(BAD_SPECS))])
def test_bad_specs_are_archit_errors_from_check_spec_build_from_spec_and_the_cli(spec, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchitError) as checked:
        archit_core.check_spec(spec)
    assert len(str(checked.value)) < 2000
    with pytest.raises(ArchitError) as built:
        archit_core.build_from_spec(spec)
    assert str(built.value) == str(checked.value)  # check_spec says what building would say, before building
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["build", "--spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archit build: error: ") and "Traceback" not in err and len(err.splitlines()) == 1


BAD_COMMANDS = [
    (["build", "bert", "mlp", "--tiny", "--head-config", '{"num_labels": NaN}'], "NaN is not a number"),
    (["build", "bert", "mlp", "--tiny", "--head-config", '{"dropout": 1e999}'], "Infinity is not a number|must be in"),
    (["build", "bert", "mlp", "--tiny", "--head-config", '{"num_labels": 1000000000000}'], "at most"),
    (["build", "bert", "mlp", "--tiny", "--head-config", "[" * 100_000], "not valid JSON"),
    (["build", "bert", "mlp", "--tiny", "--backbone-config", '{"hidden_size": "x"}'], "backbone_config.hidden_size: "),
    (["build", "bert", "mlp", "--tiny", "--backbone-config", '{"vocab_size": -5}'], "backbone_config.vocab_size: must be an int"),
    (["build", "bert", "masked-lm", "--tiny", "--head-config", '{"layer_norm_eps": 0}'], "layer_norm_eps"),
    (["build", "bert", "causal-lm", "--tiny"], "needs 'causal'"),
    (["build", "bert", "no-such-head", "--tiny"], "unknown head 'no-such-head'"),
    (["build", "bert", "mlp", "--tiny", "--batch-size", "0"], "must be positive"),
    (["build", "bert"], "give BACKBONE and HEAD"),
    (["build", "--spec", "missing.yaml"], "does not exist"),
    (["inspect", "./missing-folder"], "does not exist"),
    (["convert", "./missing-folder", "out"], "does not exist"),
]


@pytest.mark.parametrize("argv, expected", BAD_COMMANDS, ids=[" ".join(a)[:40] for a, _ in BAD_COMMANDS])
def test_bad_command_lines_exit_2_with_one_paragraph(argv, expected, capsys, tmp_path, monkeypatch):
    import re

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"archit {argv[0]}: error: ") and re.search(expected, err), err[:500]
    assert "Traceback" not in err and len(err.splitlines()) == 1 and len(err) < 2000


def test_the_installed_command_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("backbone: bert\ntiny: true\nhead: mlp\nhead: mlp\n")
    result = subprocess.run([sys.executable, "-m", "archit_core.cli.main", "build", "--spec", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "found the key 'head' twice" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_api_bad_inputs_are_archit_errors():
    model = archit_core.build("bert", "token-classification", tiny=True, backbone_config=SMALL)
    calls = [
        lambda: archit_core.build("bert", "mlp", tiny=True, head_config=5),
        lambda: archit_core.build("bert", "mlp", tiny=True, head_config={"dropout": math.nan}),
        lambda: archit_core.build("bert", "mlp", tiny=True, head_config={"num_labels": 10**12}),
        lambda: archit_core.build("bert", "masked-lm", tiny=True, head_config={"layer_norm_eps": math.inf}),
        lambda: archit_core.build("bert", "mlp", tiny=True, not_an_option=1),
        lambda: archit_core.rewrite(model, "lora", alpha=math.nan),
        lambda: archit_core.rewrite(model, "lora", r=10**9),
        lambda: archit_core.rewrite(model, "lorra"),
        lambda: archit_core.build_optimizer({"lr": math.inf}, model),
        lambda: archit_core.build_optimizer({"lr_multipliers": {"haed": 2}}, model),
        lambda: archit_core.check_spec(5),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(ArchitError):
            call()
        assert i >= 0
