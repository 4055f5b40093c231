"""Every installed head on every installed backbone: built and trained one step on a dummy batch, or refused at
build time with a reason. Backbones and heads are discovered from the plugin host (only names plugins register
explicitly, not names a generic provider resolves on demand), so newly installed plugins are covered too."""

from __future__ import annotations

import pytest
import torch

import archit_core
from archit_core.parts.dummy import dummy_batch
from archit_core.parts.head import needs_of
from archit_core.parts.head_module import Head

HOST = archit_core.get_host()
BACKBONES = HOST.registry.names("backbone")
HEADS = HOST.registry.names("head")
REFUSALS = (archit_core.IncompatibleHeadError, archit_core.ConfigError)


def missing_capabilities(backbone: str, head: str) -> frozenset[str]:
    b, h = HOST.backbone(backbone), HOST.head(head)
    return needs_of(h.obj.make_config(None)) - b.obj.provides(b.obj.make_config(None, tiny=True))


def train_step(model) -> None:
    """One forward with dummy labels (and the head's extra inputs), one backward; finite loss and gradients."""
    model.train()
    batch = dummy_batch(model, batch_size=2, seq_len=6, generator=torch.Generator().manual_seed(0))
    out = model(**batch)
    assert out.loss is not None and out.loss.dim() == 0 and torch.isfinite(out.loss), out.loss
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None for g in grads), "no parameter got a gradient"
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_pair_trains_or_is_refused_at_build_time(backbone: str, head: str) -> None:
    missing = missing_capabilities(backbone, head)
    torch.manual_seed(0)
    try:
        model = archit_core.build(backbone, head, tiny=True)
    except REFUSALS as exc:
        assert head in str(exc) or backbone in str(exc), f"the refusal names neither the head nor the backbone: {exc}"
        assert len(str(exc)) > 40, f"the refusal gives no reason: {exc}"
        return
    assert not missing, f"{head} needs {sorted(missing)}, which {backbone} lacks, yet the build was not refused"
    train_step(model)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_works_on_some_backbone(head: str) -> None:
    assert any(not missing_capabilities(b, head) for b in BACKBONES), f"head {head!r} is refused by every installed backbone"


def _reshapes(head: str) -> bool:
    return HOST.head(head).obj.module_class().prepare_inputs is not Head.prepare_inputs


@pytest.mark.parametrize("backbone", BACKBONES)
def test_all_compatible_heads_train_together_as_one_multitask_model(backbone: str) -> None:
    heads = {h.replace("-", "_"): h for h in HEADS if not missing_capabilities(backbone, h) and not _reshapes(h)}
    torch.manual_seed(0)
    try:
        model = archit_core.build(backbone, heads, tiny=True)
    except REFUSALS as exc:  # a head refused for another reason than a capability: leave it out
        pytest.fail(f"{backbone}: a multi-task model of its compatible heads {sorted(heads.values())} was refused: {exc}")
    train_step(model)
