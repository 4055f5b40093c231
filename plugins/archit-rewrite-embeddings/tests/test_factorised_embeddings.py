"""The ``factorised-embeddings`` rewrite: a new model, the input unchanged, SVD initialisation, and a declaration
that rebuilds the rewritten model and verifies."""

from __future__ import annotations

import pytest
import torch
import transformers
from archit_rewrite_embeddings.modules import FactorisedEmbedding

import archit_core

TINY = {"vocab_size": 120, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def tagger(backbone="roberta"):
    torch.manual_seed(0)
    return archit_core.build(backbone, "token-classification", backbone_config=TINY, head_config={"num_labels": 3}).eval()


def ids():
    return torch.randint(3, 120, (2, 9), generator=torch.Generator().manual_seed(1))


def test_full_rank_svd_reproduces_the_model_and_lower_rank_approximates_it():
    model = tagger()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    full = archit_core.rewrite(model, "factorised-embeddings", rank=32)
    low = archit_core.rewrite(model, "factorised-embeddings", rank=4)
    assert isinstance(full.backbone.embeddings.word_embeddings, FactorisedEmbedding)
    with torch.no_grad():
        reference = model(input_ids=ids()).logits
        torch.testing.assert_close(full(input_ids=ids()).logits, reference, rtol=1e-4, atol=1e-4)
        table = model.backbone.embeddings.word_embeddings.weight
        approx = low.backbone.embeddings.word_embeddings(torch.arange(120))
        best = torch.linalg.svdvals(table)[4:].square().sum().sqrt()  # Eckart-Young: the optimal rank-4 error
        torch.testing.assert_close(torch.linalg.norm(approx - table), best, rtol=1e-4, atol=1e-4)
    assert sum(p.numel() for p in low.parameters()) < sum(p.numel() for p in model.parameters())
    assert model.state_dict().keys() == before.keys() and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert type(model.backbone.embeddings.word_embeddings) is torch.nn.Embedding
    position = model.backbone.embeddings.position_embeddings.weight
    assert archit_core.shares_storage(low.backbone.embeddings.position_embeddings.weight, position)


@pytest.mark.parametrize("backbone", ["roberta", "bert"])
def test_the_rewritten_archit_model_declares_and_verifies(backbone, tmp_path):
    low = archit_core.rewrite(tagger(backbone), "factorised-embeddings", rank=8, init="random")
    declaration = archit_core.declare(low)
    assert "from archit_rewrite_embeddings.modules import FactorisedEmbedding" in declaration.code
    assert "FactorisedEmbedding(120, 8, 32, padding_idx=" in declaration.code
    declaration.verify()
    rebuilt = declaration.top_class()(low.config)
    rebuilt.load_state_dict(low.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(input_ids=ids()).logits, low(input_ids=ids()).logits)


def test_a_plain_hugging_face_model_declares_too():
    torch.manual_seed(0)
    hf = transformers.RobertaForMaskedLM(transformers.RobertaConfig(**TINY)).eval()
    low = archit_core.rewrite(hf, "factorised-embeddings", rank=8)
    declaration = archit_core.declare(low, transformers.RobertaForMaskedLM)
    assert declaration.classes[-1].startswith("RobertaForMaskedLM")
    declaration.verify()


def test_bad_targets_and_ranks():
    model = tagger()
    with pytest.raises(archit_core.ArchitError, match="replace an nn.Embedding, not Linear"):
        archit_core.rewrite(model, "factorised-embeddings", targets=["attention.query[0]"])
    with pytest.raises(archit_core.ArchitError, match="rank 64 exceeds the embedding's 120 x 32 table"):
        archit_core.rewrite(model, "factorised-embeddings", rank=64)
    with pytest.raises(archit_core.ConfigError, match="init"):
        archit_core.rewrite(model, "factorised-embeddings", init="pca")


def test_a_tie_to_the_replaced_embeddings_is_forgotten_in_the_copy_only():
    torch.manual_seed(0)
    mlm = archit_core.build("bert", "masked-lm", backbone_config=TINY).eval()
    low = archit_core.rewrite(mlm, "factorised-embeddings", rank=8)
    assert mlm._tied_weights_keys and not low._tied_weights_keys
    low.tie_weights()  # nothing left to tie: no error
    assert mlm.head.decoder.weight is mlm.backbone.embeddings.word_embeddings.weight
    with torch.no_grad():
        assert low(input_ids=ids()).logits.shape == (2, 9, 120)
