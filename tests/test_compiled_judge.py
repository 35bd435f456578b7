"""The judge's compiled evaluator (judge.Compiled, behind Function.at and Function.magnitude) computes
exactly what the reference walk of the syntax tree (judge.evaluate_tree) computes: the same NumPy
calls on the same values in the same order, so the values agree bit for bit, nan where undefined."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from catalogue_points import ids, point, results
from matcalc.judge import evaluate_tree
from matcalc.shapes import size_value
from matcalc.verify import CheckSizes

PAIRS = results()


def _same(a, b):
    assert type(a) is type(b)
    if isinstance(a, float):
        assert a == b or (np.isnan(a) and np.isnan(b)), (a, b)
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)      # nan equals nan here


def _agree(f, vals, sizes):
    _same(f.at(vals, sizes), evaluate_tree(f.tree, f.shapes, vals, sizes))
    _same(f.magnitude(vals, sizes), evaluate_tree(f.tree, f.shapes, vals, sizes, magnitude=True))


def _wild(result, sizes, rng):
    """Values that ignore the domains: standard normal entries (log of negatives, sqrt, inverses of
    whatever comes), to reach nan and inf."""
    return {n: rng.standard_normal(tuple(size_value(d, sizes) for d in shape))
            for n, (_, shape) in result.symbols.items()}


@pytest.mark.parametrize("entry,result", PAIRS, ids=ids(PAIRS))
def test_compiled_agrees_with_the_walk_on_the_catalogue(entry, result):
    f = result.function.typed
    assert f.tree is not None
    for seed in (0, 1):
        sizes, vals = point(result, seed)
        _agree(f, vals, sizes)
        _agree(f, _wild(result, sizes, np.random.default_rng(seed)), sizes)
        zeros = {n: np.zeros_like(v) for n, v in vals.items()}      # singular matrices, 0/0, log 0
        _agree(f, zeros, sizes)


@pytest.mark.parametrize("expr,wrt", [
    ("logdet(X)", "X"), ("tr(inv(X))", "X"), ("sum(log(x))", "x"), ("sum(sqrt(x))", "x"),
    ("x'*X^-2*x", "x"), ("sum(x.^(1/3))", "x"), ("det(X)*tr(X^3)", "X"), ("norm(x)", "x"),
])
def test_undefined_points_give_nan_as_the_walk_does(expr, wrt):
    r = matcalc.grad(expr, wrt)
    f = r.function.typed
    sizes = {"n": 3}
    for fill in (0.0, -1.0, -8.0, np.nan, np.inf):
        vals = {n: np.full(shape, fill) for n, shape in (("X", (3, 3)), ("x", (3, 1))) if n in r.symbols}
        _agree(f, vals, sizes)
    if expr in ("logdet(X)", "tr(inv(X))", "x'*X^-2*x"):       # X = 0: singular (LinAlgError, or log 0)
        assert not np.all(np.isfinite(f.at({n: np.zeros((3, 3) if n == "X" else (3, 1)) for n in r.symbols}, sizes)))


def test_sizes_are_resolved_again_when_they_change():
    f = matcalc.grad("sum(ones(m)*x' + eye(m)*A) + x'*I*x", "x", let={"A": "matrix(m,n)"}).function.typed
    rng = np.random.default_rng(0)
    for m, n in ((2, 3), (4, 5), (2, 3), (6, 2)):
        sizes = {"m": m, "n": n}
        vals = {"A": rng.standard_normal((m, n)), "x": rng.standard_normal((n, 1))}
        _agree(f, vals, sizes)
        assert f.at(vals, sizes).shape == (1, 1)


def test_sized_ops_and_constants():
    f = matcalc.api.parse("sum(commutation(m, n)*vec(X)) + 2.5*sum(X)", {"X": "matrix(m,n)"}).typed
    rng = np.random.default_rng(1)
    for m, n in ((2, 3), (3, 4)):
        _agree(f, {"X": rng.standard_normal((m, n))}, {"m": m, "n": n})


def test_a_check_is_charged_the_same_work():
    f = matcalc.grad("sum(tanh(W*x)) + x'*x", "x").function.typed
    rng = np.random.default_rng(2)
    vals = {"W": rng.standard_normal((3, 4)), "x": rng.standard_normal((4, 1))}
    a, b = CheckSizes({"m": 3, "n": 4}, 1000), CheckSizes({"m": 3, "n": 4}, 1000)
    f.at(vals, a)
    evaluate_tree(f.tree, f.shapes, vals, b)
    assert a.work_left == b.work_left == 1000 - len(f.shapes)
    from matcalc.errors import LimitError
    with pytest.raises(LimitError):
        f.at(vals, CheckSizes({"m": 3, "n": 4}, 1))


def test_a_very_deep_tree_compiles_and_runs_without_recursion():
    n = 5000
    expr = " + ".join(f"a{i}*x" for i in range(n))
    p = matcalc.api.parse(expr, {f"a{i}": "scalar" for i in range(n)} | {"x": "vector(n)"})
    f = p.typed
    rng = np.random.default_rng(3)
    vals = {f"a{i}": rng.standard_normal((1, 1)) for i in range(n)} | {"x": rng.standard_normal((3, 1))}
    _agree(f, vals, {"n": 3})


def test_compiled_once_per_function():
    f = matcalc.grad("norm(A*x - b)**2", "x").function.typed
    vals = {"A": np.ones((2, 3)), "x": np.ones((3, 1)), "b": np.ones((2, 1))}
    f.at(vals, {"m": 2, "n": 3})
    prog = f._compiled()
    f.magnitude(vals, {"m": 2, "n": 3})
    assert f._compiled() is prog
