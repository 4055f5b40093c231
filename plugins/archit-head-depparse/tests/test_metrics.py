"""UAS and LAS on hand-counted examples."""

from __future__ import annotations

import pytest
import torch
from archit_head_depparse.metrics import attachment_counts, attachment_scores

GOLD = torch.tensor([[2, 0, 2, -100], [0, 1, 1, 1]])
GOLD_RELS = torch.tensor([[1, 0, 3, -100], [0, 2, 2, 2]])


def test_hand_counted_scores() -> None:
    heads = torch.tensor([[2, 0, 1, -1], [0, 1, 1, 2]])  # 5 of 7 scored heads right
    rels = torch.tensor([[1, 1, 3, -1], [0, 2, 0, 2]])  # right head and relation: (0,0), (1,0), (1,1) -> 3
    assert attachment_scores(heads, GOLD, rels, GOLD_RELS) == {"uas": 5 / 7, "las": 3 / 7}
    assert attachment_scores(heads, GOLD) == {"uas": 5 / 7}
    no_punct = torch.tensor([[1, 1, 0, 1], [1, 1, 1, 1]], dtype=torch.bool)  # leave out word 3 of example 0
    assert attachment_scores(heads, GOLD, rels, GOLD_RELS, mask=no_punct) == {"uas": 5 / 6, "las": 3 / 6}
    counts = attachment_counts(heads[:, :2], GOLD)  # narrower predictions: missing words count as wrong
    assert {k: int(v) for k, v in counts.items()} == {"words": 7, "heads": 4, "labelled": 4}
    assert attachment_scores(heads, torch.full_like(GOLD, -100)) == {"uas": 0.0}


def test_bad_metric_input() -> None:
    with pytest.raises(ValueError, match="must both be \\(batch, words\\)"):
        attachment_scores(torch.zeros(3, dtype=torch.long), GOLD)
    with pytest.raises(ValueError, match="give both relations and gold_relations"):
        attachment_scores(GOLD, GOLD, GOLD_RELS)
    with pytest.raises(ValueError, match="heads has 5 words with a head"):
        attachment_scores(torch.zeros(2, 5, dtype=torch.long), GOLD)
