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
     r"limit exceeded: matrix powers are limited to ±64, also once merged: this one is a power 2048", 30),
    ("merged matrix power", ["show", "(X^64)^64"], None, 2, r"matrix powers are limited to ±64", 30),
    ("merged matrix power, four deep", ["grad", "tr((((X^64)^64)^64)^64)", "X"], None, 2,
     r"matrix powers are limited to ±64", 30),
    ("merged matrix power in a chain", ["show", "tr(X^40*X^40)"], None, 2, r"a power 80", 30),
    ("nested sharing, JSON", ["grad", _nested(11), "x", "--format", "json"], None, 2,
     r"longer than 100,000 characters", 60),
    ("nested sharing, 13 levels, JSON", ["grad", _nested(13), "x", "--format", "json"], None, 2,
     r"longer than 100,000 characters", 60),
    ("nested sharing, text", ["grad", _nested(11), "x"], None, 0, "✓ verified", 60),
    ("huge declared size", ["grad", "norm(A*x)^2", "x", "--let", "x:vector(9999999999999999999999)"], None, 2,
     r"a declared size is at most 1,000,000", 30),
    ("huge declared matrix, checked", ["grad", "norm(A*x)^2", "x", "--let", "A:matrix(100000,100000)"], None, 2,
     r"the numeric check would take about .* steps of work; the limit is 3,000,000", 30),
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
