""".sympy of results and functions: every catalogue result and every catalogue function converts to
a SymPy matrix expression of its shape, and SymPy's own evaluation of it, at a point where matcalc's
is finite, agrees with matcalc's (matcalc.numeric.evaluate of the graph)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.core.function import AppliedUndef
from sympy.matrices.exceptions import NonInvertibleMatrixError

import matcalc
from matcalc.algebra import size_names
from matcalc.errors import MatcalcError
from matcalc.expr import Expr
from matcalc.numeric import evaluate
from matcalc.to_sympy import UndefinedMatrixFunction, to_sympy
from matcalc.verify import draw_sizes, draw_value

from catalogue_points import ids, point, results

sys.path.insert(0, os.path.dirname(__file__))
from fuzz.grammar import SCALAR, expressions  # noqa: E402

_ALL = list(results())


def _size(d):
    return d if isinstance(d, int) else sp.Symbol(d, integer=True, positive=True)


def sympy_value(expr, symbols, vals, sizes) -> np.ndarray:
    """expr evaluated by SymPy with the sizes and the values (2-D arrays by name) put in: every
    matrix expression made explicit, bottom up, by SymPy's own doit / as_explicit."""
    put = {_size(d): sp.Integer(size) for d, size in sizes.items()}     # (a size alone: n = len(x))
    for name, (_, shape) in symbols.items():
        v = vals[name]
        put[sp.Symbol(name) if shape == (1, 1) else sp.MatrixSymbol(name, *map(_size, shape))] = \
            sp.Float(float(v[0, 0])) if shape == (1, 1) else sp.ImmutableMatrix(v.tolist())
    with sp.evaluate(False):     # as to_sympy puts a matrix into Max or Heaviside: evaluated once explicit
        expr = expr.xreplace(put)
    out = _explicit(expr)
    assert not out.free_symbols, f"not every name was given a value: {out.free_symbols}"
    if isinstance(out, sp.MatrixBase):
        return np.array(out.tolist(), dtype=float)
    return np.array([[float(out)]])


def _explicit(e):
    if isinstance(e, (sp.MatrixBase, sp.Number)) or not e.args:
        return e
    args = [_explicit(a) for a in e.args]
    e = e.func(*args).doit(deep=False)
    if isinstance(e, sp.MatrixExpr) and not isinstance(e, sp.MatrixBase):
        e = e.as_explicit()
    if isinstance(e, sp.MatrixBase) or isinstance(e, sp.Expr) and e.is_number:
        e = e.evalf()       # numbers, not exact exp(-1)s: det of a 7×7 of those takes minutes
    return e


def check_conversion(got, expr, symbols, vals, sizes):
    """got (expr's .sympy) has expr's shape, no index-level parts, and SymPy's value of it is matcalc's."""
    if isinstance(got, sp.MatrixExpr):
        assert got.shape == tuple(map(_size, expr.shape)), (got, expr.shape)
    else:
        assert expr.shape == (1, 1) and got.is_commutative, (got, expr.shape)
    assert not got.has(sp.Sum), got
    # relative to the largest value met on the way: a result that is 0 by cancellation is ~1e-17
    err = np.abs(sympy_value(got, symbols, vals, sizes) - evaluate(expr, vals, sizes)).max()
    assert err <= 1e-9 * evaluate(expr, vals, sizes, magnitude=True), (err, str(got))


@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_every_catalogue_result_converts_and_agrees(entry, r):
    sizes, vals = point(r)
    check_conversion(r.sympy, r.expr, r.symbols, vals, sizes)


@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_every_catalogue_function_converts_and_agrees(entry, r):
    sizes, vals = point(r)
    f = matcalc.parse(entry["expr"], entry.get("let"))
    check_conversion(f.sympy, f.expr, {name: (s.kind, s.shape) for name, s in f.symbols.items()}, vals, sizes)


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


# ----------------------------------------------------------------------------- fuzzed expressions


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(expressions(shape=SCALAR, max_depth=4), st.data())
def test_fuzzed_functions_and_gradients_convert_and_agree(ex, data):
    """Random expressions of the fuzz grammar (nested powers, signs, abs, ...) and their gradients, at
    a random point where matcalc's value is finite."""
    text_, let, _ = ex
    try:
        f = matcalc.parse(text_, let)
        r = matcalc.grad(text_, data.draw(st.sampled_from(sorted(let))), let) if let else None
    except MatcalcError:
        return
    pairs = [(f.expr, {name: (s.kind, s.shape) for name, s in f.symbols.items()}, f.sympy)]
    if r is not None:
        pairs.append((r.expr, r.symbols, r.sympy))
    symbols = pairs[-1][1]
    dims = {d for e, _, _ in pairs for d in size_names(e)} | {d for _, shape in symbols.values() for d in shape}
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    sizes = draw_sizes({d for d in dims if isinstance(d, str)}, rng)
    vals = {name: draw_value(kind, tuple(sizes.get(d, d) for d in shape), set(), rng)
            for name, (kind, shape) in symbols.items()}
    for expr, syms, got in pairs:
        if np.all(np.isfinite(evaluate(expr, vals, sizes))):
            try:
                check_conversion(got, expr, syms, vals, sizes)
            except NonInvertibleMatrixError:    # det(a*a') drawn: exactly singular, outside the domain
                return
