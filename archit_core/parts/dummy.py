"""Dummy batches for any backbone + head: random token ids from the backbone's vocabulary, labels from the head.

The core knows no task, so labels come from the head module class, as in the contract suite
(:mod:`archit_core.testing.contract`)::

    @classmethod
    def dummy_labels(cls, config, batch_size, seq_len, *, generator=None): ...   # labels its loss accepts
    @classmethod
    def dummy_inputs(cls, config, batch_size, seq_len, *, generator=None): ...   # the extra inputs its spec declares
    @classmethod
    def dummy_input_shape(cls, config, batch_size, seq_len): ...   # optional: the shape of input_ids, if not 2-D

Either may also take the keywords ``backbone`` (the :class:`~archit_core.BackboneFacts`, e.g. for the vocabulary
size of language-model labels) and ``input_ids`` (the batch's token ids); they are passed when the signature names them.

torch is imported when a batch is made, not when this module is imported.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArchitError

#: Token ids below this are left out of random inputs (padding, CLS, SEP, ... sit there in most vocabularies).
FIRST_ORDINARY_ID = 5


def dummy_batch(
    model: Any, batch_size: int = 2, seq_len: int = 16, *, labels: bool = True, generator: Any = None
) -> dict[str, Any]:
    """Inputs for ``model`` (a :class:`~archit_core.ModelWithHead`): ``input_ids`` and ``attention_mask``, the
    head's extra inputs, and (with ``labels=True``, when the head class defines ``dummy_labels``) ``labels``."""
    import torch

    facts = model.backbone_spec.facts(model.config.backbone_config)
    vocab = facts.vocab_size or 100
    low = min(FIRST_ORDINARY_ID, vocab - 1)
    head_class, config = type(model.head), model.head.config
    shape = getattr(head_class, "dummy_input_shape", None)  # e.g. (batch, choices, length) for multiple choice
    shape = tuple(shape(config, batch_size, seq_len)) if shape is not None else (batch_size, seq_len)
    input_ids = torch.randint(low, vocab, shape, generator=generator)
    batch: dict[str, Any] = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if model.head_spec.inputs:
        make_inputs = getattr(head_class, "dummy_inputs", None)
        if make_inputs is None:
            raise ArchitError(
                f"head {model.config.head!r} reads the inputs {', '.join(model.head_spec.inputs)} but "
                f"{head_class.__qualname__} has no dummy_inputs(config, batch_size, seq_len, *, generator=None) "
                "classmethod, so no dummy batch can be made for it"
            )
        batch.update(make_inputs(config, batch_size, seq_len, generator=generator, **_context(make_inputs, facts, input_ids)))
    make_labels = getattr(head_class, "dummy_labels", None)
    if labels and make_labels is not None:
        batch["labels"] = make_labels(config, batch_size, seq_len, generator=generator, **_context(make_labels, facts, input_ids))
    device = next(model.parameters()).device
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _context(method: Any, facts: Any, input_ids: Any) -> dict[str, Any]:
    """The optional keywords (``backbone``, ``input_ids``) that ``method``'s signature names."""
    import inspect

    params = inspect.signature(method).parameters
    offered = {"backbone": facts, "input_ids": input_ids}
    return {name: value for name, value in offered.items() if name in params}
