"""The ``nn.Module`` of a multi-task model's head part: every task's head on one backbone pass, a weighted loss.

:class:`MultiTaskHead` is also what ``ModelWithHead`` and ``build`` find through
:data:`~archit_core.model.modeling.HEAD_PARTS` (``build_part`` and ``parts_of``), so the model never imports this
package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers.utils import ModelOutput

from ..errors import ArchitError
from ..parts.backbone import BackboneFacts, BackboneOutput
from ..parts.dummy import call_dummy
from ..parts.head_module import Head, HeadOutput
from .tasks import LABELS_SUFFIX, MultiTaskConfig, MultiTaskSpec, TaskHeads, normalise_heads, resolve_tasks


def multitask_parts(config: Any, backbone: Any) -> tuple[MultiTaskSpec, MultiTaskConfig]:
    """The spec and config of a multi-task model's head, from its :class:`ArchitConfig` (used by ``ModelWithHead``)."""
    entries = normalise_heads(config.heads)
    provenance = (config.plugins or {}).get("heads") or {}
    regs, configs = resolve_tasks(entries, provenance, backbone, config.backbone_config)
    specs = {task: reg.obj for task, reg in regs.items()}
    weights = {task: entry["loss_weight"] for task, entry in entries.items()}
    spec = MultiTaskSpec(tasks=tuple(entries), specs=specs, head_class=MultiTaskHead)
    return spec, MultiTaskConfig(specs=specs, configs=configs, loss_weights=weights)


@dataclass
class MultiTaskOutput(ModelOutput):
    """Output of a multi-task model: the weighted total ``loss`` over the tasks that got labels, ``logits`` by task
    (a task whose head has named outputs, such as question answering, gives a dict of them), each task's own loss in
    ``losses``, and the backbone's hidden states on request."""

    loss: torch.Tensor | None = None
    logits: dict[str, Any] | None = None
    losses: dict[str, torch.Tensor] | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


def _distributed() -> bool:
    """Whether this process is one of several in a ``torch.distributed`` group (where DDP needs every parameter used)."""
    return torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1


class MultiTaskHead(Head):
    """Holds each task's head in ``heads`` (a ``ModuleDict``) and runs them all on the same backbone output."""

    output_class = MultiTaskOutput

    @classmethod
    def build_part(cls, heads: Mapping[str, Any], loss_weights: Mapping[str, float] | None = None) -> TaskHeads:
        """``build``'s head part for a dict of named heads."""
        return TaskHeads.from_build(heads, loss_weights)

    @classmethod
    def parts_of(cls, config: Any, backbone: Any) -> tuple[MultiTaskSpec, MultiTaskConfig]:
        """The head spec and head config of a saved multi-task model (see :func:`multitask_parts`)."""
        return multitask_parts(config, backbone)

    def __init__(self, config: MultiTaskConfig, backbone: BackboneFacts) -> None:
        super().__init__(config, backbone)
        self.heads = nn.ModuleDict({task: spec.module_class()(config.configs[task], backbone) for task, spec in config.specs.items()})

    def _reshaping(self) -> Head | None:
        """The first head that reshapes model inputs (all heads are then of its class; see ``multitask``)."""
        return next((h for h in self.heads.values() if h.reshapes_inputs()), None)

    def prepare_inputs(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        stray = sorted(k for k in inputs if k.endswith(LABELS_SUFFIX))
        if stray:
            raise ArchitError(
                f"{', '.join(stray)}: no such task; this multi-task model's tasks are {', '.join(map(repr, self.heads))} "
                f"(labels go in <task>{LABELS_SUFFIX}= or labels={{task: ...}})"
            )
        head = self._reshaping()
        return head.prepare_inputs(inputs) if head is not None else (inputs, {})

    def task_labels(self, labels: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Each task's labels, from ``labels={task: ...}`` and ``<task>_labels=`` keywords."""
        tasks = list(self.heads)
        found: dict[str, Any] = {}
        if labels is not None:
            if not isinstance(labels, Mapping):
                raise ArchitError(
                    f"a multi-task model takes labels as a dict {{task: labels}} or as <task>{LABELS_SUFFIX}= keywords "
                    f"(its tasks: {', '.join(map(repr, tasks))}), not a {type(labels).__name__}"
                )
            unknown = sorted(set(labels) - set(tasks))
            if unknown:
                raise ArchitError(f"labels for unknown task(s) {', '.join(map(repr, unknown))}; this model's tasks are {', '.join(map(repr, tasks))}")
            found.update({task: value for task, value in labels.items() if value is not None})
        for task in tasks:
            value = inputs.get(task + LABELS_SUFFIX)
            if value is not None:
                if task in found:
                    raise ArchitError(f"labels for task {task!r} given twice: in labels= and in {task}{LABELS_SUFFIX}=")
                found[task] = value
        return found

    def forward(self, features: BackboneOutput, labels: Any = None, **inputs: Any) -> HeadOutput:
        by_task = self.task_labels(labels, inputs)
        prepared = self._reshaping()
        logits: dict[str, Any] = {}
        losses: dict[str, torch.Tensor] = {}
        for task, head in self.heads.items():
            spec = self.config.specs[task]
            names = (*spec.inputs, *getattr(spec, "optional_inputs", ()))
            own = {k: inputs[k] for k in names if k in inputs}
            if prepared is not None:  # what prepare_inputs handed over (e.g. num_choices)
                own |= {k: v for k, v in inputs.items() if k not in names and not k.endswith(LABELS_SUFFIX)}
            result = head(features, labels=by_task.get(task), **own)
            if result.outputs:
                logits[task] = ({"logits": result.logits} if result.logits is not None else {}) | dict(result.outputs)
            else:
                logits[task] = result.logits
            if result.loss is not None:
                losses[task] = result.loss
        loss = None
        if losses:
            loss = sum(self.config.loss_weights[task] * value for task, value in losses.items())
            if len(losses) < len(self.heads) and self.training and torch.is_grad_enabled() and _distributed():
                loss = loss + self._idle_term(losses)
        return HeadOutput(logits=logits, loss=loss, outputs={"losses": losses or None})

    def _idle_term(self, losses: Mapping[str, Any]) -> torch.Tensor:
        """Zero times every trainable parameter of the heads whose tasks got no labels: under distributed data
        parallel training every parameter then takes part in the backward pass (with a zero gradient, what
        ``find_unused_parameters=True`` would report), so batches may label one task at a time with DDP's defaults."""
        idle = [p for task, head in self.heads.items() if task not in losses for p in head.parameters() if p.requires_grad]
        return sum(p.sum() for p in idle) * 0.0 if idle else torch.zeros(())

    @classmethod
    def _each(cls, method: str, config: MultiTaskConfig, batch_size: int, seq_len: int, *, generator: Any,
              backbone: Any, input_ids: Any) -> dict[str, Any]:
        """``method`` of each task's head class that has it, by task."""
        out: dict[str, Any] = {}
        for task, spec in config.specs.items():
            make = getattr(spec.module_class(), method, None)
            if make is not None:
                out[task] = call_dummy(make, config.configs[task], batch_size, seq_len, generator=generator,
                                       backbone=backbone, input_ids=input_ids)
        return out

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None, backbone=None, input_ids=None):
        """Every task's dummy labels, as ``{task: labels}``."""
        return cls._each("dummy_labels", config, batch_size, seq_len, generator=generator, backbone=backbone, input_ids=input_ids)

    @classmethod
    def dummy_inputs(cls, config, batch_size, seq_len, *, generator=None, backbone=None, input_ids=None):
        """The union of the tasks' dummy extra inputs."""
        merged: dict[str, Any] = {}
        for values in cls._each("dummy_inputs", config, batch_size, seq_len, generator=generator, backbone=backbone, input_ids=input_ids).values():
            merged.update(values)
        return merged

    @classmethod
    def dummy_input_shape(cls, config, batch_size, seq_len):
        """The input shape of the first task's head that declares one, else ``(batch_size, seq_len)``."""
        for task, spec in config.specs.items():
            shape = getattr(spec.module_class(), "dummy_input_shape", None)
            if shape is not None:
                return shape(config.configs[task], batch_size, seq_len)
        return (batch_size, seq_len)
