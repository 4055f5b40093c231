"""Models that travel without archit: ``write_standalone`` writes generated modeling code and an ``auto_map``, and a
process that cannot import archit_core or any plugin (``python -S`` with site-packages only: editable installs are
not on its path) loads the model with transformers' Auto classes and ``trust_remote_code=True``, with the same
outputs. Without it, ``config.json`` names what to install and README.md says how to load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

import archit_core
from archit_core.checkpoints.standalone import MODULE_FILE, model_card, write_card, write_standalone

transformers = pytest.importorskip("transformers")
pytest.importorskip("archit_backbone_bert")

IDS = torch.randint(5, 1000, (2, 7), generator=torch.Generator().manual_seed(0))
WORD_IDS = torch.tensor([[-1, 0, 1, 1, 2, 3, -1], [-1, 0, 0, 1, -1, -1, -1]])

LOAD = r'''
import json, sys
import torch
for name in ("archit_core", "archit_backbone_bert"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(name + " is importable here")
import transformers
folder, auto, inputs, out = sys.argv[1:5]
model = getattr(transformers, auto).from_pretrained(folder, trust_remote_code=True).eval()
with torch.no_grad():
    output = model(**torch.load(inputs))
torch.save({k: v for k, v in output.items() if isinstance(v, torch.Tensor)} | (
    {f"logits.{k}": v for k, v in output.logits.items()} if hasattr(output.logits, "items") else {}), out)
print(type(model).__name__)
'''


def without_archit(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ARCHIT"))}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    return subprocess.run([sys.executable, "-S", "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


CASES = [
    pytest.param("token-classification", {"num_labels": 3}, "AutoModelForTokenClassification", {}, id="token-classification"),
    pytest.param("masked-lm", {}, "AutoModelForMaskedLM", {}, id="masked-lm-tied"),
    pytest.param("question-answering", {}, "AutoModelForQuestionAnswering", {}, id="question-answering"),
    pytest.param("dependency-parsing", {"num_relations": 3, "arc_size": 8, "relation_size": 8}, "AutoModel",
                 {"word_ids": WORD_IDS}, id="dependency-parsing"),
    pytest.param("embedding", {"normalize": True}, "AutoModel", {}, id="embedding"),
]


@pytest.mark.parametrize(("head", "head_config", "auto", "extra"), CASES)
def test_a_standalone_folder_loads_without_archit_with_the_same_outputs(tmp_path, head, head_config, auto, extra) -> None:
    pytest.importorskip("archit_head_" + head.replace("-", "_").replace("dependency_parsing", "depparse"))
    torch.manual_seed(0)
    model = archit_core.build("bert", head, tiny=True, head_config=head_config).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    written = write_standalone(model, folder)
    assert written.name == MODULE_FILE and "import archit" not in written.read_text()
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_archit.ArchitStandaloneModel" and auto in config["auto_map"] | {"AutoModel": 1}
    inputs = {"input_ids": IDS, **extra}
    torch.save(inputs, tmp_path / "inputs.pt")
    done = without_archit(LOAD, str(folder), auto, str(tmp_path / "inputs.pt"), str(tmp_path / "out.pt"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "ArchitStandaloneModel" and "MISSING" not in done.stderr
    got = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        expected = model(**inputs)
    logits = expected.logits
    want = {k: v for k, v in expected.items() if isinstance(v, torch.Tensor)}
    want |= {f"logits.{k}": v for k, v in logits.items()} if hasattr(logits, "items") else {}
    assert want and got.keys() == want.keys()
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)


def test_the_code_is_readable_and_generated_from_the_installed_plugins(tmp_path) -> None:
    model = archit_core.build("bert", "token-classification", tiny=True)
    model.save_pretrained(tmp_path)
    code = write_standalone(model, tmp_path).read_text()
    compile(code, MODULE_FILE, "exec")
    assert "class TokenClassificationHead(Head):" in code and "def classification_loss(" in code  # the plugins' source
    assert "archit-head-token-classification==" in code.splitlines()[0]
    with pytest.raises(archit_core.ArchitError, match="save the model there first"):
        write_standalone(model, tmp_path / "empty")


NO_ARCHIT_CONFIG = r'''
import json, sys
import transformers
try:
    transformers.AutoConfig.from_pretrained(sys.argv[1])
except ValueError as exc:
    print(json.dumps({"error": str(exc)[:200], "config": transformers.PreTrainedConfig.get_config_dict(sys.argv[1])[0]}))
'''


def test_without_standalone_config_json_and_the_card_say_what_to_install(tmp_path) -> None:
    model = archit_core.build("bert", "token-classification", tiny=True)
    model.save_pretrained(tmp_path / "m")  # writes the card and the loading fields itself
    done = without_archit(NO_ARCHIT_CONFIG, str(tmp_path / "m"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "archit" in seen["error"]  # transformers does not know the model type...
    needed = seen["config"]["archit_requirements"]  # ...and config.json says what does
    assert needed[0].startswith("archit-core==") and any(r.startswith("archit-head-token-classification==") for r in needed)
    assert "pip install archit-core" in seen["config"]["archit_how_to_load"]
    card = (tmp_path / "m" / "README.md").read_text()
    assert card == model_card(model) and "backbone `bert` (BertModel)" in card and "AutoModelForTokenClassification" in card
    assert archit_core.load(tmp_path / "m").config.to_dict()["archit_requirements"] == needed  # loads as before


def test_a_user_model_card_is_kept_when_saving_over_it(tmp_path) -> None:
    model = archit_core.build("bert", "token-classification", tiny=True)
    model.save_pretrained(tmp_path)
    (tmp_path / "README.md").write_text("# my own card")
    model.save_pretrained(tmp_path)
    assert (tmp_path / "README.md").read_text() == "# my own card"
    write_card(model, tmp_path)
    assert (tmp_path / "README.md").read_text() == "# my own card"


@pytest.mark.parametrize("how", ["save_pretrained", "archit export"])
def test_save_pretrained_standalone_and_archit_export_travel_without_archit(tmp_path, how) -> None:
    """``save_pretrained(path, standalone=True)`` and ``archit export SRC DST --standalone`` write the same loadable
    folder, atomically like every save."""
    from archit_core.cli.main import main

    torch.manual_seed(0)
    model = archit_core.build("bert", "token-classification", tiny=True, head_config={"num_labels": 3}).eval()
    folder = tmp_path / "model"
    if how == "save_pretrained":
        model.save_pretrained(folder, standalone=True)
    else:
        model.save_pretrained(tmp_path / "src")
        assert main(["export", str(tmp_path / "src"), str(folder)]) == 2  # --standalone is required
        assert main(["export", str(tmp_path / "src"), str(folder), "--standalone"]) == 0
    assert (folder / MODULE_FILE).is_file() and (folder / "README.md").is_file()
    torch.save({"input_ids": IDS}, tmp_path / "inputs.pt")
    done = without_archit(LOAD, str(folder), "AutoModelForTokenClassification", str(tmp_path / "inputs.pt"),
                          str(tmp_path / "out.pt"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "out.pt")["logits"], model(input_ids=IDS).logits, rtol=0, atol=0)
