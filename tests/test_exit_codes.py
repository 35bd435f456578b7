"""Exit codes and streams (issue 7), in process (tests/cli_runner.py) and through a real process of the installed matcalc.

0 success; 1 a verification failed; 2 bad input or usage (matcalc's own errors and the command line's usage
errors alike). Results go to stdout, messages to stderr; a failure prints nothing on stdout.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from cli_runner import invoke
EXE = shutil.which("matcalc")
MATCALC = [EXE] if EXE else [sys.executable, "-m", "matcalc"]

OK = [
    (["grad", "norm(A*x - b)**2", "x"], "2Aᵀ(Ax − b)"),
    (["grad", "norm(A*x - b)**2", "x", "--plain"], "2Aᵀ(Ax − b)"),
    (["show", "x'*A*x", "--plain"], "xᵀAx"),
    (["jacobian", "A*x", "x", "--plain"], "A"),
    (["hessian", "x'*A*x", "x", "--plain"], "A + Aᵀ"),
    (["vjp", "W*x", "x", "--plain"], "Wᵀg"),
    (["jvp", "exp(x)", "x", "--plain"], "v ⊙ exp(x)"),
    (["grad", "logdet(X)", "X", "--format", "latex"], "X"),
    (["grad", "x'*x", "x", "--format", "numpy"], "def "),
    (["grad", "x'*x", "x", "--format", "json"], '"text"'),
    (["grad", "x'*x", "y"], "0"),                       # a variable that does not occur: zero, with a note
    (["--version"], "matcalc "),
]

INCONCLUSIVE = [
    # undefined everywhere: the numeric check finds no point where the function is finite, so it
    # cannot decide: neither ✓ nor ✗, and not a failure
    (["grad", "sum(log(-exp(x)))", "x"], "inconclusive: no point found where the function is finite"),
    (["grad", "sum(sqrt(-exp(x)))", "x", "--format", "latex", "--verify"], "inconclusive"),
]

BAD_INPUT = [   # matcalc's errors: a message with a caret on stderr
    (["show", "x +"], "syntax error"),
    (["show", "x ** y"], "must be a number"),
    (["grad", "A*x", "x"], "grad needs a scalar function"),
    (["show", "x + A"], "shape error"),
    (["show", "(" * 1000 + "x" + ")" * 1000], "limit exceeded"),
    (["grad", "__import__('os')", "x"], "syntax error"),
    (["grad", "a'*vec(X)", "X"], "matrix notation has no name"),
]

BAD_USAGE = [   # usage errors: the command line's (matcalc/args.py) and the commands' own
    ([], None),                                          # no command: help, exit 2
    (["grad", "x'*x"], "missing argument VAR"),
    (["grad"], "missing arguments EXPR, VAR"),
    (["grad", "x'*x", "x", "--frobnicate"], "no such option --frobnicate"),
    (["frobnicate"], "no such command 'frobnicate'"),
    (["grad", "x'*x", "x", "--trials", "0"], "argument --trials: must be from 1 to 100, not 0"),
    (["grad", "x'*x", "x", "--seed", "abc"], "argument --seed: 'abc' is not a whole number"),
    (["grad", "x'*x", "x", "--format", "docx"], "unknown format"),
    (["grad", "x'*x", "x", "--let", "x:tensor"], "unknown kind"),
    (["grad", "x'*x", "x", "--let", "x"], "cannot read the declaration"),
    (["grad", "x'*x", "$x"], "the variable must be a name"),
    (["show", "x", "--format", "png2"], "unknown format"),
]


def _check_ok(code, out, err, want):
    assert code == 0, (out, err)
    assert want in out
    assert "Traceback" not in err and "error" not in err.lower()


def _check_fail(code, out, err, want, expected_code):
    assert code == expected_code, (code, out, err)
    assert "Traceback" not in out + err and "internal error" not in out + err
    if want is not None:
        assert want in err, err


# ------------------------------------------------------------------ in process (cli_runner.invoke)

@pytest.mark.parametrize("args,want", OK, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_success_is_0_with_the_result_on_stdout(args, want):
    r = invoke(args)
    _check_ok(r.exit_code, r.stdout, r.stderr, want)


@pytest.mark.parametrize("args,want", INCONCLUSIVE, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_an_inconclusive_verification_is_0_and_says_so(args, want):
    r = invoke(args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert want in r.stdout + r.stderr
    assert "✓" not in r.stdout + r.stderr and "✗" not in r.stdout + r.stderr
    assert r.stdout.strip(), "the result is still printed"


@pytest.mark.parametrize("args,want", BAD_INPUT, ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None)
def test_bad_input_is_2_with_a_message_on_stderr(args, want):
    r = invoke(args)
    _check_fail(r.exit_code, r.stdout, r.stderr, want, 2)
    assert r.stdout == ""


@pytest.mark.parametrize("args,want", BAD_USAGE, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_usage_is_2(args, want):
    r = invoke(args)
    _check_fail(r.exit_code, r.stdout, r.stderr, want, 2)


def test_carets_point_at_the_fault():
    r = invoke(["show", "norm(A*x - b]"])
    lines = r.stderr.splitlines()
    assert r.exit_code == 2
    assert lines[0] == "  norm(A*x - b]" and lines[1].index("^") == lines[0].index("]")


# ------------------------------------------------------------------ a real process

def run(args, stdin=None, timeout=60):
    t = time.perf_counter()
    r = subprocess.run(MATCALC + args, input=stdin, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8", "replace"), time.perf_counter() - t


def test_real_process_exit_codes_and_streams():
    code, out, err, _ = run(["grad", "norm(A*x - b)**2", "x"])
    _check_ok(code, out, err, "2Aᵀ(Ax − b)")
    code, out, err, _ = run(INCONCLUSIVE[0][0])
    assert code == 0 and INCONCLUSIVE[0][1] in out
    for args, want in BAD_INPUT[:3] + BAD_USAGE[1:5] + BAD_USAGE[-3:]:
        code, out, err, _ = run(args)
        _check_fail(code, out, err, want, 2)
    code, out, err, _ = run([])
    assert code == 2 and "Usage" in out + err


def test_real_process_reads_the_expression_from_stdin():
    code, out, err, _ = run(["grad", "-", "X", "--plain"], stdin=b"tr(A*X*B)\n")
    assert (code, out) == (0, "AᵀBᵀ\n"), err
    code, out, err, _ = run(["show", "-"], stdin=b"\xff\xfe x")
    assert code == 2 and "not UTF-8" in err
    code, out, err, _ = run(["show", "-"], stdin=b"")
    assert code == 2 and "empty expression" in err


def test_real_process_refuses_a_stdin_expression_over_128_kib():
    text = ("x+" * 70_000 + "x").encode()            # 140,001 bytes > 128 KiB
    code, out, err, dt = run(["grad", "-", "x"], stdin=text)
    assert code == 2 and out == ""
    assert "the expression is 140001 characters long; the limit is 100000" in err
    assert "^" in err and "Traceback" not in err
    assert dt < 10


def test_real_process_refuses_endless_stdin_without_reading_it_all():
    code, out, err, dt = run(["show", "-"], stdin=b"x+" * 2_000_000)      # 4 MB
    assert code == 2 and "standard input is longer than 256 KiB" in err
    assert dt < 10


def test_real_process_handles_an_expression_at_the_length_limit():
    text = ("x+" * 49_999 + "x").encode()             # 99,999 characters
    code, out, err, dt = run(["show", "-", "--plain"], stdin=text)
    assert (code, out) == (0, "50000x\n"), err
    assert dt < 10


def test_real_process_deep_nesting_is_a_limit_error():
    code, out, err, dt = run(["show", "-"], stdin=("(" * 10_000 + "x" + ")" * 10_000).encode())
    assert code == 2 and "nests deeper than 200 levels" in err and "Traceback" not in err
    assert dt < 10


@pytest.mark.slow
def test_real_process_blow_up_is_a_limit_error():
    expr = "*".join(f"sin({i}*alpha)" for i in range(1, 401))
    code, out, err, dt = run(["grad", expr, "alpha"], timeout=120)
    assert code == 2 and "grows too large" in err and out == ""
    assert dt < 60
