"""Only generative heads make generative models; generation works after save and load (archit and AutoModel),
with the backbone's special tokens; causal-lm needs a causal backbone."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.model.modeling import GenerativeModelWithHead, ModelWithHead

HEAD = "causal-lm"


@pytest.fixture
def gpt2_model():
    pytest.importorskip("archit_backbone_gpt2")
    torch.manual_seed(0)
    return archit_core.build("gpt2", HEAD, tiny=True).eval()


def prompt() -> torch.Tensor:
    return torch.randint(5, 999, (2, 5), generator=torch.Generator().manual_seed(3))


def test_causal_model_generates_and_others_do_not(gpt2_model) -> None:
    assert isinstance(gpt2_model, GenerativeModelWithHead) and isinstance(gpt2_model, transformers.GenerationMixin)
    assert gpt2_model.can_generate() and gpt2_model.generation_config.eos_token_id == 999  # the backbone's
    classifier = archit_core.build("gpt2", "token-classification", tiny=True)
    assert isinstance(classifier, ModelWithHead) and not isinstance(classifier, transformers.GenerationMixin)
    assert not classifier.can_generate()


def test_generation_survives_save_and_load(gpt2_model, tmp_path) -> None:
    options = {"max_new_tokens": 4, "do_sample": False, "pad_token_id": 0}
    expected = gpt2_model.generate(prompt(), **options)
    gpt2_model.save_pretrained(tmp_path / "m")
    for loaded in (archit_core.load(tmp_path / "m"), transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "m")):
        assert type(loaded) is type(gpt2_model) and isinstance(loaded, GenerativeModelWithHead)
        assert loaded.head.decoder.weight is loaded.backbone.get_input_embeddings().weight
        assert torch.equal(loaded.eval().generate(prompt(), **options), expected)


def test_cache_is_returned_and_reused(gpt2_model) -> None:
    ids = prompt()
    with torch.no_grad():
        full = gpt2_model(input_ids=ids).logits
        first = gpt2_model(input_ids=ids[:, :-1], use_cache=True)
        step = gpt2_model(input_ids=ids[:, -1:], past_key_values=first.past_key_values, use_cache=True)
    assert first.past_key_values is not None
    torch.testing.assert_close(step.logits[:, -1], full[:, -1])


def test_the_cache_follows_transformers_own_name(gpt2_model) -> None:
    """The output's cache field has the name transformers' own causal-LM outputs use on this release (``cache``
    from 5.24, ``past_key_values`` before), and a cache passed under either name is reused."""
    from transformers.modeling_outputs import CausalLMOutputWithPast

    from archit_core.model.transformers_compat import CACHE

    assert CACHE in CausalLMOutputWithPast.__dataclass_fields__
    assert CACHE in archit_core.ArchitOutput.__dataclass_fields__
    assert set(archit_core.ArchitOutput.__dataclass_fields__) - {CACHE} == {"loss", "logits", "hidden_states"}
    ids = prompt()
    with torch.no_grad():
        full = gpt2_model(input_ids=ids).logits
        for name in ("cache", "past_key_values"):
            first = gpt2_model(input_ids=ids[:, :-1], use_cache=True)
            cache = first[CACHE]
            assert cache is not None and first.to_tuple()[1] is cache
            step = gpt2_model(input_ids=ids[:, -1:], use_cache=True, **{name: cache})
            torch.testing.assert_close(step.logits[:, -1], full[:, -1])
        with pytest.raises(archit_core.ArchitError, match="both as"):
            gpt2_model(input_ids=ids[:, -1:], cache=cache, past_key_values=cache)


def test_encoders_are_refused_unless_configured_as_decoders() -> None:
    pytest.importorskip("archit_backbone_bert")
    with pytest.raises(archit_core.IncompatibleHeadError, match="'causal'"):
        archit_core.build("bert", HEAD, tiny=True)
    decoder = archit_core.build("bert", HEAD, tiny=True, backbone_config={"is_decoder": True})
    out = decoder(input_ids=prompt(), labels=prompt())
    assert out.logits.shape == (2, 5, 1000) and torch.isfinite(out.loss)


def test_tie_choice_follows_the_backbone_unless_set() -> None:
    pytest.importorskip("archit_backbone_llama")
    untied = archit_core.build("llama", HEAD, tiny=True)  # tiny llama: tie_word_embeddings=False
    assert untied._tied_weights_keys == {}
    tied = archit_core.build("llama", HEAD, tiny=True, head_config={"tie_word_embeddings": True})
    assert tied._tied_weights_keys == {"head.decoder.weight": "backbone.embed_tokens.weight"}
    assert tied.head.decoder.weight is tied.backbone.embed_tokens.weight


def test_invalid_config_names_the_field() -> None:
    with pytest.raises(archit_core.ConfigError, match="head_config.tie_word_embeddings"):
        archit_core.get_host().head(HEAD).obj.make_config({"tie_word_embeddings": "no"})
