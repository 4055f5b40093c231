"""Parity with Hugging Face, the correctness oracle: a backbone's encode against its base model on the same weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def assert_backbone_matches(name: str, hf_model_class: type, inputs: Mapping[str, Any], *, pooler: bool = True, host: Any = None) -> None:
    """Build backbone ``name`` (tiny) and ``hf_model_class`` on one config and weights, and assert that token
    states, every layer's hidden states and (with ``pooler``) the pooled output are equal in eval mode."""
    import torch

    from archit_core import get_host

    spec = (host or get_host()).backbone(name).obj
    config = spec.make_config(tiny=True)
    torch.manual_seed(0)
    hf = hf_model_class(config).eval()
    module = spec.build(config, frozenset({"pooler"}) if pooler else frozenset()).eval()
    module.load_state_dict(hf.state_dict())
    with torch.no_grad():
        expected = hf(**inputs, output_hidden_states=True)
        got = spec.encode(module, dict(inputs), output_hidden_states=True)
    torch.testing.assert_close(got.token_states, expected.last_hidden_state)
    torch.testing.assert_close(got.hidden_states, expected.hidden_states)
    if pooler:
        torch.testing.assert_close(got.pooled, expected.pooler_output)


def assert_head_matches(backbone: str, head: str, hf_class: type, inputs: Mapping[str, Any], labels: Any, *,
                        host: Any = None, **hf_config: Any) -> None:
    """Build ``hf_class`` on backbone ``name``'s tiny config (with ``hf_config`` values set on it) and the archit
    model of ``head`` equivalent to it, give the archit model its weights, and assert equal logits and loss."""
    import torch

    from archit_core import build, get_host
    from archit_core.interop import head_config_for_hf, import_hf_state_dict

    host = host or get_host()
    config = host.backbone(backbone).obj.make_config(tiny=True)
    for field, value in hf_config.items():
        setattr(config, field, value)
    torch.manual_seed(0)
    hf = hf_class(config).eval()
    model = build(backbone, head, backbone_config=config, head_config=head_config_for_hf(backbone, head, config, host=host), host=host)
    import_hf_state_dict(model, hf.state_dict())
    with torch.no_grad():
        expected, got = hf(**inputs, labels=labels), model.eval()(**inputs, labels=labels)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.loss, expected.loss)
