"""The contract suite as a whole: a plugin's backbone or head checked alone and with every installed counterpart
(:func:`check_backbone`, :func:`check_head`), and the same as one parametrised pytest test (:func:`backbone_contract`,
:func:`head_contract`). The checks themselves are in :mod:`archit_core.testing.contract`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .contract import ContractError, PairReport, check_backbone_alone, check_head_alone, check_pair, counterparts


def _backbones_for(head: str, backbones: Iterable[str] | None, host: Any) -> list[str]:
    """``backbones``, or every installed backbone; a :class:`ContractError` when there is none to check ``head`` with."""
    names = list(backbones) if backbones is not None else counterparts(head=head, host=host)
    if not names:
        raise ContractError(f"head {head!r}: no backbone is installed to check it with; install one (e.g. archit-backbone-roberta)")
    return names


def check_backbone(name: str, *, host: Any = None, heads: Iterable[str] | None = None, **options: Any) -> list[PairReport]:
    """:func:`check_backbone_alone`, then :func:`check_pair` with every installed head (or ``heads``)."""
    check_backbone_alone(name, host=host)
    names = list(heads) if heads is not None else counterparts(backbone=name, host=host)
    return [check_pair(name, head, host=host, **options) for head in names]


def check_head(name: str, head_config: Mapping[str, Any] | Any = None, *, host: Any = None,
               backbones: Iterable[str] | None = None, **options: Any) -> list[PairReport]:
    """:func:`check_head_alone`, then :func:`check_pair` with every installed backbone (or ``backbones``)."""
    check_head_alone(name, head_config, host=host)
    names = _backbones_for(name, backbones, host)
    return [check_pair(backbone, name, head_config, host=host, **options) for backbone in names]


ALONE = "(alone)"


def _contract_test(kind: str, name: str, others: list[str], run_pair: Callable[[str, Path], Any],
                   run_alone: Callable[[], Any]) -> Callable[..., None]:
    import pytest

    def test_contract(counterpart: str, tmp_path: Path) -> None:
        if counterpart == ALONE:
            run_alone()
        else:
            run_pair(counterpart, tmp_path)

    test_contract.__doc__ = f"archit's plugin contract for the {kind} {name!r}, alone and with each installed counterpart."
    return pytest.mark.parametrize("counterpart", [ALONE, *others])(test_contract)


def backbone_contract(name: str, *, host: Any = None, heads: Iterable[str] | None = None, **options: Any) -> Callable[..., None]:
    """A pytest test function, parametrised over the backbone alone and each installed head (or ``heads``):
    assign it to a ``test_*`` name in a test module. ``options`` go to :func:`check_pair`."""
    others = list(heads) if heads is not None else counterparts(backbone=name, host=host)
    return _contract_test(
        "backbone", name, others,
        lambda head, tmp: check_pair(name, head, host=host, tmp_path=tmp, **options),
        lambda: check_backbone_alone(name, host=host),
    )


def head_contract(name: str, head_config: Mapping[str, Any] | Any = None, *, host: Any = None,
                  backbones: Iterable[str] | None = None, **options: Any) -> Callable[..., None]:
    """A pytest test function, parametrised over the head alone and each installed backbone (or ``backbones``)."""
    others = _backbones_for(name, backbones, host)
    return _contract_test(
        "head", name, others,
        lambda backbone, tmp: check_pair(backbone, name, head_config, host=host, tmp_path=tmp, **options),
        lambda: check_head_alone(name, head_config, host=host),
    )
