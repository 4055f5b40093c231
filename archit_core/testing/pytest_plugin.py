"""archit's pytest plugin (entry point ``pytest11: archit``): fixtures for testing archit and its plugins.

- ``archit_host``: a fresh, empty, strict :class:`archit_core.PluginHost`, current for the test; fill it with
  ``archit_host.add(module, distribution=..., version=...)``.
- ``fake_distribution``: ``fake_distribution(name, version, entry_points, modules)`` writes a fake installed
  distribution (see :func:`archit_core.testing.make_distribution`) that entry-point discovery finds; it is
  removed, with the modules imported from it, after the test.

Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .distributions import FakeDistribution, make_distribution


@pytest.fixture
def archit_host() -> Iterator[Any]:
    """An empty ``PluginHost(entry_points=False, strict=True)``, made current with ``archit_core.using``."""
    from archit_core import PluginHost, using

    host = PluginHost(entry_points=False, strict=True)
    with using(host):
        yield host


@pytest.fixture
def fake_distribution(tmp_path: Path) -> Iterator[Callable[..., FakeDistribution]]:
    """A factory of fake installed distributions, all removed after the test."""
    made: list[FakeDistribution] = []

    def make(
        name: str,
        version: str = "0.1.0",
        entry_points: Mapping[str, str] | None = None,
        modules: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> FakeDistribution:
        dist = make_distribution(tmp_path, name, version, entry_points, modules, **kwargs)
        made.append(dist)
        return dist

    yield make
    for dist in reversed(made):
        dist.remove()


def pytest_report_header(config: Any) -> str:
    """The versions archit is tested against, at the top of every run (a new transformers that breaks archit
    is then named in the first lines of the log)."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    supported = next((r for r in (metadata.requires("archit-core") or []) if r.startswith("transformers")), "?")
    return f"archit: transformers {version('transformers')} (archit-core supports {supported}), torch {version('torch')}"
