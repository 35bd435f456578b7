"""Softmax, log-softmax, log-sum-exp, cross-entropy and binary cross-entropy.

Along the last axis, as PyTorch's dim=-1: for a column vector they act along the vector, for an
m×n matrix on each row on its own (a row is a token, a sample, a query); cross_entropy sums over
the rows and bce over all entries, to a scalar. In matrix form a row-wise reduction is X𝟏 (an
m-vector) and spreading an m-vector r back over the rows is r𝟏ᵀ.
"""
from __future__ import annotations

from .lazy_numpy import np

from ..algebra import _need, add, call, const, had, inner, mul, ones, scale, sub, transpose, zero
from ..shapes import is_column
from .function import FunctionOp

_DL = "Goodfellow, Bengio & Courville, Deep Learning (2016)"
# Stable along the last axis (a 1-D array: the vector; 2-D: each row): the row's max is shifted out
# first, so that no exp overflows (logits of ±1000).
_MAX = "{ns}.max({0}, axis=-1, keepdims=True)"
_LSE = "(" + _MAX + "[..., 0] + {ns}.log({ns}.sum({ns}.exp({0} - " + _MAX + "), axis=-1)))"
_LOG_SOFTMAX = "({0} - " + _MAX + " - {ns}.log({ns}.sum({ns}.exp({0} - " + _MAX + "), axis=-1, keepdims=True)))"


# ---------------------------------------------------------------- shapes and rows

def _rows_shape(reduce):
    """A column vector (one row, as it were) or a matrix; reduce: one value per row."""
    def infer(shapes, u, name):
        s = shapes[0]
        _need(s[0] != 1, f"{name} needs a column vector or a matrix, got {u.describe(s)}")
        return (s[0], 1) if reduce and s[1] != 1 else (1, 1) if reduce else s
    return infer


def _pair_shape(any_shape):
    def infer(shapes, u, name):
        s, t = shapes
        _need(any_shape or s[0] != 1, f"{name} needs column vectors or matrices, got {u.describe(s)}")
        _need(u.shape_eq(s, t), f"{name} needs two arguments of the same shape, got {u.describe(s)} and {u.fmt(t)}")
        return (1, 1)
    return infer


def _named(name, rule):
    return lambda shapes, u: rule(shapes, u, name)


def _rows(f):
    """f written for the rows of a 2-D array, applied to a vector (n, 1) as to its one row."""
    return lambda z: f(z.T).T if z.shape[1] == 1 else f(z)


def _row_sums(x):
    return mul(x, ones((x.shape[1], 1)))


def _spread(r, like):
    """r𝟏ᵀ: the m-vector r repeated along the rows of the m×n `like`."""
    return mul(r, transpose(ones((like.shape[1], 1))))


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _lse_rows(z):
    m = z.max(axis=1, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))


_softmax_np, _lse_np = _rows(_softmax_rows), _rows(_lse_rows)


def _log_softmax_np(z):
    return z - _lse_np(z).T if z.shape[1] == 1 else z - _lse_np(z)


# log softmax(z) = z − logsumexp(z) 𝟏 is z shifted (each row, for a matrix), and these do not see a shift.
def _unshift(name):
    return lambda z: call(name, z.args[0]) if z.op.name == "log_softmax" else None


# Their SymPy forms, written out in SymPy's matrix algebra (to_sympy: 𝟏ᵀX𝟏 sums, exp.(z) entrywise),
# since SymPy has no softmax of its own: with s = 𝟏ᵀexp.(z), softmax(z) = exp.(z)/s, logsumexp(z) =
# log s, log softmax(z) = z − log(s)𝟏, CE(z, y) = −yᵀ log softmax(z) (no assumption on y). For a
# matrix, s = exp.(Z)𝟏 holds the row sums: softmax(Z) = diag(s)⁻¹ exp.(Z), logsumexp(Z) = log.(s).
def _sp_lse(z):
    from .. import to_sympy as ts
    e = ts.entrywise(ts.sp.exp, z)
    if z.shape[1] != 1:
        return ts.entrywise(ts.sp.log, e * ts.sp.OneMatrix(z.shape[1], 1))
    return ts.sp.log(ts.as_scalar(ts.matrix_sum(e)))


def _sp_softmax(z):
    from .. import to_sympy as ts
    e = ts.entrywise(ts.sp.exp, z)
    if z.shape[1] != 1:
        recip = ts.entrywise(lambda t: 1 / t, e * ts.sp.OneMatrix(z.shape[1], 1))
        return ts.sp.MatMul(ts.sp.DiagMatrix(recip), e)
    return ts.sp.MatMul(1 / ts.as_scalar(ts.matrix_sum(e)), e)


def _sp_log_softmax(z):
    from .. import to_sympy as ts
    if z.shape[1] != 1:
        return ts.sp.MatAdd(z, -_sp_lse(z) * ts.sp.OneMatrix(1, z.shape[1]))
    return ts.sp.MatAdd(z, ts.sp.MatMul(-_sp_lse(z), ts.sp.OneMatrix(*z.shape)))


def _sp_cross_entropy(z, y):
    from .. import to_sympy as ts
    if z.shape[1] != 1:
        return -ts.sp.Trace(y.T * _sp_log_softmax(z))
    return ts.sp.MatMul(-1, y.T, _sp_log_softmax(z))


def _lse_canon(z):
    if z.op.name == "log_softmax":    # log Σ softmax(z) = log 1, for each row
        return const(0) if is_column(z.shape) else zero((z.shape[0], 1))
    return None


# ---------------------------------------------------------------- differentials

def _softmax_d(s, d):
    dz = d[0]
    if is_column(s.shape):          # ds = s ⊙ dz − s (sᵀdz): the Jacobian diag(s) − s sᵀ applied to dz
        return sub(had(s, dz), mul(s, transpose(s), dz))
    sdz = had(s, dz)                # each row: dS = S ⊙ dZ − S ⊙ ((S ⊙ dZ)𝟏𝟏ᵀ)
    return sub(sdz, had(s, _spread(_row_sums(sdz), s)))


def _log_softmax_d(node, d):
    z, dz = node.args[0], d[0]
    if is_column(z.shape):
        return sub(dz, mul(ones(node.shape), transpose(call("softmax", z)), dz))
    return sub(dz, _spread(_row_sums(had(call("softmax", z), dz)), z))


def _lse_d(node, d):
    z, dz = node.args[0], d[0]
    if is_column(z.shape):
        return mul(transpose(call("softmax", z)), dz)
    return _row_sums(had(call("softmax", z), dz))


SOFTMAX = FunctionOp(
    sign="positive", unit_rows=True,
    names=("softmax",), meaning="exp(z) / sum(exp(z)) for a column vector; for a matrix, each row",
    shape=_named("softmax", _rows_shape(reduce=False)),
    np=_softmax_np, temp=("s", "P"),       # P: the attention (probability) matrix, as papers name it
    canon=_unshift("softmax"),
    d=_softmax_d,
    text="softmax({0})", latex=r"\operatorname{{softmax}}\left({0}\right)", source="softmax({0})",
    code=("{ns}.exp({0} - " + _MAX + ")", "({e} / {ns}.sum({e}, axis=-1, keepdims=True))"),   # e = exp(z − max z)
    code_for={"torch": "torch.softmax({0}, dim=-1)", "jax": "jax.nn.softmax({0}, axis=-1)"},
    rule="d softmax(z) = (diag(s) − s sᵀ) dz,  s = softmax(z)  (each row of a matrix: dS = S ⊙ (dZ − (S ⊙ dZ)𝟏𝟏ᵀ))",
    cite=_DL + ", §6.2.2.3", sp=_sp_softmax,
    probes=(("grad", "a'*softmax(z)", "z", None), ("jacobian", "softmax(z)", "z", None),
            ("grad", "sum(A .* softmax(Z))", "Z", None), ("vjp", "softmax(X*W)", "W", None)))

LOG_SOFTMAX = FunctionOp(
    names=("log_softmax",), meaning="log softmax(z) = z − logsumexp(z), computed stably; for a matrix, each row",
    shape=_named("log_softmax", _rows_shape(reduce=False)),
    np=_log_softmax_np, temp="l", canon=_unshift("log_softmax"),
    d=_log_softmax_d,
    text="log softmax({0})", latex=r"\log\operatorname{{softmax}}\left({0}\right)", source="log_softmax({0})",
    code=_LOG_SOFTMAX,
    code_for={"torch": "torch.log_softmax({0}, dim=-1)", "jax": "jax.nn.log_softmax({0}, axis=-1)"},
    rule="d log softmax(z) = dz − 𝟏 (sᵀdz)  (each row of a matrix: dZ − ((S ⊙ dZ)𝟏)𝟏ᵀ)",
    cite="log softmax(z) = z − logsumexp(z); " + _DL + ", §6.2.2.3",
    sp=_sp_log_softmax,
    probes=(("grad", "a'*log_softmax(z)", "z", None), ("grad", "sum(A .* log_softmax(Z))", "Z", None)))

LOGSUMEXP = FunctionOp(
    names=("logsumexp",), meaning="log sum(exp(z)) for a column vector, computed stably; for a matrix, "
                                  "the vector of its rows'",
    shape=_named("logsumexp", _rows_shape(reduce=True)), np=_lse_np, canon=_lse_canon,
    d=_lse_d,
    text="logsumexp({0})", latex=r"\operatorname{{logsumexp}}\left({0}\right)", source="logsumexp({0})",
    code=_LSE,
    code_for={"torch": "torch.logsumexp({0}, dim=-1)", "jax": "jax.scipy.special.logsumexp({0}, axis=-1)"},
    rule="d logsumexp(z) = softmax(z)ᵀ dz  (each row of a matrix: (softmax(Z) ⊙ dZ)𝟏)",
    cite=_DL + ", §6.2.2.3", sp=_sp_lse,
    probes=(("grad", "logsumexp(A*x)", "x", None), ("grad", "a'*logsumexp(X*B)", "X", None)))


def _ce_d(node, d):
    z, y = node.args
    terms = []
    if d[0] is not None:
        # each row: (sum(yᵢ) sᵢ − yᵢ)ᵀ dzᵢ, so (diag(Y𝟏) S − Y) for a matrix; the row sums of a
        # probability target are 1 (simplify.assume)
        s = call("softmax", z)
        g = sub(mul(call("sum", y), s) if is_column(z.shape) else mul(call("diag", _row_sums(y)), s), y)
        terms.append(inner(g, d[0]))
    if d[1] is not None:
        terms.append(scale(-1, inner(call("log_softmax", z), d[1])))
    return add(*terms)


CROSS_ENTROPY = FunctionOp(
    names=("cross_entropy",), meaning="−yᵀ log softmax(z): the cross-entropy of logits z and a target y; "
                                      "for matrices, summed over the rows",
    arity=2, shape=_named("cross_entropy", _pair_shape(any_shape=False)),
    np=lambda z, y: np.array([[-(y * _log_softmax_np(z)).sum()]]),
    d=_ce_d, domain=(None, "probability"),
    text="CE({0}, {1})", latex=r"\operatorname{{CE}}\left({0}, {1}\right)", source="cross_entropy({0}, {1})",
    code="(-{ns}.sum({1} * " + _LOG_SOFTMAX + "))",
    code_for={"torch": "(-torch.sum({1} * torch.log_softmax({0}, dim=-1)))",
              "jax": "(-{ns}.sum({1} * jax.nn.log_softmax({0}, axis=-1)))"},
    rule="d CE(z, y) = (softmax(z) − y)ᵀ dz − log softmax(z)ᵀ dy  (target y sums to 1; "
         "for matrices, the sum over the rows)",
    cite=_DL + ", §6.2.2.3", sp=_sp_cross_entropy,
    probes=(("grad", "cross_entropy(z, y)", "z", None), ("grad", "cross_entropy(z, y)", "y", None),
            ("grad", "cross_entropy(X*W, Y)", "W", None), ("grad", "cross_entropy(Z, Y)", "Y", None)))


# bce(z, y) = Σ −y log σ(z) − (1 − y) log(1 − σ(z)) = Σ softplus(z) − y ⊙ z, since log(1 − σ(z)) =
# log σ(z) − z: exact for every real y (no assumption), and softplus is computed stably (logaddexp).
def _bce_d(node, d):
    z, y = node.args
    terms = []
    if d[0] is not None:
        terms.append(inner(sub(call("sigmoid", z), y), d[0]))
    if d[1] is not None:
        terms.append(scale(-1, inner(z, d[1])))
    return add(*terms)


def _sp_bce(z, y):
    from .. import to_sympy as ts
    softplus = ts.entrywise(lambda t: ts.sp.log(1 + ts.sp.exp(t)), z)
    return ts.as_scalar(ts.matrix_sum(softplus - ts.sp.HadamardProduct(y, z))) if z.shape != (1, 1) \
        else ts.sp.log(1 + ts.sp.exp(z)) - y * z


BCE = FunctionOp(
    names=("bce",), meaning="binary cross-entropy of logits z and targets y in [0, 1], summed over all entries",
    arity=2, shape=_named("bce", _pair_shape(any_shape=True)),
    np=lambda z, y: np.array([[(np.logaddexp(0, z) - y * z).sum()]]),
    d=_bce_d, domain=(None, "unit-interval"),
    text="BCE({0}, {1})", latex=r"\operatorname{{BCE}}\left({0}, {1}\right)", source="bce({0}, {1})",
    code="{ns}.sum({ns}.logaddexp(0, {0}) - {1} * {0})",
    code_for={"torch": "torch.sum(torch.logaddexp({0}, torch.zeros_like({0})) - {1} * {0})"},
    rule="d BCE(z, y) = (σ(z) − y)ᵀ dz − zᵀ dy  (BCE(z, y) = Σ softplus(z) − y ⊙ z, for every y)",
    cite=_DL + ", §6.2.2.2 (the sigmoid output unit)",
    sp=_sp_bce,
    probes=(("grad", "bce(X*w, y)", "w", None), ("grad", "bce(Z, Y)", "Z", None), ("grad", "bce(z, y)", "y", None),
            ("hessian", "bce(X*w, y)", "w", None)))
