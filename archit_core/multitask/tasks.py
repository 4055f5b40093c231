"""Multi-task models: one backbone, several named heads, one forward, a weighted total loss.

``archit_core.build(backbone, {"ner": ("token-classification", {"num_labels": 9}), "cls": "sequence-classification"},
loss_weights={"cls": 0.5})`` builds one, through ``build``'s own pipeline with :class:`TaskHeads` as its head part;
:func:`add_head` and :func:`drop_head` return a new model with one task more or fewer, sharing every other weight.
The model config records the tasks in ``ArchitConfig.heads``; the heads live under ``model.head.heads[task]`` (keys
``head.heads.<task>.*``), so a multi-task model saves and loads as one checkpoint. Importing this module imports
neither torch nor transformers.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..checkpoints.keymap import KeyMap
from ..errors import ArchitError, ConfigError, IncompatibleHeadError
from ..model.build import CONFIG_OPTIONS, Plan
from ..parts.configs import config_to_dict
from ..parts.head import HeadConfig, needs_of
from ..registry.host import PluginHost, get_host, using

if TYPE_CHECKING:
    from ..checkpoints.folder import CheckpointFolder
    from ..model.modeling import ModelWithHead

#: Keyword arguments of ``forward`` that carry one task's labels: ``<task>_labels``.
LABELS_SUFFIX = "_labels"
_TASK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED = frozenset({"labels", "input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds"})


@attrs.frozen(kw_only=True)
class MultiTaskConfig:
    """The built form of ``ArchitConfig.heads``: each task's head spec and validated head config, and its weight."""

    specs: Mapping[str, Any]
    configs: Mapping[str, HeadConfig]
    loss_weights: Mapping[str, float]

    def needs(self) -> frozenset[str]:
        """Every capability some task's head needs."""
        return frozenset().union(*(needs_of(c) for c in self.configs.values()))


@attrs.frozen(kw_only=True)
class MultiTaskSpec:
    """What a multi-task model holds in place of one head's :class:`HeadSpec`: the union of its heads' inputs, plus
    ``<task>_labels`` for each task as optional inputs; no Hugging Face equivalent."""

    tasks: tuple[str, ...]
    specs: Mapping[str, Any]
    head_class: type | None = None
    #: A multi-task head has no Hugging Face layout.
    hf_layout: None = None
    description: str = "several named heads on one backbone"

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for spec in self.specs.values() for name in spec.inputs))

    @property
    def label_names(self) -> tuple[str, ...]:
        """``<task>_labels`` for each task: the label columns the Trainer finds (``labels`` takes a dict)."""
        return tuple(t + LABELS_SUFFIX for t in self.tasks)

    @property
    def optional_inputs(self) -> tuple[str, ...]:
        names = [name for spec in self.specs.values() for name in getattr(spec, "optional_inputs", ())]
        return tuple(dict.fromkeys([*names, *(t + LABELS_SUFFIX for t in self.tasks)]))

    def module_class(self) -> type:
        """The multi-task head module (:class:`~archit_core.multitask.head.MultiTaskHead`)."""
        return self.head_class


def _check_task_name(task: Any) -> str:
    if not isinstance(task, str) or not _TASK_NAME.match(task) or task in _RESERVED:
        raise ConfigError(
            f"task name {task!r}: use a Python identifier (letters, digits, underscores, starting with a letter) that is "
            "no model input name; it names the head's weights (head.heads.<task>.*) and its labels (<task>_labels=)"
        )
    return task


def normalise_heads(heads: Mapping[str, Any], loss_weights: Mapping[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """``{task: {"head": name, "head_config": dict-or-config, "loss_weight": w}}`` from the forms ``build`` accepts:
    ``"head-name"``, ``("head-name", head_config)`` or ``{"head": ..., "head_config": ..., "loss_weight": ...}``.
    Tasks are ordered by name (the order ``config.json`` keeps), so a model's task order survives saving."""
    if not isinstance(heads, Mapping) or not heads:
        raise ConfigError("a multi-task model needs a non-empty dict {task: head} of heads")
    weights = dict(loss_weights or {})
    unknown = sorted(set(weights) - set(heads))
    if unknown:
        raise ConfigError(f"loss_weights names unknown task(s) {', '.join(map(repr, unknown))}; the tasks are {', '.join(map(repr, heads))}")
    entries: dict[str, dict[str, Any]] = {}
    for task, value in sorted(heads.items(), key=lambda kv: str(kv[0])):  # by name, as config.json stores them
        _check_task_name(task)
        if isinstance(value, str):
            entry = {"head": value, "head_config": None}
        elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            entry = {"head": value[0], "head_config": value[1]}
        elif isinstance(value, Mapping) and isinstance(value.get("head"), str) and set(value) <= {"head", "head_config", "loss_weight"}:
            entry = dict(value)
        else:
            raise ConfigError(
                f"heads[{task!r}]: give a head name, a (head name, head config) pair or a dict with 'head', 'head_config' "
                f"and 'loss_weight'; got {value!r}"
            )
        if task in weights and entry.get("loss_weight", weights[task]) != weights[task]:
            raise ConfigError(f"task {task!r} has two loss weights: {entry['loss_weight']} in heads and {weights[task]} in loss_weights")
        weight = entry.get("loss_weight", weights.get(task, 1.0))
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
            raise ConfigError(f"loss_weights[{task!r}]: a finite number >= 0, got {weight!r}")
        entries[task] = {"head": entry["head"], "head_config": entry.get("head_config"), "loss_weight": float(weight)}
    return entries


def resolve_tasks(entries: Mapping[str, Mapping[str, Any]], provenance: Mapping[str, Any], backbone: Any, backbone_config: Any) -> tuple[dict, dict]:
    """Each task's head registration and validated config, checked against the backbone (errors name the task)."""
    from ..model.config import resolve_part
    from ..model.modeling import check_compatible

    regs, configs = {}, {}
    for task, entry in entries.items():
        reg = resolve_part("head", entry["head"], provenance.get(task))
        hconf = reg.obj.make_config(entry.get("head_config"), where=f"heads[{task!r}].head_config")
        try:
            check_compatible(backbone, reg, backbone_config, hconf)
        except IncompatibleHeadError as exc:
            raise IncompatibleHeadError(f"task {task!r}: {exc}") from None
        regs[task], configs[task] = reg, hconf
    _check_reshaping(regs)
    return regs, configs


def _check_reshaping(regs: Mapping[str, Any]) -> None:
    """Heads that reshape the model inputs (``Head.prepare_inputs``, e.g. multiple choice) share one backbone pass
    only with heads of their own kind."""
    classes = {task: reg.obj.module_class() for task, reg in regs.items()}
    reshaping = {t for t, cls in classes.items() if cls.reshapes_inputs()}
    if reshaping and len({classes[t] for t in classes}) > 1:
        raise ConfigError(
            f"task(s) {', '.join(map(repr, sorted(reshaping)))} reshape the model inputs before the backbone (head "
            f"{', '.join(sorted({regs[t].name for t in reshaping}))}), so they cannot share one forward with the other "
            "tasks' heads; build separate models for them"
        )


def config_entries(regs: Mapping[str, Any], configs: Mapping[str, HeadConfig], entries: Mapping[str, Any]) -> dict[str, Any]:
    """``ArchitConfig.heads``: each task's head name, head config as a dict, and loss weight."""
    return {
        task: {"head": regs[task].name, "head_config": config_to_dict(configs[task]), "loss_weight": entries[task]["loss_weight"]}
        for task in entries
    }


@attrs.frozen
class TaskHeads:
    """The head part of a multi-task model in ``build``'s pipeline: the normalised ``{task: entry}`` heads, and their
    registrations once :meth:`registered`."""

    entries: Mapping[str, Mapping[str, Any]]
    regs: Mapping[str, Any] | None = None

    @classmethod
    def from_build(cls, heads: Mapping[str, Any], loss_weights: Mapping[str, float] | None = None) -> TaskHeads:
        """The part for ``build``'s dict of heads (see :func:`normalise_heads`)."""
        return cls(normalise_heads(heads, loss_weights))

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse options a multi-task build does not take (labels belong to each task)."""
        unknown = sorted(set(options) - (CONFIG_OPTIONS - {"id2label", "label2id", "problem_type"}))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(map(repr, unknown))} for a multi-task build; labels and problem types "
                "belong in each task's head_config"
            )

    def registered(self, host: PluginHost, folder: CheckpointFolder | None) -> TaskHeads:
        """This part with each task's head registration."""
        return attrs.evolve(self, regs={task: host.head(entry["head"]) for task, entry in self.entries.items()})

    def _resolved(self, b: Any, bconf: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``ArchitConfig.heads`` and the heads' provenance, each task checked against the backbone."""
        provenance = {task: reg.provenance() for task, reg in self.regs.items()}
        named = {t: {**e, "head": self.regs[t].name} for t, e in self.entries.items()}
        regs, configs = resolve_tasks(named, provenance, b, bconf)
        return config_entries(regs, configs, self.entries), provenance

    def _fresh(self, why: str) -> str:
        return f"heads {', '.join(map(repr, self.entries))} are fresh: {why}"

    def plan_archit(self, folder: CheckpointFolder, b: Any, bconf: Any, reinit_head: bool) -> Plan:
        """The whole model from an archit multi-task checkpoint with exactly these tasks; else the backbone only."""
        if folder.config.get("heads") == self._resolved(b, bconf)[0]:
            return Plan("archit", same_model=True)
        return Plan("archit", bconf, notes=(self._fresh("the checkpoint holds other heads"),), skip_prefix="head.")

    def plan_transformers(self, folder: CheckpointFolder, b: Any, bconf: Any, mapping: KeyMap, reinit_head: bool) -> Plan:
        """The backbone only: a Hugging Face checkpoint holds no archit task heads."""
        return Plan("transformers", bconf, key_mapping=mapping, notes=(self._fresh("a Hugging Face checkpoint gives the backbone only"),))

    def config_fields(self, b: Any, bconf: Any, head_values: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The :class:`ArchitConfig` fields (``heads``), the heads' provenance, and no default options."""
        entries, provenance = self._resolved(b, bconf)
        return {"heads": entries}, {"heads": provenance}, {}


def build_multitask(
    backbone: str,
    heads: Mapping[str, Any],
    *,
    loss_weights: Mapping[str, float] | None = None,
    backbone_config: Mapping[str, Any] | Any = None,
    checkpoint: str | Path | None = None,
    tiny: bool = False,
    strict: bool = False,
    host: PluginHost | None = None,
    dtype: Any = None,
    device: Any = None,
    device_map: Any = None,
    **options: Any,
) -> ModelWithHead:
    """Deprecated: ``archit_core.build(backbone, heads, loss_weights=..., ...)``, which builds multi-task models.

    ``heads`` maps task names to ``"head-name"``, ``("head-name", head_config)`` or ``{"head": ..., "head_config":
    ..., "loss_weight": ...}``; ``loss_weights`` (default 1.0 each) weight each task's loss in the total.
    """
    from ..model.build import build

    warnings.warn("build_multitask is deprecated: call archit_core.build(backbone, {task: head, ...}, loss_weights=...)",
                  DeprecationWarning, stacklevel=2)
    return build(backbone, heads, loss_weights=loss_weights, backbone_config=backbone_config, checkpoint=checkpoint,
                 tiny=tiny, strict=strict, host=host, dtype=dtype, device=device, device_map=device_map, **options)


def _tasks(model: Any) -> dict[str, dict[str, Any]]:
    heads = getattr(model.config, "heads", None)
    if not heads:
        raise ArchitError(
            f"this model has the single head {model.config.head!r}, not named tasks; build a multi-task model with "
            "archit_core.build(backbone, {task: head, ...}) to add or drop heads"
        )
    return {task: dict(entry) for task, entry in heads.items()}


def add_head(
    model: ModelWithHead, task: str, head: str, head_config: Mapping[str, Any] | Any = None, *,
    loss_weight: float = 1.0, host: PluginHost | None = None,
) -> ModelWithHead:
    """A new multi-task model with ``model``'s tasks plus ``task`` (a fresh ``head`` with ``head_config``).

    The new model shares the backbone and the other heads with ``model`` (own modules on the same storage);
    ``model`` itself is unchanged.
    """
    tasks = _tasks(model)
    if task in tasks:
        raise ConfigError(f"the model already has a task {task!r} (head {tasks[task]['head']!r}); drop_head it first or pick another name")
    host = host or get_host()
    reg = host.head(head)
    entry = normalise_heads({task: {"head": reg.name, "head_config": head_config, "loss_weight": loss_weight}})[task]
    provenance = dict((model.config.plugins or {}).get("heads") or {})
    provenance[task] = reg.provenance()
    return _rebuild(model, {**tasks, task: entry}, provenance, host)


def drop_head(model: ModelWithHead, task: str, *, host: PluginHost | None = None) -> ModelWithHead:
    """A new multi-task model with ``model``'s tasks except ``task``, sharing the backbone and the remaining heads
    with ``model`` (which is unchanged)."""
    tasks = _tasks(model)
    if task not in tasks:
        raise ConfigError(f"the model has no task {task!r}; its tasks are {', '.join(map(repr, tasks))}")
    if len(tasks) == 1:
        raise ConfigError(f"{task!r} is the model's only task; a model needs at least one head")
    del tasks[task]
    provenance = {t: p for t, p in ((model.config.plugins or {}).get("heads") or {}).items() if t != task}
    return _rebuild(model, tasks, provenance, host or get_host())


def _rebuild(model: Any, tasks: dict[str, Any], provenance: dict[str, Any], host: PluginHost) -> Any:
    """A model of ``model``'s class for ``tasks``: built on the meta device, then given ``model``'s backbone and
    every kept head; new heads are built on ``model``'s device and dtype and initialised as at build time."""
    import torch

    from ..rewrites.rewrite import rewrites_of
    from ..rewrites.sharing import shared_copy

    if rewrites_of(model):
        names = ", ".join(r["rewrite"] for r in rewrites_of(model))
        raise ArchitError(
            f"this model was rewritten ({names}); add or drop heads on the model before rewriting it, then apply the "
            "rewrite again (archit_core.save_rewrites / load_rewrites carry its weights over)"
        )
    model = shared_copy(model)  # own modules and Parameters on the same storage: the input model stays as it is
    config = copy.deepcopy(model.config)
    config.heads = tasks
    config.plugins = {**(config.plugins or {}), "heads": provenance}
    config.backbone_config = model.config.backbone_config  # the shared backbone module holds this object
    with using(host):
        with torch.device("meta"):
            new = type(model)(config)
        new.backbone = _shared_backbone(model, new, config)
        facts = new.backbone_spec.facts(config.backbone_config)
        for task in tasks:
            if task in model.head.heads:
                new.head.heads[task] = model.head.heads[task]
            else:
                spec, hconf = new.head.config.specs[task], new.head.config.configs[task]
                fresh = spec.module_class()(hconf, facts)
                new.head.heads[task] = fresh  # in place first, so its own init_module is found
                fresh.apply(new._init_weights)
                new.head.heads[task] = fresh.to(device=model.device, dtype=model.dtype)
    if new._tied_weights_keys:
        new.tie_weights()
    return new.train(model.training)


def _shared_backbone(model: Any, new: Any, config: Any) -> Any:
    """``model``'s backbone module when the new heads need the same parts; otherwise (a pooler more or fewer) a
    backbone built for the new heads holding ``model``'s backbone parameters (the same tensors), its extra parts
    initialised as at build time."""
    wanted = set(new.backbone.state_dict())
    if wanted == set(model.backbone.state_dict()):
        return model.backbone
    backbone = new.backbone_spec.build(config.backbone_config, needs_of(new.head.config))
    backbone.to(device=model.device, dtype=model.dtype)
    shared = {k: v for k, v in model.backbone.state_dict(keep_vars=True).items() if k in wanted}
    result = backbone.load_state_dict(shared, strict=False, assign=True)
    lost = [k for k in model.backbone.state_dict() if k not in wanted and "pooler" not in k]
    if lost:  # only the parts the heads ask for (the pooler) may come or go
        raise ArchitError(f"the backbone's weights {lost[:3]} have no place in the rebuilt model; nothing was changed")
    fresh = [k for k in result.missing_keys if "pooler" not in k]
    if fresh:
        raise ArchitError(f"the rebuilt backbone would leave {fresh[:3]} fresh; nothing was changed")
    return backbone
