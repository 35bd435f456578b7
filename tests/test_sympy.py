""".sympy of results and functions: every catalogue result and every catalogue function converts to
a SymPy matrix expression of its shape, and SymPy's own evaluation of it, at a point where matcalc's
is finite, agrees with matcalc's (matcalc.numeric.evaluate of the graph)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

import matcalc
from matcalc.expr import Expr
from matcalc.numeric import evaluate
from matcalc.to_sympy import UndefinedMatrixFunction, to_sympy

from catalogue_points import ids, point, rel_error, results

_ALL = list(results())


def _size(d):
    return d if isinstance(d, int) else sp.Symbol(d, integer=True, positive=True)


def sympy_value(expr, symbols, vals, sizes) -> np.ndarray:
    """expr evaluated by SymPy with the sizes and the values (2-D arrays by name) put in: every
    matrix expression made explicit, bottom up, by SymPy's own doit / as_explicit."""
    put = {_size(d): n for d, n in sizes.items()}
    for name, (_, shape) in symbols.items():
        v = vals[name]
        put[sp.Symbol(name) if shape == (1, 1) else sp.MatrixSymbol(name, *map(_size, shape))] = \
            sp.Float(float(v[0, 0])) if shape == (1, 1) else sp.ImmutableMatrix(v.tolist())
    out = _explicit(expr.xreplace(put))
    assert not out.free_symbols, f"not every name was given a value: {out.free_symbols}"
    if isinstance(out, sp.MatrixBase):
        return np.array(out.evalf().tolist(), dtype=float)
    return np.array([[float(out)]])


def _explicit(e):
    if isinstance(e, (sp.MatrixBase, sp.Number)) or not e.args:
        return e
    args = [_explicit(a) for a in e.args]
    if isinstance(e, sp.DiagonalOf) and isinstance(args[0], sp.MatrixBase):
        # SymPy 1.14: DiagonalOf of an explicit matrix fails (its shape is Python ints)
        return sp.ImmutableMatrix(args[0].diagonal()).T
    e = e.func(*args).doit(deep=False)
    if isinstance(e, sp.MatrixExpr) and not isinstance(e, sp.MatrixBase):
        e = e.as_explicit()
    return e


def check_conversion(got, expr, symbols, vals, sizes):
    """got (expr's .sympy) has expr's shape, no index-level parts, and SymPy's value of it is matcalc's."""
    if isinstance(got, sp.MatrixExpr):
        assert got.shape == tuple(map(_size, expr.shape)), (got, expr.shape)
    else:
        assert expr.shape == (1, 1) and got.is_commutative, (got, expr.shape)
    assert not got.has(sp.Sum), got
    assert rel_error(sympy_value(got, symbols, vals, sizes), evaluate(expr, vals, sizes)) < 1e-9, str(got)


@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_every_catalogue_result_converts_and_agrees(entry, r):
    sizes, vals = point(r)
    check_conversion(r.sympy, r.expr, r.symbols, vals, sizes)


@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_every_catalogue_function_converts_and_agrees(entry, r):
    sizes, vals = point(r)
    f = matcalc.parse(entry["expr"], entry.get("let"))
    check_conversion(f.sympy, f.expr, {n: (s.kind, s.shape) for n, s in f.symbols.items()}, vals, sizes)


# ----------------------------------------------------------------------------- the forms chosen

n = sp.Symbol("n", integer=True, positive=True)
A, X = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("X", n, n)
x, a = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("a", n, 1)


def test_a_scalar_matrix_product_is_a_1x1_matrix_expression():
    let = {"x": "vector(n)", "a": "vector(n)", "A": "matrix(n,n)"}
    q = matcalc.parse("x'*A*x", let).sympy
    assert q == x.T * A * x and q.shape == (1, 1)
    assert matcalc.parse("2*x'*A*x - x'*x", let).sympy == 2 * x.T * A * x - x.T * x
    assert matcalc.parse("2*(a'*x)^2", let).sympy == 2 * sp.MatPow(a.T * x, 2)
    assert matcalc.parse("sum(x)", let).sympy == sp.OneMatrix(1, n) * x


def test_a_1x1_matrix_inside_a_scalar_is_its_trace():
    let = {"x": "vector(n)", "A": "matrix(n,n)", "alpha": "scalar"}
    alpha = sp.Symbol("alpha")
    assert matcalc.parse("log(x'*A*x)", let).sympy == sp.log(sp.Trace(x.T * A * x))
    assert matcalc.parse("x'*x + alpha", let).sympy == sp.Trace(x.T * x) + alpha
    assert matcalc.parse("(x'*x)^0.5", let).sympy == sp.sqrt(sp.Trace(x.T * x))
    got = matcalc.parse("(x'*x)*A", let).sympy
    assert got == sp.Trace(x.T * x) * A
    assert not (2 * got).doit().has(sp.Sum)       # SymPy keeps the trace whole


def test_softmax_is_written_out_in_matrix_algebra():
    got = matcalc.parse("softmax(z)", {"z": "vector(n)"}).sympy
    assert got.shape == (n, 1) and not got.atoms(AppliedUndef, UndefinedMatrixFunction)
    zs = sp.ImmutableMatrix(sp.symbols("z0:3"))
    got = _explicit(got.xreplace({n: 3, sp.MatrixSymbol("z", n, 1): zs}))
    e = zs.applyfunc(sp.exp)
    assert (got - e / sum(e)).applyfunc(sp.simplify) == sp.zeros(3, 1)


def test_sympy_differentiates_what_it_gets():
    let = {"x": "vector(n)", "A": "matrix(n,n)", "X": "matrix(n,n)"}
    assert matcalc.parse("x'*A*x", let).sympy.diff(x) == A * x + A.T * x
    assert matcalc.parse("tr(A*X)", let).sympy.diff(X) == A.T


# ----------------------------------------------------------------------------- an op SymPy has no form for

class _Unknown:
    """An op with no SymPy conversion (not registered: it exists only in this test)."""

    def __init__(self, name):
        self.name = name


def test_an_op_without_a_sympy_form_is_an_undefined_function_of_its_shape():
    from matcalc import algebra as alg
    xa, Aa = alg.sym("x", ("n", 1), "vector"), alg.sym("A", ("n", "n"))
    m = to_sympy(Expr(_Unknown("unknown_matrix_fn"), (Aa, xa), (), ("n", "n")))
    assert isinstance(m, UndefinedMatrixFunction) and m.shape == (n, n)
    assert str(m) == "unknown_matrix_fn(A, x)" and sp.latex(m) == r"\operatorname{unknown\_matrix\_fn}\left(A, x\right)"
    assert (m * x).shape == (n, 1) and m.T.shape == (n, n)
    s = to_sympy(Expr(_Unknown("unknown_scalar_fn"), (xa,), (), (1, 1)))
    assert s == sp.Function("unknown_scalar_fn")(x)
