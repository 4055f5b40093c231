"""Fixtures of the core tests: hosts holding the toys of ``archit_core.testing.toys`` and the in-repo plugins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import pytest
import torch

import archit_core
from archit_core.testing.toys import POOLED, TOY_CONFIG, ToyBackbone, ToyPlugin


@pytest.fixture(autouse=True)
def _no_plugin_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Core tests choose plugins explicitly; the caller's ARCHIT_* settings must not leak in."""
    for var in ("ARCHIT_PLUGINS", "ARCHIT_DISABLE_PLUGINS", "ARCHIT_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def add_plugin(archit_host: archit_core.PluginHost) -> Callable[..., archit_core.PluginInfo]:
    """``add_plugin(name, backbones={...}, heads={...}, distribution=..., version=...)`` on the test host."""

    def add(name: str, *, backbones: Mapping[str, Any] | None = None, heads: Mapping[str, Any] | None = None,
            distribution: str | None = None, version: str | None = None) -> archit_core.PluginInfo:
        return archit_host.add(ToyPlugin(backbones, heads), name=name, distribution=distribution, version=version)

    return add


@pytest.fixture
def toy_host(archit_host: archit_core.PluginHost, add_plugin: Callable[..., Any]) -> archit_core.PluginHost:
    """The test host with backbone ``toy`` (no pooler) and head ``pooled`` from distribution archit-toy 0.0.1."""
    add_plugin("toy", backbones={"toy": ToyBackbone()}, heads={"pooled": POOLED}, distribution="archit-toy", version="0.0.1")
    return archit_host


@pytest.fixture
def real_host(toy_host: archit_core.PluginHost) -> archit_core.PluginHost:
    """The toy host plus the in-repo roberta backbone and token-classification head plugins, as installed."""
    import archit_backbone_roberta
    import archit_head_token_classification

    for module, dist in ((archit_backbone_roberta, "archit-backbone-roberta"), (archit_head_token_classification, "archit-head-token-classification")):
        toy_host.add(module, distribution=dist, version=metadata.version(dist))
    return toy_host


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    """Two sequences of seven token ids (valid for the toy and tiny roberta vocabularies), the second padded."""
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, TOY_CONFIG["vocab_size"], (2, 7), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -2:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}
