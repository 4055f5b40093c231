"""Checks for heads that predict tokens: ``resize_token_embeddings`` resizes their projection with the input
embeddings, keeps ties, and the resized model saves and loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def assert_resizes_token_embeddings(model: Any, new_num_tokens: int, tmp_path: Path) -> None:
    """Resize ``model`` (an archit model whose head has an output projection) to ``new_num_tokens`` and assert:
    the input embeddings, the projection (weight, bias, ``out_features``), the backbone config's ``vocab_size`` and
    the head's backbone facts all say ``new_num_tokens``; a tied projection is still the embedding matrix (an untied
    one is not); the kept tokens' embeddings and scores are unchanged; the new ids are usable with labels; and the
    model saves and loads (``archit_core.load``, ``AutoModel``) with the same outputs and ties."""
    import torch
    import transformers

    import archit_core

    model.eval()
    old = model.get_input_embeddings().weight.shape[0]
    kept = min(old, new_num_tokens)
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    ids = torch.randint(0, kept, (2, 6), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(input_ids=ids).logits[..., :kept]
        old_rows = model.get_input_embeddings().weight[:kept].clone()

    model.resize_token_embeddings(new_num_tokens, mean_resizing=False)

    projection = model.get_output_embeddings()
    assert projection is model.head.get_output_embeddings()
    assert model.get_input_embeddings().weight.shape[0] == new_num_tokens
    assert projection.weight.shape[0] == projection.out_features == new_num_tokens
    assert projection.bias is None or projection.bias.shape == (new_num_tokens,)
    assert (projection.weight is model.get_input_embeddings().weight) == tied
    assert model.config.get_text_config().vocab_size == model.head.backbone_facts.vocab_size == new_num_tokens
    torch.testing.assert_close(model.get_input_embeddings().weight[:kept], old_rows)
    with torch.no_grad():
        after = model(input_ids=ids).logits
    assert after.shape[-1] == new_num_tokens
    torch.testing.assert_close(after[..., :kept], before)

    ids[:, -1] = new_num_tokens - 1  # the last id of the new vocabulary, as input and label
    with torch.no_grad():
        out = model(input_ids=ids, labels=ids)
    assert torch.isfinite(out.loss)
    model.save_pretrained(tmp_path)
    auto = getattr(transformers, type(model).auto_class)  # AutoModelForMaskedLM, AutoModelForCausalLM
    for loaded in (archit_core.load(tmp_path), auto.from_pretrained(tmp_path)):
        assert (loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight) == tied
        with torch.no_grad():
            torch.testing.assert_close(loaded.eval()(input_ids=ids).logits, out.logits)
