"""archit's plugin contract for the ``masked-lm`` head: alone, and on every installed backbone, tied (the default)
and untied."""

from archit_core.testing import head_contract

HEAD = "masked-lm"

test_contract = head_contract(HEAD)
test_contract_untied = head_contract(HEAD, {"tie_word_embeddings": False, "activation": "relu"})
