"""1. Derivation speed and correctness: matcalc vs SymPy's MatrixExpr.diff on the catalogue.

matcalc: `matcalc.api.derivative(op, expr, wrt, let)` (parse, type, derive, simplify), the median
of several cold calls in this process: no node of an earlier call (or of the result checked
first) is alive when a call starts, so every call builds its graph afresh (common.cold_many
checks matcalc's intern table before each call). A first call in a fresh process is timed too,
from subprocesses, for a few identities.

SymPy 1.14: `f.diff(x)` (`.diff(x)` twice for a Hessian) on the translated expression
(bench/sympy_bridge.py), with SymPy's cache cleared before every timed call (otherwise a
repeat is a cache hit). The calls of the two tools are interleaved (matcalc, SymPy, matcalc,
...). The translation is not timed; matcalc's time includes parsing.

Correctness of SymPy's answer: evaluated numerically at a random point (random distinct sizes
2..7, inputs from each name's domain, as matcalc's verifier draws them) and compared with
matcalc's answer at the same point, which itself must pass matcalc's finite-difference check.
"""
from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time

import numpy as np

from .common import ROOT, Goal, Section, Table, catalogue, cold_many, fmt_ratio, fmt_time, geomean, loadavg, median

SHARED_OPS = ("grad", "jacobian", "hessian")     # SymPy has no VJP / JVP
VARIANTS = ("matrix", "element")
COLD_CASES = [
    ("grad", "norm(A*x - b)**2", "x", None),
    ("grad", "logdet(X)", "X", None),
    ("grad", "tr(A*X*B)", "X", None),
    ("hessian", "x'*A*x", "x", None),
    ("grad", "cross_entropy(W*x + b, y)", "W", None),
]


class _Timeout(Exception):
    pass


def _alarm(*_):
    raise _Timeout()


def _with_timeout(fn, seconds):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _point(result, seed=1):
    """Random distinct sizes and inputs from each name's domain (as matcalc's verifier draws them)."""
    from matcalc import simplify
    from matcalc.shapes import size_names, size_value
    from matcalc.verify import draw_sizes, draw_value
    rng = np.random.default_rng(seed)
    syms = result.symbols
    dims = {k for _, shape in syms.values() for d in shape for k in size_names(d)}
    sizes = draw_sizes(dims, rng)
    doms = simplify.domains(result.function.expr)
    values = {}
    for name, (kind, shape) in syms.items():
        shp = tuple(size_value(d, sizes) for d in shape)
        values[name] = draw_value(kind, shp, doms.get(name, set()), rng)
    return sizes, values


def _judge(kind, got, ref):
    """ok | silent-zero | wrong, comparing SymPy's numbers with matcalc's verified ones."""
    got = np.asarray(got, dtype=float)
    ref = np.asarray(ref, dtype=float)
    scale = max(np.linalg.norm(ref), 1e-12)
    if got.size != ref.size and got.size == 1:
        got = np.full(ref.shape, float(got.reshape(-1)[0]))      # a scalar 0 stands for a zero matrix
    if got.size != ref.size:
        return "wrong", float("inf")
    g = got.reshape(-1) if ref.ndim < 2 else np.squeeze(got).reshape(ref.shape) if got.ndim > 2 else got.reshape(ref.shape)
    cands = [ref]
    if kind == "jacobian":          # SymPy writes vector-by-vector derivatives in denominator layout
        cands.append(ref.T)
    best = float("inf")
    for r in cands:
        if g.size == r.size:
            best = min(best, float(np.linalg.norm(g.reshape(r.shape) - r) / scale))
    if np.linalg.norm(ref) > 1e-9 and np.all(g == 0):
        return "silent zero", best
    return ("ok" if best <= 1e-6 else "wrong"), best


def _sympy_case(ident, variant, result, sizes, values, timeout, repeats):
    from sympy.core.cache import clear_cache

    from matcalc.numeric import evaluate

    from .sympy_bridge import (NotExpressible, Translation, is_symbolic_zero, numeric, sympy_derivative,
                               unevaluated)
    out = {"status": None, "time": None, "err": None, "detail": ""}
    try:
        t = Translation(ident.expr, ident.wrt, ident.let, variant)
    except NotExpressible as e:
        out["status"], out["detail"] = "not expressible", str(e)
        return out
    # the translator must agree with matcalc on the function itself
    vals2d = {k: np.atleast_2d(v) if np.ndim(v) else np.array([[v]]) for k, v in values.items()}
    vals2d = {k: (v.reshape(-1, 1) if v.ndim == 1 else v) for k, v in vals2d.items()}
    try:
        fv = numeric(t.f, t, vals2d, sizes)
        fm = evaluate(result.function.expr, vals2d, sizes)
        if np.asarray(fv).size != fm.size or not np.allclose(np.asarray(fv).reshape(fm.shape), fm, rtol=1e-8, atol=1e-10):
            out["status"], out["detail"] = "translator mismatch", f"{fv} vs {fm}"
            return out
    except Exception as e:   # noqa: BLE001
        out["status"], out["detail"] = "translator mismatch", f"{type(e).__name__}: {e}"
        return out
    samples = []
    g = None
    for _ in range(repeats):
        clear_cache()
        t0 = time.perf_counter()
        try:
            g = _with_timeout(lambda: sympy_derivative(t, ident.op), timeout)
        except _Timeout:
            out["status"], out["detail"] = "timeout", f"> {timeout:g} s"
            return out
        except Exception as e:   # noqa: BLE001
            out["status"], out["detail"] = "exception", f"{type(e).__name__}: {str(e)[:80]}"
            return out
        samples.append(time.perf_counter() - t0)
    out["time"] = median(samples)
    out["translation"] = t
    out["text"] = str(g)[:200]
    if unevaluated(g):
        out["status"], out["detail"] = "unevaluated", str(g)[:80]
        return out
    ref = evaluate(result.expr, vals2d, sizes)
    if is_symbolic_zero(g) and np.linalg.norm(ref) > 1e-9:
        out["status"], out["detail"] = "silent zero", str(g)[:80]
        return out
    try:
        got = numeric(g, t, vals2d, sizes)
    except Exception as e:   # noqa: BLE001
        out["status"], out["detail"] = "unevaluable", f"{type(e).__name__}: {str(e)[:80]}"
        return out
    out["status"], out["err"] = _judge(ident.op, got, ref)
    if out["status"] != "ok":
        out["detail"] = str(g)[:80]
    return out


def _cold(cases, runs):
    """First-call times in fresh processes: matcalc, and SymPy where the case is expressible."""
    rows = []
    for kind, expr, wrt, let in cases:
        code_m = ("import time, json, matcalc\nfrom matcalc.api import derivative\n"
                  f"t0 = time.perf_counter(); derivative({kind!r}, {expr!r}, {wrt!r}, {let!r}); t1 = time.perf_counter()\n"
                  f"derivative({kind!r}, {expr!r}, {wrt!r}, {let!r}); t2 = time.perf_counter()\n"
                  "print(json.dumps([t1 - t0, t2 - t1]))")
        code_s = ("import time, json, sys\nsys.path.insert(0, %r)\n" % ROOT +
                  "from bench.sympy_bridge import Translation, sympy_derivative, NotExpressible\n"
                  "from sympy.core.cache import clear_cache\n"
                  f"try:\n    t = Translation({expr!r}, {wrt!r}, {let!r}, 'matrix')\n"
                  "except NotExpressible:\n    print('null'); raise SystemExit\n"
                  f"t0 = time.perf_counter(); sympy_derivative(t, {kind!r}); t1 = time.perf_counter()\n"
                  f"clear_cache(); t2 = time.perf_counter(); sympy_derivative(t, {kind!r}); t3 = time.perf_counter()\n"
                  "print(json.dumps([t1 - t0, t3 - t2]))")
        m, s = [], []
        for _ in range(runs):
            m.append(json.loads(_py(code_m)))
            got = json.loads(_py(code_s))
            if got is not None:
                s.append(got)
        mc, mw = median([x[0] for x in m]), median([x[1] for x in m])
        sc = median([x[0] for x in s]) if s else None
        sw = median([x[1] for x in s]) if s else None
        rows.append((kind, expr, wrt, mc, mw, sc, sw))
    return rows


def _py(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip().splitlines()[-1]


def run(cfg, log) -> Section:
    from sympy.core.cache import clear_cache

    from matcalc.api import derivative

    from .sympy_bridge import sympy_derivative
    sec = Section("derivation")
    load = [loadavg()]
    idents = catalogue()
    if cfg.quick:
        # a spread of the catalogue: every 8th identity of the shared kinds, and a few others
        idents = [i for k, i in enumerate(idents) if k % 16 == 0]
    repeats = 3 if cfg.quick else 7
    timeout = 3.0 if cfg.quick else 20.0
    rows = []
    for k, ident in enumerate(idents):
        if k % 25 == 0:
            log(f"derivation: {k}/{len(idents)}")
        row = {"ident": ident}
        try:
            res = derivative(ident.op, ident.expr, ident.wrt, ident.let)
        except Exception as e:   # noqa: BLE001
            row["error"] = f"{type(e).__name__}: {e}"
            rows.append(row)
            continue
        rep = res.verify()
        row["verified"] = rep.passed
        peers = []             # SymPy's translations that answered: timed interleaved with matcalc
        if ident.op in SHARED_OPS:
            sizes, values = _point(res)
            for v in VARIANTS:
                row[v] = _sympy_case(ident, v, res, sizes, values, timeout, 1)
                if row[v].get("translation") is not None:
                    peers.append(v)
        del res, rep           # nothing of the checked result stays alive: the timed calls are cold
        fns = [lambda: derivative(ident.op, ident.expr, ident.wrt, ident.let)]
        fns += [lambda t=row[v].pop("translation"): _with_timeout(lambda: sympy_derivative(t, ident.op), timeout)
                for v in peers]
        try:
            times, warm = cold_many(fns, repeats, min_time=0.003 if cfg.quick else 0.01,
                                    setup=[None] + [clear_cache] * len(peers))
        except _Timeout:       # SymPy answered once in time, not again: matcalc alone
            (times, warm), peers = cold_many(fns[:1], repeats, min_time=0.01), []
        row["mc_time"], row["warm"] = times[0], warm
        for v, t in zip(peers, times[1:]):
            row[v]["time"] = t
        rows.append(row)
    sec.data["rows"] = rows

    # ---------------------------------------------------------------- tables
    shared = [r for r in rows if r["ident"].op in SHARED_OPS and "error" not in r
              and r["matrix"]["status"] != "not expressible"]
    statuses = ["ok", "silent zero", "wrong", "unevaluated", "unevaluable", "exception", "timeout",
                "translator mismatch"]

    def ratio(r, v):
        s = r[v]
        return s["time"] / r["mc_time"] if s.get("time") else None

    ok_m = [r for r in shared if r["matrix"]["status"] == "ok"]
    ratios_ok = [ratio(r, "matrix") for r in ok_m]
    ratios_all = [ratio(r, "matrix") for r in shared if ratio(r, "matrix")]
    ratios_el = [ratio(r, "element") for r in shared if ratio(r, "element")]
    n_err = sum("error" in r for r in rows)
    n_ver = sum(bool(r.get("verified")) for r in rows)

    t = Table("1a. Derivation: matcalc vs SymPy 1.14 (summary)", ["measure", "value"])
    t.add("catalogue identities timed", str(len(rows)))
    t.add("matcalc: derived without error / verified by finite differences",
          f"{len(rows) - n_err} / {n_ver} of {len(rows)}")
    t.add("matcalc median derive+simplify time, all identities", fmt_time(median([r.get('mc_time') for r in rows])))
    t.add("matcalc slowest identity", fmt_time(max((r.get('mc_time') or 0) for r in rows)))
    kinds = [r for r in rows if r["ident"].op in SHARED_OPS and "error" not in r]
    t.add("grad/jacobian/hessian identities (SymPy has no vjp/jvp)", str(len(kinds)))
    t.add("expressible in the SymPy subset (shared)", str(len(shared)))
    for v in VARIANTS:
        counts = {s: sum(r[v]["status"] == s for r in shared) for s in statuses}
        t.add(f"SymPy outcomes, '{v}' spelling", ", ".join(f"{s} {c}" for s, c in counts.items() if c))
    t.add("matcalc median time, shared identities", fmt_time(median([r["mc_time"] for r in shared])))
    t.add("SymPy median time, shared ('matrix')", fmt_time(median([r["matrix"].get("time") for r in shared])))
    t.add("median ratio SymPy/matcalc, shared where SymPy is correct ('matrix')",
          f"{fmt_ratio(median(ratios_ok))} over {len(ratios_ok)}")
    t.add("median ratio SymPy/matcalc, all shared SymPy answered ('matrix')",
          f"{fmt_ratio(median(ratios_all))} over {len(ratios_all)} (geomean {fmt_ratio(geomean(ratios_all))})")
    t.add("median ratio SymPy/matcalc, all shared SymPy answered ('element')",
          f"{fmt_ratio(median(ratios_el))} over {len(ratios_el)}")
    t.add("min / max ratio where SymPy is correct",
          f"{fmt_ratio(min(ratios_ok, default=float('nan')))} / {fmt_ratio(max(ratios_ok, default=float('nan')))}")
    load.append(loadavg())
    t.notes.append(f"medians of {repeats} cold calls, the tools interleaved; SymPy's cache cleared before each "
                   f"call; SymPy timeout {timeout:g} s; ratio > 1 means matcalc is faster. Nodes alive from earlier "
                   f"calls when a matcalc call started: {max((r.get('warm', 0) for r in rows), default=0)}. "
                   "Load average before / after: " + " · ".join(load))
    sec.tables.append(t)

    # by file
    t = Table("1b. Derivation: SymPy outcomes by catalogue file ('matrix' spelling / 'element' spelling)",
              ["file", "ids", "shared", "SymPy ok", "silent zero", "wrong", "unevaluated", "exception/timeout",
               "median ratio (ok)"])
    files = sorted({r["ident"].file for r in rows})
    for f in files:
        rs = [r for r in rows if r["ident"].file == f]
        sh = [r for r in shared if r["ident"].file == f]

        def c(*ss):
            return " / ".join(str(sum(r[v]["status"] in ss for r in sh)) for v in VARIANTS)
        rat = median([ratio(r, "matrix") for r in sh if r["matrix"]["status"] == "ok"])
        t.add(f.replace(".toml", ""), str(len(rs)), str(len(sh)), c("ok"), c("silent zero"), c("wrong"),
              c("unevaluated", "unevaluable"), c("exception", "timeout"), fmt_ratio(rat))
    sec.tables.append(t)

    # per identity
    t = Table("1c. Derivation: every shared identity", ["identity", "op", "matcalc", "SymPy", "ratio",
                                                        "SymPy 'matrix'", "SymPy 'element'"])
    for r in shared:
        i = r["ident"]
        t.add(f"{i.file.replace('.toml', '')}:{i.name}", i.op, fmt_time(r["mc_time"]),
              fmt_time(r["matrix"].get("time")), fmt_ratio(ratio(r, "matrix")),
              _status_cell(r["matrix"]), _status_cell(r["element"]))
    sec.tables.append(t)

    bad = [r for r in rows if "error" in r or not r.get("verified")]
    if bad:
        t = Table("1d. matcalc failures on the catalogue", ["identity", "op", "problem"])
        for r in bad:
            i = r["ident"]
            t.add(f"{i.file}:{i.name}", i.op, r.get("error", "verification failed"))
        sec.tables.append(t)

    slow = sorted((r for r in rows if r.get("mc_time")), key=lambda r: -r["mc_time"])[:8]
    t = Table("1e. Derivation: matcalc's slowest identities", ["identity", "op", "expr", "time"])
    for r in slow:
        i = r["ident"]
        t.add(f"{i.file.replace('.toml', '')}:{i.name}", i.op, i.expr, fmt_time(r["mc_time"]))
    sec.tables.append(t)

    log("derivation: cold subprocess timings")
    cold = _cold(COLD_CASES[:1] if cfg.quick else COLD_CASES, 1 if cfg.quick else 3)
    t = Table("1f. Derivation: the first call in a fresh process, and the second",
              ["op", "expression", "wrt", "matcalc 1st call", "matcalc 2nd call", "SymPy 1st call",
               "SymPy 2nd (cache cleared)", "1st-call ratio"])
    for kind, expr, wrt, mc, mw, sc, sw in cold:
        t.add(kind, expr, wrt, fmt_time(mc), fmt_time(mw), fmt_time(sc), fmt_time(sw),
              fmt_ratio(sc / mc) if sc else "not expressible")
    t.notes.append("1st call = the first derivative call after the imports, in a new process (median of "
                   f"{1 if cfg.quick else 3} processes); imports are not included. The 2nd call is cold too "
                   "(the first one's result is dropped); it differs by what the first call loaded.")
    sec.tables.append(t)
    sec.data["cold"] = cold

    med = median(ratios_ok)
    correct = n_err == 0 and n_ver == len(rows)
    sec.goals.append(Goal(
        "1 derivation", "matcalc ≥ 5× faster than SymPy on the median shared identity",
        f"median SymPy/matcalc = {fmt_ratio(med)} over {len(ratios_ok)} identities SymPy gets right "
        f"({fmt_ratio(median(ratios_all))} over all {len(ratios_all)} it answers)",
        bool(med >= 5) if not math.isnan(med) else None))
    sec.goals.append(Goal(
        "1 derivation", "matcalc correct on all identities",
        f"{n_ver}/{len(rows)} verified by finite differences, {n_err} errors", correct))
    return sec


def _status_cell(s):
    st = s["status"]
    if st == "ok":
        return "ok"
    if st == "not expressible":
        return f"n/e ({s['detail']})"
    return f"{st.upper()}: {s['detail']}"[:90]
