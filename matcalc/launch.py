"""The `matcalc` command's entry point (the console script and `python -m matcalc`).

`matcalc --version` and the main help (`matcalc`, `matcalc --help`, `matcalc -h`) are answered here,
before typer, rich and the engine load: typer takes about ten times the interpreter's start-up to
render that help. The help is typer's own, rendered into help.txt at 80 columns without colour (the
text typer writes to a pipe); it is shown where it fits, on a terminal of 80 columns or more too (in
one colour there). `python -m matcalc.launch --update` renders it again; a test checks it is current.
Every other command, and the help of a narrower terminal, goes to matcalc.cli.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HELP_FILE = Path(__file__).with_name("help.txt")
HELP_WIDTH = 80


def run():
    args = sys.argv[1:]
    if args == ["--version"]:
        from . import __version__
        return _write(f"matcalc {__version__}\n")
    if args in ([], ["--help"], ["-h"]) and _width() >= HELP_WIDTH:
        code = _write(HELP_FILE.read_text(encoding="utf-8"))
        return code or (2 if not args else 0)       # no command at all is a usage error, as typer has it
    from .cli import run as run_cli
    return run_cli()


def _write(text: str) -> int:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    except OSError as exc:          # a full disk, a closed pipe: the same message as every command's
        from .command import drop_stdout
        drop_stdout()
        sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
        return 2


def _width() -> int:
    """The columns typer would lay the help out in: COLUMNS, else the terminal's, else 80."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit():
        return int(cols)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else HELP_WIDTH
    except (OSError, ValueError):
        return HELP_WIDTH


def rendered_help() -> str:
    """The main help as typer renders it to a pipe at 80 columns."""
    from typer.testing import CliRunner

    from .cli import app
    plain = {"COLUMNS": str(HELP_WIDTH), "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": None}
    return CliRunner().invoke(app, ["--help"], env=plain).stdout


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        HELP_FILE.write_text(rendered_help(), encoding="utf-8")
    else:
        sys.exit(run())
