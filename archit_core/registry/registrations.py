"""The registry of named backbones, heads and rewrites, each remembering the plugin that registered it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, Protocol

import attrs

from ..errors import ArchitError, ConfigError, PluginConflictError, PluginError, UnknownNameError, bounded_repr

KINDS = ("backbone", "head", "rewrite")
_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_EXAMPLES = {"backbone": "bert", "head": "token-classification", "rewrite": "lora"}


@attrs.frozen
class PluginInfo:
    """Where a plugin comes from and whether it loaded."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok" | "broken" | "disabled"
    error: str | None = None

    @property
    def label(self) -> str:
        """``distribution version`` when known, else the plugin name."""
        if self.distribution:
            return f"{self.distribution} {self.version}" if self.version else self.distribution
        return self.name


@attrs.frozen
class Registration:
    """One registered name: what it is, and which plugin provides it."""

    kind: str
    name: str
    obj: Any
    plugin: PluginInfo

    @property
    def qualified_name(self) -> str:
        """``name@distribution``: selects this registration when several distributions provide the name."""
        return f"{self.name}@{self.plugin.distribution or self.plugin.name}"

    def provenance(self) -> dict[str, str | None]:
        """The record stored in a model config so a checkpoint can name what it needs."""
        return {
            "name": self.name,
            "plugin": self.plugin.name,
            "distribution": self.plugin.distribution,
            "version": self.plugin.version,
        }


def normalise_name(name: str) -> str:
    return name.strip().lower().replace("_", "-")


class Resolver(Protocol):
    """A provider of names resolved on demand (the core's generic backbones: any Hugging Face ``model_type``).

    A resolver is asked only for names no plugin registered, so a plugin's own name always takes precedence over it;
    ``name@distribution`` selects the resolver's object even then. ``resolve`` and ``names`` may import heavy
    modules, so the registry calls them only when a name is looked up, never while plugins are listed.
    """

    description: str

    def resolve(self, name: str) -> Any | None:
        """The object for the normalised ``name``, or None when the resolver does not provide it."""

    def names(self) -> list[str]:
        """Every (normalised) name the resolver provides."""


@attrs.frozen
class ResolverEntry:
    """A resolver and the plugin that registered it."""

    kind: str
    resolver: Any
    plugin: PluginInfo


class Registry:
    """Named backbones, heads and rewrites from every loaded plugin.

    Plugins register through a :class:`PluginRegistry` view handed to their hooks, so every entry knows its plugin.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, list[Registration]]] = {kind: {} for kind in KINDS}
        self._resolvers: list[ResolverEntry] = []
        self._resolved: dict[tuple[str, str, str], Registration | None] = {}
        self.broken: list[PluginInfo] = []

    # -- filling -----------------------------------------------------------------------------------------------
    def for_plugin(self, plugin: PluginInfo) -> PluginRegistry:
        """The view a plugin's hook receives; its additions are attributed to ``plugin``."""
        return PluginRegistry(self, plugin)

    def _add(self, kind: str, name: str, obj: Any, plugin: PluginInfo) -> Registration:
        if not isinstance(name, str) or not name.strip() or "@" in name:
            raise ValueError(f"{plugin.label}: invalid {kind} name {name!r}; use a non-empty name without '@'")
        key = normalise_name(name)
        entries = self._entries[kind].setdefault(key, [])
        for existing in entries:
            if existing.plugin.name == plugin.name:
                raise ValueError(f"{plugin.label} registers the {kind} {name!r} twice")
        reg = Registration(kind, key, obj, plugin)
        entries.append(reg)
        return reg

    def _add_resolver(self, kind: str, resolver: Any, plugin: PluginInfo) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self._resolvers.append(ResolverEntry(kind, resolver, plugin))

    def _drop_plugin(self, plugin: PluginInfo) -> None:
        """Remove everything ``plugin`` registered (its hook failed half-way)."""
        self._resolvers = [r for r in self._resolvers if r.plugin.name != plugin.name]
        for table in self._entries.values():
            for key in list(table):
                table[key] = [r for r in table[key] if r.plugin.name != plugin.name]
                if not table[key]:
                    del table[key]

    # -- reading -----------------------------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Sorted names of one kind (a name provided by several distributions appears once)."""
        return sorted(self._entries[kind])

    def registrations(self, kind: str | None = None) -> Iterator[Registration]:
        """Every registration, optionally of one kind."""
        for k in [kind] if kind else KINDS:
            for key in sorted(self._entries[k]):
                yield from self._entries[k][key]

    def resolvers(self, kind: str | None = None) -> list[ResolverEntry]:
        """The on-demand name providers, optionally of one kind, in the order they are asked."""
        return [r for r in self._resolvers if kind is None or r.kind == kind]

    def resolved_names(self, kind: str) -> list[str]:
        """Sorted names the resolvers of ``kind`` provide (may import what the resolvers need)."""
        return sorted({n for entry in self.resolvers(kind) for n in entry.resolver.names()})

    def _resolve(self, entry: ResolverEntry, key: str) -> Registration | None:
        cache_key = (entry.kind, key, entry.plugin.name)
        if cache_key not in self._resolved:
            try:
                obj = entry.resolver.resolve(key)
            except ArchitError:
                raise
            except Exception as exc:  # the plugin's bug, not the user's: say whose it is
                raise PluginError(
                    f"the {entry.kind} resolver of plugin {entry.plugin.label} raised {type(exc).__name__}: {exc} while "
                    f"resolving {key!r}; a resolver returns None for a name it does not provide. Report it to the plugin's "
                    f"authors, or disable it (ARCHIT_DISABLE_PLUGINS={entry.plugin.distribution or entry.plugin.name})"
                ) from exc
            self._resolved[cache_key] = None if obj is None else Registration(entry.kind, key, obj, entry.plugin)
        return self._resolved[cache_key]

    def conflicts(self) -> list[list[Registration]]:
        """Names provided by more than one plugin."""
        return [regs for k in KINDS for regs in self._entries[k].values() if len(regs) > 1]

    def get(self, kind: str, name: str) -> Registration:
        """The registration for ``name`` or ``name@distribution``, with a clear error when there is none or several."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"a {kind} name is a non-empty string such as {_EXAMPLES[kind]!r}, got {bounded_repr(name)}")
        base, _, wanted = name.partition("@")
        key = normalise_name(base)
        candidates = self._entries[kind].get(key, [])
        if wanted:
            chosen = [r for r in candidates if normalise_name(wanted) in {normalise_name(r.plugin.distribution or ""), normalise_name(r.plugin.name)}]
            for entry in self.resolvers(kind):
                if not chosen and normalise_name(wanted) in {normalise_name(entry.plugin.distribution or ""), normalise_name(entry.plugin.name)}:
                    chosen = [r for r in [self._resolve(entry, key)] if r is not None]
            if not chosen:
                have = ", ".join(r.qualified_name for r in candidates) or "none"
                raise UnknownNameError(
                    f"no {kind} {base!r} from {wanted!r} is installed (providers of {base!r}: {have})"
                )
            return chosen[0]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            who = " and ".join(r.plugin.label for r in candidates)
            options = ", ".join(repr(r.qualified_name) for r in candidates)
            raise PluginConflictError(
                f"the {kind} {base!r} is registered by {who}. Disable one (ARCHIT_DISABLE_PLUGINS=<distribution> "
                f"or PluginHost(disable=[...])) or select one explicitly: {options}"
            )
        for entry in self.resolvers(kind):  # asked only for names no plugin registered: plugins take precedence
            found = self._resolve(entry, key)
            if found is not None:
                return found
        raise UnknownNameError(self._unknown_message(kind, base))

    def _unknown_message(self, kind: str, name: str) -> str:
        known = self.names(kind)
        try:
            generic = self.resolved_names(kind)
        except Exception:  # a failing resolver must not hide the error being reported
            generic = []
        parts = [f"unknown {kind} {name!r}."]
        close = difflib.get_close_matches(normalise_name(name), sorted(set(known) | set(generic)), n=3, cutoff=0.6)
        if close:
            parts.append("Did you mean " + " or ".join(repr(c) for c in close) + "?")
        parts.append(f"Installed {kind}s: {', '.join(known) if known else 'none'}.")
        for entry in self.resolvers(kind):
            parts.append(f"{entry.plugin.label} also provides {len(generic)} {kind}s on demand: {entry.resolver.description}.")
        if self.broken:
            likely = [p for p in self.broken if normalise_name(name) in normalise_name(p.distribution or p.name)]
            for p in likely or self.broken:
                hint = "probably provides it" if p in likely else "might provide it"
                parts.append(f"Plugin {p.label} failed to load and {hint}: {p.error}")
        parts.append(
            f"Install a plugin that provides it (e.g. `pip install archit-{kind}-{normalise_name(name)}`) "
            "and run `archit plugins` to see what is available."
        )
        return " ".join(parts)


class PluginRegistry:
    """What a plugin's hook receives: adds names on behalf of one plugin."""

    def __init__(self, registry: Registry, plugin: PluginInfo) -> None:
        self._registry = registry
        self.plugin = plugin

    def add_backbone(self, name: str, backbone: Any) -> None:
        """Register a backbone (an :class:`archit_core.Backbone`) under ``name``."""
        from ..parts.backbone import Backbone

        if not isinstance(backbone, Backbone):
            raise TypeError(f"{self.plugin.label}: backbone {name!r} must be an archit_core.Backbone, got {type(backbone).__name__}")
        self._registry._add("backbone", name, backbone, self.plugin)

    def add_head(self, name: str, head: Any) -> None:
        """Register a head (an :class:`archit_core.HeadSpec`) under ``name``."""
        from ..parts.head import HeadSpec

        if not isinstance(head, HeadSpec):
            raise TypeError(f"{self.plugin.label}: head {name!r} must be an archit_core.HeadSpec, got {type(head).__name__}")
        self._check_config_class("head", name, head.config_class)
        self._check_reference("head", name, "module", head.module)
        for field in ("inputs", "optional_inputs"):
            value = getattr(head, field, ())
            if not isinstance(value, tuple) or not all(isinstance(n, str) and n.isidentifier() for n in value):
                raise TypeError(f"{self.plugin.label}: the {field} of head {name!r} must be a tuple of keyword names such as "
                                f"('word_ids',), got {bounded_repr(value, 60)}")
        self._registry._add("head", name, head, self.plugin)

    def add_backbone_resolver(self, resolver: Resolver) -> None:
        """Register a :class:`Resolver` of backbone names (asked only for names no plugin registers)."""
        missing = [a for a in ("resolve", "names") if not callable(getattr(resolver, a, None))]
        if missing or not isinstance(getattr(resolver, "description", None), str):
            raise TypeError(
                f"{self.plugin.label}: a backbone resolver needs resolve(name), names() and a description string; "
                f"{type(resolver).__name__} lacks {', '.join(missing) or 'description'}"
            )
        self._registry._add_resolver("backbone", resolver, self.plugin)

    def add_rewrite(self, name: str, rewrite: Any) -> None:
        """Register a rewrite (an :class:`archit_core.RewriteSpec`) under ``name``."""
        if not callable(getattr(rewrite, "make_config", None)) or not hasattr(rewrite, "replace"):
            raise TypeError(f"{self.plugin.label}: rewrite {name!r} must be an archit_core.RewriteSpec, got {type(rewrite).__name__} "
                            f"{bounded_repr(rewrite, 60)}")
        self._check_config_class("rewrite", name, getattr(rewrite, "config_class", None))
        self._check_reference("rewrite", name, "replace", rewrite.replace)
        self._registry._add("rewrite", name, rewrite, self.plugin)

    def _check_config_class(self, kind: str, name: str, config_class: Any) -> None:
        if not (isinstance(config_class, type) and attrs.has(config_class)):
            raise TypeError(
                f"{self.plugin.label}: the config_class of {kind} {name!r} must be an attrs class (decorate it with "
                f"@attrs.frozen(kw_only=True)), got {bounded_repr(config_class, 60)}; archit validates configs and writes "
                "their JSON through attrs"
            )

    def _check_reference(self, kind: str, name: str, field: str, value: Any) -> None:
        if isinstance(value, str) and not _REFERENCE.match(value):
            raise TypeError(f"{self.plugin.label}: the {field} of {kind} {name!r} must be 'package.module:attribute' or the object "
                            f"itself, got {value!r}")
        if not isinstance(value, str) and not callable(value):
            raise TypeError(f"{self.plugin.label}: the {field} of {kind} {name!r} must be 'package.module:attribute' or the object "
                            f"itself, got {type(value).__name__}")
