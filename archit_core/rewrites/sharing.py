"""A second module tree over the same weights: the ``modify`` idea of two model variants on one set of parameters."""

from __future__ import annotations

import copy
from typing import Any


def shared_copy(module: Any) -> Any:
    """A new module tree like ``module`` whose parameters are new ``Parameter`` objects on the same storage.

    Every module is a new object (so replacing a child, switching train/eval mode or freezing a parameter in the
    copy leaves the original as it was), while every weight is shared: an in-place update through either tree is
    seen by both. Tied parameters stay tied, a module used in two places stays one module, buffers are shared,
    and Hugging Face configs are copied so the two models can diverge in their settings.
    """
    from torch import nn

    params: dict[int, Any] = {}
    modules: dict[int, Any] = {}
    configs: dict[int, Any] = {}
    memo: dict[int, Any] = {}  # one deepcopy memo: a config nested in another stays the same object as its copy

    def share(p: Any) -> Any:
        if p is None:
            return None
        if id(p) not in params:
            params[id(p)] = nn.Parameter(p.data, requires_grad=p.requires_grad)
        return params[id(p)]

    def clone(m: Any) -> Any:
        if id(m) in modules:
            return modules[id(m)]
        new = copy.copy(m)
        modules[id(m)] = new
        for key, value in vars(m).items():  # hook dicts, non-persistent buffer names: a container per module
            if key.startswith("_") and isinstance(value, (dict, set)):
                setattr(new, key, copy.copy(value))
        new._parameters = type(m._parameters)((k, share(p)) for k, p in m._parameters.items())
        new._modules = type(m._modules)((k, None if c is None else clone(c)) for k, c in m._modules.items())
        config = vars(m).get("config")
        if _is_hf_config(config):
            if id(config) not in configs:
                configs[id(config)] = copy.deepcopy(config, memo)
            object.__setattr__(new, "config", configs[id(config)])
        return new

    return clone(module)


def shares_storage(a: Any, b: Any) -> bool:
    """Whether tensors ``a`` and ``b`` are views of the same memory."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def _is_hf_config(value: Any) -> bool:
    if value is None:
        return False
    try:
        from transformers import PretrainedConfig
    except ImportError:  # a plain-torch setting without transformers
        return False
    return isinstance(value, PretrainedConfig)
