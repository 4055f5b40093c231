"""archit's plugin contract for the ``token-classification`` head: alone, and on every installed backbone."""

from archit_core.testing import head_contract

test_contract = head_contract("token-classification")
test_contract_many_labels = head_contract("token-classification", {"num_labels": 7, "dropout": 0.0})
