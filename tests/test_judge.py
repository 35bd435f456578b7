"""Never wrong in silence (issue 11): sound rewrites, a judge that evaluates the function as typed,
and a verdict that does not depend on scale.

Right answers are checked here against NumPy functions written by hand (not matcalc's evaluator)
and central differences of them, so a wrong rewrite shared by the engine and its evaluator would
still be caught.
"""
from __future__ import annotations

import numpy as np
import pytest
from cli_runner import invoke

import matcalc
from matcalc import algebra as alg
from matcalc.api import parse
from matcalc.errors import InternalError
from matcalc.verify import check


def _fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# (expression, variable, independent NumPy function of (x, a), its names' values)
HELD = [
    ("sum((x.^2).^0.5)", "x", lambda x, a: np.sum(np.sqrt(x ** 2))),
    ("sum((x.^2).^(3/2))", "x", lambda x, a: np.sum((x ** 2) ** 1.5)),
    ("((a'*x)^2)^0.5", "x", lambda x, a: np.sqrt((a @ x) ** 2)),
    ("sum(((x.^4).^(1/4)) .* x)", "x", lambda x, a: np.sum(np.abs(x) * x)),
    ("sum((x.^(-2)).^0.5)", "x", lambda x, a: np.sum(1 / np.abs(x))),
    ("sum(sqrt(x.^2))", "x", lambda x, a: np.sum(np.abs(x))),
    ("sum(log(x.^2))", "x", lambda x, a: np.sum(np.log(x ** 2))),
    ("sum(sign(x) .* x)", "x", lambda x, a: np.sum(np.abs(x))),
    ("sum(abs(x).^3)", "x", lambda x, a: np.sum(np.abs(x) ** 3)),
    ("(norm(x)^2)^0.5 * (a'*x)", "x", lambda x, a: np.linalg.norm(x) * (a @ x)),
    ("sum((-2*x).^2)", "x", lambda x, a: np.sum(4 * x ** 2)),
    ("sum(((a .* x).^2).^0.5)", "x", lambda x, a: np.sum(np.abs(a * x))),
]


@pytest.mark.parametrize("expr,wrt,fn", HELD, ids=[h[0] for h in HELD])
def test_rewrites_of_powers_and_signs_give_the_true_gradient(expr, wrt, fn):
    r = matcalc.grad(expr, wrt)
    assert r.verify().passed, r.text
    code = r.numpy
    rng = np.random.default_rng(3)
    for _ in range(4):
        x, a = rng.standard_normal(5) * 2, rng.standard_normal(5)      # negative entries too
        got = eval(code, {"np": np}, {"x": x, "a": a})      # noqa: S307 (matcalc's own output)
        want = _fd_grad(lambda xx: fn(xx, a), x)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_scalar_nested_power_is_the_absolute_value():
    r = matcalc.grad("(alpha^2)^0.5", "alpha")
    assert r.text == "sign(α)"
    assert matcalc.parse("sum((x.^2).^0.5)").text == "sum(abs(x))"


def test_a_fractional_power_is_not_distributed_over_factors_that_may_be_negative():
    # (xy)^½ = x^½ y^½ fails for x, y < 0; (0·(−1))^½ = 0 is not 0·nan
    assert "x ⊙ y" in matcalc.parse("sum((x.*y).^0.5)").text
    e = matcalc.parse("sum((exp(x).*y).^0.5)").text     # exp(x) > 0: distributing is sound
    assert "exp(x)" in e and "⊙" in e


# ------------------------------------------------------------------ the judge

def test_the_judge_catches_a_wrong_rewrite(monkeypatch):
    """With the old, unsound merge (u²)^½ = u put back, the verifier refuses: exit 3, never ✓."""
    monkeypatch.setattr(alg, "_merged_power", lambda b, f, e: (b, f * e))
    r = invoke(["grad", "sum((x.^2).^0.5)", "x"])
    assert r.exit_code == 3, r.output
    assert "internal error: the canonical form of the expression, sum(x), differs from the expression" \
        in r.stderr
    assert "✓" not in r.output and r.stdout == ""
    with pytest.raises(InternalError):
        matcalc.grad("((a'*x)^2)^0.5", "x").verify()


def test_the_function_as_typed_is_evaluated_from_the_syntax_tree():
    p = parse("sum((x.^2).^0.5) - 3*x'*x")
    x = np.array([[-1.0], [2.0]])
    assert p.typed.at({"x": x}, {"n": 2})[0, 0] == pytest.approx(3.0 - 15.0)
    q = parse("x'*A*x + sum(inv(B)*y - y)")
    A, B, x, y = np.eye(2) * 2, np.array([[2.0, 0], [0, 4.0]]), np.array([[1.0], [1.0]]), np.array([[2.0], [4.0]])
    assert q.typed.at({"A": A, "B": B, "x": x, "y": y}, {"n": 2, "m": 2})[0, 0] == pytest.approx(4.0 + 2.0 - 6.0)
    assert q.typed.domains() == {"B": {"invertible"}}
    with pytest.raises(KeyError):
        q.typed.at({"A": A, "x": x}, {"n": 2, "m": 2})        # a name without a value is never guessed


# ------------------------------------------------------------------ scale, resolution, overflow

def _check(kind, expr, wrt, candidate, let=None, **kw):
    p = parse(expr, let)
    cand = matcalc.api.parse(candidate, {**{n: f"{s.kind}({','.join(str(d) for d in s.shape if d != 1)})"
                                            if s.kind in ("vector", "matrix") else s.kind
                                            for n, s in p.symbols.items()}, **(let or {})}).expr
    symbols = {n: (s.kind, s.shape) for n, s in p.symbols.items()}
    return check(kind, p.typed, wrt, cand, symbols, p.typed.domains(), **kw)


@pytest.mark.parametrize("candidate,status", [
    ("10000*cos(10000*x)", "passed"),
    ("0*x", "failed"),
    ("20000*cos(10000*x)", "failed"),
    ("-10000*cos(10000*x)", "failed"),
])
def test_fast_oscillation_is_judged_without_a_noise_floor_that_swallows_it(candidate, status):
    assert _check("grad", "sum(sin(10000*x))", "x", candidate).status == status


@pytest.mark.parametrize("scale", ["1", "1e-15", "1e-150", "1e150"])
def test_an_overall_factor_changes_nothing(scale):
    assert _check("grad", f"{scale}*x'*A*x", "x", f"{scale}*(A + A')*x").status == "passed"
    assert _check("grad", f"{scale}*x'*A*x", "x", f"2*{scale}*A*x").status == "failed"
    assert _check("grad", f"{scale}*logdet(X)", "X", f"{scale}*inv(X)'").status == "passed"
    assert _check("grad", f"{scale}*logdet(X)", "X", f"{scale}*inv(X)").status == "failed"


def test_a_zero_hessian_of_a_linear_function_passes():
    assert _check("hessian", "a'*x + 3", "x", "0*x*x'").status == "passed"


def test_where_floating_point_cannot_decide_the_outcome_is_inconclusive():
    # the function is nowhere finite
    rep = _check("grad", "sum(log(-exp(x)))", "x", "ones(n)")
    assert rep.status == "inconclusive" and not rep.passed and "no point found" in rep.message
    assert rep.summary().startswith("? not verified, inconclusive")
    # the right answer overflows where the function does not
    rep = matcalc.grad("exp(700*alpha)", "alpha").verify(seed=1)
    assert rep.status in ("passed", "inconclusive")


@pytest.mark.parametrize("offset", ["1e12", "1e16"])
def test_a_derivative_below_the_resolution_of_the_function_is_inconclusive(offset):
    # x'x + 1e12 has rounding noise of about 1e-4 in f: differences cannot tell 2x from 3x, and a
    # large constant is no reason to call either negligible
    for candidate in ("2*x", "3*x"):
        assert _check("grad", f"x'*x + {offset}", "x", candidate).status == "inconclusive"
    # at 1e6 the noise (1e6·eps, amplified 40/t by the quotients) is near the tolerance: the right
    # gradient passes at most points and is inconclusive at some (about 1 seed in 4, with NumPy's
    # generator as with the verifier's own), never failed; the wrong one fails at every point
    right = [_check("grad", "x'*x + 1e6", "x", "2*x", seed=s).status for s in range(5)]
    assert "failed" not in right and right.count("passed") >= 2, right
    assert all(_check("grad", "x'*x + 1e6", "x", "3*x", seed=s).status == "failed" for s in range(5))


def test_a_constant_function_has_gradient_zero():
    assert _check("grad", "sum(log_softmax(ones(n)*alpha))", "alpha", "0").status == "passed"


@pytest.mark.parametrize("candidate", ["-relu(W*x)", "2*relu(W*x)", "0*relu(W*x)"])
def test_a_wrong_result_that_is_zero_where_the_right_one_is_fails_at_every_seed(candidate):
    # aᵀrelu(Wx)'s gradient by a, relu(Wx), is 0 wherever Wx < 0; so are these wrong ones: a point
    # where the result is 0 proves little, and the check draws another (at about 1 seed in 20 one
    # trial had only such a point, and the wrong result passed)
    statuses = [_check("grad", "a'*relu(W*x)", "a", candidate, trials=1, seed=s).status for s in range(60)]
    assert statuses == ["failed"] * 60
    assert all(_check("grad", "a'*relu(W*x)", "a", "relu(W*x)", trials=1, seed=s).passed for s in range(60))


# ------------------------------------------------------------------ Result.numpy runs

def _numpy_agrees(r, sizes, vals):
    from matcalc.numeric import evaluate, to_user
    from matcalc.printing import code_name
    env = {code_name(n): to_user(v, r.symbols[n][1]) for n, v in vals.items()}
    with np.errstate(all="ignore"):
        got = np.asarray(eval(r.numpy, {"np": np}, env), dtype=float)  # noqa: S307 (generated code)
        want = evaluate(r.expr, vals, sizes)
    assert got.size == want.size, (r.numpy, got.shape, want.shape)
    np.testing.assert_allclose(got.reshape(-1), want.reshape(-1), rtol=1e-7, atol=1e-9 * (1 + np.abs(want).max()))


def test_numpy_of_every_catalogue_result_runs_and_agrees():
    # the one-line expression names shared parts with := where they first occur in the text, so
    # Python meets the definition before any use (sum(tanh(sqrt(exp(x)))) used _t1 before it)
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from catalogue_points import point, results
    done = 0
    for entry, r in results():
        sizes, vals = point(r)
        _numpy_agrees(r, sizes, vals)
        done += 1
    assert done > 300


def test_numpy_names_a_shared_part_before_its_first_use():
    r = matcalc.grad("sum(tanh(sqrt(exp(x))))", "x")
    code = r.numpy
    assert code.index(":=") < code.index("_t1)")
    x = np.array([-1.0, 0.5, 2.0])
    s = np.sqrt(np.exp(x))
    np.testing.assert_allclose(eval(code, {"np": np}, {"x": x}), (1 - np.tanh(s) ** 2) * s / 2)  # noqa: S307


def test_a_size_only_the_typed_expression_has_is_drawn_too():
    # the canonical graph of 0*norm1(alpha*ones(m)) is 0: m is a size of the expression as typed only
    assert matcalc.grad("0*norm1(alpha*ones(m))", "alpha").verify().passed


@pytest.mark.parametrize("kind,expr", [("jvp", "tr(((X)^-2)^16)"), ("vjp", "tr((((X)^-2)^2)^16)")])
def test_what_the_result_inverts_is_well_conditioned_at_the_points_drawn(kind, expr):
    # the result's inv(X²⁴) at cond(X) = 14 was off by 6% and the right answer got ✗ (hostile run, seed 7)
    assert matcalc.derivative(kind, expr, "X").verify().status != "failed"


def test_a_graph_built_in_python_is_judged_as_itself():
    # no text was typed (the benchmark builds deep chains as graphs): the graph is the function
    from matcalc.api import Parsed, derivative
    p = parse("x'*A*x")
    r = derivative("grad", Parsed("x'*A*x", p.expr, p.symbols), "x")
    assert r.verify().passed


def test_every_function_of_the_language_has_the_numpy_implementation_the_judge_calls():
    from matcalc.ops.base import FUNCTIONS
    assert all(callable(getattr(op, "np", None)) for op in FUNCTIONS.values()), \
        [n for n, op in FUNCTIONS.items() if not callable(getattr(op, "np", None))]


def test_an_assumption_is_said_only_where_the_derivative_uses_it():
    # d CE(z, y)/dz = softmax(z) − y assumes sum(y) = 1; d/dy = −log softmax(z) does not
    assert matcalc.grad("cross_entropy(W*x, y)", "x").assumptions
    assert matcalc.grad("cross_entropy(W*x, y)", "y").assumptions == []
    assert matcalc.grad("cross_entropy(W*x, y)", "x", let={"y": "onehot"}).assumptions == []
