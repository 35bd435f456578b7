"""The judge: the function evaluated as the user typed it, from the syntax tree.

The engine builds canonical graphs, and its constructors rewrite while they build
((u^a)^b merged, transposes pushed down, like terms collected). A verifier that took
finite differences of that graph would share every wrong rewrite with the engine and
pass it. This evaluator walks the parser's syntax tree instead, operator by operator,
with NumPy, and shares nothing with the engine but the ops' own NumPy implementations.
`Function.at` evaluates the typed function; `Function.canonical_at` the engine's graph
of it, which the verifier compares with the typed value at every point it draws
(a disagreement is an internal error, never a pass).

Values are 2-D arrays as in numeric.py: vectors (n, 1), scalars (1, 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shapes import size_value
from .syntax import Binary, Call, Name, Num, Postfix, Unary


@dataclass(frozen=True)
class Function:
    """A typed function: its syntax tree, each tree node's resolved shape, and its graph."""

    tree: object          # None for a graph built in Python (no text typed): the graph is the function
    shapes: dict          # id(tree node) -> (rows, cols), sizes named as in the graph
    expr: object          # the canonical Expr the engine built from the tree

    def __post_init__(self):
        if self.shapes is None:
            object.__setattr__(self, "shapes", {})

    def at(self, values: dict, sizes: dict) -> np.ndarray:
        if self.tree is None:
            return self.canonical_at(values, sizes)
        return evaluate_tree(self.tree, self.shapes, values, sizes)

    def canonical_at(self, values: dict, sizes: dict) -> np.ndarray:
        from .numeric import evaluate
        return evaluate(self.expr, values, sizes)

    def magnitude(self, values: dict, sizes: dict) -> float:
        """The largest finite entry of any value computed on the way (rounding is relative to it)."""
        if self.tree is None:
            from .numeric import evaluate
            return evaluate(self.expr, values, sizes, magnitude=True)
        return evaluate_tree(self.tree, self.shapes, values, sizes, magnitude=True)

    def domains(self) -> dict[str, set[str]]:
        """Where each name must lie for the function to be defined: the domains of the ops applied
        to it, as typed and in the canonical graph."""
        from .ops.base import FUNCTIONS
        from .simplify import domains
        out = domains(self.expr)
        stack = [self.tree] if self.tree is not None else []
        while stack:
            node = stack.pop()
            kids = _children(node)
            stack.extend(kids)
            op = FUNCTIONS.get(node.func) if isinstance(node, Call) else None
            for arg, dom in zip(kids, getattr(op, "domain", ())):
                if dom is not None and isinstance(arg, Name):
                    out.setdefault(arg.id, set()).add(dom)
        return out


def _children(node) -> tuple:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, (Unary, Postfix)):
        return (node.operand,)
    if isinstance(node, Call):      # the arguments of eye(n), ones(m, n) are sizes, not values
        return () if node.func in ("eye", "ones") or _sized(node.func) else tuple(node.args)
    return ()


def evaluate_tree(tree, shapes: dict, values: dict, sizes: dict, magnitude: bool = False):
    """The value of the syntax tree; values are 2-D arrays by name, sizes the numbers of size names.
    With magnitude=True: the largest finite entry of any node's value instead.

    Iterative (a sum of 5,000 terms is a tree 5,000 deep). Undefined operations give nan, as
    NumPy does: (-8)^(1/3), log of a negative number, the inverse of a singular matrix."""
    if hasattr(sizes, "charge"):        # the numeric check's budget (verify.CheckSizes)
        sizes.charge(len(shapes))
    memo: dict[int, np.ndarray] = {}
    largest = 0.0
    stack = [(tree, False)]
    with np.errstate(all="ignore"):
        while stack:
            node, ready = stack.pop()
            if id(node) in memo:
                continue
            kids = _children(node)
            if not ready and kids:
                stack.append((node, True))
                stack.extend((k, False) for k in reversed(kids) if id(k) not in memo)
                continue
            dims = [size_value(d, sizes) for d in shapes[id(node)]]
            value = memo[id(node)] = np.asarray(_eval(node, [memo[id(k)] for k in kids], dims, values, sizes), float)
            if magnitude:
                finite = np.abs(value[np.isfinite(value)])
                largest = max(largest, float(finite.max(initial=0.0)))
    return largest if magnitude else memo[id(tree)]


def _eval(node, args, dims, values, sizes):
    if isinstance(node, Num):
        return np.array([[float(node.value)]])
    if isinstance(node, Name):
        return np.eye(dims[0]) if node.id == "I" else values[node.id]
    if isinstance(node, Unary):
        return -args[0]
    if isinstance(node, Postfix):
        return args[0].T
    if isinstance(node, Call):
        if _sized(node.func):       # commutation(m, n): its arguments are sizes
            return _call(node.func, [int(a.value) if isinstance(a, Num) else sizes[a.id] for a in node.args], dims)
        return _call(node.func, args, dims)
    return _binary(node.op, args[0], args[1])


def _scalar(a) -> bool:
    return a.shape == (1, 1)


def _binary(op, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op in ("*", "@"):
        return a * b if _scalar(a) or _scalar(b) else a @ b
    if op in ("/", "./"):
        return a / b
    if op == ".*":
        return a * b
    p = float(b[0, 0])          # ^, ** and .^: the exponent is a number (the typer checked)
    if op == ".^" or _scalar(a):
        return np.power(a, p)
    return _matrix_power(a, int(p))


def _matrix_power(a, k):
    try:
        return np.linalg.matrix_power(a, k)
    except np.linalg.LinAlgError:       # a negative power of a singular matrix
        return np.full(a.shape, np.nan)


def _sized(name) -> bool:
    from .ops.base import FUNCTIONS
    return getattr(FUNCTIONS.get(name), "sized", False)


def _call(name, args, dims):
    """A function of the language: eye and ones make matrices of their sizes; every other one is
    an op, computed by its own NumPy implementation (its spec's `np`)."""
    if name == "eye":
        return np.eye(dims[0])
    if name == "ones":
        return np.ones(dims)
    from .ops.base import FUNCTIONS
    try:
        return FUNCTIONS[name].np(*args)
    except np.linalg.LinAlgError:        # a singular matrix: not defined here
        return np.full(dims, np.nan)
