"""The ``archit`` command: ``plugins`` (text and JSON, no torch import) and ``build`` (forward, backward, save)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import archit_core
from archit_core import Backbone, PluginHost, hookimpl
from archit_core.cli.main import main

INSTALLED_BACKBONE = "roberta"
INSTALLED_HEAD = "token-classification"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archit_core.cli.main", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def _row(text: str, second_column: str) -> str:
    """The line of a table whose second column starts with ``second_column``."""
    return next(line for line in text.splitlines() if line.split()[1:2] and line.split()[1].startswith(second_column))


class _RobertaAgain:
    """A second provider of the backbone name ``roberta``."""

    @hookimpl
    def provide_backbone(self, registry):
        registry.add_backbone("roberta", Backbone())


class _Fails:
    @hookimpl
    def provide_head(self, registry):
        raise RuntimeError("no head today")


class _Declares:
    @hookimpl
    def declare_module(self, module, context):
        return None


def test_plugins_text_lists_names_distributions_and_status(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for section in ("backbones:", "heads:", "rewrites:", "declaration providers:", "plugins:"):
        assert section in out
    assert INSTALLED_BACKBONE in out and INSTALLED_HEAD in out
    assert "archit-backbone-roberta 0.1.0" in out
    assert "archit-head-token-classification" in out
    assert _row(out, "archit-backbone-roberta:roberta").split()[0] == "ok"


def test_plugins_json_content(capsys):
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"backbones", "heads", "rewrites", "declaration_providers", "plugins", "conflicts"}
    roberta = next(b for b in report["backbones"] if b["name"] == INSTALLED_BACKBONE)
    assert roberta["distribution"] == "archit-backbone-roberta"
    assert roberta["version"] == "0.1.0"
    assert roberta["plugin"] == "archit-backbone-roberta:roberta"
    assert roberta["qualified_name"] == "roberta@archit-backbone-roberta"
    assert roberta["conflict"] is False
    assert any(h["name"] == INSTALLED_HEAD for h in report["heads"])
    statuses = {p["distribution"]: p["status"] for p in report["plugins"]}
    assert statuses["archit-backbone-roberta"] == "ok"
    assert statuses["archit-head-token-classification"] == "ok"


def test_plugins_shows_broken_disabled_conflicting_and_declaring_plugins(capsys):
    host = PluginHost(disable=["archit-head-token-classification"], strict=False)
    host.add(_RobertaAgain(), name="again", distribution="archit-backbone-other", version="9.9")
    host.add(_Fails(), name="fails", distribution="archit-head-fails", version="1.0")
    host.add(_Declares(), name="declares", distribution="archit-declares", version="2.0")

    assert main(["plugins", "--json"], host=host) == 0
    report = json.loads(capsys.readouterr().out)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["fails"]["status"] == "broken"
    assert "no head today" in by_name["fails"]["error"]
    assert by_name["archit-head-token-classification:token-classification"]["status"] == "disabled"
    declaring = [p["distribution"] for p in report["declaration_providers"]]
    assert "archit-declares" in declaring and "archit-head-fails" not in declaring
    assert "archit-backbone-roberta" not in declaring  # only plugins implementing declare_module are listed
    assert [b["conflict"] for b in report["backbones"] if b["name"] == "roberta"] == [True, True]
    assert not any(b["conflict"] for b in report["backbones"] if b["name"] != "roberta")
    (conflict,) = report["conflicts"]
    assert conflict["kind"] == "backbone" and conflict["name"] == "roberta"
    assert {p["distribution"] for p in conflict["providers"]} == {"archit-backbone-roberta", "archit-backbone-other"}

    assert main(["plugins"], host=host) == 0
    out = capsys.readouterr().out
    assert _row(out, "fails").split()[0] == "broken" and "no head today" in out
    assert _row(out, "archit-head-token-classification:").split()[0] == "disabled"
    assert "roberta (!)" in out
    assert "roberta@archit-backbone-other" in out and "ARCHIT_DISABLE_PLUGINS" in out


def _crashing_plugin(fake_distribution) -> dict[str, str]:
    """Install a fake distribution whose entry point fails to import; the environment that lets a subprocess see it."""
    dist = fake_distribution(
        "archit-head-crashes", "0.3", {"crashes": "archit_crashes_plugin"},
        {"archit_crashes_plugin": "raise ImportError('missing dependency nothing_here')"},
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(dist.path), os.environ.get("PYTHONPATH", "")])}


def test_plugins_lists_a_plugin_that_fails_to_import_without_a_warning_on_stderr(fake_distribution):
    env = _crashing_plugin(fake_distribution)
    env.pop("ARCHIT_STRICT_PLUGINS", None)
    result = run_cli("plugins", env=env)
    assert result.returncode == 0, result.stderr
    assert _row(result.stdout, "archit-head-crashes:crashes").split()[0] == "broken"
    assert "missing dependency nothing_here" in result.stdout
    assert result.stderr == ""


def test_plugins_exits_2_in_strict_mode_with_a_broken_plugin(fake_distribution):
    result = run_cli("plugins", env={**_crashing_plugin(fake_distribution), "ARCHIT_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert "archit-head-crashes 0.3" in result.stderr and "nothing_here" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_imports_neither_torch_nor_transformers():
    code = (
        "import sys, io, contextlib\n"
        "from archit_core.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['plugins']) == 0 and main(['plugins', '--json']) == 0\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_build_tiny_runs_forward_backward_and_saves_a_loadable_model(tmp_path, capsys):
    folder = tmp_path / "model"
    code = main(["build", INSTALLED_BACKBONE, INSTALLED_HEAD, "--tiny", "--head-config", '{"num_labels": 3}',
                 "--save", str(folder), "--batch-size", "3", "--seq-len", "5"])
    assert code == 0
    out = capsys.readouterr().out
    assert "backbone: RobertaModel" in out and "head: TokenClassificationHead" in out
    assert "ModuleList[2 x RobertaLayer]" in out  # layers are collapsed, not printed one by one
    assert "logits: (3, 5, 3)" in out
    assert "loss: " in out and "backward pass" in out
    assert f"saved to {folder}" in out

    model = archit_core.load(folder)
    assert model.config.backbone == INSTALLED_BACKBONE
    assert model.config.head == INSTALLED_HEAD
    assert model.config.head_config["num_labels"] == 3
    total = archit_core.summary(model)["total"]
    assert f"total {total:,}" in out


def test_build_backbone_config_overrides(capsys):
    assert main(["build", INSTALLED_BACKBONE, INSTALLED_HEAD, "--tiny", "--backbone-config", '{"num_hidden_layers": 1}']) == 0
    assert "ModuleList[1 x RobertaLayer]" not in capsys.readouterr().out  # one layer: nothing to collapse


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build", "robera", INSTALLED_HEAD, "--tiny"], "Did you mean 'roberta'"),
        (["build", INSTALLED_BACKBONE, "token-clasification", "--tiny"], "Did you mean 'token-classification'"),
    ],
)
def test_unknown_names_exit_2_with_did_you_mean(args, expected):
    result = run_cli(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one paragraph


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--head-config", "{num_labels: 3}", "not valid JSON"),
        ("--head-config", "[3]", "must be a JSON object"),
        ("--head-config", '{"num_labls": 3}', "num_labls"),
        ("--backbone-config", '{"hidden_sise": 8}', "did you mean 'hidden_size'"),
    ],
)
def test_bad_configs_exit_2(option, value, expected, capsys):
    assert main(["build", INSTALLED_BACKBONE, INSTALLED_HEAD, "--tiny", option, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archit build: error: ") and expected in err
