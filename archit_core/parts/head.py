"""Head specifications: what a head plugin registers (the module class is imported only when built)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._imports import resolve
from ..errors import PluginError, bounded_repr
from .configs import activation_name, flag, label_count, one_of, probability
from .deprecation import renamed_field

#: The ways ``archit_core.pool_sequence`` turns token states into one vector per sequence.
SEQUENCE_POOLINGS = ("first", "last", "mean", "pooler")
#: The poolings of :class:`archit_core.SequencePoolingHead`: ``SEQUENCE_POOLINGS`` plus ``"late"`` (its dense layer
#: and activation on every token, then the masked mean).
POOLER_POOLINGS = (*SEQUENCE_POOLINGS, "late")
#: The label that losses ignore (padding, special tokens, unmasked positions), as in transformers and torch.
IGNORE_INDEX = -100
#: Hugging Face's ``problem_type`` values: which loss :func:`archit_core.classification_loss` computes.
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
#: The weight initialisations of :func:`archit_core.init_linear` (``torch.nn.init`` by name).
INIT_SCHEMES = ("normal", "xavier", "kaiming", "zeros")


@attrs.frozen(kw_only=True)
class HeadConfig:
    """Base class of head configs (attrs, validated on construction, JSON-serialisable).

    Subclasses declare fields with validators and override :meth:`needs`.
    """

    def needs(self) -> frozenset[str]:
        """Backbone capabilities this head needs (see ``archit_core.CAPABILITIES``)."""
        return frozenset({"token_states"})


@attrs.frozen(kw_only=True)
class ClassifierConfig(HeadConfig):
    """Base of the configs of heads that score ``num_labels`` classes: ``num_labels`` (default 2) and ``dropout``
    before the classifier (None: the backbone's classifier dropout)."""

    num_labels: int = attrs.field(default=2, validator=label_count)
    dropout: float | None = attrs.field(default=None, validator=probability)


@attrs.frozen(kw_only=True)
class HFLayout:
    """The Hugging Face layout of a head: the class it is equivalent to, and how their weights correspond.

    ``keys`` maps Hugging Face head key prefixes (outside the base model) to archit head key prefixes;
    ``config`` gives the head-config values that make the archit head compute what Hugging Face's does;
    ``config_fields`` are fields shared by name between the head config and the Hugging Face config;
    ``dropout_field`` is the Hugging Face config field holding the dropout its head applies (where the head
    config's ``dropout`` is exported), None when the Hugging Face head applies no dropout (question answering);
    ``unused_keys`` are keys of the Hugging Face class that the archit model has no weights for and its outputs do
    not read (the base-model pooler BigBird's classifier keeps): import ignores them, export leaves them at Hugging
    Face's initialisation; ``base_prefix`` is the Hugging Face class's base-model prefix where it is not the
    backbone's checkpoint prefix (``LlamaForQuestionAnswering`` keeps its ``LlamaModel`` as ``transformer``). A
    ``config`` value that is a callable reads the Hugging Face config (``attrgetter(field)``: that field of each
    checkpoint's config), so a layout names the field rather than a value.
    """

    auto_class: str
    keys: Mapping[str, str] = attrs.field(factory=dict)
    config: Mapping[str, Any] = attrs.field(factory=dict)
    config_fields: tuple[str, ...] = ()
    dropout_field: str | None = "classifier_dropout"
    unused_keys: tuple[str, ...] = ()
    base_prefix: str | None = None

    @classmethod
    def variants(cls, auto_class: str, *configs: Mapping[str, Any], **common: Any) -> tuple[HFLayout, ...]:
        """One layout per head config in ``configs``, all of ``auto_class`` and sharing ``common`` fields (``keys``,
        ``config_fields``, ...): the candidates of ``HeadSpec.hf_layouts``."""
        return tuple(cls(auto_class=auto_class, config=config, **common) for config in configs)


#: The name of :class:`HFLayout` before archit-core 0.2 (deprecated; the same class).
HFEquivalent = HFLayout


@renamed_field("hf_equivalent", "hf_layout")
@attrs.frozen(kw_only=True)
class HeadSpec:
    """A named head: its module class (``"package.module:Class"`` or the class), its attrs config class,
    extra forward inputs it reads besides ``labels``, and its Hugging Face layout if any (``hf_layout``; the
    keyword and attribute ``hf_equivalent`` are its deprecated old name).

    ``inputs`` are forward keyword arguments the head always reads (dummy batches must supply them);
    ``optional_inputs`` are ones it reads when given, such as labels under Hugging Face's names
    (``start_positions``). Both are routed to the head, never to the backbone."""

    module: str | type
    config_class: type[HeadConfig]
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    hf_layout: HFLayout | None = None
    #: Other configs under which the head may equal a family's Hugging Face head; generic backbones pick the one a
    #: family's task class matches (``archit_core.generic.layouts.infer_head_layout``).
    hf_layouts: tuple[HFLayout, ...] = ()
    description: str = ""
    #: The forward keywords the Hugging Face Trainer should take for this head's labels, when not ``labels`` (question
    #: answering: ``("start_positions", "end_positions")``, as ``*ForQuestionAnswering``): the model's ``forward``
    #: signature then leaves ``labels`` out (it is still accepted), so the Trainer finds these and only these.
    label_names: tuple[str, ...] = ()
    #: Pipeline tasks this head serves, ``{task: "package.module:PipelineClass"}`` (a ``transformers.Pipeline``, e.g.
    #: a subclass of ``archit_core.pipelines.WordPipeline``): ``transformers.pipeline(task, model=...)`` then works.
    pipelines: Mapping[str, str] = attrs.field(factory=dict)

    def module_class(self) -> type:
        """The head's ``nn.Module`` class (imports it)."""
        return resolve(self.module)

    def make_config(self, data: Mapping[str, Any] | HeadConfig | None, *, where: str = "head_config") -> HeadConfig:
        """A validated head config from a dict, a config instance or None (defaults)."""
        from .configs import config_from_dict

        return config_from_dict(self.config_class, data, where=where)


def pooling_needs(pooling: str, needs: frozenset[str] = frozenset({"token_states"})) -> frozenset[str]:
    """``needs`` plus ``pooler`` when ``pooling`` is the backbone's pooler: what a pooling head config's
    :meth:`HeadConfig.needs` returns."""
    return needs | {"pooler"} if pooling == "pooler" else needs


def vocabulary_needs(tied: bool | None, needs: frozenset[str] = frozenset({"token_states"})) -> frozenset[str]:
    """``needs`` plus ``vocabulary``, and ``input_embeddings`` unless ``tied`` is False (None may resolve to tied):
    what the config of a head with a vocabulary projection (``archit_core.VocabularyHead``) needs."""
    return needs | {"vocabulary"} | (frozenset() if tied is False else {"input_embeddings"})


def not_with_pooler(instance: Any, attribute: attrs.Attribute, value: bool) -> None:
    """attrs validator of a head-side dense pooler switch: off when ``instance.pooling`` is the backbone's pooler,
    which has its own dense layer and activation."""
    if value and instance.pooling == "pooler":
        raise ValueError(
            f"'{attribute.name}' must be False when pooling='pooler': the backbone's pooler already has its dense "
            "layer and activation. Use pooling='first' with pooler_dense=True for a head-side pooler.",
            attribute,
        )


@attrs.frozen(kw_only=True)
class SequencePoolingConfig(HeadConfig):
    """Base of the configs of :class:`archit_core.SequencePoolingHead` heads: ``pooling`` (``POOLER_POOLINGS``: first
    token, last kept token, masked mean, the backbone's ``pooler``, or ``late``), ``pooler_dense`` (a dense layer and
    ``pooler_activation`` on the pooled vector; not with the backbone's pooler) and ``dropout`` (None: the backbone's
    classifier dropout)."""

    pooling: str = attrs.field(default="first", validator=one_of(*POOLER_POOLINGS))
    pooler_dense: bool = attrs.field(default=False, validator=[flag, not_with_pooler])
    pooler_activation: str = attrs.field(default="tanh", validator=activation_name)
    dropout: float | None = attrs.field(default=None, validator=probability)

    def needs(self) -> frozenset[str]:
        return pooling_needs(self.pooling)


def needs_of(config: Any) -> frozenset[str]:
    """The capabilities a head config declares it needs; a ``needs()`` that does not return a set of capability names
    (a plugin's mistake, such as returning the string ``"token_states"``) is a :class:`PluginError` naming the class."""
    needs: Callable[[], Any] | None = getattr(config, "needs", None)
    if needs is None:
        return frozenset({"token_states"})
    where = f"{type(config).__module__}.{type(config).__qualname__}.needs()"
    try:
        found = needs()
    except Exception as exc:
        raise PluginError(f"{where} raised {type(exc).__name__}: {exc}; a head config's needs() must return a set of capability names") from exc
    if isinstance(found, (str, bytes)) or not isinstance(found, (set, frozenset, list, tuple)) or not all(isinstance(n, str) for n in found):
        raise PluginError(
            f"{where} must return a set of capability names such as frozenset({{'token_states'}}), got {bounded_repr(found)}; "
            "fix the head plugin that defines it"
        )
    return frozenset(found)
