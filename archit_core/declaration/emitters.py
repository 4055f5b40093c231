"""Constructor calls for modules: safe literals, built-in emitters for ``torch.nn`` natives, and checked signature
inference for other classes.

An emitter reads a module's public attributes and returns the positional and keyword argument *values* that
rebuild it; :func:`literal` turns such values into code only when they are plain numbers, booleans, ``None``,
strings or tuples/lists of them (never ``repr()`` of an arbitrary object). Every call found here is checked by
building it on the meta device and comparing the result with the module (:func:`check_call`).
"""

from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .diff import structure_difference

#: A constructor call as values: ``(class, positional args, keyword args)``.
Call = tuple[type, tuple[Any, ...], dict[str, Any]]

_SCALARS = (type(None), bool, int, str)


def is_literal(value: Any) -> bool:
    """Whether :func:`literal` can write ``value``: exactly ``None``/bool/int/float/str, or a tuple/list of them."""
    kind = type(value)
    if kind in _SCALARS or kind is float:
        return True
    if kind in (tuple, list):
        return all(is_literal(v) for v in value)
    return False


def literal(value: Any) -> ast.expr:
    """The expression of a plain value; raises ``TypeError`` for anything else (subclasses of int or str included,
    since their ``repr`` is theirs to choose)."""
    kind = type(value)
    if kind in _SCALARS:
        return ast.Constant(value)
    if kind is float:
        if math.isfinite(value):
            return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-value))
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return ast.Call(ast.Name("float", ast.Load()), [ast.Constant(text)], [])
    if kind is int and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    if kind is tuple:
        return ast.Tuple([literal(v) for v in value], ast.Load())
    if kind is list:
        return ast.List([literal(v) for v in value], ast.Load())
    raise TypeError(f"{kind.__name__} values are not written as code (only None, bool, int, float, str and tuples/lists of them)")


# -- torch.nn natives --------------------------------------------------------------------------------------------
def _has(module: nn.Module, name: str) -> bool:
    return getattr(module, name, None) is not None


def _linear(m: nn.Linear) -> Call:
    return type(m), (m.in_features, m.out_features), {} if _has(m, "bias") else {"bias": False}


def _bilinear(m: nn.Bilinear) -> Call:
    return type(m), (m.in1_features, m.in2_features, m.out_features), {} if _has(m, "bias") else {"bias": False}


def _embedding(m: nn.Embedding) -> Call:
    kwargs: dict[str, Any] = {}
    if m.padding_idx is not None:
        kwargs["padding_idx"] = m.padding_idx
    if m.max_norm is not None:
        kwargs["max_norm"] = m.max_norm
    if m.norm_type != 2.0:
        kwargs["norm_type"] = m.norm_type
    if m.scale_grad_by_freq:
        kwargs["scale_grad_by_freq"] = True
    if m.sparse:
        kwargs["sparse"] = True
    return type(m), (m.num_embeddings, m.embedding_dim), kwargs


def _shape(shape: tuple[int, ...]) -> Any:
    return shape[0] if len(shape) == 1 else tuple(shape)


def _layer_norm(m: nn.LayerNorm) -> Call:
    kwargs: dict[str, Any] = {"eps": m.eps}
    if not m.elementwise_affine:
        kwargs["elementwise_affine"] = False
    elif not _has(m, "bias"):
        kwargs["bias"] = False
    return type(m), (_shape(m.normalized_shape),), kwargs


def _rms_norm(m: nn.RMSNorm) -> Call:
    kwargs: dict[str, Any] = {"eps": m.eps}
    if not m.elementwise_affine:
        kwargs["elementwise_affine"] = False
    return type(m), (_shape(m.normalized_shape),), kwargs


def _group_norm(m: nn.GroupNorm) -> Call:
    return type(m), (m.num_groups, m.num_channels), {"eps": m.eps, "affine": m.affine}


def _batch_norm(m: nn.modules.batchnorm._BatchNorm) -> Call:
    kwargs = {"eps": m.eps, "momentum": m.momentum, "affine": m.affine, "track_running_stats": m.track_running_stats}
    return type(m), (m.num_features,), kwargs


def _dropout(m: nn.modules.dropout._DropoutNd) -> Call:
    return type(m), (), {"p": m.p} | ({"inplace": True} if m.inplace else {})


def _conv(m: nn.modules.conv._ConvNd) -> Call:
    kwargs: dict[str, Any] = {"stride": m.stride, "padding": m.padding, "dilation": m.dilation, "groups": m.groups}
    if not _has(m, "bias"):
        kwargs["bias"] = False
    if m.padding_mode != "zeros":
        kwargs["padding_mode"] = m.padding_mode
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        kwargs["output_padding"] = m.output_padding
    return type(m), (m.in_channels, m.out_channels, m.kernel_size), kwargs


def _multihead(m: nn.MultiheadAttention) -> Call:
    kwargs = {
        "dropout": m.dropout,
        "bias": m.in_proj_bias is not None,
        "add_bias_kv": m.bias_k is not None,
        "add_zero_attn": m.add_zero_attn,
        "kdim": m.kdim,
        "vdim": m.vdim,
        "batch_first": m.batch_first,
    }
    return type(m), (m.embed_dim, m.num_heads), kwargs


def _attributes(*names: str, positional: int = 0) -> Callable[[nn.Module], Call]:
    """An emitter passing the module's attributes ``names`` (the first ``positional`` by position)."""

    def emit(m: nn.Module) -> Call:
        values = [getattr(m, n) for n in names]
        return type(m), tuple(values[:positional]), dict(zip(names[positional:], values[positional:]))

    return emit


def _no_arguments(m: nn.Module) -> Call:
    return type(m), (), {}


def _emitters() -> dict[type, Callable[[Any], Call]]:
    table: dict[type, Callable[[Any], Call]] = {
        nn.Linear: _linear,
        nn.modules.linear.NonDynamicallyQuantizableLinear: _linear,
        nn.Bilinear: _bilinear,
        nn.Embedding: _embedding,
        nn.LayerNorm: _layer_norm,
        nn.RMSNorm: _rms_norm,
        nn.GroupNorm: _group_norm,
        nn.MultiheadAttention: _multihead,
        nn.GELU: _attributes("approximate"),
        nn.Softmax: _attributes("dim"),
        nn.LogSoftmax: _attributes("dim"),
        nn.LeakyReLU: _attributes("negative_slope", "inplace"),
        nn.ELU: _attributes("alpha", "inplace"),
        nn.CELU: _attributes("alpha", "inplace"),
        nn.Softplus: _attributes("beta", "threshold"),
        nn.Hardtanh: _attributes("min_val", "max_val", "inplace"),
        nn.PReLU: _attributes("num_parameters"),
        nn.Flatten: _attributes("start_dim", "end_dim"),
        nn.GLU: _attributes("dim"),
    }
    for cls in (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.SELU):
        table[cls] = _attributes("inplace")
    for cls in (nn.Identity, nn.Tanh, nn.Sigmoid, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid):
        table[cls] = _no_arguments
    for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout):
        table[cls] = _dropout
    for cls in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        table[cls] = _batch_norm
    for cls in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        table[cls] = _conv
    return table


#: Built-in emitters, by exact class (a subclass of a native is not a native: it may take other arguments).
EMITTERS = _emitters()
#: The containers whose elements are declared one by one.
CONTAINERS = (nn.ModuleList, nn.Sequential, nn.ModuleDict)


def native_call(module: nn.Module) -> Call | None:
    """The constructor call of a ``torch.nn`` native, or None when ``module`` is not one of :data:`EMITTERS`."""
    emit = EMITTERS.get(type(module))
    return emit(module) if emit is not None else None


# -- signature inference -----------------------------------------------------------------------------------------
class InferenceError(Exception):
    """Signature inference found no call, or the call it found does not rebuild the module."""


def infer_call(module: nn.Module, can_write: Callable[[Any], bool]) -> Call:
    """The call ``type(module)(...)`` whose arguments are the module's own attributes named like the parameters of
    its ``__init__`` (parameters with a default and no attribute keep the default; an attribute that cannot be written
    is an error, never the default). ``can_write(value)`` says
    whether a value can be written as code where the call goes. Raises :class:`InferenceError`."""
    cls = type(module)
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError) as exc:
        raise InferenceError(f"the signature of {cls.__qualname__}.__init__ cannot be read ({exc})") from exc
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    own = vars(module)
    for param in list(signature.parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in own and can_write(own[param.name]):
            value = own[param.name]
        elif param.default is not param.empty and param.name not in own:
            continue
        else:  # an attribute that cannot be written is never replaced by the default
            why = "is not an attribute of the module" if param.name not in own else \
                f"is {own[param.name]!r}, a {type(own[param.name]).__qualname__} value that cannot be written as code"
            raise InferenceError(f"{cls.__qualname__}.__init__ needs {param.name!r}, which {why}")
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[param.name] = value
    return cls, tuple(args), kwargs


def check_call(call: Call, module: nn.Module) -> str | None:
    """Build ``call`` on the meta device and compare it with ``module``: module tree, parameter and buffer shapes,
    and plain attributes. Returns what differs, or None when the call rebuilds the module."""
    cls, args, kwargs = call
    try:
        with torch.device("meta"):
            built = cls(*args, **kwargs)
    except Exception as exc:  # any failure of a foreign constructor means: not this call
        return f"{cls.__qualname__}(...) raised {type(exc).__name__}: {exc}"
    return structure_difference(module, built)
