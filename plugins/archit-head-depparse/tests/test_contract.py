"""archit's plugin contract for the ``dependency-parsing`` head: alone, and on every installed backbone."""

from archit_core.testing import head_contract

test_contract = head_contract("dependency-parsing")
test_contract_layer_mix = head_contract(
    "dependency-parsing", {"num_relations": 3, "pooling": "mean", "layer_mix": True, "arc_size": 16, "relation_size": 8}
)
test_contract_last_subword = head_contract("dependency-parsing", {"pooling": "last", "dropout": 0.0})
