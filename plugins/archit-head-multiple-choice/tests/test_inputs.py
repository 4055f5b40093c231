"""Multiple-choice inputs: shapes, labels, inputs_embeds, and clear errors for bad input."""

from __future__ import annotations

import pytest
import torch

import archit_core

HEAD = "multiple-choice"


def model():
    torch.manual_seed(0)
    return archit_core.build("bert", HEAD, tiny=True).eval()


IDS = torch.randint(5, 1000, (2, 3, 6), generator=torch.Generator().manual_seed(3))


def test_each_choice_is_scored_as_its_own_sequence() -> None:
    m = model()
    with torch.no_grad():
        together = m(input_ids=IDS).logits
        one_by_one = torch.stack([m(input_ids=IDS[:, c:c + 1]).logits[:, 0] for c in range(3)], dim=1)
    assert together.shape == (2, 3)
    torch.testing.assert_close(together, one_by_one)


def test_inputs_embeds_take_the_same_path() -> None:
    m = model()
    with torch.no_grad():
        embeds = m.backbone.get_input_embeddings()(IDS)
        torch.testing.assert_close(m(inputs_embeds=embeds).logits, m(input_ids=IDS).logits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_ids": IDS[:, 0]}, r"input_ids must have shape \(batch, choices, length\), got \(2, 6\)"),
        ({"input_ids": IDS, "attention_mask": torch.ones(2, 6)}, r"attention_mask has shape \(2, 6\)"),
        ({"input_ids": IDS, "token_type_ids": torch.zeros(2, 4, 6, dtype=torch.long)}, "token_type_ids"),
        ({"input_ids": IDS, "labels": torch.tensor([[0, 1, 0], [1, 0, 0]])}, r"labels must be an integer tensor of shape \(2,\)"),
        ({"input_ids": IDS, "labels": torch.tensor([0.0, 1.0])}, "integer"),
    ],
)
def test_bad_input_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(archit_core.ArchitError, match=message):
        model()(**kwargs)


def test_pooler_pooling_is_refused_on_a_backbone_without_pooler() -> None:
    pytest.importorskip("archit_backbone_deberta")
    with pytest.raises(archit_core.IncompatibleHeadError, match="pooler"):
        archit_core.build("deberta", HEAD, tiny=True, head_config={"pooling": "pooler"})


@pytest.mark.parametrize(("data", "field"), [({"pooling": "cls"}, "pooling"), ({"pooling": "pooler", "pooler_dense": True}, "pooler_dense"),
                                             ({"dropout": 2.0}, "dropout"), ({"num_labels": 4}, "num_labels")])
def test_invalid_configs_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
        archit_core.get_host().head(HEAD).obj.make_config(data)
