"""Injection (issue 7): matcalc never evaluates user text, and names cannot break out of what it writes.

- Python, shell and format-string payloads are syntax errors (or, for a bare word such as `eval`,
  just a variable name); a real process run on them creates no file.
- A name is an identifier `[A-Za-z][A-Za-z0-9_]*` or an error, everywhere a name is accepted (the
  expression, --let, the variable); in generated code a keyword gets a trailing underscore
  (`lambda` -> `lambda_`), and the code refers to no other names than the variables' and NumPy's.
- LaTeX output escapes `_` (the only character of a name LaTeX treats specially).
- Error messages never echo control characters (an escape sequence would reach the terminal).
"""
from __future__ import annotations

import ast
import keyword
import os
import re
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cli_runner import invoke

import matcalc
from matcalc.errors import MatcalcError, ParseError, UsageError
from matcalc.printing import code_name, latex_name
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def payloads(target: str) -> list[str]:
    """Expressions that would create `target` if anything evaluated them."""
    return [
        f"__import__('os').system('touch {target}')",
        f"exec(\"open('{target}', 'w')\")",
        f"eval(\"open('{target}', 'w')\")",
        f"x + __import__('os').system('touch {target}')",
        f"lambda: open('{target}', 'w')",
        "lambda: 0",
        "x.__class__",
        "x.__class__.__bases__[0].__subclasses__()",
        "().__class__",
        f"$(touch {target})",
        f"`touch {target}`",
        f"x; touch {target}",
        f"x && touch {target}",
        f"x | tee {target}",
        f"x > {target}",
        "{0}", "{x}", "{0.__class__}", "%s", "%(x)s", "x % 2", "f'{x}'",
        "${x}", "x\\ny", "#x", "@x",
    ]


@pytest.mark.parametrize("expr", payloads("/tmp/matcalc-pwned"))
def test_payloads_are_syntax_errors(expr):
    with pytest.raises(ParseError) as info:
        matcalc.parse(expr)
    err = info.value
    assert err.kind == "syntax error" and err.span is not None
    with pytest.raises(ParseError):
        matcalc.grad(expr, "x")


@pytest.mark.parametrize("word", ["eval", "exec", "lambda", "print", "open", "system", "os", "np", "class"])
def test_a_bare_word_is_only_a_variable_name(word):
    p = matcalc.parse(f"{word}'*{word}" if word != "lambda" else "lambda*x'*x")
    assert {s.name for s in p.symbols.values()} <= {word, "x"}


def test_no_file_is_created(tmp_path, monkeypatch):
    """Every payload as the expression (argument and stdin) and as the variable, with tmp_path as the
    working directory: all refused with exit 2, and nothing appears."""
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "pwned"
    for expr in payloads(str(target)) + ["touch pwned", "$(touch pwned)", "`touch pwned`"]:
        for args, stdin in ((["show", expr], None), (["grad", expr, "x"], None), (["grad", "x'*x", expr], None),
                            (["grad", "-", "x"], expr)):
            r = invoke(args, input=stdin)
            assert r.exit_code == 2, (args, r.stdout, r.stderr)
            assert "Traceback" not in r.stderr and r.stdout == ""
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_no_file_is_created_by_a_real_process(tmp_path):
    """The installed matcalc, as a shell user would run it (arguments and stdin)."""
    target = tmp_path / "pwned"
    exe = shutil.which("matcalc")
    cmd = [exe] if exe else [sys.executable, "-m", "matcalc"]
    for expr in payloads(str(target))[:4] + [f"$(touch {target})", f"`touch {target}`; touch {target}"]:
        for args, stdin in ((["grad", expr, "x"], None), (["grad", "-", "x"], expr)):
            r = subprocess.run(cmd + args, cwd=tmp_path, input=stdin, capture_output=True, text=True, timeout=60)
            assert r.returncode == 2, (args, r.stdout, r.stderr)
            assert "Traceback" not in r.stderr and "syntax error" in r.stderr
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_no_file_is_created_through_let_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for let in ["$(touch pwned):scalar", "x:scalar;touch pwned", "`touch pwned`:vector",
                "x:matrix($(touch pwned),n)", "__import__('os'):scalar", "x:{0}", "x:%s"]:
        r = invoke(["grad", "x'*x", "x", "--let", let])
        assert r.exit_code == 2, (let, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
    for var in ["$(touch pwned)", "x;touch pwned", "x.__class__", "__import__", "`x`", "x y", "é"]:
        r = invoke(["grad", "x'*x", var])
        assert r.exit_code == 2 and "the variable must be a name" in r.stderr, (var, r.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("let", [{"$(x)": "scalar"}, {"x": "scalar; rm"}, {"x y": "vector"}, {"_x": "scalar"},
                                 {"x": "matrix(m;n)"}, {"x": "matrix({0},n)"}])
def test_declarations_only_take_names_and_kinds(let):
    with pytest.raises(MatcalcError):
        matcalc.parse("x'*x", let)


def test_the_variable_must_be_a_name():
    for var in ["x.T", "x'", "$(x)", "1x", "", "x y", "x\n", "_x", "__import__", "é", "xé"]:
        with pytest.raises(UsageError):
            matcalc.grad("x'*x", var)


# ------------------------------------------------------------------ names in generated code

names = st.from_regex(NAME, fullmatch=True).filter(lambda s: len(s) <= 12)


@settings(max_examples=200, deadline=None, database=None)
@given(names)
def test_code_names_are_identifiers_and_never_keywords(name):
    c = code_name(name)
    assert c.isidentifier() and not keyword.iskeyword(c)
    assert c in (name, name + "_")


@pytest.mark.parametrize("name", sorted(set(keyword.kwlist) | {"np", "lambda", "None", "True", "False"}))
def test_keywords_get_a_trailing_underscore_in_code(name):
    if not name[0].isalpha():
        pytest.skip("not a matcalc name")
    assert code_name(name) == name + "_"
    if name[0].isupper():
        expr, let = f"tr({name}'*{name})", {name: "matrix"}
    else:
        expr, let = f"{name}'*{name}", {name: "vector"}
    r = matcalc.grad(expr, name, let)
    tree = ast.parse(r.numpy, mode="eval")
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert used <= {name + "_", "np"}, (r.numpy, used)


def test_generated_functions_only_use_their_parameters():
    from matcalc.codegen import function_code
    r = matcalc.grad("sum(gelu(A*lambda_)) + norm(exec)**2*lambda", "exec",
                     {"exec": "vector(n)", "lambda_": "vector(n)", "A": "matrix(n,n)", "lambda": "scalar"})
    code = function_code(r, "numpy")
    tree = ast.parse(code)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    params = [a.arg for a in fn.args.args]
    assert "lambda_" in params and "exec" in params and "lambda" not in params
    # the parameter for `lambda` does not collide with the variable named lambda_
    assert len(set(params)) == len(params)


# ------------------------------------------------------------------ LaTeX

@settings(max_examples=200, deadline=None, database=None)
@given(names, st.sampled_from([(1, 1), ("n", 1), ("m", "n")]), st.sampled_from(["bold", "plain"]))
def test_latex_names_escape_what_latex_treats_specially(name, shape, style):
    out = latex_name(name, shape, style)
    assert not set(out) & set("#$%&~\n"), out
    depth = 0
    for ch in out:                                    # balanced braces
        depth += (ch == "{") - (ch == "}")
        assert depth >= 0, out
    assert depth == 0, out
    for m in re.finditer("_", out):                   # every _ is a subscript or an escaped \_
        i = m.start()
        assert out[i - 1] == "\\" or out[i + 1:i + 2] == "{", out
    assert "^" not in out or out.count("^") == out.count("^{"), out


@pytest.mark.parametrize("name", ["y_hat", "a_b_c", "x__y", "W_1", "x_", "Sigma_inv", "lambda_2", "A_b_"])
def test_latex_of_underscored_names(name):
    r = matcalc.grad(f"{name}'*{name}" if name[0].islower() else f"tr({name}'*{name})", name)
    out = r.latex
    assert not re.search(r"(?<![\\])_(?!\{)", out), out       # no bare _ : a subscript or \_


def test_latex_compiles_with_tricky_names(tmp_path):
    if not shutil.which("latex"):
        pytest.skip("no TeX engine here")
    body = "\n".join(f"$${matcalc.grad(e, v, let).latex}$$" for e, v, let in [
        ("x__y'*x__y", "x__y", None), ("norm(y_hat - b_2)**2", "y_hat", None),
        ("lambda_*x_'*x_", "x_", {"lambda_": "scalar"}), ("tr(A_b_'*W__1)", "A_b_", None)])
    doc = tmp_path / "t.tex"
    doc.write_text("\\documentclass{article}\\usepackage{amsmath,amssymb,bm}\\begin{document}\n"
                   + body + "\n\\end{document}\n")
    r = subprocess.run(["latex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]


# ------------------------------------------------------------------ the terminal

@pytest.mark.parametrize("expr", ["x + \x1b[31mred\x1b[0m", "x\x07", "x + \x1b]0;title\x07", "x\r+ ]",
                                  "x\u202e + ]", "x + \x00"])
def test_error_messages_never_echo_control_characters(expr):
    r = invoke(["show", expr])
    assert r.exit_code == 2
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "\r" not in r.stderr
    assert "\x00" not in r.stderr and "\u202e" not in r.stderr
    assert "^" in r.stderr


def test_tabs_keep_the_caret_in_its_column():
    with pytest.raises(ParseError) as info:
        matcalc.parse("x\t+\ty\t]")
    source_line, caret = info.value.render().splitlines()[:2]
    assert source_line[caret.index("^")] == "]"


def test_multi_line_input_shows_the_faulty_line():
    r = invoke(["show", "-"], input="x +\n  y ]\n  + z")
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert lines[0].strip() == "(line 2)"
    assert lines[1][lines[2].index("^")] == "]"
