"""A JSON Schema of specs for the installed plugins, derived from their attrs configs (``archit spec-schema``)."""

from __future__ import annotations

import re
from typing import Any

import attrs

from .spec import HEAD_KEYS, OPTIMIZERS, SPEC_KEYS

_SCALARS = {"int": {"type": "integer"}, "float": {"type": "number"}, "bool": {"type": "boolean"}, "str": {"type": "string"},
            "None": {"type": "null"}, "Any": {}}


def _type_schema(annotation: Any) -> dict[str, Any]:
    """JSON Schema of an attrs field annotation (strings under ``from __future__ import annotations``)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    text = text.replace("typing.", "").replace("Optional[", "None | ").rstrip("]") if "Optional[" in text else text
    parts = [p.strip() for p in re.split(r"\|(?![^\[]*\])", text)]
    options = []
    for part in parts:
        if part in _SCALARS:
            options.append(dict(_SCALARS[part]))
        elif m := re.fullmatch(r"(?:tuple|list|Sequence)\[(\w+)(?:, \.\.\.)?\]", part):
            options.append({"type": "array", "items": dict(_SCALARS.get(m[1], {}))})
        elif re.fullmatch(r"(?:dict|Mapping)\[.*\]", part):
            options.append({"type": "object"})
        else:
            return {}
    return options[0] if len(options) == 1 else {"anyOf": options}


def config_schema(config_class: type) -> dict[str, Any]:
    """JSON Schema of an attrs config class: each field's type, default and choices (``one_of`` validators)."""
    properties: dict[str, Any] = {}
    for field in attrs.fields(config_class):
        if not field.init:
            continue
        schema = _type_schema(field.type)
        choices = getattr(field.validator, "choices", None)
        if choices is not None:
            schema = {"enum": list(choices)}
        schema.update(getattr(field.validator, "schema", {}))  # a validator's bounds (``positive``, ``label_count``)
        if field.default is not attrs.NOTHING and not isinstance(field.default, attrs.Factory):
            default = field.default
            schema["default"] = list(default) if isinstance(default, tuple) else default
        properties[field.name] = schema
    return {"type": "object", "properties": properties, "additionalProperties": False}


def spec_schema(host: Any = None) -> dict[str, Any]:
    """The JSON Schema of a spec, with the heads, rewrites and backbones of ``host`` (default: the global host)."""
    from ..registry.host import get_host

    host = host or get_host()
    heads = {r.name: r.obj for r in host.registry.registrations("head")}
    rewrites = {r.name: r.obj for r in host.registry.registrations("rewrite")}
    backbones = sorted({r.name for r in host.registry.registrations("backbone")})
    head_entry = {"oneOf": [
        {"type": "object", "properties": {"head": {"const": name}, "config": config_schema(spec.config_class),
                                           "loss_weight": {"type": "number", "minimum": 0}},
         "required": ["head"], "additionalProperties": False}
        for name, spec in sorted(heads.items())
    ] + [{"enum": sorted(heads)}]}
    rewrite_entry = {"oneOf": [
        {"type": "object", "properties": {"rewrite": {"const": name}, "targets": {"type": "array", "items": {"type": "string"}},
                                           "trainable": {"type": "array", "items": {"type": "string"}},
                                           "options": config_schema(spec.config_class)},
         "required": ["rewrite"], "additionalProperties": False}
        for name, spec in sorted(rewrites.items())
    ] + [{"enum": sorted(rewrites)}]}
    single_head = {"oneOf": [
        {"type": "object", "properties": {k: v for k, v in entry["properties"].items() if k in HEAD_KEYS[:2]},
         "required": ["head"], "additionalProperties": False}
        for entry in head_entry["oneOf"][:-1]
    ] + [{"enum": sorted(heads)}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "archit spec",
        "type": "object",
        "properties": {
            "backbone": {"type": "string", "description": SPEC_KEYS["backbone"], "examples": backbones},
            "backbone_config": {"type": "object", "description": SPEC_KEYS["backbone_config"]},
            "checkpoint": {"type": "string", "description": SPEC_KEYS["checkpoint"]},
            "tiny": {"type": "boolean", "description": SPEC_KEYS["tiny"]},
            "head": {**single_head, "description": SPEC_KEYS["head"]},
            "heads": {"type": "object", "minProperties": 1, "additionalProperties": head_entry, "description": SPEC_KEYS["heads"]},
            "rewrites": {"type": "array", "items": rewrite_entry, "description": SPEC_KEYS["rewrites"]},
            "optimizer": {
                "type": "object", "description": SPEC_KEYS["optimizer"], "additionalProperties": False,
                "properties": {
                    "type": {"enum": sorted(OPTIMIZERS)}, "lr": {"type": "number", "exclusiveMinimum": 0},
                    "weight_decay": {"type": "number", "minimum": 0},
                    "lr_multipliers": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
                    "betas": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                    "momentum": {"type": "number", "minimum": 0},
                },
            },
            "options": {"type": "object", "description": SPEC_KEYS["options"]},
        },
        "required": ["backbone"],
        "oneOf": [{"required": ["head"]}, {"required": ["heads"]}],
        "additionalProperties": False,
    }
