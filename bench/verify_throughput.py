"""6. Verification throughput: `matcalc verify identities/` with 1 and 2 processes (-j).

Wall time of the whole command (a fresh process: imports included), the command's own
reported time (from --json), identities per second, and the speed-up of -j 2 over -j 1.
Skipped with a note when the installed matcalc has no `verify` command.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import IDENTITIES, ROOT, Goal, Section, Table, fmt_ratio, fmt_time, median


def _script():
    here = os.path.join(os.path.dirname(sys.executable), "matcalc")
    return [here] if os.path.exists(here) else [sys.executable, "-m", "matcalc"]


def available() -> bool:
    p = subprocess.run(_script() + ["verify", "--help"], capture_output=True, text=True, cwd=ROOT)
    return p.returncode == 0


def _once(path, jobs, extra=()):
    t0 = time.perf_counter()
    p = subprocess.run(_script() + ["verify", path, "-j", str(jobs), "--json", *extra], capture_output=True,
                       text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    try:
        rep = json.loads(p.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"matcalc verify -j {jobs} exited {p.returncode}: {p.stderr[-400:]}") from None
    return wall, rep["summary"]


def run(cfg, log) -> Section:
    sec = Section("verify")
    if not available():
        sec.skipped.append("`matcalc verify` does not exist in this matcalc; section 6 skipped")
        sec.goals.append(Goal("6 verify", "throughput measured", "no verify command", None))
        return sec
    path = os.path.join(IDENTITIES, "trace.toml") if cfg.quick else IDENTITIES
    rounds = 1 if cfg.quick else 3
    res = {1: [], 2: []}
    summ = {}
    for r in range(rounds):
        for j in (1, 2):
            log(f"verify: -j {j} round {r + 1}/{rounds}")
            wall, s = _once(path, j)
            res[j].append((wall, s["time"]))
            summ[j] = s
    t = Table(f"6a. matcalc verify {os.path.relpath(path, ROOT)}: throughput",
              ["processes", "identities", "passed / failed", "wall (process)", "reported", "identities / s",
               "speed-up"])
    w1 = median([w for w, _ in res[1]])
    for j in (1, 2):
        w = median([w for w, _ in res[j]])
        rep = median([x for _, x in res[j]])
        s = summ[j]
        t.add(str(j), str(s["total"]), f"{s['passed']} / {s['failed']}", fmt_time(w), fmt_time(rep),
              f"{s['total'] / w:.0f}", fmt_ratio(w1 / w))
    t.notes.append(f"median of {rounds} runs; 'reported' is the time the command prints in --json (imports "
                   f"excluded); the machine has {os.cpu_count()} cores.")
    sec.tables.append(t)
    sec.data["runs"] = res
    sec.data["summary"] = summ
    w2 = median([w for w, _ in res[2]])
    sec.goals.append(Goal("6 verify", "verify throughput with 1 and 2 processes (no numeric goal)",
                          f"{summ[1]['total'] / w1:.0f} identities/s with -j 1, {summ[2]['total'] / w2:.0f} with "
                          f"-j 2 ({fmt_ratio(w1 / w2)}); {summ[1]['failed']} failing",
                          True if summ[1]["failed"] == 0 else False,
                          "" if summ[1]["failed"] == 0 else "the catalogue does not pass matcalc verify"))
    return sec
