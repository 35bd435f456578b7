"""Every README example is the real output, unshortened: each `$ matcalc ...` block is run by the
installed matcalc and compared with what the README shows; the Python session runs as a doctest.

Two things may differ between machines and are compared loosely: times (`15 ms`, with the table
padding they cause) and relative errors at rounding level (below 1e-6, they depend on the BLAS).
`python tests/readme_blocks.py --update` rewrites the README's outputs from real runs.
"""
from __future__ import annotations

import doctest
import re
import shutil

import pytest

from readme_blocks import README, examples, python_session, run, scratch

TEXT = README.read_text(encoding="utf-8")
EXAMPLES = examples(TEXT)
NEEDS_TEX = ("--format png", "--format svg")


def loose(s: str) -> str:
    s = re.sub(r"\b\d\.\d+e-(0[7-9]|[1-9]\d)\b", "<rounding>", s)      # 1.2e-11, 1.194666587878146e-11
    s = re.sub(r"\b\d+ ms\b|\b\d+\.\d s\b", "<time>", s)
    s = re.sub(r"─+", "─", s)
    return re.sub(r"[ \t]+", " ", s)


@pytest.fixture(scope="module")
def folder():
    d = scratch(TEXT)
    yield d
    shutil.rmtree(d)


def test_the_readme_has_its_examples():
    commands = [e.command for e in EXAMPLES]
    assert len(commands) >= 20 and 'matcalc grad "norm(A*x - b)**2" x' in commands
    assert any("--standalone" in c for c in commands) and "matcalc verify bad.toml" in commands


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.command for e in EXAMPLES])
def test_a_readme_example_is_the_real_output(example, folder):
    if any(f in example.command for f in NEEDS_TEX) and shutil.which("latex") is None:
        pytest.skip("TeX is not installed: no 'latex' program on PATH (pictures are made by TeX)")
    real = run(example.command, folder)
    assert loose(real) == loose(example.output), \
        f"README shows for `{example.command}`:\n{example.output}\n\nthe real output is:\n{real}\n" \
        "(python tests/readme_blocks.py --update rewrites the README's outputs)"


def test_the_python_session_runs_as_shown():
    parser = doctest.DocTestParser()
    test = parser.get_doctest(python_session(TEXT), {}, "README", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 4
