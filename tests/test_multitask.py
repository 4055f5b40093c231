"""Multi-task models: one backbone, named heads, a weighted loss; one checkpoint; adding and dropping heads."""

from __future__ import annotations

import pytest
import torch
import transformers

import archit_core
from archit_core.multitask.tasks import add_head, drop_head

pytest.importorskip("archit_backbone_bert")
pytest.importorskip("archit_head_question_answering")

TASKS = {
    "ner": ("token-classification", {"num_labels": 5}),
    "cls": {"head": "sequence-classification", "head_config": {"num_labels": 3, "pooling": "pooler"}},
    "qa": "question-answering",
}
WEIGHTS = {"ner": 1.0, "cls": 0.5, "qa": 2.0}
GEN = torch.Generator().manual_seed(4)
IDS = torch.randint(5, 1000, (3, 8), generator=GEN)
MASK = torch.tensor([[1] * 8, [1] * 6 + [0] * 2, [1] * 8])
LABELS = {
    "ner": torch.randint(0, 5, (3, 8), generator=GEN),
    "cls": torch.tensor([0, 2, 1]),
    "qa": torch.tensor([[1, 2], [3, 5], [0, 0]]),
}


def multitask(**options):
    torch.manual_seed(0)
    return archit_core.build("bert", TASKS, tiny=True, loss_weights=WEIGHTS, **options).eval()


def single(model, task: str):
    """The single-head model of ``task`` holding ``model``'s backbone and that task's head weights."""
    entry = model.config.heads[task]
    one = archit_core.build("bert", entry["head"], backbone_config=model.config.backbone_config, head_config=entry["head_config"])
    prefix = f"head.heads.{task}."
    own = one.state_dict()  # a backbone pooler exists only where a head pools with it
    state = {k: v for k, v in model.state_dict().items() if k.startswith("backbone.") and k in own}
    state |= {"head." + k[len(prefix):]: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    one.load_state_dict(state, strict=True)
    return one.eval()


def test_each_task_computes_what_its_single_head_model_computes() -> None:
    model = multitask()
    assert model.config.head is None and list(model.config.heads) == ["cls", "ner", "qa"]
    with torch.no_grad():
        out = model(input_ids=IDS, attention_mask=MASK, labels=LABELS)
        singles = {t: single(model, t)(input_ids=IDS, attention_mask=MASK, labels=LABELS[t]) for t in TASKS}
    torch.testing.assert_close(out.logits["ner"], singles["ner"].logits)
    torch.testing.assert_close(out.logits["cls"], singles["cls"].logits)
    torch.testing.assert_close(out.logits["qa"]["start_logits"], singles["qa"].start_logits)
    torch.testing.assert_close(out.logits["qa"]["end_logits"], singles["qa"].end_logits)
    for task in TASKS:
        torch.testing.assert_close(out.losses[task], singles[task].loss)
    torch.testing.assert_close(out.loss, sum(WEIGHTS[t] * singles[t].loss for t in TASKS))


def test_labels_by_keyword_and_partial_labels() -> None:
    model = multitask()
    with torch.no_grad():
        by_dict = model(input_ids=IDS, labels=LABELS)
        by_keyword = model(input_ids=IDS, ner_labels=LABELS["ner"], cls_labels=LABELS["cls"], qa_labels=LABELS["qa"])
        only_cls = model(input_ids=IDS, cls_labels=LABELS["cls"])
        none = model(input_ids=IDS)
    torch.testing.assert_close(by_keyword.loss, by_dict.loss)
    assert set(only_cls.losses) == {"cls"}
    torch.testing.assert_close(only_cls.loss, 0.5 * by_dict.losses["cls"])
    assert none.loss is None and none.losses is None
    torch.testing.assert_close(none.logits["ner"], by_dict.logits["ner"])


def test_training_reaches_every_head_and_the_backbone() -> None:
    model = multitask().train()
    model(input_ids=IDS, attention_mask=MASK, labels=LABELS).loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad


def test_saves_and_loads_as_one_checkpoint(tmp_path) -> None:
    model = multitask()
    model.save_pretrained(tmp_path)
    loaded = archit_core.load(tmp_path)
    base, info = transformers.AutoModel.from_pretrained(tmp_path, output_loading_info=True)  # the backbone
    assert not any(info.values()), info
    assert type(base) is type(model.backbone) and type(loaded).__name__ == "ArchitForMultiTask"
    torch.testing.assert_close(base.state_dict(), model.backbone.state_dict())
    with torch.no_grad():
        expected = model(input_ids=IDS, labels=LABELS)
        for again in (loaded.eval(),):
            got = again(input_ids=IDS, labels=LABELS)
            torch.testing.assert_close(got.loss, expected.loss)
            torch.testing.assert_close(got.logits, expected.logits)
    assert loaded.config.heads == model.config.heads
    assert loaded.config.plugins["heads"]["qa"]["distribution"] == "archit-head-question-answering"


def test_add_and_drop_heads_share_the_other_weights(tmp_path) -> None:
    model = multitask()
    model.save_pretrained(tmp_path)
    saved = archit_core.load(tmp_path)
    bigger = add_head(saved, "tags", "token-classification", {"num_labels": 2}, loss_weight=0.3)
    assert list(bigger.config.heads) == ["cls", "ner", "qa", "tags"] and bigger.config.heads["tags"]["loss_weight"] == 0.3
    assert list(saved.config.heads) == ["cls", "ner", "qa"] and "tags" not in saved.head.heads  # unchanged
    # own modules and Parameters (the input model keeps its modes, dtype and flags) on the very same storage
    assert bigger.backbone is not saved.backbone and bigger.head.heads["ner"] is not saved.head.heads["ner"]
    theirs = saved.state_dict(keep_vars=True)
    assert all(archit_core.shares_storage(v, theirs[k]) for k, v in bigger.state_dict(keep_vars=True).items() if k in theirs)
    mode = saved.training
    bigger.train(not mode).to(torch.float64)
    assert saved.training == mode and saved.dtype == torch.float32
    bigger.train(mode).to(torch.float32)
    assert not bigger.backbone.embeddings.word_embeddings.weight.is_meta
    assert bigger.head.heads["tags"].classifier.weight.abs().sum() > 0  # initialised, not left empty
    with torch.no_grad():
        before, after = saved(input_ids=IDS), bigger(input_ids=IDS)
    torch.testing.assert_close(after.logits["cls"], before.logits["cls"])
    assert after.logits["tags"].shape == (3, 8, 2)

    smaller = drop_head(bigger, "cls")
    assert list(smaller.config.heads) == ["ner", "qa", "tags"] and "cls" not in dict(smaller.named_modules())["head.heads"]
    # Without the pooling task the backbone has no pooler (as a fresh build would); every other tensor is shared.
    shared = bigger.state_dict(keep_vars=True)
    assert "backbone.pooler.dense.weight" not in smaller.state_dict()
    assert all(archit_core.shares_storage(value, shared[key]) for key, value in smaller.state_dict(keep_vars=True).items())
    smaller.save_pretrained(tmp_path / "smaller")
    again = archit_core.load(tmp_path / "smaller")  # strict
    assert sorted(again.state_dict()) == sorted(smaller.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(input_ids=IDS).logits, smaller.eval()(input_ids=IDS).logits)


def test_adding_a_head_that_pools_with_the_backbone_pooler_builds_one() -> None:
    torch.manual_seed(0)
    model = archit_core.build("bert", {"ner": "token-classification"}, tiny=True)
    assert "backbone.pooler.dense.weight" not in model.state_dict()
    bigger = add_head(model, "cls", "sequence-classification", {"pooling": "pooler", "num_labels": 3})
    pooler = bigger.backbone.pooler.dense.weight
    assert not pooler.is_meta and pooler.std() > 0  # initialised as a fresh build would
    shared = model.state_dict(keep_vars=True)
    assert all(archit_core.shares_storage(v, shared[k]) for k, v in bigger.state_dict(keep_vars=True).items() if k in shared)
    bigger(input_ids=IDS, cls_labels=LABELS["cls"]).loss.backward()
    assert all(p.grad is None for p in model.parameters())  # gradients land on the new model's own Parameters


def test_add_and_drop_refusals() -> None:
    model = multitask()
    with pytest.raises(archit_core.ConfigError, match="already has a task 'ner'"):
        add_head(model, "ner", "token-classification")
    with pytest.raises(archit_core.ConfigError, match="no task 'pos'"):
        drop_head(model, "pos")
    one = drop_head(drop_head(model, "ner"), "cls")
    with pytest.raises(archit_core.ConfigError, match="only task"):
        drop_head(one, "qa")
    with pytest.raises(archit_core.UnknownNameError):
        add_head(model, "x", "no-such-head")
    plain = archit_core.build("bert", "token-classification", tiny=True)
    with pytest.raises(archit_core.ArchitError, match="single head"):
        add_head(plain, "x", "token-classification")


def test_backbone_from_a_hugging_face_checkpoint(tmp_path) -> None:
    config = archit_core.get_host().backbone("bert").obj.make_config(tiny=True)
    torch.manual_seed(1)
    hf = transformers.BertModel(config, add_pooling_layer=True)
    hf.save_pretrained(tmp_path / "hf")
    model = archit_core.build("bert", TASKS, checkpoint=tmp_path / "hf", strict=True)
    assert not model.loading_report.fresh.get("backbone") and model.loading_report.fresh["head"]
    torch.testing.assert_close(model.backbone.embeddings.word_embeddings.weight, hf.embeddings.word_embeddings.weight)
    # An archit multi-task checkpoint with the same tasks loads whole; with other tasks, its backbone only.
    model.save_pretrained(tmp_path / "mt")
    same = archit_core.build("bert", TASKS, checkpoint=tmp_path / "mt")
    assert same.loading_report.complete
    other = archit_core.build("bert", {"ner": "token-classification"}, checkpoint=tmp_path / "mt")
    assert other.loading_report.ignored and not other.loading_report.fresh.get("backbone")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m(input_ids=IDS, labels={"pos": LABELS["ner"]}), archit_core.ArchitError, "unknown task.*'pos'.*'cls', 'ner', 'qa'"),
        (lambda m: m(input_ids=IDS, labels=LABELS["cls"]), archit_core.ArchitError, "labels as a dict"),
        (lambda m: m(input_ids=IDS, pos_labels=LABELS["ner"]), archit_core.ArchitError, "'pos_labels' \\(did you mean 'cls_labels'\\?\\)"),
        (lambda m: m(input_ids=IDS, labels={"cls": LABELS["cls"]}, cls_labels=LABELS["cls"]), archit_core.ArchitError, "given twice"),
    ],
)
def test_bad_labels_are_refused(call, error, message: str) -> None:
    with pytest.raises(error, match=message):
        call(multitask())


@pytest.mark.parametrize(
    ("heads", "options", "error", "message"),
    [
        ({"bad.name": "token-classification"}, {}, archit_core.ConfigError, "task name 'bad.name'"),
        ({"labels": "token-classification"}, {}, archit_core.ConfigError, "task name 'labels'"),
        ({}, {}, archit_core.ConfigError, "non-empty"),
        ({"ner": 3}, {}, archit_core.ConfigError, r"heads\['ner'\]"),
        ({"ner": "token-classification"}, {"loss_weights": {"pos": 1.0}}, archit_core.ConfigError, "unknown task.*'pos'"),
        ({"ner": "token-classification"}, {"loss_weights": {"ner": -1.0}}, archit_core.ConfigError, "loss_weights"),
        ({"ner": ("token-classification", {"num_labels": 0})}, {}, archit_core.ConfigError, r"heads\['ner'\].head_config.num_labels"),
        ({"ner": "token-classification"}, {"head_config": {"num_labels": 2}}, archit_core.ConfigError, "each task's head config"),
        ({"ner": "token-classification", "mc": "multiple-choice"}, {}, archit_core.ConfigError, "reshape the model inputs"),
    ],
)
def test_bad_builds_are_refused(heads, options, error, message: str) -> None:
    pytest.importorskip("archit_head_multiple_choice")
    with pytest.raises(error, match=message):
        archit_core.build("bert", heads, tiny=True, **options)


def test_incompatible_task_is_refused_naming_it() -> None:
    pytest.importorskip("archit_backbone_deberta")
    with pytest.raises(archit_core.IncompatibleHeadError, match="task 'cls'.*pooler"):
        archit_core.build("deberta", {"ner": "token-classification", "cls": ("sequence-classification", {"pooling": "pooler"})}, tiny=True)


def test_loss_weights_only_for_multitask() -> None:
    with pytest.raises(archit_core.ConfigError, match="multi-task"):
        archit_core.build("bert", "token-classification", tiny=True, loss_weights={"a": 1.0})


def test_two_multiple_choice_heads_share_one_reshaped_pass() -> None:
    pytest.importorskip("archit_head_multiple_choice")
    torch.manual_seed(0)
    model = archit_core.build("bert", {"a": "multiple-choice", "b": ("multiple-choice", {"pooling": "mean"})}, tiny=True).eval()
    ids = torch.randint(5, 1000, (2, 3, 6), generator=torch.Generator().manual_seed(0))
    out = model(input_ids=ids, a_labels=torch.tensor([0, 2]), b_labels=torch.tensor([1, 1]))
    assert out.logits["a"].shape == out.logits["b"].shape == (2, 3) and set(out.losses) == {"a", "b"}


def test_a_rewritten_model_is_refused_rather_than_losing_its_rewrite() -> None:
    lora = archit_core.rewrite(multitask(), "lora")
    with pytest.raises(archit_core.ArchitError, match=r"rewritten \(lora\); add or drop heads on the model before rewriting"):
        add_head(lora, "tags", "token-classification")


def test_a_task_heads_own_init_runs_when_built_and_when_added() -> None:
    zeros = {"num_labels": 2, "hidden": [8], "init": "zeros"}
    model = archit_core.build("bert", {"t": ("mlp", zeros)}, tiny=True)
    assert all(torch.count_nonzero(p) == 0 for p in model.head.heads["t"].parameters())
    bigger = add_head(model, "u", "mlp", zeros)
    assert all(torch.count_nonzero(p) == 0 for p in bigger.head.heads["u"].parameters())
