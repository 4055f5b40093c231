"""Multi-task models: one backbone, several named heads, one forward, a weighted total loss.

``archit_core.build(backbone, {"ner": ("token-classification", {"num_labels": 9}), "cls": "sequence-classification"},
loss_weights={"cls": 0.5})`` builds one; :func:`add_head` and :func:`drop_head` return a new model with one task more
or fewer, sharing every other weight. The model config records the tasks in ``ArchitConfig.heads``; the heads live
under ``model.head.heads[task]`` (keys ``head.heads.<task>.*``), so a multi-task model saves and loads as one
checkpoint. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..parts.configs import config_to_dict
from ..errors import ArchitError, CheckpointError, ConfigError, IncompatibleHeadError
from ..parts.head import HeadConfig, needs_of
from ..registry.host import PluginHost, get_host, using

if TYPE_CHECKING:
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
    hf_equivalent: None = None
    description: str = "several named heads on one backbone"

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for spec in self.specs.values() for name in spec.inputs))

    @property
    def optional_inputs(self) -> tuple[str, ...]:
        names = [name for spec in self.specs.values() for name in getattr(spec, "optional_inputs", ())]
        return tuple(dict.fromkeys([*names, *(t + LABELS_SUFFIX for t in self.tasks)]))

    def module_class(self) -> type:
        from .head import MultiTaskHead

        return MultiTaskHead


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


def _resolve(entries: Mapping[str, Mapping[str, Any]], provenance: Mapping[str, Any], backbone: Any, backbone_config: Any) -> tuple[dict, dict]:
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


def multitask_parts(config: Any, backbone: Any) -> tuple[MultiTaskSpec, MultiTaskConfig]:
    """The spec and config of a multi-task model's head, from its :class:`ArchitConfig` (used by ``ModelWithHead``)."""
    entries = normalise_heads(config.heads)
    provenance = (config.plugins or {}).get("heads") or {}
    regs, configs = _resolve(entries, provenance, backbone, config.backbone_config)
    specs = {task: reg.obj for task, reg in regs.items()}
    weights = {task: entry["loss_weight"] for task, entry in entries.items()}
    return MultiTaskSpec(tasks=tuple(entries), specs=specs), MultiTaskConfig(specs=specs, configs=configs, loss_weights=weights)


def _config_entries(regs: Mapping[str, Any], configs: Mapping[str, HeadConfig], entries: Mapping[str, Any]) -> dict[str, Any]:
    return {
        task: {"head": regs[task].name, "head_config": config_to_dict(configs[task]), "loss_weight": entries[task]["loss_weight"]}
        for task in entries
    }


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
    """A model with one backbone and several named heads (``archit_core.build`` with a dict of heads calls this).

    ``heads`` maps task names to ``"head-name"``, ``("head-name", head_config)`` or ``{"head": ..., "head_config":
    ..., "loss_weight": ...}``; ``loss_weights`` (default 1.0 each) weight each task's loss in the total.
    ``checkpoint`` gives the backbone's weights (a Hugging Face model of the backbone's family, or an archit
    checkpoint); the heads start fresh unless it is an archit multi-task checkpoint with exactly these tasks, which
    then loads strictly.
    """
    from ..model.build import CONFIG_OPTIONS, _construct, _registration

    unknown = sorted(set(options) - (CONFIG_OPTIONS - {"id2label", "label2id", "problem_type"}))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for a multi-task build; labels and problem types "
            "belong in each task's head_config"
        )
    if checkpoint is not None and backbone_config is not None:
        raise ConfigError("give either checkpoint= or backbone_config=, not both: the checkpoint fixes the backbone config")
    entries = normalise_heads(heads, loss_weights)
    if checkpoint is not None:
        from ..checkpoints.folder import local_checkpoint

        checkpoint = local_checkpoint(checkpoint)
    host = host or get_host()
    with using(host):
        from ..model.config import ArchitConfig
        from ..model.modeling import ModelWithHead

        b = _registration(host, "backbone", backbone, checkpoint)
        plan = _backbone_plan(checkpoint, b) if checkpoint is not None else None
        bconf = plan["backbone_config"] if plan else b.obj.make_config(backbone_config, tiny=tiny)
        regs = {task: host.head(entry["head"]) for task, entry in entries.items()}
        provenance = {task: reg.provenance() for task, reg in regs.items()}
        regs, configs = _resolve({t: {**e, "head": regs[t].name} for t, e in entries.items()}, provenance, b, bconf)
        config_entries = _config_entries(regs, configs, entries)
        if plan and plan.get("saved_heads") == config_entries:
            from ..model.build import load

            model = load(checkpoint, host=host, dtype=dtype, device_map=device_map)
            return model.to(device) if device is not None else model
        config = ArchitConfig(
            backbone=b.name,
            backbone_config=bconf,
            heads=config_entries,
            plugins={"backbone": b.provenance(), "heads": provenance},
            **options,
        )
        if plan is None:
            model = _construct(ModelWithHead, config, dtype)
        else:
            from ..checkpoints.load import from_pretrained

            extra = {k: v for k, v in {"dtype": dtype, "device_map": device_map}.items() if v is not None}
            model = from_pretrained(
                ModelWithHead, checkpoint, config, key_mapping=plan["key_mapping"], format=plan["format"],
                notes=(f"heads {', '.join(map(repr, entries))} are fresh: {plan['why']}",), strict=strict,
                skip_prefix=plan["skip_prefix"], **extra,
            )
        return model.to(device) if device is not None else model


def _backbone_plan(checkpoint: str | Path, b: Any) -> dict[str, Any]:
    """How to take a multi-task model's backbone from ``checkpoint`` (its heads come only from an archit
    multi-task checkpoint with the same tasks)."""
    from ..checkpoints.folder import is_archit_config, read_config, weight_files

    saved = read_config(checkpoint)
    weight_files(checkpoint)
    if is_archit_config(saved):
        if saved.get("backbone") != b.name:
            raise CheckpointError(
                f"{str(checkpoint)!r} holds the archit backbone {saved.get('backbone')!r}, not {b.name!r}; "
                f"build({saved.get('backbone')!r}, ...) to use it"
            )
        return {
            "format": "archit", "backbone_config": b.obj.config_from_dict(saved["backbone_config"]), "key_mapping": {},
            "skip_prefix": "head.", "saved_heads": saved.get("heads"), "why": "the checkpoint holds other heads",
        }
    from ..model.build import hf_backbone_mapping

    mapping = hf_backbone_mapping(checkpoint, saved, b)
    return {
        "format": "transformers", "backbone_config": b.obj.config_from_dict(saved), "key_mapping": mapping,
        "skip_prefix": None, "why": "a Hugging Face checkpoint gives the backbone only",
    }


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
