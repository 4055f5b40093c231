"""Install requirements.txt into the current environment, skipping the editable packages already installed here
from the same folders and the same pyproject.toml files (a re-run takes seconds instead of rebuilding 16 wheels).

    python tools/install.py [-c constraints.txt] [--force]

On a fresh environment this is ``pip install -r requirements.txt``. Afterwards it records, in the environment, a
digest of requirements.txt and of every editable package's pyproject.toml; while those and the installed editable
distributions are unchanged, only the non-editable requirements go to pip (a quick "already satisfied").
Source edits need no reinstall (editable installs read the source folders).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: no TOML reader in the standard library, so always install in full
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = Path(sys.prefix) / "archit-install-stamp.json"


def _entries() -> tuple[list[str], list[str]]:
    """(editable folders, other requirement lines) of requirements.txt."""
    editable, other = [], []
    for raw in REQUIREMENTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-e "):
            editable.append(line[3:].strip())
        else:
            other.append(line)
    return editable, other


def _folder(entry: str) -> Path:
    return (ROOT / entry.split("[", 1)[0]).resolve()


def _extras(entry: str) -> list[str]:
    return [e.strip() for e in entry.partition("[")[2].rstrip("]").split(",") if e.strip()]


def _digest(editable: list[str], constraints: list[str]) -> str:
    h = hashlib.sha256(REQUIREMENTS.read_bytes())
    for entry in editable:
        h.update(entry.encode() + (_folder(entry) / "pyproject.toml").read_bytes())
    for path in constraints:
        h.update(Path(path).read_bytes())
    h.update(sys.executable.encode())
    return h.hexdigest()


def _installed_here(entry: str) -> bool:
    """Whether the distribution in ``entry``'s folder is installed editable from that folder."""
    name = tomllib.loads((_folder(entry) / "pyproject.toml").read_text())["project"]["name"]
    for dist in metadata.distributions(name=name):  # a source tree's own *.egg-info may be found first
        info = json.loads(dist.read_text("direct_url.json") or "{}")
        if info.get("dir_info", {}).get("editable") and info.get("url") == _folder(entry).as_uri():
            return True
    return False


def _extra_requirements(entry: str) -> list[str]:
    """The requirements an editable entry's extras add (``.[test]``), to keep them satisfied on a skip."""
    project = tomllib.loads((_folder(entry) / "pyproject.toml").read_text())["project"]
    optional = project.get("optional-dependencies", {})
    return [req for extra in _extras(entry) for req in optional.get(extra, [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--constraint", action="append", default=[], help="a pip constraints file")
    parser.add_argument("--force", action="store_true", help="reinstall every editable package")
    args = parser.parse_args(argv)
    pip = [sys.executable, "-m", "pip", "install", "-q", *(f"--constraint={c}" for c in args.constraint)]
    editable, other = _entries()
    digest = _digest(editable, args.constraint)
    recorded = json.loads(STAMP.read_text()) if STAMP.is_file() else {}
    if tomllib is not None and not args.force and recorded.get("digest") == digest and all(map(_installed_here, editable)):
        requirements = other + [r for e in editable for r in _extra_requirements(e)]
        print(f"install: {len(editable)} editable packages already installed from this checkout; checking the rest")
        return subprocess.call([*pip, *requirements]) if requirements else 0
    code = subprocess.call([*pip, "-r", str(REQUIREMENTS)])
    if code == 0:
        STAMP.write_text(json.dumps({"digest": digest}))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
