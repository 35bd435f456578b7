"""4. Cost of the generated gradient against the function: the cheap-gradient principle.

A counting evaluator walks an expression graph in postorder, once per DAG node (a shared
subexpression is computed once, as a memoising evaluator or the shared temporaries of the
generated code do), with every symbolic size set to n, and adds up floating-point operations:

| node                                   | cost                                                       |
|----------------------------------------|------------------------------------------------------------|
| name, number, 0, I, ones, transpose    | 0                                                          |
| sum of k terms (r×c)                   | (k − 1)·r·c                                                |
| product chain                          | 2·p·q·r per (p×q)(q×r) product, in the cheapest order (the |
|                                        | order the NumPy printer emits); diag(v) inside a chain is  |
|                                        | a dense matrix, as in the generated `np.diag(v) @ X`       |
| scalar factors of a product            | 1 per factor and power, plus r·c to scale a matrix         |
| Hadamard product of k factors          | (k − 1)·r·c, plus r·c per factor raised to a power ≠ ±1   |
| elementwise function (exp, tanh, ...)  | r·c (a transcendental counts as one operation)            |
| inv, det, logdet (n×n)                 | n³                                                         |
| X^k                                    | 2n³ per product of binary powering                         |
| tr                                     | n;   sum: r·c;   norm, norm1: 2·r·c;   diag: 0            |
| softmax, log_softmax / logsumexp / CE  | 5n / 4n / 6n                                               |

The function is `matcalc.parse(expr).expr`; the gradient is `matcalc.grad(expr, wrt).expr`.
The ratio cost(gradient) / cost(function) is the cheap-gradient constant; the goal is ≤ 3.
"""
from __future__ import annotations

import math

from .common import Goal, Section, Table, catalogue, fmt_num, median

ZERO_COST = {"sym", "const", "zero", "identity", "ones", "transpose", "diag", "vec", "commutation", "len", "rows",
             "cols"}
PER_ENTRY = {"softmax": 5, "log_softmax": 5, "logsumexp": 4, "cross_entropy": 6, "norm": 2, "norm1": 2,
             "sum": 1}


def _size(d, n):
    from matcalc.shapes import size_names, size_value
    return size_value(d, {k: n for k in size_names(d)})        # mn is n² when every size is n


def chain_cost(dims: list[int]) -> int:
    """Cheapest multiplication order of a chain with these boundary sizes (2pqr per product)."""
    k = len(dims) - 1
    if k <= 1:
        return 0
    cost = [[0] * k for _ in range(k)]
    for length in range(2, k + 1):
        for i in range(k - length + 1):
            j = i + length - 1
            cost[i][j] = min(cost[i][m] + cost[m + 1][j] + 2 * dims[i] * dims[m + 1] * dims[j + 1]
                             for m in range(i, j))
    return cost[0][k - 1]


def node_cost(node, n: int) -> int:
    from matcalc import algebra as alg
    op = node.op
    name = op.name
    r, c = (_size(d, n) for d in node.shape)
    N = r * c
    if name in ZERO_COST:
        return 0
    if op is alg.ADD:
        return (len(node.args) - 1) * N
    if op is alg.MUL:
        coef, atoms, chain = alg.mul_split(node)
        cost = 0
        if chain:
            dims = [_size(chain[0].shape[0], n)] + [_size(f.shape[1], n) for f in chain]
            cost += chain_cost(dims)
        scal = len(atoms) + (coef != 1)
        cost += sum(1 for _, e in atoms if e != 1)          # scalar powers
        cost += max(scal - 1, 0)                             # multiplying the scalar factors
        if chain and scal:
            cost += N                                        # scaling the matrix
        return cost
    if op is alg.HAD:
        exps = node.attrs[0]
        return (len(node.args) - 1) * N + sum(N for e in exps if abs(e) != 1) + (N if all(e < 0 for e in exps) else 0)
    if op is alg.INV:
        return r ** 3
    if op is alg.MATPOW:
        k = node.attrs[0]
        products = k.bit_length() - 1 + bin(k).count("1") - 1
        return products * 2 * r ** 3
    if name in ("det", "logdet"):
        a = node.args[0]
        return _size(a.shape[0], n) ** 3
    if name == "tr":
        return _size(node.args[0].shape[0], n)
    if name in PER_ENTRY:
        a = node.args[0]
        return PER_ENTRY[name] * _size(a.shape[0], n) * _size(a.shape[1], n)
    if getattr(op, "elementwise", False) or name == "kron":
        return N
    # any other op (a reduction, a row-wise normalisation, max): one operation per entry read and written
    return N + sum(_size(a.shape[0], n) * _size(a.shape[1], n) for a in node.args)


def cost(expr, n: int) -> tuple[int, dict]:
    """Total FLOPs of a DAG and the cost per op name."""
    from matcalc.expr import postorder
    total, per = 0, {}
    for node in postorder(expr):
        c = node_cost(node, n)
        total += c
        key = _label(node)
        per[key] = per.get(key, 0) + c
    return total, per


def _label(node):
    from matcalc import algebra as alg
    if node.op is alg.MUL:
        _, _, chain = alg.mul_split(node)
        if any(f.op.name == "diag" and f.shape[0] == f.shape[1] for f in chain):
            return "product with a dense diag()"
        return "product"
    return node.op.name


def run(cfg, log) -> Section:
    import matcalc
    sec = Section("flops")
    sizes = [100] if cfg.quick else [100, 300, 1000]
    rows = []
    for ident in catalogue():
        if ident.op != "grad":
            continue
        try:
            f = matcalc.parse(ident.expr, ident.let).expr
            g = matcalc.grad(ident.expr, ident.wrt, ident.let).expr
        except Exception as e:   # noqa: BLE001
            rows.append({"ident": ident, "error": f"{type(e).__name__}: {e}"})
            continue
        row = {"ident": ident, "f": {}, "g": {}, "ratio": {}}
        for n in sizes:
            cf, _ = cost(f, n)
            cg, per = cost(g, n)
            row["f"][n], row["g"][n] = cf, cg
            row["ratio"][n] = cg / cf if cf else (0.0 if cg == 0 else math.inf)
            row.setdefault("out", {})[n] = _size(g.shape[0], n) * _size(g.shape[1], n)
            row["dominant"] = max(per.items(), key=lambda kv: kv[1])[0] if cg else "—"
        rows.append(row)
    sec.data["rows"] = [{"name": r["ident"].name, "expr": r["ident"].expr, "wrt": r["ident"].wrt,
                         **{k: r[k] for k in ("f", "g", "ratio", "dominant", "error") if k in r}} for r in rows]
    ok = [r for r in rows if "error" not in r]
    nmax = sizes[-1]

    t = Table("4a. Generated gradient FLOPs / function FLOPs over the catalogue's grad entries",
              ["n", "entries", "ratio ≤ 3", "ratio > 3", "median ratio", "max ratio"])
    for n in sizes:
        rs = [r["ratio"][n] for r in ok]
        t.add(str(n), str(len(rs)), str(sum(x <= 3 for x in rs)), str(sum(x > 3 for x in rs)), fmt_num(median(rs)),
              fmt_num(max(rs)))
    t.notes.append("every symbolic size = n; cost model in bench/flops.py; FLOPs counted once per DAG node.")
    errors = [r for r in rows if "error" in r]
    if errors:
        t.notes.append(f"{len(errors)} entries could not be derived: " +
                       "; ".join(f"{r['ident'].name}: {r['error']}" for r in errors[:5]))
    sec.tables.append(t)

    worst = sorted((r for r in ok if r["ratio"][nmax] > 3 or r["ratio"][sizes[0]] > 3),
                   key=lambda r: -r["ratio"][nmax])
    t = Table(f"4b. Entries over the bound (ratio > 3 at some n), worst first",
              ["identity", "function", "wrt", *[f"ratio n={n}" for n in sizes], f"f FLOPs n={nmax}",
               f"grad FLOPs n={nmax}", "dominant cost in the gradient", "within 3× of max(f, output size)"])
    for r in worst:
        i = r["ident"]
        t.add(f"{i.file.replace('.toml', '')}:{i.name}", i.expr, i.wrt, *[fmt_num(r["ratio"][n]) for n in sizes],
              f"{r['f'][nmax]:.3g}", f"{r['g'][nmax]:.3g}", r["dominant"],
              "yes" if r["g"][nmax] <= 3 * max(r["f"][nmax], r["out"][nmax]) else "no")
    if not worst:
        t.add("none", "", "", *["" for _ in sizes], "", "", "", "")
    t.notes.append("the last column forgives a gradient that only writes its output: a function reading n of "
                   "n² entries (tr X) has an n² gradient whatever the method.")
    sec.tables.append(t)

    top = sorted(ok, key=lambda r: -r["ratio"][nmax])[:10]
    t = Table(f"4c. The 10 highest ratios at n = {nmax} (with the gradient matcalc prints)",
              ["identity", "ratio", "gradient"])
    for r in top:
        i = r["ident"]
        t.add(f"{i.name}", fmt_num(r["ratio"][nmax]), matcalc.grad(i.expr, i.wrt, i.let).text)
    sec.tables.append(t)

    over = [r for r in ok if any(r["ratio"][n] > 3 for n in sizes)]
    worst_r = max((r["ratio"][nmax] for r in ok), default=float("nan"))
    sec.goals.append(Goal("4 flops", "generated gradient ≤ 3× the function's FLOPs on every grad entry",
                          f"{len(ok) - len(over)}/{len(ok)} within 3× at every n in {sizes}; "
                          f"worst {fmt_num(worst_r)}× at n={nmax}",
                          not over))
    return sec
