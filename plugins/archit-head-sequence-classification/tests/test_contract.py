"""archit's plugin contract for the ``sequence-classification`` head: alone, and on every installed backbone,
with each pooling and problem type (``pooling="pooler"`` must be refused where the backbone has no pooler)."""

from archit_core.testing import head_contract

HEAD = "sequence-classification"

test_contract = head_contract(HEAD)
test_contract_backbone_pooler = head_contract(HEAD, {"pooling": "pooler", "num_labels": 3})
test_contract_regression = head_contract(HEAD, {"num_labels": 1, "pooling": "mean"})
test_contract_multi_label = head_contract(
    HEAD, {"num_labels": 4, "problem_type": "multi_label_classification", "pooler_dense": True, "pooler_activation": "gelu"}
)
