"""``resize_token_embeddings`` on masked-LM models: the projection and its output bias follow the input embeddings,
tied or untied, growing or shrinking, and the resized model saves and loads; Hugging Face's ``*ForMaskedLM``
resized the same way gives the same scores."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import head_config_for_hf, import_hf_state_dict
from archit_core.testing.vocabulary import assert_resizes_token_embeddings

HEAD = "masked-lm"


@pytest.mark.parametrize("backbone", ["bert", "roberta", "deberta"])
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("size", [1013, 990], ids=["grow", "shrink"])
def test_resize_token_embeddings(backbone: str, tie: bool, size: int, tmp_path) -> None:
    pytest.importorskip(f"archit_backbone_{backbone}")
    torch.manual_seed(0)
    model = archit_core.build(backbone, HEAD, tiny=True, head_config={"tie_word_embeddings": tie})
    assert_resizes_token_embeddings(model, size, tmp_path)


def test_resized_like_hugging_face() -> None:
    # Both resized, then the Hugging Face weights (new rows included) imported: every key has its place and size.
    config = archit_core.get_host().backbone("bert").obj.make_config(tiny=True)
    torch.manual_seed(0)
    hf = transformers.BertForMaskedLM(config).eval()
    model = archit_core.build("bert", HEAD, backbone_config=config, head_config=head_config_for_hf("bert", HEAD, config))
    hf.resize_token_embeddings(1013, mean_resizing=False)
    model.resize_token_embeddings(1013, mean_resizing=False)
    import_hf_state_dict(model, hf.state_dict())
    ids = torch.tensor([[3, 1012, 7, 1000]])
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(input_ids=ids, labels=ids).loss, hf(input_ids=ids, labels=ids).loss)
        torch.testing.assert_close(model(input_ids=ids).logits, hf(input_ids=ids).logits)


def test_heads_without_a_projection_have_no_output_embeddings() -> None:
    pytest.importorskip("archit_backbone_bert")
    model = archit_core.build("bert", "token-classification", tiny=True)
    assert model.get_output_embeddings() is None
    model.resize_token_embeddings(1005)
    assert model.get_input_embeddings().weight.shape[0] == model.config.backbone_config.vocab_size == 1005
    with pytest.raises(NotImplementedError, match="no output projection"):
        model.set_output_embeddings(torch.nn.Linear(32, 1005))
