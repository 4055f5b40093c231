"""``resize_token_embeddings`` on causal-LM models (GPT-2 tied, Llama untied and tied): the projection follows the
input embeddings, the resized model saves and loads, generates, and matches Hugging Face's ``*ForCausalLM``
resized the same way."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.checkpoints.interop import head_config_for_hf, import_hf_state_dict
from archit_core.testing.vocabulary import assert_resizes_token_embeddings

HEAD = "causal-lm"
CASES = [("gpt2", None), ("llama", None), ("llama", True), ("gpt2", False)]
IDS = ["gpt2-tied", "llama-untied", "llama-tied", "gpt2-untied"]


@pytest.mark.parametrize(("backbone", "tie"), CASES, ids=IDS)
@pytest.mark.parametrize("size", [1013, 990], ids=["grow", "shrink"])
def test_resize_token_embeddings(backbone: str, tie: bool | None, size: int, tmp_path) -> None:
    pytest.importorskip(f"archit_backbone_{backbone}")
    torch.manual_seed(0)
    model = archit_core.build(backbone, HEAD, tiny=True, head_config={"tie_word_embeddings": tie})
    assert_resizes_token_embeddings(model, size, tmp_path)


@pytest.mark.parametrize("backbone", ["gpt2", "llama"])
def test_resized_like_hugging_face_and_generates(backbone: str) -> None:
    pytest.importorskip(f"archit_backbone_{backbone}")
    config = archit_core.get_host().backbone(backbone).obj.make_config(tiny=True)
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(config).eval()
    model = archit_core.build(backbone, HEAD, backbone_config=config, head_config=head_config_for_hf(backbone, HEAD, config))
    hf.resize_token_embeddings(1013, mean_resizing=False)
    model.resize_token_embeddings(1013, mean_resizing=False)
    import_hf_state_dict(model, hf.state_dict())
    ids = torch.tensor([[3, 1012, 7, 1000, 1011]])
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(input_ids=ids, labels=ids).loss, hf(input_ids=ids, labels=ids).loss)
    options = {"max_new_tokens": 5, "do_sample": False, "pad_token_id": 0}
    assert torch.equal(model.generate(ids, **options), hf.generate(ids, **options))
