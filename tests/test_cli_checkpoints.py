"""``archit inspect`` and ``archit convert``: what a checkpoint folder holds, and Hugging Face <-> archit round trips."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import transformers
from safetensors.torch import save_file

import archit_core
from archit_core.cli.main import main

TINY = {"vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
LABELS = {0: "O", 1: "B-LOC", 2: "I-LOC"}
FAMILIES = {"roberta": "Roberta", "bert": "Bert", "deberta": "DebertaV2"}
TASKS = {"token-classification": "ForTokenClassification", "sequence-classification": "ForSequenceClassification"}
AUTO = {"token-classification": transformers.AutoModelForTokenClassification,
        "sequence-classification": transformers.AutoModelForSequenceClassification}


def hf_checkpoint(folder, backbone="roberta", head="sequence-classification", **save_options):
    """A tiny Hugging Face task model (weights moved off their initial values, three named labels) saved to
    ``folder`` with a tokenizer file beside it; returns the model in eval mode."""
    family = FAMILIES[backbone]
    config = getattr(transformers, f"{family}Config")(**TINY, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    torch.manual_seed(0)
    model = getattr(transformers, family + TASKS[head])(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model.save_pretrained(folder, **save_options)
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 128}))
    return model.eval()


def batch():
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 1000, (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -3:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def logits(model):
    with torch.no_grad():
        return model.eval()(**batch()).logits


def inspect_json(path, capsys):
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def inspect_text(path, capsys, *options):
    assert main(["inspect", str(path), *options]) == 0
    return capsys.readouterr().out


# -- archit inspect ----------------------------------------------------------------------------------------------
def test_inspect_a_hugging_face_checkpoint(tmp_path, capsys):
    model = hf_checkpoint(tmp_path, "roberta", "sequence-classification")
    report = inspect_json(tmp_path, capsys)
    assert report["format"] == "transformers"
    assert report["weights"] == {"format": "safetensors", "sharded": False, "files": ["model.safetensors"]}
    assert report["model_type"] == "roberta"
    assert report["architectures"] == ["RobertaForSequenceClassification"]
    assert report["archit_equivalent"] == {"backbone": "roberta", "head": "sequence-classification", "note": None}
    state = model.state_dict()
    head_keys = {k for k in state if not k.startswith("roberta.")}
    assert set(report["parts"]) == {"backbone", "head"}
    assert set(report["parts"]["head"]["tensors"]) == head_keys == {
        "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"}
    assert report["parts"]["backbone"]["keys"] == len(state) - 4
    assert report["parts"]["head"]["parameters"] == sum(state[k].numel() for k in head_keys)
    assert report["total"] == {"keys": len(state), "parameters": sum(v.numel() for v in state.values())}
    assert report["parts"]["head"]["tensors"]["classifier.out_proj.weight"] == {"dtype": "float32", "shape": [3, 32]}
    assert report["dtypes"] == ["float32"]

    out = inspect_text(tmp_path, capsys)
    assert "format: Hugging Face checkpoint, safetensors weights (model.safetensors)" in out
    assert "architectures: RobertaForSequenceClassification" in out
    assert "archit equivalent: backbone 'roberta' + head 'sequence-classification'" in out
    assert "classifier.out_proj.weight  float32[3, 32]" in out
    assert "roberta.embeddings.word_embeddings.weight" not in out  # backbone keys only with --keys
    assert "roberta.embeddings.word_embeddings.weight  float32[1000, 32]" in inspect_text(tmp_path, capsys, "--keys")


def test_inspect_a_base_model_puts_every_key_in_the_backbone(tmp_path, capsys):
    transformers.BertModel(transformers.BertConfig(**TINY)).save_pretrained(tmp_path)
    report = inspect_json(tmp_path, capsys)
    assert set(report["parts"]) == {"backbone"}
    assert "base model (BertModel)" in report["archit_equivalent"]["note"]
    assert report["archit_equivalent"]["backbone"] == "bert" and report["archit_equivalent"]["head"] is None


def test_inspect_sharded_and_bin_checkpoints(tmp_path, capsys):
    model = hf_checkpoint(tmp_path / "sharded", "bert", "token-classification", max_shard_size="40KB")
    report = inspect_json(tmp_path / "sharded", capsys)
    assert report["weights"]["format"] == "safetensors" and report["weights"]["sharded"]
    assert len(report["weights"]["files"]) > 1
    assert report["total"]["parameters"] == sum(p.numel() for p in model.state_dict().values())
    assert f"{len(report['weights']['files'])} shards" in inspect_text(tmp_path / "sharded", capsys)

    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "config.json").write_text((tmp_path / "sharded" / "config.json").read_text())
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    bin_report = inspect_json(folder, capsys)
    assert bin_report["weights"] == {"format": "bin", "sharded": False, "files": ["pytorch_model.bin"]}
    assert bin_report["parts"] == report["parts"]


@pytest.fixture
def archit_folder(tmp_path):
    torch.manual_seed(0)
    model = archit_core.build("bert", "token-classification", tiny=True, head_config={"num_labels": 3})
    model.save_pretrained(tmp_path / "archit")
    return model, tmp_path / "archit"


def test_inspect_an_archit_checkpoint(archit_folder, capsys):
    model, folder = archit_folder
    report = inspect_json(folder, capsys)
    assert report["format"] == "archit" and report["model_type"] == "archit"
    assert report["backbone"] == "bert" and report["head"] == "token-classification"
    assert report["head_config"] == model.config.head_config
    assert report["backbone_config"]["hidden_size"] == 32
    plugins = {p["part"]: p for p in report["plugins"]}
    assert plugins["backbone"] == {"part": "backbone", "name": "bert", "distribution": "archit-backbone-bert", "version": "0.1.0",
                                   "installed": True, "installed_version": "0.1.0", "status": "ok"}
    assert plugins["head"]["distribution"] == "archit-head-token-classification" and plugins["head"]["installed"]
    state = model.state_dict()
    for part in ("backbone", "head"):
        keys = {k for k in state if k.startswith(part + ".")}
        assert set(report["parts"][part]["tensors"]) == keys
        assert report["parts"][part]["parameters"] == sum(state[k].numel() for k in keys)
    assert "other" not in report["parts"]

    out = inspect_text(folder, capsys)
    assert "format: archit checkpoint, safetensors weights (model.safetensors)" in out
    assert "backbone: bert from archit-backbone-bert 0.1.0 (installed 0.1.0)" in out
    assert "head: token-classification from archit-head-token-classification 0.1.0 (installed 0.1.0)" in out
    assert "head.classifier.weight  float32[3, 32]" in out


def test_inspect_names_the_plugins_a_checkpoint_needs_that_are_not_installed(archit_folder, capsys):
    _, folder = archit_folder
    config = json.loads((folder / "config.json").read_text())
    config["plugins"]["head"] = {"distribution": "archit-head-elsewhere", "version": "2.0"}
    (folder / "config.json").write_text(json.dumps(config))
    plugins = {p["part"]: p for p in inspect_json(folder, capsys)["plugins"]}
    assert plugins["head"]["installed"] is False and plugins["head"]["status"] == "missing"
    assert ("head: token-classification from archit-head-elsewhere 2.0 (NOT installed: pip install archit-head-elsewhere)"
            in inspect_text(folder, capsys))


def test_inspect_an_archit_checkpoint_imports_neither_torch_nor_transformers(archit_folder):
    code = (
        "import sys, io, contextlib\n"
        "from archit_core.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['inspect', {str(archit_folder[1])!r}]) == 0\n"
        f"    assert main(['inspect', {str(archit_folder[1])!r}, '--json']) == 0\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- archit convert ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("backbone", "head"),
    [("roberta", "sequence-classification"), ("bert", "sequence-classification"), ("deberta", "sequence-classification"),
     ("roberta", "token-classification"), ("bert", "token-classification"), ("deberta", "token-classification")],
)
def test_convert_hugging_face_to_archit_and_back_keeps_the_logits(backbone, head, tmp_path, capsys):
    source = hf_checkpoint(tmp_path / "hf", backbone, head)
    expected = logits(source)
    hf_class = FAMILIES[backbone] + TASKS[head]

    assert main(["convert", str(tmp_path / "hf"), str(tmp_path / "archit")]) == 0
    out = capsys.readouterr().out
    assert f"converted {hf_class} (Hugging Face) to archit {backbone!r} + {head!r}" in out
    assert f"imported from the checkpoint's {hf_class} head" in out
    assert "copied tokenizer_config.json" in out and f"saved to {tmp_path / 'archit'}" in out
    model = archit_core.load(tmp_path / "archit")
    assert (model.config.backbone, model.config.head) == (backbone, head)
    assert model.config.id2label == LABELS
    torch.testing.assert_close(logits(model), expected, rtol=0, atol=0)
    assert (tmp_path / "archit" / "tokenizer_config.json").exists()

    assert main(["convert", str(tmp_path / "archit"), str(tmp_path / "back")]) == 0
    assert f"to {hf_class} (Hugging Face)" in capsys.readouterr().out
    back = AUTO[head].from_pretrained(tmp_path / "back")
    assert type(back).__name__ == hf_class
    assert back.config.id2label == LABELS
    torch.testing.assert_close(logits(back), expected, rtol=0, atol=0)
    assert (tmp_path / "back" / "tokenizer_config.json").exists()


def test_convert_a_base_model_needs_a_head_and_says_when_it_is_fresh(tmp_path, capsys):
    transformers.BertModel(transformers.BertConfig(**TINY)).save_pretrained(tmp_path / "base")
    assert main(["convert", str(tmp_path / "base"), str(tmp_path / "out")]) == 2
    assert "base model (BertModel) without a task head; pass --head" in capsys.readouterr().err

    assert main(["convert", str(tmp_path / "base"), str(tmp_path / "out"), "--head", "sequence-classification",
                 "--head-config", '{"pooling": "pooler", "num_labels": 4}']) == 0
    out = capsys.readouterr().out
    assert "head 'sequence-classification' is fresh" in out
    assert "warning: 2 head weight(s) are freshly initialised" in out
    model = archit_core.load(tmp_path / "out")
    assert model.config.head_config["num_labels"] == 4 and model.config.head_config["pooling"] == "pooler"


def test_convert_another_task_says_which_weights_are_left_out(tmp_path, capsys):
    transformers.BertForPreTraining(transformers.BertConfig(**TINY)).save_pretrained(tmp_path / "mlm")
    assert main(["convert", str(tmp_path / "mlm"), str(tmp_path / "out")]) == 2
    assert "no installed head is equivalent to BertForPreTraining on backbone 'bert'" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "mlm"), str(tmp_path / "out"), "--head", "token-classification"]) == 0
    out = capsys.readouterr().out
    assert "the checkpoint holds BertForPreTraining, not BertForTokenClassification" in out
    assert "9 weight(s) of the checkpoint are not used: backbone.pooler.dense.bias" in out and "cls.predictions.bias" in out
    assert "head weight(s) are freshly initialised" in out


def test_convert_with_explicit_names_and_a_head_config(tmp_path, capsys):
    hf_checkpoint(tmp_path / "hf", "roberta", "token-classification")
    args = ["convert", str(tmp_path / "hf"), str(tmp_path / "out"), "--backbone", "roberta", "--head", "token-classification"]
    assert main([*args, "--head-config", '{"num_labels": 5}']) == 2  # the checkpoint's head has 3 labels
    assert "num_labels=5" in capsys.readouterr().err
    assert main([*args, "--head-config", '{"dropout": 0.2}']) == 0
    saved = archit_core.load(tmp_path / "out").config.head_config
    assert saved == {"num_labels": 3, "dropout": 0.2, "transform": None, "transform_bias": True}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["convert", "{missing}", "{out}"], "does not exist"),
        (["inspect", "{missing}"], "does not exist"),
        (["convert", "{empty}", "{out}"], "has no config.json"),
        (["inspect", "{empty}"], "has no config.json"),
        (["convert", "{no_weights}", "{out}"], "holds no weights"),
        (["inspect", "{no_weights}"], "holds no weights"),
        (["inspect", "{corrupt}"], "is not a readable safetensors file"),
        (["convert", "{hf}", "{hf}"], "exists and is not an empty folder"),
        (["convert", "{unknown}", "{out}"], "no installed backbone builds 'no-such-family' models"),
        (["convert", "{archit}", "{out}", "--head", "token-classification"], "--head apply to Hugging Face sources"),
        (["convert", "{mean}", "{out}"], "head_config.pooling='mean' has no Hugging Face equivalent"),
    ],
)
def test_errors_exit_2_with_one_clear_line(argv, expected, tmp_path, capsys):
    def config_only(folder, config):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))

    makers = {
        "empty": lambda f: f.mkdir(),
        "no_weights": lambda f: config_only(f, {"model_type": "bert", "architectures": ["BertModel"]}),
        "corrupt": lambda f: (config_only(f, {"model_type": "bert"}), (f / "model.safetensors").write_bytes(b"not tensors")),
        "hf": lambda f: hf_checkpoint(f, "bert", "token-classification"),
        "unknown": lambda f: (config_only(f, {"model_type": "no-such-family", "architectures": ["NoSuchFamilyForSequenceClassification"]}),
                           save_file({"score.weight": torch.zeros(2, 4)}, str(f / "model.safetensors"))),
        "archit": lambda f: archit_core.build("bert", "token-classification", tiny=True).save_pretrained(f),
        "mean": lambda f: archit_core.build("roberta", "sequence-classification", tiny=True,
                                            head_config={"pooling": "mean"}).save_pretrained(f),
    }
    places = {name: tmp_path / name for name in ("missing", "out", *makers)}
    for name, make in makers.items():
        if "{" + name + "}" in argv:
            make(places[name])
    capsys.readouterr()

    assert main([arg.format(**places) for arg in argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()  # transformers' progress bars may come first
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1 and errors[0] == lines[-1]
    assert lines[-1].startswith(f"archit {argv[0]}: error: ") and expected in lines[-1]
    assert not places["out"].exists() or not any(places["out"].iterdir())
