"""The ``mlp`` head: the contract on every backbone, its layers from the config, its losses, its init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archit_core
from archit_core.testing import head_contract

test_contract_sequence = head_contract("mlp", {"num_labels": 3, "hidden": [16, 8], "norm": "layer", "dropout": 0.0})
test_contract_token = head_contract("mlp", {"num_labels": 4, "level": "token", "activation": "relu", "dropout": 0.0})


def test_layers_follow_the_config():
    model = archit_core.build("bert", "mlp", tiny=True, head_config={"num_labels": 5, "hidden": [16, 8], "norm": "layer", "activation": "tanh"})
    kinds = [type(m) for m in model.head.mlp]
    assert kinds == [nn.Dropout, nn.Linear, nn.LayerNorm, nn.Tanh, nn.Dropout, nn.Linear, nn.LayerNorm, nn.Tanh, nn.Dropout, nn.Linear]
    shapes = [tuple(m.weight.shape) for m in model.head.mlp if isinstance(m, nn.Linear)]
    assert shapes == [(16, 32), (8, 16), (5, 8)]


@pytest.mark.parametrize("loss, labels, reference", [
    ("cross_entropy", torch.tensor([0, 2]), lambda z, y: nn.functional.cross_entropy(z, y)),
    ("mse", torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.0, 1.0]]), lambda z, y: nn.functional.mse_loss(z, y)),
    ("bce", torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), lambda z, y: nn.functional.binary_cross_entropy_with_logits(z, y)),
])
def test_losses(loss, labels, reference):
    model = archit_core.build("roberta", "mlp", tiny=True, head_config={"num_labels": 3, "loss": loss, "pooling": "mean"}).eval()
    ids = torch.randint(5, 100, (2, 6))
    out = model(input_ids=ids, labels=labels)
    torch.testing.assert_close(out.loss, reference(out.logits, labels))


def test_init_is_applied_when_built_and_never_over_loaded_weights(tmp_path):
    zeros = archit_core.build("bert", "mlp", tiny=True, head_config={"hidden": [16], "init": "zeros"})
    assert all(torch.count_nonzero(p) == 0 for p in zeros.head.parameters())
    xavier = archit_core.build("bert", "mlp", tiny=True, head_config={"hidden": [16], "init": "xavier"})
    first = xavier.head.mlp[1].weight
    bound = (6 / (first.shape[0] + first.shape[1])) ** 0.5
    assert first.abs().max() <= bound and first.std() > 0.5 * bound / 3 ** 0.5
    xavier.save_pretrained(tmp_path)
    again = archit_core.load(tmp_path)
    for (name, p), q in zip(xavier.state_dict().items(), again.state_dict().values()):
        torch.testing.assert_close(q, p, msg=name)


def test_bad_config_names_the_field():
    spec = archit_core.get_host().head("mlp").obj
    for data, field in [({"hidden": [16, 0]}, "hidden"), ({"activation": "swish"}, "activation"), ({"level": "word"}, "level")]:
        with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
            spec.make_config(data)
