"""The plugin host and registry: discovery through entry points, provenance, selection before import, isolation of
broken plugins, conflicts and unknown names. Fake distributions make discovery real without pip install."""

from __future__ import annotations

import sys
import warnings
from importlib import metadata

import pytest

import archit_core
from archit_core import (
    ArchitPluginWarning,
    PluginConflictError,
    PluginError,
    PluginHost,
    UnknownNameError,
    hookimpl,
)
from archit_core.testing.toys import POOLED, ToyBackbone, ToyPlugin

BERT_PLUGIN = """
from archit_core import TransformersBackbone, hookimpl

@hookimpl
def provide_backbone(registry):
    registry.add_backbone("fake-bert", TransformersBackbone(config_class="transformers:BertConfig", model_class="transformers:BertModel"))
"""

HEAD_PLUGIN = """
from archit_core import HeadSpec, hookimpl

@hookimpl
def provide_head(registry):
    from archit_head_token_classification import TokenClassificationConfig
    registry.add_head("{name}", HeadSpec(
        module="archit_head_token_classification.head:TokenClassificationHead",
        config_class=TokenClassificationConfig,
    ))
"""

BOOM = "raise RuntimeError('kaboom at import')\n"


@pytest.fixture
def good_and_boom(fake_distribution):
    """archit-fake-good 1.2.3 (backbone fake-bert) and archit-fake-boom 0.1.0, whose module raises on import."""
    good = fake_distribution("archit-fake-good", "1.2.3", {"good": "fake_good"}, {"fake_good": BERT_PLUGIN})
    boom = fake_distribution("archit-fake-boom", "0.1.0", {"boom": "fake_boom"}, {"fake_boom": BOOM})
    return good, boom


def plugin_status(host: PluginHost) -> dict[str, str]:
    return {p.distribution or p.name: p.status for p in host.plugins}


# -- provenance ------------------------------------------------------------------------------------------------------
def test_fake_distributions_are_discovered_through_entry_points(good_and_boom):
    found = {ep.dist.metadata["Name"]: ep.value for ep in metadata.entry_points(group="archit")}
    assert found["archit-fake-good"] == "fake_good" and found["archit-fake-boom"] == "fake_boom"
    assert "fake_good" not in sys.modules  # nothing imported until a host loads the entry point


def test_every_registered_name_knows_its_plugin_distribution_and_version(fake_distribution):
    fake_distribution("archit-fake-good", "1.2.3", {"good": "fake_good"}, {"fake_good": BERT_PLUGIN})
    fake_distribution("archit-fake-heads", "0.4.0", {"tagger": "fake_heads.plugin"},
                      {"fake_heads.plugin": HEAD_PLUGIN.format(name="fake-tagger")})
    host = PluginHost(allow=["archit-fake-good", "archit-fake-heads"], strict=True)
    assert {r.qualified_name: r.provenance() for r in host.registry.registrations()} == {
        "fake-bert@archit-fake-good": {
            "name": "fake-bert", "plugin": "archit-fake-good:good", "distribution": "archit-fake-good", "version": "1.2.3",
        },
        "fake-tagger@archit-fake-heads": {
            "name": "fake-tagger", "plugin": "archit-fake-heads:tagger", "distribution": "archit-fake-heads", "version": "0.4.0",
        },
    }


def test_installed_plugins_record_their_installed_distribution():
    host = PluginHost(allow=["archit-backbone-roberta", "archit-head-token-classification"], strict=True)
    for reg in host.registry.registrations():
        assert reg.plugin.distribution in {"archit-backbone-roberta", "archit-head-token-classification"}
        assert reg.plugin.version == metadata.version(reg.plugin.distribution)
    assert host.backbone("roberta").plugin.name == "archit-backbone-roberta:roberta"


def test_a_module_added_to_a_host_keeps_the_given_provenance_into_the_model(archit_host):
    import archit_backbone_roberta
    import archit_head_token_classification

    archit_host.add(archit_backbone_roberta, distribution="my-roberta", version="9.9")
    archit_host.add(archit_head_token_classification)
    model = archit_core.build("roberta", "token-classification", tiny=True)
    assert model.config.plugins["backbone"] == {
        "name": "roberta", "plugin": "archit_backbone_roberta", "distribution": "my-roberta", "version": "9.9",
    }
    assert model.config.plugins["head"]["plugin"] == "archit_head_token_classification"
    with pytest.raises(PluginError, match="already registered"):
        archit_host.add(archit_backbone_roberta)


# -- selection before import -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "kwargs"),
    [
        ({"ARCHIT_DISABLE_PLUGINS": "archit-fake-boom"}, {}),
        ({"ARCHIT_DISABLE_PLUGINS": "some-other, boom"}, {}),  # entry-point names work too
        ({"ARCHIT_PLUGINS": "archit_fake_good"}, {}),  # names are normalised
        ({}, {"disable": ["Archit-Fake-Boom"]}),
        ({}, {"allow": ["archit-fake-good"]}),
        ({"ARCHIT_DISABLE_PLUGINS": "archit-fake-good"}, {"disable": ["archit-fake-boom"]}),  # code wins over env
    ],
    ids=["env-blocklist", "env-blocklist-entry-point", "env-allowlist", "code-blocklist", "code-allowlist", "code-over-env"],
)
def test_disabled_plugins_are_never_imported(good_and_boom, monkeypatch, env, kwargs):
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        host = PluginHost(strict=False, **kwargs)
        status = plugin_status(host)
    assert "fake_boom" not in sys.modules
    assert status["archit-fake-boom"] == "disabled"
    assert not [w for w in caught if "archit-fake-boom" in str(w.message)]
    assert status["archit-fake-good"] == "ok"
    assert host.backbone("fake-bert").plugin.distribution == "archit-fake-good"


def test_an_allowlist_disables_everything_else(good_and_boom, monkeypatch):
    monkeypatch.setenv("ARCHIT_PLUGINS", "archit-fake-good")
    host = PluginHost(strict=True)
    assert plugin_status(host)["archit-backbone-roberta"] == "disabled"
    assert host.registry.names("backbone") == ["fake-bert"]
    with pytest.raises(UnknownNameError, match="unknown backbone 'roberta'"):
        host.backbone("roberta")


# -- broken plugins --------------------------------------------------------------------------------------------------
def test_a_plugin_that_fails_to_import_is_isolated(good_and_boom):
    with pytest.warns(ArchitPluginWarning, match=r"archit-fake-boom 0\.1\.0 was disabled .*RuntimeError: kaboom at import"):
        host = PluginHost(allow=["archit-fake-good", "archit-fake-boom"], strict=False)
    (broken,) = [p for p in host.plugins if p.status == "broken"]
    assert (broken.distribution, broken.version, broken.name) == ("archit-fake-boom", "0.1.0", "archit-fake-boom:boom")
    assert "kaboom at import" in broken.error
    assert host.registry.broken == [broken]
    assert host.backbone("fake-bert").plugin.status == "ok"


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_strict_mode_raises_on_a_broken_plugin(good_and_boom, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("ARCHIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"archit-fake-boom 0\.1\.0 is broken: import of 'fake_boom' failed: RuntimeError: kaboom"):
        PluginHost(allow=["archit-fake-good", "archit-fake-boom"], strict=True if how == "argument" else None)


class HalfWayPlugin:
    """Registers a backbone and a head, then raises in one of its hooks."""

    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in

    @hookimpl
    def provide_backbone(self, registry):
        registry.add_backbone("half-backbone", ToyBackbone())
        if self.fail_in == "provide_backbone":
            raise ValueError("oops half-way")

    @hookimpl
    def provide_head(self, registry):
        registry.add_head("half-head", POOLED)
        if self.fail_in == "provide_head":
            raise ValueError("oops half-way")


@pytest.mark.parametrize("fail_in", ["provide_backbone", "provide_head"])
def test_a_hook_that_raises_half_way_leaves_nothing_registered(fail_in):
    host = PluginHost(entry_points=False, strict=False)
    host.add(HalfWayPlugin(fail_in), name="half", distribution="archit-half", version="1.0")
    host.add(ToyPlugin(backbones={"toy": ToyBackbone()}, heads={"pooled": POOLED}), name="toys")
    with pytest.warns(ArchitPluginWarning, match=f"archit-half 1.0 was disabled because it failed: {fail_in} raised ValueError: oops half-way"):
        registry = host.registry
    assert registry.names("backbone") == ["toy"] and registry.names("head") == ["pooled"]
    assert plugin_status(host) == {"archit-half": "broken", "toys": "ok"}


def test_strict_mode_raises_on_a_hook_failure():
    host = PluginHost(entry_points=False, strict=True)
    host.add(HalfWayPlugin("provide_head"), name="half", distribution="archit-half", version="1.0")
    with pytest.raises(PluginError, match="provide_head raised ValueError: oops half-way"):
        host.registry  # noqa: B018


# -- conflicts -------------------------------------------------------------------------------------------------------
@pytest.fixture
def two_providers(fake_distribution):
    for dist, version, module in (("archit-fake-a", "1.0.0", "fake_a"), ("archit-fake-b", "2.0.0", "fake_b")):
        fake_distribution(dist, version, {"dup": module}, {module: HEAD_PLUGIN.format(name="dup")})
    return ["archit-fake-a", "archit-fake-b", "archit-backbone-roberta", "archit-head-token-classification"]


def test_two_distributions_registering_one_name_is_an_error_naming_both_and_the_way_out(two_providers):
    host = PluginHost(allow=two_providers, strict=True)
    assert [sorted(r.qualified_name for r in regs) for regs in host.registry.conflicts()] == [["dup@archit-fake-a", "dup@archit-fake-b"]]
    for attempt in (lambda: host.head("dup"), lambda: archit_core.build("roberta", "dup", tiny=True, host=host)):
        with pytest.raises(PluginConflictError) as info:
            attempt()
        message = str(info.value)
        for part in ("archit-fake-a 1.0.0", "archit-fake-b 2.0.0", "ARCHIT_DISABLE_PLUGINS", "'dup@archit-fake-a'", "'dup@archit-fake-b'"):
            assert part in message


def test_name_at_distribution_selects_one_provider_and_the_checkpoint_remembers_it(two_providers, tmp_path):
    host = PluginHost(allow=two_providers, strict=True)
    assert host.head("dup@archit-fake-b").plugin.version == "2.0.0"
    model = archit_core.build("roberta", "dup@archit-fake-b", tiny=True, host=host)
    assert model.config.head == "dup"
    assert model.config.plugins["head"]["distribution"] == "archit-fake-b"
    model.save_pretrained(tmp_path)
    again = archit_core.load(tmp_path, host=host)  # still two providers: the saved distribution decides
    assert again.config.plugins["head"] == model.config.plugins["head"]
    with pytest.raises(UnknownNameError, match=r"no head 'dup' from 'archit-fake-c' is installed \(providers of 'dup': ") as info:
        host.head("dup@archit-fake-c")
    assert "dup@archit-fake-a" in str(info.value) and "dup@archit-fake-b" in str(info.value)


def test_disabling_one_provider_resolves_a_conflict(two_providers):
    host = PluginHost(allow=two_providers, disable=["archit-fake-a"], strict=True)
    assert host.head("dup").plugin.distribution == "archit-fake-b"


# -- unknown names ---------------------------------------------------------------------------------------------------
def test_unknown_names_get_a_did_you_mean_and_the_installed_names(real_host):
    with pytest.raises(UnknownNameError, match=r"unknown backbone 'robrta'\. Did you mean 'roberta'\? Installed backbones: roberta, toy\."):
        real_host.backbone("robrta")
    with pytest.raises(KeyError, match="Did you mean 'token-classification'"):
        archit_core.build("roberta", "token-clasification", tiny=True)
    with pytest.raises(UnknownNameError, match="Installed heads: pooled, token-classification. Install a plugin") as info:
        real_host.head("parser")
    assert "Did you mean" not in str(info.value)


def test_an_unknown_name_mentions_the_broken_plugin_that_probably_provides_it(fake_distribution):
    fake_distribution("archit-backbone-gpt9", "0.1.0", {"gpt9": "archit_backbone_gpt9"}, {"archit_backbone_gpt9": BOOM})
    with pytest.warns(ArchitPluginWarning):
        host = PluginHost(allow=["archit-backbone-gpt9", "archit-backbone-roberta"], strict=False)
    with pytest.raises(UnknownNameError) as info:
        host.backbone("gpt9")
    assert "Plugin archit-backbone-gpt9 0.1.0 failed to load and probably provides it" in str(info.value)
    assert "RuntimeError: kaboom at import" in str(info.value)
    with pytest.raises(UnknownNameError, match="archit-backbone-gpt9 0.1.0 failed to load and might provide it"):
        host.backbone("robrta")
