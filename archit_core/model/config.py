"""``ArchitConfig``: the transformers config of an archit model (imports transformers' config machinery only)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from transformers import PreTrainedConfig

from ..errors import ArchitError, ArchitPluginWarning, ConfigError, MissingPluginError, UnknownNameError
from ..parts.options import check_label_count
from ..registry.host import get_host
from ..registry.registrations import Registration
from .transformers_compat import CACHE

#: The providers a load uses instead of the distributions a saved model records, by kind (``load(..., providers=)``).
_PROVIDERS: ContextVar[Mapping[str, str] | None] = ContextVar("archit_providers", default=None)


@contextlib.contextmanager
def using_providers(providers: Mapping[str, str] | None) -> Iterator[None]:
    """Within the block, saved models are rebuilt with the distribution ``providers`` names for a kind
    (``{"backbone": "archit-core"}``: the generic backbone) instead of the one they record."""
    token = _PROVIDERS.set(dict(providers or {}))
    try:
        yield
    finally:
        _PROVIDERS.reset(token)


def resolve_part(kind: str, name: str | None, provenance: dict[str, Any] | None) -> Registration:
    """The registration a saved config names, from the distribution that built it (or the one
    :func:`using_providers` chose): when that distribution is missing, disabled or broken, :class:`MissingPluginError`
    says what to ``pip install``, even when another provider has the name (such as the generic backbones); a
    checkpoint saved by a newer version of it gets an :class:`ArchitPluginWarning` naming both versions."""
    if not name:
        raise ArchitError(f"this archit config names no {kind}")
    host = get_host()
    chosen = (_PROVIDERS.get() or {}).get(kind)
    dist = chosen or (provenance or {}).get("distribution")
    try:
        found = host.registry.get(kind, name)
    except UnknownNameError as exc:
        if dist:
            raise _missing(kind, name, dist, None if chosen else provenance, str(exc)) from exc
        raise
    except ArchitError:
        if not dist:
            raise
        found = None  # several providers: take the one that built the checkpoint
    if dist and (found is None or found.plugin.distribution not in (None, dist)):
        try:
            found = host.registry.get(kind, f"{name}@{dist}")
        except UnknownNameError as exc:
            other = f"; it is now provided by {found.plugin.label}, which you may choose with load(..., providers=" \
                    f"{{{kind!r}: {found.plugin.distribution!r}}})" if found is not None else ""
            raise _missing(kind, name, dist, None if chosen else provenance, f"{exc}{other}") from exc
    if not chosen:
        _check_version(kind, name, provenance, found)
    return found


def _missing(kind: str, name: str, dist: str, provenance: dict[str, Any] | None, details: str) -> MissingPluginError:
    version = (provenance or {}).get("version")
    return MissingPluginError(
        f"this model needs the {kind} {name!r} from the distribution {dist}{' ' + version if version else ''}, which "
        f"is not installed (or is disabled or broken). Install it with `pip install {dist}`. Details: {details}"
    )


def _check_version(kind: str, name: str, provenance: dict[str, Any] | None, found: Registration) -> None:
    """Warn when the saved model was made by a newer version of the distribution than the installed one."""
    saved, installed = (provenance or {}).get("version"), found.plugin.version
    if not saved or not installed or (provenance or {}).get("distribution") != found.plugin.distribution:
        return
    from packaging.version import InvalidVersion, Version

    try:
        newer = Version(str(saved)) > Version(str(installed))
    except InvalidVersion:
        newer = False
    if newer:
        warnings.warn(
            f"this model's {kind} {name!r} was saved by {found.plugin.distribution} {saved}, newer than the installed "
            f"{installed}: it may hold settings this version does not know. Upgrade with "
            f"`pip install -U {found.plugin.distribution}`.",
            ArchitPluginWarning,
            stacklevel=3,
        )


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
        check_label_count(kwargs, where="the model config", error=ConfigError)  # before transformers names each label
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
