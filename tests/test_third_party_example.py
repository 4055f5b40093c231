"""The plugin-author guide's third-party backbone (examples/archit-backbone-electra) works as an installed
distribution, with no change to the core: discovered through its entry point, gets every head, matches Hugging Face."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
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
