"""The core algebra: leaves, sums, products, Hadamard products, transposes, inverses.

Every constructor returns the canonical form of what it is asked to build, so
equal expressions are the same node and results come out short:
constants are folded, zeros and identities vanish, like terms are collected,
scalar factors gather in front of a product with their exponents merged
(so ‖x‖·‖x‖⁻¹ cancels), transposes are pushed down to the leaves, and a
1×1 piece of a matrix product (xᵀy) becomes a scalar factor. Each rule
shrinks the expression or moves it towards a fixed order, so building
always terminates.

Every rewrite holds wherever the expression as typed is defined, for negative
values too (the verifier checks this at every point it draws: judge.py). The
rewritten form may be defined where the typed one is not (exp(log(x)) = x),
never the other way. The rules, with their conditions:

- sums: nested sums flattened, zeros dropped, like terms collected — always.
- numbers: cᵉ folded for an integer e, and for a rational e when c > 0 and the
  root is rational (4^½ = 2) — always; 0ᵉ with e < 0 is a division by zero.
- powers of powers: (bᶠ)ᵉ = b^(fe) when e is an integer, f is not an even
  integer (b^½ needs b ≥ 0; b³ has b's sign) or b ≥ 0 is known; otherwise, f
  even and e fractional, |b|^(fe): (x²)^½ = |x| (_merged_power).
- powers of products: (c Π bᵢ)ᵉ = cᵉ Π bᵢᵉ when e is an integer, or when c > 0
  and every factor but one is known positive ((−1·−1)^½ = 1 is not nan, and
  (0·(−1))^½ = 0 is not 0·nan); entrywise the same for Hadamard products.
- |b|^(2k) = b^(2k) — always.
- a^x a^y = a^(x+y), a⁰ = 1 — where both sides are defined (a ≠ 0 for negative
  exponents, a ≥ 0 for fractional ones, as typed).
- a zero factor makes a zero product — where the other factors are finite.
- sign(u) uᵏ = |u| uᵏ⁻¹, sign(u) |u|ᵏ = u |u|ᵏ⁻¹ for an integer k ≥ 1 — always.
- matrix chains: identities dropped; X X⁻¹ = I (X invertible); Xᵃ Xᵇ = Xᵃ⁺ᵇ for
  integers; diag(u) diag(v) = diag(u ⊙ v), diag(u) v = u ⊙ v, vᵀ diag(u) =
  (v ⊙ u)ᵀ; a 1×1 piece is a scalar factor (x yᵀz = (yᵀz) x), 𝟏ᵀu = sum(u),
  vᵀx = xᵀv; 𝟏ₘ𝟏ₙᵀ alone is the m×n matrix of ones, and inside a longer product
  a matrix of ones is written 𝟏𝟏ᵀ (A𝟏𝟏ᵀ costs less than A·ones) — always.
- transposes pushed to the leaves: (Aᵀ)ᵀ = A, (AB)ᵀ = BᵀAᵀ, sums, Hadamard
  products, (Xᵏ)ᵀ = (Xᵀ)ᵏ, f(Xᵀ) = f(X)ᵀ for an entrywise f, (XᵀX)⁻ᵀ = (XᵀX)⁻¹,
  (M⁻¹)ᵀ = (Mᵀ)⁻¹ where Mᵀ holds fewer transposes (((Xᵀ)²)⁻ᵀ = X⁻²) — always.
- inverses: (X⁻¹)⁻¹ = X, I⁻¹ = I, (Xᵀ)⁻¹ = (X⁻¹)ᵀ, (c Π aᵢ M)⁻¹ = c⁻¹ Π aᵢ⁻¹ M⁻¹
  for scalars aᵢ, diag(v)⁻¹ = diag(v^∘−1) — where the inverse exists.
- matrix powers: X⁰ = I, X⁻ᵏ = (Xᵏ)⁻¹, (Xᵃ)ᵇ = Xᵃᵇ for integers — always.
The functions' own rules (log(exp(x)) = x, tr(AB) = tr(BA), ...) are stated next
to them in ops/; the ones that use what is known of the inputs' domain (Sᵀ = S
for a declared symmetric S) run after differentiation only (simplify.py).
"""
from __future__ import annotations

from fractions import Fraction

# NumPy is imported inside the evaluate methods: a command that evaluates nothing does not load it
from .expr import Expr, charge, frac
from .ops.base import Op
from .shapes import SCALAR, is_column, is_row, is_scalar, size_value

ONE, ZERO_F = Fraction(1), Fraction(0)

# Numbers stay finite floats (the verifier and generated code compute with them) and printable:
# a number past MAX_NUMBER_BITS (about 1e301) or an exponent past MAX_EXPONENT is a LimitError.
# (Before, 10^999999 or 1e300^3000 crashed the printers and 7^(999999/1000000) took 7 s.)
MAX_NUMBER_BITS = 1000
MAX_EXPONENT = 10 ** 6
# A matrix power X^k is typed with |k| at most MAX_MATRIX_POWER, and merged powers ((X^64)^64,
# X^64 X^64 X^64, and those a derivative builds: d tr(X⁻⁶⁴) has X⁻⁶⁵) are at most twice that:
# d(X^k) has k terms, and (X^64)^64 merged to X^4096 took minutes to differentiate and print.
MAX_MATRIX_POWER = 64
MAX_MERGED_MATRIX_POWER = 2 * MAX_MATRIX_POWER


def _need(ok, message, hint=None):
    if not ok:
        from .errors import ShapeError
        raise ShapeError(message, hint=hint)


# ======================================================================= leaves

class SymOp(Op):
    """A named variable. attrs = (name, kind)."""

    def evaluate(self, node, vals, dims):
        return dims["@" + node.attrs[0]]


class ConstOp(Op):
    """A scalar number. attrs = (Fraction,)."""

    def evaluate(self, node, vals, dims):
        import numpy as np
        return np.array([[float(node.attrs[0])]])


class FilledOp(Op):
    """Zero, identity and ones matrices of a given shape."""

    def evaluate(self, node, vals, dims):
        import numpy as np
        r, c = (size_value(d, dims) for d in node.shape)
        return {"zero": np.zeros, "ones": np.ones}[self.name]((r, c)) if self.name != "identity" \
            else np.eye(r)

    def jvp(self, node, dargs):
        return None


class SizeOp(Op):
    """A size as a number (len(x), rows(X), the sum of a vector of ones): a scalar constant that
    prints by its size name. attrs = (size name,); its value is the size the variables have."""

    sign = "positive"       # a size is ≥ 1: the power rules may take its roots

    def evaluate(self, node, vals, dims):
        import numpy as np
        from .shapes import size_value       # a name (n) or a product of names (mn)
        return np.array([[float(size_value(node.attrs[0], dims))]])

    def jvp(self, node, dargs):
        return None


SYM = SymOp(name="sym", temp="x")
CONST = ConstOp(name="const")
SIZE = SizeOp(name="size", temp="n")
ZERO = FilledOp(name="zero")
IDENTITY = FilledOp(name="identity")
ONES = FilledOp(name="ones")
SymOp.jvp = lambda self, node, dargs: None
ConstOp.jvp = lambda self, node, dargs: None


def sym(name: str, shape, kind: str = "matrix") -> Expr:
    return Expr(SYM, (), (name, kind), shape)


def const(value) -> Expr:
    return Expr(CONST, (), (_number(frac(value)),), SCALAR)


def size(d) -> Expr:
    """The size d of a shape (a size name or a number) as a scalar."""
    return const(d) if isinstance(d, int) else Expr(SIZE, (), (d,), SCALAR)


def graph_size_names(e: Expr) -> set:
    """The size names a graph uses: in the shapes of its nodes, and as numbers (n = len(x))."""
    from .expr import postorder
    from .shapes import size_names
    return {n for node in postorder(e) for d in node.shape + (node.attrs if node.op is SIZE else ())
            for n in size_names(d)}


def count(shape) -> Expr:
    """The number of entries of a shape, as a product of its sizes (mn for an m×n matrix)."""
    return mul(size(shape[0]), size(shape[1]))


def _number(c: Fraction) -> Fraction:
    if c.numerator.bit_length() > MAX_NUMBER_BITS or c.denominator.bit_length() > MAX_NUMBER_BITS:
        from .errors import LimitError
        raise LimitError("a number in the expression is out of range (beyond 1e300)",
                         hint="matcalc computes with floating-point numbers: rescale the expression")
    return c


def _bits(v: Fraction) -> int:
    return max(abs(v.numerator).bit_length(), v.denominator.bit_length())


def _power(v: Fraction, n: int) -> Fraction:
    """v**n for an integer n, refused before computing when the result is out of range."""
    if abs(n) * (_bits(v) - 1) > 2 * MAX_NUMBER_BITS:
        _number(Fraction(2) ** (2 * MAX_NUMBER_BITS))          # raises
    return _number(v ** n)


def zero(shape) -> Expr:
    return const(0) if is_scalar(shape) else Expr(ZERO, (), (), shape)


def identity(n) -> Expr:
    return const(1) if n == 1 else Expr(IDENTITY, (), (), (n, n))


def ones(shape) -> Expr:
    return const(1) if is_scalar(shape) else Expr(ONES, (), (), shape)


def is_zero(e: Expr) -> bool:
    return e.op is ZERO or (e.op is CONST and e.attrs[0] == 0)


def is_const(e: Expr, value=None) -> bool:
    return e.op is CONST and (value is None or e.attrs[0] == value)


# ======================================================================= sums

class AddOp(Op):
    def infer(self, shapes, u):
        for s in shapes[1:]:
            _need(u.shape_eq(shapes[0], s), "terms of a sum must have the same shape")
        return shapes[0]

    def evaluate(self, node, vals, dims):
        return sum(vals[1:], vals[0])

    def jvp(self, node, dargs):
        return add(*[d for d in dargs if d is not None]) if any(d is not None for d in dargs) else None

    rule = "d(A + B) = dA + dB"


ADD = AddOp(name="add")


def split_coef(e: Expr) -> tuple[Fraction, Expr]:
    """e = c · rest with c a number."""
    if e.op is CONST:
        return e.attrs[0], const(1)
    if e.op is MUL and e.attrs[0] != 1:
        if e.attrs[1] == (ONE,) and len(e.args) == 1:     # c·a: the rest is a itself, as mul_parts
            return e.attrs[0], e.args[0]                  # builds it (else alpha - alpha was not 0)
        return e.attrs[0], _mul_node(ONE, e.attrs[1], e.args)
    return ONE, e


def add(*terms: Expr) -> Expr:
    assert terms, "add() of nothing"
    shape = terms[0].shape
    coefs: dict[Expr, Fraction] = {}
    stack = list(reversed(terms))
    while stack:
        t = stack.pop()
        assert t.shape == shape, f"add: shapes {t.shape} and {shape}"
        if t.op is ADD:
            stack.extend(reversed(t.args))
            continue
        if is_zero(t):
            continue
        c, rest = split_coef(t)
        coefs[rest] = coefs.get(rest, ZERO_F) + c
    charge(len(coefs))     # the derivation's work budget (expr.budget)
    out = [scale(c, rest) for rest, c in coefs.items() if c != 0]
    if not out:
        return zero(shape)
    if len(out) == 1:
        return out[0]
    out.sort(key=_term_order)
    return Expr(ADD, tuple(out), (), shape)


def _term_order(t: Expr):
    """Positive terms first, deeper terms first, a term before its transpose: Wx + b, A + Aᵀ, 𝟏 − h²."""
    c, rest = split_coef(t)
    return (c < 0, -rest.nesting, rest.op is TRANSPOSE, rest.key)


def neg(e: Expr) -> Expr:
    return scale(-1, e)


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


# ======================================================================= products

class MulOp(Op):
    """coef · Π scalar_atom^exp · (matrix chain). attrs = (coef, exps); args = atoms + chain."""

    def infer(self, shapes, u):
        chain = [s for s in shapes if not (s[0] == 1 and s[1] == 1)]
        if not chain:
            return SCALAR
        for a, b in zip(chain, chain[1:]):
            _need(u.eq(a[1], b[0]), "inner sizes of a product must agree")
        return (chain[0][0], chain[-1][1])

    def evaluate(self, node, vals, dims):
        import numpy as np
        coef, exps = node.attrs
        k = len(exps)
        out = float(coef)
        for v, e in zip(vals[:k], exps):
            # NumPy's power, not Python's: 0.0 ** -1 is inf (Python raised ZeroDivisionError in the
            # verifier) and (-8.0) ** (1/3) is nan (Python gave a complex number)
            out = out * np.float64(v[0, 0]) ** float(e)
        if len(vals) == k:
            return np.array([[out]])
        prod = vals[k]
        for v in vals[k + 1:]:
            prod = prod @ v
        return out * prod

    def jvp(self, node, dargs):
        coef, exps = node.attrs
        k = len(exps)
        atoms, chain = node.args[:k], node.args[k:]
        terms = []
        for i, d in enumerate(dargs[:k]):
            if d is not None:   # d(a^e) = e a^(e-1) da
                others = [(a, e) for j, (a, e) in enumerate(zip(atoms, exps)) if j != i]
                terms.append(mul_parts(coef * exps[i], others + [(atoms[i], exps[i] - 1), (d, ONE)],
                                       list(chain)))
        for i, d in enumerate(dargs[k:]):
            if d is not None:   # product rule along the chain
                terms.append(mul_parts(coef, list(zip(atoms, exps)), list(chain[:i]) + [d] + list(chain[i + 1:])))
        return add(*terms) if terms else None

    rule = "d(AB) = dA B + A dB"


MUL = MulOp(name="mul", temp="t")


def mul(*factors: Expr) -> Expr:
    return mul_parts(ONE, [], list(factors))


def scale(c, e: Expr) -> Expr:
    c = frac(c)
    if c == 1:
        return e
    return mul_parts(c, [], [e])


def power(e: Expr, p) -> Expr:
    """A scalar to a numeric power."""
    assert e.is_scalar
    return mul_parts(ONE, [(e, frac(p))], [])


def _add_atom(acc: list, exps: dict, a: Expr, e: Fraction):
    """mul_parts' a^e: a constant into the coefficient acc[0], a product's factors one by one, else
    into exps. (A function of its own, not a closure in mul_parts: a closure that calls itself is a
    reference cycle, garbage for the cyclic collector on every product built.)"""
    if a.op is CONST:
        v = a.attrs[0]
        if v == 0 and e < 0:
            raise ZeroDivisionError("division by zero in a constant")
        if e.denominator == 1 or v > 0 and _exact_root(v, e) is not None:
            acc[0] *= _power(v, int(e)) if e.denominator == 1 else _exact_root(v, e)
            return
    if _is_abs(a) and e.denominator == 1 and e.numerator % 2 == 0:     # |b|^(2k) = b^(2k) for every b
        _add_atom(acc, exps, a.args[0], e)
        return
    if a.op is MUL and not _is_pure_chain(a):
        c, aexps = a.attrs
        k = len(aexps)
        factors = list(zip(a.args[:k], aexps))
        if len(a.args) > k:
            factors.append((_mul_node(ONE, (), a.args[k:]), ONE))
        # (c Π bᶠ)^e = c^e Π (bᶠ)^e: for an integer e always; for another e only when c > 0 and
        # all factors but one are known positive (else (−1·−1)^½ = 1 would become nan, and
        # (0·(−1))^½ = 0 would become 0·nan)
        if e.denominator == 1 or c > 0 and sum(not positive(b) for b, f in factors) <= 1:
            r = _power(c, int(e)) if e.denominator == 1 else _exact_root(c, e)
            if r is not None:
                acc[0] *= r
                for b, f in factors:
                    _add_atom(acc, exps, *_merged_power(b, f, e))
                return
    exps[a] = exps.get(a, ZERO_F) + e


def mul_parts(coef, atoms, factors) -> Expr:
    """Build coef · Π atoms[i][0]^atoms[i][1] · Π factors (factors in order, any shapes)."""
    acc = [frac(coef)]       # the coefficient, which _add_atom multiplies
    exps: dict[Expr, Fraction] = {}

    chain: list[Expr] = []
    for a, e in atoms:
        _add_atom(acc, exps, a, frac(e))
    for f in factors:
        if f.op is MUL and not (f.is_scalar and _is_pure_chain(f)):
            c, fexps = f.attrs
            k = len(fexps)
            acc[0] *= c
            for a, e in zip(f.args[:k], fexps):
                _add_atom(acc, exps, a, e)
            chain.extend(f.args[k:])
        elif f.is_scalar:
            _add_atom(acc, exps, f, ONE)
        else:
            chain.append(f)
    charge(2 * len(exps) + len(chain))     # the work budget (expr.budget); an atom costs more
    shape = _chain_shape(chain)
    if acc[0] == 0 or any(is_zero(f) for f in chain) or any(is_zero(a) and e > 0 for a, e in exps.items()):
        return zero(shape)
    chain = _simplify_chain(chain)
    # a 1×1 piece inside the chain is a scalar factor: x yᵀ z → (yᵀz) x
    chain, pulled = _pull_scalars(chain)
    for a in pulled:
        _add_atom(acc, exps, a, ONE)
    if len(chain) == 2 and all(f.op is ONES for f in chain) and chain[0].shape[1] == 1 \
            and chain[0].shape[0] != 1 and chain[1].shape[1] != 1:
        chain = [ones((chain[0].shape[0], chain[1].shape[1]))]       # 𝟏𝟏ᵀ alone is the matrix of ones
    if chain and is_scalar(_chain_shape(chain)) and (exps or acc[0] != 1 or _scalar_segment(chain).op is not MUL):
        _add_atom(acc, exps, _scalar_segment(chain), ONE)
        chain = []
    coef = acc[0]
    _cancel_signs(exps)
    items = sorted(((a, e) for a, e in exps.items() if e != 0), key=lambda ae: ae[0].key)
    _exponents(e for _, e in items)
    if not items and not chain:
        return const(coef)
    if not chain and coef == 1 and len(items) == 1 and items[0][1] == 1:
        return items[0][0]
    if not items and coef == 1 and len(chain) == 1:
        return chain[0]
    if not items and is_scalar(_chain_shape(chain)):
        chain = list(_orient(chain))
    return _mul_node(coef, tuple(e for _, e in items), tuple(a for a, _ in items) + tuple(chain))


def _merged_power(b: Expr, f: Fraction, e: Fraction) -> tuple[Expr, Fraction]:
    """(b^f)^e as a base and one exponent: b^(fe), which holds wherever (b^f)^e is defined when e
    is an integer, f is not an even integer (b^(1/2) needs b ≥ 0; b³ has b's sign) or b ≥ 0;
    else (f even, e not an integer: (x²)^½ = |x|) it is |b|^(fe)."""
    if e.denominator == 1 or not (f.denominator == 1 and f.numerator % 2 == 0) or nonnegative(b):
        return b, f * e
    return call("abs", b), f * e


def _is_abs(e: Expr) -> bool:
    from .ops.base import FUNCTIONS
    return e.op is FUNCTIONS["abs"]


def _cancel_signs(exps: dict):
    """sign(u) uᵏ = |u| uᵏ⁻¹ and sign(u) |u|ᵏ = u |u|ᵏ⁻¹ for an integer k ≥ 1 — always (both are 0
    at u = 0). Factors with exponents, as mul_parts and had_parts collect them (changed in place)."""
    from .ops.base import FUNCTIONS
    sign = FUNCTIONS["sign"]
    for s in [f for f, x in exps.items() if f.op is sign and x == 1]:
        u = s.args[0]
        for other, into in ((u, call("abs", u)), (call("abs", u), u)):
            k = exps.get(other, ZERO_F)
            if k >= 1 and k.denominator == 1 and exps.get(s) == 1:
                del exps[s]
                exps[other] = k - 1
                exps[into] = exps.get(into, ZERO_F) + 1
                break


def _may_be_negative(b: Expr, f: Fraction, depth: int = 0) -> bool:
    """Whether b^f can be negative where it is defined: not for a fractional f (b ≥ 0 then),
    an even f, or a b known to be non-negative."""
    return f.denominator == 1 and f.numerator % 2 == 1 and not nonnegative(b, depth)


def positive(e: Expr, depth: int = 0) -> bool:
    """e is > 0 (entrywise) wherever it is defined: a positive number, a matrix of ones, an op
    whose values are positive (exp, sigmoid, softplus, softmax, ...), and products, Hadamard
    products (any exponents) and sums of such. False when not known (also past depth 32)."""
    op = e.op
    if op is CONST:
        return e.attrs[0] > 0
    if op is ONES:
        return True
    if depth > 32:
        return False
    if op is MUL:
        return e.attrs[0] > 0 and len(e.args) == len(e.attrs[1]) and all(positive(a, depth + 1) for a in e.args)
    if op in (HAD, ADD, TRANSPOSE):
        return all(positive(a, depth + 1) for a in e.args)
    return getattr(op, "sign", None) == "positive"


def nonnegative(e: Expr, depth: int = 0) -> bool:
    """e is ≥ 0 (entrywise) wherever it is defined: a non-negative number, a matrix of ones, an op
    whose values are non-negative (exp, abs, norm, sigmoid, softmax, ...), a probability or
    one-hot vector, and products, Hadamard products and sums of such (a matrix product is not:
    its entries are sums of products of any sign). False when not known (also past depth 32)."""
    op = e.op
    if op is CONST:
        return e.attrs[0] >= 0
    if op in (ONES, ZERO, IDENTITY):
        return True
    if op is SYM:
        return e.attrs[1] in ("probability", "onehot")
    if depth > 32:
        return False
    if op is MUL:
        coef, exps = e.attrs
        chain = e.args[len(exps):]
        gram = len(chain) == 2 and chain[0] is transpose(chain[1])         # uᵀu ≥ 0
        return coef >= 0 and (not chain or gram) and \
            not any(_may_be_negative(a, x, depth + 1) for a, x in zip(e.args, exps))
    if op is HAD:
        return not any(_may_be_negative(a, x, depth + 1) for a, x in zip(e.args, e.attrs[0]))
    if op is ADD:
        return all(nonnegative(t, depth + 1) for t in e.args)
    if op is TRANSPOSE:
        return nonnegative(e.args[0], depth + 1)
    return positive(e) or getattr(op, "sign", None) == "nonnegative"


def _exponents(exps):
    for e in exps:
        if abs(e.numerator) > MAX_EXPONENT or e.denominator > MAX_EXPONENT:
            from .errors import LimitError
            raise LimitError(f"an exponent grows out of range (beyond 10^6): {e}")


def _exact_root(v: Fraction, e: Fraction):
    """v**e when it is rational (e.g. 4**(1/2) = 2), else None."""
    if abs(e.numerator) * (_bits(v) - 1) > 2 * MAX_NUMBER_BITS:
        return None             # not worth proving: v**numerator would be a huge number
    try:
        r = Fraction(round(float(v) ** float(e), 12)).limit_denominator(10 ** 6)
    except (OverflowError, ZeroDivisionError):
        return None
    return r if r ** e.denominator == v ** e.numerator else None


def _is_pure_chain(m: Expr) -> bool:
    return m.attrs[0] == 1 and not m.attrs[1]


def _chain_shape(chain):
    return (chain[0].shape[0], chain[-1].shape[1]) if chain else SCALAR


def _mul_node(coef, exps, args) -> Expr:
    if not exps and coef == 1 and len(args) == 1:
        return args[0]
    k = len(exps)
    return Expr(MUL, tuple(args), (_number(frac(coef)), tuple(exps)), _chain_shape(list(args[k:])))


def _linalg():
    """ops/linalg, where tr, sum and diag are declared (it imports this module, so not at the top)."""
    from .ops import linalg
    return linalg


def _diagonal(f: Expr) -> bool:
    """f = diag(v) for a column v."""
    return _linalg().is_diagonal_matrix(f)


def _simplify_chain(chain: list[Expr]) -> list[Expr]:
    """Drop identities, cancel X X⁻¹, merge A A into A²."""
    if len(chain) > 1:      # inside a longer product a matrix of ones is the two vectors 𝟏𝟏ᵀ (cheaper: A𝟏𝟏ᵀ)
        chain = [g for f in chain for g in ([ones((f.shape[0], 1)), ones((1, f.shape[1]))]
                                            if f.op is ONES and f.shape[0] != 1 and f.shape[1] != 1 else [f])]
    out: list[Expr] = []
    for f in chain:
        if f.op is IDENTITY and (out or len(chain) > 1):
            continue
        if out and _diagonal(out[-1]) and _diagonal(f):   # diag(u) diag(v) = diag(u ⊙ v)
            out.append(_linalg().DIAG.build(had(out.pop().args[0], f.args[0])))
            continue
        if out and _diagonal(out[-1]) and is_column(f.shape) and not is_scalar(f.shape):   # diag(u) v = u ⊙ v
            out.append(had(out.pop().args[0], f))
            continue
        if out and is_row(out[-1].shape) and not is_scalar(out[-1].shape) and _diagonal(f):   # vᵀ diag(u) = (v ⊙ u)ᵀ
            out.append(transpose(had(transpose(out.pop()), f.args[0])))
            continue
        if out and _inverse_pair(out[-1], f):
            n = f.shape[1]
            out.pop()
            out.append(identity(n))
            continue
        if out and out[-1].shape[0] == out[-1].shape[1]:
            (b, k1, t1), (b2, k2, t2) = _base(out[-1]), _base(f)
            if b is b2 and t1 == t2:
                out.pop()
                out.append(matpow(transpose(b) if t1 else b, k1 + k2))
                continue
        out.append(f)
    if len(out) > 1:
        out = [f for f in out if f.op is not IDENTITY] or [out[0]]
    if not out and chain:       # a product of identities (I*I) is I, not the number 1
        out = [chain[0]]
    return out


def _base(f: Expr):
    """f = bᵏ, or (bᵀ)ᵏ when transposed: (b, k, transposed). Powers, inverses and their transposes
    merge in a product (X⁻² X = X⁻¹, (X²)⁻ᵀ Xᵀ = X⁻ᵀ); bᵀ is built only when they do."""
    if f.op is MATPOW:
        b, k, t = _base(f.args[0])
        return b, k * f.attrs[0], t
    if f.op is INV:
        b, k, t = _base(f.args[0])
        return b, -k, t
    if f.op is TRANSPOSE:
        b, k, t = _base(f.args[0])
        return b, k, not t
    return f, 1, False


def _inverse_pair(a: Expr, b: Expr) -> bool:
    if b.op is INV and b.args[0] is a or a.op is INV and a.args[0] is b:
        return True
    return a.op is TRANSPOSE and b.op is TRANSPOSE and _inverse_pair(a.args[0], b.args[0])


def _pull_scalars(chain):
    pulled = []
    changed = True
    while changed and len(chain) > 1:
        changed = False
        for i, f in enumerate(chain):
            if f.shape[0] != 1:
                continue
            for j in range(i, len(chain)):
                if chain[j].shape[1] == 1:
                    if (i, j) != (0, len(chain) - 1):
                        pulled.append(_scalar_segment(chain[i:j + 1]))
                        chain = chain[:i] + chain[j + 1:]
                        changed = True
                    break
            if changed:
                break
    return chain, pulled


def _scalar_segment(seg):
    """A 1×1 product; 1ᵀu and uᵀ1 are sums."""
    if len(seg) >= 2 and seg[0].op is ONES:
        return _linalg().SUM.build(mul(*seg[1:]))
    if len(seg) >= 2 and seg[-1].op is ONES:
        return _linalg().SUM.build(mul(*seg[:-1]))
    if len(seg) == 1:
        return seg[0]
    return _mul_node(ONE, (), _orient(seg))


def _orient(seg) -> tuple:
    """A 1×1 product equals its transpose (vᵀx = xᵀv): one orientation, fewest transposes first."""
    flipped = tuple(transpose(f) for f in reversed(seg))
    def name(f):
        base = f.args[0] if f.op is TRANSPOSE else f
        return base.attrs[0] if base.op is SYM else ""      # sᵀg, then leaves alphabetically: aᵀb, xᵀv
    def rank(s):
        return (sum(f.op is TRANSPOSE for f in s), [(name(f), f.digest) for f in s])
    return min(tuple(seg), flipped, key=rank)


def mul_split(m: Expr):
    """(coef, [(atom, exp)], chain) of any expression."""
    if m.op is MUL:
        c, exps = m.attrs
        k = len(exps)
        return c, list(zip(m.args[:k], exps)), list(m.args[k:])
    if m.op is CONST:
        return m.attrs[0], [], []
    if m.is_scalar:
        return ONE, [(m, ONE)], []
    return ONE, [], [m]


# ======================================================================= Hadamard

class HadOp(Op):
    """Π factor^∘exp elementwise. attrs = (exps,)."""

    def infer(self, shapes, u):
        for s in shapes[1:]:
            _need(u.shape_eq(shapes[0], s), "factors of an elementwise product must have the same shape")
        return shapes[0]

    def evaluate(self, node, vals, dims):
        import numpy as np
        out = np.ones_like(vals[0])
        for v, e in zip(vals, node.attrs[0]):
            out = out * (v if e == 1 else v ** float(e))
        return out

    def jvp(self, node, dargs):
        exps = node.attrs[0]
        terms = []
        for i, d in enumerate(dargs):
            if d is not None:
                fs = [(a, e) for j, (a, e) in enumerate(zip(node.args, exps)) if j != i]
                fs.append((node.args[i], exps[i] - 1))
                terms.append(scale(exps[i], had_parts(fs + [(d, ONE)])))
        return add(*terms) if terms else None

    rule = "d(a ⊙ b) = da ⊙ b + a ⊙ db;  d(a^∘p) = p a^∘(p−1) ⊙ da"
    cite = "Magnus & Neudecker, Matrix Differential Calculus (3rd ed. 2019): d(A ⊙ B) = dA ⊙ B + A ⊙ dB"


HAD = HadOp(name="had", temp="t")


def had(*factors: Expr) -> Expr:
    return had_parts([(f, ONE) for f in factors])


def hadpow(e: Expr, p) -> Expr:
    return had_parts([(e, frac(p))])


def had_parts(parts) -> Expr:
    shape = parts[0][0].shape
    if is_scalar(shape):
        return mul_parts(ONE, [(f, e) for f, e in parts], [])
    coef = ONE
    exps: dict[Expr, Fraction] = {}
    stack = [(f, frac(e)) for f, e in reversed(parts)]
    while stack:
        f, e = stack.pop()
        assert f.shape == shape, f"had: shapes {f.shape} and {shape}"
        if f.op is HAD and (e.denominator == 1 or sum(not positive(g) for g in f.args) <= 1):
            # (Π gᵢ^∘fᵢ)^∘e = Π (gᵢ^∘fᵢ)^∘e entrywise, under the conditions of mul_parts
            stack.extend(_merged_power(g, ge, e) for g, ge in zip(f.args, f.attrs[0]))
            continue
        if f.op is ONES:
            continue
        if _is_abs(f) and e.denominator == 1 and e.numerator % 2 == 0:     # |b|^∘2k = b^∘2k
            stack.append((f.args[0], e))
            continue
        if f.op is MUL and e.denominator == 1:
            c, atoms, chain = mul_split(f)
            if c != 1 or atoms:     # scalar factors leave the Hadamard product
                coef *= _power(c, int(e))
                # the rest goes back on the stack: a Hadamard product in it is flattened and
                # ones dropped, as for any other factor (else (x ./ y) ./ z printed and parsed
                # again was another graph; issue 7, found by the round-trip fuzzer)
                stack.append((mul_parts(ONE, [], chain), e))
                for a, ae in atoms:
                    exps[a] = exps.get(a, ZERO_F) + ae * e
                continue
        if is_zero(f) and e > 0:
            return zero(shape)
        exps[f] = exps.get(f, ZERO_F) + e
    charge(len(exps))     # the derivation's work budget (expr.budget)
    _cancel_signs(exps)
    scal = [(a, e) for a, e in exps.items() if a.is_scalar and e != 0]
    items = sorted(((a, e) for a, e in exps.items() if not a.is_scalar and e != 0), key=lambda ae: ae[0].key)
    _exponents(e for _, e in items)
    if not items:
        body = ones(shape)
    elif len(items) == 1 and items[0][1] == 1:
        body = items[0][0]
    else:
        body = Expr(HAD, tuple(a for a, _ in items), (tuple(e for _, e in items),), shape)
    return mul_parts(coef, scal, [body])


# ======================================================================= transpose, inverse, powers

class TransposeOp(Op):
    def infer(self, shapes, u):
        return (shapes[0][1], shapes[0][0])

    def evaluate(self, node, vals, dims):
        return vals[0].T

    def jvp(self, node, dargs):
        return transpose(dargs[0])

    rule = "d(Aᵀ) = (dA)ᵀ"
    cite = "linear: d(Xᵀ) = (dX)ᵀ, so its adjoint is the transpose of the adjoint"


TRANSPOSE = TransposeOp(name="transpose", names=("transpose",), temp="t")
TRANSPOSE.build = lambda a, attrs=(): transpose(a)
TRANSPOSE.np = lambda a: a.T          # as a function of the language, for the judge (judge.py)


def transpose(e: Expr) -> Expr:
    if e.is_scalar:
        return e
    op = e.op
    if op is TRANSPOSE:
        return e.args[0]
    if op is INV:
        t = transpose(e.args[0])
        if t is e.args[0]:
            return e                             # (XᵀX)⁻ᵀ = (XᵀX)⁻¹
        if count_transposes(t) < count_transposes(e.args[0]):
            return inv(t)                        # ((Xᵀ)²)⁻ᵀ = (X²)⁻¹: (M⁻¹)ᵀ = (Mᵀ)⁻¹, always
    if op in (ZERO, ONES):
        return Expr(op, (), (), (e.shape[1], e.shape[0]))
    if op is IDENTITY:
        return e
    hook = getattr(op, "transposed", None)
    if hook is not None and hook(e) is not None:
        return hook(e)
    if op is ADD:
        return add(*[transpose(t) for t in e.args])
    if op is MUL:
        c, atoms, chain = mul_split(e)
        return mul_parts(c, atoms, [transpose(f) for f in reversed(chain)])
    if op is HAD:
        return had_parts([(transpose(f), x) for f, x in zip(e.args, e.attrs[0])])
    if op is MATPOW:
        return matpow(transpose(e.args[0]), e.attrs[0])
    return Expr(TRANSPOSE, (e,), (), (e.shape[1], e.shape[0]))


def count_transposes(e: Expr, limit: int = 64) -> float:
    """How many transposes e's tree holds (inf past `limit` nodes: a large one is left as it is)."""
    if e.tree_size > limit:
        return float("inf")
    return (e.op is TRANSPOSE) + sum(count_transposes(a, limit) for a in e.args)


class InvOp(Op):
    def infer(self, shapes, u):
        _need(u.eq(shapes[0][0], shapes[0][1]), "inv needs a square matrix",
              "for a least-squares solution write inv(A'*A)*A'")
        return shapes[0]

    def evaluate(self, node, vals, dims):
        import numpy as np
        return np.linalg.inv(vals[0])

    def jvp(self, node, dargs):
        return neg(mul(node, dargs[0], node))

    rule = "d(X⁻¹) = −X⁻¹ dX X⁻¹"
    cite = "Matrix Cookbook eq. (59)"
    names = ("inv",)
    domain = ("invertible",)
    temp = "Xi"


INV = InvOp(name="inv", names=("inv",))
INV.build = lambda a, attrs=(): inv(a)


def _inv_np(a):
    import numpy as np
    return 1.0 / a if a.shape == (1, 1) else np.linalg.inv(a)


INV.np = _inv_np                       # inv(alpha) of a scalar is 1/alpha, as the typer builds it


def inv(e: Expr) -> Expr:
    if e.is_scalar:
        return power(e, -1)
    op = e.op
    if op is INV:
        return e.args[0]
    if op is IDENTITY:
        return e
    if _diagonal(e) and not is_zero(e.args[0]):   # diag(v)⁻¹ = diag(v^∘−1)
        return _linalg().DIAG.build(hadpow(e.args[0], -1))
    if op is TRANSPOSE:
        return transpose(inv(e.args[0]))
    if op is MUL:
        c, atoms, chain = mul_split(e)
        if c != 1 or atoms:
            return mul_parts(1 / c, [(a, -x) for a, x in atoms], [inv(mul(*chain))])
    return Expr(INV, (e,), (), e.shape)


class MatPowOp(Op):
    """X^k for an integer k ≥ 2. attrs = (k,)."""

    def infer(self, shapes, u):
        _need(u.eq(shapes[0][0], shapes[0][1]), "a matrix power needs a square matrix")
        return shapes[0]

    def evaluate(self, node, vals, dims):
        import numpy as np
        return np.linalg.matrix_power(vals[0], node.attrs[0])

    def jvp(self, node, dargs):
        x, k = node.args[0], node.attrs[0]
        return add(*[mul(matpow(x, i), dargs[0], matpow(x, k - 1 - i)) for i in range(k)])

    rule = "d(Xᵏ) = Σᵢ Xⁱ dX Xᵏ⁻¹⁻ⁱ"
    cite = "Matrix Cookbook eq. (91)"


MATPOW = MatPowOp(name="matpow")


def matpow(x: Expr, k: int) -> Expr:
    k = int(k)
    if k == 0:
        return identity(x.shape[0])
    if k == 1:
        return x
    if k < 0:
        return inv(matpow(x, -k))
    if x.op is MATPOW:
        return matpow(x.args[0], x.attrs[0] * k)
    if k > MAX_MERGED_MATRIX_POWER:
        from .errors import LimitError
        raise LimitError(f"matrix powers are limited to ±{MAX_MATRIX_POWER} as typed and ±{MAX_MERGED_MATRIX_POWER} "
                         f"once merged: this one is a power {k}")
    return Expr(MATPOW, (x,), (k,), x.shape)


# ======================================================================= function ops

def call(name: str, *args: Expr) -> Expr:
    """Build a registered function op by its name in the language."""
    from .ops.base import FUNCTIONS
    return FUNCTIONS[name].build(*args)


def inner(u: Expr, c: Expr) -> Expr:
    """⟨U, C⟩ = Σ U∘C as a scalar in matrix notation: uᵀc for vectors, tr(UᵀC) for matrices."""
    if u.is_scalar:
        return mul(u, c)
    if is_column(u.shape):
        return mul(transpose(u), c)
    if is_row(u.shape):
        return mul(u, transpose(c))
    return _linalg().TR.build(mul(transpose(u), c))


def rebuild(node: Expr, args) -> Expr:
    """The canonical node of node's op with new arguments."""
    op = node.op
    if not node.args:
        return node
    if op is ADD:
        return add(*args)
    if op is MUL:
        exps = node.attrs[1]
        return mul_parts(node.attrs[0], list(zip(args[:len(exps)], exps)), list(args[len(exps):]))
    if op is HAD:
        return had_parts(list(zip(args, node.attrs[0])))
    if op is TRANSPOSE:
        return transpose(args[0])
    if op is INV:
        return inv(args[0])
    if op is MATPOW:
        return matpow(args[0], node.attrs[0])
    return op.build(*args)


def rewrite(root: Expr, visit) -> Expr:
    """Rebuild the DAG bottom-up; visit(node) may return a replacement for the rebuilt node."""
    from .expr import postorder
    done: dict[Expr, Expr] = {}
    for node in postorder(root):
        args = [done[a] for a in node.args]
        # a node whose arguments are unchanged is canonical as it is: not rebuilt
        new = node if all(a is b for a, b in zip(args, node.args)) else rebuild(node, args)
        done[node] = visit(new) or new
    return done[root]
