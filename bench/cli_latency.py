"""3. Start-up: cold `matcalc` commands against the floors `python -c pass` and `python -c "import numpy"`.

Every command is a fresh process (wall time from just before spawning to its exit, and its CPU time,
user + system, which the machine's other load moves less); the commands
are run in interleaved rounds so that the machine's noise falls on all of them alike, and the
median of the rounds is reported, with each command's ratio to a floor measured in the same
rounds. The console script is the one installed next to this Python. `python -X importtime`
says where each command's start-up goes: self time per top-level package, and which module
imports the package first (a chain of importers; "at run time" is an import made while the
command runs, not while matcalc loads).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from .common import ROOT, Goal, Section, Table, fmt_ratio, fmt_time, loadavg, median

EXPR = "norm(A*x - b)**2"


def _script() -> list[str]:
    here = os.path.join(os.path.dirname(sys.executable), "matcalc")
    if os.path.exists(here):
        return [here]
    return [sys.executable, "-m", "matcalc"]


PASS, NUMPY = "python -c pass", 'python -c "import numpy"'
GRAD = "matcalc grad EXPR x"


def commands():
    mc = _script()
    py = sys.executable
    grad = mc + ["grad", EXPR, "x"]
    return [
        (PASS, [py, "-c", "pass"]),
        (NUMPY, [py, "-c", "import numpy"]),
        ("matcalc --version", mc + ["--version"]),
        ("matcalc --help", mc + ["--help"]),
        (f"{GRAD} --no-verify", grad + ["--no-verify"]),
        (f"{GRAD} --no-verify -f latex", grad + ["--no-verify", "-f", "latex"]),
        (f"{GRAD} --no-verify -f json", grad + ["--no-verify", "-f", "json"]),
        (f"{GRAD} (verified)", grad),
        ('python -c "import matcalc"', [py, "-c", "import matcalc"]),
        ('python -c "import matcalc.cli"', [py, "-c", "import matcalc.cli"]),
    ]


# (command, floor, at most this many times the floor): the goals of issue 15
GOALS = [("matcalc --version", PASS, 2.0), ("matcalc --help", PASS, 2.0),
         (f"{GRAD} --no-verify", NUMPY, 0.6), (f"{GRAD} --no-verify -f latex", NUMPY, 0.6),
         (f"{GRAD} --no-verify -f json", NUMPY, 0.6), (f"{GRAD} (verified)", NUMPY, 1.3)]


def _wall(cmd) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of cmd."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}: {err.decode()[-300:]}")
    return dt, usage.ru_utime + usage.ru_stime


def importtime(cmd):
    """One run under -X importtime: [(package, self µs, first importer chain)], total µs, modules."""
    argv = cmd[1:] if cmd[0] == sys.executable else cmd
    p = subprocess.run([sys.executable, "-X", "importtime"] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, cwd=ROOT)
    rows = []           # (depth, module, self µs), children listed before their importer
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if m:
            rows.append((len(m.group(3)) // 2, m.group(4), int(m.group(1))))
    per: dict[str, int] = {}
    first: dict[str, str] = {}
    for i, (depth, mod, us) in enumerate(rows):
        top = mod.split(".")[0]
        per[top] = per.get(top, 0) + us
        chain, d = [], depth
        for j in range(i + 1, len(rows)):         # the importers: the next rows one level up
            if rows[j][0] < d:
                chain.append(rows[j][1])
                d = rows[j][0]
        entry = not chain or chain[0].split(".")[0] != top      # the package is entered here
        if entry and top not in first:
            first[top] = " ← ".join(chain[:3]) if chain else "at run time" if top != "matcalc" else ""
    total = sum(per.values())
    stdlib = sum(v for k, v in per.items() if k in sys.stdlib_module_names or k.startswith("_"))
    ranked = sorted(((k, v) for k, v in per.items() if k not in sys.stdlib_module_names and not k.startswith("_")),
                    key=lambda kv: -kv[1])
    return [(k, v, first.get(k, "")) for k, v in ranked] + [("standard library", stdlib, "")], total, \
        {r[1] for r in rows}


def run(cfg, log) -> Section:
    sec = Section("cli")
    rounds = 3 if cfg.quick else 11
    cmds = commands()
    import compileall                   # as installed: byte-compiled (PYTHONDONTWRITEBYTECODE may be set)
    compileall.compile_dir(os.path.join(ROOT, "matcalc"), quiet=1)
    for _, c in cmds:            # warm the file-system cache; check every command works
        _wall(c)
    load = [loadavg()]
    samples = {name: [] for name, _ in cmds}
    cpu = {name: [] for name, _ in cmds}
    for r in range(rounds):
        log(f"cli: round {r + 1}/{rounds}")
        for name, c in (cmds if r % 2 == 0 else cmds[::-1]):
            wall, used = _wall(c)
            samples[name].append(wall)
            cpu[name].append(used)
    load.append(loadavg())
    med = {k: median(v) for k, v in samples.items()}
    # ratios to a floor, per round (the two measured back to back), then the median
    ratio = {(k, f): median([a / b for a, b in zip(samples[k], samples[f])]) for k in med for f in (PASS, NUMPY)}
    cpu_ratio = {(k, f): median([a / b for a, b in zip(cpu[k], cpu[f])]) for k in med for f in (PASS, NUMPY)}
    t = Table("3a. Start-up: cold processes, wall time (and CPU time)",
              ["command", "median", "min", "÷ python -c pass", "÷ import numpy", "CPU", "CPU ÷ pass", "CPU ÷ numpy"])
    for name, _ in cmds:
        t.add(name.replace("EXPR", f'"{EXPR}"'), fmt_time(med[name]), fmt_time(min(samples[name])),
              fmt_ratio(ratio[name, PASS]), fmt_ratio(ratio[name, NUMPY]), fmt_time(median(cpu[name])),
              fmt_ratio(cpu_ratio[name, PASS]), fmt_ratio(cpu_ratio[name, NUMPY]))
    t.notes.append(f"median of {rounds} interleaved rounds (alternately forward and backward); a ratio is the "
                   f"median of the per-round ratios; CPU is the process's user + system time, less moved by "
                   f"the other processes' load than wall time; matcalc byte-compiled; console script "
                   f"{_script()[0]}; load average before / after: " + " · ".join(load))
    sec.tables.append(t)
    sec.data.update(median=med, samples=samples, cpu=cpu, load=load)

    probes = [("matcalc --version", ["--version"]), ("matcalc --help", ["--help"]),
              (f"{GRAD} --no-verify", ["grad", EXPR, "x", "--no-verify"]),
              (f"{GRAD} (verified)", ["grad", EXPR, "x"])]
    t = Table("3b. python -X importtime: self time per top-level package, and who imports it first",
              ["command", "total", "package", "self time", "imported by"])
    heavy = {}
    for name, argv in probes[:1] if cfg.quick else probes:
        per, total, names = importtime(_script() + argv)
        heavy[name] = per
        first = True
        for pkg, us, by in per:
            if us < 1000:
                continue
            t.add(name.replace("EXPR", f'"{EXPR}"') if first else "", fmt_time(total / 1e6) if first else "",
                  pkg, fmt_time(us / 1e6), by)
            first = False
    t.notes.append("one run per command (-X importtime inflates times); packages with at least 1 ms shown; the standard library summed; "
                   "'imported by' is the first chain of importers outside the package.")
    sec.tables.append(t)
    sec.data["imports"] = heavy

    for name, floor, bound in GOALS:
        r = ratio[name, floor]
        sec.goals.append(Goal("1 start-up", f"{name.replace('EXPR', 'E')} ≤ {bound:g}× {floor}",
                              f"{fmt_ratio(r)} ({fmt_time(med[name])} vs {fmt_time(med[floor])}; CPU "
                              f"{fmt_ratio(cpu_ratio[name, floor])})", bool(r <= bound)))
    return sec
