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

import numpy as np

from .shapes import size_value
from .syntax import Binary, Call, Name, Num, Postfix, Unary


class Function:
    """A typed function: its syntax tree, each tree node's resolved shape, and its graph. (A plain
    class, not a dataclass: the decorator's code generation costs start-up time.)"""

    __slots__ = ("tree", "shapes", "expr", "_program")

    def __init__(self, tree, shapes: dict | None, expr):
        self.tree = tree        # None for a graph built in Python (no text typed): the graph is the function
        self.shapes = {} if shapes is None else shapes     # id(tree node) -> (rows, cols), sizes named as in the graph
        self.expr = expr        # the canonical Expr the engine built from the tree
        self._program = None    # the tree compiled (Compiled), on first evaluation

    def __repr__(self):
        return f"Function(tree={self.tree!r}, shapes={self.shapes!r}, expr={self.expr!r})"

    def at(self, values: dict, sizes: dict) -> np.ndarray:
        if self.tree is None:
            return self.canonical_at(values, sizes)
        return self._compiled().run(values, sizes)

    def _compiled(self) -> "Compiled":
        """The tree compiled once for this Function (a check evaluates it hundreds of times)."""
        if self._program is None:
            self._program = Compiled(self.tree, self.shapes)
        return self._program

    def canonical_at(self, values: dict, sizes: dict) -> np.ndarray:
        from .numeric import evaluate
        return evaluate(self.expr, values, sizes)

    def magnitude(self, values: dict, sizes: dict) -> float:
        """The largest finite entry of any value computed on the way (rounding is relative to it)."""
        if self.tree is None:
            from .numeric import evaluate
            return evaluate(self.expr, values, sizes, magnitude=True)
        return self._compiled().run(values, sizes, magnitude=True)

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


def _postorder(tree) -> list:
    """The tree's distinct nodes (by identity), each after its children. Iterative: a sum of 5,000
    terms is a tree 5,000 deep."""
    order, seen = [], set()
    stack = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in seen:
            continue
        kids = _children(node)
        if not ready and kids:
            stack.append((node, True))
            stack.extend((k, False) for k in reversed(kids) if id(k) not in seen)
            continue
        seen.add(id(node))
        order.append(node)
    return order


def evaluate_tree(tree, shapes: dict, values: dict, sizes: dict, magnitude: bool = False):
    """The value of the syntax tree; values are 2-D arrays by name, sizes the numbers of size names.
    With magnitude=True: the largest finite entry of any node's value instead.

    Iterative (a sum of 5,000 terms is a tree 5,000 deep). Undefined operations give nan, as
    NumPy does: (-8)^(1/3), log of a negative number, the inverse of a singular matrix."""
    if hasattr(sizes, "charge"):        # the numeric check's budget (verify.CheckSizes)
        sizes.charge(len(shapes))
    memo: dict[int, np.ndarray] = {}
    largest = 0.0
    with np.errstate(all="ignore"):
        for node in _postorder(tree):
            kids = _children(node)
            dims = [size_value(d, sizes) for d in shapes[id(node)]]
            value = memo[id(node)] = np.asarray(_eval(node, [memo[id(k)] for k in kids], dims, values, sizes), float)
            if magnitude:
                finite = np.abs(value[np.isfinite(value)])
                largest = max(largest, float(finite.max(initial=0.0)))
    return largest if magnitude else memo[id(tree)]


class Compiled:
    """The syntax tree compiled to a flat list of steps in postorder, one a distinct tree node: the
    same operations as evaluate_tree (the same NumPy calls on the same values, in the same order), without
    its walk. Each step is a closure reading its arguments from the values of earlier steps by index.
    The nodes' sizes are resolved once per set of sizes (a check draws its sizes once), not per node and
    evaluation. Compiled without recursion: a sum of 5,000 terms is a tree 5,000 deep."""

    __slots__ = ("steps", "count", "names", "nodes", "dims", "key")

    def __init__(self, tree, shapes: dict):
        from .ops.base import FUNCTIONS
        self.count = len(shapes)        # what evaluate_tree charges the check's budget
        order = _postorder(tree)
        index = {id(node): i for i, node in enumerate(order)}      # id(node) -> its step
        self.nodes = [(node, shapes[id(node)]) for node in order]
        names = {n for _, shape in self.nodes for d in shape for n in _size_names(d)}
        for node in order:      # commutation(m, n): its arguments are size names
            if isinstance(node, Call) and _sized(node.func):
                names |= {a.id for a in node.args if not isinstance(a, Num)}
        self.names = tuple(sorted(names))
        self.key = None
        self.dims: list = [None] * len(order)       # each step's (rows, cols) for the current sizes
        dims = self.dims
        steps = []
        for node in order:
            i = len(steps)
            args = tuple(index[id(k)] for k in _children(node))
            steps.append(_step(node, i, args, dims, FUNCTIONS))
        self.steps = steps

    def _resolve(self, sizes):
        key = tuple(sizes[n] for n in self.names)
        if key != self.key:
            self.dims[:] = [[size_value(d, sizes) for d in shape] for _, shape in self.nodes]
            self.key = key

    def run(self, values: dict, sizes: dict, magnitude: bool = False):
        """evaluate_tree(tree, shapes, values, sizes, magnitude), computed by the compiled steps."""
        if hasattr(sizes, "charge"):        # the numeric check's budget (verify.CheckSizes)
            sizes.charge(self.count)
        self._resolve(sizes)
        out = []
        put = out.append
        with np.errstate(all="ignore"):
            if not magnitude:
                for step in self.steps:
                    put(step(out, values, sizes))
                return out[-1]
            largest = 0.0
            isfinite, absolute = np.isfinite, np.abs
            for step in self.steps:
                value = step(out, values, sizes)
                put(value)
                finite = absolute(value[isfinite(value)])
                largest = max(largest, float(finite.max(initial=0.0)))
            return largest


def _size_names(d):
    from .shapes import size_names
    return size_names(d)


def _step(node, i, args, dims, FUNCTIONS):
    """The closure computing one node: (values of earlier steps, values by name, sizes) -> its value,
    as _eval and np.asarray(·, float) compute it."""
    asarray = np.asarray
    if isinstance(node, Num):
        v = float(node.value)
        return lambda out, values, sizes: np.array([[v]])
    if isinstance(node, Name):
        if node.id == "I":
            return lambda out, values, sizes: np.eye(dims[i][0])
        name = node.id
        return lambda out, values, sizes: asarray(values[name], float)
    if isinstance(node, Unary):
        a, = args
        return lambda out, values, sizes: -out[a]
    if isinstance(node, Postfix):
        a, = args
        return lambda out, values, sizes: out[a].T
    if isinstance(node, Call):
        func = node.func
        if _sized(func):
            spec = [(True, int(a.value)) if isinstance(a, Num) else (False, a.id) for a in node.args]
            return lambda out, values, sizes: asarray(
                _call(func, [v if num else sizes[v] for num, v in spec], dims[i]), float)
        if func in ("eye", "ones"):
            return lambda out, values, sizes: asarray(_call(func, [out[k] for k in args], dims[i]), float)
        fn = FUNCTIONS[func].np
        LinAlgError = np.linalg.LinAlgError

        def call(out, values, sizes):
            try:
                return asarray(fn(*[out[k] for k in args]), float)
            except LinAlgError:        # a singular matrix: not defined here
                return np.full(dims[i], np.nan)
        return call
    a, b = args
    op = node.op
    if op == "+":
        return lambda out, values, sizes: out[a] + out[b]
    if op == "-":
        return lambda out, values, sizes: out[a] - out[b]
    if op in ("*", "@"):
        def product(out, values, sizes):
            x, y = out[a], out[b]
            return x * y if x.shape == (1, 1) or y.shape == (1, 1) else x @ y
        return product
    if op in ("/", "./"):
        return lambda out, values, sizes: out[a] / out[b]
    if op == ".*":
        return lambda out, values, sizes: out[a] * out[b]
    return lambda out, values, sizes: asarray(_binary(op, out[a], out[b]), float)


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
