"""The command boundary (matcalc/command.py) and the options every user meets first: help, output files,
terminal safety, --standalone, --name, --steps width. In process (tests/cli_runner.py), and real processes."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_runner import invoke
from matcalc.command import safe_text
EXE = shutil.which("matcalc")
MATCALC = [EXE] if EXE else [sys.executable, "-m", "matcalc"]
COMMANDS = ("show", "grad", "jacobian", "hessian", "vjp", "jvp", "hvp", "verify")

GOOD = '''[[identity]]
name = "trace-product"
expr = "tr(A*X)"
wrt = "X"
expected = "A'"
'''


def run(*args, **kw):
    return invoke([str(a) for a in args], **kw)


def real(*args, **kw):
    return subprocess.run(MATCALC + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                          encoding="utf-8", **kw)


# ------------------------------------------------------------------ help

def _examples(help_text: str) -> list[str]:
    i = help_text.index("Examples")
    return [line.strip() for line in help_text[i:].splitlines() if line.strip().startswith("matcalc ")]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_has_examples_and_plain_metavars(command):
    r = run(command, "--help", env={"COLUMNS": "120"})
    assert r.exit_code == 0
    assert "<bool>" not in r.stdout and "<str>" not in r.stdout and "{" not in r.stdout.split("\n\n")[1]
    usage = next(line for line in r.stdout.splitlines() if "Usage:" in line)
    want = {"show": "EXPR", "verify": "PATH..."}.get(command, "EXPR VAR")
    assert usage.strip() == f"Usage: matcalc {command} [OPTIONS] {want}"
    assert len(_examples(r.stdout)) >= 2


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "verify"])
def test_the_examples_in_the_help_run(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line in _examples(run(command, "--help", env={"COLUMNS": "200"}).stdout):
        import shlex
        args = shlex.split(line)[1:]
        r = run(*args)
        assert r.exit_code == 0, (line, r.output)


def test_the_main_help_points_to_the_list_of_functions():
    r = run("--help", env={"COLUMNS": "120"})
    assert "matcalc functions" in r.stdout and "<bool>" not in r.stdout


def test_short_help_options_are_not_taken_for_expressions():
    assert run("grad", "-h").exit_code == 0


# ------------------------------------------------------------------ exit 2, never 3

@pytest.mark.parametrize("args", [["grad", "x'*x", "x", "--seed", "-1"], ["verify", "x.toml", "--seed", "-1"]])
def test_a_negative_seed_is_a_usage_error(args):
    r = run(*args)
    assert r.exit_code == 2 and "--seed" in r.stderr and "internal error" not in r.output


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", [["grad", "norm(A*x - b)**2", "x"], ["show", "x'*A*x", "--format", "json"],
                                  ["grad", "x'*x", "x", "--format", "numpy"]])
def test_standard_output_on_a_full_device_exits_2_with_a_message(args):
    with open("/dev/full", "w") as full:
        p = subprocess.run(MATCALC + args, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "cannot write the output: No space left on device" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_verify_report_on_a_full_device_exits_2(tmp_path):
    f = tmp_path / "ids.toml"
    f.write_text(GOOD)
    with open("/dev/full", "w") as full:
        p = subprocess.run(MATCALC + ["verify", str(f), "--json"], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    assert p.returncode == 2 and "No space left on device" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("target", ["/dev/full", "/dev/null"])
def test_output_to_a_device_is_refused(target):
    if not os.path.exists(target):
        pytest.skip(f"no {target} on this system")
    r = run("grad", "x'*x", "x", "--format", "latex", "-o", target)
    assert r.exit_code == 2 and "not a regular file" in r.stderr


# ------------------------------------------------------------------ files: never over an input, a link or an old file

def test_output_never_overwrites_an_existing_file_without_force(tmp_path):
    out = tmp_path / "grad.tex"
    out.write_text("my notes\n")
    r = run("grad", "x'*x", "x", "--format", "latex", "-o", out)
    assert r.exit_code == 2 and "exists" in r.stderr and "--force" in r.stderr
    assert out.read_text() == "my notes\n"
    r = run("grad", "x'*x", "x", "--format", "latex", "-o", out, "--force")
    assert r.exit_code == 0 and out.read_text() == "2\\mathbf{x}\n"


def test_output_never_writes_through_a_symbolic_link(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "out.tex"
    link.symlink_to(target)
    r = run("grad", "x'*x", "x", "--format", "latex", "-o", link)
    assert r.exit_code == 2 and "symbolic link" in r.stderr
    r = run("grad", "x'*x", "x", "--format", "latex", "-o", link, "--force")
    assert r.exit_code == 0
    assert target.read_text() == "keep me\n"                      # the link is replaced, not its target
    assert not link.is_symlink() and link.read_text() == "2\\mathbf{x}\n"


def test_junit_onto_an_input_is_refused_before_any_check(tmp_path):
    ids = tmp_path / "ids.toml"
    ids.write_text(GOOD)
    for junit in (ids, tmp_path / "." / "ids.toml"):
        r = run("verify", ids, "--junit", junit)
        assert r.exit_code == 2 and "an input is never overwritten" in r.stderr and r.stdout == ""
        assert ids.read_text() == GOOD
    r = run("verify", tmp_path, "--junit", ids)                    # found in a folder: an input too
    assert r.exit_code == 2 and ids.read_text() == GOOD


def test_junit_replaces_an_old_report(tmp_path):
    ids = tmp_path / "ids.toml"
    ids.write_text(GOOD)
    junit = tmp_path / "report.xml"
    junit.write_text("old")
    assert run("verify", ids, "--junit", junit).exit_code == 0
    assert ET.parse(junit).getroot().tag == "testsuites"


# ------------------------------------------------------------------ hostile names: XML and terminal stay safe

HOSTILE = "\u001b]0;TITLE\u0007\u001b[2J-\ufffe-\u009b"


def _hostile_file(folder: Path, filename: str = "ids.toml") -> Path:
    f = folder / filename
    toml_name = HOSTILE.encode("unicode_escape").decode().replace("\\x", "\\u00")
    f.write_text(GOOD.replace('"trace-product"', f'"{toml_name}"') + '\n[[identity]]\nname = "wrong-' +
                 toml_name + '"\nexpr = "tr(A*X)"\nwrt = "X"\nexpected = "A"\n', encoding="utf-8")
    return f


def test_junit_is_well_formed_whatever_the_names(tmp_path):
    f = _hostile_file(tmp_path, "a\u001b[2Jb.toml")
    junit = tmp_path / "junit.xml"
    r = run("verify", f, "--junit", junit)
    assert r.exit_code == 1
    root = ET.parse(junit).getroot()                  # raises on XML that is not well-formed
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 2
    for case in cases:
        for attr in ("name", "classname", "file"):
            assert "\u001b" not in case.get(attr) and "\ufffe" not in case.get(attr)
    assert cases[0].get("name").startswith("\ufffd]0;TITLE")


def test_names_with_terminal_escapes_are_printed_as_replacement_characters(tmp_path):
    f = _hostile_file(tmp_path, "a\u001b[2Jb.toml")
    for r in (run("verify", f), real("verify", f)):
        out = r.stdout + r.stderr
        assert "\u001b" not in out and "\u0007" not in out and "\u009b" not in out
        assert "\ufffd]0;TITLE\ufffd\ufffd[2J" in out
        assert "a\ufffd[2Jb.toml" in out                    # the file name in the failure line
    data = run("verify", f, "--json").stdout
    assert "\u001b" not in data and "\u009b" not in data
    assert json.loads(data)["results"][0]["name"] == HOSTILE        # JSON keeps the name, escaped


def test_an_invalid_file_with_an_escape_in_its_name_is_named_safely(tmp_path):
    f = tmp_path / "bad\u001b[2J.toml"
    f.write_text('[[identity]]\nname = "a"\n')
    r = run("verify", f)
    assert r.exit_code == 2 and "\u001b" not in r.stderr and "bad\ufffd[2J.toml" in r.stderr


def test_safe_text_keeps_lines_and_printable_text():
    assert safe_text("a\tb\nc ‖x‖² \u001b\u009b\ufffe") == "a b\nc ‖x‖² \ufffd\ufffd\ufffd"


# ------------------------------------------------------------------ verify: an inconclusive identity

def test_an_inconclusive_identity_is_counted_and_shown_but_not_a_failure(tmp_path, monkeypatch):
    from matcalc import identities
    ids = tmp_path / "ids.toml"
    ids.write_text(GOOD)

    def inconclusive(chosen, trials=3, seed=0, jobs=1):
        for ident in chosen:
            yield identities.Outcome(ident.name, "inconclusive", message="no step resolves the derivative",
                                     file=ident.file, line=ident.line)
    monkeypatch.setattr(identities, "run", inconclusive)
    junit = tmp_path / "junit.xml"
    r = run("verify", ids, "--junit", junit)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-1] == "0 passed, 0 failed, 0 errors, 1 inconclusive"
    assert re.search(r"trace-product\s+inconclusive", r.stdout)
    assert "INCONCLUSIVE trace-product" in r.stdout and "no step resolves the derivative" in r.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "1")
    assert suite.find("testcase/skipped").get("message") == "no step resolves the derivative"
    s = json.loads(run("verify", ids, "--json").stdout)["summary"]
    assert (s["passed"], s["failed"], s["error"], s["inconclusive"]) == (0, 0, 0, 1)


def test_errors_are_counted_apart_from_failures(tmp_path):
    ids = tmp_path / "ids.toml"
    ids.write_text(GOOD + '\n[[identity]]\nname = "unparsable"\nexpr = "tr(A*X"\nwrt = "X"\nexpected = "A\'"\n'
                   '\n[[identity]]\nname = "bad-expected"\nexpr = "tr(X)"\nwrt = "X"\nexpected = "*I"\n')
    r = run("verify", ids)
    assert r.exit_code == 1 and r.stdout.splitlines()[-1] == "1 passed, 0 failed, 2 errors"
    assert "ERROR unparsable" in r.stdout
    assert "syntax error in expected: expected an operand but found '*' (in '*I', column 1)" in r.stdout


# ------------------------------------------------------------------ output: --standalone, --name, --steps width

@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="TeX is not installed: no 'pdflatex' program on PATH")
def test_standalone_latex_compiles_with_pdflatex_as_is(tmp_path):
    r = run("grad", "cross_entropy(W2*tanh(W1*x + b1) + b2, y)", "W1", "--format", "latex", "--standalone")
    assert r.exit_code == 0
    assert r.stdout.startswith("\\documentclass") and r.stdout.rstrip().endswith("\\end{document}")
    (tmp_path / "grad.tex").write_text(r.stdout, encoding="utf-8")
    p = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "grad.tex"], cwd=tmp_path,
                       capture_output=True, text=True, errors="replace", timeout=300)
    assert p.returncode == 0, p.stdout[-2000:]
    assert (tmp_path / "grad.pdf").stat().st_size > 1000


def test_standalone_goes_with_latex_only():
    r = run("grad", "x'*x", "x", "--standalone")
    assert r.exit_code == 2 and "--standalone goes with --format latex" in r.stderr


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_name_names_the_generated_function(backend):
    r = run("grad", "x'*A*x", "x", "--format", backend, "--name", "quad_grad")
    assert r.exit_code == 0 and "def quad_grad(x, A):" in r.stdout and "grad_f" not in r.stdout
    r = run("grad", "x'*A*x", "x", "--format", backend, "--name", "quad", "--with-value")
    assert "def quad(x, A):" in r.stdout


def test_the_named_function_runs():
    import numpy as np
    code = run("grad", "x'*A*x", "x", "--format", "numpy", "--name", "quad_grad").stdout
    scope: dict = {}
    exec(compile(code, "generated", "exec"), scope)      # the generated module, not user text
    A, x = np.arange(9.0).reshape(3, 3), np.array([1.0, 2.0, 3.0])
    assert np.allclose(scope["quad_grad"](x, A), (A + A.T) @ x)


@pytest.mark.parametrize("name", ["np", "2f", "def", "a-b", "torch"])
def test_a_name_that_cannot_name_the_function_is_refused(name):
    r = run("grad", "x'*x", "x", "--format", "numpy", "--name", name)
    assert r.exit_code == 2 and "cannot name the generated function" in r.stderr
    assert run("grad", "x'*x", "x", "--name", "f").exit_code == 2         # --name goes with code only


def test_torch_code_says_that_it_casts_to_float64():
    code = run("grad", "x'*x", "x", "--format", "torch").stdout
    assert "every argument is cast to float64, a float32 one too, and so is the result" in code
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    scope: dict = {}
    exec(compile(code, "generated", "exec"), scope)
    assert scope["grad_f"](torch.ones(3, dtype=torch.float32)).dtype == torch.float64


def test_jax_code_says_which_float_type_it_uses():
    code = run("grad", "x'*x", "x", "--format", "jax").stdout
    assert "cast to JAX's default float type: float32, or float64 when jax_enable_x64 is set" in code


STEPS = ["grad", "cross_entropy(W2*tanh(W1*x + b1) + b2, y)", "W1", "--steps", "--no-verify"]


def test_steps_use_100_columns_when_piped():
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    p = real(*STEPS, env=env)
    assert p.returncode == 0
    widths = [len(line) for line in p.stdout.splitlines()]
    assert max(widths) <= 100 and max(widths) > 80


def test_steps_follow_the_terminal_width(monkeypatch):
    import matcalc.command as command
    monkeypatch.setattr(command, "output_width", lambda: 60)
    import matcalc.output as output
    monkeypatch.setattr(output, "output_width", lambda: 60)
    r = run(*STEPS)
    tree = [line for line in r.stdout.splitlines() if line[:1] in "├│└ "]
    assert len(tree) > 10 and max(len(line) for line in tree) <= 60
