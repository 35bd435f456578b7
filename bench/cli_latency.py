"""3. Command-line latency: cold `matcalc grad "norm(A*x - b)**2" x` against `python -c "import sympy"`.

Every command is a fresh process (wall time from just before spawning to its exit); the commands
are run in interleaved rounds so that the machine's noise falls on all of them alike, and the
median of the rounds is reported. The console script is the one installed next to this Python
(bypassing a pyenv shim, which adds its own startup time; the shim is timed separately).
When the goal is missed, `python -X importtime` shows which imports the time goes to.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

from .common import ROOT, Goal, Section, Table, fmt_ratio, fmt_time, median

EXPR = "norm(A*x - b)**2"


def _script() -> list[str]:
    here = os.path.join(os.path.dirname(sys.executable), "matcalc")
    if os.path.exists(here):
        return [here]
    return [sys.executable, "-m", "matcalc"]


def commands():
    mc = _script()
    py = sys.executable
    cmds = [
        ("floor: python -c \"import sympy\"", [py, "-c", "import sympy"]),
        ("matcalc grad EXPR x", mc + ["grad", EXPR, "x"]),
        ("matcalc grad EXPR x --no-verify", mc + ["grad", EXPR, "x", "--no-verify"]),
        ("matcalc grad EXPR x --plain", mc + ["grad", EXPR, "x", "--plain"]),
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c \"import numpy\"", [py, "-c", "import numpy"]),
        ("python -c \"import matcalc\"", [py, "-c", "import matcalc"]),
        ("python -c \"import matcalc.cli\"", [py, "-c", "import matcalc.cli"]),
        ("matcalc --version", mc + ["--version"]),
    ]
    shim = shutil.which("matcalc")
    if shim and os.path.realpath(shim) != os.path.realpath(mc[0]):
        cmds.append((f"matcalc grad EXPR x via PATH ({shim})", [shim, "grad", EXPR, "x"]))
    return cmds


def _wall(cmd) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}: {p.stderr.decode()[-300:]}")
    return dt


def importtime(cmd):
    """Import time of a command, as self time summed per top-level package (µs), and the total."""
    p = subprocess.run([sys.executable, "-X", "importtime"] + (cmd[1:] if cmd[0] == sys.executable else cmd),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    per: dict[str, int] = {}
    names = set()
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            mod = m.group(3)
            names.add(mod)
            top = mod.split(".")[0]
            per[top] = per.get(top, 0) + int(m.group(1))
    total = sum(per.values())
    return total, sorted(per.items(), key=lambda kv: -kv[1]), names


def run(cfg, log) -> Section:
    sec = Section("cli")
    rounds = 3 if cfg.quick else 9
    cmds = commands()
    if cfg.quick:
        cmds = cmds[:4]
    for _, c in cmds:            # warm the file-system cache; check every command works
        _wall(c)
    samples = {name: [] for name, _ in cmds}
    for r in range(rounds):
        log(f"cli: round {r + 1}/{rounds}")
        for name, c in cmds:
            samples[name].append(_wall(c))
    med = {k: median(v) for k, v in samples.items()}
    floor = med[cmds[0][0]]
    t = Table("3a. Command-line latency (cold process, wall time)", ["command", "median", "min", "× floor"])
    for name, _ in cmds:
        t.add(name.replace("EXPR", f'"{EXPR}"'), fmt_time(med[name]), fmt_time(min(samples[name])),
              fmt_ratio(med[name] / floor))
    t.notes.append(f"median of {rounds} interleaved rounds; floor = python -c \"import sympy\"; "
                   f"console script {_script()[0]}")
    sec.tables.append(t)
    sec.data["median"] = med
    sec.data["samples"] = samples

    ratios = {k: med[k] / floor for k in med if k.startswith("matcalc grad")}
    worst = max(ratios[k] for k in ratios if "via PATH" not in k)
    met = worst <= 1.5
    total, per, names = importtime(_script() + ["grad", EXPR, "x"])
    sec.data["importtime_total_us"] = total
    t = Table("3b. python -X importtime: matcalc grad EXPR x, import self-time per top-level package",
              ["package", "self time", "share"])
    for mod, us in per[:12]:
        t.add(mod, fmt_time(us / 1e6), f"{100 * us / total:.0f}%")
    t.notes.append(f"total import time {fmt_time(total / 1e6)} (one run, -X importtime inflates it); "
                   f"sympy imported: {'sympy' in names}; torch imported: {'torch' in names}")
    sec.tables.append(t)
    sec.data["imports"] = per
    sec.goals.append(Goal("3 cli", "matcalc grad (verify on, --no-verify, --plain) ≤ 1.5× python -c \"import sympy\"",
                          ", ".join(f"{k.replace('matcalc grad EXPR x', '').strip() or 'default'} "
                                    f"{fmt_ratio(v)}" for k, v in ratios.items() if "via PATH" not in k),
                          met))
    return sec
