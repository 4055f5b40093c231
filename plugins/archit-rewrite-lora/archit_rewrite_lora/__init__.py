"""archit rewrite ``lora``: low-rank adapters (LoRA) on projections, as peft computes them, without touching the
model they were added to. ``set_adapter``, ``merge`` and ``unmerge`` act on the rewritten model."""

from __future__ import annotations

import attrs

from archit_core import RewriteSpec, hookimpl, identifier, lazy_attributes, positive, probability

#: The torch side, imported only when used.
__getattr__ = lazy_attributes(__name__, {n: f"archit_rewrite_lora.lora:{n}" for n in ("LoRALinear", "set_adapter", "merge", "unmerge")})


@attrs.frozen(kw_only=True)
class LoRAConfig:
    """Rank ``r``, scaling ``alpha / r``, ``dropout`` on the adapter's input, and the adapter's name."""

    r: int = attrs.field(default=8, validator=positive)
    alpha: float = attrs.field(default=8.0, converter=float)
    dropout: float = attrs.field(default=0.0, validator=probability)
    adapter: str = attrs.field(default="default", validator=identifier)


@hookimpl
def rewrite_module(registry):
    registry.add_rewrite(
        "lora",
        RewriteSpec(
            replace="archit_rewrite_lora.lora:LoRALinear.rewrite",
            config_class=LoRAConfig,
            default_targets=("attention.query", "attention.value"),
            freeze_rest=True,
            description="LoRA adapters on projections (default: attention query and value, or the fused qkv); the base frozen, shared",
        ),
    )

