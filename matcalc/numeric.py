"""Numeric evaluation of an expression graph with the ops' NumPy implementations.

Internally every value is a 2-D array (vectors (n, 1), scalars (1, 1)) so that
each op's implementation is one line; `to_user` converts to the public
convention of 1-D vectors and float scalars.
"""
from __future__ import annotations

from .expr import Expr, postorder
from .shapes import size_value


def evaluate(expr: Expr, values: dict[str, np.ndarray], sizes: dict[str, int], magnitude: bool = False):
    """Evaluate expr; values are 2-D arrays by name, sizes the numbers of the size names.
    With magnitude=True: the largest finite entry of any node's value instead."""
    import numpy as np      # here, not at the top: commands that evaluate nothing do not load it
    env = dict(sizes)
    env.update({"@" + k: v for k, v in values.items()})
    memo: dict[Expr, np.ndarray] = {}
    order = postorder(expr)
    if hasattr(sizes, "charge"):        # the numeric check's budget (verify.CheckSizes)
        sizes.charge(len(order))
    with np.errstate(all="ignore"):
        for node in order:
            args = [memo[a] for a in node.args]
            try:
                value = node.op.evaluate(node, args, env)
            except np.linalg.LinAlgError:        # a singular matrix: not finite here
                value = np.full([size_value(d, env) for d in node.shape], np.nan)
            memo[node] = np.asarray(value, dtype=float)
    if magnitude:
        return max((float(np.abs(v[np.isfinite(v)]).max(initial=0.0)) for v in memo.values()), default=0.0)
    return memo[expr]


def to_user(a: np.ndarray, shape):
    if shape == (1, 1):
        return float(a[0, 0])
    if shape[1] == 1 or shape[0] == 1:
        return a.reshape(-1)
    return a
