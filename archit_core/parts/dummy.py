"""Random batches, the one place they are made: for an archit model (:func:`dummy_batch`), a bare backbone
(:func:`token_batch`), any model with a vocabulary (:func:`module_batch`) and head-layout probes (:func:`probe_batch`).

The core knows no task, so labels and extra inputs come from the head module class, as in the contract suite
(:mod:`archit_core.testing.contract`)::

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None): ...   # labels its loss accepts
    @classmethod
    def dummy_inputs(cls, config, batch_size, seq_len, *, generator=None): ...   # the extra inputs its spec declares
    @classmethod
    def dummy_input_shape(cls, config, batch_size, seq_len): ...   # optional: the shape of input_ids, if not 2-D

Either may also take the keywords ``backbone`` (the :class:`~archit_core.BackboneFacts`, e.g. for the vocabulary
size of language-model labels) and ``input_ids`` (the batch's token ids); they are passed when the signature names them
(:func:`call_dummy`).

torch is imported when a batch is made, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ArchitError

#: Token ids below this are left out of random inputs (padding, CLS, SEP, ... sit there in most vocabularies).
FIRST_ORDINARY_ID = 5
#: The vocabulary size assumed when a backbone or config gives none.
DEFAULT_VOCAB = 100
#: The probe batch of head-layout inference: three sequences of seven tokens (the second padded from position 5).
PROBE_SHAPE = (3, 7)
PROBE_VOCAB = 1000


def token_batch(vocab_size: int | None, shape: tuple[int, ...], *, generator: Any = None) -> dict[str, Any]:
    """``input_ids`` of ``shape``, random ordinary ids below ``vocab_size`` (default :data:`DEFAULT_VOCAB`), and an
    all-ones ``attention_mask``."""
    import torch

    vocab = vocab_size or DEFAULT_VOCAB
    input_ids = torch.randint(min(FIRST_ORDINARY_ID, vocab - 1), vocab, tuple(shape), generator=generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def input_shape(head_class: type, config: Any, batch_size: int, seq_len: int) -> tuple[int, ...]:
    """The shape of ``input_ids`` for a head: ``(batch_size, seq_len)``, or the class's own ``dummy_input_shape``
    (e.g. ``(batch, choices, length)`` for multiple choice)."""
    shape = getattr(head_class, "dummy_input_shape", None)
    return tuple(shape(config, batch_size, seq_len)) if shape is not None else (batch_size, seq_len)


def call_dummy(method: Callable[..., Any], config: Any, batch_size: int, seq_len: int, *, generator: Any = None,
               backbone: Any = None, input_ids: Any = None) -> Any:
    """Call a head's ``dummy_labels`` or ``dummy_inputs`` classmethod, passing ``backbone`` (facts) and
    ``input_ids`` only where its signature names them."""
    import inspect

    params = inspect.signature(method).parameters
    offered = {"backbone": backbone, "input_ids": input_ids}
    return method(config, batch_size, seq_len, generator=generator, **{k: v for k, v in offered.items() if k in params})


def dummy_batch(
    model: Any, batch_size: int = 2, seq_len: int = 16, *, labels: bool = True, generator: Any = None
) -> dict[str, Any]:
    """Inputs for ``model`` (a :class:`~archit_core.ModelWithHead`): ``input_ids`` and ``attention_mask``, the
    head's extra inputs, and (with ``labels=True``, when the head class defines ``dummy_labels``) ``labels``."""
    import torch

    facts = model.backbone_spec.facts(model.config.backbone_config)
    head_class, config = type(model.head), model.head.config
    batch = token_batch(facts.vocab_size, input_shape(head_class, config, batch_size, seq_len), generator=generator)
    input_ids = batch["input_ids"]
    if model.head_spec.inputs:
        make_inputs = getattr(head_class, "dummy_inputs", None)
        if make_inputs is None:
            raise ArchitError(
                f"head {model.config.head!r} reads the inputs {', '.join(model.head_spec.inputs)} but "
                f"{head_class.__qualname__} has no dummy_inputs(config, batch_size, seq_len, *, generator=None) "
                "classmethod, so no dummy batch can be made for it"
            )
        batch.update(call_dummy(make_inputs, config, batch_size, seq_len, generator=generator, backbone=facts, input_ids=input_ids))
    make_labels = getattr(head_class, "dummy_labels", None)
    if labels and make_labels is not None:
        batch["labels"] = call_dummy(make_labels, config, batch_size, seq_len, generator=generator, backbone=facts, input_ids=input_ids)
    device = next(model.parameters()).device
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def module_batch(model: Any, *, batch_size: int = 2, seq_len: int = 8) -> dict[str, Any]:
    """A small seeded batch for any model: an archit model's :func:`dummy_batch` without labels, else token ids
    below its ``config.vocab_size`` (with an attention mask when its forward takes one), else its own
    ``dummy_inputs``; an :class:`~archit_core.ArchitError` when none applies."""
    import inspect

    import torch

    generator = torch.Generator().manual_seed(0)
    if hasattr(model, "backbone_spec") and hasattr(model, "head_spec"):
        return dummy_batch(model, batch_size, seq_len, labels=False, generator=generator)
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if isinstance(vocab, int) and vocab > 0:
        tokens = token_batch(vocab, (batch_size, seq_len), generator=generator)
        batch = {getattr(model, "main_input_name", "input_ids"): tokens["input_ids"]}
        if "attention_mask" in inspect.signature(model.forward).parameters:
            batch["attention_mask"] = tokens["attention_mask"]
        return batch
    inputs = getattr(model, "dummy_inputs", None)
    if isinstance(inputs, Mapping):
        return dict(inputs)
    raise ArchitError(f"archit cannot make a dummy batch for a {type(model).__qualname__} (its config has no vocab_size "
                      "and it has no dummy_inputs)")


def probe_batch(config: Any, head_module: Any = None, extra_inputs: Mapping[str, tuple[int, ...]] | None = None, *,
                labels: bool = True) -> dict[str, Any]:
    """The head-layout probe for a backbone config: seeded ordinary token ids (no special token's id) in the input
    shape of ``head_module``'s class (default :data:`PROBE_SHAPE`), the second example right-padded with the
    config's pad token, zeros for the backbone's ``extra_inputs`` (per-token shapes), and with ``labels`` (when the
    head class defines ``dummy_labels``) labels, per-token ones ignored (-100) on padding as data collators do."""
    import torch

    shape = input_shape(type(head_module), head_module.config, *PROBE_SHAPE) if head_module is not None else PROBE_SHAPE
    vocab = int(getattr(config, "vocab_size", None) or PROBE_VOCAB)
    special = {v for k, v in vars(config).items() if k.endswith("token_id") and isinstance(v, int)}
    ordinary = torch.tensor([i for i in range(FIRST_ORDINARY_ID, vocab) if i not in special][:200])
    input_ids = ordinary[torch.randint(0, len(ordinary), shape, generator=torch.Generator().manual_seed(1))]
    attention_mask = torch.ones_like(input_ids)
    pad = getattr(config, "pad_token_id", None)
    if isinstance(pad, int):
        input_ids[1, ..., 5:] = pad
        attention_mask[1, ..., 5:] = 0
    extra = {k: torch.zeros(*input_ids.shape, *size, dtype=torch.long) for k, size in (extra_inputs or {}).items()}
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, **extra}
    make_labels = getattr(type(head_module), "dummy_labels", None) if head_module is not None else None
    if labels and make_labels is not None:
        found = call_dummy(make_labels, head_module.config, input_ids.shape[0], input_ids.shape[-1],
                           generator=torch.Generator().manual_seed(2), backbone=head_module.backbone_facts, input_ids=input_ids)
        if found.shape == input_ids.shape and not found.is_floating_point():  # per-token labels: padding ignored
            found = found.masked_fill(attention_mask == 0, -100)
        batch["labels"] = found
    return batch
