"""Discovery is cheap: importing archit_core, filling the registry and loading the pytest plugin import neither torch
nor transformers; those come with the first model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers")


def imported_after(code: str) -> list[str]:
    script = code + f"\nimport json, sys\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import archit_core",
        "import archit_core\nhost = archit_core.get_host()\nassert host.registry.names('backbone') and host.registry.names('head')\n"
        "[r.obj for r in host.registry.registrations()]",
        "import archit_core.testing, archit_core.testing.pytest_plugin",
    ],
    ids=["import", "discover-installed-plugins", "pytest-plugin"],
)
def test_cheap_operations_import_neither_torch_nor_transformers(code):
    assert imported_after(code) == []


def test_the_first_model_class_brings_them(tmp_path):
    """The control: the same probe sees torch and transformers once a model class is touched."""
    assert imported_after("import archit_core\narchit_core.ModelWithHead") == list(HEAVY)
