"""Declaration of the modules people write (issue 15): constructor arguments recovered from the class's ``__init__``
source, values written through the config, the ``arguments=`` way out, and verification that a wrong declaration
cannot pass (issue 14: train mode under a fixed seed, gradients, every value attribute by type)."""

from __future__ import annotations

import enum
import inspect

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

from archit_core import DeclarationError, declare
from archit_core.declaration.declare import Declaration
from archit_core.declaration.recovery import RecoveryError, recover_call

TINY = {"vocab_size": 60, "hidden_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 32,
        "max_position_embeddings": 40, "type_vocab_size": 2}


# -- the modules -------------------------------------------------------------------------------------------------
class LowRankEmbedding(torch.nn.Module):
    """The issue's example: no argument is kept as an attribute."""

    def __init__(self, vocab_size, hidden_size, rank=8):
        super().__init__()
        self.low = torch.nn.Embedding(vocab_size, rank)
        self.up = torch.nn.Linear(rank, hidden_size, bias=False)

    def forward(self, input_ids):
        return self.up(self.low(input_ids))


class Renamed(nn.Module):
    """An argument kept under another name, and one only visible in a child's keyword argument."""

    def __init__(self, size: int, *, use_bias: bool = True) -> None:
        super().__init__()
        self.width = size
        self.proj = nn.Linear(size, size, bias=use_bias)

    def forward(self, x):
        return self.proj(x)


class Expand(nn.Module):
    """Simple arithmetic: the inner width is ``hidden * expansion``, the output ``hidden``."""

    def __init__(self, hidden: int, expansion: int = 4, out_delta: int = 0) -> None:
        super().__init__()
        inner = hidden * expansion
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden + out_delta)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class Shaped(nn.Module):
    """Arguments visible only in a parameter's and a buffer's shape."""

    def __init__(self, n: int, extra: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n, n) * 0.02)
        self.register_buffer("offset", torch.zeros(n + extra))

    def forward(self, x):
        return x @ self.weight + self.offset[: x.shape[-1]]


class Comprehension(nn.Module):
    """An ``nn.ModuleList`` built by a comprehension over a parameter."""

    def __init__(self, width: int, depth: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class LoopSequential(nn.Module):
    """An ``nn.Sequential`` of a list extended in a loop."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Base(nn.Module):
    """A user base class: its ``__init__`` gets the derived class's arguments through ``super().__init__``."""

    def __init__(self, hidden: int, inner: int, *, p: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)
        self._p = p

    def forward(self, x):
        return self.fc2(F.dropout(torch.relu(self.fc1(x)), self._p, self.training))


class Derived(Base):
    def __init__(self, hidden: int, expansion: int = 2, p: float = 0.1) -> None:
        super().__init__(hidden, hidden * expansion, p=p)


class AppendLoop(nn.Module):
    """``self.blocks.append(...)`` in a loop, of a user class (recovered in turn)."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            self.blocks.append(Derived(width))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class Branch(nn.Module):
    """A flag that decides which children exist."""

    def __init__(self, size: int, gated: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(size, size)
        if gated:
            self.gate = nn.Linear(size, size)

    def forward(self, x):
        y = self.proj(x)
        return y * torch.sigmoid(self.gate(x)) if hasattr(self, "gate") else y


class MaybeNorm(nn.Module):
    """A conditional child: which class it is tells the flag."""

    def __init__(self, size: int, norm: bool = True) -> None:
        super().__init__()
        self.proj = nn.Linear(size, size)
        self.norm = nn.LayerNorm(size) if norm else nn.Identity()

    def forward(self, x):
        return self.norm(self.proj(x))


class Undecidable(nn.Module):
    """Refused: both branches build the same names."""

    def __init__(self, size: int, wide) -> None:
        super().__init__()
        if wide:
            self.proj = nn.Linear(4, 4)
        else:
            self.proj = nn.Linear(4, 4)
        self.size = size

    def forward(self, x):
        return self.proj(x)


class Seeded(nn.Module):
    """Refused: the seed is used but never stored."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        return self.proj(x)


class PrivateDropout(nn.Module):
    """The dropout probability held in a private attribute (issue 14): eval mode cannot see it."""

    def __init__(self, size: int, p: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Linear(size, size)
        self._p = p

    def forward(self, x):
        return F.dropout(self.proj(x), self._p, self.training)


class HiddenDropout(nn.Module):
    """The probability hidden in a dict: neither recovery nor the attribute check can see it, train mode can."""

    def __init__(self, size: int, p: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Linear(size, size)
        self._settings = {"p": p}

    def forward(self, x):
        return F.dropout(self.proj(x), self._settings["p"], self.training)


class Activation(str):
    """A ``str`` subclass naming an activation (issue 14)."""


class Mode(enum.Enum):
    RELU = "relu"
    TANH = "tanh"


class Activated(nn.Module):
    def __init__(self, size: int, kind: str = "relu", mode: Mode = Mode.RELU) -> None:
        super().__init__()
        self.size, self.kind, self.mode = size, kind, mode
        self.proj = nn.Linear(size, size)

    def forward(self, x):
        y = self.proj(x)
        return torch.tanh(y) if self.kind == "tanh" or self.mode is Mode.TANH else torch.relu(y)


def _helper(size: int) -> nn.Module:
    return nn.Linear(size, size)


class ThroughHelper(nn.Module):
    """Refused: the argument reaches the module only through a function."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.proj = _helper(size)

    def forward(self, x):
        return self.proj(x)


class ThroughConfig(nn.Module):
    """Refused: the argument is an object read through its attributes."""

    def __init__(self, config) -> None:
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return self.proj(x)


class Divided(nn.Module):
    """Refused: ``size // ratio == 4`` has several solutions."""

    def __init__(self, size: int, ratio: int) -> None:
        super().__init__()
        self.down = nn.Linear(16, size // ratio)

    def forward(self, x):
        return self.down(x)


class FixedOutput(nn.Module):
    """Its output width is a constant: written through the config it would not follow a config of another size."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(size, 16)

    def forward(self, x):
        return self.proj(x)


@pytest.fixture(autouse=True)
def _empty_host(archit_host):
    return archit_host


def tiny(model_class=RobertaForMaskedLM, config_class=RobertaConfig, **overrides) -> nn.Module:
    torch.manual_seed(0)
    return model_class(config_class(**{**TINY, **overrides})).eval()


def source_of(declaration, name: str) -> str:
    return inspect.getsource(getattr(declaration.load(), name))


# -- the example -----------------------------------------------------------------------------------------
def test_low_rank_embedding_declares_without_plugin_or_arguments():
    model = tiny()
    model.roberta.embeddings.word_embeddings = LowRankEmbedding(model.config.vocab_size, model.config.hidden_size)

    declaration = declare(model, RobertaForMaskedLM)

    assert declaration.classes == ["RobertaEmbeddingsModified", "RobertaModelModified", "RobertaForMaskedLMModified"]
    assert "self.word_embeddings = LowRankEmbedding(config.vocab_size, config.hidden_size)\n" in \
        source_of(declaration, "RobertaEmbeddingsModified")
    assert declaration.verify().ok
    # the declared class follows another config: another vocabulary size gives that size
    other = RobertaConfig(**{**TINY, "vocab_size": 90})
    built = declaration.top_class()(other)
    embedding = built.roberta.embeddings.word_embeddings
    assert type(embedding) is LowRankEmbedding
    assert (embedding.low.num_embeddings, embedding.low.embedding_dim, embedding.up.out_features) == (90, 8, 16)
    with torch.no_grad():
        assert built.eval()(input_ids=torch.tensor([[0, 89, 5]])).logits.shape == (1, 3, 90)


def test_a_rank_other_than_the_default_is_written():
    model = tiny(BertForMaskedLM, BertConfig)
    model.bert.embeddings.word_embeddings = LowRankEmbedding(60, 16, rank=5)
    declaration = declare(model)
    assert "LowRankEmbedding(config.vocab_size, config.hidden_size, rank=5)" in declaration.code
    declaration.verify()


# -- each form of recovery ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (LowRankEmbedding(60, 16), ((60, 16), {})),  # positional, default left out
        (LowRankEmbedding(60, 16, rank=5), ((60, 16), {"rank": 5})),  # keyword, non-default
        (Renamed(7, use_bias=False), ((7,), {"use_bias": False})),  # another name; a child's keyword argument
        (Expand(6, expansion=3, out_delta=2), ((6,), {"expansion": 3, "out_delta": 2})),  # arithmetic of a local
        (Shaped(5, 2), ((5, 2), {})),  # parameter and buffer shapes
        (Comprehension(4, depth=5), ((4,), {"depth": 5})),  # ModuleList comprehension over a parameter
        (LoopSequential(4, 3), ((4, 3), {})),  # Sequential of a list extended in a loop
        (Derived(8, expansion=3, p=0.9), ((8,), {"expansion": 3, "p": 0.9})),  # super().__init__ into a user base
        (AppendLoop(4, 2), ((4, 2), {})),  # ModuleList.append in a loop, of a user class
        (Branch(4, gated=True), ((4,), {"gated": True})),  # a flag decided by which children exist
        (Branch(4), ((4,), {})),
        (PrivateDropout(4, p=0.9), ((4,), {"p": 0.9})),  # a private attribute
        (MaybeNorm(4, norm=False), ((4,), {"norm": False})),  # a conditional child
        (MaybeNorm(4), ((4,), {})),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "",
)
def test_recovered_forms(module, expected):
    cls, args, kwargs = recover_call(module, lambda v: True)
    assert (cls, args, kwargs) == (type(module), *expected)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (ThroughHelper(4), r"needs 'size', which is only passed to _helper\(\), a function archit does not follow"),
        (ThroughConfig(BertConfig(hidden_size=16)), r"needs 'config', which is read through its attributes \(config\.hidden_size\)"),
        (Divided(8, 2), r"needs 'size', which appears only in size // ratio == 4, which does not determine it"),
        (Undecidable(3, True), r"needs 'wide', which decides the branch `if wide:`, which archit cannot tell from the module"),
        (Seeded(3), r"needs 'seed', which cannot be recovered: it reaches no submodule, parameter shape or attribute"),
    ],
)
def test_refused_forms_name_the_parameter_and_why(module, message):
    with pytest.raises(RecoveryError, match=message):
        recover_call(module, lambda v: True)


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("roberta.encoder.layer.1.intermediate.dense", lambda: Expand(16, expansion=2, out_delta=16)),
        ("roberta.encoder.layer.0.attention.self.query", lambda: Derived(16, expansion=3, p=0.0)),
        ("roberta.encoder.layer.2.output.dense", lambda: nn.Sequential(Comprehension(32, depth=3), nn.Linear(32, 16))),
        ("lm_head.dense", lambda: LoopSequential(16, 2)),
        ("roberta.encoder.layer.0.attention.output.dense", lambda: AppendLoop(16, 3)),
        ("roberta.encoder.layer.1.attention.self.key", lambda: Branch(16, gated=True)),
    ],
)
def test_recovered_modules_declare_and_verify(path, make):
    model = tiny()
    parent, _, key = path.rpartition(".")
    setattr(model.get_submodule(parent), key, make())
    declaration = declare(model)
    report = declaration.verify()
    assert report.ok
    assert type(declaration.top_class()(model.config).get_submodule(path)) is type(model.get_submodule(path))


def test_unsolvable_is_a_clear_error_offering_the_way_out_without_a_plugin():
    model = tiny()
    model.roberta.encoder.layer[0].intermediate.dense = Divided(32, 1)
    path = "roberta.encoder.layer.0.intermediate.dense"
    with pytest.raises(DeclarationError) as caught:
        declare(model)
    message = str(caught.value)
    assert f"cannot declare {path}" in message and "needs 'size'" in message
    assert f"declare(model, arguments={{'{path}': {{'size': ...}}}})" in message
    assert "arguments={Divided: lambda module: {...}}" in message

    by_path = declare(model, arguments={path: {"size": 32, "ratio": 1}})
    by_path.verify()
    # Divided's input width is a constant (16), so written through the config it would not follow another config
    assert "Divided(32, 1)" in by_path.code and any("written as numbers" in n for n in by_path.notes)
    by_class = declare(model, arguments={Divided: lambda module: {"size": module.down.out_features, "ratio": 1}})
    assert by_class.code == by_path.code


def test_a_config_object_is_given_as_the_config_in_scope():
    model = tiny()
    path = "roberta.encoder.layer.1.attention.self.value"
    model.get_submodule(path.rpartition(".")[0]).value = ThroughConfig(model.config)
    with pytest.raises(DeclarationError, match=r"needs 'config', which is read through its attributes"):
        declare(model)
    declaration = declare(model, arguments={path: {"config": model.config}})
    assert "self.value = ThroughConfig(config)" in declaration.code
    declaration.verify()


def test_given_arguments_are_checked():
    model = tiny()
    model.roberta.encoder.layer[0].intermediate.dense = Divided(32, 1)
    with pytest.raises(DeclarationError, match=r"'roberta\.encoder\.layer\.0\.intermediate\.dens', which is not a module path.*did you mean 'roberta\.encoder\.layer\.0\.intermediate\.dense'"):
        declare(model, arguments={"roberta.encoder.layer.0.intermediate.dens": {"size": 32}})
    with pytest.raises(DeclarationError, match=r"needs 'sise', which is not a parameter"):
        declare(model, arguments={"roberta.encoder.layer.0.intermediate.dense": {"sise": 32}})
    with pytest.raises(DeclarationError, match=r"given and recovered \(64, 1\) do not rebuild it"):
        declare(model, arguments={"roberta.encoder.layer.0.intermediate.dense": {"size": 64, "ratio": 1}})


# -- values through the config -----------------------------------------------------------------------------------
def test_ambiguous_values_stay_literals_and_config_fields_can_be_turned_off():
    model = tiny()
    # 2 is the number of heads and the type vocabulary size: ambiguous, so written as 2
    model.roberta.embeddings.word_embeddings = LowRankEmbedding(60, 16, rank=2)
    assert "LowRankEmbedding(config.vocab_size, config.hidden_size, rank=2)" in declare(model).code
    literal = declare(model, config_fields=False)
    assert "LowRankEmbedding(60, 16, rank=2)" in literal.code
    literal.verify()


def test_a_value_that_does_not_follow_another_config_falls_back_to_numbers():
    model = tiny()
    model.roberta.encoder.layer[1].attention.self.query = FixedOutput(16)
    model.roberta.encoder.layer[0].output.dense = Expand(32, expansion=2, out_delta=-16)  # -16: no field
    declaration = declare(model)
    assert "FixedOutput(16)" in declaration.code and "Expand(32, expansion=2, out_delta=-16)" in declaration.code
    assert any("written as numbers" in note and "config.hidden_size" in note for note in declaration.notes)
    declaration.verify()


def test_a_module_list_whose_length_is_a_config_field_is_written_as_that_field():
    model = tiny()
    model.roberta.encoder.adapters = nn.ModuleList([nn.Linear(16, 16) for _ in range(3)])  # 3 = num_hidden_layers
    model.roberta.encoder.heads = nn.ModuleList([nn.Linear(16, 2, bias=False) for _ in range(5)])
    declaration = declare(model)
    encoder = source_of(declaration, "RobertaEncoderModified")
    assert "nn.ModuleList([nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.num_hidden_layers)])" in encoder
    assert "nn.ModuleList([nn.Linear(config.hidden_size, 2, bias=False) for _ in range(5)])" in encoder
    declaration.verify()
    deeper = declaration.top_class()(RobertaConfig(**{**TINY, "num_hidden_layers": 4}))
    assert len(deeper.roberta.encoder.adapters) == 4 and len(deeper.roberta.encoder.heads) == 5


def test_a_shortened_layer_list_is_one_comprehension():
    model = tiny(num_hidden_layers=6)
    model.roberta.encoder.layer = model.roberta.encoder.layer[:4]
    declaration = declare(model)
    assert "self.layer = nn.ModuleList([RobertaLayer(config=config, layer_idx=i) for i in range(4)])" in declaration.code
    declaration.verify()


# -- verification that cannot be fooled (issue 14) ---------------------------------------------------------------
def _forged(declaration: Declaration, old: str, new: str) -> Declaration:
    assert old in declaration.code
    return Declaration(declaration.code.replace(old, new), declaration.classes, declaration.instance,
                       declaration.reference_class, notes=[], warnings=[], host=declaration.host)


def test_a_private_dropout_probability_is_declared_and_a_wrong_one_fails_verification():
    model = tiny()
    model.roberta.encoder.layer[1].output.dense = nn.Sequential(nn.Linear(32, 16), PrivateDropout(16, p=0.9))
    declaration = declare(model)
    assert "PrivateDropout(config.hidden_size, p=0.9)" in declaration.code
    declaration.verify()
    wrong = _forged(declaration, "PrivateDropout(config.hidden_size, p=0.9)", "PrivateDropout(config.hidden_size)")
    with pytest.raises(DeclarationError, match=r"FAIL\s+module tree: .*attribute _p is 0\.9 in the model, 0\.1 rebuilt"):
        wrong.verify()


def test_train_mode_under_a_fixed_seed_catches_what_eval_mode_cannot():
    model = tiny()
    model.roberta.encoder.layer[2].attention.output.dense = HiddenDropout(16, p=0.9)
    declaration = declare(model)  # p is invisible (in a dict): recovery keeps the default, 0.1
    with pytest.raises(DeclarationError, match=r"FAIL\s+outputs: train-mode output \(seed 0\)"):
        declaration.verify()
    fixed = declare(model, arguments={"roberta.encoder.layer.2.attention.output.dense": {"p": 0.9}})
    report = fixed.verify()
    assert "in train mode (seed 0)" in str(report) and "gradients" in str(report)
    # the instance is left as it was: eval mode, no gradients
    assert not model.training and all(p.grad is None for p in model.parameters())


def test_gradients_are_compared():
    model = tiny()
    model.roberta.encoder.layer[0].intermediate.dense = nn.Linear(16, 32, bias=False)
    declaration = declare(model)
    declaration.verify()
    forged = _forged(declaration, "def __init__(self, config):\n        super(RobertaIntermediate, self).__init__()",
                     "def __init__(self, config):\n        super(RobertaIntermediate, self).__init__()\n"
                     "        self.register_full_backward_pre_hook(lambda m, g: (g[0] * 2,))")
    with pytest.raises(DeclarationError, match=r"FAIL\s+outputs: gradient of "):
        forged.verify()


def test_str_subclass_and_enum_values_are_written_not_replaced_by_the_default():
    model = tiny()
    model.roberta.encoder.layer[0].output.dense = nn.Sequential(nn.Linear(32, 16), Activated(16, Activation("tanh"), Mode.TANH))
    declaration = declare(model)
    assert "Activated(size=config.hidden_size, kind=Activation('tanh'), mode=Mode.TANH)" in declaration.code
    declaration.verify()
    plain = _forged(declaration, "kind=Activation('tanh')", "kind='tanh'")
    with pytest.raises(DeclarationError, match=r"attribute kind is 'tanh' in the model, 'tanh' rebuilt \(Activation vs str\)"):
        plain.verify()


def test_the_declare_command_takes_arguments(tmp_path, monkeypatch, capsys):
    from archit_core.declaration import declare_command

    (tmp_path / "divided_factory.py").write_text(
        "import torch\n"
        "from transformers import RobertaConfig, RobertaForMaskedLM\n"
        "from torch import nn\n\n\n"
        "class Halved(nn.Module):\n"
        "    def __init__(self, size, ratio):\n"
        "        super().__init__()\n"
        "        self.down = nn.Linear(32, size // ratio)\n\n"
        "    def forward(self, x):\n"
        "        return self.down(x)\n\n\n"
        "def make():\n"
        "    torch.manual_seed(0)\n"
        "    model = RobertaForMaskedLM(RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,\n"
        "                                             num_attention_heads=2, intermediate_size=32))\n"
        "    model.roberta.encoder.layer[1].output.dense = Halved(16, 1)\n"
        "    return model\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DeclarationError, match=r"needs 'size'"):
        declare_command("divided_factory:make")
    assert declare_command("divided_factory:make", verify=True,
                           arguments={"roberta.encoder.layer.1.output.dense": {"size": 16, "ratio": 1}}) == 0
    captured = capsys.readouterr()
    assert "Halved(16, 1)" in captured.out and "verified RobertaForMaskedLMModified" in captured.err
