"""Generated code (--format numpy|torch|jax): every catalogue result becomes a function that imports and
runs, agrees with the result graph and with finite differences of its own value, checks its shapes;
the PyTorch and JAX functions agree with the NumPy one and with torch.autograd / jax autodiff."""
from __future__ import annotations

import ast
import importlib.util

import numpy as np
import pytest
from cli_runner import invoke

import matcalc
from matcalc.codegen import function_code
from matcalc.numeric import evaluate, to_user

from catalogue_points import ids, point, registry_ops, rel_error, results

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_JAX = importlib.util.find_spec("jax") is not None
_ALL = list(results())


def compile_function(code: str):
    """exec a generated module; its one public function."""
    ast.parse(code)
    env: dict = {}
    exec(compile(code, "<generated>", "exec"), env)
    funcs = [v for k, v in env.items() if callable(v) and k.endswith("_f")]
    assert len(funcs) == 1
    return funcs[0]


def user_args(r, vals):
    return [to_user(vals[n], vals[n].shape) if vals[n].shape != (1, 1) else float(vals[n][0, 0])
            for n in r.symbols]


def graph_value(r, expr, vals, sizes):
    return np.asarray(to_user(evaluate(expr, vals, sizes), evaluate(expr, vals, sizes).shape))


# ----------------------------------------------------------------------------- NumPy, every catalogue entry

def _directional(fun, x, v, t=1e-4):
    d1 = (fun(x + t * v) - fun(x - t * v)) / (2 * t)
    d2 = (fun(x + t / 2 * v) - fun(x - t / 2 * v)) / t
    return (4 * d2 - d1) / 3


def _fd_error(r, value_fn, args, deriv, rng):
    """The generated derivative against central differences of the generated value function."""
    names = list(r.symbols)
    if r.wrt not in names:
        return 0.0 if not np.any(deriv) else 1.0
    i = names.index(r.wrt)
    x = np.asarray(args[i], dtype=float)
    scale = max(1.0, float(np.abs(x).max()))

    def f(xx):
        a = list(args)
        a[i] = xx if x.ndim else float(xx)
        return np.asarray(value_fn(*a), dtype=float)

    kind = r.symbols[r.wrt][0]
    errs = []
    for _ in range(2):
        v = rng.standard_normal(x.shape)
        if kind in ("symmetric", "spd"):        # stay inside the declared kind (the checks insist on it)
            v = (v + v.T) / 2
        elif kind == "diagonal":
            v = np.diag(np.diag(v))
        if r.kind == "hessian":
            w = rng.standard_normal(x.shape)
            h = 1e-3 * scale

            def gw(xx):                    # directional derivative along w, by differences
                return _directional(f, xx, w, h)
            want = _directional(gw, x, v, h)
            got = _vec(v) @ np.asarray(deriv) @ _vec(w)
        elif r.kind == "hvp":              # ⟨w, H·v⟩: differences along v of differences along w
            v, w = np.asarray(args[names.index(r.aux)]), rng.standard_normal(x.shape)
            h = 1e-3 * scale
            want = _directional(lambda xx: _directional(f, xx, w, h), x, v, h)
            got = np.sum(np.asarray(deriv) * w)
        elif r.kind == "vjp":
            g = np.asarray(args[names.index(r.aux)])
            want = _directional(lambda xx: np.sum(g * f(xx)), x, v, 1e-4 * scale)
            got = np.sum(np.asarray(deriv) * v)
        elif r.kind == "jvp":
            v = np.asarray(args[names.index(r.aux)])
            want = _directional(f, x, v, 1e-4 * scale)
            got = deriv
        elif r.kind == "jacobian":
            want = _vec(_directional(f, x, v, 1e-4 * scale))
            got = np.asarray(deriv) @ _vec(v) if x.ndim else np.asarray(deriv).reshape(-1) * v
        else:
            want = _directional(f, x, v, 1e-4 * scale)
            got = np.sum(np.asarray(deriv) * v)
        errs.append(rel_error(np.reshape(got, -1), np.reshape(want, -1)))
    return max(errs)


def _vec(a):
    """vec(A): the columns stacked, as Jacobians and Hessians by a matrix take them (a vector is itself)."""
    return np.reshape(a, -1, order="F")


@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_numpy_function_matches_graph_and_finite_differences(entry, r):
    sizes, vals = point(r, seed=7)
    args = user_args(r, vals)
    grad_f = compile_function(function_code(r, "numpy"))
    both_f = compile_function(function_code(r, "numpy", with_value=True))
    got = grad_f(*args)
    want = graph_value(r, r.expr, vals, sizes)
    assert np.shape(got) == want.shape
    assert rel_error(got, want) < 1e-10
    value, deriv = both_f(*args)
    assert rel_error(deriv, want) < 1e-10
    assert rel_error(value, graph_value(r, r.function.expr, vals, sizes)) < 1e-10
    if r.function.shape == (1, 1):
        assert isinstance(value, float)
    if r.shape == (1, 1):
        assert isinstance(got, float)

    def value_fn(*a):
        return both_f(*a)[0]
    assert _fd_error(r, value_fn, args, got, np.random.default_rng(1)) < 1e-5


# every function op of the registry, through its own probes (ops/): a new op is tested here unasked
_PROBES = [(op.name,) + tuple(p) for op in registry_ops() for p in op.probes]


@pytest.mark.parametrize("name,kind,expr,wrt,let", _PROBES, ids=[f"{p[0]}:{p[2]}" for p in _PROBES])
def test_numpy_function_of_every_op(name, kind, expr, wrt, let):
    r = matcalc.derivative(kind, expr, wrt, let)
    sizes, vals = point(r, seed=3)
    got = compile_function(function_code(r, "numpy"))(*user_args(r, vals))
    assert rel_error(got, graph_value(r, r.expr, vals, sizes)) < 1e-10
    value = eval(r.numpy, {"np": np}, {n: a for n, a in zip(r.symbols, user_args(r, vals))})   # Result.numpy
    assert rel_error(value, graph_value(r, r.expr, vals, sizes)) < 1e-10


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("name,kind,expr,wrt,let", _PROBES, ids=[f"{p[0]}:{p[2]}" for p in _PROBES])
def test_torch_function_of_every_op(name, kind, expr, wrt, let):
    vs_numpy, vs_autograd = _torch_case(matcalc.derivative(kind, expr, wrt, let))
    assert vs_numpy < 1e-9 and vs_autograd < 1e-8


# ----------------------------------------------------------------------------- the generated text

def test_least_squares_function_text():
    code = function_code(matcalc.grad("norm(A*x - b)**2", "x"), "numpy")
    assert code.startswith("import numpy as np\n\n\ndef grad_f(A, x, b):\n")
    assert "        A: m×n matrix\n        x: vector of size n\n        b: vector of size m\n" in code
    assert "    m, n = A.shape\n" in code
    assert code.endswith("    return 2 * (A.T @ (A @ x - b))\n")
    assert "assert" not in code


def test_shared_subexpressions_are_named_statements():
    r = matcalc.grad("cross_entropy(W2*tanh(W1*x + b1) + b2, y)", "W1")
    code = function_code(r, "numpy")
    assert "    h = np.tanh(W1 @ x + b1)\n" in code          # named as in the text: where h = tanh(W₁x + b₁)
    assert ":=" not in code and "lambda" not in code
    code = function_code(matcalc.jacobian("softmax(z)", "z"), "numpy")
    assert "    e = np.exp(z - np.max(z, axis=-1, keepdims=True))\n    s = e / np.sum(e, axis=-1, keepdims=True)\n" in code
    assert code.endswith("    return np.diag(s) - np.outer(s, s)\n")


# ----------------------------------------------------------------------------- cheap code (issue 15)

def _agrees(r, code, with_value=False, seed=4):
    """The generated function runs and agrees with the result's graph (and the function's value)."""
    sizes, vals = point(r, seed=seed)
    got = compile_function(code)(*user_args(r, vals))
    value, deriv = got if with_value else (None, got)
    assert rel_error(deriv, graph_value(r, r.expr, vals, sizes)) < 1e-10
    if with_value:
        assert rel_error(value, graph_value(r, r.function.expr, vals, sizes)) < 1e-10


@pytest.mark.parametrize("expr,wrt,line", [
    ("norm(W3*tanh(W2*tanh(W1*x)) - y)**2", "W1", "np.outer((2 * ((np.ones(k) - h1 ** 2)"),
    ("a'*inv(X)*b", "X", "np.outer((t @ (-a)), (b @ t))"),
    ("alpha*(u'*X*v)", "X", "np.outer((alpha * u), v)")])
def test_scalars_scale_the_smallest_factor_of_a_product(expr, wrt, line):
    r = matcalc.grad(expr, wrt)
    code = function_code(r, "numpy")
    assert line in code and "* np.outer" not in code and "-np.outer" not in code
    _agrees(r, code)


def test_a_sum_of_diagonal_and_rank_one_factors_is_distributed():
    r = matcalc.hessian("cross_entropy(W*x, y)", "x", ["y:probability"])
    code = function_code(r, "numpy")
    assert code.endswith("    return W.T @ (s[:, None] * W) - np.outer((W.T @ s), (s @ W))\n")   # one n³ product
    assert "np.diag" not in code
    _agrees(r, code)
    vs_numpy, vs_autograd = _torch_case(r) if HAVE_TORCH else (0, 0)
    assert vs_numpy < 1e-9 and vs_autograd < 1e-8


@pytest.mark.parametrize("expr,wrt,line", [
    ("b'*X'*X*c", "X", "return np.stack((X @ b, X @ c), axis=1) @ np.stack((c, b))"),
    ("a'*X*b - 2*c'*X*d", "X", "return np.stack((a, -2 * c), axis=1) @ np.stack((b, d))")])
def test_a_sum_of_outer_products_is_one_product(expr, wrt, line):
    # X(bcᵀ + cbᵀ) = (Xb)cᵀ + (Xc)bᵀ: the n×m result written once, not by two outer products and a sum
    r = matcalc.grad(expr, wrt)
    code = function_code(r, "numpy")
    assert line in code and "np.outer" not in code
    _agrees(r, code)
    if HAVE_TORCH:
        assert "torch.stack((X @ b, X @ c), dim=1)" in function_code(matcalc.grad("b'*X'*X*c", "X"), "torch")
        vs_numpy, vs_autograd = _torch_case(r)
        assert vs_numpy < 1e-9 and vs_autograd < 1e-8


def test_a_product_is_evaluated_in_its_cheapest_order():
    r = matcalc.grad("u'*A*B*C*x", "x")        # matrix-vector products only: no n³ product
    code = function_code(r, "numpy", with_value=True)
    assert code.endswith("    return float(u @ (A @ (B @ (C @ x)))), C.T @ (B.T @ (A.T @ u))\n")
    _agrees(r, code, with_value=True)


def test_an_inverse_is_computed_once():
    r = matcalc.grad("a'*inv(X)*b", "X")
    code = function_code(r, "numpy", with_value=True)
    assert code.count("np.linalg.inv(") == 1
    _agrees(r, code, with_value=True)
    assert r.numpy.count("np.linalg.inv(") == 1          # Result.numpy, one expression: named with :=
    sizes, vals = point(r, seed=4)
    got = eval(r.numpy, {"np": np}, dict(zip(r.symbols, user_args(r, vals))))
    assert rel_error(got, graph_value(r, r.expr, vals, sizes)) < 1e-10


@pytest.mark.parametrize("expr,wrt,value", [
    ("tr(A*X*B)", "X", "np.sum(A * (X @ B).T)"),
    ("tr(A*X)", "X", "np.sum(A * X.T)"),
    ("tr(X'*A*X)", "X", "np.sum(X.T * (A @ X).T)"),
    ("tr(X)", "X", "np.trace(X)")])
def test_the_trace_of_a_product_forms_one_product_fewer(expr, wrt, value):
    r = matcalc.grad(expr, wrt)
    code = function_code(r, "numpy", with_value=True)
    assert f"return float({value}), " in code
    _agrees(r, code, with_value=True)
    for backend in ("torch", "jax"):
        assert value.replace("np.", {"torch": "torch.", "jax": "jnp."}[backend]) in function_code(
            r, backend, with_value=True)


def test_with_value_returns_value_and_derivative():
    r = matcalc.grad("norm(A*x - b)**2", "x")
    f = compile_function(function_code(r, "numpy", with_value=True))
    A, x, b = np.array([[1.0, 2], [3, 4], [5, 6]]), np.array([1.0, -1]), np.array([0.5, 0, 1])
    value, grad = f(A, x, b)
    assert value == pytest.approx(float(np.sum((A @ x - b) ** 2)))
    assert np.allclose(grad, 2 * A.T @ (A @ x - b))
    assert "def value_and_grad_f(A, x, b):" in function_code(r, "numpy", with_value=True)


@pytest.mark.parametrize("args,message", [
    ((np.ones((3, 2)), np.ones(3), np.ones(3)), "x: axis 0 has size 3, but size n is 2 (from A)"),
    ((np.ones((3, 2)), np.ones((2, 1)), np.ones(3)), "x must be a 1-D vector of shape (n,), got shape (2, 1)"),
    ((np.ones(3), np.ones(2), np.ones(3)), "A must be a 2-D matrix of shape (m, n), got shape (3,)"),
    ((np.ones((3, 2)), np.ones(2), np.ones(4)), "b: axis 0 has size 4, but size m is 3 (from A)"),
])
def test_shape_checks_raise_value_error(args, message):
    f = compile_function(function_code(matcalc.grad("norm(A*x - b)**2", "x"), "numpy"))
    with pytest.raises(ValueError) as err:
        f(*args)
    assert str(err.value) == message


def test_declared_kinds_are_checked():
    f = compile_function(function_code(matcalc.grad("x'*S*x", "x", let={"S": "symmetric"}), "numpy"))
    assert list(matcalc.grad("x'*S*x", "x", let={"S": "symmetric"}).symbols) == ["x", "S"]
    assert np.allclose(f([1.0, 2.0], np.eye(2)), [2, 4])
    with pytest.raises(ValueError, match="S must be symmetric"):
        f([1.0, 2.0], np.array([[1.0, 2], [0, 1]]))
    f = compile_function(function_code(matcalc.grad("alpha*norm(x)**2", "alpha"), "numpy"))
    assert f(2.0, [3.0, 4.0]) == 25.0
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        f([2.0], [3.0, 4.0])


def test_python_keywords_and_module_names_are_renamed():
    r = matcalc.grad("lambda*norm(np)**2 + math*sum(torch)", "np", let={"math": "scalar"})
    code = function_code(r, "numpy")
    assert "def grad_f(" in code and "lambda_" in code and "np_" in code and "math_" in code
    f = compile_function(code)
    params = list(r.symbols)
    args = {"lambda": 0.5, "np": np.array([1.0, 2.0]), "math": 3.0, "torch": np.ones(4)}
    assert np.allclose(f(*[args[p] for p in params]), 0.5 * 2 * np.array([1.0, 2.0]))


def test_constant_and_zero_results():
    f = compile_function(function_code(matcalc.grad("3*alpha + norm(x)**2", "alpha"), "numpy"))
    assert f(1.0, [1.0, 2.0]) == 3.0
    r = matcalc.grad("norm(x)**2", "y")              # y does not occur: a zero of y's shape
    code = function_code(r, "numpy")
    assert "Note: y does not occur in the expression" in code
    assert np.array_equal(compile_function(code)([1.0, 2.0], [3.0, 4.0]), np.zeros(2))


def test_cli_code_formats(tmp_path):
    r = invoke(["grad", "norm(A*x - b)**2", "x", "--format", "numpy", "--with-value"])
    assert r.exit_code == 0 and "def value_and_grad_f(A, x, b):" in r.stdout
    out = tmp_path / "grad_ls.py"
    r = invoke(["grad", "norm(A*x - b)**2", "x", "--format", "torch", "-o", str(out)])
    assert r.exit_code == 0 and r.stdout == "" and "wrote" in r.stderr
    assert "import torch" in out.read_text() and "torch.float64" in out.read_text()
    r = invoke(["grad", "x'*x", "x", "--with-value"])
    assert r.exit_code == 2 and "--with-value goes with --format numpy, torch, jax" in r.stderr


# ----------------------------------------------------------------------------- PyTorch

# A dozen representative results: least squares, trace, logdet, inverse, norms, activations, softmax,
# cross-entropy, a two-layer network, a Jacobian, a Hessian, a VJP and a JVP.
REPRESENTATIVE = [
    ("grad", "norm(A*x - b)**2", "x", None),
    ("grad", "tr(A*X*B)", "X", None),
    ("grad", "logdet(S) - tr(S*C)", "S", {"S": "spd", "C": "spd"}),
    ("grad", "a'*inv(X)*b", "X", None),
    ("grad", "norm(x)", "x", None),
    ("grad", "sum(softplus(X*w)) - y'*X*w + 0.5*lambda*norm(w)**2", "w", None),
    ("grad", "cross_entropy(W*x + b, y)", "W", None),
    ("grad", "norm(W2*tanh(W1*x + b1) + b2 - y)**2", "W1", None),
    ("grad", "sum(gelu(A*x)) + sum(relu(x)) + logsumexp(x)", "x", None),
    ("grad", "-0.5*(x - mu)'*inv(Sigma)*(x - mu) - 0.5*logdet(Sigma)", "Sigma", {"Sigma": "spd", "mu": "vector"}),
    ("jacobian", "softmax(A*x)", "x", None),
    ("hessian", "sum(softplus(X*w)) - y'*X*w", "w", None),
    ("vjp", "W2*tanh(W1*x + b1) + b2", "W1", None),
    ("jvp", "sigmoid(W*x + b)", "x", None),
    ("hvp", "logdet(X)", "X", None),
    ("hvp", "cross_entropy(W2*tanh(W1*x + b1) + b2, y)", "W1", {"y": "probability"}),
]


def _torch_autodiff(r, f_value, targs, wrt_index, aux_index):
    import torch
    x = targs[wrt_index]

    def f(xx):
        a = list(targs)
        a[wrt_index] = xx
        return f_value(*a)
    if r.kind == "grad":
        xr = x.clone().requires_grad_(True)
        return torch.autograd.grad(f(xr), xr)[0]
    if r.kind == "jacobian":
        return torch.autograd.functional.jacobian(f, x)
    if r.kind == "hessian":
        return torch.autograd.functional.hessian(f, x)
    if r.kind == "vjp":
        return torch.autograd.functional.vjp(f, x, targs[aux_index])[1]
    if r.kind == "hvp":                         # double backward
        return torch.autograd.functional.hvp(f, x, targs[aux_index])[1]
    return torch.autograd.functional.jvp(f, x, targs[aux_index])[1]


def _torch_case(r, seed=5):
    import torch
    sizes, vals = point(r, seed=seed)
    args = user_args(r, vals)
    targs = [torch.as_tensor(a, dtype=torch.float64) for a in args]
    f_deriv = compile_function(function_code(r, "torch"))
    f_both = compile_function(function_code(r, "torch", with_value=True))
    names = list(r.symbols)
    got = f_deriv(*targs)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    numpy_got = compile_function(function_code(r, "numpy"))(*args)
    auto = _torch_autodiff(r, lambda *a: f_both(*a)[0], targs, names.index(r.wrt),
                           names.index(r.aux) if r.aux else None)
    return rel_error(got.numpy(), numpy_got), rel_error(got.numpy(), vec_layout(r, auto.numpy(), targs, got.shape))


def vec_layout(r, a, args, shape):
    """An autodiff Jacobian or Hessian (the axes of f, then of x) as matcalc writes it (of the given
    shape) when a matrix is involved: of vec(f) by vec(x), columns stacked (axes reversed in each
    group, then flattened)."""
    x_ndim = np.ndim(args[list(r.symbols).index(r.wrt)])
    a = np.asarray(a)
    f_ndim = a.ndim - x_ndim
    if r.kind not in ("jacobian", "hessian") or max(x_ndim, f_ndim) < 2:
        return a
    axes = list(reversed(range(f_ndim))) + list(reversed(range(f_ndim, a.ndim)))
    return a.transpose(axes).reshape(tuple(shape))


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("op,expr,wrt,let", REPRESENTATIVE, ids=[f"{t[0]}:{t[1]}:{t[2]}" for t in REPRESENTATIVE])
def test_torch_matches_autograd_on_representative_results(op, expr, wrt, let):
    r = matcalc.derivative(op, expr, wrt, let)
    vs_numpy, vs_autograd = _torch_case(r)
    assert vs_numpy < 1e-10
    assert vs_autograd < 1e-10


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_torch_function_on_the_catalogue(entry, r):
    if r.wrt not in r.symbols:
        pytest.skip("the variable does not occur: nothing for autograd to differentiate")
    vs_numpy, vs_autograd = _torch_case(r)
    assert vs_numpy < 1e-9
    assert vs_autograd < 1e-8


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
def test_torch_shape_check_and_autograd_through_the_derivative():
    import torch
    r = matcalc.grad("norm(A*x - b)**2", "x")
    f = compile_function(function_code(r, "torch"))
    with pytest.raises(ValueError, match="size n is 2"):
        f(torch.ones(3, 2), torch.ones(3), torch.ones(3))
    A = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    g = f(A, torch.ones(2), torch.zeros(3))
    g.sum().backward()                      # the generated derivative is itself differentiable
    assert A.grad is not None and A.grad.shape == (3, 2)


# ----------------------------------------------------------------------------- JAX

@pytest.fixture(scope="module")
def jax64():
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    jax.config.update("jax_enable_x64", True)
    return jax


def _jax_autodiff(jax, r, f_value, jargs, i, k):
    def f(xx):
        a = list(jargs)
        a[i] = xx
        return f_value(*a)
    x = jargs[i]
    if r.kind == "grad":
        return jax.grad(f)(x)
    if r.kind == "jacobian":
        return jax.jacfwd(f)(x)
    if r.kind == "hessian":
        return jax.hessian(f)(x)
    if r.kind == "vjp":
        return jax.vjp(f, x)[1](jargs[k])[0]
    if r.kind == "hvp":                         # forward over reverse
        return jax.jvp(jax.grad(f), (x,), (jargs[k],))[1]
    return jax.jvp(f, (x,), (jargs[k],))[1]


@pytest.mark.skipif(not HAVE_JAX, reason="JAX is not installed")
@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_jax_function_on_the_catalogue(entry, r, jax64):
    import jax.numpy as jnp
    if r.wrt not in r.symbols:
        pytest.skip("the variable does not occur")
    sizes, vals = point(r, seed=5)
    args = user_args(r, vals)
    jargs = [jnp.asarray(a) for a in args]
    got = compile_function(function_code(r, "jax"))(*jargs)
    assert got.dtype == jnp.float64
    numpy_got = compile_function(function_code(r, "numpy"))(*args)
    assert rel_error(np.asarray(got), numpy_got) < 1e-9
    if r.kind in ("grad", "vjp", "jvp", "hvp") or entry["name"] in _JAX_AUTODIFF_SAMPLE:
        f_both = compile_function(function_code(r, "jax", with_value=True))
        names = list(r.symbols)
        auto = _jax_autodiff(jax64, r, lambda *a: f_both(*a)[0], jargs, names.index(r.wrt),
                             names.index(r.aux) if r.aux else None)
        assert rel_error(np.asarray(got), vec_layout(r, auto, args, np.shape(got))) < 1e-8


@pytest.mark.skipif(not HAVE_JAX, reason="JAX is not installed")
@pytest.mark.parametrize("name,kind,expr,wrt,let", _PROBES, ids=[f"{p[0]}:{p[2]}" for p in _PROBES])
def test_jax_function_of_every_op(name, kind, expr, wrt, let, jax64):
    r = matcalc.derivative(kind, expr, wrt, let)
    sizes, vals = point(r, seed=3)
    args = user_args(r, vals)
    got = compile_function(function_code(r, "jax"))(*[jax64.numpy.asarray(a) for a in args])
    assert rel_error(np.asarray(got), compile_function(function_code(r, "numpy"))(*args)) < 1e-9


_JAX_AUTODIFF_SAMPLE = {"jacobian-softmax", "jacobian-sigmoid-layer", "hessian-logistic-regression",
                        "hessian-logsumexp-of-linear", "hessian-norm", "jacobian-normalize",
                        "jac-product-with-transpose", "hess-logdet", "hess-softmax-regression"}


@pytest.mark.skipif(not HAVE_JAX, reason="JAX is not installed")
def test_jax_function_can_be_jitted(jax64):
    import jax.numpy as jnp
    r = matcalc.grad("cross_entropy(W*x + b, y)", "W")
    f = jax64.jit(compile_function(function_code(r, "jax")))
    W, x, b, y = jnp.ones((3, 2)), jnp.array([1.0, 2.0]), jnp.zeros(3), jnp.array([0.2, 0.3, 0.5])
    s = np.exp(np.ones(3) * 3) / np.exp(np.ones(3) * 3).sum()
    assert np.allclose(f(W, x, b, y), np.outer(s - np.asarray(y), np.asarray(x)))
    with pytest.raises(ValueError, match="size n is 2"):
        f(W, jnp.ones(3), b, y)
