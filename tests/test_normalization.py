"""mean, var, max, min, layernorm and rmsnorm: textbook results, verified; generated code against
PyTorch's own layer_norm and rms_norm; the behaviour at a constant row; the verifier's domains."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import matcalc
from matcalc.codegen import function_code
from matcalc.ops.base import FUNCTIONS
from matcalc.ops.domains import draw

from test_codegen import compile_function

HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.parametrize("kind,expr,wrt,text", [
    ("grad", "norm(X*w - y)**2 / rows(X)", "w", "2Xᵀ(Xw − y)/m"),
    ("grad", "mean((X*w - y).^2)", "w", "2Xᵀ(Xw − y)/m"),
    ("grad", "mean(X)", "X", "𝟏𝟏ᵀ/(mn)"),
    ("grad", "var(x)", "x", "2(x − mean(x) 𝟏)/n"),
    ("hessian", "var(x)", "x", "2(I − 𝟏𝟏ᵀ/n)/n"),
    ("jacobian", "x - mean(x)*ones(len(x))", "x", "I − 𝟏𝟏ᵀ/n"),
    ("grad", "max(A*x)", "x", "Aᵀ ismax(Ax)"),
    ("grad", "min(X)", "X", "ismin(X)"),
    ("jacobian", "layernorm(x)", "x", "(I − hhᵀ/n − 𝟏𝟏ᵀ/n)/var(x)^(1/2)  where h = layernorm(x)"),
    ("vjp", "layernorm(x, eps)", "x", "(g − mean(g ⊙ h) h − mean(g) 𝟏)/(var(x) + ε)^(1/2)  where h = layernorm(x, ε)"),
    ("vjp", "rmsnorm(x)", "x", "(g − mean(g ⊙ h) h)/mean(x²)^(1/2)  where h = rmsnorm(x)"),
    ("vjp", "layernorm(X)", "X", "diag(𝟏 ⊘ (((X − X𝟏𝟏ᵀ/n)∘²)𝟏/n)^(1/2)) (G − diag((G ⊙ h)𝟏) h/n − G𝟏𝟏ᵀ/n)  "
                                 "where h = layernorm(X)"),
    ("vjp", "x + W2*gelu(W1*layernorm(x))", "x", "(t₁ − mean(h ⊙ t₁) h − mean(t₁) 𝟏)/var(x)^(1/2) + g  where "
                                                 "h = layernorm(x), t₁ = W₁ᵀ((W₂ᵀg) ⊙ ((W₁h) ⊙ φ(W₁h) + Φ(W₁h)))"),
    ("jacobian", "rmsnorm(x)", "x", "(I − hhᵀ/n)/mean(x²)^(1/2)  where h = rmsnorm(x)"),
])
def test_textbook_forms_verified(kind, expr, wrt, text):
    r = matcalc.derivative(kind, expr, wrt)
    assert r.text == text
    assert r.verify().passed


@pytest.mark.parametrize("expr,wrt", [
    ("sum(C .* layernorm(X, eps))", "X"), ("sum(C .* layernorm(X))", "X"), ("sum(C .* rmsnorm(X, eps))", "X"),
    ("sum(C .* layernorm(X, eps))", "eps"), ("a'*rmsnorm(W*x, eps)", "W"), ("var(X)", "X"), ("max(X*Y)", "Y"),
    ("layernorm(x)'*layernorm(x)", "x"),          # = n: its gradient is 0
])
def test_row_wise_and_composed_derivatives_verify(expr, wrt):
    assert matcalc.grad(expr, wrt).verify(trials=4).passed


def test_constant_row_without_eps_is_not_defined_and_with_eps_is_zero():
    ln, rms = FUNCTIONS["layernorm"].np, FUNCTIONS["rmsnorm"].np
    X = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    with np.errstate(all="ignore"):
        assert np.all(np.isnan(ln(X)[1])) and np.all(np.isfinite(ln(X)[0]))
    assert np.allclose(ln(X, np.array([[1e-5]]))[1], 0)
    assert np.allclose(rms(np.zeros((3, 1)), np.array([[1e-5]])), 0)


def test_the_verifier_draws_spread_rows_and_untied_entries():
    rng = np.random.default_rng(0)
    for shape in ((5, 1), (4, 6)):
        x = draw("matrix", shape, {"spread"}, rng)
        axis = 0 if shape[1] == 1 else 1
        assert np.all(x.std(axis=axis) >= 0.5 - 1e-12)
        y = np.sort(draw("matrix", shape, {"untied"}, rng), axis=None)
        assert np.all(np.diff(y) >= 0.1 - 1e-12)


def _numpy_args(shape, rng):
    return rng.standard_normal(shape) * 3 + 1


@pytest.mark.parametrize("name", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("shape", [(6,), (4, 6)])
def test_generated_numpy_value_is_the_definition(name, shape):
    rng = np.random.default_rng(1)
    x = _numpy_args(shape, rng)
    var = "x" if len(shape) == 1 else "X"
    r = matcalc.vjp(f"{name}({var}, eps)", var)
    f = compile_function(function_code(r, "numpy", with_value=True))
    g = rng.standard_normal(shape)
    value, _ = f(x, 1e-5, g)
    m = x - x.mean(-1, keepdims=True) if name == "layernorm" else x
    s = np.sqrt((x.var(-1, keepdims=True) if name == "layernorm" else (x ** 2).mean(-1, keepdims=True)) + 1e-5)
    assert np.allclose(value, m / s, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("shape", [(6,), (4, 6)])
def test_generated_torch_matches_torch_layer_norm_and_its_autograd(name, shape):
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(2)
    var = "x" if len(shape) == 1 else "X"
    r = matcalc.vjp(f"{name}({var}, eps)", var)
    f = compile_function(function_code(r, "torch", with_value=True))
    x = torch.tensor(_numpy_args(shape, rng), dtype=torch.float64, requires_grad=True)
    g = torch.tensor(rng.standard_normal(shape), dtype=torch.float64)
    eps = 1e-5
    value, vjp = f(x, eps, g)
    want = F.layer_norm(x, shape[-1:], eps=eps) if name == "layernorm" else F.rms_norm(x, shape[-1:], eps=eps)
    (want_vjp,) = torch.autograd.grad(want, x, g)
    assert torch.allclose(value, want, rtol=1e-10, atol=1e-12)
    assert torch.allclose(vjp, want_vjp, rtol=1e-9, atol=1e-12)


def test_generated_jax_layernorm_matches_jax_grad():
    pytest.importorskip("jax")
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    r = matcalc.grad("sum(C .* layernorm(X, eps))", "X")
    f = compile_function(function_code(r, "jax"))
    rng = np.random.default_rng(3)
    C, X = rng.standard_normal((3, 5)), _numpy_args((3, 5), rng)

    def value(X):
        return jnp.sum(C * (X - X.mean(-1, keepdims=True)) / jnp.sqrt(X.var(-1, keepdims=True) + 0.1))
    assert np.allclose(f(C, X, 0.1), jax.grad(value)(X), rtol=1e-9)
