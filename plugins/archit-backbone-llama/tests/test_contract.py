"""archit's plugin contract for the ``llama`` backbone: alone, and with every installed head."""

from archit_core.testing import backbone_contract

test_contract = backbone_contract("llama")
