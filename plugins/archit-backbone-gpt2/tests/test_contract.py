"""archit's plugin contract for the ``gpt2`` backbone: alone, and with every installed head."""

from archit_core.testing import backbone_contract

test_contract = backbone_contract("gpt2")
