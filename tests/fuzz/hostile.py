"""Hostile but valid inputs, run through the real `matcalc` under time and memory caps (issue 18).

    python tests/fuzz/hostile.py --minutes 20              # the long run by hand; prints its seed
    python tests/fuzz/hostile.py --seed 7 --count 50 --json /tmp/hostile.json

Generated inputs: deep powers, long products and sums, many names, nested sharing, each at a
random size, through every command (show, grad, jacobian, hessian, vjp, jvp) and every format
(text, latex, json, numpy, torch, jax; with --pictures also png and svg, which run TeX). Each
runs in its own process under a memory cap (RLIMIT_AS, what `ulimit -v` sets) and a time cap.
A run passes when it ends within its caps with exit 0, 1 or 2, and an exit 2 says why on
stderr without a traceback; the report gives the inputs tried, the worst time and the peak
memory. tests/test_hostile.py runs a few of these in the suite.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

MEMORY_CAP_MB = 2048        # address space of one matcalc process
TIME_CAP_S = 120.0          # wall time of one matcalc process, on a shared 2-core machine
STDOUT_KEPT = 4 * 1024 * 1024
FORMATS = ("text", "latex", "json", "numpy", "torch", "jax")
PICTURES = ("png", "svg")


@dataclass
class Run:
    argv: list
    exit: int | None          # None: killed at the time cap
    seconds: float
    peak_mb: float            # the process's maximum resident set
    stderr: str
    stdout: str = ""          # its first STDOUT_KEPT bytes
    cpu_seconds: float = 0.0  # user + system time: what the input costs, however loaded the machine

    @property
    def problem(self) -> str | None:
        """Why this run is not acceptable, or None."""
        if self.exit is None:
            return f"still running after {TIME_CAP_S:.0f} s"
        if self.exit not in (0, 1, 2):
            return f"exit {self.exit}"
        if "Traceback" in self.stderr or "internal error" in self.stderr:
            return "a traceback or internal error on stderr"
        if self.exit == 2 and not self.stderr.strip():
            return "exit 2 without a message"
        return None


def matcalc_command() -> list:
    exe = shutil.which("matcalc", path=os.path.dirname(sys.executable)) or shutil.which("matcalc")
    return [exe] if exe else [sys.executable, "-m", "matcalc"]


def run_capped(args, stdin: bytes = b"", seconds: float = TIME_CAP_S, memory_mb: int = MEMORY_CAP_MB,
               cwd: str | None = None) -> Run:
    """Run matcalc with args in a process of at most memory_mb of address space, killed after
    `seconds`; its exit code, wall time, peak resident memory, stderr and stdout."""
    def limit():
        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               COLUMNS="120", NO_COLOR="1")
    args = list(args)
    if len(args) > 1 and len(args[1]) > 50_000 and not stdin:     # beyond what one argument may hold
        args, stdin = [args[0], "-", *args[2:]], args[1].encode()
    argv = matcalc_command() + args
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        inp.write(stdin)
        inp.seek(0)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=inp, stdout=out, stderr=err, preexec_fn=limit, cwd=cwd, env=env)
        code, usage = None, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - t0 > seconds:
                proc.kill()
                _, _, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = code if code is not None else -9     # reaped here, not by Popen
        elapsed = time.monotonic() - t0
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        out.seek(0)
        stdout = out.read(STDOUT_KEPT).decode("utf-8", "replace")
    return Run(list(args), code, elapsed, usage.ru_maxrss / 1024, stderr, stdout, usage.ru_utime + usage.ru_stime)


# ------------------------------------------------------------------ generated inputs

def _power_tower(rng, size):
    """((x'*x)^a)^b ... and (X^a)^b: deep powers, merged by the algebra (limits after merging)."""
    if rng.random() < 0.5:
        e = "(x'*x)"
        for _ in range(size):
            e = f"({e})^{rng.choice([2, 3, -1, '1/2', 7, 1000])}"
        return e, "x", "scalar"
    e = "X"
    for _ in range(max(1, size // 4)):
        e = f"({e})^{rng.choice([2, 3, 8, 16, 64, -2])}"
    return f"tr({e})", "X", "scalar"


def _long_product(rng, size):
    n = 2 + size * 10
    if rng.random() < 0.5:
        names = [f"A{i}" for i in range(n)]
        return f"tr({'*'.join(names)})", f"A{rng.randrange(n)}", "scalar"
    return "x'*" + "*".join(rng.choice(["X", "X'", "inv(X)", "S"]) for _ in range(n)) + "*x", "X", "scalar"


def _long_sum(rng, size):
    n = 1 + size * 40
    form = rng.choice(["x'*A{i}*x", "norm(A{i}*x - b)", "sum(tanh(W{i}*x))", "log(1 + exp(a{i}'*x))"])
    return " + ".join(form.format(i=i) for i in range(n)), "x", "scalar"


def _many_names(rng, size):
    n = 1 + size * 100
    return " + ".join(f"sum(tanh(W{i}*x))" for i in range(n)), "x", "scalar"


def _nested_sharing(rng, size):
    """g(g(...g(x))): each level uses the one below twice (u.*sin(u), softmax(u)'*u, ...)."""
    g = rng.choice(["({u}).*sin({u})", "tanh({u}) + ({u}).^2", "exp(-({u}).^2) .* ({u})"])
    e = "x"
    for _ in range(min(1 + size, 14)):      # the text doubles a level: 14 levels are 80,000 characters
        e = g.format(u=e)
    return e, "x", "vector"


FAMILIES = (_power_tower, _long_product, _long_sum, _many_names, _nested_sharing)
COMMANDS = ("show", "grad", "jacobian", "hessian", "vjp", "jvp")


def hostile_input(rng: random.Random, max_size: int, pictures: bool = False) -> list:
    """One generated command line: a pathological family at a random size, a command and a format."""
    family = rng.choice(FAMILIES)
    expr, wrt, shape = family(rng, rng.randint(1, max_size))
    if shape == "vector" and rng.random() < 0.5:
        expr = f"sum({expr})"
        shape = "scalar"
    command = rng.choice(COMMANDS)
    fmt = rng.choice(FORMATS + (PICTURES if pictures else ()))
    if command == "show":
        fmt = rng.choice(("text", "latex", "json"))
        return ["show", expr, "--format", fmt]
    args = [command, expr, wrt, "--format", fmt]
    if fmt in PICTURES:
        args += ["-o", f"out.{fmt}"]
    if fmt != "text" and rng.random() < 0.5:
        args.append("--verify")
    return args


def hostile_run(seed: int, count: int | None, minutes: float | None, max_size: int, pictures: bool,
                out_json: str | None = None) -> int:
    rng = random.Random(seed)
    print(f"seed {seed} (replay with --seed {seed} --max-size {max_size})", flush=True)
    t0, runs, bad = time.monotonic(), [], []
    with tempfile.TemporaryDirectory() as work:
        while (count is None or len(runs) < count) and (minutes is None or time.monotonic() - t0 < minutes * 60):
            args = hostile_input(rng, max_size, pictures)
            r = run_capped(args, cwd=work)
            runs.append(r)
            if r.problem:
                bad.append(r)
                print(f"PROBLEM ({r.problem}): matcalc {' '.join(map(repr, args))[:300]}\n  {r.stderr[-500:]}",
                      flush=True)
    report = summary(runs)
    print(json.dumps(report, indent=2))
    if out_json:
        with open(out_json, "w") as fh:
            json.dump({"seed": seed, **report, "runs": [dict(asdict(r), stdout="") for r in runs]}, fh, indent=2)
    return 1 if bad else 0


def summary(runs) -> dict:
    worst = max(runs, key=lambda r: r.seconds)
    busiest = max(runs, key=lambda r: r.cpu_seconds)
    fat = max(runs, key=lambda r: r.peak_mb)
    exits: dict = {}
    for r in runs:
        exits[str(r.exit)] = exits.get(str(r.exit), 0) + 1
    return {"inputs": len(runs), "exits": exits, "problems": sum(1 for r in runs if r.problem),
            "worst_seconds": round(worst.seconds, 2), "worst_command": " ".join(worst.argv)[:200],
            "worst_cpu_seconds": round(busiest.cpu_seconds, 2), "worst_cpu_command": " ".join(busiest.argv)[:200],
            "peak_mb": round(fat.peak_mb, 1), "peak_command": " ".join(fat.argv)[:200]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--seed", type=int, default=None, help="default: random, printed")
    ap.add_argument("--max-size", type=int, default=20, help="size parameter of the families (1 to this)")
    ap.add_argument("--pictures", action="store_true", help="also png and svg (TeX)")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    if args.minutes is None and args.count is None:
        args.minutes = 10.0
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    sys.exit(hostile_run(seed, args.count, args.minutes, args.max_size, args.pictures, args.json))


if __name__ == "__main__":
    main()
