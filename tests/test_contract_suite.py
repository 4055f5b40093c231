"""The contract suite itself: it passes good plugins and catches each kind of breach with a message naming it."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from archit_core import HeadOutput, HeadSpec
from archit_core.testing import (
    ContractError,
    backbone_contract,
    check_backbone,
    check_backbone_alone,
    check_head,
    check_pair,
    counterparts,
    head_contract,
)
from archit_core.testing.toys import POOLED, PooledConfig, PooledHead, ToyBackbone


def test_good_pairs_pass_and_an_incompatible_pair_is_refused(toy_host, add_plugin):
    add_plugin("pooling-toy", backbones={"toy-pooler": ToyBackbone(pooler=True)})
    reports = {(r.backbone, r.head): r for r in check_head("pooled", host=toy_host)}
    assert reports[("toy-pooler", "pooled")].status == "ok"
    assert "gradients reach every trainable parameter" in reports[("toy-pooler", "pooled")].checks
    assert reports[("toy", "pooled")].status == "incompatible"  # build() raised IncompatibleHeadError
    assert [r.status for r in check_backbone("toy", host=toy_host, heads=["pooled"])] == ["incompatible"]


def test_the_real_plugins_keep_the_contract(real_host):
    assert counterparts(backbone="roberta", host=real_host) == ["pooled", "token-classification"]
    reports = check_backbone("roberta", host=real_host)
    assert [(r.head, r.status) for r in reports] == [("pooled", "ok"), ("token-classification", "ok")]
    assert counterparts(head="token-classification", host=real_host) == ["roberta", "toy"]


def head_spec(cls: type, **kw: Any) -> HeadSpec:
    return HeadSpec(module=cls, config_class=PooledConfig, **kw)


class UnusedParameterHead(PooledHead):
    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.forgotten = nn.Linear(2, 2)


class NanLossHead(PooledHead):
    def forward(self, features, labels=None, **inputs):
        out = super().forward(features, labels)
        return HeadOutput(out.logits, None if labels is None else out.loss * float("nan"))


class LabelDependentHead(PooledHead):
    def forward(self, features, labels=None, **inputs):
        out = super().forward(features, labels)
        return HeadOutput(out.logits + (0 if labels is None else 1), out.loss)


class NoDummyLabelsHead(PooledHead):
    dummy_labels = None


class NoRoundTripHead(PooledHead):
    """Keeps a weight that is not saved, so a reloaded model computes something else."""

    def __init__(self, config, backbone):
        super().__init__(config, backbone)
        self.register_buffer("shift", torch.randn(config.num_labels), persistent=False)

    def forward(self, features, labels=None, **inputs):
        out = super().forward(features, labels)
        return HeadOutput(out.logits + self.shift, out.loss)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (head_spec(UnusedParameterHead), r"parameters without a gradient: \['head.forgotten.weight', 'head.forgotten.bias'\]"),
        (head_spec(NanLossHead), "the loss is not finite"),
        (head_spec(LabelDependentHead), "logits with and without labels differ"),
        (head_spec(NoDummyLabelsHead), "no dummy_labels"),
        (head_spec(NoRoundTripHead), "outputs after save_pretrained/load differ"),
        (head_spec(PooledHead, inputs=("word_ids",)), "no dummy_inputs"),
    ],
    ids=["unused-parameter", "nan-loss", "label-dependent-logits", "no-dummy-labels", "no-round-trip", "no-dummy-inputs"],
)
def test_breaches_are_caught(toy_host, add_plugin, spec, message):
    add_plugin("bad", heads={"bad": spec})
    with pytest.raises(ContractError, match=message) as info:
        check_pair("toy", "bad", {"pooling": "mean"}, host=toy_host)
    assert "backbone 'toy' with head 'bad'" in str(info.value)


def test_allow_no_grad_excuses_named_parameters(toy_host, add_plugin):
    add_plugin("bad", heads={"bad": head_spec(UnusedParameterHead)})
    report = check_pair("toy", "bad", {"pooling": "mean"}, host=toy_host, allow_no_grad=["head.forgotten.*"])
    assert report.status == "ok"


def test_a_build_that_ignores_a_missing_capability_is_caught(toy_host, monkeypatch):
    import archit_core.model.modeling

    monkeypatch.setattr(archit_core.model.modeling, "check_compatible", lambda *args: None)
    with pytest.raises(ContractError, match="did not raise IncompatibleHeadError"):
        check_pair("toy", "pooled", host=toy_host)


class BrokenRoleBackbone(ToyBackbone):
    roles = {"layers": "layers.*", "attention.query": "layers.*.query"}


class PoolerAlwaysBackbone(ToyBackbone):
    def build(self, config, needs=frozenset()):
        return super().build(config, frozenset({"pooler"}))


class WrongLayerCountBackbone(ToyBackbone):
    def facts(self, config):
        import attrs

        return attrs.evolve(super().facts(config), num_layers=config["num_layers"] + 1)


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        (BrokenRoleBackbone(), "module role 'attention.query'"),
        (PoolerAlwaysBackbone(), "still returned a pooled output"),
        (WrongLayerCountBackbone(), "gave 3 states, not 4"),
    ],
    ids=["role-names-nothing", "unrequested-pooler", "hidden-state-count"],
)
def test_backbone_breaches_are_caught(toy_host, add_plugin, backbone, message):
    add_plugin("bad", backbones={"bad": backbone})
    with pytest.raises(ContractError, match=message):
        check_backbone_alone("bad", host=toy_host)


def test_contract_test_factories_parametrise_over_counterparts(toy_host, add_plugin):
    add_plugin("more", backbones={"toy-pooler": ToyBackbone(pooler=True)}, heads={"pooled-too": POOLED})
    for test, expected in (
        (backbone_contract("toy", host=toy_host), ["(alone)", "pooled", "pooled-too"]),
        (head_contract("pooled", host=toy_host), ["(alone)", "toy", "toy-pooler"]),
    ):
        (mark,) = test.pytestmark
        assert mark.name == "parametrize" and list(mark.args[1]) == expected
        assert test.__name__ == "test_contract"


def test_a_head_with_no_backbone_installed_is_an_error(archit_host, add_plugin):
    add_plugin("heads-only", heads={"pooled": POOLED})
    with pytest.raises(ContractError, match="no backbone is installed"):
        check_head("pooled", host=archit_host)
