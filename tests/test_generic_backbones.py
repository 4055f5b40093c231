"""The core's generic backbones: any Hugging Face text model type by name, with no plugin.

A sample of families (encoders, decoders, encoder-decoder encoders, odd ones) builds tiny with both classification
heads, trains a step, and matches the family's Hugging Face task classes through checkpoint import wherever the
layouts are equivalent (the full table is benchmarks/bench_coverage.py -> docs/coverage.md). Dedicated plugins win over
the generic provider, unknown names still get a did-you-mean, and the listings stay torch-free.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types

import pytest
import torch

import archit_core
from archit_core.cli.main import main
from archit_core.generic.backbone import generic_backbone
from archit_core.testing.generic import check_model_type, generic_name, parity, probe_batch

#: model type -> (token-classification, sequence-classification) status; "parity" = same logits and loss as the
#: Hugging Face task model imported through build(checkpoint=).
COVERED = {"tok": "token-classification", "seq": "sequence-classification"}  # the coverage table's columns
SAMPLE = {
    "electra": ("parity", "parity"),  # classifier.dense + out_proj with GELU
    "albert": ("parity", "parity"),  # base-model pooler
    "distilbert": ("parity", "parity"),  # pre_classifier + ReLU
    "xlm-roberta": ("parity", "parity"),  # RoBERTa-like classification head
    "modernbert": ("parity", "parity"),  # prediction head: dense, activation, layer norm (no biases)
    "gpt2": ("parity", "parity"),  # decoder: score on the last non-padding token (a dedicated plugin holds the name)
    "qwen2": ("parity", "parity"),  # decoder with grouped key/value heads, bias-free score
    "t5": ("parity", "no-layout"),  # encoder of an encoder-decoder: T5's sequence classifier reads the decoder
    "bart": ("no-class", "no-layout"),  # encoder via get_encoder(); no token classifier in transformers
    "funnel": ("parity", "no-layout"),  # its sequence classifier sits on FunnelBaseModel, not FunnelModel
}


pytestmark = pytest.mark.filterwarnings("ignore::archit_core.ArchitPluginWarning")


@pytest.fixture(autouse=True)
def _installed_host():
    """The process-wide host, from the installed plugins (the core tests' autouse fixture cleared ARCHIT_*)."""
    old = archit_core.set_host(None)
    yield
    archit_core.set_host(old)


@pytest.fixture(scope="module")
def rows() -> dict:
    """Coverage rows computed once per module (each builds, trains and imports several tiny models)."""
    cache: dict = {}

    def row(model_type: str) -> dict:
        if model_type not in cache:
            old = archit_core.set_host(None)
            try:
                cache[model_type] = check_model_type(model_type, COVERED)
            finally:
                archit_core.set_host(old)
        return cache[model_type]

    return row


@pytest.mark.parametrize("model_type", sorted(SAMPLE))
def test_sample_family_builds_trains_and_matches_hugging_face(model_type: str, rows) -> None:
    row = rows(model_type)
    assert row["built"], row["error"]
    assert (row["tok"], row["seq"]) == SAMPLE[model_type], row


@pytest.mark.parametrize(
    ("model_type", "head"),
    [
        ("bros", "token-classification"),  # reads boxes: the extra backbone input bbox, zeros on both sides
        ("eurobert", "sequence-classification"),  # pooling="late": dense and GELU per token, then the masked mean
        ("deberta", "token-classification"),  # the name's dedicated plugin builds DeBERTa-v2; the import keeps v1
    ],
)
def test_more_layouts_and_inputs_match_hugging_face(model_type: str, head: str) -> None:
    _require_model_type(model_type)
    assert parity(generic_name(model_type), head) == ("parity", "")


@pytest.mark.parametrize("head", ["question-answering", "masked-lm", "multiple-choice"])
@pytest.mark.parametrize("model_type", ["xlm-roberta", "electra"])
def test_span_token_and_choice_heads_import_hugging_face_checkpoints(model_type: str, head: str) -> None:
    """Saved *ForQuestionAnswering / *ForMaskedLM / *ForMultipleChoice load with the head imported (no fresh head
    keys) and give Hugging Face's outputs: start/end logits, (batch, choices, length) inputs, and MLM heads whose
    LayerNorm is registered before the dense layer (ELECTRA) or whose bias has an alias (XLM-R's lm_head.bias).
    Where Hugging Face's own task class cannot run (XLMRobertaForMultipleChoice built without the pooler it reads,
    transformers 5.0-5.12), there is no layout to match, and the reason says so."""
    if _hf_task_class_fails(model_type, head):
        status, reason = parity(generic_name(model_type), head)
        assert status == "no-layout" and "IndexError" in reason
        return
    assert parity(generic_name(model_type), head) == ("parity", "")


def _hf_task_class_fails(model_type: str, head: str) -> bool:
    import transformers

    from archit_core.checkpoints.interop import hf_class_name

    spec = archit_core.get_host().head(head).obj
    config = generic_backbone(model_type).make_config(tiny=True)
    hf = getattr(transformers, hf_class_name(spec.hf_layout.auto_class, model_type))(config).eval()
    ids = torch.ones((1, 2, 4) if head == "multiple-choice" else (1, 4), dtype=torch.long)
    try:
        with torch.no_grad():
            hf(input_ids=ids)
    except IndexError:
        return True
    return False


def test_inferred_layouts_map_aliases_and_modules_out_of_registration_order() -> None:
    from archit_core.generic.layouts import infer_head_layout

    host = archit_core.get_host()
    mlm = host.head("masked-lm").obj
    xlmr, _ = infer_head_layout(generic_backbone("xlm-roberta"), "masked-lm", mlm)
    assert xlmr.keys == {"lm_head.dense.": "transform.dense.", "lm_head.layer_norm.": "transform.layer_norm.",
                         "lm_head.decoder.": "decoder.", "lm_head.bias": "decoder.bias"}
    electra, _ = infer_head_layout(generic_backbone("electra"), "masked-lm", mlm)
    assert electra.keys == {"generator_predictions.LayerNorm.": "transform.layer_norm.",
                            "generator_predictions.dense.": "transform.dense.", "generator_lm_head.": "decoder."}
    qa, _ = infer_head_layout(generic_backbone("electra"), "question-answering", host.head("question-answering").obj)
    assert qa.keys == {"qa_outputs.": "qa_outputs."}


def test_no_parity_reasons_name_the_part_that_differs(rows) -> None:
    row = rows("bart")
    assert "BartModel" in row["seq_reason"] and "BartEncoder" in row["seq_reason"]
    assert "AutoModelForTokenClassification" in row["tok_reason"]


# -- precedence and names ---------------------------------------------------------------------------------------------
def test_a_dedicated_plugin_wins_over_the_generic_provider_without_conflict() -> None:
    host = archit_core.get_host()
    assert host.backbone("roberta").plugin.distribution == "archit-backbone-roberta"
    generic = host.backbone("roberta@archit-core")
    assert generic.plugin.distribution == "archit-core" and generic.obj.hf_model_type == "roberta"
    assert not [regs for regs in host.registry.conflicts() if regs[0].name == "roberta"]
    assert "electra" not in host.registry.names("backbone")  # generic names are resolved on demand, never listed
    assert host.backbone("electra").plugin.distribution == "archit-core"
    assert host.backbone("xlm_roberta").obj.hf_model_type == "xlm-roberta"  # names normalise as plugin names do


def test_a_third_party_plugin_for_a_generic_name_takes_it_over(fake_distribution) -> None:
    source = (
        "from archit_core import TransformersBackbone, hookimpl\n"
        "ELECTRA = TransformersBackbone(config_class='transformers:ElectraConfig', model_class='transformers:ElectraModel',"
        " tiny={'vocab_size': 99, 'embedding_size': 8, 'hidden_size': 16, 'num_hidden_layers': 1,"
        " 'num_attention_heads': 2, 'intermediate_size': 32}, checkpoint_prefix='electra')\n"
        "@hookimpl\ndef provide_backbone(registry):\n    registry.add_backbone('electra', ELECTRA)\n"
    )
    fake_distribution("archit-backbone-electra", "0.1.0", entry_points={"electra": "fake_electra"}, modules={"fake_electra": source})
    host = archit_core.PluginHost(strict=False)  # other installed plugins' health is not this test's business
    assert host.backbone("electra").plugin.distribution == "archit-backbone-electra"
    assert host.backbone("electra@archit-core").plugin.distribution == "archit-core"
    model = archit_core.build("electra", "token-classification", tiny=True, host=host)
    assert model.config.backbone_config.hidden_size == 16
    assert model.config.plugins["backbone"]["distribution"] == "archit-backbone-electra"


def test_unknown_names_get_did_you_mean_over_generic_and_dedicated_names() -> None:
    host = archit_core.get_host()
    with pytest.raises(archit_core.UnknownNameError, match=r"Did you mean 'electra'\?") as info:
        host.backbone("electrra")
    assert "archit-core" in str(info.value) and "on demand" in str(info.value)
    with pytest.raises(archit_core.UnknownNameError, match="Did you mean 'roberta'"):
        archit_core.build("robertta", "token-classification")
    with pytest.raises(archit_core.UnknownNameError, match="no backbone 'electra' from 'archit-nope'"):
        host.backbone("electra@archit-nope")


def test_the_generic_provider_follows_the_plugin_selection() -> None:
    assert archit_core.PluginHost(disable=["archit-core"], strict=False).registry.resolvers() == []
    allowed = archit_core.PluginHost(allow=["archit-backbone-roberta"], strict=True)
    with pytest.raises(archit_core.UnknownNameError):
        allowed.backbone("electra")
    empty = archit_core.PluginHost(entry_points=False)
    assert empty.registry.resolvers() == []
    assert archit_core.PluginHost(entry_points=False, builtins=True).backbone("albert").plugin.name == "archit-core:generic"


def test_a_model_type_that_is_not_text_is_refused_with_the_reason() -> None:
    with pytest.raises(archit_core.ConfigError, match="'vit' is not a text model: ViTModel reads 'pixel_values'"):
        archit_core.build("vit", "token-classification", tiny=True)


# -- facts, tiny configs, checkpoints ---------------------------------------------------------------------------------
def test_facts_come_from_the_family_field_names_and_a_missing_one_is_named() -> None:
    t5 = generic_backbone("t5")
    facts = t5.facts(t5.make_config(tiny=True))
    assert (facts.hidden_size, facts.num_layers, facts.dropout) == (32, 2, 0.1)
    gpt2 = generic_backbone("gpt2")
    assert gpt2.facts(gpt2.make_config()).hidden_size == 768  # the config class's defaults: gpt2 small
    with pytest.raises(archit_core.ConfigError, match="t5 config .* has none of hidden_size/d_model/n_embd"):
        t5.facts(types.SimpleNamespace(num_layers=2))


def test_tiny_configs_stay_consistent_across_families() -> None:
    qwen2 = generic_backbone("qwen2").make_config(tiny=True)
    assert (qwen2.hidden_size, qwen2.num_hidden_layers, qwen2.num_attention_heads, qwen2.num_key_value_heads) == (32, 2, 4, 2)
    assert len(qwen2.layer_types) == 2 and qwen2.vocab_size == 1000
    assert all(i < 1000 for i in (qwen2.bos_token_id, qwen2.eos_token_id) if i is not None)
    funnel = generic_backbone("funnel").make_config(tiny=True)
    assert list(funnel.block_sizes) == [1, 1, 1]
    with pytest.raises(archit_core.ConfigError, match="backbone_config.hiden_size: .* did you mean 'hidden_size'"):
        generic_backbone("albert").make_config({"hiden_size": 8})


def _rope_partial_factors(config) -> None:
    rope = config.rope_parameters
    assert rope["full_attention"]["partial_rotary_factor"] == 0.5 and rope["sliding_attention"]["partial_rotary_factor"] == 1.0


def _layout_sizes(config) -> None:
    if config.model_type == "lilt":
        assert config.hidden_size == 48
    else:
        assert 4 * config.coordinate_size + 2 * config.shape_size == config.hidden_size == 48


TINY_RULES = {
    "xmod": lambda c: c.default_language == "en_XX",  # first of `languages`
    "esmc": lambda c: c.num_key_value_heads == c.num_attention_heads == 4,  # its validation refuses grouped heads
    "neomme": _rope_partial_factors,
    "mistral4": lambda c: c.head_dim == c.qk_head_dim == 16,
    "lilt": _layout_sizes,
    "layoutlmv3": _layout_sizes,
    "bros": lambda c: c.hidden_size == 64,
}


def _require_model_type(model_type: str) -> None:
    """Skip where the installed transformers predates ``model_type`` (the floor of the supported range)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        import transformers

        pytest.skip(f"transformers {transformers.__version__} has no model type {model_type!r}")


@pytest.mark.parametrize("model_type", sorted(TINY_RULES))
def test_tiny_rules_follow_what_the_config_declares(model_type: str) -> None:
    _require_model_type(model_type)
    assert TINY_RULES[model_type](generic_backbone(model_type).make_config(tiny=True)) is not False


def test_extra_backbone_inputs_come_from_the_config() -> None:
    assert generic_backbone("bros").extra_inputs == {"bbox": (4,)} and generic_backbone("bert").extra_inputs == {}


def test_roles_are_inferred_where_the_module_tree_is_unambiguous() -> None:
    model = archit_core.build("gpt2@archit-core", "token-classification", tiny=True)
    spec = model.backbone_spec
    assert spec.role_paths(model.backbone, "word_embeddings") == ["wte"]
    assert spec.role_paths(model.backbone, "layers") == ["h.0", "h.1"]
    assert generic_backbone("bart").checkpoint_prefix == "model.encoder"
    assert generic_backbone("t5").checkpoint_prefix == "transformer"


def test_a_base_checkpoint_loads_into_the_backbone_with_the_model_prefix(tmp_path) -> None:
    from transformers import ElectraModel

    spec = generic_backbone("electra")
    torch.manual_seed(0)
    base = ElectraModel(spec.make_config(tiny=True)).eval()
    base.save_pretrained(tmp_path)
    model = archit_core.build("electra@archit-core", "token-classification", checkpoint=tmp_path, strict=True).eval()
    assert model.loading_report.fresh.get("head")
    batch = probe_batch(base.config, model.head)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(input_ids=batch["input_ids"]).last_hidden_state,
                                   base(input_ids=batch["input_ids"]).last_hidden_state)


@pytest.mark.parametrize("saved", ["BartModel", "BartForSequenceClassification"])
def test_encoder_decoder_checkpoints_load_into_the_encoder_with_tied_embeddings(tmp_path, saved: str) -> None:
    import transformers

    config = generic_backbone("bart").make_config(tiny=True)
    torch.manual_seed(0)
    hf = getattr(transformers, saved)(config).eval()
    hf.save_pretrained(tmp_path)  # BART stores the encoder's tied embed_tokens once, as (model.)shared
    model = archit_core.build("bart", "token-classification", checkpoint=tmp_path, strict=True).eval()
    assert not model.loading_report.fresh.get("backbone")
    encoder = hf.get_encoder()
    batch = probe_batch(config, model.head)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone.embed_tokens.weight, encoder.embed_tokens.weight)
        torch.testing.assert_close(model.backbone(input_ids=batch["input_ids"]).last_hidden_state,
                                   encoder(input_ids=batch["input_ids"]).last_hidden_state)


def test_a_saved_generic_model_keeps_the_generic_provider_where_a_plugin_holds_the_name(tmp_path) -> None:
    from transformers import DebertaModel

    model = archit_core.build("deberta@archit-core", "token-classification", tiny=True)
    assert isinstance(model.backbone, DebertaModel)  # the deberta plugin's name builds DeBERTa-v2
    model.save_pretrained(tmp_path)
    assert isinstance(archit_core.load(tmp_path).backbone, DebertaModel)


def test_a_generic_model_saves_and_loads_with_archit_and_auto_model(tmp_path) -> None:
    from transformers import AutoModelForSequenceClassification

    model = archit_core.build("albert", "sequence-classification", tiny=True, head_config={"num_labels": 3}).eval()
    assert model.config.plugins["backbone"]["distribution"] == "archit-core"
    model.save_pretrained(tmp_path)
    batch = probe_batch(model.config.backbone_config, model.head)
    again, auto = archit_core.load(tmp_path).eval(), AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        expected = model(**batch)
        for loaded in (again, auto):
            out = loaded(**batch)
            torch.testing.assert_close(out.logits, expected.logits)
            torch.testing.assert_close(out.loss, expected.loss)


def test_last_pooling_reads_the_last_unpadded_token() -> None:
    model = archit_core.build("qwen2", "sequence-classification", tiny=True,
                              head_config={"num_labels": 2, "pooling": "last", "classifier_bias": False}).eval()
    ids = torch.tensor([[11, 12, 13, 14], [21, 22, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        short = model(input_ids=ids[1:, :2]).logits
    torch.testing.assert_close(logits[1:], short)
    assert model.head.classifier.bias is None


# -- the command line -----------------------------------------------------------------------------------------------
def test_archit_plugins_lists_the_generic_provider_without_importing_torch() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from archit_core.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out): main(['plugins'])\n"
        "print(out.getvalue()); print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    env = {"ARCHIT_PLUGINS": "archit-core,archit-backbone-roberta,archit-head-token-classification", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert re.search(r"^  ok +archit-core:generic +archit-core ", done.stdout, re.MULTILINE)
    assert "<generic>" in done.stdout and "any model_type transformers' AutoModel builds" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "False False"


def test_archit_backbones_lists_dedicated_and_generic_names(capsys) -> None:
    assert main(["backbones"]) == 0
    text = capsys.readouterr().out
    assert "roberta" in text and "archit-backbone-roberta" in text and "archit-core:generic" in text
    assert main(["backbones", "--all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    generic = {g["name"]: g for g in report["generic"]}
    assert generic["electra"]["overridden_by"] is None
    assert generic["roberta"]["overridden_by"] == "archit-backbone-roberta"
    assert generic["roberta"]["qualified_name"] == generic_name("roberta")
    assert len(generic) > 100


def test_an_archit_checkpoint_from_before_a_head_field_existed_still_loads_as_the_same_model(tmp_path) -> None:
    model = archit_core.build("albert", "token-classification", tiny=True, head_config={"num_labels": 3})
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    saved["head_config"] = {"num_labels": 3, "dropout": None}  # as the head wrote it before `transform` existed
    (tmp_path / "config.json").write_text(json.dumps(saved))
    again = archit_core.build("albert", "token-classification", checkpoint=tmp_path, head_config={"num_labels": 3})
    assert again.head.config == model.head.config and not again.loading_report.fresh.get("head")
