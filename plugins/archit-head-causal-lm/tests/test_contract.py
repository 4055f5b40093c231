"""archit's plugin contract for the ``causal-lm`` head: alone, and on every installed backbone (encoders are
refused at build time: they are not causal), with the backbone's tying choice, tied and untied."""

from archit_core.testing import head_contract

HEAD = "causal-lm"

test_contract = head_contract(HEAD)
test_contract_tied = head_contract(HEAD, {"tie_word_embeddings": True})
test_contract_untied = head_contract(HEAD, {"tie_word_embeddings": False})
