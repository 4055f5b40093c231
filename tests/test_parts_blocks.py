"""The head and rewrite building blocks plugins are made of: classification losses by problem type and their random
labels, label checks, grouped inputs, initialisation by name, named outputs, adapter layers, declared constructors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archit_core
from archit_core import ArchitError, classification_loss, random_labels
from archit_core.rewrites import AdapterLayer, adapter_layers, merge, set_adapter, unmerge


def _hf_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None) -> torch.Tensor:
    """What transformers' *ForSequenceClassification computes."""
    n = logits.size(-1)
    if problem_type is None:
        problem_type = "regression" if n == 1 else "single_label_classification" if labels.dtype in (torch.long, torch.int) else "multi"
    if problem_type == "regression":
        return nn.MSELoss()(logits.squeeze(), labels.squeeze()) if n == 1 else nn.MSELoss()(logits, labels)
    if problem_type == "single_label_classification":
        return nn.CrossEntropyLoss()(logits.view(-1, n), labels.view(-1))
    return nn.BCEWithLogitsLoss()(logits, labels.view(logits.shape))  # one output: archit's labels leave out its dimension


@pytest.mark.parametrize(("problem_type", "num_labels"), [
    (p, n) for p in (None, *archit_core.PROBLEM_TYPES) for n in (1, 3)
    if not (p == "single_label_classification" and n == 1)  # one class: transformers refuses that config
])
def test_classification_loss_is_hugging_faces(problem_type: str | None, num_labels: int) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, num_labels, generator=g)
    labels = random_labels(problem_type, num_labels, (4,), generator=g)
    torch.testing.assert_close(classification_loss(logits, labels, problem_type), _hf_loss(logits, labels, problem_type))


def test_single_label_ignores_the_ignore_index_and_targets_have_the_logits_shape() -> None:
    logits = torch.randn(2, 5, 3)
    labels = torch.tensor([[0, 1, -100, 2, -100], [2, -100, -100, 0, 1]])
    keep = labels != -100
    torch.testing.assert_close(classification_loss(logits, labels, "single_label_classification"),
                               nn.functional.cross_entropy(logits[keep], labels[keep]))
    targets = torch.rand(2, 5, 3).round()
    torch.testing.assert_close(classification_loss(logits, targets, "multi_label_classification"),
                               nn.functional.binary_cross_entropy_with_logits(logits, targets))
    with pytest.raises(ArchitError, match="labels: shape"):  # the same numbers in another shape are not guessed at
        classification_loss(logits, targets.reshape(-1), "multi_label_classification")


def test_integer_labels_name_the_head_and_the_input() -> None:
    assert archit_core.integer_labels(torch.tensor([[1], [2]]), (2,), head="h", holding="x", squeeze=True).shape == (2,)
    with pytest.raises(ArchitError, match=r"h: start must be an integer tensor of shape \(2,\) holding x, got a float"):
        archit_core.integer_labels(torch.zeros(2), (2,), head="h", name="start", holding="x")


def test_flatten_groups_flattens_every_tensor_and_refuses_a_mismatch() -> None:
    ids = torch.zeros(2, 3, 5, dtype=torch.long)
    flat, groups = archit_core.flatten_groups({"input_ids": ids, "attention_mask": torch.ones(2, 3, 5), "x": 1}, head="h", group="items")
    assert groups == 3 and flat["input_ids"].shape == flat["attention_mask"].shape == (6, 5) and flat["x"] == 1
    with pytest.raises(ArchitError, match=r"h: input_ids must have shape \(batch, items, length\), got \(2, 5\)!"):
        archit_core.flatten_groups({"input_ids": ids[:, 0]}, head="h", group="items", hint="!")
    with pytest.raises(ArchitError, match=r"attention_mask has shape \(2, 5\)"):
        archit_core.flatten_groups({"input_ids": ids, "attention_mask": torch.ones(2, 5)}, head="h", group="items")


@pytest.mark.parametrize("scheme", archit_core.INIT_SCHEMES)
def test_init_linear_by_name(scheme: str) -> None:
    layer = nn.Linear(16, 8)
    assert archit_core.init_linear(layer, scheme, std=0.02) and torch.count_nonzero(layer.bias) == 0
    assert (torch.count_nonzero(layer.weight) == 0) == (scheme == "zeros")
    assert not archit_core.init_linear(nn.LayerNorm(4), scheme, std=0.02)


def test_head_output_class_has_the_named_fields_in_tuple_order() -> None:
    cls = archit_core.head_output_class("PairOutput", "first", "second", doc="d", module=__name__)
    out = cls(loss=torch.tensor(1.0), first=torch.ones(1), second=torch.zeros(1))
    assert list(cls.__dataclass_fields__) == ["loss", "logits", "first", "second", "hidden_states"]
    assert len(out.to_tuple()) == 3 and cls.__doc__ == "d"


class _Scale(AdapterLayer):
    """A toy adapter: ``base(x) + s * x @ D.T`` with a full-rank delta."""

    kind = "scale"
    adapter_modules = ("delta",)

    def create_adapter(self, name: str, s: float) -> None:
        self.delta[name] = nn.Linear(self.base_layer.in_features, self.base_layer.out_features, bias=False)
        nn.init.constant_(self.delta[name].weight, s)

    def adapter_output(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.delta[name](x)

    def delta_weight(self, name: str) -> torch.Tensor:
        return self.delta[name].weight


def test_an_adapter_layer_needs_only_its_mathematics() -> None:
    base = nn.Linear(4, 4)
    model = nn.Sequential(_Scale.wrap(base))
    layer = model[0]
    assert _Scale.wrap(layer) is layer and list(dict(layer.named_parameters())) == ["base_layer.weight", "base_layer.bias"]
    layer.add_adapter("a", s=0.1)
    layer.add_adapter("b", s=0.2)
    x = torch.randn(3, 4)
    set_adapter(model, "a", "b")
    on_the_fly = model(x)
    original, values = base.weight, base.weight.detach().clone()
    merge(model)
    torch.testing.assert_close(model(x), on_the_fly)
    assert layer.merged and base.weight is not original and torch.equal(original, values)  # the shared weight is kept
    with pytest.raises(ValueError, match="unmerge"):
        set_adapter(model, "a")
    unmerge(model)
    assert layer.base_layer.weight is original and adapter_layers(model) == [layer]
    with pytest.raises(ValueError, match="no adapter 'c'"):
        set_adapter(model, "c")
    with pytest.raises(TypeError, match="scale applies to nn.Linear layers, not LayerNorm"):
        _Scale.wrap(nn.LayerNorm(4))
    with pytest.raises(ValueError, match="no adapter layers"):
        adapter_layers(nn.Sequential(nn.Linear(2, 2)))


def test_module_code_writes_the_constructor_of_the_named_class_only() -> None:
    class Context:
        expression = staticmethod(repr)

    code = archit_core.constructor_code(nn.Linear(3, 2), Context(), "torch.nn.modules.linear:Linear", "in_features", keywords=("out_features",))
    assert code.expression == "Linear(3, out_features=2)" and code.imports == ("from torch.nn.modules.linear import Linear",)
    assert archit_core.constructor_code(nn.ReLU(), Context(), "torch.nn.modules.linear:Linear") is None


def test_regression_and_multi_label_targets_must_fit_the_logits() -> None:
    import torch

    import archit_core
    from archit_core.parts.blocks import classification_loss

    logits = torch.zeros(4, 2)
    assert classification_loss(logits, torch.zeros(4, 2), "regression").item() == 0.0
    assert classification_loss(torch.zeros(4, 1), torch.zeros(4), "regression").item() == 0.0  # one output
    for problem in ("regression", "multi_label_classification"):
        with pytest.raises(archit_core.ArchitError, match=r"labels: shape \(2, 4\) does not fit the logits \(4, 2\)"):
            classification_loss(logits, torch.zeros(2, 4), problem)
