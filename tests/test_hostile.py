"""Hostile inputs (issue 18): every command ends with the exit and message the table says, under a
memory cap (RLIMIT_AS, as `ulimit -v`) and a time bound, in a real `matcalc` process.

The time bounds guard against hangs: each is many times what the input takes on the development
machine (figures in README, "Errors and limits"), so that a shared machine does not fail them.
"""
from __future__ import annotations

import os
import random
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz.hostile import hostile_input, run_capped  # noqa: E402

MEMORY_MB = 1536


def _sum(form, n):
    return " + ".join(form.format(i=i) for i in range(n))


def _nested(levels):
    e = "x"
    for _ in range(levels):
        e = f"({e}).*sin({e})"
    return f"sum({e})"


BAD_IDENTITY = '[[identity]]\nname = "{name}"\nexpr = "x\'*x"\nwrt = "x"\nexpected = "3*x"\n'
GOOD_IDENTITY = '[[identity]]\nname = "good"\nexpr = "x\'*x"\nwrt = "x"\nexpected = "2*x"\n'


def _folder_in_odd_encodings(d):
    (d / "bom.toml").write_bytes(b"\xef\xbb\xbf" + BAD_IDENTITY.format(name="bom").encode())
    (d / "utf16.toml").write_bytes(BAD_IDENTITY.format(name="utf16").encode("utf-16"))
    (d / "utf16be.toml").write_bytes(b"\xfe\xff" + BAD_IDENTITY.format(name="utf16be").encode("utf-16-be"))


def _folder_with_special_files(d):
    (d / "good.toml").write_text(GOOD_IDENTITY)
    os.symlink("/dev/zero", d / "zero.toml")
    os.mkfifo(d / "pipe.toml")


def _deep_tags(d):
    (d / "deep.toml").write_text(GOOD_IDENTITY + "tags = " + "[" * 5000 + "]" * 5000 + "\n")


def _dotted_key(d):
    (d / "dotted.toml").write_text(GOOD_IDENTITY + ".".join(["a"] * 30000) + " = 1\n")


def _huge_file(d):
    (d / "huge.toml").write_text(GOOD_IDENTITY + "# " + "x" * (5 * 1024 * 1024) + "\n")


# id, arguments, set-up of the working folder, exit, message (a regex on stderr and stdout), time bound (s)
TABLE = [
    ("2000 weight matrices, checked", ["grad", _sum("sum(tanh(W{i}*x))", 2000), "x"], None, 0, "✓ verified", 120),
    ("product of 300 matrices", ["grad", "tr(" + "*".join(f"A{i}" for i in range(300)) + ")", "A150"],
     None, 0, "✓ verified", 60),
    ("1000 shared temporaries, text", ["grad", _sum("norm(A{i}*x - b)", 1000), "x", "--no-verify"],
     None, 0, "where", 60),
    ("1000 shared temporaries, latex", ["grad", _sum("norm(A{i}*x - b)", 1000), "x", "--format", "latex"],
     None, 0, "where", 60),
    ("merged matrix power in a product", ["grad", "a'*(X^64)^32*b", "X", "--no-verify"], None, 2,
     r"limit exceeded: matrix powers are limited to ±64 as typed and ±128 once merged: this one is a power 2048", 30),
    ("merged matrix power", ["show", "(X^64)^64"], None, 2, r"matrix powers are limited to ±64", 30),
    ("merged matrix power, four deep", ["grad", "tr((((X^64)^64)^64)^64)", "X"], None, 2,
     r"matrix powers are limited to ±64", 30),
    ("merged matrix power in a chain", ["show", "tr(X^64*X^64*X^40)"], None, 2, r"a power 168", 30),
    ("nested sharing, JSON", ["grad", _nested(11), "x", "--format", "json"], None, 2,
     r"longer than 100,000 characters", 60),
    ("nested sharing, 13 levels, JSON", ["grad", _nested(13), "x", "--format", "json"], None, 2,
     r"longer than 100,000 characters", 60),
    ("nested sharing, text", ["grad", _nested(11), "x"], None, 0, "✓ verified", 60),
    ("huge declared size", ["grad", "norm(A*x)^2", "x", "--let", "x:vector(9999999999999999999999)"], None, 2,
     r"a declared size is at most 1,000,000", 30),
    ("huge declared matrix, checked", ["grad", "norm(A*x)^2", "x", "--let", "A:matrix(100000,100000)"], None, 2,
     r"the numeric check would take about .* steps of work; the limit is 4,000,000", 30),
    ("huge declared matrix, not checked",
     ["grad", "norm(A*x)^2", "x", "--let", "A:matrix(100000,100000)", "--no-verify"], None, 0, "2AᵀAx", 30),
    ("huge identity matrix", ["grad", "x'*eye(99999999)*x", "x"], None, 2, r"numeric check would take", 30),
    ("identities with a BOM, in UTF-16", ["verify", "ids"], _folder_in_odd_encodings, 1, r"0 passed, 3 failed", 60),
    ("identities beside /dev/zero and a FIFO", ["verify", "ids"], _folder_with_special_files, 0,
     r"note: skipping ids/pipe.toml: not a regular file \(a FIFO\)(.|\n)*"
     r"note: skipping ids/zero.toml: not a regular file \(a device\)", 60),
    ("a FIFO named", ["verify", "ids/pipe.toml"], _folder_with_special_files, 2,
     r"ids/pipe.toml: cannot read: not a regular file \(a FIFO\)", 30),
    ("/dev/zero named", ["verify", "ids/zero.toml"], _folder_with_special_files, 2,
     r"ids/zero.toml: cannot read: not a regular file \(a device\)", 30),
    ("tags nested 5000 deep", ["verify", "ids"], _deep_tags, 2,
     r"ids/deep.toml:6: TOML syntax error: the TOML nests deeper than 32 levels", 30),
    ("a 60 KB dotted key", ["verify", "ids"], _dotted_key, 2,
     r"ids/dotted.toml:6: TOML syntax error: the TOML nests deeper than 32 levels", 30),
    ("a 5 MB identity file", ["verify", "ids/huge.toml"], _huge_file, 2,
     r"ids/huge.toml: cannot read: larger than 4 MiB", 30),
]


@pytest.mark.parametrize("args, setup, code, message, seconds", [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_hostile_input(tmp_path, args, setup, code, message, seconds):
    (tmp_path / "ids").mkdir()
    if setup:
        setup(tmp_path / "ids")
    r = run_capped(args, seconds=seconds, memory_mb=MEMORY_MB, cwd=str(tmp_path))
    assert r.exit is not None, f"still running after {seconds} s"
    assert r.exit == code, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert re.search(message, r.stderr + r.stdout), (r.stderr + r.stdout)[-2000:]


def test_hostile_fuzz_ci(tmp_path):
    """A few generated hostile inputs (tests/fuzz/hostile.py) through the CLI under the caps."""
    rng = random.Random(18)
    for _ in range(6):
        args = hostile_input(rng, max_size=4)
        r = run_capped(args, seconds=120, memory_mb=MEMORY_MB, cwd=str(tmp_path))
        assert r.problem is None, (args, r.problem, r.stderr[-1000:])


# ------------------------------------------------------------------ the parts, in process

pytest_plugins = ["pytester"]


def test_sizes_drawn_for_the_check_stay_small_and_apart_where_they_meet():
    import numpy as np

    from matcalc.verify import MAX_DRAWN_SIZE, draw_sizes
    rng = np.random.default_rng(0)
    few = draw_sizes(["m", "n", "k", "p", "q", "r"], rng)
    assert sorted(few.values()) == [2, 3, 4, 5, 6, 7]          # up to six names: all distinct
    names = [f"d{i}" for i in range(2000)] + ["n"]
    pairs = {(f"d{i}", "n") for i in range(2000)} | {(f"d{i}", f"d{i + 1}") for i in range(1999)}
    sizes = draw_sizes(names, np.random.default_rng(1), pairs)
    assert max(sizes.values()) <= MAX_DRAWN_SIZE and min(sizes.values()) >= 2
    assert all(sizes[a] != sizes[b] for a, b in pairs)      # a missing transpose would show


def test_a_wrong_answer_among_many_names_is_caught():
    import matcalc
    from matcalc import algebra as alg
    from matcalc.verify import check
    expr = " + ".join(f"x'*W{i}*y{i}" for i in range(40))
    r = matcalc.grad(expr, "W7")
    assert r.verify().passed
    # a wrong answer that types: the transpose, at a square W7 (x and y7 of one size n)
    r2 = matcalc.grad(expr, "W7", let={"W7": "matrix(n,n)", "y7": "vector(n)"})
    for seed in range(5):
        assert not check("grad", r2.function.typed, "W7", alg.transpose(r2.expr), r2.symbols, {}, seed=seed).passed


def test_a_check_past_its_budget_is_a_limit_error():
    import matcalc
    from matcalc.errors import LimitError
    r = matcalc.grad("norm(A*x)^2", "x", let={"A": "matrix(3000,3000)"})
    with pytest.raises(LimitError, match="numeric check would take"):
        r.verify()


def test_naming_temporaries_is_linear():
    """The text printer names 1,000 temporaries with a few look-ups each (it made ~n² before)."""
    import matcalc
    from matcalc.printing import TextPrinter
    r = matcalc.grad(_sum("norm(A{i}*x - b)", 1000), "x")
    calls = [0]
    look = TextPrinter.look

    def counting(self, name):
        calls[0] += 1
        return look(self, name)
    TextPrinter.look = counting
    try:
        out = r.text
    finally:
        TextPrinter.look = look
    named = out.count(" = ")
    assert named >= 900
    assert calls[0] < 5 * named


def test_printing_is_under_the_work_budget(monkeypatch):
    import matcalc
    from matcalc import expr as ex
    from matcalc.errors import LimitError
    from matcalc.printing import latex, text
    r = matcalc.grad(_sum("norm(A{i}*x - b)", 200), "x")
    monkeypatch.setattr(ex, "MAX_WORK", 1000)
    for printer in (text, latex):
        with pytest.raises(LimitError, match="printing the result grows too large"):
            printer(r.expr, reserved=r.symbols)


def test_matcalc_syntax_is_refused_past_the_parsers_length():
    import matcalc
    from matcalc.errors import LimitError
    from matcalc.printing import source
    r = matcalc.grad(_nested(11), "x")
    with pytest.raises(LimitError, match="longer than 100,000 characters"):
        source(r.expr)
    small = matcalc.grad(_nested(3), "x")
    assert matcalc.parse(source(small.expr), {"x": "vector"}).expr is small.expr


@pytest.mark.parametrize("expr", ["(X^64)^64", "tr(X^64*X^64*X)", "tr(X^-64*X^-64*X^-1)",
                                  "tr(inv(X^64)*inv(X^64)*inv(X))"])
def test_matrix_powers_are_limited_after_merging(expr):
    import matcalc
    from matcalc.errors import LimitError
    with pytest.raises(LimitError, match="matrix powers are limited to ±64 as typed and ±128 once merged"):
        matcalc.parse(expr)


def test_matrix_powers_within_the_limit_still_merge_and_differentiate():
    import matcalc
    assert matcalc.parse("tr(X^32*X^32)").text == "tr(X⁶⁴)"
    assert matcalc.parse("tr(X^64*X^-64)").text == "n"          # tr(Iₙ) = n
    assert matcalc.parse("tr(X^64*X^64)").text == "tr(X¹²⁸)"
    for kind in ("grad", "vjp", "jvp"):            # d tr(X⁻⁶⁴) has X⁻⁶⁵: not refused
        for expr in ("tr(X^-64)", "tr(X^64)"):
            assert matcalc.derivative(kind, expr, "X").verify().passed


@pytest.mark.parametrize("backend", ["numpy"])
def test_generated_code_protects_the_builtins_it_uses(backend):
    import numpy as np

    import matcalc
    from matcalc.codegen import function_code
    r = matcalc.grad("sum(ValueError*tuple) + float'*np*math", "tuple",
                     let={"ValueError": "matrix(len,range)", "np": "vector(len)", "math": "scalar"})
    code = function_code(r, backend)
    env: dict = {}
    exec(compile(code, "<generated>", "exec"), env)
    f = env["grad_f"]
    assert np.allclose(f(np.ones((3, 4)), np.ones(4), np.ones(3), np.ones(3), 2.0), np.full(4, 3.0))
    with pytest.raises(ValueError, match="tuple: axis 0 has size 5"):
        f(np.ones((3, 4)), np.ones(5), np.ones(3), np.ones(3), 2.0)


def test_identity_files_in_utf16_or_with_a_bom_are_collected_by_the_plugin(pytester):
    d = pytester.path / "identities"
    d.mkdir()
    (d / "bom.toml").write_bytes(b"\xef\xbb\xbf" + BAD_IDENTITY.format(name="bom").encode())
    (d / "utf16.toml").write_bytes(BAD_IDENTITY.format(name="utf16").encode("utf-16"))
    os.symlink("/dev/zero", d / "zero.toml")
    os.mkfifo(d / "pipe.toml")
    result = pytester.runpytest("identities")
    result.assert_outcomes(failed=2)


def test_an_identity_file_nested_too_deep_fails_collection_with_file_and_line(pytester):
    d = pytester.path / "identities"
    d.mkdir()
    _deep_tags(d)
    result = pytester.runpytest("identities")
    result.stdout.fnmatch_lines(["*deep.toml:6: TOML syntax error: the TOML nests deeper than 32 levels*"])


def test_generated_code_calls_no_builtin_it_does_not_protect():
    """Every builtin name generated code refers to is in codegen.BUILTINS_USED, which no variable,
    size or temporary is given (over the catalogue, every backend, with and without the value)."""
    import ast
    import builtins

    from catalogue_points import results

    from matcalc.codegen import BUILTINS_USED, function_code
    seen = set()
    for _, r in results():
        for backend in ("numpy", "torch", "jax"):
            for with_value in (False, True):
                tree = ast.parse(function_code(r, backend, with_value=with_value))
                seen |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in dir(builtins)}
    assert seen and seen <= BUILTINS_USED, seen - BUILTINS_USED


@pytest.mark.parametrize("encoding, mark", [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
                                            ("utf-16-be", b"\xfe\xff"), ("utf-32-le", b"\xff\xfe\x00\x00"),
                                            ("utf-32-be", b"\x00\x00\xfe\xff")])
def test_identity_files_with_a_byte_order_mark_are_read(tmp_path, encoding, mark):
    from matcalc.identities import load
    (tmp_path / "ids.toml").write_bytes(mark + BAD_IDENTITY.format(name="μ-wrong").encode(encoding))
    assert [i.name for i in load([tmp_path])] == ["μ-wrong"]


def test_special_files_in_a_folder_are_skipped_with_the_reason(tmp_path):
    from matcalc.identities import FileReadError, load
    _folder_with_special_files(tmp_path)
    skipped = []
    assert [i.name for i in load([tmp_path], skipped)] == ["good"]
    assert sorted((os.path.basename(s), s.reason) for s in skipped) == [
        ("pipe.toml", "not a regular file (a FIFO)"), ("zero.toml", "not a regular file (a device)")]
    with pytest.raises(FileReadError, match="not a regular file"):
        load([tmp_path / "pipe.toml"])


def test_utf16_without_a_mark_is_an_error_naming_the_file(tmp_path):
    from matcalc.identities import FileReadError, load
    (tmp_path / "ids.toml").write_bytes(BAD_IDENTITY.format(name="x").encode("utf-16-le"))
    with pytest.raises(FileReadError, match="NUL bytes") as info:
        load([tmp_path])
    assert info.value.file.endswith("ids.toml") and info.value.line == 1


def test_a_check_redrawing_points_forever_is_stopped_by_its_budget(monkeypatch):
    """A function finite nowhere: every point is drawn again, at five sets of sizes; the work is
    counted as it is done, across the sets of sizes, and stops at the budget."""
    import matcalc
    from matcalc import verify
    from matcalc.errors import LimitError
    monkeypatch.setattr(verify, "MAX_CHECK_WORK", 20_000)
    r = matcalc.grad("sum(log(-exp(x))) + " + _sum("sum(tanh(W{i}*x))", 5), "x")
    with pytest.raises(LimitError, match="numeric check grows too large"):
        r.verify()
    assert matcalc.grad("norm(x)^2", "x").verify().passed      # the next check has its own budget
