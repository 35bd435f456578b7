"""The command line as a user meets it: matcalc.cli.main in process (tests/cli_runner.py) and a real subprocess of the installed matcalc."""
import json
import shutil
import subprocess
import sys

import pytest
from cli_runner import invoke

from matcalc import __version__


def run(*args, input=None):
    return invoke(list(args), input=input)


def test_show_prints_expression_shape_and_names():
    r = run("show", "norm(A*x - b)**2")
    assert r.exit_code == 0
    assert "‖Ax − b‖²" in r.stdout
    for row in ("A     matrix  m×n", "x     vector  n", "b     vector  m"):
        assert row in r.stdout


def test_show_json():
    r = run("show", "norm(A*x - b)**2", "--format", "json")
    data = json.loads(r.stdout)
    assert data["shape"] == "scalar"
    assert {"name": "A", "kind": "matrix", "shape": "m×n"} in data["names"]


def test_grad_prints_result_shapes_and_verification():
    r = run("grad", "norm(A*x - b)**2", "x")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "2Aᵀ(Ax − b)"
    assert "shape n; A: m×n, x: n, b: m" in lines[1]
    assert "✓ verified" in lines[2]


def test_plain_output_is_only_the_result():
    r = run("grad", "x'*S*x", "x", "--let", "S:symmetric", "--plain")
    assert r.stdout == "2Sx\n"


def test_let_comma_separated():
    r = run("grad", "t*x'*S*x", "x", "--let", "S:spd,t:scalar", "--plain")
    assert r.stdout == "2tSx\n"


@pytest.mark.parametrize("command,expr,var,expected", [
    ("jacobian", "softmax(z)", "z", "diag(s) − ssᵀ  where s = softmax(z)"),
    ("hessian", "x'*A*x", "x", "A + Aᵀ"),
    ("vjp", "W*x", "x", "Wᵀg"),
    ("jvp", "exp(x)", "x", "v ⊙ exp(x)"),
    ("grad", "logdet(X)", "X", "X⁻ᵀ"),
])
def test_each_derivative_command(command, expr, var, expected):
    r = run(command, expr, var, "--plain")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == expected


def test_steps_show_rules_and_citations():
    r = run("grad", "cross_entropy(W*x, y)", "W", "--steps", "--no-verify")
    assert r.exit_code == 0
    assert "derivation of grad w.r.t. W" in r.stdout
    assert "Deep Learning (2016), §6.2.2.3" in r.stdout
    assert "(softmax(Wx) − y)xᵀ" in r.stdout
    assert "source: Goodfellow, Bengio & Courville" in r.stdout and "before  (sum(y) softmax(Wx) − y)xᵀ" in r.stdout
    assert "after   (softmax(Wx) − y)xᵀ" in r.stdout


def test_latex_format():
    r = run("grad", "norm(A*x - b)**2", "x", "--format", "latex")
    assert r.exit_code == 0
    assert r"\mathbf{A}" in r.stdout and r"^\top" in r.stdout and r"\mathbf{b}" in r.stdout


def test_json_format_with_verification():
    r = run("grad", "norm(A*x - b)**2", "x", "--format", "json", "--verify")
    data = json.loads(r.stdout)
    assert data["derivative"] == "grad" and data["variable"] == "x"
    assert data["result"]["text"] == "2Aᵀ(Ax − b)"
    assert data["verification"]["passed"] is True


@pytest.mark.parametrize("args,message,column", [
    (["grad", "x*x", "x"], "both are column vectors", 1),
    (["show", "(a + b"], "unclosed parenthesis", 0),
    (["grad", "tr(x)", "x"], "tr needs a square matrix", 0),
    (["grad", "A*x", "x"], "grad needs a scalar function", 0),
    (["show", "foo(x)"], "unknown function 'foo'", 0),
])
def test_bad_input_exit_2_with_caret(args, message, column):
    r = run(*args)
    assert r.exit_code == 2
    assert message in r.stderr
    caret_line = [line for line in r.stderr.splitlines() if "^" in line][0]
    assert caret_line.index("^") - 2 == column
    assert "Traceback" not in r.output


def test_unknown_format_is_a_usage_error():
    r = run("grad", "x'*x", "x", "--format", "pdf")
    assert r.exit_code == 2 and "unknown format" in r.stderr


def test_expression_from_stdin():
    r = run("grad", "-", "X", "--plain", input="tr(A*X*B)\n")
    assert r.stdout == "AᵀBᵀ\n"


def test_version_and_help():
    assert run("--version").stdout.strip() == f"matcalc {__version__}"
    r = run("--help")
    assert r.exit_code == 0 and "Examples" in r.stdout and "grad" in r.stdout


def test_absent_variable_note():
    r = run("grad", "norm(x)**2", "y")
    assert r.exit_code == 0 and "does not occur" in r.stderr and "does not occur" not in r.stdout


@pytest.mark.skipif(shutil.which("matcalc") is None, reason="the matcalc script is not installed")
def test_installed_script_in_a_real_process():
    p = subprocess.run(["matcalc", "grad", "norm(A*x - b)**2", "x"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    assert p.stdout.splitlines()[0] == "2Aᵀ(Ax − b)"
    bad = subprocess.run(["matcalc", "grad", "x*x", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "^" in bad.stderr and "Traceback" not in bad.stderr


def test_python_dash_m():
    p = subprocess.run([sys.executable, "-m", "matcalc", "grad", "x'*x", "x", "--plain"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "2x\n"


@pytest.mark.parametrize("args,expected", [
    # an expression starting with a minus is the expression, not an option (held-out review)
    (["grad", "-0.5*logdet(S) - 0.5*x'*inv(S)*x", "S", "--let", "S:spd"], "(S⁻¹xxᵀS⁻¹ − S⁻¹)/2"),
    (["grad", "-log(x'*x)", "x"], "−2x/(xᵀx)"),                 # -l is --let's short form
    (["grad", "-sum(log(sigmoid(y .* (X*w))))", "w"], "−Xᵀ(y ⊙ (𝟏 − σ(y ⊙ (Xw))))"),
    (["show", "-x", "--let", "x:scalar"], "−x"),
    (["grad", "-alpha*x'*x", "x", "--seed", "3"], "−2αx"),
])
def test_an_expression_may_start_with_a_minus(args, expected):
    r = run(*args, "--plain")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == expected


def test_options_keep_their_short_forms():
    r = run("grad", "x'*S*x", "x", "-l", "S:symmetric", "-f", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["result"]["text"] == "2Sx"
    assert run("grad", "x'*x", "x", "-q").exit_code == 2          # still no such option


def test_a_leading_minus_in_a_real_process():
    p = subprocess.run([sys.executable, "-m", "matcalc", "grad", "-log(x'*x)", "x", "--plain"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "−2x/(xᵀx)", p.stderr
