"""2. Depth and width scaling, cold, sizes interleaved.

    f_L = norm(W_L*tanh(W_{L-1}*...tanh(W_1*x)...) - y)**2,   grad w.r.t. W1,   L = 1, 2, 4, ..., 1024
    x'*A0*x + ... + x'*A{N-1}*x (grad w.r.t. x) and tr(A0*...*A{N-1}) (grad w.r.t. A1), N up to 5,000

Every timed call builds its graph afresh (nothing of an earlier call is alive: common.cold_many
checks the intern table), and each repeat runs all sizes in turn, so a change of the machine's
load falls on every size alike. Derivation time = (build + derive + simplify) − build, both timed
interleaved. Peak memory is tracemalloc's peak during the derivation, in a fresh process per
size (the graph of the function built before tracing starts). The growth exponent is the
least-squares slope of log(measure) against log(size).

Peers: SymPy (tanh as ElementwiseApplyFunction) and tensorgrad 0.3 (`f.grad(W1).simplify()`),
each in a subprocess per size with a timeout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import ROOT, Goal, Section, Table, cold_many, fmt_num, fmt_time, loadavg, loglog_slope

def chain_expr(L: int) -> str:
    h = "x"
    for i in range(1, L):
        h = f"tanh(W{i}*{h})"
    return f"norm(W{L}*{h} - y)**2"


def chain_graph(L: int):
    """The same function built directly through matcalc's constructors (no parser)."""
    from matcalc import algebra as alg
    from matcalc.api import Parsed
    from matcalc.typecheck import Symbol
    dims = [f"d{i}" for i in range(L + 1)]
    symbols = {}

    def leaf(name, shape, kind):
        symbols[name] = Symbol(name, kind, shape)
        return alg.sym(name, shape, kind)

    h = leaf("x", (dims[0], 1), "vector")
    for i in range(1, L + 1):
        w = leaf(f"W{i}", (dims[i], dims[i - 1]), "matrix")
        h = alg.mul(w, h)
        if i < L:
            h = alg.call("tanh", h)
    r = alg.sub(h, leaf("y", (dims[L], 1), "vector"))
    f = alg.power(alg.call("norm", r), 2)
    return Parsed(chain_expr(L), f, symbols)


def sum_expr(n: int) -> str:
    return "+".join(f"x'*A{i}*x" for i in range(n))


def product_expr(n: int) -> str:
    return "tr(" + "*".join(f"A{i}" for i in range(n)) + ")"


def _depth_rows(Ls, repeats, parse_limit, log):
    """Cold derivation times of the L-layer net for every L, sizes interleaved, and its result's sizes."""
    from matcalc.api import derivative, grad
    from matcalc.errors import MatcalcError
    from matcalc.expr import postorder
    fns = []
    for L in Ls:
        fns.append(lambda L=L: chain_graph(L))
        fns.append(lambda L=L: derivative("grad", chain_graph(L), "W1"))
    log(f"depth: {repeats} interleaved rounds over L = {Ls[0]} … {Ls[-1]}")
    times, warm = cold_many(fns, repeats, min_time=0.02)
    rows = []
    for k, L in enumerate(Ls):
        row = {"L": L, "t_graph": max(times[2 * k + 1] - times[2 * k], 0.0), "t_build": times[2 * k]}
        r = derivative("grad", chain_graph(L), "W1")
        row["dag"] = len(postorder(r.expr))
        row["tree"] = r.expr.tree_size
        t0 = time.perf_counter()
        try:
            row["text_len"] = len(r.text)
            row["t_print"] = time.perf_counter() - t0
        except MatcalcError:         # a result too deep to print is a LimitError
            row["text_len"], row["t_print"] = "refused (too deep)", None
        if L <= 8:
            row["verified"] = r.verify(trials=2).passed
        if L == 2:
            row["text"] = r.text
        del r
        if L <= parse_limit:
            try:
                grad(chain_expr(L), "W1")
                row["t_text"] = cold_many([lambda: grad(chain_expr(L), "W1")], 3, min_time=0.02)[0][0]
            except MatcalcError as e:
                row["text_error"] = f"{type(e).__name__}: {e.message if hasattr(e, 'message') else e}"
        rows.append(row)
    return rows, warm


_MEMORY_CHILD = """
import gc, json, sys, tracemalloc
sys.path.insert(0, {root!r})
from bench.depth import chain_graph, product_expr, sum_expr
from matcalc.api import derivative, parse
from matcalc.expr import postorder
case, n = {case!r}, {n}
p = chain_graph(n) if case == "net" else parse(sum_expr(n) if case == "sum" else product_expr(n))
gc.collect()
tracemalloc.start()
r = derivative("grad", p, {{"net": "W1", "sum": "x", "product": "A1"}}[case])
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({{"peak": peak, "dag": len(postorder(r.expr))}}))
"""


def peak_memory(case: str, n: int) -> dict:
    """tracemalloc's peak (bytes) during one derivation, in a fresh process."""
    code = _MEMORY_CHILD.format(root=ROOT, case=case, n=n)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def _width_rows(Ns, repeats, log):
    """Cold times of the N-term sum and the N-matrix product, sizes interleaved: parse + derive and parse alone."""
    from matcalc.api import derivative, parse
    fns = []
    for n in Ns:
        for build, wrt in ((sum_expr, "x"), (product_expr, "A1")):
            text = build(n)
            fns.append(lambda text=text: parse(text))
            fns.append(lambda text=text, wrt=wrt: derivative("grad", parse(text), wrt))
    log(f"depth: {repeats} interleaved rounds of sums and products, N = {Ns[0]} … {Ns[-1]}")
    times, warm = cold_many(fns, repeats)
    rows = []
    for k, n in enumerate(Ns):
        t = times[4 * k:4 * k + 4]
        rows.append({"N": n, "sum_total": t[1], "sum": max(t[1] - t[0], 0.0),
                     "product_total": t[3], "product": max(t[3] - t[2], 0.0)})
    return rows, warm


def _tensorgrad_row(L, timeout):
    from .tensorgrad_peer import version
    if version() is None:
        return None
    try:
        p = subprocess.run([sys.executable, "-m", "bench.tensorgrad_peer", str(L)], capture_output=True, text=True,
                           timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"L": L, "status": "timeout", "detail": f"killed after {timeout:g} s"}
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:   # noqa: BLE001
        return {"L": L, "status": "crash", "detail": (p.stderr.strip().splitlines() or ["?"])[-1][:120]}


def _sympy_child(L: int):
    """Run in a subprocess: SymPy's derivative of the L-chain, checked numerically against matcalc."""
    import warnings
    warnings.filterwarnings("ignore")
    from matcalc.api import grad

    from .derivation import _judge, _point
    from .sympy_bridge import Translation, numeric, unevaluated
    text = chain_expr(L)
    t = Translation(text, "W1", None, "matrix", elementwise=True)
    t0 = time.perf_counter()
    try:
        g = t.f.diff(t.wrt)
    except Exception as e:   # noqa: BLE001
        print(json.dumps({"status": "exception", "detail": f"{type(e).__name__}: {str(e)[:100]}",
                          "time": time.perf_counter() - t0}))
        return
    dt = time.perf_counter() - t0
    out = {"time": dt, "len": len(str(g)), "ops": int(g.count_ops()) if hasattr(g, "count_ops") else None}
    if unevaluated(g):
        out.update(status="unevaluated", detail=str(g)[:100])
    else:
        res = grad(text, "W1")
        sizes, values = _point(res)
        from matcalc.numeric import evaluate
        try:
            got = numeric(g, t, values, sizes)
            st, err = _judge("grad", got, evaluate(res.expr, values, sizes))
            out.update(status=st, err=err, detail="" if st == "ok" else str(g)[:100])
        except Exception as e:   # noqa: BLE001
            out.update(status="unevaluable", detail=f"{type(e).__name__}: {str(e)[:100]}")
    print(json.dumps(out))


def _sympy_row(L, timeout):
    code = f"import sys; sys.path.insert(0, {ROOT!r}); from bench.depth import _sympy_child; _sympy_child({L})"
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                           env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"L": L, "status": "timeout", "detail": f"killed after {timeout:g} s"}
    wall = time.perf_counter() - t0
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:   # noqa: BLE001
        return {"L": L, "status": "crash", "detail": (p.stderr.strip().splitlines() or ["?"])[-1][:120], "wall": wall}
    out["L"], out["wall"] = L, wall
    return out


def run(cfg, log) -> Section:
    sec = Section("depth")
    Ls = [1, 2, 4, 8] if cfg.quick else [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    Ns = [50, 100] if cfg.quick else [625, 1250, 2500, 5000]
    mem_Ls = [8, 16] if cfg.quick else [128, 256, 512, 1024]
    repeats = 2 if cfg.quick else 3
    load = [loadavg()]
    rows, warm = _depth_rows(Ls, repeats, 8 if cfg.quick else 128, log)
    load.append(loadavg())
    mem = {}
    for L in mem_Ls:
        log(f"depth: peak memory, L = {L}")
        mem[L] = peak_memory("net", L)
    wrows, wwarm = _width_rows(Ns, repeats, log)
    load.append(loadavg())
    tg = []
    for L in ([1, 2] if cfg.quick else [1, 2, 4, 8, 16, 32]):
        log(f"depth: tensorgrad L = {L}")
        r = _tensorgrad_row(L, 30.0 if cfg.quick else 300.0)
        if r is None:
            sec.skipped.append("tensorgrad (not installed: pip install tensorgrad==0.3.*)")
            break
        tg.append(r)
        if r["status"] != "ok":
            break
    tgd = {r["L"]: r for r in tg}
    sec.data.update(rows=rows, memory=mem, width=wrows, tensorgrad=tg, load=load, warm=warm + wwarm)

    t = Table("2a. Depth scaling: grad of norm(W_L*tanh(...tanh(W1*x)) - y)**2 w.r.t. W1 (cold, sizes interleaved)",
              ["L", "derivation", "from text", "peak memory", "DAG nodes", "tree size", "text length", "print time",
               "tensorgrad", "verified"])
    for r in rows:
        m = mem.get(r["L"])
        g = tgd.get(r["L"])
        t.add(str(r["L"]), fmt_time(r["t_graph"]),
              fmt_time(r["t_text"]) if "t_text" in r else "parser limit" if "text_error" in r else "—",
              f"{m['peak'] / 1e6:.1f} MB" if m else "—", str(r["dag"]), str(r["tree"]), str(r["text_len"]),
              fmt_time(r["t_print"]), (fmt_time(g["time"]) if g["status"] == "ok" else g["status"]) if g else "—",
              {True: "✓", False: "✗"}.get(r.get("verified"), "—"))
    refused = [r for r in rows if "text_error" in r]
    if refused:
        t.notes.append(f"from text refused for L ≥ {refused[0]['L']}: {refused[0]['text_error']}")
    t.notes.append(f"derivation = median of {repeats} cold calls of derivative() on a graph built afresh by "
                   "matcalc's constructors, minus the median build time; 'from text' parses too (L ≤ "
                   f"{8 if cfg.quick else 128}). Nodes alive from earlier calls when a call started: {warm}.")
    t.notes.append("tensorgrad: f.grad(W1).simplify() in a fresh process, after its imports; its values "
                   "are not checked (it evaluates through torch named tensors, missing from the torch 2.13 "
                   "CPU build). Peak memory: tracemalloc, fresh process per L.")
    t.notes.append("load average (1, 5, 15 min) before / after the timings / after the widths: " + " · ".join(load))
    sec.tables.append(t)

    def fit(rs, key, lo=0, size="L"):
        rs = [r for r in rs if r[size] >= lo and isinstance(r.get(key), (int, float)) and r.get(key)]
        return loglog_slope([r[size] for r in rs], [r[key] for r in rs])
    big = Ls[len(Ls) // 2] if cfg.quick else 64
    fits = {
        f"derivation time, L = {big} … {Ls[-1]}": fit(rows, "t_graph", big),
        f"derivation time, L = {Ls[0]} … {Ls[-1]}": fit(rows, "t_graph"),
        f"derivation time, local, L = {Ls[-2]} → {Ls[-1]}": loglog_slope(
            [Ls[-2], Ls[-1]], [rows[-2]["t_graph"], rows[-1]["t_graph"]]),
        "DAG nodes": fit(rows, "dag"),
        "text length": fit(rows, "text_len"),
        "print time (text)": fit(rows, "t_print", big),
        f"peak memory, L = {mem_Ls[0]} … {mem_Ls[-1]}": loglog_slope(
            mem_Ls, [mem[L]["peak"] for L in mem_Ls]),
        f"N-term sum: derivation time, N = {Ns[0]} … {Ns[-1]}": fit(wrows, "sum", size="N"),
        "N-term sum: parse + derivation": fit(wrows, "sum_total", size="N"),
        f"N-matrix product: derivation time, N = {Ns[0]} … {Ns[-1]}": fit(wrows, "product", size="N"),
        "N-matrix product: parse + derivation": fit(wrows, "product_total", size="N"),
    }
    ok_tg = [r for r in tg if r["status"] == "ok" and r["L"] >= 2]
    if len(ok_tg) >= 2:
        fits[f"tensorgrad derivation time, L = {ok_tg[0]['L']} … {ok_tg[-1]['L']}"] = loglog_slope(
            [r["L"] for r in ok_tg], [r["time"] for r in ok_tg])
        same = [r for r in rows if r["L"] in {g["L"] for g in ok_tg}]
        fits[f"matcalc derivation time, same L = {ok_tg[0]['L']} … {ok_tg[-1]['L']}"] = fit(same, "t_graph")
    t = Table("2b. Growth exponents (log-log least squares)", ["measure", "exponent"])
    for k, v in fits.items():
        t.add(k, fmt_num(v))
    sec.tables.append(t)
    sec.data["fits"] = fits

    t = Table("2c. Width: the N-term sum x'*A0*x + ... (grad w.r.t. x) and the N-matrix product tr(A0*...) "
              "(grad w.r.t. A1), cold, sizes interleaved",
              ["N", "sum: derivation", "sum: parse + derivation", "sum: peak memory", "product: derivation",
               "product: parse + derivation", "product: peak memory"])
    for r in wrows:
        ms, mp = peak_memory("sum", r["N"]), peak_memory("product", r["N"])
        r["sum_peak"], r["product_peak"] = ms["peak"], mp["peak"]
        t.add(str(r["N"]), fmt_time(r["sum"]), fmt_time(r["sum_total"]), f"{ms['peak'] / 1e6:.1f} MB",
              fmt_time(r["product"]), fmt_time(r["product_total"]), f"{mp['peak'] / 1e6:.1f} MB")
    t.notes.append(f"medians of {repeats} cold calls; derivation = (parse + derive + simplify) − parse. "
                   f"Nodes alive from earlier calls when a call started: {wwarm}.")
    sec.tables.append(t)

    # SymPy on the same chain
    sLs = [2] if cfg.quick else [1, 2, 3, 4, 6, 8]
    timeout = 15.0 if cfg.quick else 120.0
    srows = []
    for L in sLs:
        log(f"depth: SymPy L = {L}")
        srows.append(_sympy_row(L, timeout))
    t = Table("2d. SymPy on the same chain (tanh as ElementwiseApplyFunction), in a subprocess",
              ["L", "outcome", "diff time", "result length (str)", "detail"])
    for r in srows:
        t.add(str(r["L"]), r["status"], fmt_time(r.get("time")), str(r.get("len", "—")), r.get("detail", "")[:100])
    t.notes.append(f"timeout {timeout:g} s per L; outcome judged numerically against matcalc's verified gradient.")
    sec.tables.append(t)
    sec.data["sympy"] = srows

    m_lo, m_hi = mem_Ls[-2], mem_Ls[-1]
    growth = mem[m_hi]["peak"] / mem[m_lo]["peak"]
    sec.goals.append(Goal("2 memory", f"peak memory of the net's gradient grows ≤ 2.2× from L = {m_lo} to {m_hi}",
                          f"{growth:.2f}× ({mem[m_lo]['peak'] / 1e6:.1f} → {mem[m_hi]['peak'] / 1e6:.1f} MB)",
                          bool(growth <= 2.2) if not cfg.quick else None))
    for key, what in ((f"derivation time, L = {big} … {Ls[-1]}", f"deep net, L = {big} … {Ls[-1]}"),
                      (f"N-term sum: derivation time, N = {Ns[0]} … {Ns[-1]}", f"N-term sum, N = {Ns[0]} … {Ns[-1]}"),
                      (f"N-matrix product: derivation time, N = {Ns[0]} … {Ns[-1]}",
                       f"N-matrix product, N = {Ns[0]} … {Ns[-1]}")):
        sec.goals.append(Goal("2 time", f"time exponent ≤ 1.05: {what}", f"{fits[key]:.2f}",
                              bool(fits[key] <= 1.05) if not cfg.quick else None))
    return sec
