"""Everything that differs between the transformers 5.x releases archit supports, in one place.

Each difference is found by feature detection (does a class have the field, does a function take the
argument), never by comparing version strings, so a new release that keeps an old behaviour needs no change
here. The rest of archit asks this module and never looks at ``transformers.__version__``.

The differences (:data:`DIFFERENCES`, tabulated in docs/compatibility.md by ``tools/compat_table.py``) and what
:func:`features` detects on the installed release.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, MutableMapping
from typing import Any

import transformers
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import ModelOutput

#: (what differs, releases, how archit adapts): the rows of docs/compatibility.md's "what differs" table.
DIFFERENCES: tuple[tuple[str, str, str], ...] = (
    ("key/value cache name in every ModelOutput and in model/generation keyword arguments",
     "`past_key_values` (5.0-5.23), `cache` (5.24+)",
     "`CACHE` is detected from `CausalLMOutputWithPast`'s fields; `ArchitOutput` is built with that field "
     "(`output_class`), backbone outputs are read with `cache_of`, and `ModelWithHead.forward` accepts either name "
     "(`rename_cache_kwargs`). `BackboneOutput.cache` replaces `BackboneOutput.past_key_values` (a deprecated alias)."),
    ("`PreTrainedConfig` is a plain class or a dataclass with `__post_init__`",
     "plain class (5.0-5.3), dataclass (5.4+)",
     "`ArchitConfig` has its own `__init__`, which transformers keeps on dataclass configs (as for remote code), "
     "so one class works on both."),
    ("`_can_set_*_implementation` read the model class's module source", "`open(__file__)` (5.0-5.12), `inspect` (5.13+)",
     "declared classes are executed from a real file (`<tmp>/archit-declarations/`), not a pseudo file name."),
    ("a tied projection re-tied after `resize_token_embeddings` keeps its old `out_features`", "5.0 (not 5.6+)",
     "`ModelWithHead.resize_token_embeddings` sets `out_features` from the resized weight."),
    ("models built on the meta device are not tied", "5.0 (not 5.6+)",
     "`declare` ties its meta-device reference (`tie_weights()`) before comparing ties."),
    ("tied aliases in task models' state dicts (DeBERTa's `lm_predictions.lm_head.weight`)", "5.0-5.12 (not 5.18+)",
     "Hugging Face keys that alias a tensor already imported are ties, not unused weights."),
    ("`XLMRobertaForMultipleChoice` is built without the pooler its forward reads", "5.0-5.12 (not 5.18+)",
     "a Hugging Face bug: no layout to import; the generic backbone reports `no-layout` with the reason."),
)

#: The transformers version in use, for reports only (never compared).
TRANSFORMERS_VERSION: str = transformers.__version__

#: Names the key/value cache has had, newest first.
_CACHE_NAMES = ("cache", "past_key_values")

#: The name of the key/value cache in this transformers' outputs and model inputs.
CACHE: str = next(name for name in _CACHE_NAMES if name in CausalLMOutputWithPast.__dataclass_fields__)

#: The cache's other names, which this transformers accepts (with a deprecation) or not at all.
OTHER_CACHE_NAMES: tuple[str, ...] = tuple(name for name in (*_CACHE_NAMES, "cache_params") if name != CACHE)


def output_class(name: str, fields: Iterable[tuple[str, Any]], *, doc: str, module: str) -> type[ModelOutput]:
    """A ``ModelOutput`` dataclass ``name`` with ``fields`` (``(name, type)``, all defaulting to None), where the
    field named ``"cache"`` takes this transformers' name for the key/value cache."""
    spec = [(CACHE if field == "cache" else field, kind, dataclasses.field(default=None)) for field, kind in fields]
    cls = dataclasses.make_dataclass(name, spec, bases=(ModelOutput,), namespace={"__doc__": doc, "__module__": module})
    return cls


def cache_of(output: Any) -> Any:
    """The key/value cache an output of a Hugging Face model holds (None when it holds none), read under this
    transformers' name, so no deprecation warning is raised."""
    return getattr(output, CACHE, None)


def rename_cache_kwargs(kwargs: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Move a cache passed under another name (``past_key_values`` on a transformers that calls it ``cache``, or
    the reverse) to this transformers' name, in place; passing it under two names is an error."""
    for other in OTHER_CACHE_NAMES:
        if other in kwargs:
            value = kwargs.pop(other)
            if kwargs.get(CACHE) is not None and value is not None:
                from ..errors import ArchitError

                raise ArchitError(f"the key/value cache was passed both as {CACHE}= and {other}=; pass it once, as {CACHE}=")
            if value is not None or CACHE not in kwargs:
                kwargs[CACHE] = value
    return kwargs


def features() -> dict[str, Any]:
    """What this module detected on the installed transformers (for docs/compatibility.md and bug reports)."""
    from transformers import PreTrainedConfig

    return {
        "transformers": TRANSFORMERS_VERSION,
        "cache name": CACHE,
        "dataclass configs": dataclasses.is_dataclass(PreTrainedConfig),
    }
