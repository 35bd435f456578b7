"""`matcalc verify`: in process (tests/cli_runner.py), and real runs of the installed command.

The whole catalogue is verified here once in-process (2 trials), and once more
by the installed command in two processes (1 trial).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_runner import invoke
from matcalc.verify import TOLERANCE

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "identities"

WRONG = '''[[identity]]
name = "trace-ok"
expr = "tr(A*X)"
wrt = "X"
expected = "A'"
tags = ["trace"]

[[identity]]
name = "least-squares-wrong-sign"
expr = "norm(A*x - b)**2"
wrt = "x"
expected = "-2*A'*(A*x - b)"
tags = ["least-squares"]

[[identity]]
name = "bilinear-wrong-transpose"
expr = "a'*X*b"
wrt = "X"
expected = "b*a'"
'''

MALFORMED = '''[[identity]]
name = "ok"
expr = "tr(X)"
wrt = "X"
expected = "I

[[identity]]
'''


def verify(*args):
    return invoke(["verify", *map(str, args)])


def summary(stdout: str) -> str:
    lines = stdout.rstrip("\n").splitlines()
    assert re.fullmatch(r"\d+ passed, \d+ failed, \d+ errors?(, \d+ inconclusive)?", lines[-1]), lines[-1]
    return lines[-1]


@pytest.fixture
def wrong(tmp_path):
    p = tmp_path / "wrong.toml"
    p.write_text(WRONG, encoding="utf-8")
    return p


@pytest.fixture
def malformed(tmp_path):
    p = tmp_path / "malformed.toml"
    p.write_text(MALFORMED, encoding="utf-8")
    return p


# ------------------------------------------------------------------ the catalogue, once

def test_the_whole_catalogue_passes_with_json_and_junit(tmp_path):
    junit = tmp_path / "report.xml"
    t0 = time.perf_counter()
    r = verify(CATALOGUE, "--trials", "2", "-j", "1", "--json", "--junit", junit)
    elapsed = time.perf_counter() - t0
    report = json.loads(r.stdout)
    bad = [(o["name"], o["status"], o["message"]) for o in report["results"] if o["status"] != "passed"]
    assert r.exit_code == 0 and not bad, "\n".join(map(str, bad))
    s = report["summary"]
    assert s["total"] == s["passed"] == len(report["results"]) >= 369
    assert s["failed"] == s["error"] == s["inconclusive"] == 0
    assert (s["trials"], s["seed"], s["jobs"]) == (2, 0, 1)
    first = report["results"][0]
    assert set(first) >= {"name", "status", "max_error", "time", "message", "file", "line", "op", "tags"}
    assert all(o["max_error"] < TOLERANCE[o["op"]] for o in report["results"])
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == str(s["total"]) and suite.get("failures") == "0" and suite.get("errors") == "0"
    assert len(suite.findall("testcase")) == s["total"] and not suite.findall("testcase/failure")
    print(f"catalogue: {s['total']} identities verified in {elapsed:.1f} s (2 trials, one process)")


# ------------------------------------------------------------------ table, summary, exit codes

def test_a_wrong_identity_exits_1_with_a_table_and_the_reasons(wrong):
    r = verify(wrong)
    assert r.exit_code == 1
    out = r.stdout
    header = next(line for line in out.splitlines() if "identity" in line and "status" in line)
    assert re.search(r"identity\s+status\s+max error\s+time", header)
    assert re.search(r"trace-ok\s+passed\s+\d\.\de-\d\d\s+\d+ ms", out)
    assert re.search(r"least-squares-wrong-sign\s+failed\s+2\.0e\+00\s+\d+ ms", out)
    assert re.search(r"bilinear-wrong-transpose\s+failed\s+—\s+\d+ ms", out)
    assert f"FAILED least-squares-wrong-sign ({wrong}:8): expected differs from finite differences" in out
    assert "matcalc derives: 2Aᵀ(Ax − b)" in out
    assert "expected only fits when m = n" in out
    assert summary(out) == "1 passed, 2 failed, 0 errors"
    assert r.stderr == ""                       # no progress bar when stderr is not a terminal


def test_quiet_lists_only_what_does_not_pass(wrong):
    r = verify(wrong, "-q")
    assert "trace-ok" not in r.stdout and "bilinear-wrong-transpose" in r.stdout
    assert summary(r.stdout) == "1 passed, 2 failed, 0 errors"


def test_a_malformed_file_exits_2_and_checks_nothing(malformed, wrong):
    r = verify(wrong, malformed)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"{malformed}:5: TOML syntax error")
    assert "Traceback" not in r.output


@pytest.mark.parametrize("text, words", [
    ('[[identity]]\nname = "a"\nexpr = "x"\nwrt = "x"\nexpected = "x"\nop = "grd"\n', ":6: invalid identity: "
                                                                                     "unknown op 'grd'"),
    ('[[identity]]\nname = "a"\nexpr = "x"\nexpected = "x"\n', ":1: invalid identity: identity 'a' has no 'wrt'"),
    (b'[[identity]]\nname = "\xe9"\n', ":2: cannot read: not UTF-8 text"),
])
def test_invalid_files_exit_2_with_file_and_line(tmp_path, text, words):
    p = tmp_path / "bad.toml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    r = verify(p)
    assert r.exit_code == 2 and r.stderr.startswith(f"{p}{words}"), r.stderr


def test_missing_paths_and_empty_folders_exit_2(tmp_path):
    r = verify(tmp_path / "nope.toml")
    assert r.exit_code == 2 and "no such file or folder" in r.stderr
    r = verify(tmp_path)
    assert r.exit_code == 2 and "no identity files" in r.stderr


def test_filter_by_name_or_tag(wrong):
    r = verify(wrong, "--filter", "trace", "--json")
    assert [o["name"] for o in json.loads(r.stdout)["results"]] == ["trace-ok"] and r.exit_code == 0
    r = verify(wrong, "--filter", "least-squares", "-k", "bilinear", "--json")
    assert [o["name"] for o in json.loads(r.stdout)["results"]] == ["least-squares-wrong-sign",
                                                                    "bilinear-wrong-transpose"]
    r = verify(wrong, "--filter", "nothing-like-this")
    assert r.exit_code == 2 and "no identity matches 'nothing-like-this'" in r.stderr


def test_json_report_of_failures(wrong):
    r = verify(wrong, "--json", "--seed", "3", "--trials", "4")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["summary"] == {**data["summary"], "total": 3, "passed": 1, "failed": 2, "error": 0,
                               "inconclusive": 0, "seed": 3, "trials": 4}
    assert set(data["summary"]) == {"total", "passed", "failed", "error", "inconclusive", "time", "seed",
                                    "trials", "jobs"}         # one spelling of each count
    by = {o["name"]: o for o in data["results"]}
    assert by["bilinear-wrong-transpose"]["max_error"] is None            # not a number in JSON: null
    assert by["least-squares-wrong-sign"]["derived"] == "2Aᵀ(Ax − b)"
    assert by["trace-ok"]["line"] == 1 and by["least-squares-wrong-sign"]["line"] == 8


def test_junit_xml_has_failures_and_errors(wrong, tmp_path):
    p = tmp_path / "more.toml"
    p.write_text('[[identity]]\nname = "unparsable"\nexpr = "tr(A*X"\nwrt = "X"\nexpected = "A\'"\n')
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    r = verify(wrong, p, "--junit", junit)
    assert r.exit_code == 1 and summary(r.stdout) == "1 passed, 2 failed, 1 error"
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["trace-ok", "least-squares-wrong-sign", "bilinear-wrong-transpose", "unparsable"]
    assert cases["trace-ok"].find("failure") is None
    fail = cases["least-squares-wrong-sign"].find("failure")
    assert fail.get("message").startswith("expected differs from finite differences")
    assert "matcalc derives: 2Aᵀ(Ax − b)" in fail.text
    assert cases["unparsable"].find("error").get("message").startswith("syntax error in expr:")
    assert cases["trace-ok"].get("classname") and float(cases["trace-ok"].get("time")) > 0


def test_junit_to_an_unwritable_place_exits_2(wrong, tmp_path):
    r = verify(wrong, "--junit", tmp_path / "no" / "such" / "dir" / "j.xml")
    assert r.exit_code == 2 and "cannot write the JUnit report" in r.stderr


def test_processes_give_the_same_report_in_input_order(wrong):
    one = json.loads(verify(CATALOGUE / "trace.toml", wrong, "--json", "--trials", "1").stdout)
    two = json.loads(verify(CATALOGUE / "trace.toml", wrong, "--json", "--trials", "1", "-j", "2").stdout)
    strip = lambda rep: [(o["name"], o["status"], o["max_error"], o["message"]) for o in rep["results"]]  # noqa
    assert strip(one) == strip(two)
    assert two["summary"]["jobs"] == 2


def test_seed_changes_the_points_and_the_same_seed_repeats(wrong):
    errs = lambda *a: [o["max_error"] for o in json.loads(verify(wrong, "--json", *a).stdout)["results"]]  # noqa
    assert errs("--seed", "1")[0] == errs("--seed", "1")[0] != errs("--seed", "2")[0]


@pytest.mark.parametrize("args", [["--trials", "0"], ["-j", "0"], ["--trials", "x"]])
def test_bad_options_are_usage_errors(wrong, args):
    r = verify(wrong, *args)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_a_non_identity_toml_given_explicitly_is_skipped(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\n')
    r = verify(p)
    assert r.exit_code == 0 and summary(r.stdout) == "0 passed, 0 failed, 0 errors"
    assert f"note: skipping {p}: no [[identity]] tables" in r.stderr


def test_help_lists_the_options():
    r = invoke(["verify", "--help"], env={"COLUMNS": "120"})
    for option in ("--junit", "--json", "--jobs", "--seed", "--filter", "--trials"):
        assert option in r.stdout
    assert "[[identity]]" in r.stdout       # not eaten as rich markup


def test_command_modules_share_the_boundary_and_do_not_import_each_other():
    """verify_cmd needs only the command boundary; importing it does not import cli."""
    code = ("import sys, matcalc.verify_cmd; assert 'matcalc.cli' not in sys.modules, 'cli imported'; "
            "assert 'matcalc.command' in sys.modules")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_pre_commit_hook_definition():
    import yaml
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook, = hooks
    assert hook["id"] == "matcalc-verify" and hook["entry"] == "matcalc verify"
    assert hook["files"] == r"\.toml$" and hook["language"] == "python"
    assert re.search(hook["files"], "identities/trace.toml") and not re.search(hook["files"], "README.md")


# ------------------------------------------------------------------ the installed command, for real

def _matcalc():
    exe = shutil.which("matcalc")
    return [exe] if exe else [sys.executable, "-m", "matcalc"]


def test_installed_command_on_the_catalogue_wrong_and_malformed_files(wrong, malformed):
    run = lambda *a: subprocess.run(_matcalc() + ["verify", *map(str, a)], capture_output=True, text=True,  # noqa
                                    timeout=600, encoding="utf-8")
    t0 = time.perf_counter()
    r = run(CATALOGUE, "-j", "2", "--trials", "1")
    elapsed = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert re.fullmatch(r"(\d+) passed, 0 failed, 0 errors", r.stdout.splitlines()[-1])
    assert r.stderr == ""
    print(f"installed matcalc verify identities/ -j 2 --trials 1: {elapsed:.1f} s")

    r = run(wrong)
    assert r.returncode == 1
    assert re.search(r"least-squares-wrong-sign\s+failed\s+2\.0e\+00", r.stdout)
    assert r.stdout.splitlines()[-1] == "1 passed, 2 failed, 0 errors"

    r = run(malformed)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"{malformed}:5: TOML syntax error") and "Traceback" not in r.stderr
