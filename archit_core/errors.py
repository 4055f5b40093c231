"""Exceptions and warnings raised by archit; each message says what was wrong and what to do."""

from __future__ import annotations


class ArchitError(Exception):
    """Base class of every error archit raises on purpose."""


class PluginError(ArchitError):
    """A plugin failed to import or to register (raised in strict mode)."""


class PluginConflictError(ArchitError):
    """Two distributions registered the same name."""


class UnknownNameError(ArchitError, KeyError):
    """A backbone, head or rewrite name that no installed plugin provides."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingPluginError(UnknownNameError):
    """A checkpoint or config names a plugin distribution that is not installed."""


class ConfigError(ArchitError, ValueError):
    """A head or backbone configuration is invalid."""


class IncompatibleHeadError(ArchitError):
    """A head needs something the chosen backbone does not provide."""


class CheckpointError(ArchitError):
    """A checkpoint is missing, corrupt, or does not fit the model."""


class ArchitPluginWarning(UserWarning):
    """A plugin was isolated because it failed; the others still work."""


class DeclarationError(ArchitError):
    """A modified model cannot be declared as class code, or the generated code does not reproduce it."""


class DeclarationWarning(UserWarning):
    """A declared model needs attention: a deleted submodule, a part built twice, a tie that changed."""


#: The longest ``repr`` of a user's value that an error message quotes (:func:`bounded_repr`).
REPR_LIMIT = 120


def bounded_repr(value: object, limit: int = REPR_LIMIT) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, without expanding what is cut: a value built from YAML
    aliases (a list of lists of lists ...), a huge int or a deep mapping costs the same few operations to show."""
    import reprlib

    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<an int of {value.bit_length()} bits>"
    shower = reprlib.Repr()
    shower.maxlevel, shower.maxstring, shower.maxother, shower.maxlong = 3, limit, limit, 40
    shower.maxlist = shower.maxtuple = shower.maxdict = shower.maxset = shower.maxfrozenset = shower.maxdeque = 6
    try:
        text = shower.repr(value)
    except Exception:  # a plugin object whose __repr__ fails must not hide the error being reported
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
