"""Parity with Hugging Face, the correctness oracle: a backbone's encode against its base model on the same weights."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
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


def hf_head_model(backbone: str, head: str, *, host: Any = None, **overrides: Any) -> Any:
    """Hugging Face's task model equivalent to ``head`` on ``backbone`` (its declared Auto class), built on the
    backbone's tiny config with ``overrides`` and seed 0, in eval mode."""
    import torch
    import transformers

    from archit_core import get_host
    from archit_core.checkpoints.interop import equivalent

    host = host or get_host()
    config = host.backbone(backbone).obj.make_config(tiny=True, overrides=overrides)
    torch.manual_seed(0)
    return getattr(transformers, equivalent(backbone, head, host=host).auto_class).from_config(config).eval()


def archit_from_hf(backbone: str, head: str, hf: Any, *, host: Any = None) -> Any:
    """The archit model of ``head`` on ``backbone`` equivalent to the Hugging Face model ``hf`` (its config, the
    head config that reproduces it, its weights), in eval mode."""
    from archit_core import build
    from archit_core.checkpoints.interop import head_config_for_hf, import_hf_state_dict

    head_config = head_config_for_hf(backbone, head, hf.config, host=host)
    model = build(backbone, head, backbone_config=hf.config, head_config=head_config, host=host)
    import_hf_state_dict(model, hf.state_dict())
    return model.eval()


def assert_outputs_match(got: Any, expected: Any, fields: Sequence[str] = ("logits", "loss")) -> None:
    """Assert that the outputs ``got`` and ``expected`` (``ModelOutput``s) have equal ``fields``, each named in the
    failure message; a field must be set on both."""
    import torch

    for field in fields:
        ours, theirs = getattr(got, field), getattr(expected, field)
        assert ours is not None and theirs is not None, f"{field}: archit gave {type(ours).__name__}, Hugging Face {type(theirs).__name__}"
        torch.testing.assert_close(ours, theirs, msg=lambda message, field=field: f"{field}: {message}")


def assert_head_matches(backbone: str, head: str, hf_class: type, inputs: Mapping[str, Any], labels: Any = None, *,
                        outputs: Sequence[str] = ("logits", "loss"), host: Any = None, **hf_config: Any) -> None:
    """Build ``hf_class`` on backbone ``name``'s tiny config (with ``hf_config`` values set on it) and the archit
    model of ``head`` equivalent to it, give the archit model its weights, and assert equal ``outputs`` (named
    fields of both models' outputs: ``logits`` and ``loss`` by default, ``start_logits`` for question answering).
    ``labels``, when given, go to both models as ``labels=``; other label forms can be part of ``inputs``."""
    import torch

    from archit_core import get_host

    host = host or get_host()
    config = host.backbone(backbone).obj.make_config(tiny=True)
    for field, value in hf_config.items():
        setattr(config, field, value)
    torch.manual_seed(0)
    hf = hf_class(config).eval()
    model = archit_from_hf(backbone, head, hf, host=host)
    given = dict(inputs) if labels is None else {**inputs, "labels": labels}
    with torch.no_grad():
        assert_outputs_match(model(**given), hf(**given), outputs)


#: How :func:`head_parity` gives the archit model the Hugging Face model's weights.
ROUTES = ("imported", "hugging-face-checkpoint", "exported")


def head_parity(head: str, backbones: Sequence[str], check: Callable[[Any, Any], None], *, host: Any = None,
                **hf_overrides: Any) -> Callable[..., None]:
    """A pytest test function, parametrised over ``backbones`` and :data:`ROUTES`, that runs ``check(hf, model)``
    on the Hugging Face equivalent of ``head`` (:func:`hf_head_model`, with ``hf_overrides``) and an archit model
    with its weights: imported from its state dict; built from its saved checkpoint (which must load completely,
    the head imported); or imported and exported back with ``to_transformers`` (``check(exported, model)``)."""
    import pytest

    def test_parity(backbone: str, route: str, tmp_path: Path) -> None:
        from archit_core import build, to_transformers

        hf = hf_head_model(backbone, head, host=host, **hf_overrides)
        if route == "hugging-face-checkpoint":
            hf.save_pretrained(tmp_path)
            model = build(backbone, head, checkpoint=tmp_path, strict=True, host=host).eval()
            report = model.loading_report
            assert report.complete, str(report)
            assert any("imported" in note for note in report.notes), str(report)
            check(hf, model)
            return
        model = archit_from_hf(backbone, head, hf, host=host)
        if route == "exported":
            exported = to_transformers(model).eval()
            assert type(exported) is type(hf)
            hf = exported
        check(hf, model)

    test_parity.__doc__ = f"The {head!r} head equals its Hugging Face equivalent on each backbone, by each route."
    return pytest.mark.parametrize("route", ROUTES)(pytest.mark.parametrize("backbone", list(backbones))(test_parity))
