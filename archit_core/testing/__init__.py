"""Testing tools for archit and its plugin authors: fake distributions, a fresh plugin host, the contract suite.

The pytest plugin (``archit_core.testing.pytest_plugin``, loaded automatically) gives the fixtures ``archit_host`` and
``fake_distribution``. Importing this package imports neither torch nor transformers.
"""

from __future__ import annotations

from .contract import ContractError, PairReport, check_backbone_alone, check_head_alone, check_pair, counterparts
from .distributions import FakeDistribution, make_distribution
from .suite import backbone_contract, check_backbone, check_head, head_contract

__all__ = [
    "ContractError",
    "FakeDistribution",
    "PairReport",
    "backbone_contract",
    "check_backbone",
    "check_backbone_alone",
    "check_head",
    "check_head_alone",
    "check_pair",
    "counterparts",
    "head_contract",
    "make_distribution",
]
