"""Run matcalc's benchmarks and print the tables: `python bench/run.py [--quick]` or `python -m bench`.

    --quick            small sizes, few repeats, torch skipped if missing: well under a minute
    --only a,b         run only these sections (derivation depth cli flops autograd cheap verify)
    --markdown FILE    also write every table as Markdown (for bench/RESULTS.md)
    --json FILE        also write the raw numbers

Each section states its goal and whether this run met it. Timings are medians of cold repeats,
interleaved, and are compared as ratios measured in the same run, because the machine is shared
and noisy; load averages are recorded with the tables.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import dataclass

if __package__ in (None, ""):          # run as a script: make `bench` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import Goal, Section, Table  # noqa: E402

SECTIONS = ("derivation", "depth", "cli", "flops", "autograd", "cheap", "verify")


@dataclass
class Config:
    quick: bool


def versions() -> dict:
    import numpy
    import sympy
    out = {"python": platform.python_version(), "numpy": numpy.__version__, "sympy": sympy.__version__}
    try:
        import importlib.metadata as md
        out["torch"] = md.version("torch")
    except Exception:   # noqa: BLE001
        out["torch"] = "not installed"
    from bench.tensorgrad_peer import version
    out["tensorgrad"] = version() or "not installed"
    import matcalc
    out["matcalc"] = matcalc.__version__
    out["cores"] = str(os.cpu_count())
    out["machine"] = f"{platform.machine()} {platform.system()} {platform.release()}"
    from bench.common import loadavg
    out["load average at the start"] = loadavg()
    return out


def _section(name):
    import importlib
    return importlib.import_module(f"bench.{ {'cli': 'cli_latency', 'verify': 'verify_throughput', 'cheap': 'cheap_gradient'}.get(name, name) }")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (under a minute)")
    ap.add_argument("--only", default="", help="comma-separated sections: " + " ".join(SECTIONS))
    ap.add_argument("--markdown", metavar="FILE", help="write every table as Markdown")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers as JSON")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    for n in names:
        if n not in SECTIONS:
            ap.error(f"unknown section {n!r}; choose from {', '.join(SECTIONS)}")

    from rich.console import Console
    con = Console(soft_wrap=False, width=max(Console().width, 140))
    err = Console(stderr=True)

    def log(msg):
        err.print(f"[dim]{time.strftime('%H:%M:%S')} {msg}[/]")

    cfg = Config(quick=args.quick)
    ver = versions()
    con.print(f"[bold]matcalc benchmarks[/] {'(quick) ' if cfg.quick else ''}"
              f"{datetime.date.today().isoformat()} · " + " · ".join(f"{k} {v}" for k, v in ver.items()))
    sections: list[Section] = []
    t_start = time.perf_counter()
    for n in names:
        log(f"section {n}")
        t0 = time.perf_counter()
        try:
            sec = _section(n).run(cfg, log)
        except Exception as e:   # noqa: BLE001  a broken section must not hide the others
            import traceback
            traceback.print_exc()
            sec = Section(n)
            sec.goals.append(Goal(n, "section ran", f"crashed: {type(e).__name__}: {e}", None))
        sec.data["seconds"] = time.perf_counter() - t0
        sections.append(sec)
        for t in sec.tables:
            con.print(t.rich())
            con.print()
        for s in sec.skipped:
            con.print(f"[yellow]skipped:[/] {s}")
    goals = Table("Goals", ["section", "goal", "measured", "verdict"])
    for sec in sections:
        for g in sec.goals:
            goals.add(g.section, g.goal, g.measured, g.verdict)
    con.print(goals.rich())
    con.print(f"[dim]total {time.perf_counter() - t_start:.1f} s[/]")

    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}"
                     f"{' (--quick)' if cfg.quick else ''}: " +
                     ", ".join(f"{k} {v}" for k, v in ver.items()) + "\n\n")
            for sec in sections:
                fh.write(f"### {sec.name} ({sec.data['seconds']:.0f} s)\n\n")
                for t in sec.tables:
                    fh.write(t.markdown() + "\n")
                for s in sec.skipped:
                    fh.write(f"*skipped:* {s}\n\n")
            fh.write(goals.markdown())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"versions": ver, "quick": cfg.quick,
                       "sections": {s.name: _jsonable(s.data) for s in sections},
                       "goals": [g.__dict__ for s in sections for g in s.goals]}, fh, indent=1, default=str)
    return 0


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "__dict__"):
        return _jsonable(vars(x))
    return x


if __name__ == "__main__":
    raise SystemExit(main())
