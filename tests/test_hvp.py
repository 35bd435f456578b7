"""Hessian-vector products (`matcalc hvp F X`, `matcalc.hvp`): ∇²f·v, shaped like the variable, never
forming the Hessian. The results against independent NumPy gradients differenced along the direction;
every output format (LaTeX through TeX, code run against the API value, torch.autograd's double
backward and jax.jvp of jax.grad); the verifier's directional check against wrong products; the
direction's name; bad input."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_runner import invoke

import matcalc
from matcalc import algebra as alg
from matcalc.codegen import function_code
from matcalc.identities import check_identity, load, prepare
from matcalc.numeric import evaluate, to_user
from matcalc.output import SCHEMA_PATH, as_json, latex_equation, run_latex, tex_document
from matcalc.printing import source
from matcalc.verify import check

import test_mutation
from catalogue_points import point, rel_error
from test_codegen import compile_function, user_args
from test_output import validate
HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_JAX = importlib.util.find_spec("jax") is not None
HAVE_LATEX = shutil.which("latex") is not None
CATALOGUE = Path(__file__).resolve().parent.parent / "identities" / "hvp.toml"


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _mlp_grad_w1(W1, W2, b1, b2, x, y):
    """∂/∂W1 of cross_entropy(W2 tanh(W1 x + b1) + b2, y), by hand (y sums to 1)."""
    h = np.tanh(W1 @ x + b1)
    delta = (1 - h ** 2) * (W2.T @ (_softmax(W2 @ h + b2) - y))
    return delta @ x.T


# (expression, variable, declarations, matcalc's answer, an independent NumPy gradient of the values)
CASES = [
    ("logdet(X)", "X", None, "−X⁻ᵀVᵀX⁻ᵀ", lambda X: np.linalg.inv(X).T),
    ("tr(X'*A*X)", "X", None, "(A + Aᵀ)V", lambda X, A: (A + A.T) @ X),
    ("x'*A*x", "x", None, "(A + Aᵀ)v", lambda x, A: (A + A.T) @ x),
    ("norm(A*x - b)^2", "x", None, "2AᵀAv", lambda x, A, b: 2 * A.T @ (A @ x - b)),
    ("cross_entropy(W*x, y)", "W", {"y": "probability"}, "(diag(s) − ssᵀ)Vxxᵀ  where s = softmax(Wx)",
     lambda W, x, y: (_softmax(W @ x) - y) @ x.T),
    ("cross_entropy(W2*tanh(W1*x + b1) + b2, y)", "W1", {"y": "probability"}, None, _mlp_grad_w1),
]
IDS = [c[0] for c in CASES]


def _independent_hvp(grad, names, vals, wrt, v, t=1e-4):
    """(∇f(x + tv) − ∇f(x − tv)) / 2t from an independent gradient, Richardson-extrapolated."""
    def g(x):
        return grad(*[x if n == wrt else vals[n] for n in names])

    def quotient(h):
        return (g(vals[wrt] + h * v) - g(vals[wrt] - h * v)) / (2 * h)
    return (4 * quotient(t / 2) - quotient(t)) / 3


@pytest.mark.parametrize("expr,wrt,let,text,grad", CASES, ids=IDS)
def test_hvp_against_an_independent_gradient(expr, wrt, let, text, grad):
    r = matcalc.hvp(expr, wrt, let)
    if text is not None:
        assert r.text == text
    assert r.shape == r.function.symbols[wrt].shape             # shaped like the variable
    assert r.aux == ("V" if r.shape[1] != 1 else "v") and r.aux_shape == r.shape
    import inspect
    names = list(inspect.signature(grad).parameters)
    for seed in range(3):
        sizes, vals = point(r, seed=seed)
        want = _independent_hvp(grad, names, vals, wrt, vals[r.aux])
        assert rel_error(evaluate(r.expr, vals, sizes), want) < 1e-7
    assert r.verify().passed


def test_hvp_never_forms_the_hessian_of_a_matrix_variable():
    """The Hessian w.r.t. a matrix is n²×n² (in vec form); its product with a direction is a matrix
    written with no node of a product size: the Hessian is never formed."""
    assert matcalc.hessian("logdet(X)", "X").shape[0] != "n"
    r = matcalc.hvp("logdet(X)", "X")
    assert r.shape == ("n", "n")
    assert all(node.shape[0] in ("n", 1) and node.shape[1] in ("n", 1) for node in _nodes(r.expr))


def _nodes(e):
    from matcalc.expr import postorder
    return postorder(e)


def test_hvp_for_a_vector_is_the_hessian_times_v():
    for expr, let in (("sum(softplus(X*w)) - y'*X*w", None), ("logsumexp(A*w)", None), ("norm(w)", None)):
        h, p = matcalc.hessian(expr, "w", let), matcalc.hvp(expr, "w", let)
        sizes, vals = point(p, seed=1)
        assert rel_error(evaluate(p.expr, vals, sizes), evaluate(h.expr, vals, sizes) @ vals["v"]) < 1e-12


def test_hvp_of_a_linear_function_is_zero_and_of_a_scalar_variable_a_scalar():
    assert matcalc.hvp("tr(A*X) + sum(X)", "X").text == "0"
    r = matcalc.hvp("alpha^3 + alpha*x'*x", "alpha")
    assert r.text == "6αv" and r.shape == (1, 1) and r.verify().passed


# ----------------------------------------------------------------------------- the API's Result

def test_result_fields():
    r = matcalc.hvp("logdet(X)", "X", steps=True)
    assert r.kind == "hvp" and r.latex == r"-\mathbf{X}^{-\top}\mathbf{V}^\top\mathbf{X}^{-\top}"
    assert r.numpy == "-((_xi1 := np.linalg.inv(X)).T @ (V.T @ _xi1.T))"     # X⁻¹ computed once
    X = np.array([[2.0, 0.3], [0.1, 1.5]])
    V = np.array([[0.2, -1.0], [0.7, 0.4]])
    Xi = np.linalg.inv(X)
    assert np.allclose(eval(r.numpy, {"np": np, "X": X, "V": V}), -Xi.T @ V.T @ Xi.T)  # noqa: S307 (our code)
    assert str(r.sympy.shape) == "(n, n)"
    rules = [s.rule for s in r.steps]
    stage = next(i for i, rule in enumerate(rules) if rule.startswith("forward mode over reverse mode"))
    assert 0 < stage < len(rules) - 1           # the gradient's steps before, its derivative along V after
    assert "along V (dX = V)" in rules[stage]
    assert r.verify(trials=2, seed=3).passed


def test_the_hessian_of_a_vector_function_is_refused():
    with pytest.raises(matcalc.ShapeError, match="hvp needs a scalar function"):
        matcalc.hvp("A*x", "x")


# ----------------------------------------------------------------------------- the direction's name

def test_a_taken_direction_name_moves_to_the_next_free_one_and_is_said():
    r = matcalc.hvp("logdet(X) + tr(V*X)", "X")
    assert r.aux == "V2" and r.text == "−X⁻ᵀV₂ᵀX⁻ᵀ"
    assert r.notes == ["the direction is named V2: the expression uses V"]
    assert matcalc.hvp("v'*x*(x'*x) + norm(v2)", "x").aux == "v3"
    names = {n["name"]: n["kind"] for n in as_json(r)["names"]}
    assert names["V2"] == "direction" and names["V"] == "matrix"
    # the same rule and note for the other two products
    assert matcalc.jvp("tr(V*X)", "X").notes == ["the direction is named V2: the expression uses V"]
    assert matcalc.vjp("g .* x", "x").notes == ["the upstream gradient is named g2: the expression uses g"]
    assert matcalc.hvp("logdet(X)", "X").notes == []
    absent = matcalc.hvp("logdet(X)", "V")          # a variable that does not occur takes the name too
    assert absent.aux == "V2" and "the direction is named V2: V is the variable" in absent.notes


def test_the_identity_checker_names_the_direction_as_the_api_does():
    ident = next(i for i in load([CATALOGUE]) if i.name == "hvp-direction-name-taken")
    assert prepare(ident).aux == "V2" == matcalc.hvp(ident.expr, ident.wrt).aux


# ----------------------------------------------------------------------------- verification

WRONG = [   # (expression, variable, a wrong product): a transpose, a symmetric part, a factor, a term missing
    ("logdet(X)", "X", "-inv(X)'*V*inv(X)'"),
    ("x'*A*x", "x", "2*A*v"),
    ("tr(X'*A*X)", "X", "A*V"),
    ("norm(A*x - b)^2", "x", "A'*A*v"),
    ("cross_entropy(W*x, y)", "W", "((V*x) .* softmax(W*x))*x'"),
]


@pytest.mark.parametrize("expr,wrt,wrong", WRONG, ids=[w[2] for w in WRONG])
def test_the_verifier_fails_a_wrong_product(expr, wrt, wrong):
    r = matcalc.hvp(expr, wrt)
    bad = matcalc.parse(wrong, {**r.function.declarations(), r.aux: "matrix" if r.shape[1] != 1 else "vector"})
    report = check("hvp", r.function.typed, wrt, bad.expr, r.symbols, r.function.typed.domains(), aux=r.aux)
    assert report.status == "failed", report.summary()
    assert r.verify().passed


def test_every_numerically_different_mutant_of_the_hvp_catalogue_fails():
    """test_mutation's mutants (transposed, negated, doubled, a factor dropped, factors swapped, inv(X) → X)
    of every identity in identities/hvp.toml: those that differ numerically must not pass."""
    missed, caught = [], 0
    for ident in load([CATALOGUE]):
        prep = prepare(ident)
        for label, m in test_mutation.mutants(prep.e):
            if not test_mutation.numerically_different(prep, m):
                continue
            outcome = check_identity(replace(ident, expected=source(m)), trials=1)
            if outcome.status == "passed":
                missed.append(f"{ident.name} [{label}] {source(m)}")
            caught += 1
    assert caught > 100 and not missed, missed


def test_the_hvp_catalogue_passes():
    outcomes = [check_identity(i) for i in load([CATALOGUE])]
    assert len(outcomes) >= 12
    assert [o.name for o in outcomes if o.status != "passed"] == []


def test_the_check_is_directional_and_bounded():
    """A matrix variable of more than 36 entries: no entry-by-entry comparison, the directional
    checks only; the work estimate grows with the entries only below that."""
    from matcalc.verify import check_cost
    r = matcalc.hvp("logdet(X)", "X", {"X": "matrix(8,8)"})
    assert r.verify(trials=2).passed

    class Sized(dict):
        def __missing__(self, key):
            return 5
    f = r.function.typed
    assert check_cost("hvp", f, r.expr, 64, 1, Sized()) < check_cost("hvp", f, r.expr, 36, 1, Sized())


# ----------------------------------------------------------------------------- the command line

def run(*args, **kw):
    return invoke([str(a) for a in args], **kw)


def test_cli_text_steps_and_plain():
    r = run("hvp", "x'*A*x", "x")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[:2] == ["(A + Aᵀ)v", "  shape n; x: n, A: n×n, v: n"]
    assert "✓ verified" in r.stdout
    r = run("hvp", "logdet(X)", "X", "--steps")
    assert r.exit_code == 0
    # rich wraps the title at the terminal's width: compare with the line breaks taken out
    assert "(forward over reverse: the gradient, then its derivative along V)" in " ".join(r.stdout.split())
    assert "gradient  X⁻ᵀ" in r.stdout and "Pearlmutter" in r.stdout
    assert run("hvp", "logdet(X)", "X", "--plain").stdout == "−X⁻ᵀVᵀX⁻ᵀ\n"


def test_cli_taken_name_note_on_stderr():
    r = run("hvp", "logdet(X) + tr(V*X)", "X", "--no-verify")
    assert r.exit_code == 0
    assert r.stdout.startswith("−X⁻ᵀV₂ᵀX⁻ᵀ\n") and "V2: n×n" in r.stdout
    assert "note: the direction is named V2: the expression uses V" in r.stderr


def test_cli_json_follows_the_schema():
    r = run("hvp", "cross_entropy(W*x, y)", "W", "--format", "json", "--verify")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert validate(data, json.loads(SCHEMA_PATH.read_text())) == []
    assert data["derivative"] == "hvp" and data["shape"] == "m×n"
    assert data["names"][-1] == {"name": "V", "kind": "direction", "shape": "m×n"}
    assert data["verification"]["status"] == "passed"
    assert data["assumptions"] and "y is a probability vector" in data["assumptions"][0]


def test_cli_bad_input_exits_2_with_a_caret():
    r = run("hvp", "logdet(X", "X")
    assert r.exit_code == 2 and "^" in r.stderr and "Traceback" not in r.output
    r = run("hvp", "A*x", "x")
    assert r.exit_code == 2 and "hvp needs a scalar function" in r.stderr
    r = run("hvp", "x'*x", "x y")
    assert r.exit_code == 2 and "the variable must be a name" in r.stderr
    r = run("hvp", "x'*x", "x", "--format", "pdf")
    assert r.exit_code == 2 and "unknown format" in r.stderr


def test_cli_a_wrong_product_is_not_printed_as_verified(monkeypatch):
    """The command's exit code 1 when the check fails: the engine made to answer 2Av for x'Ax."""
    from matcalc import derive
    monkeypatch.setattr(derive, "hvp", lambda f, x, v, steps=None: alg.scale(2, alg.mul(alg.sym("A", ("n", "n"),
                                                                                             "matrix"), v)))
    r = run("hvp", "x'*A*x", "x")
    assert r.exit_code == 1 and "✗ verification FAILED" in r.stdout


def test_a_result_too_deep_to_print_is_refused_with_the_limit_named():
    expr = "x"
    for i in range(1, 81):
        expr = f"tanh(W{i}*{expr})"
    r = run("hvp", f"norm({expr} - y)^2", "W1", "--no-verify")
    assert r.exit_code == 2 and "limit exceeded: the result nests too deeply to be printed" in r.stderr


def test_real_process():
    exe = shutil.which("matcalc")
    cmd = [exe] if exe else [sys.executable, "-m", "matcalc"]
    p = subprocess.run(cmd + ["hvp", "logdet(X)", "X"], capture_output=True, text=True, timeout=120,
                       encoding="utf-8")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "−X⁻ᵀVᵀX⁻ᵀ" and "✓ verified" in p.stdout
    p = subprocess.run(cmd + ["hvp", "norm(A*x - b", "x"], capture_output=True, text=True, timeout=120,
                       encoding="utf-8")
    assert p.returncode == 2 and "^" in p.stderr and "Traceback" not in p.stderr


# ----------------------------------------------------------------------------- LaTeX, pictures, code

def test_latex_equation_names_the_direction():
    r = matcalc.hvp("logdet(X)", "X")
    assert latex_equation(r) == ("\\[\n\\nabla^2_{\\mathbf{X}} \\log\\det(\\mathbf{X})\\,[\\mathbf{V}] = "
                                 "-\\mathbf{X}^{-\\top}\\mathbf{V}^\\top\\mathbf{X}^{-\\top}\n\\]")


@pytest.mark.skipif(not HAVE_LATEX, reason="TeX is not installed")
def test_latex_of_every_case_compiles(tmp_path):
    body = []
    for expr, wrt, let, _, _ in CASES:
        r = matcalc.hvp(expr, wrt, let)
        for style in ("bold", "plain"):
            body += ["$" + r.latex_of(style) + "$", "", latex_equation(r, style), ""]
    run_latex(tex_document("\n".join(body)), tmp_path, "hvp")
    assert (tmp_path / "hvp.dvi").stat().st_size > 0
    r = run("hvp", "logdet(X)", "X", "--format", "latex", "--standalone", "-o", tmp_path / "doc.tex")
    assert r.exit_code == 0
    p = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:]


@pytest.mark.skipif(not (HAVE_LATEX and shutil.which("dvipng") and shutil.which("dvisvgm")),
                    reason="TeX, dvipng or dvisvgm is not installed")
def test_pictures(tmp_path):
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml")):
        out = tmp_path / f"hvp.{fmt}"
        r = run("hvp", "tr(X'*A*X)", "X", "--format", fmt, "-o", out)
        assert r.exit_code == 0, r.output
        assert out.read_bytes().startswith(magic)


def _code_case(expr, wrt, let, backend, seed=2):
    r = matcalc.hvp(expr, wrt, let)
    sizes, vals = point(r, seed=seed)
    args = user_args(r, vals)
    api_value = np.asarray(to_user(evaluate(r.expr, vals, sizes), evaluate(r.expr, vals, sizes).shape))
    return r, args, api_value, compile_function(function_code(r, backend)), \
        compile_function(function_code(r, backend, with_value=True))


@pytest.mark.parametrize("expr,wrt,let,text,grad", CASES, ids=IDS)
def test_numpy_code_runs_and_matches_the_api(expr, wrt, let, text, grad):
    r, args, api_value, f, both = _code_case(expr, wrt, let, "numpy")
    assert rel_error(f(*args), api_value) < 1e-12
    value, product = both(*args)
    assert rel_error(product, api_value) < 1e-12 and isinstance(value, float)
    assert "Hessian-vector product" in function_code(r, "numpy")
    with pytest.raises(ValueError):         # the direction's shape is checked too
        f(*[a if n != r.aux else np.ones(3 + np.shape(a)[0]) for n, a in zip(r.symbols, args)])


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("expr,wrt,let,text,grad", CASES, ids=IDS)
def test_torch_code_matches_double_backward(expr, wrt, let, text, grad):
    import torch
    r, args, api_value, f, both = _code_case(expr, wrt, let, "torch")
    targs = [torch.as_tensor(a, dtype=torch.float64) for a in args]
    names = list(r.symbols)
    i, k = names.index(wrt), names.index(r.aux)
    got = f(*targs)
    assert rel_error(got.numpy(), api_value) < 1e-12

    def value(xx):
        a = list(targs)
        a[i] = xx
        return both(*a)[0]
    x = targs[i].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(value(x), x, create_graph=True)
    (double_backward,) = torch.autograd.grad((g * targs[k]).sum(), x)
    assert rel_error(got.numpy(), double_backward.numpy()) < 1e-10


@pytest.mark.skipif(not HAVE_JAX, reason="JAX is not installed")
@pytest.mark.parametrize("expr,wrt,let,text,grad", CASES, ids=IDS)
def test_jax_code_matches_jvp_of_grad(expr, wrt, let, text, grad):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    r, args, api_value, f, both = _code_case(expr, wrt, let, "jax")
    jargs = [jax.numpy.asarray(a) for a in args]
    names = list(r.symbols)
    i, k = names.index(wrt), names.index(r.aux)

    def value(xx):
        a = list(jargs)
        a[i] = xx
        return both(*a)[0]
    want = jax.jvp(jax.grad(value), (jargs[i],), (jargs[k],))[1]
    got = jax.jit(f)(*jargs)
    assert rel_error(np.asarray(got), api_value) < 1e-10
    assert rel_error(np.asarray(got), np.asarray(want)) < 1e-10
