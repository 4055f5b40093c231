"""``build`` and ``load``: the public ways to get a model with a head."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .configs import config_to_dict
from .errors import CheckpointError, ConfigError
from .host import PluginHost, get_host, using

if TYPE_CHECKING:
    from .modeling import ModelWithHead

#: Options of ``build`` that go to the model config (besides these, ``dtype`` and ``device`` place the model).
CONFIG_OPTIONS = frozenset({"id2label", "label2id", "problem_type", "output_hidden_states", "attn_implementation"})


def build(
    backbone: str,
    head: str,
    *,
    backbone_config: Mapping[str, Any] | Any = None,
    head_config: Mapping[str, Any] | Any = None,
    checkpoint: str | Path | None = None,
    tiny: bool = False,
    host: PluginHost | None = None,
    dtype: Any = None,
    device: Any = None,
    **options: Any,
) -> ModelWithHead:
    """A model made of the named backbone and head, from whichever plugins provide them.

    ``backbone_config`` is a dict of overrides of the backbone's documented default (its tiny test architecture
    with ``tiny=True``) or a config object; ``head_config`` a dict or the head's attrs config. ``checkpoint``
    is an archit checkpoint folder: the same head loads everything strictly, another head loads the backbone only.
    ``name@distribution`` selects one provider when several register a name.
    """
    unknown = sorted(set(options) - CONFIG_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(map(repr, unknown))} for build(); valid: {', '.join(sorted(CONFIG_OPTIONS))}")
    host = host or get_host()
    with using(host):
        from .modeling import ArchitConfig, ModelWithHead, check_compatible

        b = host.backbone(backbone)
        h = host.head(head)
        saved: dict[str, Any] | None = None
        if checkpoint is not None:
            from .checkpoints import is_archit_config, read_config

            saved = read_config(checkpoint)
            if not is_archit_config(saved):
                raise CheckpointError(
                    f"{str(checkpoint)!r} is not an archit checkpoint (model_type={saved.get('model_type')!r}); "
                    "build() loads archit checkpoints saved with save_pretrained"
                )
            if saved.get("backbone") != b.name:
                raise CheckpointError(
                    f"{str(checkpoint)!r} holds backbone {saved.get('backbone')!r}, not {b.name!r}; "
                    f"build({saved.get('backbone')!r}, ...) to use it"
                )
            if backbone_config is not None:
                raise ConfigError("give either checkpoint= or backbone_config=, not both: the checkpoint fixes the backbone config")
            bconf = b.obj.config_from_dict(saved["backbone_config"])
        else:
            bconf = b.obj.make_config(backbone_config, tiny=tiny)
        hconf = h.obj.make_config(head_config)
        check_compatible(b, h, bconf, hconf)
        if hasattr(hconf, "num_labels") and "id2label" not in options:
            options["num_labels"] = hconf.num_labels
        config = ArchitConfig(
            backbone=b.name,
            backbone_config=bconf,
            head=h.name,
            head_config=config_to_dict(hconf),
            plugins={"backbone": b.provenance(), "head": h.provenance()},
            **options,
        )
        if saved is not None and saved.get("head") == h.name and saved.get("head_config") == config.head_config:
            model = load(checkpoint, host=host, dtype=dtype)
        else:
            model = _construct(ModelWithHead, config, dtype)
            if saved is not None:
                _load_backbone_only(model, checkpoint)
                warnings.warn(
                    f"loaded the backbone of {str(checkpoint)!r}; its head ({saved.get('head')!r} with "
                    f"{saved.get('head_config')}) differs from the requested one, so head {h.name!r} is freshly initialised",
                    stacklevel=2,
                )
        return model.to(device) if device is not None else model


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


def _load_backbone_only(model: Any, checkpoint: str | Path) -> None:
    """Load the ``backbone.*`` weights of an archit checkpoint strictly; the head stays freshly initialised."""
    from .checkpoints import read_state_dict

    prefix = "backbone."
    state = {k[len(prefix):]: v for k, v in read_state_dict(checkpoint).items() if k.startswith(prefix)}
    result = model.backbone.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"the backbone weights in {str(checkpoint)!r} do not fit: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )


def load(path: str | Path, *, host: PluginHost | None = None, dtype: Any = None, device_map: Any = None) -> ModelWithHead:
    """Load an archit checkpoint strictly: every key must match, or :class:`CheckpointError` says which do not."""
    from .checkpoints import is_archit_config, read_config, weight_files

    saved = read_config(path)
    if not is_archit_config(saved):
        raise CheckpointError(
            f"{str(path)!r} is not an archit checkpoint (model_type={saved.get('model_type')!r}); load Hugging Face "
            "checkpoints with build(backbone, head, checkpoint=...)"
        )
    weight_files(path)
    with using(host or get_host()):
        from .modeling import ModelWithHead

        model, info = ModelWithHead.from_pretrained(str(path), dtype=dtype, device_map=device_map, output_loading_info=True)
    problems = {k: list(v) for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if problems:
        raise CheckpointError(f"{str(path)!r} does not load strictly into its own architecture: {problems}")
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


