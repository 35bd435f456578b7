"""Symbolic shapes and their inference by unification.

A shape is a pair (rows, cols). A column vector is (n, 1), a scalar (1, 1),
a row vector (1, n). Sizes are symbolic: while typing they are `Dim`
variables in a union-find; once typing is done every class gets a name
(m, n, k, ...) or a number. A symbolic size never unifies with 1, so a
vector can never pass for a matrix nor a scalar for a vector.

A size may also be a product (`vec(X)` of an m×n X has mn entries, `kron` multiplies
sizes): a monomial of size names. While typing it is a `Mono` (a number times size
variables); once named, a `Product` (a number times names with powers, printed mn, m², 2n).
Resolved sizes are thus an int, a size name (str) or a Product; `size_value` gives the
number of any of them from the numbers of the names.
"""
from __future__ import annotations

from .errors import ShapeError

_LETTERS = ["m", "n", "k", "p", "q", "r", "s", "t", "u", "w", "l", "j"]


class Dim:
    """A size variable. `name` is set for sizes the user named (matrix(m,n), ones(n))."""

    __slots__ = ("parent", "value", "name", "order")

    def __init__(self, order: int, name: str | None = None):
        self.parent: Dim | None = None
        self.value: int | Mono | None = None   # bound to a number (a declaration) or a product
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


class Mono:
    """A product of sizes while typing: coeff × Π dims (size variables, repeated for powers)."""

    __slots__ = ("coeff", "dims")

    def __init__(self, coeff: int, dims: tuple):
        self.coeff, self.dims = coeff, tuple(dims)


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
        """The representative of a size: an int, a root Dim or a Mono of root Dims (sorted)."""
        if isinstance(d, int):
            return d
        if isinstance(d, Mono):
            return self.mul(*d.dims, d.coeff)
        root = d.find()
        if isinstance(root.value, Mono):
            return self.size(root.value)
        return root.value if root.value is not None else root

    def mul(self, *sizes):
        """The product of sizes: an int, a root Dim, or a Mono."""
        coeff, dims = 1, []
        for d in sizes:
            d = self.size(d)
            if isinstance(d, int):
                coeff *= d
            elif isinstance(d, Mono):
                coeff *= d.coeff
                dims += d.dims
            else:
                dims.append(d)
        if not dims:
            return coeff
        if coeff == 1 and len(dims) == 1:
            return dims[0]
        return Mono(coeff, sorted(dims, key=lambda x: x.order))

    def _product_plan(self, a, b):
        """How to make two sizes, one of them a product, equal: None (they clash), () (they are),
        or (dim, size): bind a free unnamed dim to size (n = pq). Common factors cancel first
        (mn = mk gives n = k); what is left must be one free size on a side, else it is refused:
        mn = pq has no unique solution."""
        def parts(d):
            return (d, []) if isinstance(d, int) else (d.coeff, list(d.dims)) if isinstance(d, Mono) else (1, [d])
        (ca, ra), (cb, rb) = parts(self.size(a)), parts(self.size(b))
        for d in list(ra):
            if d in rb:
                ra.remove(d)
                rb.remove(d)
        if not ra and not rb:
            return () if ca == cb else None
        for (c1, r1), (c2, r2) in (((ca, ra), (cb, rb)), ((cb, rb), (ca, ra))):
            if c1 == 1 and len(r1) == 1 and r1[0].name is None and (r2 or c2 != 1):
                other = self.mul(c2, *r2)
                if not isinstance(other, int) or other != 1:
                    return (r1[0], other)
        # x^k = y^k gives x = y (sizes are positive whole numbers)
        if ca == cb and len(ra) == len(rb) and len(set(ra)) == 1 and len(set(rb)) == 1 \
                and (ra[0].name is None or rb[0].name is None):
            return (ra[0], rb[0])
        return None

    def eq(self, a, b) -> bool:
        """Unify two sizes; return False (without changing anything) when they clash."""
        a, b = self.size(a), self.size(b)
        if isinstance(a, Mono) or isinstance(b, Mono):
            plan = self._product_plan(a, b)
            if plan:
                dim, value = plan
                if isinstance(value, Dim):
                    return self.eq(dim, value)
                dim.value = value
            return plan is not None
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
        if isinstance(a, Mono) or isinstance(b, Mono):
            return self._product_plan(a, b) is not None
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
        if isinstance(d, Mono):
            for f in d.dims:
                self.resolve(f)
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
        if isinstance(d, Mono):
            return size_product(d.coeff, *(self.name(f) for f in d.dims))
        return d.name if d.name is not None else self.names[id(d)]


# ------------------------------------------------------------ resolved sizes

class Product:
    """A resolved size that is a product: coeff × Π name^power (mn, m², 2n). Built by size_product
    only, which returns an int or a name instead when there is no product."""

    __slots__ = ("coeff", "powers")

    def __init__(self, coeff: int, powers: tuple):
        self.coeff, self.powers = coeff, powers      # powers: ((name, exponent), ...) sorted by name

    def __eq__(self, other):
        return isinstance(other, Product) and (self.coeff, self.powers) == (other.coeff, other.powers)

    def __hash__(self):
        return hash((self.coeff, self.powers))

    def __str__(self):
        sep = "" if all(len(n) == 1 for n, _ in self.powers) else "·"
        body = sep.join(n + (str(e).translate(_SUPERSCRIPT) if e != 1 else "") for n, e in self.powers)
        return (f"{self.coeff}" if self.coeff != 1 else "") + body

    def __repr__(self):
        return f"Product({self})"


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def size_product(*sizes):
    """The product of resolved sizes (ints, names, Products): an int, a name or a Product."""
    coeff, powers = 1, {}
    for d in sizes:
        if isinstance(d, int):
            coeff *= d
        elif isinstance(d, Product):
            coeff *= d.coeff
            for n, e in d.powers:
                powers[n] = powers.get(n, 0) + e
        else:
            powers[d] = powers.get(d, 0) + 1
    if not powers:
        return coeff
    if coeff == 1 and len(powers) == 1 and next(iter(powers.values())) == 1:
        return next(iter(powers))
    return Product(coeff, tuple(sorted(powers.items())))


def size_names(d) -> tuple:
    """The size names a resolved size is made of."""
    if isinstance(d, int):
        return ()
    return tuple(n for n, _ in d.powers) if isinstance(d, Product) else (d,)


def size_value(d, sizes) -> int:
    """The number a resolved size stands for, given the numbers of the size names."""
    if isinstance(d, int):
        return d
    if isinstance(d, Product):
        out = d.coeff
        for n, e in d.powers:
            out *= sizes[n] ** e
        return out
    return sizes[d]


def size_code(d, code) -> str:
    """A size as code, where code(name) is the code of a size name: 3, n, (m * n)."""
    if isinstance(d, int):
        return str(d)
    if isinstance(d, Product):
        factors = ([str(d.coeff)] if d.coeff != 1 else []) + [code(n) for n, e in d.powers for _ in range(e)]
        return "(" + " * ".join(factors) + ")"
    return code(d)


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

