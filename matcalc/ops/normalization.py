"""Layer norm and RMSNorm along the last axis: of a vector over its entries, of a matrix row by row.

layernorm(x, eps) = (x − mean(x)𝟏)/σ with σ = √(var(x) + ε); rmsnorm(x, eps) = x/r with
r = √(mean(x²) + ε); eps is 0 when left out. With x̂ the output, their differentials are

    d x̂ = (dx − mean(dx)𝟏 − mean(x̂ ⊙ dx) x̂)/σ − x̂ dε/(2σ²)      (Ba, Kiros & Hinton 2016)
    d x̂ = (dx − mean(x̂ ⊙ dx) x̂)/r − x̂ dε/(2r²)                  (Zhang & Sennrich 2019)

and for a matrix the same for every row, in matrix form: the row means are M𝟏/n, and a row's
own scale is a diagonal matrix on the left (diag(σ)⁻¹(dX − ...)).

Where a row is constant and eps is 0, σ = 0 and the layer norm is 0/0: not defined (nan, as in
NumPy and PyTorch). The verifier draws rows with a standard deviation of at least 0.5 (domain
"spread"); give eps > 0 (PyTorch's default is 1e-5) for a value at constant rows.
"""
from __future__ import annotations

import numpy as np

from ..algebra import _need, add, call, had, hadpow, mul, ones, power, scale, size, sub
from ..shapes import is_column
from .function import FunctionOp

_BA = "Ba, Kiros & Hinton, Layer Normalization (arXiv:1607.06450, 2016)"
_ZHANG = "Zhang & Sennrich, Root Mean Square Layer Normalization (NeurIPS 2019)"


class _LastAxis:
    """Statistics along the last axis of x: over a column vector's entries, or over each row of a
    matrix (then a statistic is an m-vector, one entry per row)."""

    def __init__(self, x):
        self.shape, self.vector = x.shape, is_column(x.shape)

    def mean(self, M):
        if self.vector:
            return call("mean", M)
        n = self.shape[1]
        return mul(M, ones((n, 1)), power(size(n), -1))          # M𝟏/n

    def fill(self, v):
        """A per-row statistic spread over the row: v𝟏 (vector), v𝟏ᵀ (matrix)."""
        return mul(v, ones(self.shape)) if self.vector else mul(v, ones((1, self.shape[1])))

    def scale(self, v, M):
        """Each row of M times its own statistic: vM (vector), diag(v)M (matrix)."""
        return mul(v, M) if self.vector else mul(call("diag", v), M)

    def power(self, v, p):
        return power(v, p) if self.vector else hadpow(v, p)

    def plus(self, v, eps):
        """v + ε per row (nothing added when eps is left out)."""
        if eps is None:
            return v
        return add(v, eps) if self.vector else add(v, mul(eps, ones((self.shape[0], 1))))


def _args(node):
    x = node.args[0]
    return x, (node.args[1] if len(node.args) > 1 else None), _LastAxis(x)


def layernorm_scale(node):
    """σ = √(var(x) + ε): the scalar of a vector, the m-vector of a matrix's rows."""
    x, eps, ax = _args(node)
    var = call("var", x) if ax.vector else ax.mean(hadpow(sub(x, ax.fill(ax.mean(x))), 2))
    return ax.power(ax.plus(var, eps), 1 / 2)


def rmsnorm_scale(node):
    """r = √(mean(x²) + ε): the scalar of a vector, the m-vector of a matrix's rows."""
    x, eps, ax = _args(node)
    return ax.power(ax.plus(ax.mean(hadpow(x, 2)), eps), 1 / 2)


def _through_x(node, s, dx, centre: bool):
    """(dx − mean(dx)𝟏 − mean(x̂ ⊙ dx) x̂)/σ (rmsnorm: not centred), per row for a matrix. The
    Jacobian (I − 𝟏𝟏ᵀ/n − x̂x̂ᵀ/n)/σ is symmetric, so this is also the VJP of an adjoint dx."""
    ax = _LastAxis(node.args[0])
    terms = [dx, scale(-1, ax.scale(ax.mean(had(node, dx)), node))]
    if centre:
        terms.append(scale(-1, ax.fill(ax.mean(dx))))
    return ax.scale(ax.power(s, -1), add(*terms))


def _differential(stat, centre: bool):
    def d(node, dargs):
        ax, s = _LastAxis(node.args[0]), stat(node)
        terms = []
        if dargs[0] is not None:
            terms.append(_through_x(node, s, dargs[0], centre))
        if len(dargs) > 1 and dargs[1] is not None:      # − x̂ dε/(2σ²)
            terms.append(ax.scale(mul(dargs[1], ax.power(s, -2)), scale(-1 / 2, node)))
        return add(*terms)
    return d


def _reverse(stat, centre: bool):
    def vjp(node, i, ct):
        ax, s = _LastAxis(node.args[0]), stat(node)
        if i == 0:
            return _through_x(node, s, ct, centre)
        return scale(-1 / 2, call("sum", ax.scale(ax.power(s, -2), had(node, ct))))    # −Σ x̂ᵢcᵢ/(2σᵢ²)
    return vjp


def _shape(name):
    def shape(shapes, u):
        x = shapes[0]
        _need(x[1] != 1 or x[0] != 1, f"{name} needs a column vector or a matrix (each row), got a scalar")
        _need(x[0] != 1, f"{name} needs a column vector or a matrix (each row), got {u.describe(x)}",
              f"of a row vector r write {name}(r')' (a column normalised, then transposed)")
        if len(shapes) > 1:
            _need(shapes[1] == (1, 1), f"the eps of {name} must be a scalar, got {u.describe(shapes[1])}")
        return x
    return shape


def _np(centre: bool):
    def f(x, eps=None):
        axis = 0 if x.shape[1] == 1 else 1
        e = 0.0 if eps is None else float(eps[0, 0])
        if centre:
            return (x - x.mean(axis=axis, keepdims=True)) / np.sqrt(x.var(axis=axis, keepdims=True) + e)
        return x / np.sqrt((x ** 2).mean(axis=axis, keepdims=True) + e)
    return f


def _sympy(centre: bool):
    """The op in SymPy's matrix algebra: (x − mean(x)𝟏)/√(var(x) + ε) for a vector; for a matrix
    diag(√(v + ε𝟏))⁻¹ C with C the centred rows and v their variances (rmsnorm: not centred)."""
    def sp_form(X, eps=0):
        from .. import to_sympy as ts
        sp = ts.sp
        m, n = X.shape
        eps = ts.as_scalar(eps)
        if n == 1:
            C = X - ts.as_scalar(ts.matrix_sum(X)) / m * sp.OneMatrix(m, 1) if centre else X
            s = sp.sqrt(ts.as_scalar(ts.matrix_sum(sp.HadamardPower(C, 2))) / m + eps)
            return sp.MatMul(1 / s, C)
        C = X - X * sp.OneMatrix(n, 1) * sp.OneMatrix(1, n) / n if centre else X
        v = sp.HadamardPower(C, 2) * sp.OneMatrix(n, 1) / n + eps * sp.OneMatrix(m, 1)
        return sp.DiagMatrix(ts.entrywise(lambda t: t ** sp.Rational(-1, 2), v)) * C
    return sp_form


def _with_eps(tpl):
    """A code template over x ({0}) with `{eps}` where ε is added: + {1}, or nothing without eps."""
    return lambda node: tpl.replace("{eps}", " + {1}" if len(node.args) > 1 else "")


def _printed(head, latex_head):
    def text(node):
        return head + ("({0}, {1})" if len(node.args) > 1 else "({0})")

    def latex(pr, node):
        from ..printing import ATOM_P
        args = ", ".join(pr.operand(a, 0) for a in node.args)
        return r"\operatorname{" + latex_head + "}" + pr.paren(args), ATOM_P
    return text, latex


def _norm_op(name, meaning, centre, stat, code, torch_code, rule, cite, probes):
    text, latex = _printed(name, name)
    return FunctionOp(
        names=(name,), meaning=meaning, arity=(1, 2), shape=_shape(name), np=_np(centre),
        d=_differential(stat, centre), vjp=_reverse(stat, centre), domain=("spread", "positive"), temp="h",
        text=text, source=text, latex=latex,
        code=_with_eps(code), code_for={"torch": _with_eps(torch_code)},
        rule=rule, cite=cite, probes=probes, sp=_sympy(centre))


LAYERNORM = _norm_op(
    "layernorm", "(x − mean(x)𝟏)/√(var(x) + ε), eps 0 when left out; for a matrix, each row", True,
    layernorm_scale,
    "(({0} - {ns}.mean({0}, axis=-1, keepdims=True)) / {ns}.sqrt({ns}.var({0}, axis=-1, keepdims=True){eps}))",
    "(({0} - {0}.mean(dim=-1, keepdim=True)) / torch.sqrt({0}.var(dim=-1, keepdim=True, unbiased=False){eps}))",
    "d x̂ = (dx − mean(dx)𝟏 − mean(x̂ ⊙ dx) x̂)/σ − x̂ dε/(2σ²),  x̂ = layernorm(x), σ = √(var(x) + ε)",
    _BA + ", §3 (row by row for a matrix)",
    (("grad", "a'*layernorm(x)", "x", None), ("jacobian", "layernorm(x)", "x", None),
     ("vjp", "layernorm(x, eps)", "x", None), ("grad", "a'*layernorm(x, eps)", "eps", None),
     ("grad", "sum(C .* layernorm(X))", "X", None), ("grad", "sum(C .* layernorm(X, eps))", "eps", None)))

RMSNORM = _norm_op(
    "rmsnorm", "x/√(mean(x²) + ε), eps 0 when left out; for a matrix, each row", False, rmsnorm_scale,
    "({0} / {ns}.sqrt({ns}.mean({0} ** 2, axis=-1, keepdims=True){eps}))",
    "({0} / torch.sqrt(({0} ** 2).mean(dim=-1, keepdim=True){eps}))",
    "d x̂ = (dx − mean(x̂ ⊙ dx) x̂)/r − x̂ dε/(2r²),  x̂ = rmsnorm(x), r = √(mean(x²) + ε)",
    _ZHANG + ", §4 (row by row for a matrix)",
    (("grad", "a'*rmsnorm(x)", "x", None), ("jacobian", "rmsnorm(x)", "x", None),
     ("vjp", "rmsnorm(x, eps)", "x", None), ("grad", "a'*rmsnorm(x, eps)", "eps", None),
     ("grad", "sum(C .* rmsnorm(X))", "X", None), ("grad", "sum(C .* rmsnorm(X, eps))", "eps", None)))
