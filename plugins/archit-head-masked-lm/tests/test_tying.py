"""The vocabulary projection is the input embedding matrix, and stays so through tie_weights, saving and loading
(archit_core.load, AutoModel.from_pretrained, a checkpoint holding only one of the tied keys)."""

from __future__ import annotations

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

import archit_core

HEAD = "masked-lm"


def embeddings_of(model) -> torch.nn.Parameter:
    return model.backbone.get_input_embeddings().weight


def assert_tied(model) -> None:
    assert model.head.decoder.weight is embeddings_of(model)


@pytest.fixture
def model():
    pytest.importorskip("archit_backbone_bert")
    torch.manual_seed(0)
    return archit_core.build("bert", HEAD, tiny=True).eval()


def ids() -> torch.Tensor:
    return torch.randint(5, 1000, (2, 6), generator=torch.Generator().manual_seed(2))


def test_tied_by_default_and_declared_to_transformers(model) -> None:
    assert_tied(model)
    assert model._tied_weights_keys == {"head.decoder.weight": "backbone.embeddings.word_embeddings.weight"}
    assert model.all_tied_weights_keys == model._tied_weights_keys
    with torch.no_grad():
        embeddings_of(model)[7] += 1.0  # one tensor: changing the embeddings changes the projection
    assert torch.equal(model.head.decoder.weight[7], embeddings_of(model)[7])


def test_tie_weights_reties_a_replaced_projection(model) -> None:
    model.head.decoder.weight = torch.nn.Parameter(torch.zeros_like(embeddings_of(model)))
    assert model.head.decoder.weight is not embeddings_of(model)
    model.tie_weights()
    assert_tied(model)


def test_untied_head_owns_its_projection() -> None:
    pytest.importorskip("archit_backbone_bert")
    model = archit_core.build("bert", HEAD, tiny=True, head_config={"tie_word_embeddings": False})
    assert model.head.decoder.weight is not embeddings_of(model)
    assert model._tied_weights_keys == {} and model.all_tied_weights_keys == {}
    model.tie_weights()
    assert model.head.decoder.weight is not embeddings_of(model)


def test_ties_survive_save_and_load(model, tmp_path) -> None:
    model.save_pretrained(tmp_path / "m")
    saved = load_file(tmp_path / "m" / "model.safetensors")
    assert "head.decoder.weight" not in saved and "backbone.embeddings.word_embeddings.weight" in saved
    with torch.no_grad():
        expected = model(input_ids=ids()).logits
    for loaded in (archit_core.load(tmp_path / "m"), transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "m")):
        assert type(loaded).__name__ == "ArchitForMaskedLM"
        assert_tied(loaded)
        assert loaded.loading_report.complete if hasattr(loaded, "loading_report") else True
        with torch.no_grad():
            torch.testing.assert_close(loaded.eval()(input_ids=ids()).logits, expected)


def test_checkpoint_with_only_the_projection_ties_to_it(model, tmp_path) -> None:
    # A checkpoint holding the tied target but not its source: transformers ties the other way round.
    model.save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "model.safetensors"
    state = load_file(path)
    state["head.decoder.weight"] = state.pop("backbone.embeddings.word_embeddings.weight")
    save_file(state, path, metadata={"format": "pt"})
    loaded = archit_core.load(tmp_path / "m")
    assert_tied(loaded)
    torch.testing.assert_close(embeddings_of(loaded), embeddings_of(model))


def test_backbone_without_input_embeddings_is_refused(archit_host) -> None:
    import archit_head_masked_lm

    from archit_core.testing.toys import ToyBackbone, ToyPlugin

    archit_host.add(ToyPlugin(backbones={"plain": ToyBackbone(input_embeddings=False)}), name="toys")
    archit_host.add(archit_head_masked_lm, name="masked-lm", distribution="archit-head-masked-lm")
    with pytest.raises(archit_core.IncompatibleHeadError, match="needs 'input_embeddings'.*tied output projections"):
        archit_core.build("plain", HEAD, host=archit_host)
    untied = archit_core.build("plain", HEAD, head_config={"tie_word_embeddings": False}, host=archit_host)
    out = untied(input_ids=ids() % 50, labels=ids() % 50)
    assert out.logits.shape == (2, 6, 50) and torch.isfinite(out.loss)


@pytest.mark.parametrize(
    ("data", "field"),
    [({"tie_word_embeddings": "yes"}, "tie_word_embeddings"), ({"activation": 3}, "activation"),
     ({"layer_norm_eps": 0}, "layer_norm_eps"), ({"tied": True}, "tied")],
)
def test_invalid_configs_name_the_field(data, field) -> None:
    with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
        archit_core.get_host().head(HEAD).obj.make_config(data)


def test_unknown_activation_is_refused_at_build_time() -> None:
    pytest.importorskip("archit_backbone_bert")
    with pytest.raises(archit_core.ConfigError, match="head_config.activation"):
        archit_core.build("bert", HEAD, tiny=True, head_config={"activation": "no-such-activation"})
