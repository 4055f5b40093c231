"""The transformers-version adapter: what it detects matches the installed transformers, archit's outputs use
transformers' own field names, and the plugin API's renamed field keeps its deprecated alias."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedConfig
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

import archit_core
from archit_core.model import transformers_compat as compat


def test_the_cache_name_is_the_one_transformers_outputs_use() -> None:
    assert compat.CACHE in CausalLMOutputWithPast.__dataclass_fields__
    assert compat.CACHE in BaseModelOutputWithPast.__dataclass_fields__
    assert compat.CACHE not in compat.OTHER_CACHE_NAMES
    assert compat.features() == {"transformers": compat.TRANSFORMERS_VERSION, "cache name": compat.CACHE,
                                 "dataclass configs": dataclasses.is_dataclass(PreTrainedConfig)}


def test_output_classes_name_the_cache_field_as_transformers_does() -> None:
    cls = compat.output_class("Probe", [("logits", object), ("cache", object)], doc="probe", module=__name__)
    assert list(cls.__dataclass_fields__) == ["logits", compat.CACHE] and cls.__doc__ == "probe"
    out = cls(logits=1, **{compat.CACHE: 2})
    assert out.to_tuple() == (1, 2) and compat.cache_of(out) == 2 and out[compat.CACHE] == 2
    assert compat.cache_of(object()) is None


def test_a_cache_under_either_name_moves_to_this_releases_name() -> None:
    for other in compat.OTHER_CACHE_NAMES:
        assert compat.rename_cache_kwargs({other: 1, "x": 2}) == {compat.CACHE: 1, "x": 2}
        assert compat.rename_cache_kwargs({other: None, compat.CACHE: 3}) == {compat.CACHE: 3}
        with pytest.raises(archit_core.ArchitError, match=f"both as {compat.CACHE}= and {other}="):
            compat.rename_cache_kwargs({other: 1, compat.CACHE: 3})
    assert compat.rename_cache_kwargs({compat.CACHE: 4}) == {compat.CACHE: 4}


def test_backbone_output_past_key_values_is_a_deprecated_alias_of_cache() -> None:
    with pytest.warns(DeprecationWarning, match="pass cache="):
        old = archit_core.BackboneOutput(token_states=1, past_key_values=5)
    assert old.cache == 5
    with pytest.warns(DeprecationWarning, match="read .cache"):
        assert old.past_key_values == 5
    new = archit_core.BackboneOutput(token_states=1, cache=6)
    assert dataclasses.replace(new, pooled=2).cache == 6  # replace() sees only the real fields
    assert [f.name for f in dataclasses.fields(new)] == ["token_states", "attention_mask", "hidden_states", "pooled", "cache"]


def test_a_model_returns_its_backbones_cache_under_this_releases_name() -> None:
    pytest.importorskip("archit_backbone_gpt2")
    model = archit_core.build("gpt2", "token-classification", tiny=True).eval()
    with torch.no_grad():
        out = model(input_ids=torch.ones(1, 3, dtype=torch.long), use_cache=True)
    assert out[compat.CACHE] is not None and compat.CACHE in out.keys()
    assert compat.CACHE in archit_core.ArchitConfig.keys_to_ignore_at_inference  # the Trainer drops it


def test_nothing_else_in_archit_reads_the_transformers_version() -> None:
    root = Path(archit_core.__file__).parent
    plugins = Path(__file__).resolve().parent.parent / "plugins"
    offenders = [str(p) for p in [*root.rglob("*.py"), *plugins.glob("*/archit_*/**/*.py")]
                 if "transformers.__version__" in p.read_text() and p.name != "transformers_compat.py"]
    assert offenders == []


def test_install_tool_sees_every_editable_package_installed_from_this_checkout(tmp_path: Path) -> None:
    """tools/install.py skips a package only when it is installed editable from its folder here (as in this run)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    try:
        import install
    finally:
        sys.path.pop(0)
    editable, _ = install._entries()
    assert len(editable) >= 16 and all((install._folder(e) / "pyproject.toml").is_file() for e in editable)
    assert all(map(install._installed_here, editable))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "archit-core"\n')  # installed, but from elsewhere
    assert not install._installed_here(str(tmp_path))
    assert install._extra_requirements(".[test]") and install._digest(editable, []) == install._digest(editable, [])
