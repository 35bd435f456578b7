"""tensorgrad 0.3 (Thomas Ahle's tensor-network library with symbolic derivatives) as a peer.

Run in a child process per case (`python -m bench.tensorgrad_peer L`), so every timing is cold
(tensorgrad, too, interns its nodes). The gradient of the L-layer tanh network of bench/depth.py
w.r.t. W1 is `f.grad(W1).simplify()`, timed after the imports. Its values are not checked:
tensorgrad evaluates through torch's named tensors, which the torch 2.13 CPU build used here
does not have. Not a project dependency: the benchmark skips it when tensorgrad is missing.
"""
from __future__ import annotations

import json
import sys
import time


def _network(L):
    from sympy import symbols

    import tensorgrad.functions as F
    from tensorgrad import Variable
    dims = symbols(" ".join(f"d{i}" for i in range(L + 1)))
    x, y = Variable("x", dims[0]), Variable("y", dims[L])
    ws = [Variable(f"W{i}", dims[i], dims[i - 1]) for i in range(1, L + 1)]
    h = x
    for i, w in enumerate(ws, 1):
        h = w @ h
        if i < L:
            h = F.tanh(h)
    return F.frobenius2(h - y), ws


def child(L: int):
    import tensorgrad  # noqa: F401  (imports are not timed)
    t0 = time.perf_counter()
    f, ws = _network(L)
    t1 = time.perf_counter()
    try:
        g = f.grad(ws[0]).simplify()
    except RecursionError:
        print(json.dumps({"L": L, "status": "RecursionError", "time": time.perf_counter() - t1}))
        return
    t2 = time.perf_counter()
    print(json.dumps({"L": L, "status": "ok", "build": t1 - t0, "time": t2 - t1, "length": len(str(g))}))


def version() -> str | None:
    try:
        import importlib.metadata as md
        return md.version("tensorgrad")
    except Exception:   # noqa: BLE001
        return None


if __name__ == "__main__":
    child(int(sys.argv[1]))
