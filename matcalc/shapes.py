"""Symbolic shapes and their inference by unification.

A shape is a pair (rows, cols). A column vector is (n, 1), a scalar (1, 1),
a row vector (1, n). Sizes are symbolic: while typing they are `Dim`
variables in a union-find; once typing is done every class gets a name
(m, n, k, ...) or a number. A symbolic size never unifies with 1, so a
vector can never pass for a matrix nor a scalar for a vector.
"""
from __future__ import annotations

from .errors import ShapeError

_LETTERS = ["m", "n", "k", "p", "q", "r", "s", "t", "u", "w", "l", "j"]


class Dim:
    """A size variable. `name` is set for sizes the user named (matrix(m,n), ones(n))."""

    __slots__ = ("parent", "value", "name", "order")

    def __init__(self, order: int, name: str | None = None):
        self.parent: Dim | None = None
        self.value: int | None = None   # bound to a number by a declaration
        self.name = name
        self.order = order

    def find(self) -> "Dim":
        root = self
        while root.parent is not None:
            root = root.parent
        node = self
        while node.parent is not None:   # path compression
            node.parent, node = root, node.parent
        return root


class Unifier:
    """Equates sizes while an expression is typed; raises ShapeError on a clash."""

    def __init__(self):
        self.count = 0
        self.named: dict[str, Dim] = {}

    def fresh(self, name: str | None = None) -> Dim:
        if name is not None:
            if name not in self.named:
                self.named[name] = Dim(self.count, name)
                self.count += 1
            return self.named[name]
        self.count += 1
        return Dim(self.count - 1)

    def size(self, d):
        """The representative of a size: an int or a root Dim."""
        if isinstance(d, int):
            return d
        root = d.find()
        return root.value if root.value is not None else root

    def eq(self, a, b) -> bool:
        """Unify two sizes; return False (without changing anything) when they clash."""
        a, b = self.size(a), self.size(b)
        if a is b or (isinstance(a, int) and isinstance(b, int) and a == b):
            return True
        if isinstance(a, int) and isinstance(b, int):
            return False
        if isinstance(a, int):
            a, b = b, a
        if isinstance(b, int):      # a is a Dim
            if b == 1:
                return False        # a symbolic size is never 1
            a.value = b
            return True
        if a.name is not None and b.name is not None and a.name != b.name:
            return False            # two sizes the user named differently
        keep, drop = (a, b) if (a.name is not None or (b.name is None and a.order <= b.order)) else (b, a)
        drop.parent = keep
        return True

    def compatible(self, a, b) -> bool:
        a, b = self.size(a), self.size(b)
        if a is b:
            return True
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if isinstance(a, int) or isinstance(b, int):
            return (a if isinstance(a, int) else b) != 1
        return a.name is None or b.name is None or a.name == b.name

    def shape_eq(self, s, t) -> bool:
        """Unify two shapes, or change nothing and return False."""
        if not (self.compatible(s[0], t[0]) and self.compatible(s[1], t[1])):
            return False
        return self.eq(s[0], t[0]) and self.eq(s[1], t[1])

    def describe(self, shape) -> str:
        return describe_shape(tuple(self.show(d) if hasattr(self, "show") else d for d in shape))

    # ---------------------------------------------------------- naming

    def namer(self) -> "Namer":
        return Namer(self)


class Namer:
    """Gives every size class a printable name: the user's, or m, n, k, ... by first use."""

    def __init__(self, unifier: Unifier):
        self.u = unifier
        self.names: dict[int, str] = {}
        self.taken = set(unifier.named)
        self.pending: list[Dim] = []

    def resolve(self, d):
        d = self.u.size(d)
        if isinstance(d, int):
            return d
        if d.name is not None:
            return d.name
        key = id(d)
        if key not in self.names:
            self.names[key] = None
            self.pending.append(d)
        return d

    def finish(self, total_classes: int):
        """Assign letters to the pending classes in order of first appearance."""
        letters = [c for c in (["n"] if total_classes == 1 else _LETTERS) if c not in self.taken]
        # then d1, d2, ...: as many as needed (a product of 2,000 matrices has 2,001 sizes)
        letters += [f"d{i}" for i in range(1, len(self.pending) + len(self.taken) + 1)
                    if f"d{i}" not in self.taken]
        for d in sorted(self.pending, key=lambda d: d.order):
            self.names[id(d)] = letters.pop(0)
        self.pending.clear()

    def name(self, d):
        d = self.u.size(d)
        if isinstance(d, int):
            return d
        return d.name if d.name is not None else self.names[id(d)]


# ------------------------------------------------------------ resolved shapes

SCALAR = (1, 1)


def is_scalar(shape) -> bool:
    return shape[0] == 1 and shape[1] == 1


def is_column(shape) -> bool:
    return shape[1] == 1 and shape[0] != 1


def is_row(shape) -> bool:
    return shape[0] == 1 and shape[1] != 1


def is_vector(shape) -> bool:
    return is_column(shape) or is_row(shape)


def describe_shape(shape) -> str:
    """'a scalar', 'a vector of size n', 'a 1×n row vector', 'an m×n matrix'."""
    r, c = shape
    if r == 1 and c == 1:
        return "a scalar"
    if c == 1:
        return f"a vector of size {r}"
    if r == 1:
        return f"a 1×{c} row vector"
    return f"an {r}×{c} matrix" if str(r)[0] in "mnaeiosfhlrx8" else f"a {r}×{c} matrix"


def fmt_shape(shape) -> str:
    """n for a column vector, 1×n for a row, m×n for a matrix, 'scalar' for 1×1."""
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return f"{r}"
    return f"{r}×{c}"

