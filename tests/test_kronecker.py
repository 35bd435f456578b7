"""Kronecker products, vec, the commutation matrix, product sizes, and derivatives of and by matrices
in vec form (Magnus & Neudecker): each result checked against finite differences by the verifier and
against an independent NumPy computation of the same derivative, column-major."""
from __future__ import annotations

import numpy as np
import pytest
from cli_runner import invoke

import matcalc
from matcalc.codegen import function_code
from matcalc.errors import ShapeError, UnsupportedError
from matcalc.shapes import Product, fmt_shape, size_names, size_product, size_value
from matcalc.verify import check

from catalogue_points import rel_error
from test_codegen import HAVE_JAX, HAVE_TORCH, compile_function


# ---------------------------------------------------------------- sizes that are products

def test_size_product_is_a_monomial_of_names():
    assert size_product("m", "n") == size_product("n", "m") == Product(1, (("m", 1), ("n", 1)))
    assert str(size_product("m", "n")) == "mn" and str(size_product("n", "n")) == "n²"
    assert str(size_product(2, "n")) == "2n" and str(size_product("d1", "d2")) == "d1·d2"
    assert size_product("n", 1) == "n" and size_product(2, 3) == 6    # no product: a name or a number
    assert size_value(size_product("m", "n", "n"), {"m": 2, "n": 3}) == 18
    assert size_names(size_product("m", "n")) == ("m", "n")


@pytest.mark.parametrize("expr, let, shape", [
    ("kron(A, B)", {"A": "matrix(m,n)", "B": "matrix(p,q)"}, "mp×nq"),
    ("A ⊗ B", {"A": "matrix(m,n)", "B": "matrix(p,q)"}, "mp×nq"),
    ("vec(X)", {"X": "matrix(m,n)"}, "mn"),
    ("commutation(m, n)", {}, "mn×mn"),
    ("kron(A, B)", {"A": "matrix(2,3)", "B": "matrix(m,n)"}, "2m×3n"),
    ("kron(X, X)", {"X": "matrix(n,n)"}, "n²×n²"),
    ("A*vec(X)", {"X": "matrix(m,n)"}, "k"),                 # A's columns become mn
])
def test_product_shapes_type_and_print(expr, let, shape):
    assert fmt_shape(matcalc.parse(expr, let).shape) == shape


def test_a_free_size_takes_a_product_and_a_common_factor_cancels():
    p = matcalc.parse("A*vec(X) + kron(B, C)*y", {"X": "matrix(m,n)", "B": "matrix(k,m)", "C": "matrix(1,n)"})
    assert fmt_shape(p.symbols["A"].shape) == "k×mn"
    p = matcalc.parse("kron(x, y) + kron(x, z)")           # mn = mk: n = k
    assert p.symbols["y"].shape == p.symbols["z"].shape


@pytest.mark.parametrize("expr, let", [
    ("kron(A, B)*vec(X)", None),                            # np = qr: no unique solution, refused
    ("A*vec(X)", {"A": "matrix(m,N)", "X": "matrix(m,n)"}),  # a named size is not a product
    ("vec(X) + x", {"X": "matrix(m,n)", "x": "vector(5)"}),
])
def test_products_that_do_not_follow_are_shape_errors(expr, let):
    with pytest.raises(ShapeError):
        matcalc.parse(expr, let)


# ---------------------------------------------------------------- the ops

@pytest.mark.parametrize("expr, text, latex, source", [
    ("kron(A, B)", "A ⊗ B", r"\mathbf{A} \otimes \mathbf{B}", "kron(A, B)"),
    ("kron(A*B, C)*D", "(AB ⊗ C)D", r"(\mathbf{A}\mathbf{B} \otimes \mathbf{C})\mathbf{D}", "kron(A*B, C)*D"),
    ("kron(A, B)'", "Aᵀ ⊗ Bᵀ", r"\mathbf{A}^\top \otimes \mathbf{B}^\top", "kron(A', B')"),
    ("vec(ones(m, n))", "𝟏", r"\mathbf{1}", "ones(m*n)"),      # vec(𝟏𝟏ᵀ) = 𝟏: the Hessian of var(X)
    ("A ⊗ B*C", "A ⊗ BC", r"\mathbf{A} \otimes \mathbf{B}\mathbf{C}", "kron(A, B*C)"),   # AC ⊗ BD
    ("D .* E ⊗ F", "(D ⊙ E) ⊗ F", r"(\mathbf{D} \odot \mathbf{E}) \otimes \mathbf{F}", "kron(D.*E, F)"),
    ("kron(2*A, alpha*B)", "2αA ⊗ B", r"2\alpha\mathbf{A} \otimes \mathbf{B}", "2*alpha*kron(A, B)"),
    ("kron(alpha, X)", "αX", r"\alpha\mathbf{X}", "alpha*X"),
    ("kron(x, y')", "xyᵀ", r"\mathbf{x}\mathbf{y}^\top", "x*y'"),
    ("vec(X)", "vec(X)", r"\operatorname{vec}(\mathbf{X})", "vec(X)"),
    ("vec(x')", "x", r"\mathbf{x}", "x"),
    ("vec(a*b')", "b ⊗ a", r"\mathbf{b} \otimes \mathbf{a}", "kron(b, a)"),
    ("commutation(m, n)", "Kₘₙ", "K_{mn}", "commutation(m, n)"),
    ("commutation(m, n)'", "Kₙₘ", "K_{nm}", "commutation(n, m)"),
])
def test_printers(expr, text, latex, source):
    p = matcalc.parse(expr)
    assert (p.text, p.latex(), p.canonical) == (text, latex, source)
    assert matcalc.parse(p.canonical, p.declarations()).expr is p.expr


def test_commutation_matrix_takes_vec_x_to_vec_x_transposed():
    X = np.arange(12.0).reshape(3, 4)
    p = matcalc.parse("commutation(m, n)*vec(X)", {"X": "matrix(m,n)"})
    got = p.typed.at({"X": X}, {"m": 3, "n": 4})
    assert np.array_equal(got.reshape(-1), X.T.reshape(-1, order="F"))
    assert np.array_equal(p.typed.canonical_at({"X": X}, {"m": 3, "n": 4}), got)


# ---------------------------------------------------------------- Jacobians and Hessians, and independent numbers

def _vec(a):
    return np.asarray(a).reshape(-1, order="F")


def _inv(X):
    return np.linalg.inv(X)


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# (kind, expr, wrt, let, text, the derivative by NumPy alone: vals -> 2-D array)
CASES = [
    ("jacobian", "A*X*B", "X", None, "Bᵀ ⊗ A", lambda v: np.kron(v["B"].T, v["A"])),
    ("jacobian", "X'", "X", None, "Kₘₙ", None),
    ("jacobian", "inv(X)", "X", None, "−X⁻ᵀ ⊗ X⁻¹", lambda v: -np.kron(_inv(v["X"]).T, _inv(v["X"]))),
    ("jacobian", "X'*X", "X", None, "(Xᵀ ⊗ I) Kₘₙ + I ⊗ Xᵀ", None),
    ("jacobian", "W*x", "W", None, "xᵀ ⊗ I", lambda v: np.kron(v["x"].T, np.eye(v["W"].shape[0]))),
    ("jacobian", "exp(X)", "X", None, "diag(vec(exp(X)))", lambda v: np.diag(_vec(np.exp(v["X"])))),
    ("jacobian", "tanh(W*x)", "W", None, "xᵀ ⊗ diag(𝟏 − tanh(Wx)²)",
     lambda v: np.kron(v["x"].T, np.diag(1 - np.tanh(v["W"] @ v["x"]).reshape(-1) ** 2))),
    ("jacobian", "tr(A*X)", "X", None, "vec(Aᵀ)ᵀ", lambda v: _vec(v["A"].T)[None, :]),
    ("hessian", "logdet(X)", "X", None, "−(X⁻¹ ⊗ X⁻ᵀ) Kₙₙ", None),
    ("hessian", "tr(X'*A*X)", "X", None, "I ⊗ (A + Aᵀ)",
     lambda v: np.kron(np.eye(v["X"].shape[1]), v["A"] + v["A"].T)),
    ("hessian", "norm(A*X - B)^2", "X", None, "2I ⊗ AᵀA",
     lambda v: 2 * np.kron(np.eye(v["X"].shape[1]), v["A"].T @ v["A"])),
    ("hessian", "tr(inv(X)*A)", "X", None, "(X⁻¹AX⁻¹ ⊗ X⁻ᵀ + X⁻¹ ⊗ X⁻ᵀAᵀX⁻ᵀ) Kₙₙ", None),
    ("hessian", "cross_entropy(W*x, y)", "W", {"y": "probability"}, "xxᵀ ⊗ (diag(s) − ssᵀ)  where s = softmax(Wx)",
     lambda v: np.kron(v["x"] @ v["x"].T, np.diag(_softmax(v["W"] @ v["x"]).reshape(-1))
                       - _softmax(v["W"] @ v["x"]) @ _softmax(v["W"] @ v["x"]).T)),
    ("hessian", "tr(X'*X)", "X", None, "2I", None),
    ("hessian", "(a'*X*b)^2", "X", None, "2bbᵀ ⊗ aaᵀ",
     lambda v: 2 * np.kron(v["b"] @ v["b"].T, v["a"] @ v["a"].T)),
]


def _commutation(m, n):
    """K_mn by its definition, entry by entry: K vec(A) = vec(Aᵀ) for A m×n."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[j + n * i, i + m * j] = 1
    return k


_BY_DEFINITION = {    # the rest, with the commutation matrix built entry by entry
    "X'": lambda v: _commutation(*v["X"].shape),
    "X'*X": lambda v: np.kron(np.eye(v["X"].shape[1]), v["X"].T)
    + np.kron(v["X"].T, np.eye(v["X"].shape[1])) @ _commutation(*v["X"].shape),
    "logdet(X)": lambda v: -_commutation(*v["X"].shape) @ np.kron(_inv(v["X"]).T, _inv(v["X"])),
    "tr(inv(X)*A)": lambda v: _commutation(*v["X"].shape) @ (
        np.kron(_inv(v["X"]).T, _inv(v["X"]) @ v["A"] @ _inv(v["X"]))
        + np.kron(_inv(v["X"]).T @ v["A"].T @ _inv(v["X"]).T, _inv(v["X"]))),
    "tr(X'*X)": lambda v: 2 * np.eye(v["X"].size),
}


@pytest.mark.parametrize("kind, expr, wrt, let, text, numpy", CASES, ids=[c[1] for c in CASES])
def test_derivative_of_or_by_a_matrix(kind, expr, wrt, let, text, numpy):
    r = matcalc.derivative(kind, expr, wrt, let)
    assert r.text == text
    assert r.verify(trials=3).passed
    from catalogue_points import point
    from matcalc.numeric import evaluate
    sizes, vals = point(r, seed=2)
    want = (numpy or _BY_DEFINITION[expr])(vals)
    assert rel_error(evaluate(r.expr, vals, sizes), want) < 1e-10


@pytest.mark.parametrize("expr, hessian", [
    ("var(X)", lambda n: 2 * (np.eye(n) / n - np.ones((n, n)) / n ** 2)),
    ("mean(X)^2", lambda n: 2 * np.ones((n, n)) / n ** 2),
])
def test_mean_of_a_matrix_has_a_jacobian_in_vec_form(expr, hessian):
    # mean's Jacobian rule takes vec of a matrix argument, as sum's does (it was for columns only,
    # and the Hessian of var(X) by X was refused)
    from catalogue_points import point
    from matcalc.numeric import evaluate
    r = matcalc.hessian(expr, "X")
    assert r.verify(trials=3).passed
    sizes, vals = point(r, seed=2)
    assert rel_error(evaluate(r.expr, vals, sizes), hessian(vals["X"].size)) < 1e-10


def test_jacobians_of_diag_and_triangles_are_masks():
    for expr, text in (("diag(x)", "diag(vec(I)) (𝟏 ⊗ I)"), ("triu(X)", "diag(vec(triu(𝟏𝟏ᵀ)))")):
        r = matcalc.jacobian(expr, expr[5])
        assert r.text == text and r.verify(trials=2).passed


def test_jacobian_shapes_are_numerator_layout_in_vec_form():
    assert fmt_shape(matcalc.jacobian("A*X*B", "X", {"A": "matrix(p,m)", "X": "matrix(m,n)",
                                                     "B": "matrix(n,q)"}).shape) == "pq×mn"
    assert fmt_shape(matcalc.hessian("logdet(X)", "X").shape) == "n²×n²"
    assert fmt_shape(matcalc.jacobian("W*x", "W").shape) == "m×mn"


def test_the_verifier_takes_vec_column_major():
    """Bᵀ ⊗ A is right for vec(AXB) column-major; its row-major twin A ⊗ Bᵀ must fail."""
    r = matcalc.jacobian("A*X*B", "X")
    wrong = matcalc.parse("kron(A, B')", {n: f"matrix({s[0]},{s[1]})" for n, (_, s) in r.symbols.items()}).expr
    typed = r.function.typed
    assert not check("jacobian", typed, "X", wrong, r.symbols, typed.domains(), trials=2).passed


@pytest.mark.parametrize("kind, expr, wrt, words", [
    ("grad", "a'*vec(X)", "X", "matrix whose columns stack"),
    ("grad", "tr(kron(A, X)*B)", "X", "Kronecker product of two matrices"),
])
def test_refusals_say_which_form_is_missing(kind, expr, wrt, words):
    with pytest.raises(UnsupportedError, match=words):
        matcalc.derivative(kind, expr, wrt)


def test_cli_jacobian_by_a_matrix_no_longer_a_tensor():
    out = invoke(["jacobian", "A*X", "X"])
    assert out.exit_code == 0 and "I ⊗ A" in out.output and "✓ verified" in out.output
    assert "tensor" not in out.output


# ---------------------------------------------------------------- generated code

_CODE = [("jacobian", "A*X'*B", "X", None), ("hessian", "cross_entropy(W*x, y)", "W", {"y": "probability"}),
         ("hessian", "logdet(X)", "X", None), ("jacobian", "kron(A, X)", "X", None),
         ("jacobian", "vec(A*x*b')", "x", None)]


def _args(r, seed=4):
    from catalogue_points import point
    from test_codegen import user_args
    sizes, vals = point(r, seed)
    return sizes, vals, user_args(r, vals)


@pytest.mark.parametrize("kind, expr, wrt, let", _CODE, ids=[c[1] for c in _CODE])
def test_generated_code_agrees_in_every_backend(kind, expr, wrt, let):
    from matcalc.numeric import evaluate
    r = matcalc.derivative(kind, expr, wrt, let)
    sizes, vals, args = _args(r)
    want = evaluate(r.expr, vals, sizes)
    got = compile_function(function_code(r, "numpy"))(*args)
    assert rel_error(got, want) < 1e-10
    if HAVE_TORCH:
        import torch
        got = compile_function(function_code(r, "torch"))(*[torch.as_tensor(a) for a in args])
        assert rel_error(got.numpy(), want) < 1e-10
    if HAVE_JAX:
        import jax
        jax.config.update("jax_enable_x64", True)
        got = compile_function(function_code(r, "jax"))(*args)
        assert rel_error(np.asarray(got), want) < 1e-10


def test_generated_code_checks_product_sizes():
    r = matcalc.jacobian("A*vec(X)", "X", {"X": "matrix(m,n)"})
    f = compile_function(function_code(r, "numpy"))
    A, X = np.ones((2, 6)), np.ones((2, 3))
    assert np.shape(f(A, X)) == (2, 6)
    with pytest.raises(ValueError, match="size mn"):
        f(np.ones((2, 5)), X)


def test_torch_commutation_matrix_is_the_column_major_one():
    if not HAVE_TORCH:
        pytest.skip("PyTorch is not installed")
    r = matcalc.jacobian("X'", "X", {"X": "matrix(m,n)"})
    import torch
    got = compile_function(function_code(r, "torch"))(torch.zeros(3, 4, dtype=torch.float64))
    assert np.array_equal(got.numpy(), _commutation(3, 4))


def test_newton_direction_of_the_gaussian_log_likelihood_is_x_minus_xsx():
    """The README's Newton step: H vec(Δ) = −vec(∇f) for f = logdet(X) − tr(SX) gives Δ = X − XSX."""
    from matcalc.numeric import evaluate
    let = {"S": "symmetric"}
    g, h = matcalc.grad("logdet(X) - tr(S*X)", "X", let), matcalc.hessian("logdet(X) - tr(S*X)", "X", let)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    X, S = a @ a.T + 4 * np.eye(4), b @ b.T / 4
    vals, sizes = {"X": X, "S": S}, {"n": 4}
    step = np.linalg.solve(evaluate(h.expr, vals, sizes), -_vec(evaluate(g.expr, vals, sizes)))
    assert rel_error(step.reshape(4, 4, order="F"), X - X @ S @ X) < 1e-10


def test_latex_of_kronecker_results_compiles(tmp_path):
    from test_latex import HAVE_LATEX, _compile
    if not HAVE_LATEX:
        pytest.skip("TeX is not installed")
    results = [matcalc.derivative(kind, expr, wrt, let) for kind, expr, wrt, let, _, _ in CASES]
    formulas = [(f"{r.kind} {r.function.source}", "$" + r.latex_of(style) + "$") for r in results
                for style in ("bold", "plain")]
    formulas.append(("commutation", "$" + matcalc.parse("commutation(m, n)*vec(X)", {"X": "matrix(m,n)"}).latex() + "$"))
    _compile(formulas, tmp_path)


def test_display_equation_names_vec_where_a_matrix_is_involved():
    from matcalc.output import latex_equation
    assert r"\partial \operatorname{vec}(\mathbf{X})\, \partial \operatorname{vec}(\mathbf{X})^\top" in \
        latex_equation(matcalc.hessian("logdet(X)", "X"))
    assert r"\frac{\partial \operatorname{vec}(\mathbf{A}\mathbf{X})}{\partial \operatorname{vec}(\mathbf{X})^\top}" \
        in latex_equation(matcalc.jacobian("A*X", "X"))
    assert "vec" not in latex_equation(matcalc.jacobian("A*x", "x"))


def test_steps_show_the_identification_with_its_source():
    r = matcalc.jacobian("A*X*B", "X", steps=True)
    last = r.steps[-1]
    assert last.rule.startswith("identification") and "Magnus & Neudecker" in last.cite
    assert str(last.adjoint) == "Bᵀ ⊗ A"
    out = invoke(["jacobian", "A*X*B", "X", "--steps", "--no-verify"])
    assert out.exit_code == 0 and "before  A dX B" in out.output and "after   Bᵀ ⊗ A" in out.output


def test_an_undecided_product_of_sizes_hints_at_declaring_them():
    out = invoke(["show", "kron(A, B)*vec(X)"])
    assert out.exit_code == 2 and "inner sizes np and qr differ" in out.output and "declare the sizes" in out.output
