"""`matcalc verify PATH...`: check identity files (see matcalc.identities for the format).

Prints a table (identity, status, max error, time), the failures with their
messages, then `N passed, M failed` alone on a line (M counts failures and
identities that could not be checked). Exit codes: 0 all pass, 1 any fails,
2 a file cannot be read or is not a valid identity file (nothing is checked
then), or bad usage.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import List, Optional

import typer

HELP = """Check identity files: each identity's expected derivative against finite differences and
against matcalc's own derivation.

PATH is an identity file or a folder, searched recursively for *.toml files with \\[\\[identity]]
tables. Exit code 0 when all identities pass, 1 when any fails, 2 when a file is invalid.

[bold]Examples[/]

  matcalc verify identities/
  matcalc verify identities/trace.toml --filter hessian -j 4
  matcalc verify identities/ --junit report.xml --seed 7 --trials 10
"""


def register(app: typer.Typer) -> None:
    """Add the verify command to the matcalc app."""

    @app.command("verify", help=HELP)
    def verify(paths: List[str] = typer.Argument(..., metavar="PATH...", help="Identity files or folders."),
               junit: Optional[str] = typer.Option(None, "--junit", metavar="FILE",
                                                   help="Also write a JUnit XML report to FILE."),
               as_json: bool = typer.Option(False, "--json", help="Print a machine-readable report (JSON) "
                                                                  "instead of the table."),
               jobs: int = typer.Option(1, "-j", "--jobs", min=1, max=256, help="Check in N processes."),
               seed: int = typer.Option(0, "--seed", help="Random seed of the numeric checks."),
               filters: List[str] = typer.Option([], "--filter", "-k", metavar="TEXT",
                                                 help="Only identities whose name contains TEXT or tagged "
                                                      "TEXT (repeatable: any of them)."),
               trials: int = typer.Option(3, "--trials", min=1, max=100, help="Random points per identity."),
               quiet: bool = typer.Option(False, "--quiet", "-q", help="List only identities that do not "
                                                                       "pass.")):
        from .cli import _run
        code = _run(lambda: _verify(paths, junit, as_json, jobs, seed, filters, trials, quiet))
        raise typer.Exit(code)


def _verify(paths, junit, as_json, jobs, seed, filters, trials, quiet) -> int:
    from .errors import UsageError
    from .identities import load, run, select

    skipped: list[str] = []
    identities = load(paths, skipped)
    for f in skipped:
        sys.stderr.write(f"note: skipping {f}: {f.reason}\n")
    chosen = list(select(identities, filters))
    if filters and not chosen:
        raise UsageError(f"no identity matches {' or '.join(map(repr, filters))} "
                         f"(among {len(identities)} identities)",
                         hint="--filter matches part of a name or a whole tag")
    t0 = time.perf_counter()
    outcomes = []
    with _progress(len(chosen)) as advance:
        for outcome in run(chosen, trials=trials, seed=seed, jobs=jobs):
            outcomes.append(outcome)
            advance(outcome)
    wall = time.perf_counter() - t0
    passed = sum(o.passed for o in outcomes)
    failed = len(outcomes) - passed
    if junit:
        write_junit(junit, outcomes, wall)
    if as_json:
        sys.stdout.write(json.dumps(report_dict(outcomes, wall, seed, trials, jobs), ensure_ascii=False,
                                    indent=2) + "\n")
    else:
        _print_table(outcomes, quiet)
        sys.stdout.write(f"{passed} passed, {failed} failed\n")
    sys.stdout.flush()
    return 0 if failed == 0 else 1


class _progress:
    """A rich progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int):
        self.total = total
        self.bar = None

    def __enter__(self):
        return self.advance

    def _start(self):
        # started at the first result, after the worker processes have been forked
        self.started = True
        if self.total and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self.bar = Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("[dim]{task.description}"), console=Console(stderr=True),
                                transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total)

    started = False

    def advance(self, outcome):
        if not self.started:
            self._start()
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=outcome.name)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def _fmt_error(x: float) -> str:
    return f"{x:.1e}" if math.isfinite(x) else "—"


def _fmt_time(t: float) -> str:
    return f"{t * 1000:.0f} ms" if t < 10 else f"{t:.1f} s"


_STYLE = {"pass": "green", "fail": "bold red", "error": "bold yellow"}


def _print_table(outcomes, quiet: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(highlight=False, soft_wrap=True)
    rows = [o for o in outcomes if not (quiet and o.passed)]
    if rows:
        table = Table(box=box.SIMPLE, pad_edge=False, show_edge=False)
        table.add_column("identity", overflow="fold")
        table.add_column("status")
        table.add_column("max error", justify="right")
        table.add_column("time", justify="right")
        for o in rows:
            table.add_row(escape(o.name), f"[{_STYLE[o.status]}]{o.status}[/]", _fmt_error(o.max_error),
                          _fmt_time(o.time))
        con.print(table, soft_wrap=False)
    bad = [o for o in outcomes if not o.passed]
    for o in bad:
        con.print(f"[{_STYLE[o.status]}]{o.status.upper()}[/] {escape(o.name)} ({escape(o.file)}:{o.line}): "
                  f"{escape(o.message)}")
        if o.derived:
            con.print(f"  matcalc derives: {escape(o.derived)}")
    if bad:
        con.print()


def report_dict(outcomes, wall: float, seed: int, trials: int, jobs: int) -> dict:
    passed = sum(o.status == "pass" for o in outcomes)
    fails = sum(o.status == "fail" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    return {"summary": {"total": len(outcomes), "passed": passed, "failed": fails + errors, "fail": fails,
                        "error": errors, "time": round(wall, 4), "seed": seed, "trials": trials, "jobs": jobs},
            "results": [o.as_dict() for o in outcomes]}


def write_junit(path: str, outcomes, wall: float) -> None:
    """A JUnit XML report: one testsuite, a testcase per identity, failure / error elements."""
    import os
    import socket
    import xml.etree.ElementTree as ET
    from datetime import datetime, timezone

    from .errors import UsageError

    fails = sum(o.status == "fail" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    counts = {"tests": str(len(outcomes)), "failures": str(fails), "errors": str(errors), "skipped": "0",
              "time": f"{wall:.3f}"}
    root = ET.Element("testsuites", name="matcalc verify", **counts)
    suite = ET.SubElement(root, "testsuite", name="matcalc verify", **counts,
                          timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          hostname=socket.gethostname())
    for o in outcomes:
        stem = os.path.splitext(os.path.relpath(o.file) if o.file else "identities")[0]
        case = ET.SubElement(suite, "testcase", classname=stem.replace(os.sep, ".").lstrip("."), name=o.name,
                             file=o.file, line=str(o.line), time=f"{o.time:.4f}")
        if o.status != "pass":
            body = [o.message, f"identity: {o.name} ({o.file}:{o.line}), op {o.op}",
                    f"max relative error: {_fmt_error(o.max_error)}"]
            if o.derived:
                body.append(f"matcalc derives: {o.derived}")
            el = ET.SubElement(case, "failure" if o.status == "fail" else "error",
                               message=_xml_safe(o.message), type=o.status)
            el.text = _xml_safe("\n".join(body))
    ET.indent(root)
    try:
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror or exc}") from None


def _xml_safe(s: str) -> str:
    """XML 1.0 cannot hold most control characters: replace them."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 and c not in "\ufffe\uffff" else "\ufffd" for c in s)
