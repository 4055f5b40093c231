"""Declaration of Hugging Face models modified in place: the generated classes rebuild the model (verified by
importing the code, building the top class from the config, loading the state dict strictly and comparing outputs)."""

from __future__ import annotations

import ast
import inspect
import warnings

import pytest
import torch
import transformers
from torch import nn
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    RobertaConfig,
    RobertaForMaskedLM,
)

import archit_core
from archit_core import DeclarationError, DeclarationWarning, declare

TINY = {"vocab_size": 60, "hidden_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 32,
        "max_position_embeddings": 40, "type_vocab_size": 2}


class CoolNewEmbeddingMatrix(nn.Module):
    """The seed's replacement of the word embeddings: a low-rank factorised embedding."""

    def __init__(self, num_embeddings: int, embedding_dim: int, rank: int = 4) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.rank = num_embeddings, embedding_dim, rank
        self.low = nn.Embedding(num_embeddings, rank)
        self.up = nn.Linear(rank, embedding_dim, bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.up(self.low(input_ids))


class GatedLinear(nn.Module):
    """A linear map with a learned output gate; its ``__init__`` arguments are its attributes."""

    def __init__(self, in_features: int, out_features: int, gate_bias: float = 0.0) -> None:
        super().__init__()
        self.in_features, self.out_features, self.gate_bias = in_features, out_features, gate_bias
        self.linear = nn.Linear(in_features, out_features)
        self.gate = nn.Parameter(torch.full((out_features,), gate_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * torch.sigmoid(self.gate)


def _projection(size: int) -> nn.Module:
    return nn.Linear(size, size)


class Opaque(nn.Module):
    """Its __init__ parameter is neither kept nor visible in the module's own code: it reaches the projection only
    through a helper function, which recovery does not follow."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.proj = _projection(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Tagged(nn.Module):
    """A module with a string attribute: strings are written as literals, never pasted as code."""

    def __init__(self, size: int, tag: str) -> None:
        super().__init__()
        self.size, self.tag = size, tag
        self.proj = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@pytest.fixture(autouse=True)
def _empty_host(archit_host):
    """No installed plugin takes part: these models are plain Hugging Face ones."""
    return archit_host


FAMILIES = {
    "roberta": (RobertaConfig, RobertaForMaskedLM, "roberta", ["RobertaEmbeddings", "RobertaModel", "RobertaForMaskedLM"]),
    "bert": (BertConfig, BertForMaskedLM, "bert", ["BertEmbeddings", "BertModel", "BertForMaskedLM"]),
    "deberta": (DebertaV2Config, DebertaV2ForMaskedLM, "deberta", ["DebertaV2Embeddings", "DebertaV2Model", "DebertaV2ForMaskedLM"]),
}


def tiny(family: str = "roberta", **overrides) -> nn.Module:
    config_class, model_class, _, _ = FAMILIES[family]
    torch.manual_seed(0)
    return model_class(config_class(**{**TINY, **overrides})).eval()


def generated_source(declaration, name: str) -> str:
    return inspect.getsource(getattr(declaration.load(), name))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_seed_example_three_classes_verified(family):
    model = tiny(family)
    base = getattr(model, FAMILIES[family][2])
    base.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])

    declaration = declare(model)

    expected = [f"{name}Modified" for name in FAMILIES[family][3]]
    assert declaration.classes == expected
    assert declaration.top == expected[-1]
    report = declaration.verify()
    assert report.ok and [c.name for c in report.checks] == ["build", "module tree", "state dict", "tied weights", "buffers", "outputs"]
    module = declaration.load()
    top = getattr(module, declaration.top)
    assert top.__bases__ == (type(model),) and top.forward is type(model).forward
    embeddings = getattr(module, expected[0])
    # values equal to a config field are written through it, so the class follows another config (issue 15)
    assert ("CoolNewEmbeddingMatrix(num_embeddings=config.vocab_size, embedding_dim=config.hidden_size, rank=4)"
            in inspect.getsource(embeddings))
    assert "..." not in declaration.code and "pickle" not in declaration.code
    ast.parse(declaration.code)
    # the untied decoder stays untied: the generated top class declares only the ties still valid
    assert "word_embeddings.weight" not in str(getattr(top, "_tied_weights_keys", {}))
    assert any("tied in a fresh model but not in this one" in note for note in declaration.notes)


def test_generated_class_loads_a_saved_checkpoint_strictly(tmp_path):
    model = tiny()
    model.roberta.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])
    declaration = declare(model)
    model.save_pretrained(tmp_path)
    top = declaration.top_class()
    loaded, info = top.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ids = torch.randint(5, TINY["vocab_size"], (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(input_ids=ids).logits, model(input_ids=ids).logits)


def test_one_projection_in_one_layer_builds_only_that_layer_differently():
    model = tiny()
    model.roberta.encoder.layer[1].attention.self.query = GatedLinear(16, 16)

    declaration = declare(model)
    declaration.verify()

    assert declaration.classes == [
        "RobertaSelfAttentionModified", "RobertaAttentionModified", "RobertaLayerModified", "RobertaEncoderModified",
        "RobertaModelModified", "RobertaForMaskedLMModified",
    ]
    encoder = generated_source(declaration, "RobertaEncoderModified")
    assert "RobertaLayerModified(config, layer_idx=i) if _index == 1 else RobertaLayer(config, layer_idx=i)" in encoder
    built = declaration.top_class()(model.config)
    layers = built.roberta.encoder.layer
    assert [type(layer).__name__ for layer in layers] == ["RobertaLayer", "RobertaLayerModified", "RobertaLayer"]
    assert type(layers[1].attention.self.query) is GatedLinear
    # the tie of the decoder to the word embeddings is still valid, so it is kept (no override)
    assert "_tied_weights_keys" not in declaration.code
    assert any({"lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight"} <= set(g)
               for g in archit_core.declaration.diff.tied_groups(built))


def test_same_change_in_several_layers_gives_one_class():
    model = tiny()
    for i in (0, 2):
        model.roberta.encoder.layer[i].attention.self.value = GatedLinear(16, 16)
    declaration = declare(model)
    declaration.verify()
    assert declaration.classes.count("RobertaLayerModified") == 1
    assert "if _index in (0, 2)" in declaration.code


def test_native_with_new_constructor_arguments():
    model = tiny()
    model.roberta.encoder.layer[0].output.dense = nn.Linear(32, 16, bias=False)
    model.roberta.embeddings.dropout.p = 0.3  # changed in place
    model.lm_head.layer_norm = nn.LayerNorm(16, eps=1e-3)

    declaration = declare(model)
    declaration.verify()

    assert "nn.Linear(config.intermediate_size, config.hidden_size, bias=False)" in declaration.code
    assert "nn.Dropout(p=0.3)" in declaration.code
    assert "nn.LayerNorm(config.hidden_size, eps=0.001)" in declaration.code
    assert "RobertaLMHeadModified" in declaration.classes


def test_added_submodule_is_built_in_the_new_class():
    model = tiny()
    model.roberta.encoder.adapter = nn.Sequential(nn.Linear(16, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 16))
    declaration = declare(model)
    declaration.verify()
    encoder = generated_source(declaration, "RobertaEncoderModified")
    assert ("self.adapter = nn.Sequential(nn.Linear(config.hidden_size, 4), nn.GELU(approximate='tanh'), "
            "nn.Linear(4, config.hidden_size))") in encoder


@pytest.mark.parametrize("how", ["delete", "none"])
def test_deleted_or_none_submodule_warns_that_forward_needs_rewriting(how):
    model = tiny()
    if how == "delete":
        del model.lm_head.dense
    else:
        model.lm_head.dense = None
    with pytest.warns(DeclarationWarning, match=r"lm_head\.dense was (deleted|set to None).*forward likely uses it"):
        declaration = declare(model)
    head = generated_source(declaration, "RobertaLMHeadModified")
    assert ("self.dense" not in head) if how == "delete" else ("self.dense = None" in head)
    declaration.verify(outputs=False)  # the tree, weights, ties and buffers still match; forward needs rewriting


def test_shared_module_is_shared_in_the_generated_model():
    model = tiny()
    model.roberta.encoder.layer[2].output = model.roberta.encoder.layer[0].output
    declaration = declare(model)
    declaration.verify()
    built = declaration.top_class()(model.config)
    assert built.roberta.encoder.layer[2].output is built.roberta.encoder.layer[0].output
    assert any("same module as roberta.encoder.layer.0.output" in note for note in declaration.notes)


def test_new_tie_is_declared():
    model = tiny()
    model.roberta.encoder.layer[1].output.dense = nn.Linear(32, 16)
    model.roberta.encoder.layer[2].output.dense.weight = model.roberta.encoder.layer[1].output.dense.weight
    declaration = declare(model)
    declaration.verify()
    built = declaration.top_class()(model.config)
    assert built.roberta.encoder.layer[2].output.dense.weight is built.roberta.encoder.layer[1].output.dense.weight


def test_unusual_names_and_strings_are_never_pasted_as_code():
    model = tiny()
    nasty = "x'); import os; os.system('echo pwned') #\n"
    model.roberta.encoder.add_module("odd-name here", Tagged(16, nasty))
    declaration = declare(model)
    declaration.verify()
    tree = ast.parse(declaration.code)
    assert nasty in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in ast.walk(tree))
    assert "setattr(self, 'odd-name here', Tagged(size=config.hidden_size, tag=" in declaration.code


def test_nothing_changed_gives_an_empty_declaration():
    declaration = declare(tiny())
    assert declaration.classes == [] and declaration.top is None
    assert "No difference" in declaration.code
    assert declaration.top_class() is RobertaForMaskedLM


def test_write_load_and_print_difference(tmp_path, capsys):
    model = tiny()
    model.roberta.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])
    declaration = archit_core.print_difference(model, RobertaForMaskedLM)
    assert capsys.readouterr().out.startswith(declaration.code)
    path = declaration.write(tmp_path / "declared.py")
    assert path.read_text() == declaration.code
    assert "class RobertaEmbeddingsModified(RobertaEmbeddings):" in inspect.getsource(declaration.load())
    assert declare(model, suffix="WithLowRank").classes[-1] == "RobertaForMaskedLMWithLowRank"


def test_reference_given_as_a_string():
    model = tiny()
    model.roberta.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])
    declaration = declare(model, "transformers:RobertaForMaskedLM")
    assert declaration.reference_class is RobertaForMaskedLM


@pytest.mark.parametrize(
    ("make", "reference", "message"),
    [
        (lambda: nn.Linear(2, 2), None, r"has no config attribute.*needs a model built from a config"),
        (lambda: tiny(), "transformers:NoSuchModel", r"unknown reference class 'transformers:NoSuchModel'"),
        (lambda: tiny(), BertForMaskedLM, r"the instance is a RobertaForMaskedLM, not a BertForMaskedLM"),
        (lambda: tiny(), int, r"reference_class must be an nn.Module class"),
        ("not a module", None, r"declare takes an nn.Module"),
    ],
)
def test_user_errors_are_clear(make, reference, message):
    instance = make() if callable(make) else make
    with pytest.raises(DeclarationError, match=message):
        declare(instance, reference)


def test_module_that_cannot_be_inferred_names_its_path_and_the_way_out():
    model = tiny()
    model.roberta.encoder.layer[2].intermediate.dense = Opaque(16)
    with pytest.raises(DeclarationError, match=r"cannot declare roberta\.encoder\.layer\.2\.intermediate\.dense .*Opaque.*"
                                               r"needs 'size'.*Implement the hook declare_module"):
        declare(model)


def test_bad_suffix():
    with pytest.raises(DeclarationError, match="suffix must be a non-empty identifier part"):
        declare(tiny(), suffix="-x")


def test_class_defined_in_a_function_is_refused_with_the_reason():
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()

        def forward(self, x):
            return x

    model = tiny()
    model.roberta.embeddings.dropout = Local()
    with pytest.raises(DeclarationError, match=r"cannot be imported by name.*top level of an importable module"):
        declare(model)


def test_verify_reports_a_difference():
    model = tiny()
    model.roberta.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])
    declaration = declare(model)
    model.roberta.embeddings.word_embeddings.rank = 5  # the instance changes after declaring
    model.roberta.embeddings.word_embeddings.low = nn.Embedding(TINY["vocab_size"], 5)
    model.roberta.embeddings.word_embeddings.up = nn.Linear(5, 16, bias=False)
    with pytest.raises(DeclarationError, match=r"FAIL\s+module tree"):
        declaration.verify()


def test_declaring_warns_nothing_for_a_clean_replacement():
    model = tiny()
    model.roberta.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeclarationWarning)
        declare(model)


def test_added_parameter_and_buffer_are_declared():
    model = tiny()
    model.roberta.encoder.scale = nn.Parameter(torch.randn(16))
    model.roberta.encoder.register_buffer("counts", torch.arange(4.0))
    declaration = declare(model)
    declaration.verify()
    source = generated_source(declaration, "RobertaEncoderModified")
    assert "self.scale = nn.Parameter(torch.empty((16,), dtype=torch.float32))" in source
    assert "self.register_buffer('counts', torch.empty((4,), dtype=torch.float32))" in source


def test_generated_classes_build_no_module_twice(monkeypatch):
    model = tiny()
    model.roberta.embeddings.word_embeddings = CoolNewEmbeddingMatrix(TINY["vocab_size"], TINY["hidden_size"])
    model.roberta.encoder.layer[1].attention.self.query = GatedLinear(16, 16)
    model.roberta.encoder.layer[2].output.dense = nn.Linear(32, 16, bias=False)
    top = declare(model).top_class()
    built = []
    original_init = nn.Module.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "__init__", counting)
    result = top(model.config)
    monkeypatch.undo()
    held = list(result.modules())
    assert len(built) == len(held) and {id(m) for m in built} == {id(m) for m in held}


def test_a_decoder_with_a_kv_cache_verifies():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, intermediate_size=64)
    model = transformers.LlamaForCausalLM(config)
    model.model.layers[0].mlp.act_fn = nn.ReLU()
    report = archit_core.declare(model).verify()  # its outputs carry a DynamicCache, compared by its tensors
    assert "outputs" in str(report)


def test_a_change_outside_the_modules_is_an_error_not_an_empty_declaration():
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
    model = transformers.BertForSequenceClassification(config)
    model.bert.encoder.layer[0].attention.self.scaling = 2.0
    with pytest.raises(archit_core.DeclarationError, match=r"only outside its modules .*attribute scaling is 2\.0"):
        archit_core.declare(model)
