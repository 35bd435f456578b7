"""The command line in process, as a user's shell would run it: `invoke(["grad", "x'*x", "x"])`.

matcalc.cli.main runs with its own standard input (`input`, text or bytes), output and error streams
(not terminals), and environment changes (`env`: a value of None unsets the variable); the result has
the exit code, what each stream received, both interleaved as a terminal shows them (`output`), and an
exception that escaped main (there should be none: main turns everything into an exit code).
"""
from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager

from matcalc.cli import main


class _Captured(io.TextIOWrapper):
    """A text stream over bytes that also logs what is written into a shared list."""

    def __init__(self, log: list, encoding: str = "utf-8"):
        super().__init__(io.BytesIO(), encoding=encoding, write_through=True)
        self.log = log

    def write(self, s: str) -> int:
        self.log.append(s)
        return super().write(s)

    def value(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode(self.encoding, "replace")


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str, output: str, exception: BaseException | None):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr
        self.output, self.exception = output, exception

    def __repr__(self) -> str:
        return f"<Result exit {self.exit_code}: {self.output[:200]!r}>"


def invoke(args, input: str | bytes | None = None, env: dict | None = None) -> Result:
    """Run `matcalc ARGS` in this process; its Result."""
    data = input.encode("utf-8") if isinstance(input, str) else input or b""
    log: list[str] = []
    out, err = _Captured(log), _Captured(log)
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    exception = None
    with _environment(env or {}), _streams(stdin, out, err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:       # main returns its code; a SystemExit would be a bug to see
            code, exception = exc.code if isinstance(exc.code, int) else 1, exc
        except Exception as exc:        # noqa: BLE001  (reported in the result, as a runner does)
            code, exception = 1, exc
    return Result(code, out.value(), err.value(), "".join(log), exception)


@contextmanager
def _streams(stdin, stdout, stderr):
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


@contextmanager
def _environment(changes: dict):
    saved = {k: os.environ.get(k) for k in changes}
    try:
        _set_environment(changes)
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: dict):
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
