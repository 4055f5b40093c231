"""Fake installed distributions: real entry-point discovery in tests, with no ``pip install``.

:func:`make_distribution` writes a ``<name>-<version>.dist-info`` folder (``METADATA`` and ``entry_points.txt``) and
the modules' source files into a fresh folder and puts that folder on ``sys.path``, so
``importlib.metadata.entry_points(group="archit")`` and therefore ``archit_core.PluginHost()`` find it exactly as
they find a distribution installed with pip. :meth:`FakeDistribution.remove` takes it away again.
"""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import attrs

ENTRY_POINT_GROUP = "archit"


@attrs.frozen
class FakeDistribution:
    """A distribution written by :func:`make_distribution`; a context manager that removes it on exit."""

    name: str
    version: str
    path: Path
    modules: tuple[str, ...]

    @property
    def dist_info(self) -> Path:
        """The ``.dist-info`` folder."""
        return self.path / f"{_wheel_name(self.name)}-{self.version}.dist-info"

    def remove(self) -> None:
        """Take the folder off ``sys.path`` and forget every module imported from it (safe to call twice)."""
        folder = str(self.path)
        while folder in sys.path:
            sys.path.remove(folder)
        for top in {m.split(".")[0] for m in self.modules}:
            for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
                del sys.modules[loaded]
        importlib.invalidate_caches()

    def __enter__(self) -> FakeDistribution:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()


def _wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def make_distribution(
    tmp_path: str | Path,
    name: str,
    version: str = "0.1.0",
    entry_points: Mapping[str, str] | None = None,
    modules: Mapping[str, str] | None = None,
    *,
    group: str = ENTRY_POINT_GROUP,
) -> FakeDistribution:
    """Write a fake installed distribution under ``tmp_path`` and put it on ``sys.path``.

    ``entry_points`` maps entry-point names to values (``"module"`` or ``"module:object"``) in ``group``;
    ``modules`` maps dotted module names to their source (dedented; a name that is the parent of another becomes a
    package's ``__init__.py``, and missing parent packages are created empty). Modules are imported only when
    something loads the entry point. Call :meth:`FakeDistribution.remove` (or use it as a context manager) to undo.
    """
    modules = dict(modules or {})
    entry_points = dict(entry_points or {})
    tops = sorted({m.split(".")[0] for m in modules})
    clash = [t for t in tops if t in sys.modules]
    if clash:
        raise ValueError(f"module(s) {', '.join(clash)} are already imported; give the fake distribution other module names")
    root = Path(tmp_path) / f"site-{_wheel_name(name)}-{version}"
    if root.exists():
        raise ValueError(f"a fake distribution {name} {version} was already written under {tmp_path}")
    packages = {".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 1)}
    for module in sorted(set(modules) | packages):
        parts = module.split(".")
        file = root.joinpath(*parts, "__init__.py") if module in packages else root.joinpath(*parts[:-1], parts[-1] + ".py")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(modules.get(module, "")))
    dist = FakeDistribution(name, version, root, tuple(modules))
    dist.dist_info.mkdir(parents=True)
    (dist.dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"[{group}]"] + [f"{ep} = {value}" for ep, value in entry_points.items()]
    (dist.dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return dist
