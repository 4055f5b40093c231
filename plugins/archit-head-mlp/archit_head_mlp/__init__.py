"""archit head ``mlp``: a multi-layer perceptron described by its widths, activation, norm, dropout and init (the
TorchArc idea), on every token or on one pooled vector per sequence, with the loss of the task it serves."""

from __future__ import annotations

import attrs

from archit_core import ClassifierConfig, HeadSpec, hookimpl
from archit_core.parts import INIT_SCHEMES, SEQUENCE_POOLINGS, as_tuple, one_of, pooling_needs, positive_ints


@attrs.frozen(kw_only=True)
class MLPConfig(ClassifierConfig):
    """``hidden`` widths of the layers before the output layer of ``num_labels``; ``level`` token or sequence."""

    hidden: tuple[int, ...] = attrs.field(default=(), converter=as_tuple, validator=positive_ints)
    activation: str = attrs.field(default="gelu", validator=one_of("gelu", "relu", "tanh", "silu"))
    norm: str | None = attrs.field(default=None, validator=one_of(None, "layer"))
    init: str = attrs.field(default="normal", validator=one_of(*INIT_SCHEMES))
    level: str = attrs.field(default="sequence", validator=one_of("token", "sequence"))
    pooling: str = attrs.field(default="first", validator=one_of(*SEQUENCE_POOLINGS))
    loss: str = attrs.field(default="cross_entropy", validator=one_of("cross_entropy", "mse", "bce"))

    def needs(self):
        return pooling_needs(self.pooling if self.level == "sequence" else "first")


@hookimpl
def provide_head(registry):
    registry.add_head(
        "mlp",
        HeadSpec(
            module="archit_head_mlp.head:MLPHead",
            config_class=MLPConfig,
            description="a configurable MLP on tokens or pooled sequences; cross-entropy, MSE or BCE",
        ),
    )
