"""``archit declare MODULE:FACTORY [--reference MODULE:CLASS] [--output FILE] [--verify]``."""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest

from archit_core import PluginHost
from archit_core.cli.main import main

FACTORY = textwrap.dedent(
    '''
    import torch
    from torch import nn
    from transformers import RobertaConfig, RobertaForMaskedLM


    class Factorised(nn.Module):
        def __init__(self, num_embeddings, embedding_dim, rank=4):
            super().__init__()
            self.num_embeddings, self.embedding_dim, self.rank = num_embeddings, embedding_dim, rank
            self.low = nn.Embedding(num_embeddings, rank)
            self.up = nn.Linear(rank, embedding_dim, bias=False)

        def forward(self, input_ids):
            return self.up(self.low(input_ids))


    def make():
        torch.manual_seed(0)
        model = RobertaForMaskedLM(RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                                                 num_attention_heads=2, intermediate_size=32, max_position_embeddings=30))
        model.roberta.embeddings.word_embeddings = Factorised(50, 16)
        return model


    def not_a_model():
        return 42
    '''
)


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    name = f"declare_factory_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def run(*argv):
    return main(list(argv), host=PluginHost(entry_points=False, strict=True))


def test_declare_prints_the_code_and_verifies(factory_module, capsys):
    assert run("declare", f"{factory_module}:make", "--reference", "transformers:RobertaForMaskedLM", "--verify") == 0
    captured = capsys.readouterr()
    tree = ast.parse(captured.out)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == ["RobertaEmbeddingsModified", "RobertaModelModified", "RobertaForMaskedLMModified"]
    assert f"from {factory_module} import Factorised" in captured.out
    assert "verified RobertaForMaskedLMModified:" in captured.err
    assert "ok    outputs: equal in eval mode" in captured.err


def test_declare_writes_a_file(factory_module, tmp_path, capsys):
    target = tmp_path / "declared.py"
    assert run("declare", f"{factory_module}:make", "--output", str(target)) == 0
    assert "wrote RobertaEmbeddingsModified, RobertaModelModified, RobertaForMaskedLMModified to" in capsys.readouterr().out
    assert "class RobertaForMaskedLMModified(RobertaForMaskedLM):" in target.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{m}:missing"], "cannot import the factory '{m}:missing'"),
        (["{m}"], "the factory '{m}' must be 'package.module:name'"),
        (["{m}:not_a_model"], "returned a int, not an nn.Module"),
        (["{m}:make", "--reference", "transformers:BertForMaskedLM"], "the instance is a RobertaForMaskedLM, not a BertForMaskedLM"),
        (["no_such_module_xyz:make"], "cannot import the factory 'no_such_module_xyz:make': ModuleNotFoundError"),
    ],
)
def test_declare_errors_exit_2_with_the_reason(factory_module, capsys, argv, message):
    assert run("declare", *[a.format(m=factory_module) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archit declare: error: ") and message.format(m=factory_module) in err


UNSOLVABLE = textwrap.dedent(
    '''
    from torch import nn
    from transformers import RobertaConfig, RobertaForMaskedLM


    def _width(size):
        return size


    class Opaque(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.proj = nn.Linear(_width(size), 16)

        def forward(self, x):
            return self.proj(x)


    def make():
        model = RobertaForMaskedLM(RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=32, max_position_embeddings=30))
        model.lm_head.dense = Opaque(16)
        return model
    '''
)


def test_declare_takes_arguments_recovery_cannot_find(tmp_path, monkeypatch, capsys):
    """``--arguments`` is the command line's way out when a constructor argument cannot be recovered."""
    name = f"declare_opaque_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(UNSOLVABLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert run("declare", f"{name}:make") == 2
        assert "size" in capsys.readouterr().err
        assert run("declare", f"{name}:make", "--arguments", '{"lm_head.dense": {"size": 16}}', "--verify") == 0
        assert "Opaque(16)" in capsys.readouterr().out
    finally:
        sys.modules.pop(name, None)
