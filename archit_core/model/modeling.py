"""``ModelWithHead``: a ``transformers.PreTrainedModel`` made of a plugin's backbone and another plugin's head."""

from __future__ import annotations

import difflib
import inspect
import re
import types
from typing import Any

import torch
from transformers import GenerationMixin, PreTrainedModel
from transformers.utils import ModelOutput

from .._imports import resolve
from ..errors import ArchitError, IncompatibleHeadError
from ..parts.backbone import CAPABILITIES
from ..parts.head import needs_of
from ..parts.head_module import Head
from ..registry.registrations import Registration
from .config import ArchitConfig, resolve_part
from .transformers_compat import CACHE, output_class, rename_cache_kwargs

#: Head parts other than one registered head, by the :class:`ArchitConfig` field that holds them, as
#: ``"module:class"`` (the multi-task part of ``archit_core.multitask``). The model finds them here by name, as the
#: plugin host finds its built-in plugins, so that it never imports the packages that build on it. Such a class has
#: ``build_part(heads, loss_weights)`` (``build``'s head part) and ``parts_of(config, backbone)`` (the head spec and
#: head config of a saved model).
HEAD_PARTS: dict[str, str] = {"heads": "archit_core.multitask.head:MultiTaskHead"}


def head_part_class(field: str) -> Any:
    """The head-part class :data:`HEAD_PARTS` names for an :class:`ArchitConfig` field."""
    return resolve(HEAD_PARTS[field])


def check_compatible(backbone: Registration, head: Registration, backbone_config: Any, head_config: Any) -> None:
    """Raise :class:`IncompatibleHeadError` when the head needs a capability the backbone lacks."""
    missing = sorted(needs_of(head_config) - backbone.obj.provides(backbone_config))
    if missing:
        what = "; ".join(f"{m!r} ({CAPABILITIES.get(m, 'plugin-defined')})" for m in missing)
        have = ", ".join(sorted(backbone.obj.provides(backbone_config)))
        raise IncompatibleHeadError(
            f"head {head.name!r} with {head_config!r} needs {what}, which backbone {backbone.name!r} "
            f"({backbone.plugin.label}) does not provide; it provides: {have}. Change the head config or use "
            "another backbone."
        )


ArchitOutput = output_class(
    "ArchitOutput",
    [("loss", "torch.Tensor | None"), ("logits", Any), ("cache", Any), ("hidden_states", "tuple[torch.Tensor, ...] | None")],
    doc="Output of :class:`ModelWithHead`: ``loss``, ``logits``, a decoder's key/value cache under transformers' own "
    "name for it (``cache`` from 5.24, ``past_key_values`` before) and the hidden states on request.",
    module=__name__,
)


class ModelWithHead(PreTrainedModel):
    """A backbone from one plugin with a head from another, built from its :class:`ArchitConfig` alone."""

    config_class = ArchitConfig
    config: ArchitConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    # The head returns a per-batch mean loss and ignores `num_items_in_batch`; without this the Trainer sees
    # `**kwargs` in forward, assumes the loss is normalised over the accumulated batch and skips its division by
    # gradient_accumulation_steps (gradients and logged loss come out gradient_accumulation_steps times too large).
    accepts_loss_kwargs = False

    def __new__(cls, config: ArchitConfig | None = None, *args: Any, **kwargs: Any) -> ModelWithHead:
        # Each head gets its own class (`ArchitForTokenClassification`, see `model_class`): a forward signature that
        # names the head's inputs (for the Trainer), a name pipelines know, and a GenerationMixin only for generative
        # heads. Deciding here covers build, load and the Auto classes alike; a subclass of a head's class (the
        # Auto classes', a declared one) is kept.
        if isinstance(config, ArchitConfig):
            if cls in (ModelWithHead, GenerativeModelWithHead):
                cls = model_class(config)
            elif "head_inputs" in cls.__dict__:  # a head's own class, as an AutoModelFor<Task> picks it
                _check_head_class(cls, config)
        return super().__new__(cls)

    def __init__(self, config: ArchitConfig) -> None:
        super().__init__(config)
        plugins = config.plugins or {}
        backbone = resolve_part("backbone", config.backbone, plugins.get("backbone"))
        field = next((f for f in HEAD_PARTS if getattr(config, f, None)), None)
        if field is not None:  # several named heads on one backbone (archit_core.multitask)
            self.head_spec, head_config = head_part_class(field).parts_of(config, backbone)
        else:
            head = resolve_part("head", config.head, plugins.get("head"))
            head_config = head.obj.make_config(config.head_config)
            check_compatible(backbone, head, config.backbone_config, head_config)
            self.head_spec = head.obj
        self.backbone_spec = backbone.obj
        self.backbone = backbone.obj.build(config.backbone_config, needs_of(head_config))
        self.head = self.head_spec.module_class()(head_config, backbone.obj.facts(config.backbone_config))
        self._tied_weights_keys = _tied_keys(self)
        self.post_init()

    def get_output_embeddings(self) -> Any:
        """The head's vocabulary projection (``Head.get_output_embeddings``), or None: what transformers'
        ``resize_token_embeddings`` resizes along with the input embeddings."""
        return self.head.get_output_embeddings()

    def set_output_embeddings(self, new_embeddings: Any) -> None:
        self.head.set_output_embeddings(new_embeddings)

    def resize_token_embeddings(self, *args: Any, **kwargs: Any) -> Any:
        """transformers' resizing (input embeddings, the head's projection, the backbone config's
        ``vocab_size``, ties), then the heads' backbone facts are re-read so their ``vocab_size`` agrees."""
        from ..parts.head_module import Head

        embeddings = super().resize_token_embeddings(*args, **kwargs)
        projection = self.get_output_embeddings()
        if isinstance(getattr(projection, "out_features", None), int):  # a tied projection re-tied to the resized
            projection.out_features = projection.weight.shape[0]  # matrix keeps a stale size on some releases
        facts = self.backbone_spec.facts(self.config.backbone_config)
        for module in self.head.modules():
            if isinstance(module, Head):
                module.backbone_facts = facts
        return embeddings

    def _init_weights(self, module: Any) -> None:
        """A head may initialise its own modules (``Head.init_module``, e.g. a configured init); the rest as
        transformers does. A tensor neither writes (a plain ``nn.Parameter`` such as a CRF's transitions) keeps its
        constructor's value; when loading, where modules are built on the meta device and that value is lost, it is
        rebuilt on the CPU (``archit_core.checkpoints.load.constructor_values``), and ``loading_report.initialised``
        says which way each fresh tensor went."""
        from ..checkpoints.load import record_initialisation

        owner = None  # the innermost head holding the module (a task head inside a multi-task head)
        head = self._modules.get("head")
        for candidate in head.modules() if head is not None else ():
            if isinstance(candidate, Head) and any(module is m for m in candidate.modules()):
                owner = candidate
        fresh = {name: t for name, t in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
                 if t is not None and not getattr(t, "_is_hf_initialized", False)}
        versions = {name: t._version for name, t in fresh.items()}  # in-place writes bump a tensor's version
        handled = owner is not None and owner.init_module(module)
        if not handled:
            super()._init_weights(module)
        untouched = [name for name, t in fresh.items() if t._version == versions[name]]
        record_initialisation(self, module, owner, fresh, untouched, "the head's init_module" if handled else "transformers' default init")

    def save_pretrained(self, save_directory: Any, *, overwrite: bool = False, standalone: bool = False, **kwargs: Any) -> None:
        """transformers' ``save_pretrained`` (every keyword passes through), made safe: written to a temporary folder
        beside ``save_directory`` and swapped in whole, so a killed save leaves the old checkpoint or the new one. A
        path that is a file, or a folder holding another model (another backbone or head), is refused unless
        ``overwrite=True``; the folder's other files (tokenizer, ...) are kept. ``standalone=True`` also writes the
        model's own code, so it loads without archit (``archit_core.checkpoints.standalone``)."""
        from ..checkpoints.saving import save_pretrained

        save_pretrained(self, super().save_pretrained, save_directory, overwrite=overwrite, standalone=standalone, **kwargs)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: Any = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> ArchitOutput | tuple:
        if kwargs and not self._known_inputs().issuperset(kwargs):
            self._unknown_inputs(kwargs)
        _check_shapes(input_ids, inputs_embeds, attention_mask, token_type_ids, labels, kwargs)
        kwargs.pop("num_items_in_batch", None)  # the Trainer's loss-normalisation hint is no backbone input
        rename_cache_kwargs(kwargs)
        head_names = (*self.head_spec.inputs, *getattr(self.head_spec, "optional_inputs", ()))
        head_inputs = {name: kwargs.pop(name) for name in head_names if name in kwargs}
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "position_ids": position_ids,
            "inputs_embeds": inputs_embeds,
        }
        inputs = {k: v for k, v in inputs.items() if v is not None} | kwargs
        inputs, prepared = self.head.prepare_inputs(inputs)  # e.g. (batch, choices, length) -> (batch * choices, length)
        head_inputs |= prepared
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.output_hidden_states)
        wants_layers = "hidden_states" in needs_of(self.head.config)
        features = self.backbone_spec.encode(self.backbone, inputs, output_hidden_states=output_hidden_states or wants_layers)
        result = self.head(features, labels=labels, **head_inputs)
        output = _output(
            self.head,
            result,
            loss=result.loss,
            logits=result.logits,
            **{CACHE: features.cache},
            hidden_states=features.hidden_states if output_hidden_states else None,
        )
        return output if return_dict is not False else output.to_tuple()

    def _known_inputs(self) -> frozenset[str]:
        """The keywords ``forward`` takes through ``**kwargs``: the head's inputs and what the backbone module takes
        (its parameters, and transformers' shared keywords when it takes ``**kwargs``); computed once."""
        known = self.__dict__.get("_accepted_inputs")
        if known is None:
            params = _parameters(getattr(self.backbone, "forward", None))
            open_ended = params is None or "**" in params
            known = frozenset(
                {*self.head_spec.inputs, *getattr(self.head_spec, "optional_inputs", ()), *(params or ()), "num_items_in_batch"}
                | (_hf_keywords() | _PASSED_ON if open_ended else set())
            ) - {"**"}
            self.__dict__["_accepted_inputs"] = known
        return known

    def _unknown_inputs(self, kwargs: dict[str, Any]) -> None:
        """Raise :class:`ArchitError` naming the keywords ``forward`` does not take (with a did-you-mean)."""
        known = self._known_inputs()
        unknown = sorted(set(kwargs) - known)
        own = [n for n in inspect.signature(type(self).forward).parameters if n not in ("self", "kwargs")]
        hints = [f"{name!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(name, [*own, *known], 1))
                 else repr(name) for name in unknown]
        raise ArchitError(
            f"{type(self).__name__}.forward got the unknown keyword argument(s) {', '.join(hints)}; it takes "
            f"{', '.join(own)} and the keywords its backbone takes. Fix the name, or drop the column."
        )


def _output(head: Any, result: Any, **values: Any) -> ModelOutput:
    """The model output: :class:`ArchitOutput`, or the head's ``output_class`` holding its named ``outputs``
    (``values`` the class has no field for, such as a decoder's cache, are left out)."""
    cls = getattr(head, "output_class", None) or ArchitOutput
    named = dict(result.outputs or {})
    fields = cls.__dataclass_fields__  # a plain class attribute: torch.compile traces it, dataclasses.fields() not
    unknown = sorted(set(named) - set(fields))
    if unknown:
        raise TypeError(f"{type(head).__qualname__} returned the outputs {unknown}, which its output class {cls.__name__} has no field for")
    return cls(**{k: v for k, v in values.items() if k in fields}, **named)


class GenerativeModelWithHead(ModelWithHead, GenerationMixin):
    """A :class:`ModelWithHead` whose head predicts the next token (``Head.generative``): ``model.generate`` works,
    with the backbone's key/value cache. ``ModelWithHead(config)`` returns one (its head's subclass of it) when the
    config's head is generative."""


#: Keywords generation and the Trainer pass to a backbone that takes ``**kwargs`` (``num_items_in_batch`` is dropped
#: before any backbone).
_PASSED_ON = frozenset({"num_items_in_batch", "past_key_values", "cache", "use_cache", "cache_position",
                        "output_attentions", "logits_to_keep"})
#: The named parameters of ``ModelWithHead.forward`` that are per token (``attention_mask``, ``token_type_ids``).
_PER_TOKEN = ("attention_mask", "token_type_ids")


def _parameters(function: Any) -> set[str] | None:
    """The keyword names ``function`` takes (``"**"`` among them when it takes any), or None when unknown."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} | (
        {"**"} if any(p.kind is p.VAR_KEYWORD for p in params) else set())


def _hf_keywords() -> set[str]:
    """The keywords transformers' base models take through ``**kwargs`` (``TransformersKwargs``)."""
    from transformers.utils import generic

    return set(getattr(getattr(generic, "TransformersKwargs", None), "__annotations__", ()))


def _check_shapes(input_ids: Any, inputs_embeds: Any, attention_mask: Any, token_type_ids: Any, labels: Any,
                  kwargs: dict[str, Any]) -> None:
    """Raise :class:`ArchitError` when a per-token input does not have the tokens' shape or ``labels`` another batch
    size: shapes only (no device synchronisation). With a cache the mask may also cover the cached tokens."""
    tokens = input_ids.shape if isinstance(input_ids, torch.Tensor) else (
        inputs_embeds.shape[:-1] if isinstance(inputs_embeds, torch.Tensor) else None)
    if tokens is None or not tokens:
        return
    cached = kwargs.get("past_key_values", kwargs.get("cache")) is not None
    for name, value in zip(_PER_TOKEN, (attention_mask, token_type_ids)):
        if not isinstance(value, torch.Tensor) or value.dim() != len(tokens) or value.shape == tokens:
            continue  # a 4-d attention mask is the backbone's business
        if cached and value.shape[:-1] == tokens[:-1] and value.shape[-1] >= tokens[-1]:
            continue
        what = "input_ids" if isinstance(input_ids, torch.Tensor) else "inputs_embeds (without its last dimension)"
        raise ArchitError(f"{name} has shape {tuple(value.shape)} but {what} has {tuple(tokens)}: give one value per token "
                          f"(pad both to the same length)")
    if isinstance(labels, torch.Tensor) and labels.dim() and labels.shape[0] != tokens[0]:
        raise ArchitError(f"labels has shape {tuple(labels.shape)} but the batch has {tokens[0]} examples (input shape "
                          f"{tuple(tokens)}): give one row of labels per example, e.g. shape {(tokens[0], *labels.shape[1:])}")


_CLASSES: dict[tuple[str, tuple[str, ...], bool, bool], type] = {}
_BY_NAME: dict[str, type] = {}
#: Called as ``listener(head name, head spec, model class)`` for every head model class made (``archit_core.model.auto``
#: adds the one that registers it with its ``AutoModelFor<Task>`` and its pipelines), so a head first seen after
#: transformers loaded its Auto classes (another plugin host, a plugin added in a running process) is registered too.
CLASS_LISTENERS: list[Any] = []


def auto_class_name(spec: Any) -> str | None:
    """The ``AutoModelFor<Task>`` a head spec is equivalent to (its Hugging Face layout's), or None."""
    layout = getattr(spec, "hf_layout", None) or next(iter(getattr(spec, "hf_layouts", ()) or ()), None)
    auto = getattr(layout, "auto_class", None)
    return auto if isinstance(auto, str) and auto.startswith("AutoModelFor") else None


def class_name(head: str | None, spec: Any) -> str:
    """The class name of a model with this head: ``Archit`` plus its Hugging Face equivalent's task
    (``AutoModelForTokenClassification`` -> ``ArchitForTokenClassification``), else ``ArchitFor`` plus the head name
    in CamelCase (``dependency-parsing`` -> ``ArchitForDependencyParsing``); ``ArchitForMultiTask`` for several heads."""
    auto = auto_class_name(spec)
    if auto is not None:
        return "Archit" + auto[len("AutoModel"):]
    words = re.split(r"[^0-9A-Za-z]+", head or "multi-task")
    return "ArchitFor" + "".join(w[:1].upper() + w[1:] for w in words if w)


def model_class(config: ArchitConfig) -> type:
    """The class of the model ``config`` describes: a subclass of :class:`ModelWithHead` (or of
    :class:`GenerativeModelWithHead`) named by :func:`class_name`, whose ``forward`` signature names the head's
    inputs, so the Trainer keeps those columns (``remove_unused_columns``) and finds the label columns."""
    plugins = config.plugins or {}
    if getattr(config, "heads", None):
        backbone = resolve_part("backbone", config.backbone, plugins.get("backbone"))
        return task_class_of(None, head_part_class("heads").parts_of(config, backbone)[0])
    reg = resolve_part("head", config.head, plugins.get("head"))
    return task_class_of(reg.name, reg.obj)


def task_class_of(head: str | None, spec: Any) -> type:
    """The model class of the head ``head`` (None: several heads) with the spec ``spec``."""
    module = spec.module_class()
    inputs = tuple(dict.fromkeys((*spec.inputs, *getattr(spec, "optional_inputs", ()))))
    label_names = tuple(getattr(spec, "label_names", ()) or ())
    cls = task_class(class_name(head, spec), inputs, generative=bool(getattr(module, "generative", False)),
                     auto_class=auto_class_name(spec), labels=not label_names or "labels" in label_names)
    if head is not None and (head, cls) not in ANNOUNCED:
        ANNOUNCED[head, cls] = spec
        for listener in CLASS_LISTENERS:
            listener(head, spec, cls)
    return cls


#: Every head model class made so far, ``{(head name, class): head spec}`` (what ``CLASS_LISTENERS`` were told).
ANNOUNCED: dict[tuple[str, type], Any] = {}


def task_class(name: str, inputs: tuple[str, ...] = (), *, generative: bool = False, auto_class: str | None = None,
               labels: bool = True) -> type:
    """The :class:`ModelWithHead` subclass ``name`` whose ``forward`` signature also names ``inputs`` (and names
    ``labels`` unless ``labels`` is False: the head's labels go by other names, though ``labels=`` still works); made
    once per name and signature, then cached (two multi-task models of other tasks have two classes of one name).
    ``auto_class``: the ``AutoModelFor<Task>`` whose archit checkpoints it loads."""
    key = (name, inputs, generative, labels)
    cls = _CLASSES.get(key)
    if cls is None:
        base = GenerativeModelWithHead if generative else ModelWithHead
        doc = (f"An archit model ({base.__name__}) whose ``forward`` also takes {', '.join(inputs) or 'no head inputs'}"
               + (f"; what ``transformers.{auto_class}`` loads from an archit checkpoint of such a head." if auto_class else "."))
        cls = _CLASSES[key] = type(name, (base,), {
            "forward": _forward_naming(inputs, labels), "__module__": __name__, "__doc__": doc, "head_inputs": inputs,
            "auto_class": auto_class})
    _BY_NAME.setdefault(name, cls)
    return cls


def _check_head_class(cls: type, config: ArchitConfig) -> None:
    """Raise :class:`ArchitError` when ``cls`` (a head's model class, as an Auto class picks it) is not the class of
    the head ``config`` names, so ``AutoModelForTokenClassification`` never loads a parser's checkpoint."""
    wanted = model_class(config)
    if wanted.__name__ != cls.__name__:
        from ..registry.host import get_host

        registry = get_host().registry
        heads = [h for h in registry.names("head") if class_name(h, registry.get("head", h).obj) == cls.__name__]
        what = f"head {config.head!r}" if config.head else f"the heads {sorted(config.heads or {})} (multi-task)"
        loader = f"transformers.{wanted.auto_class}.from_pretrained" if getattr(wanted, "auto_class", None) else "archit_core.load"
        raise ArchitError(
            f"this archit checkpoint holds a model with {what} ({wanted.__name__}), which {cls.auto_class or cls.__name__} "
            f"does not load: it loads models with the head(s) {', '.join(map(repr, heads)) or cls.__name__}. Load it with "
            f"{loader}(path) (archit_core.load(path) loads any archit model)."
        )


class ArchitModel(PreTrainedModel):
    """What ``transformers.AutoModel`` builds from an archit checkpoint: its backbone, the Hugging Face base model
    (``RobertaModel``), as ``AutoModel`` gives the base model of a ``*For*`` checkpoint. ``archit_core.load`` (or the
    head's ``AutoModelFor<Task>``) gives the whole model."""

    config_class = ArchitConfig
    base_model_prefix = "backbone"

    def __init__(self, config: ArchitConfig, *args: Any, **kwargs: Any) -> None:
        raise ArchitError("ArchitModel only loads: use AutoModel.from_pretrained(path) for the backbone of an archit "
                          "checkpoint, archit_core.load(path) for the whole model, archit_core.build(...) for a new one")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        """The backbone of the archit checkpoint at ``pretrained_model_name_or_path`` (with ``output_loading_info=True``,
        also transformers' loading information about the whole model)."""
        kwargs.pop("config", None)  # AutoModel's ArchitConfig: the whole model reads its own
        loaded = ModelWithHead.from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        if isinstance(loaded, tuple):
            return loaded[0].backbone, loaded[1]
        return loaded.backbone


def _forward_naming(inputs: tuple[str, ...], labels: bool = True) -> Any:
    """A copy of ``ModelWithHead.forward`` (no extra call) whose signature adds ``inputs`` as keyword-only arguments
    (and leaves ``labels`` out unless ``labels``)."""
    base = ModelWithHead.forward
    forward = types.FunctionType(base.__code__, base.__globals__, "forward", base.__defaults__, base.__closure__)
    forward.__kwdefaults__, forward.__doc__, forward.__annotations__ = base.__kwdefaults__, base.__doc__, base.__annotations__
    signature = inspect.signature(base)
    params = list(signature.parameters.values())
    if not labels:  # the head's labels go by other names (HeadSpec.label_names)
        params = [p for p in params if p.name != "labels"]
    taken = {p.name for p in params}
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in inputs if n not in taken]
    forward.__signature__ = signature.replace(parameters=[*params[:-1], *extra, params[-1]])
    return forward


def __getattr__(name: str) -> type:
    """A head's model class by name (``from archit_core.model.modeling import ArchitForTokenClassification``, as
    declared code and pickles do): made from the installed heads when not made yet."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("ArchitFor"):
        from ..registry.host import get_host

        host = get_host()
        for head in host.registry.names("head"):
            spec = host.registry.get("head", head).obj
            if class_name(head, spec) == name:
                return task_class_of(head, spec)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tied_keys(model: ModelWithHead) -> dict[str, str]:
    """``{head parameter: input embedding weight}`` for every parameter a head ties to the backbone's input
    embeddings: transformers' ``_tied_weights_keys`` of this instance (``{target: source}``)."""
    from ..parts.head_module import Head

    tied = {f"{name}.{param}": None for name, module in model.named_modules() if isinstance(module, Head)
            for param in module.tied_to_input_embeddings()}
    if not tied:
        return {}
    embeddings = model.backbone_spec.input_embeddings(model.backbone)
    path = next((name for name, module in model.backbone.named_modules() if module is embeddings), None)
    if embeddings is None or path is None or not isinstance(getattr(embeddings, "weight", None), torch.Tensor):
        raise IncompatibleHeadError(
            f"head {model.config.head!r} ties {', '.join(sorted(tied))} to the input embeddings, but backbone "
            f"{model.config.backbone!r} exposes no input embedding module with a weight; untie the head "
            "(its head config) or use another backbone."
        )
    source = f"{model.base_model_prefix}.{path}.weight" if path else f"{model.base_model_prefix}.weight"
    return dict.fromkeys(tied, source)
