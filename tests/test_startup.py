"""Start-up: a command loads only what it needs (issue 15). Real processes, whose loaded modules are
read from sys.modules as they exit."""
from __future__ import annotations

import subprocess
import sys

import pytest
from cli_runner import invoke

HEAVY = ("numpy", "rich", "argparse", "dataclasses", "typing", "matcalc.api")

# runs the console script's entry point; at exit, says which of HEAVY were loaded
PROBE = f"""
import atexit, sys
atexit.register(lambda: sys.stderr.write("\\nloaded: " + " ".join(m for m in {HEAVY!r} if m in sys.modules) + "\\n"))
sys.argv[0] = "matcalc"
from matcalc.cli import main
sys.exit(main())
"""
GRAD = ["grad", "norm(A*x - b)**2", "x"]


def loaded(*args, **kw) -> set[str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, **kw)
    assert p.returncode in (0, 2), p.stderr
    return set(p.stderr.rsplit("loaded:", 1)[1].split())


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"], []])
def test_version_and_main_help_load_neither_the_argument_parser_nor_the_engine(args):
    assert loaded(*args) == set()


@pytest.mark.parametrize("args", [GRAD + ["--no-verify"], GRAD + ["--no-verify", "-f", "latex"],
                                  GRAD + ["--no-verify", "-f", "json"], GRAD + ["-f", "numpy"],
                                  ["show", "x'*A*x", "--format", "json"], ["jacobian", "softmax(z)", "z", "--plain"]])
def test_a_command_that_evaluates_nothing_loads_neither_numpy_nor_rich_nor_dataclasses(args):
    assert loaded(*args) == {"argparse", "matcalc.api"}


def test_verification_loads_numpy_and_a_terminal_rich():
    assert {"numpy", "matcalc.api"} <= loaded(*GRAD)
    assert "rich" in loaded(*GRAD, env={"FORCE_COLOR": "1", "PATH": ""})


def test_text_written_without_rich_is_what_rich_writes():
    plain = subprocess.run([sys.executable, "-m", "matcalc", *GRAD, "--no-verify"], capture_output=True, text=True)
    forced = subprocess.run([sys.executable, "-m", "matcalc", *GRAD, "--no-verify"], capture_output=True, text=True,
                            env={"FORCE_COLOR": "1", "NO_COLOR": "1", "PATH": ""})
    assert plain.stdout == "2Aᵀ(Ax − b)\n  shape n; A: m×n, x: n, b: m\n"
    assert "\x1b[1m2Aᵀ(Ax − b)" in forced.stdout            # rich, bold: the same lines


def test_the_main_help_in_a_real_process_lists_every_command():
    p = subprocess.run([sys.executable, "-m", "matcalc", "--help"], capture_output=True, text=True,
                       env={"PATH": "", "COLUMNS": "80"})
    assert p.returncode == 0 and p.stdout.startswith("Usage: matcalc [OPTIONS] COMMAND [ARGS]...")
    commands = p.stdout.split("Commands:\n", 1)[1]
    for name in ("show", "grad", "jacobian", "hessian", "vjp", "jvp", "hvp", "functions", "verify"):
        assert f"\n  {name} " in "\n" + commands
    assert max(map(len, p.stdout.splitlines())) <= 80
    bare = subprocess.run([sys.executable, "-m", "matcalc"], capture_output=True, text=True,
                          env={"PATH": "", "COLUMNS": "80"})
    assert bare.returncode == 2 and bare.stdout == p.stdout          # no command: the help, as a usage error


def test_a_narrow_terminal_gets_the_help_fitted_to_it():
    p = subprocess.run([sys.executable, "-m", "matcalc", "--help"], capture_output=True, text=True,
                       env={"COLUMNS": "60", "PATH": ""})
    assert p.returncode == 0 and max(map(len, p.stdout.splitlines())) <= 60 and "Usage: " in p.stdout


@pytest.mark.parametrize("args, message", [
    (GRAD + ["--seed", "abc"], "argument --seed: 'abc' is not a whole number"),
    (GRAD + ["--seed", "-1"], "argument --seed: must be at least 0, not -1"),
    (GRAD + ["--trials", "1000"], "argument --trials: must be from 1 to 100, not 1000"),
    (GRAD + ["--trails", "3"], "no such option --trails (did you mean --trials?)"),
    (GRAD + ["--verify", "--no-verfy"], "no such option --no-verfy (did you mean --no-verify?)"),
    (["gard"] + GRAD[1:], "no such command 'gard' (did you mean grad?)"),
    (GRAD + ["extra"], "unexpected extra argument: extra"),
    (["grad", "--", "-x'*x", "x", "--plain"], "unexpected extra argument: --plain (after --, every word")])
def test_usage_errors_name_the_fault_and_the_usage(args, message):
    r = invoke(args)
    assert r.exit_code == 2 and r.stdout == "" and message in r.stderr
    assert "hint: matcalc " in r.stderr and "--help" in r.stderr


def test_deferred_numpy_resolves_on_first_call():
    code = ("import sys; from matcalc.ops.lazy_numpy import np; f = np.linalg.norm; e = np.exp\n"
            "assert 'numpy' not in sys.modules\n"
            "assert e(0.0) == 1.0 and f([3.0, 4.0]) == 5.0 and np.pi > 3 and 'numpy' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_console_script_skips_the_teardown_but_not_the_output():
    # cli.run ends with os._exit: everything written must have been flushed first, to a pipe as to a file
    long = subprocess.run([sys.executable, "-m", "matcalc", "functions", "--plain"], capture_output=True, text=True,
                          env={"PATH": "", "COLUMNS": "100"}, timeout=120)
    assert long.returncode == 0 and long.stdout == invoke(["functions", "--plain"], env={"COLUMNS": "100"}).stdout
    bad = subprocess.run([sys.executable, "-m", "matcalc", "grad", "A*x", "x"], capture_output=True, text=True,
                         env={"PATH": ""}, timeout=120)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.endswith("vjp with an upstream gradient\n")
