"""Conversion of a matcalc graph to SymPy matrix expressions (for users who continue in SymPy).

Function ops give their SymPy form as an `sp` attribute (a function of the
SymPy arguments); ops SymPy has no matrix form for become undefined
functions of their arguments. SymPy is imported only here, on demand.
"""
from __future__ import annotations

import sympy as sp

from . import algebra as alg
from .expr import Expr, postorder


def _dim(d):
    return d if isinstance(d, int) else sp.Symbol(d, integer=True, positive=True)


def to_sympy(root: Expr):
    done: dict[Expr, object] = {}
    for node in postorder(root):
        args = [done[a] for a in node.args]
        done[node] = _convert(node, args)
    return done[root]


def _convert(node: Expr, args):
    op = node.op
    r, c = (_dim(d) for d in node.shape)
    if op is alg.SYM:
        return sp.Symbol(node.attrs[0]) if node.is_scalar else sp.MatrixSymbol(node.attrs[0], r, c)
    if op is alg.CONST:
        return sp.Rational(node.attrs[0].numerator, node.attrs[0].denominator)
    if op is alg.ZERO:
        return sp.ZeroMatrix(r, c)
    if op is alg.IDENTITY:
        return sp.Identity(r)
    if op is alg.ONES:
        return sp.OneMatrix(r, c)
    if op is alg.ADD:
        return sp.Add(*args) if node.is_scalar else sp.MatAdd(*args).doit()
    if op is alg.MUL:
        coef, exps = node.attrs
        k = len(exps)
        scalar = sp.Rational(coef.numerator, coef.denominator)
        for a, e in zip(args[:k], exps):
            scalar = scalar * _as_scalar(a) ** sp.Rational(e.numerator, e.denominator)
        chain = args[k:]
        if not chain:
            return scalar
        prod = sp.MatMul(*chain)
        return _as_scalar(prod) * scalar if node.is_scalar else scalar * prod
    if op is alg.HAD:
        factors = [a if e == 1 else sp.HadamardPower(a, sp.Rational(e.numerator, e.denominator))
                   for a, e in zip(args, node.attrs[0])]
        return factors[0] if len(factors) == 1 else sp.HadamardProduct(*factors)
    if op is alg.TRANSPOSE:
        return args[0].T
    if op is alg.INV:
        return sp.Inverse(args[0])
    if op is alg.MATPOW:
        return sp.MatPow(args[0], node.attrs[0])
    convert = getattr(op, "sp", None)
    if convert is not None:
        if getattr(op, "elementwise", False):
            x = args[0]
            if node.is_scalar:
                return convert(_as_scalar(x))
            t = sp.Dummy("t")
            return x.applyfunc(sp.Lambda(t, convert(t)))
        return convert(*args)
    return sp.Function(op.name)(*args)


def _as_scalar(x):
    """A 1×1 matrix expression as a scalar."""
    if isinstance(x, sp.MatrixExpr):
        return x[0, 0]
    return x
