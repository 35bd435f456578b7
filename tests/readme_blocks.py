"""The README's examples as they run: every fenced block of `$ matcalc ...` commands, and the Python
session, against the installed matcalc. Used by tests/test_readme.py; run it to rewrite the README's
outputs from real runs after a change of output:

    python tests/readme_blocks.py --update

A block is a fenced code block whose first line starts with "$ "; each "$ command" line is followed by
its output (stdout and stderr, as a terminal shows them) up to the next "$ " line. Commands run in a
scratch folder holding `identities/` (the catalogue) and `bad.toml` (the README's TOML block).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.S | re.M)


@dataclass
class Example:
    command: str          # as typed after "$ "
    output: str           # as the README shows it, without trailing blank lines
    start: int            # offsets of the output in the README text, with the blank lines after it
    end: int
    last: bool            # the last command of its block


def examples(text: str) -> list[Example]:
    out = []
    for block in FENCE.finditer(text):
        if not block.group(2).startswith("$ "):
            continue
        body_start = block.start(2)
        parts = list(re.finditer(r"^\$ (.*)\n", block.group(2), re.M))
        for i, m in enumerate(parts):
            o_start = body_start + m.end()
            o_end = body_start + (parts[i + 1].start() if i + 1 < len(parts) else len(block.group(2)))
            out.append(Example(m.group(1), text[o_start:o_end].rstrip("\n"), o_start, o_end, i + 1 == len(parts)))
    return out


def toml_block(text: str) -> str:
    return next(b.group(2) for b in FENCE.finditer(text) if b.group(1).strip() == "toml")


def python_session(text: str) -> str:
    return next(b.group(2) for b in FENCE.finditer(text) if b.group(1).strip() == "python"
                and b.group(2).startswith(">>>"))


def scratch(text: str) -> Path:
    """A folder to run the examples in: identities/ and bad.toml, as the README describes them."""
    d = Path(tempfile.mkdtemp(prefix="matcalc-readme-"))
    (d / "identities").symlink_to(ROOT / "identities")
    (d / "bad.toml").write_text(toml_block(text), encoding="utf-8")
    return d


def run(command: str, cwd: Path) -> str:
    """The command's output as a terminal that is not a tty shows it (stderr into stdout), without the
    blanks that pad the last column of a table at the ends of lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(["bash", "-c", command + " 2>&1"], cwd=cwd, capture_output=True, text=True,
                       encoding="utf-8", timeout=900, env=env)
    return "\n".join(line.rstrip() for line in p.stdout.rstrip("\n").splitlines())


def update() -> int:
    text = README.read_text(encoding="utf-8")
    cwd = scratch(text)
    try:
        for ex in reversed(examples(text)):          # from the end: offsets stay valid
            text = text[:ex.start] + run(ex.command, cwd) + ("\n" if ex.last else "\n\n") + text[ex.end:]
    finally:
        shutil.rmtree(cwd)
    README.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    sys.exit(update())
