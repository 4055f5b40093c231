"""ModelWithHead.forward: hidden states on request, tuples with return_dict=False, Trainer-only kwargs dropped."""

from __future__ import annotations

import pytest
import torch

import archit_core


@pytest.fixture
def tagger(real_host):
    torch.manual_seed(0)
    return archit_core.build("roberta", "token-classification", head_config={"num_labels": 3}, tiny=True).eval()


@pytest.fixture
def labels():
    return torch.tensor([[-100, 0, 1, 2, 1, 0, 2], [-100, 2, 2, 1, 0, -100, -100]])


def test_hidden_states_only_on_request(tagger, batch):
    assert tagger(**batch).hidden_states is None
    out = tagger(**batch, output_hidden_states=True)
    assert len(out.hidden_states) == tagger.config.backbone_config.num_hidden_layers + 1
    assert all(s.shape == (2, 7, 32) for s in out.hidden_states)
    direct = tagger.backbone(**batch, output_hidden_states=True)
    torch.testing.assert_close(out.hidden_states, direct.hidden_states)
    torch.testing.assert_close(out.hidden_states[-1], direct.last_hidden_state)


def test_output_hidden_states_can_be_the_config_default(real_host, batch):
    model = archit_core.build("roberta", "token-classification", tiny=True, output_hidden_states=True).eval()
    assert len(model(**batch).hidden_states) == 3
    assert model(**batch, output_hidden_states=False).hidden_states is None


def test_return_dict_false_gives_the_same_values_as_a_tuple(tagger, batch, labels):
    as_dict = tagger(**batch, labels=labels, output_hidden_states=True)
    as_tuple = tagger(**batch, labels=labels, output_hidden_states=True, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 3
    torch.testing.assert_close(as_tuple[0], as_dict.loss)
    torch.testing.assert_close(as_tuple[1], as_dict.logits)
    torch.testing.assert_close(as_tuple[2], as_dict.hidden_states)
    (logits,) = tagger(**batch, return_dict=False)  # no loss without labels, no hidden states unless asked
    torch.testing.assert_close(logits, as_dict.logits)


def test_the_loss_is_the_heads_own(tagger, batch, labels):
    out = tagger(**batch, labels=labels)
    expected = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 3), labels.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)


def test_num_items_in_batch_never_reaches_the_backbone(toy_host, batch):
    model = archit_core.build("toy", "pooled", head_config={"pooling": "mean"}).eval()
    with pytest.raises(archit_core.ArchitError, match="unknown keyword argument.*'bogus'"):
        model(**batch, bogus=1)  # a keyword neither the head nor the toy backbone takes is refused...
    labels = torch.tensor([0, 1])
    with_hint = model(**batch, labels=labels, num_items_in_batch=torch.tensor(2))  # ...yet this one is accepted
    torch.testing.assert_close(with_hint.loss, model(**batch, labels=labels).loss)


def test_num_items_in_batch_changes_nothing_on_a_transformers_backbone(tagger, batch, labels):
    torch.testing.assert_close(
        tagger(**batch, labels=labels, num_items_in_batch=11).loss, tagger(**batch, labels=labels).loss
    )


def test_attention_mask_reaches_the_backbone(tagger, batch):
    unmasked = tagger(input_ids=batch["input_ids"]).logits
    masked = tagger(**batch).logits
    torch.testing.assert_close(masked[0], unmasked[0])  # the first sequence has no padding
    assert not torch.allclose(masked[1, :5], unmasked[1, :5])


# --- forward inputs are checked from names and shapes -------------------------------------------------------------


def test_a_misspelt_keyword_is_an_error_with_a_did_you_mean(tagger, batch):
    with pytest.raises(archit_core.ArchitError, match=r"unknown keyword argument\(s\) 'attension_mask' \(did you mean 'attention_mask'\?\)"):
        tagger(input_ids=batch["input_ids"], attension_mask=batch["attention_mask"])


@pytest.mark.parametrize(("name", "value", "message"), [
    ("attention_mask", torch.ones(2, 5, dtype=torch.long), r"attention_mask has shape \(2, 5\) but input_ids has \(2, 7\)"),
    ("token_type_ids", torch.zeros(2, 8, dtype=torch.long), r"token_type_ids has shape \(2, 8\) but input_ids has \(2, 7\)"),
    ("labels", torch.zeros(3, 7, dtype=torch.long), r"labels has shape \(3, 7\) but the batch has 2 examples.*shape \(2, 7\)"),
])
def test_inputs_of_the_wrong_shape_are_errors_naming_them(tagger, batch, name, value, message):
    with pytest.raises(archit_core.ArchitError, match=message):
        tagger(input_ids=batch["input_ids"], **{name: value})


def test_inputs_embeds_are_checked_without_their_hidden_dimension(tagger, batch):
    embeds = tagger.backbone.get_input_embeddings()(batch["input_ids"])
    torch.testing.assert_close(tagger(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits, tagger(**batch).logits)
    with pytest.raises(archit_core.ArchitError, match=r"attention_mask has shape \(2, 6\) but inputs_embeds"):
        tagger(inputs_embeds=embeds, attention_mask=batch["attention_mask"][:, :6])


def test_a_four_dimensional_mask_and_the_backbones_own_keywords_pass(tagger, batch):
    out = tagger(**batch, output_attentions=True)  # a transformers keyword the backbone takes through **kwargs
    assert out.logits.shape == (2, 7, 3)
    mask = batch["attention_mask"][:, None, None, :].expand(2, 1, 7, 7).bool()
    assert tagger(input_ids=batch["input_ids"], attention_mask=mask).logits.shape == (2, 7, 3)


def test_the_checks_read_no_tensor_values(tagger, batch, monkeypatch):
    """Shapes only: no .item(), .tolist() or bool() of a tensor, which would wait on an accelerator."""
    from archit_core.model.modeling import _check_shapes

    for method in ("item", "tolist", "__bool__", "any", "all", "max", "min"):
        monkeypatch.setattr(torch.Tensor, method, lambda *a, _m=method, **k: pytest.fail(f"the input checks read a value ({_m})"))
    labels = torch.zeros(2, 7, dtype=torch.long)
    _check_shapes(batch["input_ids"], None, batch["attention_mask"], None, labels, {})
