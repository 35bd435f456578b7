"""2. Depth scaling: the gradient of an L-layer tanh network's squared loss w.r.t. the first layer.

    f_L = norm(W_L*tanh(W_{L-1}*...tanh(W_1*x)...) - y)**2,   grad w.r.t. W1,   L = 1, 2, 4, ..., 128

Reported per L: derivation time from the text (parse + type + derive + simplify), derivation time
from a prebuilt graph (the parser refuses nesting deeper than its limit), result size as DAG nodes
(matcalc.expr.postorder), as a tree (Expr.tree_size: what it would be without sharing) and as printed
text with shared temporaries (len(result.text)), and the time to print it. The growth exponent is
the least-squares slope of log(measure) against log(L).

SymPy on the same chain (tanh as ElementwiseApplyFunction) runs in a subprocess with a timeout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import ROOT, Goal, Section, Table, fmt_num, fmt_time, loglog_slope, timeit


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


def _matcalc_row(L, repeats, verify, quick=False):
    from matcalc.api import derivative, grad
    from matcalc.errors import MatcalcError
    from matcalc.expr import postorder
    row = {"L": L}
    text = chain_expr(L)
    try:
        res = grad(text, "W1")
        row["t_text"] = timeit(lambda: grad(text, "W1"), repeats, min_time=(0.003 if quick else 0.02) if L < 16 else 0)
    except MatcalcError as e:
        row["text_error"] = f"{type(e).__name__}: {e.message if hasattr(e, 'message') else e}"
        res = None
    parsed = chain_graph(L)
    res_g = derivative("grad", parsed, "W1")
    row["t_graph"] = timeit(lambda: derivative("grad", chain_graph(L), "W1"), repeats,
                            min_time=(0.003 if quick else 0.02) if L < 16 else 0)
    t_build = timeit(lambda: chain_graph(L), repeats, min_time=(0.003 if quick else 0.02) if L < 16 else 0)
    row["t_graph"] = max(row["t_graph"] - t_build, 0.0)   # derivation only
    r = res if res is not None else res_g
    row["dag"] = len(postorder(r.expr))
    row["tree"] = r.expr.tree_size
    t0 = time.perf_counter()
    try:
        row["text_len"] = len(r.text)
        row["t_print"] = time.perf_counter() - t0
    except MatcalcError:         # a result too deep to print is a LimitError
        row["text_len"], row["t_print"] = "refused (too deep)", None
    try:
        row["numpy_len"] = len(r.numpy)
    except MatcalcError:         # one Python expression nested ~L deep: Python's own parser stops at 200
        row["numpy_len"] = "refused (too deep)"
    row["f_dag"] = len(postorder(parsed.expr))
    if verify:
        row["verified"] = r.verify(trials=2).passed
    if L == 2:
        row["text"] = r.text
    return row


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
    Ls = [1, 2, 4, 8] if cfg.quick else [1, 2, 4, 8, 16, 32, 64, 128]
    beyond = [] if cfg.quick else [256, 512]       # past the brief's range: is the growth still linear?
    rows = []
    for L in Ls + beyond:
        log(f"depth: L = {L}")
        rows.append(_matcalc_row(L, 3 if cfg.quick or L >= 32 else 5, verify=L <= 8, quick=cfg.quick))
    sec.data["rows"] = rows
    extra = [r for r in rows if r["L"] in beyond]
    rows = [r for r in rows if r["L"] not in beyond]

    t = Table("2a. Depth scaling: grad of norm(W_L*tanh(...tanh(W1*x)) - y)**2 w.r.t. W1",
              ["L", "from text", "from graph", "DAG nodes", "tree size", "text length", "print time",
               "NumPy code length", "verified"])
    for r in rows + extra:
        t.add(str(r["L"]) + (" (beyond)" if r in extra else ""),
              fmt_time(r["t_text"]) if "t_text" in r else "parser limit",
              fmt_time(r["t_graph"]), str(r["dag"]), str(r["tree"]), str(r["text_len"]), fmt_time(r["t_print"]),
              str(r["numpy_len"]), {True: "✓", False: "✗"}.get(r.get("verified"), "—"))
    refused = [r for r in rows if "text_error" in r]
    if refused:
        t.notes.append(f"from text refused for L ≥ {refused[0]['L']}: {refused[0]['text_error']}")
    t.notes.append("'from graph' builds the same function through matcalc's constructors and times "
                   "derivative() on it (graph building subtracted).")
    sec.tables.append(t)

    Lx = [r["L"] for r in rows]
    fits = {
        "derivation time (from graph)": loglog_slope(Lx, [r["t_graph"] for r in rows]),
        "derivation time (from text, where parsed)": loglog_slope(
            [r["L"] for r in rows if "t_text" in r], [r["t_text"] for r in rows if "t_text" in r]),
        "DAG nodes": loglog_slope(Lx, [r["dag"] for r in rows]),
        "text length": loglog_slope(Lx, [r["text_len"] for r in rows]),
        "tree size": loglog_slope(Lx, [r["tree"] for r in rows]),
    }
    fits["print time (text)"] = loglog_slope(Lx, [r["t_print"] for r in rows])
    if extra:
        big = [r for r in rows if r["L"] >= 64] + extra
        fits[f"derivation time (from graph), L = 64 … {extra[-1]['L']} (beyond the goal's range)"] = loglog_slope(
            [r["L"] for r in big], [r["t_graph"] for r in big])
        fits[f"DAG nodes, L = 64 … {extra[-1]['L']}"] = loglog_slope([r["L"] for r in big], [r["dag"] for r in big])
    tail = [r for r in rows if r["L"] >= 8]
    if len(tail) >= 3:
        fits["derivation time (from graph), L ≥ 8"] = loglog_slope([r["L"] for r in tail],
                                                                    [r["t_graph"] for r in tail])
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        fits[f"derivation time (from graph), local, L = {a['L']} → {b['L']}"] = loglog_slope(
            [a["L"], b["L"]], [a["t_graph"], b["t_graph"]])
    t = Table("2b. Depth scaling: fitted growth exponents (log-log least squares over L)", ["measure", "exponent"])
    for k, v in fits.items():
        t.add(k, fmt_num(v))
    sec.tables.append(t)
    sec.data["fits"] = fits

    # SymPy on the same chain
    sLs = [2] if cfg.quick else [1, 2, 3, 4, 6, 8]
    timeout = 15.0 if cfg.quick else 120.0
    srows = []
    for L in sLs:
        log(f"depth: SymPy L = {L}")
        srows.append(_sympy_row(L, timeout))
    t = Table("2c. SymPy on the same chain (tanh as ElementwiseApplyFunction), in a subprocess",
              ["L", "outcome", "diff time", "result length (str)", "detail"])
    for r in srows:
        t.add(str(r["L"]), r["status"], fmt_time(r.get("time")), str(r.get("len", "—")), r.get("detail", "")[:100])
    t.notes.append(f"timeout {timeout:g} s per L; outcome judged numerically against matcalc's verified gradient.")
    sec.tables.append(t)
    sec.data["sympy"] = srows

    exp_all = fits["derivation time (from graph)"]
    exp_t = fits.get("derivation time (from graph), L ≥ 8", exp_all)
    r64 = next((r for r in rows if r["L"] == 64), None)
    sec.goals.append(Goal("2 depth", "growth exponent of derivation time ≤ 1.1",
                          f"{exp_t:.2f} over L ≥ 8 ({exp_all:.2f} over all L; DAG nodes {fits['DAG nodes']:.2f}, "
                          f"text {fits['text length']:.2f})",
                          bool(exp_t <= 1.1)))
    if r64:
        t64 = r64.get("t_text", r64["t_graph"])
        sec.goals.append(Goal("2 depth", "L = 64 under 1 s", fmt_time(t64), bool(t64 < 1.0)))
    else:
        sec.goals.append(Goal("2 depth", "L = 64 under 1 s", "not run (--quick)", None))
    return sec
