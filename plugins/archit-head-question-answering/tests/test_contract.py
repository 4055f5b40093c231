"""archit's plugin contract for the ``question-answering`` head: alone, and on every installed backbone, with and
without the answerability classifier."""

from archit_core.testing import head_contract

HEAD = "question-answering"

test_contract = head_contract(HEAD)
test_contract_answerability = head_contract(HEAD, {"answerability": True, "answerability_weight": 0.5, "dropout": None})
