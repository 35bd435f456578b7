"""From syntax tree to typed expression graph.

Pass 1 infers every node's shape with symbolic sizes (unification), raising
a ShapeError that points at the operator or call at fault. Pass 2 names the
sizes (m, n, ...) and builds the canonical graph through the constructors.
"""
from __future__ import annotations

import re
from fractions import Fraction

from . import algebra as alg
from .errors import LimitError, MatcalcError, ParseError, ShapeError, UnsupportedError
from .ops.base import FUNCTIONS
from .record import factory, record
from .shapes import SCALAR, Dim, Mono, Namer, Unifier, fmt_shape, size_product
from .syntax import Binary, Call, Name, Num, Postfix, Unary, habit_hint, parse_syntax

KINDS = ("scalar", "vector", "matrix", "symmetric", "spd", "diagonal", "probability", "onehot")
# entries ≥ 0 summing to 1 / one-hot; a vector, or a matrix whose rows are such (rank from the name)
DISTRIBUTIONS = ("probability", "onehot")
GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "kappa", "lambda", "mu", "nu", "rho",
         "sigma", "tau", "omega", "theta", "phi", "psi", "xi", "zeta", "chi", "pi",
         "eps"}     # eps: the ε of layernorm(x, eps), as papers and frameworks name it
RESERVED = {"I", "eye", "ones"}
MAX_MATRIX_POWER = alg.MAX_MATRIX_POWER
MAX_DECLARED_SIZE = 10 ** 6
# a declared size: a name, a number, or the size of another variable (rows(X), cols(X), len(x))
_SIZE = r"[A-Za-z0-9_]+|(?:len|rows|cols)\(\s*[A-Za-z][A-Za-z0-9_]*\s*\)"
_SIZE_OF = re.compile(r"(len|rows|cols)\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)")
_DECL = re.compile(r"^\s*(scalar|vector|matrix|symmetric|spd|diagonal|probability|onehot)\s*(?:\(\s*(" + _SIZE + r")\s*"
                   r"(?:,\s*(" + _SIZE + r")\s*)?\))?\s*$")

_MAX_SIZE_POWER = 8      # n^8 entries is already more than any machine holds


@record(frozen=True)
class Decl:
    kind: str
    sizes: tuple = ()


def default_kind(name: str) -> str:
    if name in GREEK:          # lowercase Greek names only: Sigma is a matrix
        return "scalar"
    return "matrix" if name[0].isupper() else "vector"


def parse_decl(name: str, text: str) -> Decl:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name or ""):
        raise MatcalcError(f"cannot declare {name!r}: a name is a letter followed by letters, digits or _")
    m = _DECL.match(text or "")
    if not m:
        raise MatcalcError(f"unknown kind {text!r} for {name}",
                           hint="kinds: " + ", ".join(KINDS) + "; with sizes: matrix(m,n), vector(n), spd(n)")
    kind, a, b = m.groups()
    sizes = tuple(int(s) if s.isdigit() else re.sub(r"\s", "", s) for s in (a, b) if s is not None)
    if kind in DISTRIBUTIONS and default_kind(name) == "scalar":
        raise MatcalcError(f"{name} cannot be {kind}: a {kind} is a vector or a matrix (of rows), and "
                           f"{name} is a scalar name", hint="use a lowercase name (y) or an uppercase one (Y)")
    want = {"scalar": 0, "vector": 1, "matrix": 2}.get(kind if kind not in DISTRIBUTIONS else default_kind(name), 1)
    if sizes and len(sizes) != want:
        raise MatcalcError(f"{kind} takes {want} size{'s' if want != 1 else ''}, got {len(sizes)} in {text!r}")
    if any(isinstance(s, int) and s < 1 for s in sizes):
        raise MatcalcError(f"sizes must be positive in {text!r}")
    if any(isinstance(s, int) and s > MAX_DECLARED_SIZE for s in sizes):    # (was exit 3 at 10²²)
        raise LimitError(f"a declared size is at most {MAX_DECLARED_SIZE:,}, in {text!r}")
    return Decl(kind, sizes)


def parse_lets(items) -> dict[str, Decl]:
    """'S:spd,t:scalar' strings (CLI) or {'S': 'spd'} mappings (API) -> declarations."""
    out: dict[str, Decl] = {}
    if items is None:
        return out
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        if isinstance(items, str):
            items = [items]
        pairs = []
        for item in items:
            for part in _top_level_parts(item):
                if not part.strip():
                    continue
                if ":" not in part:
                    raise MatcalcError(f"cannot read the declaration {part.strip()!r}",
                                       hint="write NAME:KIND, for example --let S:spd or --let 'A:matrix(m,n)'")
                n, k = part.split(":", 1)
                pairs.append((n.strip(), k.strip()))
    for n, k in pairs:
        out[n] = k if isinstance(k, Decl) else parse_decl(n, str(k))
    return out


def _top_level_parts(item: str) -> list[str]:
    """'S:spd,A:matrix(rows(X),n)' -> the declarations, split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(item):
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            parts.append(item[start:i])
            start = i + 1
    return parts + [item[start:]]


@record
class Symbol:
    name: str
    kind: str
    shape: tuple            # Dim shape during typing, resolved after
    first: int = 0          # position of first use


class _Unify(Unifier):
    """The typing unifier, with a shape formatter for messages."""

    def fmt(self, shape) -> str:
        return fmt_shape(tuple(self.show(d) for d in shape))

    def show(self, d):
        d = self.size(d)
        if isinstance(d, int):
            return d
        if isinstance(d, Mono):
            return size_product(d.coeff, *(self.show(f) for f in d.dims))
        return d.name if d.name is not None else _provisional(self, d)


def _provisional(u, d):
    # name sizes in messages as they will be named in the answer
    roots = sorted({id(x.find()): x.find() for x in u.all if x.find().value is None and x.find().name is None}
                   .values(), key=lambda r: r.order)
    from .shapes import _LETTERS
    letters = [c for c in (["n"] if len(roots) == 1 else _LETTERS) if c not in u.named]
    idx = [r is d for r in roots].index(True) if d in roots else 0
    return letters[idx] if idx < len(letters) else f"d{idx}"


@record
class Typed:
    """A parsed and typed expression: the graph plus its symbol table, and the syntax tree with
    every tree node's shape (the judge evaluates the function as typed from them: judge.py)."""
    source: str
    expr: object
    symbols: dict[str, Symbol] = factory(dict)
    tree: object = None
    tree_shapes: dict = factory(dict)

    @property
    def shape(self):
        return self.expr.shape

    @property
    def function(self):
        from .judge import Function
        return Function(self.tree, self.tree_shapes, self.expr)


class Typer:
    def __init__(self, text: str, lets: dict[str, Decl]):
        self.text = text
        self.lets = lets
        self.u = _Unify()
        self.u.all = []
        self.symbols: dict[str, Symbol] = {}
        self.shapes: dict[int, tuple] = {}
        self.built: dict[int, object] = {}      # syntax node id -> graph node (pass 2)
        self.sizes_of: list = []                # (size, "rows(X)"): declared as another variable's size
        self.call_sizes: dict[int, list] = {}   # a call's size arguments (eye, ones, commutation)

    # ------------------------------------------------------------ helpers
    def fresh(self, name=None):
        d = self.u.fresh(name)
        self.u.all.append(d)
        return d

    def size(self, s):
        if not isinstance(s, str):
            return s
        if _SIZE_OF.fullmatch(s):       # rows(X): a size of its own, equated with X's once all is typed
            d = self.fresh()
            self.sizes_of.append((d, s))
            return d
        return self.fresh(s)

    def equate_declared_sizes(self):
        """A declared size written as the size of another variable (A:matrix(rows(X),n)) is that size."""
        for d, written in self.sizes_of:
            func, name = _SIZE_OF.fullmatch(written).groups()
            sym = self.symbols.get(name)
            if sym is None:
                raise MatcalcError(f"the declared size {written} names {name}, which is not in the expression")
            try:
                FUNCTIONS[func].infer([sym.shape], self.u)      # len of a matrix is an error
                size = FUNCTIONS[func].size_of(sym.shape)
            except ShapeError as err:
                raise MatcalcError(f"the declared size {written}: {err.message}", hint=err.hint) from None
            if not self.u.eq(d, size):
                raise ShapeError(f"the declared size {written} is {self.u.show(size)}, but the expression makes "
                                 f"it {self.u.show(d)}")

    def desc(self, node) -> str:
        src = self.text[node.span[0]:node.span[1]].strip()
        if len(src) > 24:
            src = src[:21] + "..."
        shape = self.u.fmt(self.shapes[id(node)])
        return f"{src} ({shape})" if shape != "scalar" else f"{src} (scalar)"

    def fail(self, message, span, hint=None, cls=ShapeError):
        if cls is ShapeError:
            # mu, beta, theta are vectors in statistics: the likeliest fault is the default kind
            greek = [n for n, s in self.symbols.items() if n in GREEK and s.kind == "scalar" and n not in self.lets
                     and re.search(rf"\b{n}\b", message)]
            if greek:
                hint = f"{greek[0]} is a scalar (Greek names are, unless declared): --let {greek[0]}:vector " \
                       f"makes it a vector" + (f"; or {hint}" if hint else "")
        raise cls(message, span, hint, self.text)

    def symbol(self, node: Name) -> Symbol:
        sym = self.symbols.get(node.id)
        if sym is not None:
            return sym
        decl = self.lets.get(node.id)
        kind = decl.kind if decl else default_kind(node.id)
        sizes = [self.size(s) for s in (decl.sizes if decl else ())]
        rank = default_kind(node.id) if kind in DISTRIBUTIONS else kind
        if rank == "scalar":
            shape = SCALAR
        elif rank == "vector":
            shape = (sizes[0] if sizes else self.fresh(), 1)
        elif rank == "matrix":
            shape = tuple(sizes) if sizes else (self.fresh(), self.fresh())
        else:   # symmetric, spd, diagonal: square
            n = sizes[0] if sizes else self.fresh()
            shape = (n, n)
        sym = Symbol(node.id, kind, shape, node.span[0])
        self.symbols[node.id] = sym
        return sym

    # ------------------------------------------------------------ pass 1: shapes
    def infer(self, node):
        got = self.shapes.get(id(node))
        if got is not None:
            return got
        # A left-associative chain (x + x + ... + x, or x followed by many transposes) is as deep
        # as it is long, but the parser builds it with a loop: type its left spine bottom-up with
        # a loop too, so a long chain needs no recursion (issue 7: RecursionError on long sums).
        for n in reversed(_left_spine(node)):
            self.shapes[id(n)] = self._infer(n)
        s = self._infer(node)
        self.shapes[id(node)] = s
        return s

    def _infer(self, node):
        u = self.u
        if isinstance(node, Num):
            return SCALAR
        if isinstance(node, Name):
            if node.id == "I":
                n = self.fresh()
                return (n, n)
            if node.id in ("eye", "ones"):
                self.fail(f"{node.id} needs a size: write {node.id}(n)", node.span, cls=ParseError)
            return self.symbol(node).shape
        if isinstance(node, Unary):
            return self.infer(node.operand)
        if isinstance(node, Postfix):
            s = self.infer(node.operand)
            return (s[1], s[0])
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        raise AssertionError(node)

    def _binary(self, node: Binary):
        u, op = self.u, node.op
        a, b = self.infer(node.left), self.infer(node.right)
        sa, sb = a == SCALAR, b == SCALAR
        if op in ("+", "-"):
            if sa != sb:
                self.fail(f"cannot {'add' if op == '+' else 'subtract'} {self.desc(node.left)} and "
                          f"{self.desc(node.right)}: a scalar and a {'vector or matrix'}",
                          node.op_span, "there is no broadcasting: write s*ones(n) or s*eye(n)")
            if not u.shape_eq(a, b):
                self.fail(f"cannot {'add' if op == '+' else 'subtract'} {self.desc(node.left)} and "
                          f"{self.desc(node.right)}: the shapes differ", node.op_span, self._broadcast_hint(node, a, b))
            return a
        if op in ("*", "@"):
            if sa or sb:
                return b if sa else a
            if not u.eq(a[1], b[0]):
                hint, why = None, f"inner sizes {u.show(a[1])} and {u.show(b[0])} differ"
                if any(isinstance(u.size(d), Mono) for d in (a[1], b[0])):
                    hint = "a product of sizes (mn) matches another only where the factors say how " \
                           "(mn = mk gives n = k): declare the sizes, as in --let 'X:matrix(m,n)'"
                if a[1] == 1 and b[1] == 1:
                    l_, r_ = self.src(node.left), self.src(node.right)
                    why = "both are column vectors"
                    hint = f"for the inner product write {l_}'*{r_}, for the elementwise product {l_}.*{r_}"
                self.fail(f"cannot multiply {self.desc(node.left)} by {self.desc(node.right)}: {why}",
                          node.op_span, hint)
            return (a[0], b[1])
        if op == "/":
            if not sb:
                self.fail(f"cannot divide by {self.desc(node.right)}: '/' divides by a scalar only",
                          node.op_span, "use ./ for elementwise division or inv(B) for a matrix inverse")
            return a
        if op in (".*", "./"):
            if sa or sb:
                return b if sa else a
            if not u.shape_eq(a, b):
                self.fail(f"elementwise {'product' if op == '.*' else 'division'} of {self.desc(node.left)} and "
                          f"{self.desc(node.right)}: the shapes differ", node.op_span)
            return a
        if op in ("**", "^", ".^"):
            if not sb:
                self.fail(f"the exponent {self.desc(node.right)} must be a number", node.right.span,
                          cls=UnsupportedError)
            if op == ".^" or sa:
                return a
            if a[1] == 1 or a[0] == 1:
                name = self.src(node.left)
                self.fail(f"cannot raise the vector {self.desc(node.left)} to a power", node.op_span,
                          f"for its squared norm write norm({name})**2 or {name}'*{name}; "
                          f"elementwise: {name}.^2")
            if not u.eq(a[0], a[1]):
                self.fail(f"a matrix power needs a square matrix, got {self.desc(node.left)}", node.op_span)
            return a
        raise AssertionError(op)

    def _broadcast_hint(self, node, a, b) -> str | None:
        """NumPy's broadcasting of a row (column) vector over a matrix, written out with ones."""
        u = self.u

        def fits(x, y):
            return u.eq(x, y) or not (isinstance(u.size(x), int) and isinstance(u.size(y), int))

        def written(n):    # as typed: ones(m)*b' needs no parentheses, a sum does
            s = self.text[n.span[0]:n.span[1]].strip()
            return f"({s})" if isinstance(n, Binary) and n.op in ("+", "-") else s

        left, right = written(node.left), written(node.right)
        for mat, vec, is_left in ((a, b, False), (b, a, True)):
            if mat[0] == 1 or mat[1] == 1:
                continue
            v = left if is_left else right
            if vec[0] == 1 and fits(vec[1], mat[1]):
                spread = f"ones({u.show(mat[0])})*{v}"
            elif vec[1] == 1 and fits(vec[0], mat[0]):
                spread = f"{v}*ones({u.show(mat[1])})'"
            else:
                continue
            spelled = f"{spread} {node.op} {right}" if is_left else f"{left} {node.op} {spread}"
            return f"there is no broadcasting: write {spelled}"
        return None

    def src(self, node) -> str:
        s = self.text[node.span[0]:node.span[1]].strip()
        return s if isinstance(node, (Name, Call, Num)) or s.startswith("(") else f"({s})"

    def _call(self, node: Call):
        name = node.func
        if name in ("eye", "ones"):
            want = (1, 1) if name == "eye" else (1, 2)
            if not want[0] <= len(node.args) <= want[1]:
                self.fail(f"{name} takes {'1 size' if name == 'eye' else '1 or 2 sizes'}, got {len(node.args)}",
                          node.name_span, cls=ParseError)
            dims = self._sizes(node)
            if name == "eye":
                return (dims[0], dims[0])
            return (dims[0], 1) if len(dims) == 1 else tuple(dims)
        op = FUNCTIONS.get(name)
        if op is None:
            import difflib
            close = difflib.get_close_matches(name, list(FUNCTIONS) + ["eye", "ones"], n=1)
            self.fail(f"unknown function {name!r}", node.name_span, habit_hint(self.text) or (
                f"did you mean {close[0]}? (matcalc functions lists them)" if close else
                "matcalc functions lists the functions of the language"), cls=ParseError)
        lo, hi = op.arity
        if not lo <= len(node.args) <= hi:
            n = "1 argument" if lo == 1 and hi == 1 else f"{lo} arguments"
            self.fail(f"{name} takes {n}, got {len(node.args)}", node.name_span, op.usage, cls=ParseError)
        shapes = [self.infer(a) for a in node.args] if not op.sized else self._sizes(node)
        try:
            return op.infer(shapes, self.u)
        except ShapeError as err:
            raise ShapeError(err.message, node.name_span, err.hint, self.text) from None

    @staticmethod
    def _size_call(arg) -> bool:
        return isinstance(arg, Call) and hasattr(FUNCTIONS.get(arg.func), "size_of") and len(arg.args) == 1

    def _sizes(self, node: Call) -> list:
        """The arguments of eye(n), ones(m, n), commutation(m, n): sizes, not values."""
        dims = [self._size(arg) for arg in node.args]
        self.call_sizes[id(node)] = dims
        return dims

    def _size(self, arg):
        """One size: a positive whole number, a name, len(x), rows(X), cols(X), or a product of those
        (m*n, n^2: the sizes of vec(X) and of Kronecker products)."""
        if self._size_call(arg):          # ones(len(x)), eye(rows(A)): that variable's size
            return FUNCTIONS[arg.func].size_of(self.infer(arg.args[0]))
        self.shapes[id(arg)] = SCALAR
        if isinstance(arg, Num) and arg.value.denominator == 1 and arg.value >= 1:
            return int(arg.value)
        if isinstance(arg, Name):
            return self.fresh(arg.id)
        if isinstance(arg, Binary) and arg.op in ("*", "@"):
            return self.u.mul(self._size(arg.left), self._size(arg.right))
        if isinstance(arg, Binary) and arg.op in ("^", "**"):
            k = arg.right.value if isinstance(arg.right, Num) else None
            if k is None or k.denominator != 1 or not 1 <= k <= _MAX_SIZE_POWER:
                self.fail(f"the power of a size is a whole number from 1 to {_MAX_SIZE_POWER}", arg.right.span,
                          cls=ParseError)
            base = self._size(arg.left)
            return self.u.mul(*[base] * int(k))
        self.fail("a size is a name such as n, a positive whole number, len(x), rows(X), cols(X), "
                  "or a product of those (m*n, n^2)", arg.span, cls=ParseError)

    # ------------------------------------------------------------ pass 2: graph
    def build(self, node, namer: Namer):
        memo = self.built
        got = memo.get(id(node))
        if got is not None:
            return got
        chain = _CHAINS.get(node.op) if isinstance(node, Binary) else None
        if chain is not None:
            try:
                e = self._build_chain(node, chain, namer)
            except LimitError as err:     # as in _build
                if err.span is None:
                    err.span = node.span
                raise
            memo[id(node)] = e
            return e
        for n in reversed(_left_spine(node)):    # iteratively, as in infer
            memo[id(n)] = self._build(n, namer)
        memo[id(node)] = e = self._build(node, namer)
        return e

    def _build_chain(self, node, chain: str, namer: Namer):
        # a sum (a product) is built with one add() (mul()) of all its terms: adding them one
        # at a time re-collects the whole sum for every term, quadratic in a long sum
        rights = []
        while isinstance(node, Binary) and _CHAINS.get(node.op) == chain and id(node) not in self.built:
            rights.append(node)
            node = node.left
        terms = [self.build(node, namer)]
        shape = terms[0].shape
        for n in reversed(rights):
            t = self.build(n.right, namer)
            if chain == "product":
                if shape == SCALAR and t.shape[0] != 1 and len(terms) > 1:
                    terms = [alg.mul(*terms)]   # a 1×1 product scales what follows: (a'x) I
                shape = t.shape if shape == SCALAR else shape if t.shape == SCALAR else (shape[0], t.shape[1])
            terms.append(alg.neg(t) if n.op == "-" else t)
        return alg.add(*terms) if chain == "sum" else alg.mul(*terms)

    def _build(self, node, namer: Namer):
        try:
            return self._build_node(node, namer)
        except LimitError as err:      # a number or exponent out of range: point at where it arises
            if err.span is None:
                err.span = node.span
            raise

    def _build_node(self, node, namer: Namer):
        s = tuple(namer.name(d) for d in self.shapes[id(node)])
        if isinstance(node, Num):
            return alg.const(node.value)
        if isinstance(node, Name):
            if node.id == "I":
                return alg.identity(s[0])
            sym = self.symbols[node.id]
            return alg.sym(node.id, s, sym.kind)
        if isinstance(node, Unary):
            return alg.neg(self.build(node.operand, namer))
        if isinstance(node, Postfix):
            return alg.transpose(self.build(node.operand, namer))
        if isinstance(node, Call):
            if node.func == "eye":
                return alg.identity(s[0])
            if node.func == "ones":
                return alg.ones(s)
            op = FUNCTIONS[node.func]
            if op.sized:
                return op.build(attrs=tuple(namer.name(d) for d in self.call_sizes[id(node)]))
            args = [self.build(a, namer) for a in node.args]
            return op.build(*args)
        a, b = self.build(node.left, namer), self.build(node.right, namer)
        op = node.op
        if op == "+":
            return alg.add(a, b)
        if op == "-":
            return alg.sub(a, b)
        if op in ("*", "@"):
            return alg.mul(a, b)
        if op == "/":
            return alg.mul(a, self._recip(b, node))
        if op == ".*":
            return alg.mul(a, b) if a.is_scalar or b.is_scalar else alg.had(a, b)
        if op == "./":
            if b.is_scalar:
                return alg.mul(a, self._recip(b, node))
            if alg.is_zero(b):
                self.fail("division by zero", node.op_span, cls=MatcalcError)
            return alg.mul(a, alg.hadpow(b, -1)) if a.is_scalar else alg.had(a, alg.hadpow(b, -1))
        p = self._exponent(b, node.right)
        if op == ".^" and not a.is_scalar:
            if alg.is_zero(a) and p < 0:
                self.fail("division by zero", node.op_span, cls=MatcalcError)
            return alg.hadpow(a, p)
        if a.is_scalar:
            if alg.is_const(a, 0) and p < 0:
                self.fail("division by zero", node.op_span, cls=MatcalcError)
            return alg.power(a, p)
        if p.denominator != 1:
            self.fail(f"a matrix power must be a whole number, got {p}", node.right.span, cls=UnsupportedError)
        if abs(p) > MAX_MATRIX_POWER:
            from .errors import LimitError
            self.fail(f"matrix powers are limited to ±{MAX_MATRIX_POWER}, got {p}", node.right.span,
                      cls=LimitError)
        return alg.matpow(a, int(p))

    def _recip(self, b, node):
        if alg.is_const(b, 0):
            self.fail("division by zero", node.op_span, cls=MatcalcError)
        return alg.power(b, -1)

    def _exponent(self, b, node) -> Fraction:
        if b.op is not alg.CONST:
            self.fail("an exponent must be a number", node.span, cls=UnsupportedError)
        p = b.attrs[0]
        if abs(p) > 10 ** 6 or p.denominator > 10 ** 6:
            from .errors import LimitError
            self.fail(f"the exponent {p} is out of range (at most 10^6)", node.span, cls=LimitError)
        return p


_CHAINS = {"+": "sum", "-": "sum", "*": "product", "@": "product"}


def _left_spine(node) -> list:
    """The left operands below node along a chain of binary operators and postfix transposes."""
    out = []
    while isinstance(node, (Binary, Postfix)):
        node = node.left if isinstance(node, Binary) else node.operand
        out.append(node)
    return out


def typecheck(text: str, let=None, extra: tuple[str, ...] = ()) -> tuple[Typed, ...]:
    """Parse and type `text` (and `extra` expressions sharing its names and sizes)."""
    lets = parse_lets(let)
    typed = []
    typer = Typer(text, lets)
    trees = []
    for t in (text,) + tuple(extra):
        tree = parse_syntax(t)
        typer.text = t
        try:
            typer.infer(tree)
        except MatcalcError as err:
            raise err.with_source(t)
        trees.append((t, tree))
    typer.equate_declared_sizes()
    namer = typer.u.namer()
    for sym in sorted(typer.symbols.values(), key=lambda s: s.first):
        for d in sym.shape:
            namer.resolve(d)
    for shape in typer.shapes.values():
        for d in shape:
            namer.resolve(d)
    roots = {id(typer.u.size(d)) for d in typer.u.all if isinstance(typer.u.size(d), Dim)}
    namer.finish(len(roots))
    for sym in typer.symbols.values():
        sym.shape = tuple(namer.name(d) for d in sym.shape)
    shapes = {key: tuple(namer.name(d) for d in shape) for key, shape in typer.shapes.items()}
    for t, tree in trees:
        typer.text = t
        try:
            expr = typer.build(tree, namer)
        except MatcalcError as err:
            raise err.with_source(t)
        typed.append(Typed(t, expr, dict(typer.symbols), tree, shapes))
    return tuple(typed)
