"""Softmax, log-softmax, log-sum-exp and cross-entropy."""
from __future__ import annotations

from .lazy_numpy import np

from ..algebra import add, call, const, had, mul, ones, scale, sub, transpose
from .function import FunctionOp

_DL = "Goodfellow, Bengio & Courville, Deep Learning (2016)"
_LSE = "({ns}.max({0}) + {ns}.log({ns}.sum({ns}.exp({0} - {ns}.max({0})))))"


def _softmax_np(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _lse_np(z):
    m = z.max()
    return np.array([[m + np.log(np.exp(z - m).sum())]])


# log softmax(z) = z − logsumexp(z) 𝟏 is z shifted, and these three do not see a shift.
def _unshift(name):
    return lambda z: call(name, z.args[0]) if z.op.name == "log_softmax" else None


# Their SymPy forms, written out in SymPy's matrix algebra (to_sympy: 𝟏ᵀX𝟏 sums, exp.(z) entrywise),
# since SymPy has no softmax of its own: with s = 𝟏ᵀexp.(z), softmax(z) = exp.(z)/s, logsumexp(z) =
# log s, log softmax(z) = z − log(s)𝟏, CE(z, y) = −yᵀ log softmax(z) (no assumption on y).
def _sp_lse(z):
    from .. import to_sympy as ts
    return ts.sp.log(ts.as_scalar(ts.matrix_sum(ts.entrywise(ts.sp.exp, z))))


def _sp_softmax(z):
    from .. import to_sympy as ts
    e = ts.entrywise(ts.sp.exp, z)
    return ts.sp.MatMul(1 / ts.as_scalar(ts.matrix_sum(e)), e)


def _sp_log_softmax(z):
    from .. import to_sympy as ts
    return ts.sp.MatAdd(z, ts.sp.MatMul(-_sp_lse(z), ts.sp.OneMatrix(*z.shape)))


def _lse_canon(z):
    return const(0) if z.op.name == "log_softmax" else None    # log Σ softmax(z) = log 1


SOFTMAX = FunctionOp(
    sign="positive",
    names=("softmax",), meaning="exp(z) / sum(exp(z)) for a column vector", shape="vector-to-vector",
    np=_softmax_np, temp="s",
    canon=_unshift("softmax"),
    # ds = s ⊙ dz − s (sᵀdz): the Jacobian diag(s) − s sᵀ applied to dz
    d=lambda s, d: sub(had(s, d[0]), mul(s, transpose(s), d[0])),
    text="softmax({0})", latex=r"\operatorname{{softmax}}\left({0}\right)", source="softmax({0})",
    code=("{ns}.exp({0} - {ns}.max({0}))", "({e} / {ns}.sum({e}))"),     # e = exp(z − max z); e / sum e
    code_for={"torch": "torch.softmax({0}, dim=0)", "jax": "jax.nn.softmax({0})"},
    rule="d softmax(z) = (diag(s) − s sᵀ) dz,  s = softmax(z)", cite=_DL + ", §6.2.2.3", sp=_sp_softmax,
    probes=(("grad", "a'*softmax(z)", "z", None), ("jacobian", "softmax(z)", "z", None)))

LOG_SOFTMAX = FunctionOp(
    names=("log_softmax",), meaning="log softmax(z) = z − logsumexp(z), computed stably", shape="vector-to-vector",
    np=lambda z: z - _lse_np(z), temp="l", canon=_unshift("log_softmax"),
    d=lambda node, d: sub(d[0], mul(ones(node.shape), transpose(call("softmax", node.args[0])), d[0])),
    text="log softmax({0})", latex=r"\log\operatorname{{softmax}}\left({0}\right)", source="log_softmax({0})",
    code="({0} - " + _LSE + ")",
    code_for={"torch": "torch.log_softmax({0}, dim=0)", "jax": "jax.nn.log_softmax({0})"},
    rule="d log softmax(z) = dz − 𝟏 (sᵀdz)", cite="log softmax(z) = z − logsumexp(z); " + _DL + ", §6.2.2.3",
    sp=_sp_log_softmax,
    probes=(("grad", "a'*log_softmax(z)", "z", None),))

LOGSUMEXP = FunctionOp(
    names=("logsumexp",), meaning="log sum(exp(z)) for a column vector, computed stably",
    shape="scalar-of-vector", np=_lse_np, canon=_lse_canon,
    d=lambda node, d: mul(transpose(call("softmax", node.args[0])), d[0]),
    text="logsumexp({0})", latex=r"\operatorname{{logsumexp}}\left({0}\right)", source="logsumexp({0})",
    code=_LSE,
    code_for={"torch": "torch.logsumexp({0}, dim=0)", "jax": "jax.scipy.special.logsumexp({0})"},
    rule="d logsumexp(z) = softmax(z)ᵀ dz", cite=_DL + ", §6.2.2.3", sp=_sp_lse,
    probes=(("grad", "logsumexp(A*x)", "x", None),))


def _sympy_mul(*factors):
    from .. import to_sympy as ts
    return ts.sp.MatMul(*factors)


def _ce_d(node, d):
    z, y = node.args
    terms = []
    if d[0] is not None:   # (sum(y) s − y)ᵀ dz; sum(y) = 1 for a probability target
        g = sub(mul(call("sum", y), call("softmax", z)), y)
        terms.append(mul(transpose(g), d[0]))
    if d[1] is not None:
        terms.append(scale(-1, mul(transpose(call("log_softmax", z)), d[1])))
    return add(*terms)


CROSS_ENTROPY = FunctionOp(
    names=("cross_entropy",), meaning="−yᵀ log softmax(z): the cross-entropy of logits z and a target y",
    arity=2, shape="vectors-to-scalar",
    np=lambda z, y: -(y.T @ (z - _lse_np(z))),
    d=_ce_d, domain=(None, "probability"),
    text="CE({0}, {1})", latex=r"\operatorname{{CE}}\left({0}, {1}\right)", source="cross_entropy({0}, {1})",
    code="(-({1} @ ({0} - " + _LSE + ")))",
    code_for={"torch": "(-({1} @ torch.log_softmax({0}, dim=0)))", "jax": "(-({1} @ jax.nn.log_softmax({0})))"},
    rule="d CE(z, y) = (softmax(z) − y)ᵀ dz − log softmax(z)ᵀ dy  (target y sums to 1)",
    cite=_DL + ", §6.2.2.3", sp=lambda z, y: _sympy_mul(-1, y.T, _sp_log_softmax(z)),
    probes=(("grad", "cross_entropy(z, y)", "z", None), ("grad", "cross_entropy(z, y)", "y", None)))
