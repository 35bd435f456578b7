"""Batched layers and scaled dot-product attention in matrix form: the fused textbook answers (GW, GᵀX,
Gᵀ𝟏; (softmax(Z) − Y)ᵀX) and attention's backward pass as FlashAttention writes it, each verified by
finite differences; the row-sum rewrite it rests on, checked on its own."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import algebra as alg
from matcalc.simplify import row_sums

ATTENTION = "softmax(Q*K'/sqrt(cols(Q)))*V"
CASES = [
    # batched linear layer Y = XWᵀ + 𝟏bᵀ with upstream G
    ("vjp", "X*W' + ones(B)*b'", "X", None, "GW"),
    ("vjp", "X*W' + ones(B)*b'", "W", None, "GᵀX"),
    ("vjp", "X*W' + ones(B)*b'", "b", None, "Gᵀ𝟏"),
    # batched cross-entropy head
    ("grad", "cross_entropy(X*W' + ones(B)*b', Y)", "W", {"Y": "onehot"}, "(softmax(𝟏bᵀ + XWᵀ) − Y)ᵀX"),
    ("grad", "cross_entropy(X*W' + ones(B)*b', Y)", "b", {"Y": "onehot"}, "(softmax(𝟏bᵀ + XWᵀ) − Y)ᵀ𝟏"),
    ("grad", "cross_entropy(X*W' + ones(B)*b', Y)", "X", {"Y": "probability"}, "(softmax(𝟏bᵀ + XWᵀ) − Y)W"),
    # attention: ∇V = PᵀG, ∇S = P ⊙ (GVᵀ − rowsum(G ⊙ O)𝟏ᵀ), ∇Q = ∇S K/√d, ∇K = ∇Sᵀ Q/√d
    ("vjp", ATTENTION, "V", None, "softmax(QKᵀ/√n)ᵀ G"),
    ("vjp", ATTENTION, "Q", None, "(P ⊙ (GVᵀ − (G ⊙ (PV))𝟏𝟏ᵀ))K/√n  where P = softmax(QKᵀ/√n)"),
    ("vjp", ATTENTION, "K", None, "(P ⊙ (GVᵀ − (G ⊙ (PV))𝟏𝟏ᵀ))ᵀQ/√n  where P = softmax(QKᵀ/√n)"),
    ("vjp", "softmax(Q*K'/sqrt(cols(Q)) + M)*V", "Q", None,
     "(P ⊙ (GVᵀ − (G ⊙ (PV))𝟏𝟏ᵀ))K/√n  where P = softmax(QKᵀ/√n + M)"),
    ("vjp", "softmax(S)*V", "S", None, "P ⊙ (GVᵀ − (G ⊙ (PV))𝟏𝟏ᵀ)  where P = softmax(S)"),
]


@pytest.mark.parametrize("kind,expr,wrt,let,text", CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES])
def test_textbook_answers(kind, expr, wrt, let, text):
    r = matcalc.derivative(kind, expr, wrt, let)
    assert r.text == text
    report = r.verify(trials=3, seed=5)
    assert report.passed, report.summary()


@pytest.mark.parametrize("wrt", ["Wq", "Wk", "Wv", "X"])
def test_attention_with_projections(wrt):
    r = matcalc.vjp("softmax(X*Wq*(X*Wk)'/sqrt(cols(Wq)))*X*Wv", wrt)
    assert r.verify(trials=3, seed=1).passed


def test_attention_backward_against_an_independent_numpy_one():
    """FlashAttention's backward pass written by hand in NumPy (Dao et al. 2022, Appendix B.2)."""
    rng = np.random.default_rng(0)
    m, k, d, p = 4, 5, 3, 2
    Q, K, V, G = (rng.standard_normal(s) for s in ((m, d), (k, d), (k, p), (m, p)))
    S = Q @ K.T / np.sqrt(d)
    P = np.exp(S - S.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    dS = P * (G @ V.T - (G * (P @ V)).sum(1, keepdims=True))
    want = {"Q": dS @ K / np.sqrt(d), "K": dS.T @ Q / np.sqrt(d), "V": P.T @ G}
    for wrt, grad in want.items():
        r = matcalc.vjp(ATTENTION, wrt)
        f = eval(f"lambda np, Q, K, V, G: {r.numpy}")        # noqa: S307  (matcalc's own code)
        assert np.allclose(f(np, Q, K, V, G), grad, rtol=1e-12, atol=1e-12), wrt


def test_row_sums_of_a_hadamard_product_with_a_product():
    """(XY ⊙ C)𝟏 = (X ⊙ CYᵀ)𝟏 and 𝟏ᵀ(XY ⊙ C) = 𝟏ᵀ(Y ⊙ XᵀC), for any values (negative too)."""
    from matcalc.numeric import evaluate
    X, Y, C = alg.sym("X", ("m", "k")), alg.sym("Y", ("k", "n")), alg.sym("C", ("m", "n"))
    rows = alg.mul(alg.had(alg.mul(X, Y), C), alg.ones(("n", 1)))
    cols = alg.mul(alg.ones((1, "m")), alg.had(alg.mul(X, Y), C))
    rng = np.random.default_rng(3)
    vals = {"X": rng.standard_normal((4, 3)), "Y": rng.standard_normal((3, 5)), "C": rng.standard_normal((4, 5))}
    sizes = {"m": 4, "k": 3, "n": 5}
    for e in (rows, cols):
        got = row_sums(e)
        assert got is not e and got.shape == e.shape
        assert np.allclose(evaluate(got, vals, sizes), evaluate(e, vals, sizes), rtol=1e-13)
    # a product that is not of two inputs is left alone
    longer = alg.mul(alg.had(alg.mul(X, Y, alg.sym("Z", ("n", "n"))), C), alg.ones(("n", 1)))
    assert row_sums(longer) is longer
