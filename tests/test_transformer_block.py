"""A whole pre-norm transformer block, end to end: single-head attention with projections, residuals,
layer norms, a GELU MLP and a cross-entropy head over a batch of tokens. matcalc derives the gradient
with respect to every weight; the generated PyTorch code is checked against torch.autograd and the
generated NumPy code against finite differences, both of forward passes written here by hand."""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import matcalc
from matcalc.codegen import function_code

from test_codegen import compile_function

HAVE_TORCH = importlib.util.find_spec("torch") is not None

H1 = "layernorm(X)"
ATTENTION = f"softmax({H1}*Wq*({H1}*Wk)'/sqrt(cols(Wq)))*{H1}*Wv"
X1 = f"(X + {ATTENTION}*Wo)"                                   # attention sublayer, residual
X2 = f"({X1} + gelu(layernorm({X1})*W1')*W2')"                # MLP sublayer, residual
LOSS = f"cross_entropy({X2}*Wout, Y)"                          # the head, summed over the batch
LET = {"X": "matrix(B,d)", "Wq": "matrix(d,h)", "Wk": "matrix(d,h)", "Wv": "matrix(d,d)", "Wo": "matrix(d,d)",
       "W1": "matrix(f,d)", "W2": "matrix(d,f)", "Wout": "matrix(d,c)", "Y": "onehot(B,c)"}
WEIGHTS = ["Wq", "Wk", "Wv", "Wo", "W1", "W2", "Wout"]
SIZES = {"B": 6, "d": 4, "h": 3, "f": 5, "c": 3}


def _values(seed=0):
    rng = np.random.default_rng(seed)
    vals = {}
    for name, decl in LET.items():
        rows, cols = (SIZES[s] for s in decl[decl.index("(") + 1:-1].split(","))
        vals[name] = rng.standard_normal((rows, cols)) / np.sqrt(cols)
    vals["Y"] = np.eye(SIZES["c"])[rng.integers(0, SIZES["c"], SIZES["B"])]
    return vals


def _numpy_loss(v):
    def layernorm(x):
        mu = x.mean(axis=1, keepdims=True)
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True))

    def softmax(s):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def gelu(x):
        return x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))

    h = layernorm(v["X"])
    q, k, val = h @ v["Wq"], h @ v["Wk"], h @ v["Wv"]
    x1 = v["X"] + softmax(q @ k.T / math.sqrt(q.shape[1])) @ val @ v["Wo"]
    x2 = x1 + gelu(layernorm(x1) @ v["W1"].T) @ v["W2"].T
    z = x2 @ v["Wout"]
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return -(v["Y"] * log_p).sum()


def _finite_differences(v, wrt, h=1e-6):
    out = np.zeros_like(v[wrt])
    for i in np.ndindex(out.shape):
        up, down = dict(v), dict(v)
        up[wrt], down[wrt] = v[wrt].copy(), v[wrt].copy()
        up[wrt][i] += h
        down[wrt][i] -= h
        out[i] = (_numpy_loss(up) - _numpy_loss(down)) / (2 * h)
    return out


@pytest.fixture(scope="module")
def results():
    return {w: matcalc.grad(LOSS, w, let=LET) for w in WEIGHTS}


def _call(result, backend, vals):
    f = compile_function(function_code(result, backend))
    return f(*[vals[n] for n in result.symbols])


@pytest.mark.parametrize("wrt", WEIGHTS)
def test_every_weight_is_verified(results, wrt):
    assert results[wrt].verify(trials=2, seed=4).passed


@pytest.mark.parametrize("wrt", WEIGHTS)
def test_numpy_code_against_finite_differences(results, wrt):
    vals = _values()
    got = np.asarray(_call(results[wrt], "numpy", vals))
    want = _finite_differences(vals, wrt)
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8), np.abs(got - want).max()


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("wrt", WEIGHTS)
def test_torch_code_against_autograd(results, wrt):
    import torch
    import torch.nn.functional as F
    vals = _values(seed=1)
    t = {n: torch.tensor(a, dtype=torch.float64, requires_grad=(n == wrt)) for n, a in vals.items()}
    h = F.layer_norm(t["X"], (SIZES["d"],), eps=0.0)
    attention = torch.softmax(h @ t["Wq"] @ (h @ t["Wk"]).T / math.sqrt(SIZES["h"]), dim=-1) @ h @ t["Wv"]
    x1 = t["X"] + attention @ t["Wo"]
    x2 = x1 + F.gelu(F.layer_norm(x1, (SIZES["d"],), eps=0.0) @ t["W1"].T) @ t["W2"].T
    loss = F.cross_entropy(x2 @ t["Wout"], t["Y"].argmax(dim=1), reduction="sum")
    (want,) = torch.autograd.grad(loss, t[wrt])
    got = _call(results[wrt], "torch", {n: torch.tensor(a, dtype=torch.float64) for n, a in vals.items()})
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12), (got - want).abs().max()
