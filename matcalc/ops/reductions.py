"""Reductions over all entries (as NumPy without an axis): mean, var, max, min.

mean and var are ops of their own, not shorthands for sum(x)/len(x): papers write the layer-norm
derivative with mean(g) and var(x) (Ba et al. 2016), and a result keeps them so. max and min are
differentiated at a point without ties: the derivative is the indicator of the largest (smallest)
entry, ismax(x) (ismin(x)), which is constant there. The verifier draws the arguments of max and
min with their entries at least 0.1 apart (domain "untied"), so that no finite-difference step
moves the arg-max.
"""
from __future__ import annotations

from .lazy_numpy import np

from ..algebra import (MUL, ONES, TRANSPOSE, ZERO, call, const, count, had, inner, mul, mul_parts, mul_split, ones,
                       power, sub)
from ..shapes import size_product
from .function import ZERO as ZERO_D, FunctionOp
from .linalg import _linear_invariant

_BN = "Ioffe & Szegedy, Batch Normalization (ICML 2015), §3"
_COOKBOOK = "Petersen & Pedersen, The Matrix Cookbook (2012)"


def _to_sympy():
    from .. import to_sympy
    return to_sympy


def _sympy_mean(X):
    from .. import to_sympy as ts
    r, c = X.shape
    return ts.sp.MatMul(1 / (r * c), ts.matrix_sum(X))


def _mean_canon(x):
    if x.is_scalar:
        return x
    got = _linear_invariant("mean", x)          # mean(Xᵀ) = mean(X), mean of a sum, mean(cX) = c mean(X)
    if got is not None:
        return got
    if x.op is ZERO:
        return const(0)
    if x.op is ONES:
        return const(1)
    return None


def _per_entry(node):
    """1/(mn): the weight of one entry in the mean of the node's argument."""
    return power(count(node.args[0].shape), -1)


def _mean_matrix(node, m):
    """mean(t) = 𝟏ᵀvec(t)/(mn): its Jacobian is 𝟏ᵀ/(mn) times t's (as sum's, ops/linalg.py)."""
    a = node.args[0]
    return mul(_per_entry(node), ones((1, size_product(*a.shape))), m(a))


MEAN = FunctionOp(
    names=("mean",), meaning="the mean of all entries: sum(X)/(mn)", shape="scalar-of-any",
    np=lambda X: np.array([[X.mean()]]),
    d=lambda node, d: call("mean", d[0]),
    transpose=lambda node, c: mul(c, _per_entry(node), ones(node.args[0].shape)),
    matrix=_mean_matrix, canon=_mean_canon,
    text="mean({0})", latex=r"\operatorname{{mean}}\left({0}\right)", source="mean({0})", code="{ns}.mean({0})",
    rule="d mean(X) = mean(dX)", cite="linear: mean(X) = 𝟏ᵀX𝟏/(mn); " + _COOKBOOK + ", sec. 2.4.1",
    sp=_sympy_mean,
    probes=(("grad", "mean(A*x)", "x", None), ("grad", "mean(X)", "X", None),
            ("jacobian", "mean(x)*x", "x", None)))


def _var_canon(x):
    if x.is_scalar or x.op in (ZERO, ONES):
        return const(0)                         # one entry, or all equal: no spread
    if x.op is TRANSPOSE:                       # var(Xᵀ) = var(X): the same entries — always
        return call("var", x.args[0])
    if x.op is MUL:                             # var(cX) = c² var(X) for a number or scalar c
        c, atoms, chain = mul_split(x)
        if c != 1 or atoms:
            return mul_parts(c * c, [(a, 2 * e) for a, e in atoms], [call("var", mul(*chain))])
    return None


def centred(x):
    """x − mean(x)𝟏: the deviations from the mean (of all entries)."""
    return sub(x, mul(call("mean", x), ones(x.shape)))


VAR = FunctionOp(
    names=("var",), meaning="the population variance of all entries: mean((X − mean(X))²)",
    shape="scalar-of-any", sign="nonnegative",
    np=lambda X: np.array([[X.var()]]),
    # d var(X) = 2 mean((X − mean(X)) ⊙ dX): the mean of the deviations is 0, so d mean(X) drops out
    d=lambda node, d: mul(const(2), call("mean", had(centred(node.args[0]), d[0]))),
    canon=_var_canon,
    text="var({0})", latex=r"\operatorname{{var}}\left({0}\right)", source="var({0})", code="{ns}.var({0})",
    code_for={"torch": "torch.var({0}, correction=0)"},
    rule="d var(X) = 2 mean((X − mean(X)) ⊙ dX)", cite=_BN + " (∂σ²/∂xᵢ = 2(xᵢ − μ)/m)",
    sp=lambda X: _sympy_mean(_sympy_entrywise_square(X - _sympy_mean_fill(X))),
    probes=(("grad", "var(x)", "x", None), ("grad", "var(X*w)", "w", None), ("hessian", "var(x)", "x", None)))


def _sympy_mean_fill(X):
    from .. import to_sympy as ts
    return ts.as_scalar(_sympy_mean(X)) * ts.sp.OneMatrix(*X.shape)


def _sympy_entrywise_square(X):
    from .. import to_sympy as ts
    return ts.sp.HadamardPower(X, 2)


def _extreme(name, pick, word):
    """max or min of all entries, with its arg-max indicator (the derivative, away from ties)."""
    flag, largest = "is" + name, name == "max"
    torch_name = "torch.amax" if largest else "torch.amin"
    indicator = FunctionOp(
        names=(flag,), meaning=f"1 where X is its {word} entry, else 0 (the derivative of {name})",
        shape="elementwise", sign="nonnegative", d=ZERO_D,
        np=lambda X: (X == pick(X)).astype(float),
        text=flag + "({0})", latex=r"\operatorname{{" + flag + r"}}\left({0}\right)", source=flag + "({0})",
        code="({0} == {ns}." + name + "({0})).astype(float)",
        code_for={"torch": "({0} == " + torch_name + "({0})).to(torch.float64)"},
        domain=("untied",), sp=lambda X: _to_sympy().ExtremeIndicator(X, largest),
        rule="constant away from ties", cite="the indicator of the arg-" + name + "; "
             + "Goodfellow, Bengio & Courville, Deep Learning (2016), §6.3.3 (max units: the gradient "
               "flows to the largest entry)",
        probes=((("grad", f"sum({flag}(x) .* x)", "x", None)),))
    extreme = FunctionOp(
        names=(name,), meaning=f"the {word} entry of all", shape="scalar-of-any",
        usage=f"{name}(x) is the {word} entry of x; the entrywise {name} of x and y is "
              + ("relu(x - y) + y" if largest else "y - relu(y - x)"),
        np=lambda X: np.array([[pick(X)]]),
        d=lambda node, d: inner(call(flag, node.args[0]), d[0]),
        # max(a) = a for a scalar, max(Xᵀ) = max(X) (the same entries) — always
        canon=lambda x: x if x.is_scalar else call(name, x.args[0]) if x.op is TRANSPOSE else None,
        text=name + "({0})", latex="\\" + name + r"\left({0}\right)", source=name + "({0})",
        code="{ns}." + name + "({0})",
        code_for={"torch": torch_name + "({0})"},
        domain=("untied",), sp=lambda X: _to_sympy().Extreme(X, largest),
        rule=f"d {name}(X) = sum({flag}(X) ⊙ dX), at a point without ties",
        cite="Goodfellow, Bengio & Courville, Deep Learning (2016), §6.3.3 (max units: the gradient flows "
             "to the largest entry)",
        probes=(("grad", f"{name}(x)", "x", None), ("grad", f"{name}(A*x)", "x", None),
                ("grad", f"{name}(X)", "X", None)))
    return extreme, indicator


MAX, ISMAX = _extreme("max", np.max, "largest")
MIN, ISMIN = _extreme("min", np.min, "smallest")
