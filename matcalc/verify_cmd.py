"""`matcalc verify PATH...`: check identity files (see matcalc.identities for the format).

Prints a table (identity, status, max error, time), the identities that did not pass with their
messages, then the counts alone on a line: `N passed, M failed, K errors` (and `, J inconclusive`
when the numeric check could neither confirm nor refute some). Every outcome has one status,
and the text, JSON and JUnit reports count each status under one name: passed, failed, error,
inconclusive. Exit codes: 0 nothing failed or errored, 1 an identity failed or could not be checked,
2 a file cannot be read or is not a valid identity file (nothing is checked then), or bad usage.
"""
from __future__ import annotations

import math
import sys
import time

from .args import Arg, Command, Opt
from .command import check_target, console, note, safe_text, write_file

STATUSES = ("passed", "failed", "error", "inconclusive")     # of an outcome; the report's count keys


def verify(paths, junit, as_json, jobs, seed, filters, trials, quiet) -> int:
    from .errors import UsageError
    from .identities import load, run, select

    skipped: list[str] = []
    identities = load(paths, skipped)
    for f in skipped:
        note(f"skipping {f}: {f.reason}")
    if junit:       # refused before any work: an input is never overwritten
        check_target(junit, force=True, inputs=_inputs(paths, identities), what="the JUnit report")
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
    n = counts(outcomes)
    if junit:
        write_file(junit, junit_xml(outcomes, wall), force=True, inputs=_inputs(paths, identities),
                   what="the JUnit report")
    if as_json:
        sys.stdout.write(_json_text(report_dict(outcomes, wall, seed, trials, jobs)) + "\n")
    else:
        _print_table(outcomes, quiet)
        sys.stdout.write(summary_line(n) + "\n")
    return 0 if n["failed"] == n["error"] == 0 else 1


COMMAND = Command(
    "verify", "Check identity files against finite differences and matcalc's own derivation.", verify,
    [Arg("paths", "PATH...", "Identity files or folders.", nargs="+"),
     Opt(("--junit",), "junit", "Also write a JUnit XML report to FILE (replaced if it exists; never an input "
         "file).", metavar="FILE"),
     Opt(("--json",), "as_json", "Print a machine-readable report (JSON) instead of the table.", kind="flag"),
     Opt(("-j", "--jobs"), "jobs", "Check in N processes.", kind="int", metavar="N", default=1, lo=1, hi=256),
     Opt(("--seed",), "seed", "Random seed of the numeric checks.", kind="int", metavar="N", default=0, lo=0),
     Opt(("-k", "--filter"), "filters", "Only identities whose name contains TEXT or tagged TEXT (repeatable: "
         "any of them).", kind="list", metavar="TEXT"),
     Opt(("--trials",), "trials", "Random points per identity.", kind="int", metavar="N", default=3, lo=1, hi=100),
     Opt(("-q", "--quiet"), "quiet", "List only identities that do not pass.", kind="flag")],
    text="Check identity files: each identity's expected derivative against finite differences and against "
         "matcalc's own derivation.\n\n"
         "PATH is an identity file or a folder, searched recursively for *.toml files with [[identity]] tables. "
         "Exit code 0 when no identity fails (passed or inconclusive), 1 when one fails or cannot be checked (an "
         "error), 2 when a file is invalid.",
    examples=("matcalc verify identities/",
              "matcalc verify identities/trace.toml --filter hessian -j 4",
              "matcalc verify identities/ --junit report.xml --seed 7 --trials 10"))


def counts(outcomes) -> dict:
    """How many outcomes have each status, keyed by the status."""
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}


def summary_line(n: dict) -> str:
    """`3 passed, 1 failed, 0 errors` (`, 2 inconclusive` when there are any)."""
    line = f"{n['passed']} passed, {n['failed']} failed, {n['error']} error{'' if n['error'] == 1 else 's'}"
    return line + (f", {n['inconclusive']} inconclusive" if n["inconclusive"] else "")


def _inputs(paths, identities) -> list[str]:
    return list(dict.fromkeys([*paths, *(i.file for i in identities)]))


def _json_text(data) -> str:
    """JSON with non-ASCII text kept, but DEL and the C1 control codes escaped: they could drive a terminal."""
    import json
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return "".join(f"\\u{ord(c):04x}" if "\x7f" <= c <= "\x9f" else c for c in text)


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


_STYLE = {"passed": "green", "failed": "bold red", "error": "bold yellow", "inconclusive": "yellow"}


def _print_table(outcomes, quiet: bool) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    esc = lambda s: escape(safe_text(s))  # noqa: E731  (names, files and messages are the user's text)
    con = console()
    rows = [o for o in outcomes if not (quiet and o.passed)]
    if rows:
        table = Table(box=box.SIMPLE, pad_edge=False, show_edge=False)
        table.add_column("identity", overflow="fold")
        table.add_column("status")
        table.add_column("max error", justify="right")
        table.add_column("time", justify="right")
        for o in rows:
            table.add_row(esc(o.name), f"[{_STYLE[o.status]}]{o.status}[/]", _fmt_error(o.max_error),
                          _fmt_time(o.time))
        con.print(table, soft_wrap=False)
    bad = [o for o in outcomes if not o.passed]
    for o in bad:
        con.print(f"[{_STYLE[o.status]}]{o.status.upper()}[/] {esc(o.name)} ({esc(o.file)}:{o.line}): "
                  f"{esc(o.message)}")
        if o.derived:
            con.print(f"  matcalc derives: {esc(o.derived)}")
    if bad:
        con.print()


def report_dict(outcomes, wall: float, seed: int, trials: int, jobs: int) -> dict:
    """The --json report: a summary (counts keyed by status, the run's settings) and every outcome."""
    return {"summary": {"total": len(outcomes), **counts(outcomes), "time": round(wall, 4), "seed": seed,
                        "trials": trials, "jobs": jobs},
            "results": [o.as_dict() for o in outcomes]}


def junit_xml(outcomes, wall: float) -> str:
    """A JUnit XML report: one testsuite, a testcase per identity; a failed identity has a failure
    element, one that could not be checked an error, an inconclusive one is skipped (with the reason).
    Every attribute and text is made XML-safe: the document is well-formed whatever the names."""
    import os
    import socket
    import xml.etree.ElementTree as ET
    from datetime import datetime, timezone

    n = counts(outcomes)
    totals = {"tests": str(len(outcomes)), "failures": str(n["failed"]), "errors": str(n["error"]),
              "skipped": str(n["inconclusive"]), "time": f"{wall:.3f}"}
    root = ET.Element("testsuites", name="matcalc verify", **totals)
    suite = ET.SubElement(root, "testsuite", name="matcalc verify", **totals,
                          timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          hostname=_xml_safe(socket.gethostname()))
    element = {"failed": "failure", "error": "error", "inconclusive": "skipped"}
    for o in outcomes:
        stem = os.path.splitext(os.path.relpath(o.file) if o.file else "identities")[0]
        case = ET.SubElement(suite, "testcase", classname=_xml_safe(stem.replace(os.sep, ".").lstrip(".")),
                             name=_xml_safe(o.name), file=_xml_safe(o.file), line=str(o.line),
                             time=f"{o.time:.4f}")
        if o.status in element:
            body = [o.message, f"identity: {o.name} ({o.file}:{o.line}), op {o.op}",
                    f"max relative error: {_fmt_error(o.max_error)}"]
            if o.derived:
                body.append(f"matcalc derives: {o.derived}")
            el = ET.SubElement(case, element[o.status], message=_xml_safe(o.message), type=o.status)
            el.text = _xml_safe("\n".join(body))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _xml_safe(s: str) -> str:
    """XML 1.0 cannot hold most control characters, U+FFFE, U+FFFF or lone surrogates: � instead."""
    return "".join(c if c in "\t\n\r" or (" " <= c and not "\ud800" <= c <= "\udfff" and c not in "\ufffe\uffff")
                   else "\ufffd" for c in s)
