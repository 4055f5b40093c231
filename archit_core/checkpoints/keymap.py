"""``KeyMap``: how checkpoint keys are renamed between a Hugging Face layout and archit's, in one type.

Import (``build(checkpoint=)``, :func:`~archit_core.checkpoints.interop.convert_hf_state_dict`) and export
(:func:`~archit_core.to_transformers`) use the same rules: prefix renames, which invert, and regular expressions
(a backbone plugin's ``checkpoint_aliases``), which are given to transformers' ``key_mapping`` as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs


def _rules(rules: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Rules in the order given, a later rule for the same source replacing an earlier one."""
    return tuple(dict(rules).items())


@attrs.frozen
class KeyMap:
    """Key renames: ``prefixes`` (``source prefix -> target prefix``; the longest matching prefix wins) and then
    ``patterns`` (``regex -> replacement``, the first that matches wins, as transformers applies ``key_mapping``)."""

    prefixes: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_rules)
    patterns: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_rules)

    @classmethod
    def of(cls, prefixes: Mapping[str, str] | None = None, patterns: Mapping[str, str] | None = None) -> KeyMap:
        """A key map from dicts of prefix renames and regex renames."""
        return cls(tuple((prefixes or {}).items()), tuple((patterns or {}).items()))

    def __or__(self, other: KeyMap) -> KeyMap:
        """Both maps' rules; ``other``'s win where both rename the same source."""
        return KeyMap((*self.prefixes, *other.prefixes), (*self.patterns, *other.patterns))

    def __bool__(self) -> bool:
        return bool(self.prefixes or self.patterns)

    def inverse(self) -> KeyMap:
        """The prefix renames the other way round (a regex has no inverse, so a map with patterns refuses); where two
        sources share a target, the later source is the inverse's."""
        if self.patterns:
            raise ValueError(f"a key map with regex renames ({', '.join(p for p, _ in self.patterns)}) has no inverse")
        return KeyMap(tuple((target, source) for source, target in self.prefixes))

    def with_default(self, source: str, target: str) -> KeyMap:
        """This map plus the prefix rename ``source -> target`` unless it already renames ``source``."""
        return self if any(s == source for s, _ in self.prefixes) else KeyMap((*self.prefixes, (source, target)), self.patterns)

    def rename(self, key: str) -> str | None:
        """``key`` renamed by the first rule that matches it, or None when none does."""
        for source, target in sorted(self.prefixes, key=lambda kv: -len(kv[0])):
            if key.startswith(source):
                return target + key[len(source):]
        for pattern, replacement in self.patterns:
            new, count = re.subn(pattern, replacement, key)
            if count:
                return new
        return None

    def apply(self, state: Mapping[str, Any]) -> tuple[dict[str, tuple[str, Any]], list[str]]:
        """``new key -> (old key, value)`` for each key of ``state`` some rule renames, and the keys none matched."""
        renamed: dict[str, tuple[str, Any]] = {}
        unmatched: list[str] = []
        for key, value in state.items():
            new = self.rename(key)
            if new is None:
                unmatched.append(key)
            else:
                renamed[new] = (key, value)
        return renamed, unmatched

    def transformers_mapping(self) -> dict[str, str]:
        """The ``key_mapping`` of transformers' ``from_pretrained`` (regex -> replacement) for these renames."""
        return {f"^{re.escape(source)}": target for source, target in self.prefixes} | dict(self.patterns)
