"""Sizes as scalars (len, rows, cols): typed, printed by their names, computed by the judge, the verifier
and generated code; sums of ones and traces of identities simplify to them."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from cli_runner import invoke

import matcalc
from matcalc import algebra as alg
from matcalc.codegen import function_code
from matcalc.errors import MatcalcError, ParseError, ShapeError
from matcalc.printing import source

from test_codegen import compile_function


@pytest.mark.parametrize("expr,wrt,text", [
    ("norm(X*w - y)**2 / rows(X)", "w", "2Xᵀ(Xw − y)/m"),
    ("sum(x)**2 / len(x)", "x", "2 sum(x) 𝟏/n"),
    ("x'*x * cols(A) * rows(A)", "x", "2knx"),             # x: m, A: n×k
    ("x'*x * rows(x) * cols(x)", "x", "2nx"),          # rows of a vector: its length; cols: 1
    ("len(x')*sum(x)", "x", "n𝟏"),                     # a row vector has a length too
    ("x'*x / sum(ones(m, k))", "x", "2x/(km)"),
])
def test_sizes_print_by_name_and_verify(expr, wrt, text):
    r = matcalc.grad(expr, wrt)
    assert r.text == text
    assert r.verify().passed


def test_sums_of_ones_and_traces_of_identities_are_sizes():
    """sum(𝟏ₙ) = n, sum(𝟏ₘ𝟏ₙᵀ) = mn, tr(Iₙ) = n: never printed as sum(𝟏) or tr(I)."""
    n = alg.size("n")
    assert matcalc.parse("sum(ones(n))").expr is n
    assert matcalc.parse("tr(eye(n))").expr is n
    assert matcalc.parse("sum(ones(m, n))").expr is alg.mul(alg.size("m"), n)
    assert matcalc.parse("sum(ones(3))").expr is alg.const(3)
    assert str(matcalc.parse("sum(ones(m, n))").expr) == "mn"
    for sized in ("tr(ones(n, n))", "sum(eye(n))", "norm(eye(n))**2", "norm(ones(n))**2"):
        assert matcalc.parse(sized).expr is n, sized
    r = matcalc.grad("(x - sum(x)/len(x)*ones(len(x)))'*(x - sum(x)/len(x)*ones(len(x)))", "x")
    assert "sum(𝟏)" not in r.text and r.verify().passed


def test_a_size_is_written_where_a_size_is_expected():
    p = matcalc.parse("ones(len(x))'*A*ones(cols(A)) + tr(eye(rows(A))*B)")
    assert p.symbols["x"].shape[0] == p.symbols["A"].shape[0]
    assert p.symbols["B"].shape == (p.symbols["A"].shape[0],) * 2
    r = matcalc.grad("ones(len(x))'*A*ones(cols(A))", "A")
    assert r.text == "𝟏𝟏ᵀ" and r.verify().passed


def test_a_declaration_may_name_another_variable_s_size():
    p = matcalc.parse("x'*A*y", let="A:matrix(len(x), rows(y))")
    assert p.symbols["A"].shape == (p.symbols["x"].shape[0], p.symbols["y"].shape[0])
    p = matcalc.parse("tr(A*X)", let={"A": "matrix(cols(X), n)", "S": "spd(3)"})
    assert p.symbols["A"].shape == ("m", "n") and p.symbols["X"].shape == ("n", "m")
    with pytest.raises(MatcalcError, match="names Z, which is not in the expression"):
        matcalc.parse("tr(A*X)", let="A:matrix(rows(Z),n)")
    with pytest.raises(MatcalcError, match="len needs a vector"):
        matcalc.parse("tr(A*X)", let="A:matrix(len(X), n)")
    r = invoke(["grad", "x'*A*x", "x", "--let", "A:matrix(len(x),len(x)),S:spd"])
    assert r.exit_code == 0 and r.stdout.startswith("(A + Aᵀ)x")


def test_len_of_a_matrix_is_an_error_with_a_caret_and_a_hint():
    with pytest.raises(ShapeError) as err:
        matcalc.grad("len(X)*x'*x", "x")
    assert "len needs a vector" in str(err.value) and "rows(X) or cols(X)" in err.value.hint
    r = invoke(["grad", "x'*x + len(X)", "x"])
    assert r.exit_code == 2 and "        ^~~" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ParseError, match="a size is"):
        matcalc.parse("ones(len(x) + 1)")


def test_a_size_may_be_a_product_of_sizes_and_reads_back():
    p = matcalc.parse("commutation(n, n)*ones(n*n) + eye(n^2)*ones(rows(X)*cols(X))", let="X:matrix(n,n)")
    assert str(p.expr.shape[0]) == "n²" and p.text == "Kₙₙ 𝟏 + 𝟏"
    for expr in ("ones(m*n)", "ones(2*n, n^2)", "vec(X)'*ones(rows(X)*cols(X))"):
        p = matcalc.parse(expr)
        assert matcalc.parse(source(p.expr), p.declarations()).expr is p.expr, expr
    r = invoke(["grad", "x'*x + ones(n^0)'*ones(n)", "x"])
    assert r.exit_code == 2 and "the power of a size is a whole number from 1 to 8" in r.stderr
    assert "^" in r.stderr.splitlines()[1] and "Traceback" not in r.stderr


def test_sizes_have_derivative_zero_and_are_constants():
    r = matcalc.grad("len(x)*rows(A)", "x")
    assert r.text == "0" and r.verify().passed
    assert matcalc.hessian("x'*x/len(x)", "x").text == "2I/n"


def test_eps_is_a_scalar_and_prints_as_epsilon():
    p = matcalc.parse("eps*x")
    assert p.symbols["eps"].kind == "scalar"
    r = matcalc.grad("x'*x/(len(x) + eps)", "x")
    assert r.text == "2x/(ε + n)" and "\\varepsilon" in r.latex


def test_generated_code_computes_sizes_from_the_shapes():
    r = matcalc.grad("norm(X*w - y)**2 / rows(X)", "w")
    assert "X.shape[0]" in r.numpy
    rng = np.random.default_rng(0)
    X, w, y = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    want = 2 * X.T @ (X @ w - y) / 5
    assert np.allclose(eval(r.numpy, {"np": np}, {"X": X, "w": w, "y": y}), want)
    assert np.allclose(compile_function(function_code(r, "numpy"))(X, w, y), want)


def test_source_of_a_size_reads_back_as_the_same_graph():
    p = matcalc.parse("x'*x/len(x)")
    s = source(p.expr)
    assert s == "(x'*x)/sum(ones(n))"
    assert matcalc.parse(s, p.declarations()).expr is p.expr


def test_a_size_in_sympy_is_its_integer_symbol():
    assert str(matcalc.grad("norm(X*w - y)**2 / rows(X)", "w").sympy) == "(2/m)*X.T*(X*w - y)"


def test_cli_subprocess_prints_a_size():
    r = subprocess.run(["matcalc", "grad", "norm(X*w - y)**2 / rows(X)", "w"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("2Xᵀ(Xw − y)/m\n") and "✓ verified" in r.stdout
