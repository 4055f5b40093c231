"""The plugin-author guide's third-party backbone (examples/archit-backbone-electra) works as an installed
distribution, with no change to the core: discovered through its entry point, gets every head, matches Hugging Face."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
import torch

import archit_core
from archit_core.checkpoints.interop import head_config_for_hf, import_hf_state_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "archit-backbone-electra"


def test_electra_example_is_discovered_and_matches_hugging_face(fake_distribution):
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    source = (EXAMPLE / "archit_backbone_electra" / "__init__.py").read_text()
    fake_distribution(
        project["name"],
        project["version"],
        entry_points=project["entry-points"]["archit"],
        modules={"archit_backbone_electra": source},
    )
    host = archit_core.PluginHost(strict=True)
    reg = host.backbone("electra")
    assert (reg.plugin.distribution, reg.plugin.version) == ("archit-backbone-electra", "0.1.0")
    assert "electra" in host.registry.names("backbone") and "roberta" in host.registry.names("backbone")

    from transformers import ElectraConfig, ElectraForTokenClassification

    config = ElectraConfig(vocab_size=500, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64, num_labels=4)
    hf = ElectraForTokenClassification(config).eval()
    model = archit_core.build(
        "electra", "token-classification", backbone_config=config, host=host,
        head_config=head_config_for_hf("electra", "token-classification", config, host=host),
    ).eval()
    import_hf_state_dict(model, hf.state_dict())
    ids = torch.randint(5, 500, (2, 9))
    labels = torch.randint(0, 4, (2, 9))
    ours, theirs = model(input_ids=ids, labels=labels), hf(input_ids=ids, labels=labels)
    torch.testing.assert_close(ours.logits, theirs.logits)
    torch.testing.assert_close(ours.loss, theirs.loss)

    from archit_core.parts.head import needs_of

    provides = reg.obj.provides(reg.obj.make_config(tiny=True))
    built = []
    for head in host.registry.names("head"):  # every installed head builds, or is refused for what electra lacks
        missing = needs_of(host.head(head).obj.make_config(None)) - provides
        if missing:
            with pytest.raises(archit_core.IncompatibleHeadError, match=sorted(missing)[0]):
                archit_core.build("electra", head, tiny=True, host=host)
            continue
        assert archit_core.build("electra", head, tiny=True, host=host).backbone.__class__.__name__ == "ElectraModel"
        built.append(head)
    assert "token-classification" in built and "sequence-classification" in built


def _install_example(fake_distribution, folder: str) -> archit_core.PluginHost:
    """Install ``examples/<folder>`` as a fake distribution (its pyproject's name, version and entry points, every
    module of its package) and return a strict host that discovered it."""
    root = EXAMPLE.parent / folder
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    package = next(p for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    modules = {(package.name if f.stem == "__init__" else f"{package.name}.{f.stem}"): f.read_text() for f in package.glob("*.py")}
    fake_distribution(project["name"], project["version"], entry_points=project["entry-points"]["archit"], modules=modules)
    return archit_core.PluginHost(strict=True)


def _contract_on_every_head(host: archit_core.PluginHost, backbone: str) -> list[str]:
    """The backbone's own contract and the pair contract with every installed head; the heads that built."""
    from archit_core.testing.contract import check_backbone_alone, check_pair

    check_backbone_alone(backbone, host=host)
    built = []
    for head in host.registry.names("head"):
        config = {"num_labels": 3} if head == "sequence-classification" else None
        if check_pair(backbone, head, config, host=host).status == "ok":
            built.append(head)
    return built


def test_the_short_module_backbone_example_gets_every_head(fake_distribution):
    """docs/plugins.md's non-Hugging-Face backbone: a ModuleBackbone record of at most 30 lines plus its module."""
    entry = EXAMPLE.parent / "archit-backbone-bilstm" / "archit_backbone_bilstm" / "__init__.py"
    assert len(entry.read_text().splitlines()) <= 30
    host = _install_example(fake_distribution, "archit-backbone-bilstm")
    assert host.backbone("bilstm").plugin.distribution == "archit-backbone-bilstm"
    built = _contract_on_every_head(host, "bilstm")
    assert {"token-classification", "sequence-classification", "masked-lm", "multiple-choice"} <= set(built)
    model = archit_core.build("bilstm", "token-classification", tiny=True, host=host, backbone_config={"num_layers": 3})
    assert model.config.backbone_config["num_layers"] == 3 and len(model.backbone.layers) == 3
    with pytest.raises(archit_core.ConfigError, match="did you mean 'num_layers'"):
        archit_core.build("bilstm", "token-classification", tiny=True, host=host, backbone_config={"num_layer": 3})
    with pytest.raises(archit_core.ConfigError, match="backbone_config.dropout"):
        archit_core.build("bilstm", "token-classification", tiny=True, host=host, backbone_config={"dropout": 2.0})


def test_an_old_style_plugin_still_works(fake_distribution):
    """A plugin written against archit-core 0.1's documented API (a Backbone subclass with every method, a head with
    HFEquivalent / hf_equivalent=) installs, works with every installed head and passes the contract suite."""
    with pytest.warns(DeprecationWarning, match="hf_layout"):
        host = _install_example(fake_distribution, "archit-backbone-bilstm-legacy")
        spec = host.head("mean-classifier").obj
    assert spec.hf_layout.config == {"pooling": "mean"} and spec.hf_layout is spec.hf_equivalent
    built = _contract_on_every_head(host, "bilstm-legacy")
    assert {"mean-classifier", "token-classification", "masked-lm"} <= set(built)
