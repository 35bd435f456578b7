"""The last-axis functions on matrices (softmax, log_softmax, logsumexp, cross_entropy row by row) and
bce: textbook results, verified by finite differences; the assumption of a probability target said
for matrices too; the generated NumPy / PyTorch / JAX code stable at logits of ±1000."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import matcalc
from matcalc.codegen import function_code

from test_codegen import compile_function, jax64  # noqa: F401  (a fixture)

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_JAX = importlib.util.find_spec("jax") is not None

CASES = [
    ("grad", "cross_entropy(Z, Y)", "Z", None, "softmax(Z) − Y"),
    ("grad", "cross_entropy(Z, Y)", "Y", None, "−log softmax(Z)"),
    ("grad", "cross_entropy(X*W, Y)", "W", {"Y": "probability"}, "Xᵀ(softmax(XW) − Y)"),
    ("grad", "cross_entropy(X*W' + ones(B)*b', Y)", "W", {"Y": "onehot"}, "(softmax(𝟏bᵀ + XWᵀ) − Y)ᵀX"),
    ("grad", "cross_entropy(X*W' + ones(B)*b', Y)", "b", {"Y": "onehot"}, "(softmax(𝟏bᵀ + XWᵀ) − Y)ᵀ𝟏"),
    ("vjp", "softmax(Z)", "Z", None, "P ⊙ (G − (G ⊙ P)𝟏𝟏ᵀ)  where P = softmax(Z)"),
    ("vjp", "log_softmax(Z)", "Z", None, "G − (G𝟏𝟏ᵀ) ⊙ softmax(Z)"),
    ("grad", "a'*logsumexp(X)", "X", None, "(a𝟏ᵀ) ⊙ softmax(X)"),
    ("grad", "sum(logsumexp(X*W))", "W", None, "Xᵀ softmax(XW)"),
    ("grad", "sum(log_softmax(Z))", "Z", None, "𝟏𝟏ᵀ − n softmax(Z)"),
    ("jvp", "logsumexp(Z)", "Z", None, "(V ⊙ softmax(Z))𝟏"),
    ("grad", "bce(z, y)", "z", None, "σ(z) − y"),
    ("grad", "bce(X*w, y)", "w", None, "Xᵀ(σ(Xw) − y)"),
    ("grad", "bce(Z, Y)", "Z", None, "σ(Z) − Y"),
    ("grad", "bce(z, y)", "y", None, "−z"),
    ("hessian", "bce(X*w, y)", "w", None, "Xᵀ diag(h ⊙ (𝟏 − h)) X  where h = σ(Xw)"),
    ("vjp", "X*W' + ones(B)*b'", "X", None, "GW"),
    ("vjp", "X*W' + ones(B)*b'", "W", None, "GᵀX"),
    ("vjp", "X*W' + ones(B)*b'", "b", None, "Gᵀ𝟏"),
]


@pytest.mark.parametrize("kind,expr,wrt,let,text", CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES])
def test_row_wise_results_are_the_textbook_ones(kind, expr, wrt, let, text):
    r = matcalc.derivative(kind, expr, wrt, let)
    assert r.text == text
    report = r.verify(trials=3, seed=11)
    assert report.passed, report.summary()


def test_shapes_row_by_row():
    let = {"Z": "matrix(m,n)"}
    assert matcalc.parse("softmax(Z)", let).shape == ("m", "n")
    assert matcalc.parse("logsumexp(Z)", let).shape == ("m", 1)
    assert matcalc.parse("cross_entropy(Z, Y)", let).shape == (1, 1)
    assert matcalc.parse("bce(Z, Y)", let).shape == (1, 1)


def test_judge_computes_each_row_on_its_own():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)
    sizes = {"m": 3, "n": 4}
    ce = matcalc.parse("cross_entropy(Z, Y)").typed.at({"Z": z, "Y": y}, sizes)
    assert np.isclose(ce[0, 0], sum(-y[i] @ (z[i] - np.log(np.exp(z[i]).sum())) for i in range(3)))
    lse = matcalc.parse("logsumexp(Z)").typed.at({"Z": z}, sizes)
    assert np.allclose(lse[:, 0], [np.log(np.exp(z[i]).sum()) for i in range(3)])
    sm = matcalc.parse("softmax(Z)").typed.at({"Z": z}, sizes)
    assert np.allclose(sm, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))


def test_probability_assumption_is_said_for_a_matrix_target():
    r = matcalc.grad("cross_entropy(X*W, Y)", "W")
    assert r.assumptions == ["assuming Y is a matrix of probability rows (entries ≥ 0 summing to 1): "
                             "--let Y:probability or :onehot says so"]
    assert matcalc.grad("cross_entropy(X*W, Y)", "W", let={"Y": "probability"}).assumptions == []
    # written out by hand, nothing is assumed: the row sums stay
    hand = matcalc.grad("-sum(Y .* log_softmax(Z))", "Z")
    assert hand.assumptions == [] and "𝟏" in hand.text and hand.verify(seed=3).passed


# ----------------------------------------------------------------------------- stable generated code

_HUGE = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
_Y = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])


def _exact():
    """Values at ±1000 by hand: the row maxima are 1000, every other exp is 0 or e⁻¹⁰⁰⁰."""
    lse = np.array([1000.0, 1000.0])
    log_softmax = _HUGE - lse[:, None]
    return {"softmax": np.exp(log_softmax), "log_softmax": log_softmax, "logsumexp": lse,
            "cross_entropy": -(_Y * log_softmax).sum(),
            "bce": np.sum(np.maximum(_HUGE, 0) + np.log1p(np.exp(-np.abs(_HUGE))) - _Y * _HUGE)}


_VALUES = [("softmax", "vjp", "softmax(Z)"), ("log_softmax", "vjp", "log_softmax(Z)"),
           ("logsumexp", "vjp", "logsumexp(Z)"), ("cross_entropy", "grad", "cross_entropy(Z, Y)"),
           ("bce", "grad", "bce(Z, Y)")]
_BACKENDS = ["numpy"] + (["torch"] if HAVE_TORCH else []) + (["jax"] if HAVE_JAX else [])


@pytest.mark.parametrize("backend", _BACKENDS)
@pytest.mark.parametrize("name,kind,expr", _VALUES, ids=[v[0] for v in _VALUES])
def test_generated_code_is_stable_at_huge_logits(name, kind, expr, backend, request):
    if backend == "jax":
        request.getfixturevalue("jax64")
    r = matcalc.derivative(kind, expr, "Z", {"Z": "matrix(m,n)", "Y": "matrix(m,n)"})
    f = compile_function(function_code(r, backend, with_value=True))
    args = {"Z": _HUGE, "Y": _Y, r.aux: np.ones_like(_exact()[name]) if r.aux else None}
    value, deriv = f(*[args[n] for n in r.symbols])
    value, deriv = np.asarray(value, dtype=float), np.asarray(deriv, dtype=float)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(deriv))
    assert np.allclose(value, _exact()[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", _BACKENDS)
def test_vector_code_is_stable_at_huge_logits(backend, request):
    if backend == "jax":
        request.getfixturevalue("jax64")
    r = matcalc.grad("cross_entropy(z, y) + logsumexp(z) + bce(z, y)", "z")
    f = compile_function(function_code(r, backend, with_value=True))
    z, y = np.array([1000.0, -1000.0, 0.0]), np.array([0.0, 1.0, 0.0])
    value, deriv = (np.asarray(a, dtype=float) for a in f(z, y))
    assert np.isclose(value, 2000.0 + 1000.0 + (1000.0 + 1000.0 + np.log(2)), rtol=1e-12)
    assert np.all(np.isfinite(deriv))
