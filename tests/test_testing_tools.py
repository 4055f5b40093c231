"""archit_core.testing's own tools: fake distributions and the archit_host fixture."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from archit_core.testing import make_distribution


def archit_entry_points() -> dict[str, str]:
    return {ep.dist.metadata["Name"]: ep.value for ep in metadata.entry_points(group="archit")}


def test_a_fake_distribution_is_installed_and_removed(tmp_path):
    with make_distribution(tmp_path, "archit-fake-pkg", "3.1.4", {"pkg": "fake_pkg.plugin:PLUGIN"},
                           {"fake_pkg.plugin": """
                                PLUGIN = "loaded"
                            """, "fake_pkg.util.deep": "X = 1\n"}) as dist:
        assert archit_entry_points()["archit-fake-pkg"] == "fake_pkg.plugin:PLUGIN"
        assert metadata.version("archit-fake-pkg") == "3.1.4"
        assert (dist.path / "fake_pkg" / "__init__.py").exists() and (dist.path / "fake_pkg" / "util" / "__init__.py").exists()
        (ep,) = [e for e in metadata.entry_points(group="archit") if e.name == "pkg"]
        assert ep.load() == "loaded"
        import fake_pkg.util.deep

        assert fake_pkg.util.deep.X == 1
    assert "archit-fake-pkg" not in archit_entry_points()
    assert str(dist.path) not in sys.path
    assert not [m for m in sys.modules if m.split(".")[0] == "fake_pkg"]
    with pytest.raises(ImportError):
        import fake_pkg  # noqa: F401


def test_a_fake_distribution_refuses_module_names_already_imported(tmp_path):
    with pytest.raises(ValueError, match="module\\(s\\) json are already imported"):
        make_distribution(tmp_path, "archit-fake-json", "1.0", {}, {"json": ""})


INNER_TESTS = """
from importlib import metadata
import archit_core


def names():
    return {ep.dist.metadata["Name"] for ep in metadata.entry_points(group="archit")}


def test_fake_distribution(fake_distribution):
    fake_distribution("archit-fake-inner", "1.0", {"inner": "fake_inner"}, {"fake_inner": "VALUE = 7"})
    assert "archit-fake-inner" in names()
    import fake_inner
    assert fake_inner.VALUE == 7


def test_it_is_gone_after_the_test():
    import sys
    assert "archit-fake-inner" not in names() and "fake_inner" not in sys.modules


def test_archit_host(archit_host):
    assert archit_core.get_host() is archit_host
    assert archit_host.strict and archit_host.plugins == [] and archit_host.registry.names("backbone") == []


def test_the_process_host_is_back():
    assert "roberta" in archit_core.get_host().registry.names("backbone")
"""


def test_the_pytest_plugin_is_loaded_by_entry_point_and_its_fixtures_clean_up(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "4 passed" in done.stdout
