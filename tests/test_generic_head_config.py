"""Generic head layouts that read the family's config: a value a family's head takes from its config (the activation
of BigBird's classification head) follows each checkpoint's config, not a value inferred once from a tiny probe; a
probe that cannot tell candidates apart is an error, and a task head left fresh is reported and refused when strict."""

from __future__ import annotations

import warnings

import pytest
import torch
import transformers

import archit_core
from archit_core.generic.backbone import generic_backbone
from archit_core.generic.layouts import infer_head_layout

#: Families whose *ForSequenceClassification applies ``config.hidden_act`` in its head: Hugging Face class stem.
CONFIG_ACTIVATION = {"big_bird": "BigBird", "convbert": "ConvBert", "mra": "Mra", "nystromformer": "Nystromformer",
                     "roformer": "RoFormer", "yoso": "Yoso"}


@pytest.mark.parametrize("activation", ["relu", "silu"])
@pytest.mark.parametrize("model_type", sorted(CONFIG_ACTIVATION))
def test_the_head_activation_follows_each_checkpoints_config(model_type, activation, tmp_path):
    config = generic_backbone(model_type).make_config(tiny=True)
    config.hidden_act, config.num_labels = activation, 3
    torch.manual_seed(0)
    hf = getattr(transformers, f"{CONFIG_ACTIVATION[model_type]}ForSequenceClassification")(config).eval()
    hf.save_pretrained(tmp_path)
    model = archit_core.build(f"{model_type}@archit-core", "sequence-classification", checkpoint=tmp_path, strict=True).eval()
    assert model.head_spec.make_config(model.config.head_config).pooler_activation == activation
    assert not model.loading_report.fresh.get("head")
    ids = torch.randint(5, 90, (2, 8), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids, attention_mask=mask).logits, hf(input_ids=ids, attention_mask=mask).logits)


def test_the_layout_names_the_config_field_and_constants_stay_constants():
    spec = archit_core.get_host().head("sequence-classification").obj
    for model_type in CONFIG_ACTIVATION:
        layout, _ = infer_head_layout(generic_backbone(model_type), "sequence-classification", spec)
        assert callable(layout.config["pooler_activation"]), model_type  # read from each config, not a value
    electra, _ = infer_head_layout(generic_backbone("electra"), "sequence-classification", spec)
    assert electra.config["pooler_activation"] == "gelu"  # ELECTRA's head is gelu whatever its hidden_act


def test_a_probe_that_cannot_tell_candidates_apart_is_an_error_not_a_choice():
    from operator import attrgetter

    from archit_core import HeadSpec, HFLayout

    base = archit_core.get_host().head("sequence-classification").obj
    dense = {"pooling": "first", "pooler_dense": True}
    # two candidates that differ only in a field the family's config does not change: no probe tells them apart
    twins = HFLayout.variants("AutoModelForSequenceClassification", {**dense, "pooler_activation": attrgetter("hidden_act")},
                              {**dense, "pooler_activation": attrgetter("hidden_act"), "pooler_bias": True},
                              keys={"classifier.": "classifier."}, config_fields=("num_labels",))
    spec = HeadSpec(module=base.module, config_class=base.config_class, hf_layout=twins[0], hf_layouts=twins[1:])
    layout, why = infer_head_layout(generic_backbone("roformer"), "twins-for-test", spec)
    assert layout is None and "cannot tell the candidate layouts" in why


def test_a_task_head_left_fresh_is_reported_and_refused_when_strict(tmp_path):
    config = generic_backbone("funnel").make_config(tiny=True)
    torch.manual_seed(0)
    transformers.FunnelForSequenceClassification(config).save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = archit_core.build("funnel@archit-core", "sequence-classification", checkpoint=tmp_path)
    assert model.loading_report.fresh.get("head")
    assert any("head 'sequence-classification' is fresh" in n for n in model.loading_report.notes)
    with pytest.raises(archit_core.ArchitError, match="fresh"):
        archit_core.build("funnel@archit-core", "sequence-classification", checkpoint=tmp_path, strict=True)
