"""Hints for the mistakes people make: habits from NumPy, PyTorch, MATLAB, LaTeX, and matcalc's own
printed output pasted back. Each input gets a hint naming the matcalc spelling, and the caret under
the fault (its 0-based column in the input)."""
import pytest
from cli_runner import invoke

HINTS = [
    # input,                         hint (a part of it),                                   caret column
    # -- reported by a new user
    ("X*W' + b'",                    "write X*W' + ones(m)*b'",                             5),
    ("np.linalg.norm(x)",            "write norm(…), not np.linalg.norm(…)",                2),
    ("‖x‖²",                         "‖x‖² is norm(x)**2",                                  0),
    ("xᵀAx",                         "xᵀAx is x'*A*x",                                      2),
    ("norm(x)²",                     "norm(x)² is norm(x)**2",                              7),
    ("norm(X,'fro')",                "already the Frobenius norm: drop 'fro'",              7),
    ("A\\b",                         "write inv(A)*b for A\\b",                             1),
    ("sigma(x)",                     "write sigmoid(x)",                                    0),
    # -- NumPy and PyTorch
    ("np.trace(A*X)",                "write tr(A), not np.trace(…)",                        2),
    ("torch.sigmoid(W*x)",           "write sigmoid(…), not torch.sigmoid(…)",              5),
    ("x.dot(y)",                     "write x'*y (or dot(x, y))",                           1),
    ("X.sum()",                      "write sum(X), not X.sum()",                           1),
    ("W.t()*x",                      "write A' (or A.T) for the transpose",                 1),
    ("x.pow(2)",                     "write x.^p for the elementwise power",                1),
    ("softmax(z, dim=0)",            "take no keyword arguments",                           14),
    ("X*W + b",                      "write X*W + b*ones(k)'",                              4),
    # -- MATLAB
    ("A.'*x",                        "A' is the transpose",                                 1),
    ("x(1)*y",                       "matcalc has no indexing",                             0),
    ("norm(x, 1)",                   "the 1-norm is norm1(v)",                              0),
    # -- LaTeX
    ("x^\\top A x",                  "write x' for the transpose x^\\top",                  2),
    ("\\frac{1}{2}*x'*x",            "\\frac{a}{b} is a/b",                                 0),
    ("x^{2}",                        "group with parentheses",                              2),
    ("a ∘ b",                        "use .* for the elementwise product",                  2),
    ("Σx",                           "write sum(x)",                                        0),
    ("√x",                           "write sqrt(x)",                                       0),
    ("A⁻¹*b",                        "A⁻¹ is inv(A)",                                       1),
    # -- the unknown-function hint points to the list of functions
    ("frobnicate(x)",                "matcalc functions lists the functions",               0),
]


@pytest.mark.parametrize("text, hint, column", HINTS, ids=[h[0] for h in HINTS])
def test_a_common_mistake_gets_a_hint_with_the_matcalc_spelling(text, hint, column):
    r = invoke(["show", text])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.stderr.splitlines()
    hint_line = next(line for line in lines if line.startswith("hint: "))
    assert hint in hint_line, r.stderr
    caret = next(line for line in lines if line.lstrip().startswith("^"))
    assert caret.index("^") - 2 == column, r.stderr


def test_an_unknown_function_close_to_a_known_one_is_named():
    r = invoke(["show", "sofmax(z)"])
    assert r.exit_code == 2 and "did you mean softmax?" in r.stderr and "matcalc functions" in r.stderr


def test_a_hint_is_only_given_where_it_fits():
    """A valid expression that looks like a habit is not touched; an error elsewhere keeps its own hint."""
    assert invoke(["show", "x'*A*x", "--plain"]).exit_code == 0
    assert invoke(["show", "A.T*x", "--plain"]).exit_code == 0
    r = invoke(["show", "x'*A*x +"])
    assert "hint: the expression ends too early" in r.stderr
