"""The ``lora`` rewrite: a new model sharing the base weights, the input model unchanged, peft's arithmetic."""

from __future__ import annotations

import copy

import peft
import pytest
import torch
import transformers
from archit_rewrite_lora import merge, set_adapter, unmerge

import archit_core
from archit_core import ArchitError, ConfigError, shares_storage

TINY = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 64}


def tagger():
    torch.manual_seed(0)
    return archit_core.build("bert", "token-classification", backbone_config=TINY, head_config={"num_labels": 3}).eval()


def batch():
    g = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(3, 100, (2, 7), generator=g), "attention_mask": torch.tensor([[1] * 7, [1] * 5 + [0] * 2])}


def snapshot(model):
    """Everything about a model that a non-destructive rewrite must leave as it was."""
    return {
        "tree": [(n, type(m)) for n, m in model.named_modules()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "training": [m.training for m in model.modules()],
    }


def assert_unchanged(model, before):
    after = snapshot(model)
    assert after["tree"] == before["tree"] and after["grad"] == before["grad"] and after["training"] == before["training"]
    assert after["state"].keys() == before["state"].keys()
    for k, v in before["state"].items():
        torch.testing.assert_close(after["state"][k], v, rtol=0, atol=0)


def randomise_lora(model, seed=2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def test_rewrite_leaves_the_input_model_unchanged_and_shares_its_weights():
    model = tagger()
    before = snapshot(model)
    lora = archit_core.rewrite(model, "lora", r=4, alpha=8)
    randomise_lora(lora)
    lora.train()
    out = lora(**batch(), labels=torch.zeros(2, 7, dtype=torch.long))
    out.loss.backward()
    assert_unchanged(model, before)
    assert all(p.grad is None for p in model.parameters())

    old = dict(model.named_parameters())
    lora_paths = {n.replace(".base_layer", "") for n, _ in lora.named_parameters() if ".base_layer." in n}
    assert len(lora_paths) == 2 * 3 * 2  # query and value, weight and bias, three layers
    for name, p in lora.named_parameters():
        plain = name.replace(".base_layer", "")
        if "lora_" in name:
            assert plain not in old
        elif name.startswith("head."):  # trains in the new model: its own copy, so the input model cannot change
            assert not shares_storage(p, old[plain]), name
        else:
            assert shares_storage(p, old[plain]), name  # the very same memory, no copy
    with torch.no_grad():  # an in-place update through one model is seen by the other
        lora.backbone.embeddings.word_embeddings.weight[0, 0] = 123.0
    assert model.backbone.embeddings.word_embeddings.weight[0, 0] == 123.0


def test_only_the_adapters_and_the_head_train_by_default():
    model = tagger()
    lora = archit_core.rewrite(model, "lora")
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert {n for n in trainable if n.startswith("head.")} == {"head.classifier.weight", "head.classifier.bias"}
    assert all(p.requires_grad for p in model.parameters())
    assert not shares_storage(lora.head.classifier.weight, model.head.classifier.weight)
    with torch.no_grad():
        lora.head.classifier.weight.add_(1.0)
    assert not torch.equal(lora.head.classifier.weight, model.head.classifier.weight)
    frozen_head = archit_core.rewrite(model, "lora", trainable=[])
    assert all("lora_" in n for n, p in frozen_head.named_parameters() if p.requires_grad)


def test_a_fresh_adapter_changes_nothing_and_a_trained_one_does():
    model = tagger()
    lora = archit_core.rewrite(model, "lora")
    with torch.no_grad():
        base = model(**batch()).logits
        torch.testing.assert_close(lora(**batch()).logits, base)  # B starts at zero
        randomise_lora(lora)
        assert not torch.allclose(lora(**batch()).logits, base)
        torch.testing.assert_close(model(**batch()).logits, base)


def test_merge_and_unmerge_give_the_same_outputs_and_never_touch_the_shared_base():
    model = tagger()
    before = snapshot(model)
    lora = archit_core.rewrite(model, "lora", r=2, alpha=4, targets=["attention.query", "attention.value", "feed_forward.in"])
    randomise_lora(lora)
    with torch.no_grad():
        unmerged = lora(**batch()).logits
        merge(lora)
        merged = lora(**batch()).logits
        unmerge(lora)
        again = lora(**batch()).logits
    torch.testing.assert_close(merged, unmerged, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, unmerged, rtol=0, atol=0)
    assert_unchanged(model, before)


def test_adapters_save_alone_and_load_onto_a_fresh_rewrite(tmp_path):
    model = tagger()
    lora = archit_core.rewrite(model, "lora", r=4, targets=["attention.query[1:]", "attention.value"])
    randomise_lora(lora)
    folder = archit_core.save_rewrites(lora, tmp_path / "adapter")
    from safetensors.torch import load_file

    saved = load_file(str(folder / "archit_rewrites.safetensors"))
    # the adapter weights (A and B for query in layers 1-2, value in layers 0-2) and the head's own copy, no base weight
    assert {k for k in saved if "lora_" not in k} == {"head.classifier.weight", "head.classifier.bias"}
    assert len(saved) == 2 * (2 + 3) + 2
    reloaded = archit_core.load_rewrites(model, folder)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch()).logits, lora(**batch()).logits)
    assert archit_core.rewrites_of(reloaded)[0]["paths"] == archit_core.rewrites_of(lora)[0]["paths"]

    other = archit_core.build("bert", "token-classification", backbone_config={**TINY, "num_hidden_layers": 1})
    with pytest.raises(ConfigError, match="matches no module"):
        archit_core.load_rewrites(other, folder)


def test_several_named_adapters_on_one_base():
    model = tagger()
    a = archit_core.rewrite(model, "lora", adapter="a")
    randomise_lora(a, seed=3)
    both = archit_core.rewrite(a, "lora", adapter="b")
    randomise_lora(both, seed=4)  # re-randomises a's weights too: they are shared
    with torch.no_grad():
        set_adapter(both, "a")
        only_a = both(**batch()).logits
        torch.testing.assert_close(only_a, a(**batch()).logits)
        set_adapter(both, "b")
        only_b = both(**batch()).logits
        set_adapter(both)
        torch.testing.assert_close(both(**batch()).logits, model(**batch()).logits)
    assert not torch.allclose(only_a, only_b)
    base = model.backbone.encoder.layer[0].attention.self.query.weight
    assert shares_storage(both.backbone.encoder.layer[0].attention.self.query.base_layer.weight, base)
    assert list(a.backbone.encoder.layer[0].attention.self.query.lora_A) == ["a"]  # a is unchanged by adding b
    with pytest.raises(ValueError, match="no adapter 'c'"):
        set_adapter(both, "c")


@pytest.mark.parametrize("family", ["Bert", "Roberta"])
def test_same_outputs_as_peft_with_the_same_lora_weights(family):
    torch.manual_seed(0)
    config = getattr(transformers, f"{family}Config")(**TINY, num_labels=3)
    hf = getattr(transformers, f"{family}ForSequenceClassification")(config).eval()
    reference = peft.get_peft_model(copy.deepcopy(hf), peft.LoraConfig(r=4, lora_alpha=16, target_modules=["query", "value"])).eval()
    randomise_lora(reference)

    before = snapshot(hf)
    ours = archit_core.rewrite(hf, "lora", r=4, alpha=16)  # a plain Hugging Face model: roles from its family's plugin
    assert_unchanged(hf, before)
    theirs = {k.removeprefix("base_model.model."): v for k, v in reference.state_dict().items() if "lora_" in k}
    mine = {k: v for k, v in ours.state_dict().items() if "lora_" in k}
    assert mine.keys() == theirs.keys()  # peft's own key names
    ours.load_state_dict(theirs, strict=False)
    ids = batch()
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(**ids).logits, reference(**ids).logits)
    trainable = sorted(n for n, p in ours.named_parameters() if p.requires_grad)
    assert trainable == sorted(n for n in mine)


def test_targets_errors_say_what_to_do():
    model = tagger()
    with pytest.raises(ConfigError, match="'attention.qeury' matches no module.*declared roles: .*attention.query"):
        archit_core.rewrite(model, "lora", targets=["attention.qeury"])
    with pytest.raises(ArchitError, match="LoRA applies to nn.Linear layers, not BertEmbeddings"):
        archit_core.rewrite(model, "lora", targets=["embeddings"])
    with pytest.raises(ConfigError, match="rewrite 'lora'.r"):
        archit_core.rewrite(model, "lora", r=0)
    with pytest.raises(archit_core.UnknownNameError, match="lora"):
        archit_core.rewrite(model, "lorra")
    paths = archit_core.rewrites_of(archit_core.rewrite(model, "lora", targets=["backbone.encoder.layer.2.output.dense", "attention.key[-1]"]))[0]["paths"]
    assert paths == ["backbone.encoder.layer.2.output.dense", "backbone.encoder.layer.2.attention.self.key"]


def test_modes_trainable_prefixes_and_saved_models(tmp_path):
    model = tagger()  # in eval mode
    lora = archit_core.rewrite(model, "lora", dropout=0.5)
    assert not any(m.training for m in lora.modules())  # the adapters' dropout is off in an eval model
    randomise_lora(lora)
    with torch.no_grad():
        torch.testing.assert_close(lora(**batch()).logits, lora(**batch()).logits, rtol=0, atol=0)

    as_string = archit_core.rewrite(model, "lora", trainable="head")
    assert {n for n, p in as_string.named_parameters() if p.requires_grad and "lora_" not in n} == {"head.classifier.weight", "head.classifier.bias"}
    with pytest.raises(ConfigError, match="trainable prefix 'haed' matches no parameter"):
        archit_core.rewrite(model, "lora", trainable=["haed"])

    frozen_head = archit_core.rewrite(model, "lora", trainable=[])
    randomise_lora(frozen_head)
    folder = archit_core.save_rewrites(frozen_head, tmp_path / "adapter")
    again = archit_core.load_rewrites(model, folder)
    with torch.no_grad():
        torch.testing.assert_close(again(**batch()).logits, frozen_head(**batch()).logits)

    lora.save_pretrained(tmp_path / "whole")
    with pytest.raises(archit_core.CheckpointError, match="rewritten with 'lora'.*save_rewrites.*load_rewrites"):
        archit_core.load(tmp_path / "whole")
