"""The expression graph: immutable, hash-consed nodes.

Two structurally equal expressions are the same Python object, so a shared
subexpression is one node however often it is used, `is` compares
expressions, and dictionaries keyed by nodes memoise every graph walk
(derivation, evaluation, printing) in time linear in the graph's size.
Nodes are built only through the canonicalising constructors in
`algebra.py` and the op registry in `ops/`.
"""
from __future__ import annotations

import gc
import weakref
from contextlib import contextmanager
from fractions import Fraction

try:        # hashlib's own blake2b, without `import hashlib`, whose OpenSSL start-up costs ≈ 9 ms
    from _blake2 import blake2b
except ImportError:     # an interpreter without the _blake2 module: the same function through hashlib
    from hashlib import blake2b

_TABLE: "weakref.WeakValueDictionary[tuple, Expr]" = weakref.WeakValueDictionary()

# The work budget of a derivation (issue 7). A derivative can be much larger than its function
# (the product rule on a product of n factors that all depend on x gives n terms of n factors),
# so inside `with budget():` work is counted, and past MAX_WORK units the derivation stops with
# a LimitError instead of running for minutes. A unit is one argument of a node asked for
# (Expr(...), found or new: its key is hashed), one node visited by a graph walk (postorder),
# or one term or factor collected by the canonical constructors (algebra.add, mul_parts, had_parts).
# Counting work, not seconds, keeps the limit deterministic: in a fresh process an input is
# refused on every machine or on none. Measured: the largest result of the test suite takes
# 56,000 units, a 5,000-term sum 970,000 (5 s); blow-ups stop after 3 to 6 s.
MAX_WORK = 2_000_000
_budget: list | None = None     # [units left, limit] inside `with budget():`, else None


class Expr:
    __slots__ = ("op", "args", "attrs", "shape", "digest", "height", "nesting", "tree_size", "__weakref__")

    op: object          # an Op from the registry
    args: tuple         # child Exprs
    attrs: tuple        # hashable parameters (a name, a coefficient, exponents)
    shape: tuple        # resolved (rows, cols): each an int or a size name

    def __new__(cls, op, args=(), attrs=(), shape=(1, 1)):
        if _budget is not None:
            _budget[0] -= 1 + len(args)
            if _budget[0] < 0:
                _over_budget()
        key = (op.name, args, attrs, shape)
        node = _TABLE.get(key)
        if node is not None:
            return node
        node = object.__new__(cls)
        node.op, node.args, node.attrs, node.shape = op, tuple(args), tuple(attrs), tuple(shape)
        h = blake2b(repr((op.name, attrs, shape)).encode(), digest_size=8)
        for a in args:
            h.update(a.digest)
        node.digest = h.digest()
        node.height = 1 + max((a.height for a in args), default=-1)
        # depth not counting transposes: orders sums as textbooks do (Wx + b, A + Aᵀ)
        node.nesting = max((a.nesting for a in args), default=-1) + (0 if op.name == "transpose" else 1)
        node.tree_size = 1 + sum(a.tree_size for a in args) if args else 1    # nodes, were nothing shared
        _TABLE[key] = node
        return node

    # identity equality and a stable hash: nodes are interned
    def __hash__(self) -> int:
        return int.from_bytes(self.digest, "little")

    def __eq__(self, other) -> bool:
        return self is other

    def __reduce__(self):
        return (Expr, (self.op, self.args, self.attrs, self.shape))

    @property
    def key(self) -> tuple:
        """Canonical sort key: shallow before deep, then by op and name, then structure."""
        return (self.height, self.op.order, str(self.attrs[:1]) if not self.args else "", self.digest)

    @property
    def is_scalar(self) -> bool:
        return self.shape == (1, 1)

    def __repr__(self) -> str:
        return f"<Expr {self._outline(3)} : {self.shape}>"

    def _outline(self, depth: int) -> str:
        """The node's op and arguments, `depth` levels down (debugging needs no printer)."""
        if not self.args:
            return self.op.name + (f"({', '.join(str(a) for a in self.attrs)})" if self.attrs else "")
        head = self.op.name + (f"[{', '.join(str(a) for a in self.attrs)}]" if self.attrs else "")
        if depth == 0:
            return head + "(…)"
        return f"{head}({', '.join(a._outline(depth - 1) for a in self.args)})"

    def __str__(self) -> str:
        from .printing import text
        return text(self)


@contextmanager
def budget(limit: int | None = None, what: str = "the derivation"):
    """Within this block at most `limit` (default MAX_WORK) units of work may be done; past them
    a LimitError says that `what` grows too large.

    Nested blocks share the outermost budget.

    The outermost block also pauses Python's cyclic garbage collector, which it restores on the way
    out (an exception, a LimitError included): the graph is acyclic and its nodes are freed by
    reference counting, so a collection inside a derivation finds nothing, yet each full one walks
    every live node, so their cost grew faster than the graph (5 % of a 5,000-term sum's
    derivation). A derivation leaves a handful of cyclic objects whatever its size (tests/
    test_limits.py checks it), which the collector takes once it runs again.
    """
    global _budget
    if _budget is not None:
        yield
        return
    limit = MAX_WORK if limit is None else limit
    _budget = [limit, limit, what]
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _budget = None
        if collecting:
            gc.enable()


def charge(units: int):
    """Count work against the budget (a no-op outside `with budget():`)."""
    if _budget is not None:
        _budget[0] -= units
        if _budget[0] < 0:
            _over_budget()


def _over_budget():
    from .errors import LimitError
    limit, what = _budget[1], _budget[2]
    _budget[0] = 0
    raise LimitError(f"{what} grows too large: it was stopped after {limit:,} steps of work",
                     hint="the result would be huge: differentiate a smaller part, or use vjp/jvp, "
                          "which never form a Jacobian")


def free_leaves(e: Expr) -> frozenset:
    """The named leaves (variables) an expression depends on: one walk, nothing kept per node."""
    return frozenset(n for n in postorder(e, stop=_never) if n.op.name == "sym")


def _never(node) -> bool:        # a stop that stops nothing: the walk is not counted as derivation work
    return False


class Depends:
    """`depends(e)`: does e contain `leaf`? Memoised per node while this object lives (one derivation).

    One bool per node: memory linear in the graph, where a set of leaves kept on every node grows
    with its depth times its width (121 MB of sets for a 12,000-node result). A walk never
    re-enters a node it knows, so all queries together are linear in the nodes they reach.
    """
    __slots__ = ("memo",)

    def __init__(self, leaf: Expr):
        self.memo = {leaf: True}

    def __call__(self, e: Expr) -> bool:
        memo = self.memo
        got = memo.get(e)
        if got is None:
            for node in postorder(e, stop=memo.__contains__):
                if node not in memo:
                    memo[node] = any(memo[a] for a in node.args)
            got = memo[e]
        return got


_NONE: frozenset = frozenset()


class Leaves:
    """`leaves(e)`: the leaves of e that `is_leaf` accepts, memoised per node while this object lives.

    For leaves that occur in a small part of the graph (the tangents of the differentials): every
    other node shares the one empty set, and a node whose arguments bring the same set shares it.
    One question answers for all such leaves at once: asking for each of n tangents in turn of a
    differential with n terms would walk it n times.
    """
    __slots__ = ("is_leaf", "memo")

    def __init__(self, is_leaf):
        self.is_leaf, self.memo = is_leaf, {}

    def __call__(self, e: Expr) -> frozenset:
        memo = self.memo
        got = memo.get(e)
        if got is None:
            for node in postorder(e, stop=memo.__contains__):
                if node in memo:
                    continue
                if not node.args:
                    memo[node] = frozenset([node]) if self.is_leaf(node) else _NONE
                    continue
                sets = {id(s): s for s in (memo[a] for a in node.args) if s}
                memo[node] = _NONE if not sets else next(iter(sets.values())) if len(sets) == 1 \
                    else frozenset().union(*sets.values())
            got = memo[e]
        return got


def postorder(root: Expr, stop=None) -> list[Expr]:
    """Every node of the DAG once, children before parents (iterative: deep graphs are fine).

    `stop(node)` true: the node is listed but its arguments are not visited.
    """
    seen: set[int] = set()
    out: list[Expr] = []
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if stop is not None and node is not root and stop(node):
            continue
        for a in reversed(node.args):
            if id(a) not in seen:
                stack.append((a, False))
    if _budget is not None and stop is None:    # (a memoised walk is paid for by the nodes it knows)
        _budget[0] -= len(out)
        if _budget[0] < 0:
            _over_budget()
    return out


def frac(x) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(x)
