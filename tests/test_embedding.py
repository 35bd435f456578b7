"""A matrix declared onehot is a selector (an embedding lookup): S*E is generated as the gather E[i] and
its adjoint SᵀG as a scatter-add (np.add.at, index_add, .at[].add), never a dense product with S; the
code agrees with the dense product, with finite differences and with torch.autograd / jax.grad."""
from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

import matcalc
from matcalc.codegen import function_code

from test_codegen import compile_function, jax64  # noqa: F401  (a fixture)

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_JAX = importlib.util.find_spec("jax") is not None
BACKENDS = ["numpy"] + (["torch"] if HAVE_TORCH else []) + (["jax"] if HAVE_JAX else [])
LET = {"S": "onehot"}

# (kind, expr, wrt, text, the dense product it equals, as a function of the values)
CASES = [
    ("vjp", "S*E", "E", "SᵀG", lambda v: v["S"].T @ v["G"]),
    ("vjp", "A*S", "A", "GSᵀ", lambda v: v["G"] @ v["S"].T),
    ("vjp", "A*S'", "A", "GS", lambda v: v["G"] @ v["S"]),
    ("grad", "sum(tanh(S*E*W))", "E", "Sᵀ(𝟏𝟏ᵀ − tanh(SEW)∘²)Wᵀ",
     lambda v: v["S"].T @ (1 - np.tanh(v["S"] @ v["E"] @ v["W"]) ** 2) @ v["W"].T),
    ("grad", "a'*S*E*b", "E", "Sᵀabᵀ", lambda v: np.outer(v["S"].T @ v["a"], v["b"])),
]


def _values(r, rng):
    from matcalc.ops.domains import draw
    sizes = dict(zip("mnkp", (5, 7, 3, 4)))
    out = {}
    for name, (kind, shape) in r.symbols.items():
        x = draw(kind, tuple(sizes.get(d, d) for d in shape), (), rng)
        out[name] = x[:, 0] if kind == "vector" else x
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,expr,wrt,text,dense", CASES, ids=[f"{c[1]}:{c[2]}" for c in CASES])
def test_one_hot_products_are_gathers_and_scatter_adds(kind, expr, wrt, text, dense, backend, request):
    if backend == "jax":
        request.getfixturevalue("jax64")
    r = matcalc.derivative(kind, expr, wrt, LET)
    assert r.text == text and r.verify(seed=2).passed
    code = function_code(r, backend)
    assert not re.search(r"\bS(\.T)? @|@ S\b|outer\(S", code), code        # no dense product with S
    assert any(op in code for op in ("add.at", "index_add", ".at[", "[i]", "[..., i]"))
    values = _values(r, np.random.default_rng(1))
    got = compile_function(code)(*[values[n] for n in r.symbols])
    assert np.allclose(np.asarray(got, dtype=float), dense(values), rtol=1e-12, atol=1e-12)


def test_the_scatter_add_of_an_embedding_gradient():
    r = matcalc.vjp("S*E", "E", let=LET)
    assert r.numpy == ("(lambda _o, _i, _r: (np.add.at(_o, _i, _r), _o)[1])"
                       "(np.zeros((S.shape[1], E.shape[1])), np.argmax(S, axis=-1), G)")
    env = dict(S=np.eye(3)[[0, 2, 2, 1]], E=np.zeros((3, 2)), G=np.arange(8.0).reshape(4, 2))
    assert np.allclose(eval(r.numpy, {"np": np}, env), env["S"].T @ env["G"])     # noqa: S307 (matcalc's code)
    torch_code = function_code(r, "torch")
    assert "index_add(0, i, G)" in torch_code
    assert ".at[i].add(G)" in function_code(r, "jax")


def test_a_repeated_token_adds_up():
    S = np.eye(4)[[2, 0, 2, 2]]        # token 2 three times
    G = np.arange(12.0).reshape(4, 3)
    f = compile_function(function_code(matcalc.vjp("S*E", "E", let=LET), "numpy"))
    got = f(S, np.zeros((4, 3)), G)
    assert np.allclose(got[2], G[0] + G[2] + G[3]) and np.allclose(got[[1, 3]], 0)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "jax"])    # JAX checks shapes only (jit)
def test_a_selector_that_is_not_one_hot_is_refused(backend):
    code = function_code(matcalc.vjp("S*E", "E", let=LET), backend)
    assert "a declared onehot matrix has a row that is not one-hot" in code
    f = compile_function(code)
    G, E = np.ones((2, 2)), np.zeros((3, 2))
    if backend == "torch":
        import torch
        G, E = torch.ones(2, 2), torch.zeros(3, 2)
    with pytest.raises(ValueError, match="S must have one-hot rows"):
        f(np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]), E, G)
    assert np.allclose(np.asarray(f(np.eye(3)[[1, 1]], E, G)), [[0, 0], [2, 2], [0, 0]])
