"""Checks of the core's generic backbones, shared by the test suite and ``benchmarks/bench_coverage.py``.

The batches are :func:`archit_core.parts.dummy.probe_batch` (the layout-inference batch, with labels), also
importable from here as ``probe_batch``.

:func:`check_model_type` builds one Hugging Face ``model_type`` as a generic backbone (tiny) with each of the heads
it is given, trains one step, and checks parity with the family's Hugging Face class of each head through checkpoint
import: the Hugging Face task model is saved with ``save_pretrained`` and loaded with
``archit_core.build(..., checkpoint=)``; its outputs and loss must be equal. The callers choose the heads.
torch is imported when a check runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from archit_core.parts.dummy import probe_batch

#: Labels of the Hugging Face model in a parity check, for heads whose layout shares ``num_labels``.
NUM_LABELS = 3


def generic_name(model_type: str) -> str:
    """``model_type@archit-core``: the generic backbone even where a dedicated plugin registers the name."""
    from archit_core.registry.registrations import normalise_name

    return f"{normalise_name(model_type)}@archit-core"


def family_kind(model_type: str) -> str:
    """``encoder``, ``decoder`` or ``encoder-decoder`` (the encoder is the backbone) by the config's defaults and
    transformers' task tables: a model type with a masked LM is an encoder, one with only a causal LM a decoder."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    if getattr(CONFIG_MAPPING[model_type](), "is_encoder_decoder", False):
        return "encoder-decoder"
    from archit_core.generic.family import is_decoder

    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES or not is_decoder(model_type):
        return "encoder"
    return "decoder"


def train_step(name: str, head: str) -> None:
    """Build ``name`` (tiny) with ``head``, forward a padded batch with labels, and backward; raise on any failure."""
    import torch

    import archit_core

    model = archit_core.build(name, head, tiny=True)
    batch = training_batch(model)
    model.train()
    out = model(**batch)
    if out.loss is None or not torch.isfinite(out.loss):
        raise AssertionError(f"{name} + {head}: loss {out.loss}")
    out.loss.backward()
    if any(True for _ in model.head.parameters()) and not any(p.grad is not None for p in model.head.parameters()):
        raise AssertionError(f"{name} + {head}: no gradient reached the head")


def training_batch(model: Any, labels: bool = True) -> dict[str, Any]:
    """The probe batch of ``model`` (padded, with labels), or for a head with inputs of its own (word ids) its
    :func:`~archit_core.parts.dummy.dummy_batch`; zeros for the backbone's extra inputs either way."""
    import torch

    from archit_core.parts.dummy import call_dummy, dummy_batch

    extra = getattr(model.backbone_spec, "extra_inputs", None) or {}
    make_labels = getattr(type(model.head), "dummy_labels", None)
    if make_labels is None or call_dummy(make_labels, model.head.config, 2, 8, backbone=model.head.backbone_facts) is None:
        labels = False  # a head that trains without labels (an embedding head's in-batch negatives)
    if not model.head_spec.inputs:
        return probe_batch(model.config.backbone_config, model.head, extra, labels=labels)
    batch = dummy_batch(model, 2, 7, labels=labels, generator=torch.Generator().manual_seed(1))
    return {**batch, **{k: torch.zeros(*batch["input_ids"].shape, *size, dtype=torch.long) for k, size in extra.items()}}


def parity(name: str, head: str) -> tuple[str, str]:
    """``("parity", "")`` when the family's Hugging Face task model, saved and imported with
    ``build(checkpoint=)``, gives the same outputs (every output it names: ``logits``, or ``start_logits`` and
    ``end_logits``) and, where it takes ``labels``, the same loss, and :func:`archit_core.to_transformers` gives the
    class back with the same outputs; else ``(status, reason)`` with status ``no-equivalent`` (the head declares no
    Hugging Face layout), ``no-class`` (transformers has none), ``no-layout`` (its head has no equivalent layout) or ``mismatch``."""
    import inspect

    import torch

    import archit_core
    from archit_core.checkpoints.interop import hf_class_name
    from archit_core.generic.layouts import infer_head_layout

    host = archit_core.get_host()
    backbone, spec = host.backbone(name).obj, host.head(head).obj
    if spec.hf_layout is None:
        return "no-equivalent", f"head {head!r} has no Hugging Face equivalent (it trains)"
    class_name = hf_class_name(spec.hf_layout.auto_class, backbone.hf_model_type)
    if class_name is None:
        return "no-class", f"transformers has no {spec.hf_layout.auto_class} class for {backbone.hf_model_type!r}"
    layout, reason = infer_head_layout(backbone, head, spec)
    if layout is None:
        return "no-layout", reason
    import transformers

    config = backbone.make_config(tiny=True)
    if "num_labels" in layout.config_fields:
        config.num_labels = NUM_LABELS
    torch.manual_seed(0)
    hf = getattr(transformers, class_name)(config).eval()
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        model = archit_core.build(name, head, checkpoint=folder, strict=True).eval()
    if model.loading_report.fresh.get("head"):
        return "mismatch", f"head weights not imported: {model.loading_report.notes}"
    batch = probe_batch(config, model.head, backbone.extra_inputs)
    if "labels" not in inspect.signature(hf.forward).parameters:
        batch.pop("labels", None)  # question answering: Hugging Face names its labels start/end_positions
    with torch.no_grad():
        expected, got = hf(**batch), model(**batch)
    fields = [k for k in expected.keys() if k.endswith("logits") or k == "loss"]
    if not fields:
        return "mismatch", f"{class_name} returned no logits to compare"
    try:
        for field in fields:
            torch.testing.assert_close(got[field], expected[field], msg=lambda m, f=field: f"{f}: {m}")
    except (AssertionError, KeyError) as exc:
        return "mismatch", str(exc).splitlines()[0]
    try:  # what it imports, it exports: the Hugging Face class again, same outputs
        with torch.no_grad():
            back = archit_core.to_transformers(model).eval()(**batch)
        for field in fields:
            torch.testing.assert_close(back[field], expected[field])
    except (AssertionError, archit_core.ArchitError) as exc:
        return "mismatch", f"export: {str(exc).splitlines()[0]}"
    return "parity", ""


def role_summary(name: str) -> str:
    """The projection roles of backbone ``name``, short: ``q k v o ff.gate ff.in ff.out`` (``qkv`` when fused)."""
    import archit_core
    from archit_core.generic.roles import iter_roles

    roles = archit_core.get_host().backbone(name).obj.roles
    short = {"query": "q", "key": "k", "value": "v", "output": "o"}
    return " ".join(short.get(r.split(".")[1]) or f"ff.{r.split('.')[1]}" if r.startswith("feed") else
                    short.get(r.split(".")[1], r.split(".")[1]) for r in iter_roles(roles))


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def check_model_type(model_type: str, heads: Mapping[str, str], required: tuple[str, ...] | None = None,
                     checks: Mapping[str, Callable[[str], tuple[str, str]]] | None = None) -> dict[str, Any]:
    """One row of the coverage table for ``heads`` (column key -> head name): ``built`` (every head of ``required``,
    default all, trained one step), and per column a :func:`parity` status with its reason (``error`` with the
    exception when the head could not be trained: ``not built`` for a required one). With ``checks`` (column key ->
    a function of the backbone name giving ``(status, reason)``, e.g. a rewrite against its peer), the backbone's
    projection ``roles`` (:func:`role_summary`) and each check's column."""
    row: dict[str, Any] = {"model_type": model_type, "kind": family_kind(model_type), "built": True, "error": ""}
    name = generic_name(model_type)
    required = tuple(heads) if required is None else required
    for key, head in heads.items():
        if key not in required and not row["built"]:
            continue  # an optional head on a family that does not build: nothing to say
        try:
            train_step(name, head)
        except Exception as exc:
            if key in required:
                row["built"] = False
                row["error"] = row["error"] or f"{head}: {_error(exc)}"
            row[key], row[f"{key}_reason"] = "error", "not built" if key in required else f"training: {_error(exc)}"
            continue
        try:
            row[key], row[f"{key}_reason"] = parity(name, head)
        except Exception as exc:
            row[key], row[f"{key}_reason"] = "error", _error(exc)
    if checks:
        row["roles"] = _or_error(lambda: role_summary(name))
    for key, check in (checks or {}).items():
        try:
            row[key], row[f"{key}_reason"] = check(name) if row["built"] else ("error", "not built")
        except Exception as exc:
            row[key], row[f"{key}_reason"] = "error", _error(exc)
    return row


def _or_error(make: Callable[[], str]) -> str:
    try:
        return make()
    except Exception as exc:
        return f"error: {_error(exc)}"
