"""Head specifications: what a head plugin registers (the module class is imported only when built)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._imports import resolve


#: The ways ``archit_core.pool_sequence`` turns token states into one vector per sequence.
SEQUENCE_POOLINGS = ("first", "last", "mean", "pooler")


@attrs.frozen(kw_only=True)
class HeadConfig:
    """Base class of head configs (attrs, validated on construction, JSON-serialisable).

    Subclasses declare fields with validators and override :meth:`needs`.
    """

    def needs(self) -> frozenset[str]:
        """Backbone capabilities this head needs (see ``archit_core.CAPABILITIES``)."""
        return frozenset({"token_states"})


@attrs.frozen(kw_only=True)
class HFEquivalent:
    """The Hugging Face class a head is equivalent to, and how their weights correspond.

    ``keys`` maps Hugging Face head key prefixes (outside the base model) to archit head key prefixes;
    ``config`` gives the head-config values that make the archit head compute what Hugging Face's does;
    ``config_fields`` are fields shared by name between the head config and the Hugging Face config;
    ``dropout_field`` is the Hugging Face config field holding the dropout its head applies (where the head
    config's ``dropout`` is exported), None when the Hugging Face head applies no dropout (question answering).
    """

    auto_class: str
    keys: Mapping[str, str] = attrs.field(factory=dict)
    config: Mapping[str, Any] = attrs.field(factory=dict)
    config_fields: tuple[str, ...] = ()
    dropout_field: str | None = "classifier_dropout"


@attrs.frozen(kw_only=True)
class HeadSpec:
    """A named head: its module class (``"package.module:Class"`` or the class), its attrs config class,
    extra forward inputs it reads besides ``labels``, and its Hugging Face equivalent if any.

    ``inputs`` are forward keyword arguments the head always reads (dummy batches must supply them);
    ``optional_inputs`` are ones it reads when given, such as labels under Hugging Face's names
    (``start_positions``). Both are routed to the head, never to the backbone."""

    module: str | type
    config_class: type[HeadConfig]
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    hf_equivalent: HFEquivalent | None = None
    #: Other configs under which the head may equal a family's Hugging Face head; generic backbones pick the one a
    #: family's task class matches (``archit_core.generic.backbones.infer_head_layout``).
    hf_layouts: tuple[HFEquivalent, ...] = ()
    description: str = ""

    def module_class(self) -> type:
        """The head's ``nn.Module`` class (imports it)."""
        return resolve(self.module)

    def make_config(self, data: Mapping[str, Any] | HeadConfig | None, *, where: str = "head_config") -> HeadConfig:
        """A validated head config from a dict, a config instance or None (defaults)."""
        from .configs import config_from_dict

        return config_from_dict(self.config_class, data, where=where)


def needs_of(config: Any) -> frozenset[str]:
    """The capabilities a head config declares it needs."""
    needs: Callable[[], Any] | None = getattr(config, "needs", None)
    return frozenset(needs()) if needs else frozenset({"token_states"})
