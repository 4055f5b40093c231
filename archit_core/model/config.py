"""``ArchitConfig``: the transformers config of an archit model (imports transformers' config machinery only)."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig

from ..errors import ArchitError, MissingPluginError, UnknownNameError
from ..registry.host import get_host
from ..registry.registrations import Registration
from .transformers_compat import CACHE


def resolve_part(kind: str, name: str | None, provenance: dict[str, Any] | None) -> Registration:
    """The registration a saved config names, preferring the distribution that built it; a missing plugin
    raises :class:`MissingPluginError` saying what to ``pip install``."""
    if not name:
        raise ArchitError(f"this archit config names no {kind}")
    host = get_host()
    dist = (provenance or {}).get("distribution")
    try:
        found = host.registry.get(kind, name)
        if dist and found.plugin.distribution not in (None, dist):  # the name now gives another provider (a
            try:  # dedicated plugin over the generic one): keep the one that built the model, if it is here
                return host.registry.get(kind, f"{name}@{dist}")
            except UnknownNameError:
                pass
        return found
    except UnknownNameError as exc:
        if dist:
            version = (provenance or {}).get("version")
            raise MissingPluginError(
                f"this model needs the {kind} {name!r} from the distribution {dist}"
                f"{' ' + version if version else ''}, which is not installed (or is disabled or broken). "
                f"Install it with `pip install {dist}`. Details: {exc}"
            ) from exc
        raise
    except ArchitError:
        if dist:  # several providers: take the one that built the checkpoint
            return host.registry.get(kind, f"{name}@{dist}")
        raise


class ArchitConfig(PreTrainedConfig):
    """The config of a :class:`ModelWithHead`: backbone and head names and configs, and the plugin
    distributions and versions that built it."""

    model_type = "archit"
    #: Output fields the Trainer leaves out of predictions: a decoder's cache, a multi-task model's per-task losses.
    keys_to_ignore_at_inference = [CACHE, "losses"]

    backbone: str | None = None
    backbone_config: Any = None
    head: str | None = None
    head_config: dict | None = None
    plugins: dict | None = None
    #: A multi-task model's heads by task name, ``{task: {"head": name, "head_config": {...}, "loss_weight": w}}``
    #: (``head`` and ``head_config`` are then None; see ``archit_core.multitask.tasks``).
    heads: dict | None = None

    def __init__(
        self,
        backbone: str | None = None,
        backbone_config: Any = None,
        head: str | None = None,
        head_config: dict | None = None,
        plugins: dict | None = None,
        heads: dict | None = None,
        **kwargs: Any,
    ) -> None:
        # An explicit __init__ works both where PreTrainedConfig is a plain class (early 5.x releases) and where it
        # is a dataclass (transformers keeps a subclass's own __init__ there, as it does for remote-code configs).
        if isinstance(backbone_config, dict) and backbone:
            reg = resolve_part("backbone", backbone, (plugins or {}).get("backbone"))
            backbone_config = reg.obj.config_from_dict(backbone_config)
        self.backbone = backbone
        self.backbone_config = backbone_config
        self.head = head
        self.head_config = head_config
        self.plugins = plugins
        self.heads = heads
        super().__init__(**kwargs)

    @property  # type: ignore[override]
    def sub_configs(self) -> dict[str, type]:
        """The backbone config is a sub-config, so attention settings reach it."""
        return {"backbone_config": PreTrainedConfig} if isinstance(self.backbone_config, PreTrainedConfig) else {}

    @property
    def tie_word_embeddings(self) -> bool:
        """transformers' switch for declared weight ties, always on: an archit model declares its ties per instance,
        from its head (``Head.tied_to_input_embeddings``), so a head that does not tie declares none."""
        return True

    def get_text_config(self, decoder: bool | None = None, encoder: bool | None = None) -> PreTrainedConfig:
        """The backbone's config (its own text config, for a composite one): generation reads the cache layout,
        the vocabulary and the special tokens from it."""
        if isinstance(self.backbone_config, PreTrainedConfig):
            return self.backbone_config.get_text_config(decoder=decoder, encoder=encoder)
        return super().get_text_config(decoder=decoder, encoder=encoder)

    @property
    def initializer_range(self) -> float:
        """Standard deviation used to initialise head weights: the backbone's."""
        return float(getattr(self.backbone_config, "initializer_range", None) or 0.02)
