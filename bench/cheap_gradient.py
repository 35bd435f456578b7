"""5c. The cheap-gradient bound over the whole catalogue, by timing (issue 15, item 3).

Every gradient of the catalogue that matcalc derives, at one size n for every symbolic size: its
generated NumPy code (`Result.numpy`) against the generated NumPy code of the function itself
(`printing.numpy_code` of the parsed function), both byte-compiled once, timed interleaved (medians
of repeats, in a child process with one BLAS thread). The inputs are drawn as the verifier draws them
(each name's kind, the ops' domains: `matcalc.verify.draw_value`). Where the gradient has more entries
than all the inputs together, the bound is on the cost of writing it: the time of `np.full` of the
gradient's shape. The goal: derivative ÷ max(function, writing where that applies) ≤ 3 on every one.
Times are CPU times of the one-threaded child (time.process_time): on the shared machine, wall times
of calls this short move with the other processes' load by more than the ratios measured.
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from .common import Goal, Section, Table, catalogue, fmt_ratio, fmt_time, loadavg, run_child, timeit_many

BOUND = 3.0
MAX_ENTRIES = 50_000_000    # an array the timing may build (400 MB): vec-form results at n = 1000 reach n⁴


def _largest(res, n: int) -> int:
    """The entries of the largest array the function's or the gradient's graph holds, every size name n."""
    from matcalc.expr import postorder
    from matcalc.shapes import size_names, size_value

    def entries(e):
        sizes = {k: n for d in e.shape for k in size_names(d)}
        return size_value(e.shape[0], sizes) * size_value(e.shape[1], sizes)
    return max(entries(node) for root in (res.expr, res.function.expr) for node in postorder(root))


def _point(res, func_code, n, rng):
    """User-shaped inputs (vectors 1-D, scalars floats) where the function and gradient are finite."""
    from matcalc import simplify
    from matcalc.numeric import to_user
    from matcalc.printing import code_name
    from matcalc.shapes import size_names, size_value
    from matcalc.verify import draw_value
    doms = simplify.domains(res.function.expr)
    for _ in range(5):
        vals = {}
        for name, (kind, shape) in res.symbols.items():
            shp = tuple(size_value(d, {k: n for k in size_names(d)}) for d in shape)
            vals[code_name(name)] = to_user(draw_value(kind, shp, doms.get(name, set()), rng), shp)
        env = {"np": np, **vals}
        with np.errstate(all="ignore"):
            f, g = (eval(compile(c, "<matcalc>", "eval"), env) for c in (func_code, res.numpy))   # noqa: S307
        if np.all(np.isfinite(f)) and np.all(np.isfinite(g)):
            return vals
    return None


def measure(quick: bool, log=lambda m: None) -> list[dict]:
    import matcalc
    from matcalc.errors import MatcalcError
    from matcalc.printing import numpy_code
    n = 100 if quick else 1000
    repeats = 3 if quick else 5
    rng = np.random.default_rng(0)
    rows = []
    entries = [e for e in catalogue() if e.op == "grad"]
    for i, e in enumerate(entries[:40] if quick else entries):
        log(f"cheap gradient: {i + 1}/{len(entries)} {e.file}:{e.name}")
        try:
            res = matcalc.grad(e.expr, e.wrt, e.let)
        except MatcalcError:
            continue
        largest = _largest(res, n)
        if largest > MAX_ENTRIES:
            rows.append({"id": f"{e.file[:-5]}:{e.name}", "skipped": f"an array of {largest:,} entries at n = {n}"})
            continue
        func_code = numpy_code(res.function.expr, res.size_code())
        vals = _point(res, func_code, n, rng)
        if vals is None:
            rows.append({"id": f"{e.file[:-5]}:{e.name}", "skipped": "no finite point drawn"})
            continue
        env = {"np": np, **vals}
        grad_c, func_c = (compile(c, "<matcalc>", "eval") for c in (res.numpy, func_code))
        shape = np.shape(eval(grad_c, env))                         # noqa: S307  (our own generated code)
        inputs = sum(np.size(v) for v in vals.values())
        fns = [lambda: eval(grad_c, env), lambda: eval(func_c, env), lambda: np.full(shape, 1.0)]  # noqa: S307
        t_grad, t_func, t_write = timeit_many(fns, repeats, min_time=0.0 if quick else 0.01,
                                              clock=time.process_time)
        larger = int(np.prod(shape)) > inputs
        base = max(t_func, t_write) if larger else t_func
        rows.append({"id": f"{e.file[:-5]}:{e.name}", "expr": e.expr, "wrt": e.wrt, "n": n, "grad": t_grad,
                     "func": t_func, "write": t_write, "larger": larger, "ratio": t_grad / base,
                     "ratio_write": t_grad / max(t_func, t_write)})
    return rows


def _child(quick: bool):
    import json
    import sys
    rows = measure(quick, lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(rows))


def run(cfg, log) -> Section:
    sec = Section("cheap")
    before = loadavg()
    rows = run_child("cheap_gradient", (cfg.quick,), 1, log)
    load = [before, loadavg()]
    timed = [r for r in rows if "ratio" in r]
    timed.sort(key=lambda r: -r["ratio"])
    over = [r for r in timed if r["ratio"] > BOUND]
    t = Table("5c. Cheap-gradient bound over the catalogue: the gradients above the bound, and the ten "
              "nearest it", ["identity", "n", "generated gradient", "generated function", "writing the gradient",
                              "gradient larger than inputs", "ratio", "÷ max(function, writing)"])
    for r in over + [r for r in timed if r["ratio"] <= BOUND][:10]:
        t.add(r["id"], str(r["n"]), fmt_time(r["grad"]), fmt_time(r["func"]), fmt_time(r["write"]),
              "yes" if r["larger"] else "", fmt_ratio(r["ratio"]), fmt_ratio(r["ratio_write"]))
    ratios = sorted(r["ratio"] for r in timed)
    skipped = Counter(r["skipped"].split(" of ")[0] for r in rows if "skipped" in r)
    why = ", ".join(f"{k} {reason}" for reason, k in skipped.items()) or "none"
    t.notes.append(f"{len(timed)} catalogue gradients timed (skipped: {why}; every size name n); "
                   f"median ratio {fmt_ratio(ratios[len(ratios) // 2]) if ratios else '—'}; ratio = gradient ÷ "
                   "function, or ÷ max(function, writing) where the gradient has more entries than the inputs; "
                   "1 BLAS thread, CPU time; load average before / after: " + " · ".join(load))
    sec.tables.append(t)
    sec.data.update(rows=rows, load=load)
    n = timed[0]["n"] if timed else None
    over_write = [r for r in timed if r["ratio_write"] > BOUND]
    t.notes.append(f"against max(function, writing the gradient) for every gradient (writing is a floor of any "
                   f"gradient code: tr(X)'s reads n entries, its gradient I writes n²): "
                   f"{len(timed) - len(over_write)}/{len(timed)} within {BOUND:g}×")
    sec.goals.append(Goal(
        "3 code", f"generated gradient ≤ {BOUND:g}× the generated function (catalogue, n = {n})",
        f"{len(timed) - len(over)}/{len(timed)} within; worst {timed[0]['id']} {fmt_ratio(timed[0]['ratio'])}"
        if timed else "none measured", not over if timed else None))
    return sec
