"""``build`` and ``load``: the public ways to get a model with a head, through one pipeline.

``build`` turns its head argument into one *head part* (:class:`SingleHead`, or the multi-task set of named heads
that :data:`~archit_core.model.modeling.HEAD_PARTS` names), then runs the same steps for either: option checks, the
checkpoint folder opened once (:class:`~archit_core.checkpoints.folder.CheckpointFolder`), a :class:`Plan` for it,
the same-model short cut to :func:`load`, the config, construction or loading, and the device move.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..checkpoints.folder import CheckpointFolder, open_checkpoint
from ..checkpoints.keymap import KeyMap
from ..errors import CheckpointError, ConfigError, bounded_repr
from ..parts.configs import config_to_dict
from ..parts.options import check_model_options
from ..registry.host import PluginHost, get_host, using

if TYPE_CHECKING:
    from .modeling import ModelWithHead

#: Options of ``build`` that go to the model config (besides these, ``dtype`` and ``device`` place the model).
CONFIG_OPTIONS = frozenset({"id2label", "label2id", "problem_type", "output_hidden_states", "attn_implementation"})


def build(
    backbone: str,
    head: str | Mapping[str, Any],
    *,
    backbone_config: Mapping[str, Any] | Any = None,
    head_config: Mapping[str, Any] | Any = None,
    checkpoint: str | Path | None = None,
    tiny: bool = False,
    strict: bool = False,
    reinit_head: bool = False,
    host: PluginHost | None = None,
    dtype: Any = None,
    device: Any = None,
    device_map: Any = None,
    loss_weights: Mapping[str, float] | None = None,
    **options: Any,
) -> ModelWithHead:
    """A model made of the named backbone and head, from whichever plugins provide them.

    ``backbone_config`` is a dict of overrides of the backbone's documented default (its tiny test architecture
    with ``tiny=True``) or a config object; ``head_config`` a dict or the head's attrs config.
    ``name@distribution`` selects one provider when several register a name.

    ``checkpoint`` is a folder (or hub id) whose config fixes the backbone config: a Hugging Face base model (head
    fresh), a Hugging Face task model (its head imported when it is the requested head's equivalent, else fresh),
    or an archit checkpoint (everything, strictly, for the same head; the backbone only for another). What was
    loaded is on ``model.loading_report``; ``strict=True`` refuses fresh backbone weights, and ``reinit_head=True``
    starts the head fresh when its size differs from the checkpoint's.

    ``head`` may also be a dict of named heads, ``{task: "head-name" | ("head-name", head_config) | {"head": ...,
    "head_config": ..., "loss_weight": ...}}``, for a multi-task model with ``loss_weights`` (default 1.0 each);
    its heads start fresh unless the checkpoint is an archit multi-task checkpoint with exactly these tasks.
    """
    if not isinstance(tiny, bool):
        raise ConfigError(f"tiny must be True or False, got {bounded_repr(tiny)}")
    part = head_part(head, head_config=head_config, loss_weights=loss_weights, reinit_head=reinit_head)
    part.check_options(options)
    if checkpoint is not None and backbone_config is not None:
        raise ConfigError("give either checkpoint= or backbone_config=, not both: the checkpoint fixes the backbone config")
    folder = open_checkpoint(checkpoint) if checkpoint is not None else None
    host = host or get_host()
    with using(host):
        from .config import ArchitConfig
        from .modeling import ModelWithHead

        b = registration(host, "backbone", backbone, folder)
        part = part.registered(host, folder)
        plan = plan_checkpoint(folder, b, part, reinit_head) if folder is not None else None
        if plan is not None and plan.same_model:
            model = load(folder, host=host, dtype=dtype, device_map=device_map)
            return model.to(device) if device is not None else model
        bconf = plan.backbone_config if plan is not None else b.obj.make_config(backbone_config, tiny=tiny)
        fields, plugins, defaults = part.config_fields(b, bconf, plan.head_config if plan is not None else None)
        options = check_model_options({**(plan.options if plan is not None else {}), **options},
                                      num_labels=defaults.get("num_labels"))
        if "id2label" not in options:
            options = {**defaults, **options}
        config = ArchitConfig(backbone=b.name, backbone_config=bconf, **fields,
                              plugins={"backbone": b.provenance(), **plugins}, **options)
        if plan is None:
            model = _construct(ModelWithHead, config, dtype)
        else:
            from ..checkpoints.load import from_pretrained

            extra = {k: v for k, v in {"dtype": dtype, "device_map": device_map}.items() if v is not None}
            model = from_pretrained(
                ModelWithHead, folder, config, key_mapping=plan.key_mapping, format=plan.format, notes=plan.notes,
                strict=strict, skip_prefix=plan.skip_prefix, warn_skipped=not reinit_head, **extra,
            )
        return model.to(device) if device is not None else model


def registration(host: PluginHost, kind: str, name: str, folder: CheckpointFolder | None) -> Any:
    """``host.backbone(name)`` or ``host.head(name)``; when an archit checkpoint (``folder``) names that part, the
    provider it records (:func:`~archit_core.model.config.resolve_part`): a missing or disabled one raises
    :class:`MissingPluginError` naming the distribution that built it, even when another provides the name
    (``name@distribution`` chooses another on purpose)."""
    saved = folder.config if folder is not None and folder.is_archit else {}
    if saved.get(kind) == name:
        from .config import resolve_part

        return resolve_part(kind, name, (saved.get("plugins") or {}).get(kind))
    return getattr(host, kind)(name)


@attrs.frozen
class Plan:
    """How to load one checkpoint folder into one backbone + head part: the backbone config it fixes, the values the
    head config is made from, the key renames, notes for the loading report, the prefix of checkpoint keys never
    loaded (another head's), label options, and whether the checkpoint is the very model asked for."""

    format: str
    backbone_config: Any = None
    head_config: Any = None
    key_mapping: KeyMap = attrs.field(factory=KeyMap)
    notes: tuple[str, ...] = ()
    skip_prefix: str | None = None
    same_model: bool = False
    options: dict[str, Any] = attrs.field(factory=dict)


def plan_checkpoint(folder: CheckpointFolder, b: Any, part: Any, reinit_head: bool) -> Plan:
    """The :class:`Plan` for ``folder``: the backbone part is decided here, the head part by ``part``."""
    saved = folder.config
    if folder.is_archit:
        if saved.get("backbone") != b.name:
            raise CheckpointError(
                f"{str(folder)!r} holds the archit backbone {saved.get('backbone')!r}, not {b.name!r}; "
                f"build({saved.get('backbone')!r}, ...) to use it"
            )
        return part.plan_archit(folder, b, b.obj.config_from_dict(saved["backbone_config"]), reinit_head)
    return part.plan_transformers(folder, b, b.obj.config_from_dict(saved), hf_backbone_key_map(folder, b), reinit_head)


def hf_backbone_key_map(folder: CheckpointFolder, b: Any) -> KeyMap:
    """Renames from a Hugging Face checkpoint of ``b``'s family to archit's ``backbone.*`` keys (prefix and the
    backbone's aliases); a checkpoint of another family is a :class:`CheckpointError`."""
    from ..checkpoints.interop import backbone_key_map

    model_type = folder.config.get("model_type")
    expected = getattr(b.obj, "model_type", None)
    if expected is not None and model_type != expected:
        raise CheckpointError(
            f"{str(folder)!r} is a {model_type!r} checkpoint, but backbone {b.name!r} builds {expected!r} models; "
            "choose the backbone of that family (`archit plugins` lists them)"
        )
    return backbone_key_map(b.obj)


def hf_backbone_mapping(checkpoint: str | Path, saved: Mapping[str, Any], b: Any) -> dict[str, str]:
    """:func:`hf_backbone_key_map` as transformers' ``key_mapping`` dict (the older form)."""
    folder = CheckpointFolder(Path(checkpoint), saved, ())
    return hf_backbone_key_map(folder, b).transformers_mapping()


def head_part(head: str | Mapping[str, Any], *, head_config: Any = None, loss_weights: Mapping[str, float] | None = None,
              reinit_head: bool = False) -> Any:
    """``build``'s head argument as one head part: a :class:`SingleHead` for a name, the multi-task part of
    :data:`~archit_core.model.modeling.HEAD_PARTS` for a dict of named heads."""
    if isinstance(head, str):
        if loss_weights is not None:
            raise ConfigError("loss_weights= is for multi-task models: pass a dict of named heads, {task: head, ...}")
        return SingleHead(head, head_config)
    if head_config is not None or reinit_head:
        raise ConfigError("a multi-task build takes each task's head config in the heads dict: {task: (head, head_config)}")
    from .modeling import head_part_class

    return head_part_class("heads").build_part(head, loss_weights)


@attrs.frozen
class SingleHead:
    """The head part of a model with one named head: its name (or registration, once :meth:`registered`) and the
    head config the caller gave."""

    head: Any
    head_config: Any = None

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse options ``build`` does not know."""
        unknown = sorted(set(options) - CONFIG_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(map(repr, unknown))} for build(); valid: {', '.join(sorted(CONFIG_OPTIONS))}")

    def registered(self, host: PluginHost, folder: CheckpointFolder | None) -> SingleHead:
        """This part with its head's registration."""
        return attrs.evolve(self, head=registration(host, "head", self.head, folder))

    def _user(self) -> dict[str, Any]:
        hc = self.head_config
        return config_to_dict(hc) if attrs.has(type(hc)) else dict(hc or {})

    def plan_archit(self, folder: CheckpointFolder, b: Any, bconf: Any, reinit_head: bool) -> Plan:
        """The whole model when the checkpoint holds this head with this config; else the backbone only."""
        h, saved, user = self.head, folder.config, self._user()
        hconf = config_to_dict(h.obj.make_config(user))
        theirs = saved.get("head_config") or {}
        if saved.get("head") == h.name:
            try:  # fields a newer head version added take their defaults, as loading that checkpoint does
                theirs = config_to_dict(h.obj.make_config(theirs))
            except ConfigError:
                pass
        if saved.get("head") == h.name and theirs == hconf:
            return Plan("archit", same_model=True)
        if saved.get("head") == h.name and not reinit_head:
            field = next(k for k in sorted(set(theirs) | set(hconf)) if theirs.get(k) != hconf.get(k))
            raise CheckpointError(
                f"head_config.{field}={hconf.get(field)!r} but the checkpoint's {h.name!r} head has {field}="
                f"{theirs.get(field)!r}; pass reinit_head=True to start the head fresh, or drop the field to take the "
                "checkpoint's"
            )
        note = (
            f"head {h.name!r} is fresh: the checkpoint's head is {saved.get('head')!r} with {saved.get('head_config')}, "
            "and another head's weights are never loaded"
        )
        return Plan("archit", bconf, user, notes=(note,), skip_prefix="head.")

    def plan_transformers(self, folder: CheckpointFolder, b: Any, bconf: Any, mapping: KeyMap, reinit_head: bool) -> Plan:
        """The backbone, and the head too when the checkpoint's task class is this head's Hugging Face layout."""
        from ..checkpoints.interop import head_key_map, hf_class_name, resolve_hf_values

        h, saved, user = self.head, folder.config, self._user()
        eq = b.obj.head_layout(h.name, h.obj)
        hf_class = hf_class_name(eq.auto_class, saved.get("model_type")) if eq is not None else None
        architectures = saved.get("architectures") or []
        if hf_class is None or hf_class not in architectures:
            what = f"{', '.join(architectures)}" if architectures else "a base model"
            note = f"head {h.name!r} is fresh: the checkpoint holds {what}"
            note += f", not {hf_class}" if hf_class else ", and the head has no Hugging Face equivalent on this backbone"
            return Plan("transformers", bconf, user, mapping, (note,))
        required, shared = resolve_hf_values(eq, bconf)
        differs = {k: v for k, v in user.items() if k in shared and v != shared[k]}
        if differs and not reinit_head:
            field, value = next(iter(differs.items()))
            raise CheckpointError(
                f"head_config.{field}={value!r} but the checkpoint's {hf_class} head has {field}={shared[field]!r}; "
                "pass reinit_head=True to start the head fresh, or drop the field to take the checkpoint's"
            )
        not_equivalent = {k: v for k, v in user.items() if k in required and v != required[k]}
        if differs or not_equivalent:
            why = "reinit_head=True" if differs else ", ".join(f"{k}={v!r} (the {hf_class} head has {required[k]!r})" for k, v in not_equivalent.items())
            return Plan("transformers", bconf, user, mapping, (f"head {h.name!r} is fresh: {why}",))
        note = f"head {h.name!r} imported from the checkpoint's {hf_class} head"
        id2label = {int(k): v for k, v in (saved.get("id2label") or {}).items()}  # the imported head's label names
        labels = {"id2label": id2label, "label2id": saved.get("label2id") or {v: k for k, v in id2label.items()}} if id2label else {}
        return Plan("transformers", bconf, {**required, **shared, **user}, mapping | head_key_map(eq), (note,), options=labels)

    def config_fields(self, b: Any, bconf: Any, head_values: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The :class:`ArchitConfig` fields of this part (checked against the backbone), its plugin provenance, and
        default options (``num_labels``, unless ``id2label`` is given)."""
        from .modeling import check_compatible

        h = self.head
        hconf = h.obj.make_config(head_values if head_values is not None else self.head_config)
        check_compatible(b, h, bconf, hconf)
        defaults = {"num_labels": hconf.num_labels} if hasattr(hconf, "num_labels") else {}
        return {"head": h.name, "head_config": config_to_dict(hconf)}, {"head": h.provenance()}, defaults


def _construct(cls: type, config: Any, dtype: Any) -> Any:
    import torch

    if dtype is None:
        return cls(config)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    try:
        return cls(config)
    finally:
        torch.set_default_dtype(previous)


def load(path: str | Path | CheckpointFolder, *, host: PluginHost | None = None, dtype: Any = None,
         device_map: Any = None, providers: Mapping[str, str] | None = None) -> ModelWithHead:
    """Load an archit checkpoint strictly: every key must match, or :class:`CheckpointError` says which do not.

    The backbone and head come from the distributions the checkpoint records; when one is missing or disabled that
    is a :class:`MissingPluginError`. ``providers`` chooses another distribution on purpose, by kind
    (``{"backbone": "archit-core"}``: the generic backbone); the loaded model's config then records it."""
    folder = open_checkpoint(path)
    saved = folder.config
    rewrites = saved.get("archit_rewrites")
    if rewrites:
        names = ", ".join(repr(r.get("rewrite")) for r in rewrites)
        raise CheckpointError(
            f"{str(folder)!r} was saved from a model rewritten with {names}, which its config alone cannot rebuild. Save the "
            "base model and the rewrite apart (model.save_pretrained of the original, archit_core.save_rewrites of the "
            "rewritten one; load with archit_core.load then archit_core.load_rewrites), merge the rewrite first where it "
            "can be merged, or write its class with archit_core.declare(model)"
        )
    if not folder.is_archit:
        raise CheckpointError(
            f"{str(folder)!r} is not an archit checkpoint (model_type={saved.get('model_type')!r}); load Hugging Face "
            "checkpoints with build(backbone, head, checkpoint=...)"
        )
    with using(host or get_host()):
        from ..checkpoints.load import from_pretrained
        from .config import ArchitConfig, resolve_part, using_providers
        from .modeling import ModelWithHead

        with using_providers(providers):
            config = ArchitConfig.from_dict(dict(saved))  # the record's config: config.json is not read again
            extra = {k: v for k, v in {"dtype": dtype, "device_map": device_map}.items() if v is not None}
            model = from_pretrained(ModelWithHead, folder, config, key_mapping=None, format="archit", **extra)
            recorded = dict(model.config.plugins or {})
            for kind in set(providers or {}) & {"backbone", "head"}:  # record the provider now used
                if getattr(model.config, kind, None):
                    recorded[kind] = resolve_part(kind, getattr(model.config, kind), recorded.get(kind)).provenance()
            model.config.plugins = recorded
    report = model.loading_report
    if not report.complete:
        raise CheckpointError(f"{str(folder)!r} does not load strictly into its own architecture:\n{report}")
    return model


def summary(model: Any) -> dict[str, Any]:
    """Parameter counts of a model by part."""

    def count(module: Any, trainable: bool = False) -> int:
        return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)

    return {
        "backbone": count(model.backbone),
        "head": count(model.head),
        "total": count(model),
        "trainable": count(model, trainable=True),
    }




@attrs.frozen
class SmokeReport:
    """What :func:`smoke` saw: the dummy batch's shapes, the logits' shape (None when they are not one tensor), the
    loss (None when the head makes no dummy labels), how many trainable tensors got a gradient, and the parameter
    counts of :func:`summary`."""

    batch_shapes: Mapping[str, tuple[int, ...]]
    logits_shape: tuple[int, ...] | None
    loss: float | None
    with_grad: int
    trainable: int
    parameters: Mapping[str, int]
    head_class: str


def smoke(model: Any, *, batch_size: int = 2, seq_len: int = 16, seed: int = 0) -> SmokeReport:
    """One training step's forward and backward on a random batch (:func:`~archit_core.parts.dummy.dummy_batch`), to
    check that a backbone and a head fit; leaves the model in train mode with its gradients."""
    import torch

    from ..parts.dummy import dummy_batch

    if batch_size < 1 or seq_len < 1:
        raise ConfigError(f"batch_size and seq_len must be positive, got {batch_size} and {seq_len}")
    torch.manual_seed(seed)
    batch = dummy_batch(model, batch_size, seq_len)
    model.train()
    output = model(**batch)
    loss = output.loss
    if loss is not None:
        loss.backward()
    logits = output.logits
    return SmokeReport(
        batch_shapes={k: tuple(v.shape) for k, v in batch.items() if hasattr(v, "shape")},
        logits_shape=tuple(logits.shape) if hasattr(logits, "shape") else None,
        loss=loss.item() if loss is not None else None,
        with_grad=sum(1 for p in model.parameters() if p.grad is not None),
        trainable=sum(1 for p in model.parameters() if p.requires_grad),
        parameters=summary(model),
        head_class=type(model.head).__qualname__,
    )
