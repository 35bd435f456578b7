"""Trace, determinant, log-determinant, norms, sum, diag, dot."""
from __future__ import annotations

import numpy as np

from ..algebra import (ADD, IDENTITY, INV, MATPOW, MUL, TRANSPOSE, _need, add, call, const, had, identity, inner, inv, mul,
                       mul_parts, mul_split, ones, power, scale, transpose)
from ..shapes import is_column, is_row
from .function import FunctionOp


# ---------------------------------------------------------------- trace

def _linear_invariant(name: str, x):
    """What tr, sum and the diagonal of a matrix share: f(Xᵀ) = f(X), f(ΣXᵢ) = Σf(Xᵢ), f(cX) = c f(X)."""
    if x.op is TRANSPOSE:
        return call(name, x.args[0])
    if x.op is ADD:
        return add(*[call(name, t) for t in x.args])
    if x.op is MUL:
        c, atoms, chain = mul_split(x)
        if c != 1 or atoms:
            return mul_parts(c, atoms, [call(name, mul(*chain))])
    return None


def _tr_canon(x):
    if x.is_scalar:
        return x
    got = _linear_invariant("tr", x)
    if got is not None:
        return got
    if x.op is MUL:       # tr(A x yᵀ) = yᵀ A x: rotate a row factor to the front
        chain = mul_split(x)[2]
        for i, f in enumerate(chain):
            if f.shape[0] == 1:
                return mul(*chain[i:], *chain[:i])
    if x.op.name == "zero":
        return const(0)
    if x.op.name == "diag" and is_column(x.args[0].shape):
        return call("sum", x.args[0])
    return None


TR = FunctionOp(
    name="tr", names=("tr", "trace"), shape="scalar-of-square", scalar_ok=False,
    np=lambda X: np.array([[np.trace(X)]]),
    d=lambda node, d: call("tr", d[0]),
    canon=_tr_canon,
    text="tr({0})", latex=r"\operatorname{{tr}}\left({0}\right)", source="tr({0})", code="np.trace({0})",
    rule="d tr(X) = tr(dX)", cite="Matrix Cookbook eq. (100)", sp=lambda X: _sympy().Trace(X),
    codegen={"numpy": 'np.trace({0})', "torch": 'torch.trace({0})', "jax": 'jnp.trace({0})'})


def _sympy():
    import sympy
    return sympy


# ---------------------------------------------------------------- determinants

def _det_canon(x):
    if x.is_scalar:
        return x
    if x.op is TRANSPOSE:
        return call("det", x.args[0])
    if x.op is IDENTITY:
        return const(1)
    if x.op is MATPOW:                   # det(Xᵏ) = det(X)ᵏ, det(X⁻¹) = det(X)⁻¹
        return power(call("det", x.args[0]), x.attrs[0])
    if x.op is INV:
        return power(call("det", x.args[0]), -1)
    return None


DET = FunctionOp(
    name="det", names=("det",), shape="scalar-of-square", scalar_ok=False, domain=("invertible",),
    np=lambda X: np.array([[np.linalg.det(X)]]),
    d=lambda node, d: mul(node, call("tr", mul(inv(node.args[0]), d[0]))),
    canon=_det_canon,
    text="det({0})", latex=r"\det\left({0}\right)", source="det({0})", code="np.linalg.det({0})",
    rule="d det(X) = det(X) tr(X⁻¹ dX)", cite="Matrix Cookbook eq. (46); seed 004: trace and determinant",
    sp=lambda X: _sympy().Determinant(X),
    codegen={"numpy": 'np.linalg.det({0})', "torch": 'torch.linalg.det({0})', "jax": 'jnp.linalg.det({0})'})


def _logdet_np(X):
    sign, val = np.linalg.slogdet(X)
    return np.array([[val if sign > 0 else np.nan]])


def _logdet_canon(x):
    if x.op is TRANSPOSE:
        return call("logdet", x.args[0])
    if x.op is IDENTITY:
        return const(0)
    if x.is_scalar:
        return call("log", x)
    # log det(Xᵏ) = k log det(X) where both are defined alike: k odd (det(Xᵏ) > 0 iff det(X) > 0)
    if x.op is MATPOW and x.attrs[0] % 2:
        return scale(x.attrs[0], call("logdet", x.args[0]))
    if x.op is INV:
        return scale(-1, call("logdet", x.args[0]))
    return None


LOGDET = FunctionOp(
    name="logdet", names=("logdet",), shape="scalar-of-square", scalar_ok=False, domain=("spd",),
    np=_logdet_np,
    d=lambda node, d: call("tr", mul(inv(node.args[0]), d[0])),
    canon=_logdet_canon,
    text="log det({0})", latex=r"\log\det\left({0}\right)", source="logdet({0})",
    code="np.linalg.slogdet({0})[1]",
    rule="d log det(X) = tr(X⁻¹ dX)", cite="Matrix Cookbook eq. (57); seed 004: trace and determinant",
    sp=lambda X: _sympy().log(_sympy().Determinant(X)),
    codegen={"numpy": 'np.linalg.slogdet({0})[1]', "torch": 'torch.linalg.slogdet({0})[1]', "jax": 'jnp.linalg.slogdet({0})[1]'})


# ---------------------------------------------------------------- norms and sums

def _norm_canon(x):
    if x.op is TRANSPOSE:
        return call("norm", x.args[0])
    if x.is_scalar:
        return call("abs", x)
    return None


NORM = FunctionOp(
    name="norm", names=("norm",), shape="scalar-of-any",
    np=lambda X: np.array([[np.linalg.norm(X)]]),
    d=lambda node, d: mul(inner(node.args[0], d[0]), _recip(node)),
    canon=_norm_canon, domain=("away-from-zero",),
    usage="norm(v) is the Euclidean norm (Frobenius for a matrix); the 1-norm is norm1(v)",
    text="‖{0}‖", latex=r"\left\|{0}\right\|", source="norm({0})", code="np.linalg.norm({0})",
    rule="d‖x‖ = xᵀdx / ‖x‖ (Frobenius: tr(XᵀdX) / ‖X‖)", cite="Matrix Cookbook eq. (129)",
    sp=lambda X: _sympy().sqrt(_sympy().Trace(X.T * X)),
    codegen={"numpy": 'np.linalg.norm({0})', "torch": 'torch.linalg.norm({0})', "jax": 'jnp.linalg.norm({0})'})


def _recip(e):
    return mul_parts(1, [(e, -1)], [])


def _norm1_canon(x):
    if x.op is TRANSPOSE:
        return call("norm1", x.args[0])
    return None


NORM1 = FunctionOp(
    name="norm1", names=("norm1",), shape="scalar-of-any", domain=("away-from-kinks",),
    np=lambda X: np.array([[np.abs(X).sum()]]),
    d=lambda node, d: inner(call("sign", node.args[0]), d[0]),
    canon=_norm1_canon,
    text="‖{0}‖₁", latex=r"\left\|{0}\right\|_1", source="norm1({0})", code="np.abs({0}).sum()",
    rule="d‖x‖₁ = sign(x)ᵀ dx", cite="Matrix Cookbook eq. (131) (for x away from 0)",
    codegen={"numpy": 'np.sum(np.abs({0}))', "torch": 'torch.sum(torch.abs({0}))', "jax": 'jnp.sum(jnp.abs({0}))'})


def _sum_canon(x):
    if x.is_scalar:
        return x
    got = _linear_invariant("sum", x)
    if got is not None:
        return got
    if x.op.name == "zero":
        return const(0)
    if x.op.name == "softmax":      # a softmax sums to 1 (else a gradient that is 0 came out as
        return const(1)             # (1 − sum(softmax(z)))x and failed verification by rounding)
    return None


SUM = FunctionOp(
    name="sum", names=("sum",), shape="scalar-of-any",
    np=lambda X: np.array([[X.sum()]]),
    d=lambda node, d: call("sum", d[0]),
    canon=_sum_canon,
    text="sum({0})", latex=r"\mathbf{{1}}^\top {0}", source="sum({0})", code="np.sum({0})",
    rule="d sum(X) = sum(dX)", cite="seed 000: Jacobian table (y = sum(x))",
    sp=lambda X: (_sympy().OneMatrix(1, X.shape[0]) * X * _sympy().OneMatrix(X.shape[1], 1))[0, 0],
    codegen={"numpy": 'np.sum({0})', "torch": 'torch.sum({0})', "jax": 'jnp.sum({0})'})


# ---------------------------------------------------------------- diag

def _diag_shape(shapes, u):
    s = shapes[0]
    if s[1] == 1 and s[0] != 1:
        return (s[0], s[0])
    _need(s[0] != 1 and s[1] != 1 and u.eq(s[0], s[1]),
          f"diag takes a column vector or a square matrix, got {u.describe(s)}")
    return (s[0], 1)


def _diag_np(X):
    return np.diagflat(X) if X.shape[1] == 1 else np.diag(X).reshape(-1, 1)


def _diag_canon(x):
    if x.shape[0] != 1 and x.shape[1] != 1:      # the diagonal of a matrix
        got = _linear_invariant("diag", x)
        if got is not None:
            return got
    elif is_row(x.shape):                         # diag(vᵀ) = diag(v)
        return call("diag", transpose(x))
    elif x.op is MUL:                             # diag(c·v) = c·diag(v)
        c, atoms, chain = mul_split(x)
        if c != 1 or atoms:
            return mul_parts(c, atoms, [call("diag", mul(*chain))])
    if x.op.name == "diag" and is_column(x.args[0].shape):
        return x.args[0]          # diag(diag(v)) = v
    if x.op is MUL and len(x.args) == 2 and is_column(x.args[0].shape) and is_row(x.args[1].shape):
        return had(x.args[0], transpose(x.args[1]))     # diag(u vᵀ) = u ⊙ v
    if x.op is MUL and not is_column(x.shape):   # diag(diag(u) A) = u ⊙ diag(A), diag(A diag(u)) = diag(A) ⊙ u
        for end, rest in ((x.args[0], x.args[1:]), (x.args[-1], x.args[:-1])):
            if end.op.name == "diag" and is_column(end.args[0].shape):
                return had(end.args[0], call("diag", mul(*rest)))
    if x.op.name == "ones" and is_column(x.shape):
        return identity(x.shape[0])
    if x.op is IDENTITY:
        return ones((x.shape[0], 1))
    return None


DIAG = FunctionOp(
    name="diag", names=("diag",), shape=_diag_shape, np=_diag_np,
    d=lambda node, d: call("diag", d[0]),
    canon=_diag_canon,
    text="diag({0})", latex=r"\operatorname{{diag}}\left({0}\right)", source="diag({0})",
    code=lambda a, node: f"np.diag({a[0]})",
    rule="d diag(X) = diag(dX)", cite="linear in its argument",
    sp=lambda X: _sympy().DiagMatrix(X) if X.shape[1] == 1 else _sympy().DiagonalOf(X),
    codegen={"numpy": 'np.diag({0})', "torch": 'torch.diag({0})', "jax": 'jnp.diag({0})'})
NORM.nonnegative = NORM1.nonnegative = True     # for algebra.nonnegative
DIAG.transposed = lambda node: node if is_column(node.args[0].shape) else None


# ---------------------------------------------------------------- dot: sugar for a'*b

def _dot_shape(shapes, u):
    a, b = shapes
    _need(a[1] == 1 and a[0] != 1 and u.shape_eq(a, b),
          f"dot needs two column vectors of the same size, got {u.describe(a)} and {u.describe(b)}",
          "for matrices write tr(A'*B)")
    return (1, 1)


DOT = FunctionOp(name="dot", names=("dot",), arity=(2, 2), shape=_dot_shape)
DOT.build = lambda a, b, attrs=(): mul(transpose(a), b)
