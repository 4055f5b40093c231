"""Property: random replacements on random tiny models always give a declaration that verifies (same tree, strict
state dict, same ties and buffers, same outputs)."""

from __future__ import annotations

import warnings

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForSequenceClassification

from archit_core import DeclarationWarning, PluginHost, declare


class ToyConfig:
    """A plain config object (not a transformers config)."""

    def __init__(self, vocab_size: int, hidden: int, layers: int, ffn: int, dropout: float) -> None:
        self.vocab_size, self.hidden, self.layers, self.ffn, self.dropout = vocab_size, hidden, layers, ffn, dropout


class ToyBlock(nn.Module):
    def __init__(self, config: ToyConfig, index: int) -> None:
        super().__init__()
        self.index = index
        self.mix = nn.Linear(config.hidden, config.hidden)
        self.ffn = nn.Sequential(nn.Linear(config.hidden, config.ffn), nn.GELU(), nn.Linear(config.ffn, config.hidden))
        self.norm = nn.LayerNorm(config.hidden)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.drop(self.ffn(self.mix(x))))


class ToyModel(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden)
        self.blocks = nn.ModuleList([ToyBlock(config, i) for i in range(config.layers)])
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x)
        return self.out(x)


class LowRank(nn.Module):
    def __init__(self, in_features: int, out_features: int, rank: int) -> None:
        super().__init__()
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


class HiddenLowRank(nn.Module):
    """Keeps none of its arguments: declared by recovering them from ``__init__``."""

    def __init__(self, in_features: int, out_features: int, rank: int = 2) -> None:
        super().__init__()
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


@st.composite
def tiny_models(draw: st.DrawFn) -> nn.Module:
    hidden = draw(st.sampled_from([8, 12, 16]))
    layers = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["toy", "bert", "roberta"]))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    if kind == "toy":
        return ToyModel(ToyConfig(vocab_size=30, hidden=hidden, layers=layers, ffn=2 * hidden, dropout=0.1))
    common = {"vocab_size": 30, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": 2,
              "intermediate_size": 2 * hidden, "max_position_embeddings": 24}
    if kind == "bert":
        return BertForMaskedLM(BertConfig(**common))
    return RobertaForSequenceClassification(RobertaConfig(**common, num_labels=3))


def _replacement(draw: st.DrawFn, old: nn.Linear) -> nn.Module:
    n_in, n_out = old.in_features, old.out_features
    choice = draw(st.sampled_from(["linear", "lowrank", "sequential", "dict-wrapped", "recovered"]))
    if choice == "linear":
        return nn.Linear(n_in, n_out, bias=draw(st.booleans()))
    if choice == "lowrank":
        return LowRank(n_in, n_out, draw(st.integers(1, 3)))
    if choice == "recovered":
        return HiddenLowRank(n_in, n_out, draw(st.integers(1, 3)))
    width = draw(st.integers(2, 6))
    activation = draw(st.sampled_from([nn.ReLU(), nn.Tanh(), nn.GELU(approximate="tanh"), nn.Identity()]))
    if choice == "sequential":
        return nn.Sequential(nn.Linear(n_in, width), activation, nn.Linear(width, n_out))
    return nn.Sequential(nn.Linear(n_in, n_out), nn.Dropout(draw(st.sampled_from([0.0, 0.2]))))


@given(data=st.data())
@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
def test_random_replacements_always_verify(data):
    model = data.draw(tiny_models())
    linears = sorted(n for n, m in model.named_modules() if type(m) is nn.Linear)
    targets = data.draw(st.lists(st.sampled_from(linears), min_size=1, max_size=3, unique=True))
    for path in targets:
        parent_path, _, key = path.rpartition(".")
        parent = model.get_submodule(parent_path)
        setattr(parent, key, _replacement(data.draw, getattr(parent, key)))
    dropouts = [n for n, m in model.named_modules() if type(m) is nn.Dropout]
    if dropouts and data.draw(st.booleans()):
        model.get_submodule(data.draw(st.sampled_from(dropouts))).p = 0.25
    model.eval()

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeclarationWarning)  # replacements delete nothing
        declaration = declare(model, host=PluginHost(entry_points=False, strict=True))
    report = declaration.verify()

    assert report.ok
    assert declaration.top == f"{type(model).__name__}Modified"
    built = declaration.top_class()(model.config)
    for path in targets:
        assert type(built.get_submodule(path)) is type(model.get_submodule(path))
