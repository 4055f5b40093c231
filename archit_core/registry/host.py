"""The plugin host: finds plugins through entry points, isolates broken ones, and fills a registry."""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import metadata
from typing import Any

import attrs
import pluggy

from ..errors import ArchitPluginWarning, ConfigError, PluginError, bounded_repr
from . import hookspecs
from .registrations import PluginInfo, Registration, Registry, normalise_name

ENTRY_POINT_GROUP = "archit"
CORE_DISTRIBUTION = "archit-core"
#: The core's own plugins, by entry-point-like name: loaded by every host that loads entry points.
BUILTIN_PLUGINS = {"generic": "archit_core.generic.backbone"}


def _env_list(var: str) -> list[str] | None:
    value = os.environ.get(var, "").strip()
    return [v for v in (s.strip() for s in value.split(",")) if v] if value else None


def _names(argument: str, value: Any) -> list[str]:
    """``allow=`` / ``disable=``: a list of names (a plain string would be read as its letters)."""
    if isinstance(value, str) or not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        hint = f" (did you mean [{value!r}]?)" if isinstance(value, str) else ""
        raise ConfigError(f"PluginHost({argument}=...) takes a list of distribution or entry-point names, got {bounded_repr(value)}{hint}")
    return list(value)


def _env_flag(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginHost:
    """Discovers and loads archit plugins and holds the registry they fill.

    ``allow`` and ``disable`` (distribution or entry-point names) apply before anything is imported; they default
    to ``ARCHIT_PLUGINS`` and ``ARCHIT_DISABLE_PLUGINS``. ``strict`` (default ``ARCHIT_STRICT_PLUGINS``) turns
    plugin failures into exceptions. ``entry_points=False`` gives an empty host that tests fill with :meth:`add`.
    ``builtins`` (default: as ``entry_points``) loads the core's own plugins (:data:`BUILTIN_PLUGINS`, distribution
    ``archit-core``), which the allow- and blocklists select like any other.
    """

    def __init__(
        self,
        *,
        entry_points: bool = True,
        allow: Iterable[str] | None = None,
        disable: Iterable[str] | None = None,
        strict: bool | None = None,
        group: str = ENTRY_POINT_GROUP,
        builtins: bool | None = None,
    ) -> None:
        allow = _names("allow", allow) if allow is not None else _env_list("ARCHIT_PLUGINS")
        self.allow = {normalise_name(a) for a in allow} if allow is not None else None
        disable = _names("disable", disable) if disable is not None else _env_list("ARCHIT_DISABLE_PLUGINS") or []
        self.disable = {normalise_name(d) for d in disable}
        self.strict = _env_flag("ARCHIT_STRICT_PLUGINS") if strict is None else strict
        self.group = group
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        if entry_points:
            self._load_entry_points()
        if entry_points if builtins is None else builtins:
            self._load_builtins()

    # -- discovery ---------------------------------------------------------------------------------------------
    def _selected(self, ep_name: str, dist: str | None) -> bool:
        names = {normalise_name(ep_name)} | ({normalise_name(dist)} if dist else set())
        if names & self.disable:
            return False
        return self.allow is None or bool(names & self.allow)

    def _load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            plugin_name = f"{dist_name}:{ep.name}" if dist_name else ep.name
            info = PluginInfo(plugin_name, dist_name, version)
            if not self._selected(ep.name, dist_name):
                self._plugins[plugin_name] = attrs.evolve(info, status="disabled")
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not stop the others
                self._mark_broken(info, f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}", exc)
                continue
            self._register(obj, info)

    def _load_builtins(self) -> None:
        from importlib import import_module

        from .. import __version__

        for ep_name, module in BUILTIN_PLUGINS.items():
            info = PluginInfo(f"{CORE_DISTRIBUTION}:{ep_name}", CORE_DISTRIBUTION, __version__)
            if not self._selected(ep_name, CORE_DISTRIBUTION):
                self._plugins[info.name] = attrs.evolve(info, status="disabled")
                continue
            self._register(import_module(module), info)  # a light module: it imports transformers only on lookup

    def add(self, plugin: Any, *, name: str | None = None, distribution: str | None = None, version: str | None = None) -> PluginInfo:
        """Register a module or object holding ``@hookimpl`` functions, as if it were installed."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        info = PluginInfo(name, distribution, version)
        self._register(plugin, info)
        return info

    def _register(self, obj: Any, info: PluginInfo) -> None:
        if info.name in self._plugins:
            raise PluginError(f"a plugin named {info.name!r} is already registered on this host")
        try:
            self._pm.register(obj, name=info.name)
        except Exception as exc:
            self._mark_broken(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return
        self._plugins[info.name] = info
        self._registry = None

    def _mark_broken(self, info: PluginInfo, error: str, exc: BaseException) -> PluginInfo:
        broken = attrs.evolve(info, status="broken", error=error)
        self._plugins[info.name] = broken
        if self._pm.has_plugin(info.name):
            self._pm.unregister(name=info.name)
        if self.strict:
            raise PluginError(f"plugin {info.label} is broken: {error}") from exc
        warnings.warn(
            f"archit plugin {info.label} was disabled because it failed: {error}. "
            "The other plugins still work; `archit plugins` shows it as broken.",
            ArchitPluginWarning,
            stacklevel=3,
        )
        return broken

    # -- the registry ------------------------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The registry, filled on first use by calling each plugin's hooks one plugin at a time."""
        if self._registry is None:
            self._registry = self._collect()
        return self._registry

    def _collect(self) -> Registry:
        registry = Registry()
        for hook_name in hookspecs.REGISTERING_HOOKS:
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                info = self._plugins.get(impl.plugin_name)
                if info is None or info.status != "ok":
                    continue
                args = {"registry": registry.for_plugin(info)}
                try:
                    impl.function(*[args[a] for a in impl.argnames])
                except Exception as exc:
                    registry._drop_plugin(info)
                    detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
                    self._mark_broken(info, f"{hook_name} raised {detail}", exc)
        registry.broken = [p for p in self._plugins.values() if p.status == "broken"]
        return registry

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen: loaded, broken or disabled (after the registry is filled)."""
        self.registry  # noqa: B018 - collecting may mark plugins broken
        return sorted(self._plugins.values(), key=lambda p: p.name)

    def declaration_providers(self) -> list[PluginInfo]:
        """Plugins implementing ``declare_module``."""
        return [self._plugins[i.plugin_name] for i in self._pm.hook.declare_module.get_hookimpls() if i.plugin_name in self._plugins]

    @property
    def hook(self) -> Any:
        """pluggy's hook relay, for calling ``declare_module``."""
        return self._pm.hook

    def backbone(self, name: str) -> Registration:
        """The registration of backbone ``name`` (or ``name@distribution``)."""
        return self.registry.get("backbone", name)

    def head(self, name: str) -> Registration:
        """The registration of head ``name`` (or ``name@distribution``)."""
        return self.registry.get("head", name)

    def rewrite(self, name: str) -> Registration:
        """The registration of rewrite ``name`` (or ``name@distribution``)."""
        return self.registry.get("rewrite", name)



_default: PluginHost | None = None
_current: ContextVar[PluginHost | None] = ContextVar("archit_host", default=None)


def get_host() -> PluginHost:
    """The host in use: the one selected with :func:`using`, else the process-wide host built from installed
    entry points and the ``ARCHIT_*`` environment variables."""
    global _default
    current = _current.get()
    if current is not None:
        return current
    if _default is None:
        _default = PluginHost()
    return _default


@contextmanager
def using(host: PluginHost) -> Iterator[PluginHost]:
    """Make ``host`` the one :func:`get_host` returns inside the block (models built or loaded there use it)."""
    token = _current.set(host)
    try:
        yield host
    finally:
        _current.reset(token)


def set_host(host: PluginHost | None) -> PluginHost | None:
    """Replace the process-wide host (``None`` rebuilds it from the environment on next use); returns the old one."""
    global _default
    old, _default = _default, host
    return old
