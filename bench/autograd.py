"""5. Generated code, each backend against itself (float64, CPU, child processes with 1 or 2 threads).

torch: the module `codegen.function_code(result, "torch")` writes (byte-compiled once, then
called on float64 tensors) against the same function written in torch, timed as forward +
`torch.autograd.grad` (a gradient from the inputs alone, like the generated one), and against
`torch.func.hessian` for Hessians. NumPy: `result.numpy` (one expression, byte-compiled once)
against the NumPy code of the function itself (`printing.numpy_code` of the parsed function):
the cheap-gradient ratio, measured by timing. All sizes are n; the timed calls of one row are
interleaved; medians of repeats. Results are checked against each other.
"""
from __future__ import annotations

import time

import numpy as np

from .common import Goal, Section, Table, fmt_ratio, fmt_time, loadavg, run_child, timeit_many

PROBLEMS = [
    # name, expression, wrt, kinds, torch function (inputs as tensors by name) -> scalar
    ("quadratic form", "x'*A*x", "x", ("grad", "hessian"), lambda t, v: v["x"] @ v["A"] @ v["x"]),
    ("least squares", "norm(A*x - b)**2", "x", ("grad", "hessian"),
     lambda t, v: ((v["A"] @ v["x"] - v["b"]) ** 2).sum()),
    ("logistic regression", "sum(softplus(X*w)) - y'*X*w", "w", ("grad", "hessian"),
     lambda t, v: t.nn.functional.softplus(v["X"] @ v["w"]).sum() - v["y"] @ (v["X"] @ v["w"])),
    ("softmax regression", "cross_entropy(W*x, y)", "W", ("grad",),
     lambda t, v: -(v["y"] * t.log_softmax(v["W"] @ v["x"], 0)).sum()),
    ("softmax regression (w.r.t. x)", "cross_entropy(W*x, y)", "x", ("hessian",),
     lambda t, v: -(v["y"] * t.log_softmax(v["W"] @ v["x"], 0)).sum()),
    ("3-layer MLP", "norm(W3*tanh(W2*tanh(W1*x)) - y)**2", "W1", ("grad",),
     lambda t, v: ((v["W3"] @ t.tanh(v["W2"] @ t.tanh(v["W1"] @ v["x"])) - v["y"]) ** 2).sum()),
]


def _inputs(result, n, rng):
    vals = {}
    for name, sym in result.function.symbols.items():
        shape = tuple(d if isinstance(d, int) else n for d in sym.shape)
        if shape[1] == 1:
            v = rng.standard_normal(shape[0])
        else:
            v = rng.standard_normal(shape) / np.sqrt(shape[1])
        vals[name] = v
    if "y" in vals:
        if "cross_entropy" in result.function.source:
            p = rng.uniform(0.1, 1.0, vals["y"].shape)
            vals["y"] = p / p.sum()
        elif "softplus" in result.function.source:
            vals["y"] = (rng.uniform(size=vals["y"].shape) < 0.5).astype(float)
    return vals


def _numpy_fn(code_text, vals):
    code = compile(code_text, "<matcalc>", "eval")
    env = {"np": np, **vals}
    return lambda: eval(code, env)   # noqa: S307  (our own generated code)


def _generated_torch(torch, result, tv):
    from matcalc.codegen import function_code
    env = {}
    exec(compile(function_code(result, "torch"), "<matcalc torch>", "exec"), env)   # noqa: S102  (our own code)
    fn = next(v for k, v in env.items() if callable(v) and k.endswith("_f"))
    args = [tv[n] for n in result.symbols]
    return lambda: fn(*args)


def _torch_fn(torch, fn, kind, wrt, tv):
    if kind == "grad":
        def g():
            x = tv[wrt].detach().requires_grad_(True)
            f = fn(torch, {**tv, wrt: x})
            (out,) = torch.autograd.grad(f, x)
            return out
        return g
    hess = torch.func.hessian(lambda x: fn(torch, {**tv, wrt: x}))
    return lambda: hess(tv[wrt])


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a.reshape(b.shape) - b) / max(np.linalg.norm(b), 1e-300))


def measure(quick: bool, threads: int, log=lambda m: None) -> list[dict]:
    """All measurements, in this process (run it in a child with the thread variables set)."""
    import torch

    import matcalc
    from matcalc.printing import numpy_code
    torch.set_num_threads(threads)
    # one thread: CPU time, which the other processes' load moves less than wall time; two: wall time
    clock = time.process_time if threads == 1 else time.perf_counter
    sizes = [100] if quick else [100, 1000, 3000]
    repeats = 3 if quick else 7
    min_time = 0.002 if quick else 0.05     # seconds per sample (calls are looped to reach it)
    budget = 2.0 if quick else 60.0          # seconds one (problem, kind, size) may take in all
    rng = np.random.default_rng(0)
    rows = []
    for name, expr, wrt, kinds, fn in PROBLEMS:
        for kind in kinds:
            res = matcalc.derivative(kind, expr, wrt)
            f_code = numpy_code(res.function.expr, res.size_code())
            last = None          # (n, seconds per call of the timed functions together)
            for n in sizes:
                row = {"problem": name, "kind": kind, "n": n, "expr": expr, "wrt": wrt, "threads": threads}
                if last is not None and n > 1000:       # n = 1000 is the goals' size: always measured
                    power = 3 if kind == "hessian" or wrt[0].isupper() else 2
                    predicted = last[1] * (n / last[0]) ** power * (repeats + 2)
                    if predicted > budget:
                        row["skipped"] = f"predicted {predicted:.0f} s > budget {budget:.0f} s"
                        rows.append(row)
                        continue
                log(f"autograd ({threads} thread{'s' if threads > 1 else ''}): {name} {kind} n={n}")
                vals = _inputs(res, n, rng)
                tv = {k: torch.tensor(v, dtype=torch.float64) for k, v in vals.items()}
                fns = {"numpy": _numpy_fn(res.numpy, vals), "numpy_f": _numpy_fn(f_code, vals),
                       "torch_gen": _generated_torch(torch, res, tv), "torch": _torch_fn(torch, fn, kind, wrt, tv),
                       "forward": lambda: fn(torch, tv)}
                ref = fns["torch"]().detach().numpy()
                row["rel_diff"] = max(_rel(fns["numpy"](), ref), _rel(fns["torch_gen"]().numpy(), ref))
                times = timeit_many(list(fns.values()), repeats, min_time=min_time, clock=clock)
                row.update(zip(fns, times))
                row["ratio"] = row["torch"] / row["torch_gen"]
                row["cheap"] = row["numpy"] / row["numpy_f"]
                last = (n, sum(times))
                rows.append(row)
    return rows


def _child(quick: bool, threads: int):
    import json
    import sys
    rows = measure(quick, threads, lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(rows))


def run(cfg, log) -> Section:
    import importlib.metadata
    import importlib.util
    sec = Section("autograd")
    if importlib.util.find_spec("torch") is None:
        sec.skipped.append("torch is not installed (pip install -e '.[bench]'); section 5 skipped")
        sec.goals.append(Goal("3 code", "generated torch code ≥ 1.0× torch.autograd", "torch missing", None))
        return sec
    all_rows, load = {}, {}
    for threads in ([1] if cfg.quick else [1, 2]):
        before = loadavg()
        all_rows[threads] = run_child("autograd", (cfg.quick, threads), threads, log)
        load[threads] = [before, loadavg()]
    sec.data["rows"] = all_rows
    rows = all_rows[1]
    for threads, trs in all_rows.items():
        t = Table(f"5{'ab'[threads - 1]}. Generated code, same backend (float64, CPU, "
                  f"{threads} thread{'s' if threads > 1 else ''})",
                  ["problem", "kind", "n", "generated torch", "torch autograd", "autograd ÷ generated",
                   "torch forward", "generated NumPy", "NumPy function", "NumPy: derivative ÷ function",
                   "max rel. diff"])
        for r in trs:
            if "skipped" in r:
                t.add(r["problem"], r["kind"], str(r["n"]), "skipped", r["skipped"], "", "", "", "", "", "")
                continue
            t.add(r["problem"], r["kind"], str(r["n"]), fmt_time(r["torch_gen"]), fmt_time(r["torch"]),
                  fmt_ratio(r["ratio"]), fmt_time(r["forward"]), fmt_time(r["numpy"]), fmt_time(r["numpy_f"]),
                  fmt_ratio(r["cheap"]), f"{r['rel_diff']:.1e}")
        t.notes.append(f"torch {importlib.metadata.version('torch')}; OPENBLAS/OMP/MKL_NUM_THREADS={threads} and "
                       f"torch.set_num_threads({threads}); autograd = forward + torch.autograd.grad, or "
                       "torch.func.hessian; 'autograd ÷ generated' > 1: matcalc's torch code is faster; "
                       f"{'CPU time (time.process_time)' if threads == 1 else 'wall time'}. "
                       "Load average before / after: " + " · ".join(load[threads]))
        if threads > 1:
            t.notes.append("2 threads on this shared 2-core machine: a BLAS call waits for both threads, so "
                           "another process's load shows up as stalls; the goals use the 1-thread table.")
        sec.tables.append(t)

    grads = [r for r in rows if r["kind"] == "grad" and "ratio" in r]
    hess = [r for r in rows if r["kind"] == "hessian" and "ratio" in r and r["n"] == (100 if cfg.quick else 1000)]
    hn = 100 if cfg.quick else 1000
    slow = [r for r in grads if r["ratio"] < 1.0]
    worst = min(grads, key=lambda r: r["ratio"]) if grads else None
    sec.goals.append(Goal(
        "3 code", "generated torch gradients ≥ 1.0× torch.autograd (every problem and size)",
        f"{len(grads) - len(slow)}/{len(grads)} at or above; worst: {worst['problem']} n={worst['n']} "
        f"{fmt_ratio(worst['ratio'])}" if worst else "none measured",
        not slow if grads else None))
    hmin = min(hess, key=lambda r: r["ratio"]) if hess else None
    sec.goals.append(Goal(
        "3 code", f"generated torch Hessians ≥ 15× torch.func.hessian at n = {hn}",
        ", ".join(f"{r['problem']} {fmt_ratio(r['ratio'])}" for r in hess) or "none measured",
        (hmin["ratio"] >= 15) if hmin else None))
    at = [r for r in grads if r["n"] == hn]
    over = [r for r in at if r["cheap"] > 3]
    sec.goals.append(Goal(
        "3 code", f"generated NumPy gradient ≤ 3× the NumPy function at n = {hn} (these problems)",
        ", ".join(f"{r['problem']} {fmt_ratio(r['cheap'])}" for r in at) or "none measured",
        not over if at else None))
    return sec
