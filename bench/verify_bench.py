"""Wall time of `matcalc verify identities/`, one process and `-j 2` (fresh processes, imports included).

    python3 bench/verify_bench.py                 # 3 rounds each, median and spread
    python3 bench/verify_bench.py --rounds 5 --trials 3 --jobs 1 2 4
    python3 bench/verify_bench.py --big 10000     # also: a generated file of 10,000 identities,
                                                  # time and peak memory against one of 1,000

Each run is a subprocess of the installed `matcalc` timed with time.perf_counter;
the command's own figure (`--json` summary time, without start-up) is shown beside it.
The peak resident memory of the child (ru_maxrss) shows whether memory grows with
the number of identities (it must not: identities are checked one at a time).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "identities"


def command() -> list[str]:
    exe = shutil.which("matcalc") or os.path.join(os.path.dirname(sys.executable), "matcalc")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "matcalc"]


def timed(args: list[str]) -> tuple[float, dict, float]:
    """(wall seconds, the --json summary, peak RSS of the child in MB) of one `matcalc verify` run."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command() + ["verify", *args, "--json"], stdout=out, stderr=subprocess.PIPE,
                                cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        out.seek(0)
        text = out.read().decode()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"matcalc verify {' '.join(args)} exited {proc.returncode}:\n{err[-2000:]}")
    summary = json.loads(text)["summary"]
    rss_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2 ** 20
    return wall, summary, rss_mb


def big_file(path: Path, count: int) -> Path:
    """`count` distinct identities (a new coefficient each: no graph is shared between them)."""
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(count):
            c = k + 2
            fh.write(f'[[identity]]\nname = "generated-{k}"\nexpr = "{c}*x\'*A*x + sum(exp(W*x))"\nwrt = "x"\n'
                     f'expected = "{c}*(A + A\')*x + W\'*exp(W*x)"\n\n')
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=3, help="matcalc verify --trials (default 3, the default)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--big", type=int, default=0, metavar="N", help="also verify N generated identities")
    args = ap.parse_args(argv)

    print(f"matcalc verify {CATALOGUE.relative_to(ROOT)}/ --trials {args.trials}  "
          f"({args.rounds} rounds; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})")
    print(f"{'processes':>9}  {'identities':>10}  {'passed':>6}  {'wall median':>11}  {'min':>6}  {'max':>6}  "
          f"{'in-command':>10}  {'ident/s':>7}  {'peak RSS':>8}")
    medians = {}
    for jobs in args.jobs:
        runs = [timed([str(CATALOGUE), "-j", str(jobs), "--trials", str(args.trials)]) for _ in range(args.rounds)]
        walls = [w for w, _, _ in runs]
        s = runs[-1][1]
        med = medians[jobs] = statistics.median(walls)
        print(f"{jobs:>9}  {s['total']:>10}  {s['passed']:>6}  {med:>10.2f}s  {min(walls):>5.2f}s  {max(walls):>5.2f}s  "
              f"{statistics.median(r[1]['time'] for r in runs):>9.2f}s  {s['total'] / med:>7.0f}  "
              f"{max(r[2] for r in runs):>6.0f}MB")
    if 1 in medians:
        for jobs, med in medians.items():
            if jobs != 1:
                print(f"speed-up of -j {jobs} over one process: {medians[1] / med:.2f}×")

    if args.big:
        with tempfile.TemporaryDirectory() as tmp:
            small_n = max(1, args.big // 10)
            rows = []
            for n in (small_n, args.big):
                path = big_file(Path(tmp) / f"generated-{n}.toml", n)
                wall, s, rss = timed([str(path), "--trials", "1"])
                rows.append((n, wall, s, rss))
            print(f"\ngenerated identity files, one process, --trials 1:")
            for n, wall, s, rss in rows:
                print(f"  {n:>6} identities: {wall:7.1f} s wall, {s['time'] / n * 1000:5.1f} ms each, "
                      f"{s['passed']} passed, peak RSS {rss:.0f} MB")
            growth = rows[1][3] - rows[0][3]
            print(f"  peak RSS grows by {growth:.1f} MB for {args.big - small_n} more identities "
                  f"({growth * 1024 / (args.big - small_n):.2f} kB per identity: the outcome records and the file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
