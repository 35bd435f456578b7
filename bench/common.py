"""Shared pieces: tables that print with rich and as Markdown, goals, timers, the catalogue."""
from __future__ import annotations

import gc
import glob
import math
import os
import statistics
import time
import tomllib
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDENTITIES = os.path.join(ROOT, "identities")


# ------------------------------------------------------------------ reporting

@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *row):
        self.rows.append([_cell(c) for c in row])

    def rich(self):
        from rich.table import Table as RTable
        t = RTable(title=self.title, title_justify="left", title_style="bold", show_lines=False,
                   caption="\n".join(self.notes) or None, caption_justify="left")
        for c in self.columns:
            t.add_column(c, overflow="fold")
        for r in self.rows:
            t.add_row(*[_escape(str(c)) for c in r])
        return t

    def markdown(self) -> str:
        out = [f"#### {_md(self.title)}", "", "| " + " | ".join(_md(c) for c in self.columns) + " |",
               "|" + "|".join("---" for _ in self.columns) + "|"]
        for r in self.rows:
            out.append("| " + " | ".join(_md(c) for c in r) + " |")
        if self.notes:
            out.append("")
            out.extend(f"{n}  " for n in self.notes)
        return "\n".join(out) + "\n"


def _md(c) -> str:
    """A table cell or title as Markdown text: | and * (in expressions such as A*x) escaped."""
    return str(c).replace("|", "\\|").replace("*", "\\*")


def _escape(s: str) -> str:
    from rich.markup import escape
    return escape(s)


def _cell(c):
    if isinstance(c, float):
        return fmt_num(c)
    return "" if c is None else c


def fmt_num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞"
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1e5 or ax < 1e-3:
        return f"{x:.2e}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if ax >= 0.1 else f"{x:.3f}"


def fmt_time(s: float | None) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None or (isinstance(r, float) and (math.isnan(r))):
        return "—"
    if math.isinf(r):
        return "∞"
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×" if r >= 100 else f"{r:.1f}×"


@dataclass
class Goal:
    section: str
    goal: str
    measured: str
    met: bool | None          # None: not measured (skipped)
    why: str = ""             # for a goal not met: what limits it and what would fix it

    @property
    def verdict(self) -> str:
        return "met" if self.met else "not measured" if self.met is None else "NOT met"


@dataclass
class Section:
    name: str
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ timing

def run_child(module: str, args: tuple, threads: int, log):
    """`bench.<module>._child(*args)` in a child process with `threads` BLAS threads: its stderr lines go to
    log, the last line of its stdout is the JSON it returns."""
    import json
    import subprocess
    import sys
    import threading
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    code = f"import sys; sys.path.insert(0, {ROOT!r}); from bench.{module} import _child; _child(*{args!r})"
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    out: list[str] = []         # read beside stderr: a JSON over the pipe's 64 KB would block the child
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()), daemon=True)
    reader.start()
    for line in p.stderr:
        log(line.rstrip())
    reader.join()
    out = out[0] if out else ""
    if p.wait() != 0:
        raise RuntimeError(f"{module} child ({threads} BLAS thread{'s' if threads > 1 else ''}) failed")
    return json.loads(out.strip().splitlines()[-1])


def timeit_many(fns, repeats: int, min_time: float = 0.0, clock=time.perf_counter) -> list[float]:
    """Median seconds per call of each function, their samples interleaved (a, b, a, b, ...)
    so that the machine's changing load falls on all of them alike. `clock`: wall time, or
    time.process_time for single-threaded work on a loaded machine (the time others take is not
    counted)."""
    inners = []
    for fn in fns:
        t0 = clock()
        fn()
        one = clock() - t0
        inners.append(max(1, int(min_time / one)) if one > 0 and min_time else 1)
    samples = [[] for _ in fns]
    gc_was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            for k, fn in enumerate(fns):
                t0 = clock()
                for _ in range(inners[k]):
                    fn()
                samples[k].append((clock() - t0) / inners[k])
    finally:
        if gc_was:
            gc.enable()
    return [statistics.median(s) for s in samples]


def cold_many(fns, repeats: int, min_time: float = 0.0, setup=None) -> tuple[list[float], int]:
    """Median seconds per call of each function, cold and interleaved (a, b, c, a, b, c, ...).

    Cold: no node a call builds is alive when the next call starts. matcalc's intern table is
    weak, so a call whose result is dropped leaves it as it was; that is checked before every
    call (after a collection when it is not so). Returns the medians and the most nodes ever
    found alive beyond the table's size at the start (0: every call was cold). A sample loops
    calls until `min_time` has passed; the garbage collector is off inside a call. `setup[k]`, if
    given, runs untimed before every call of fns[k] (SymPy's cache is cleared so).
    """
    from matcalc import expr
    gc.collect()
    base = len(expr._TABLE)
    warm = 0
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            spent, calls = 0.0, 0
            while not calls or spent < min_time:
                if len(expr._TABLE) > base:
                    gc.collect()
                    warm = max(warm, len(expr._TABLE) - base)
                if setup and setup[k]:
                    setup[k]()
                gc.disable()
                t0 = time.perf_counter()
                fn()                       # its result is dropped here
                spent += time.perf_counter() - t0
                gc.enable()
                calls += 1
            samples[k].append(spent / calls)
    return [statistics.median(s) for s in samples], warm


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared: they say how busy it was)."""
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "unknown"


def median(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else float("nan")


def geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def loglog_slope(xs, ys) -> float:
    """Least-squares slope of log y against log x."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in pts)
    return sxy / sxx


# ------------------------------------------------------------------ the catalogue

@dataclass
class Identity:
    name: str
    expr: str
    wrt: str
    op: str
    expected: str
    let: dict | None
    file: str


def catalogue(path: str = IDENTITIES) -> list[Identity]:
    out = []
    for f in sorted(glob.glob(os.path.join(path, "*.toml"))):
        with open(f, "rb") as fh:
            data = tomllib.load(fh)
        for e in data.get("identity", []):
            out.append(Identity(e["name"], e["expr"], e["wrt"], e.get("op", "grad"), e.get("expected", ""),
                                e.get("let"), os.path.basename(f)))
    return out
