"""archit's plugin contract for the ``multiple-choice`` head: alone, and on every installed backbone, with each
pooling (``pooling="pooler"`` must be refused where the backbone has no pooler)."""

from archit_core.testing import head_contract

HEAD = "multiple-choice"

test_contract = head_contract(HEAD)
test_contract_backbone_pooler = head_contract(HEAD, {"pooling": "pooler"})
test_contract_dense_mean = head_contract(HEAD, {"pooling": "mean", "pooler_dense": True, "pooler_activation": "gelu"})
