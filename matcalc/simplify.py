"""The last simplification of a result: what holds on the inputs' domain, and common factors.

Runs after differentiation only: a rule such as Sᵀ = S for a symmetric S is
true of the values but not of the function of independent entries, so it
must not be applied to anything that is still to be differentiated.

The rules and when they hold:
- Sᵀ = S for a name declared symmetric, spd or diagonal, and for sums, inverses,
  powers and products A S Aᵀ of such — on the declared domain (assume);
- sum(y) = 𝟏ᵀy = 1 for a target y of cross_entropy (Y𝟏 = 𝟏 and sum(Y) = m for an m×n matrix of targets):
  an assumption unless y is declared probability or onehot, and then said with the result
  (api._assumptions); the same for the value of an op whose rows sum to 1 (unit_rows: softmax),
  wherever it is defined;
- common factors: Ax + Bx = (A + B)x, c·a + c·b = c(a + b), Σ cᵢ diag(vᵢ) =
  diag(Σ cᵢ vᵢ) — always (factor);
- Kronecker products (kronecker): (A ⊗ B)(C ⊗ D) = AC ⊗ BD when cols(A) = rows(C) and
  cols(B) = rows(D); (a ⊗ B)M = a ⊗ BM and (A ⊗ b)M = AM ⊗ b when a (b) has one column, and
  M(aᵀ ⊗ B) = aᵀ ⊗ MB, M(A ⊗ bᵀ) = MA ⊗ bᵀ when aᵀ (bᵀ) has one row (M = 1 ⊗ M); (B ⊗ A)vec(M) =
  vec(AMBᵀ) and vec(M)ᵀ(B ⊗ A) = vec(AᵀMB)ᵀ; K_mn K_nm = I; K_pm(A ⊗ B)K_nq = B ⊗ A for A m×n,
  B p×q, used where one K is I (A or B a row, or a column); Σ A ⊗ Bᵢ = A ⊗ ΣBᵢ and
  Σ Aᵢ ⊗ B = (ΣAᵢ) ⊗ B — always (Magnus & Neudecker, ch. 2 and 3);
- Hadamard products of sums, and products of scalars, multiplied out, with like
  terms and quotients cancelled (σ ⊙ (𝟏 − σ) ⊘ (𝟏 − σ) = σ) — where the quotients
  are defined, as typed (expand);
- row and column sums of a Hadamard product with a product XY of two inputs,
  summed over the inputs' shape: (XY ⊙ C)𝟏 = (X ⊙ CYᵀ)𝟏, 𝟏ᵀ(XY ⊙ C) = 𝟏ᵀ(Y ⊙ XᵀC)
  — always (row_sums);
- the rewrites toward a textbook's form of textbook.py, each with where it holds.
"""
from __future__ import annotations

from fractions import Fraction
from math import gcd

from . import algebra as alg
from .expr import Expr, charge, postorder


def domains(expr: Expr) -> dict[str, set[str]]:
    """Where each named leaf must lie for the expression to be defined (from the ops' domains)."""
    out: dict[str, set[str]] = {}
    for node in postorder(expr):
        for arg, dom in zip(node.args, node.op.domain):
            if dom is not None and arg.op is alg.SYM:
                out.setdefault(arg.attrs[0], set()).add(dom)
    return out


def assume(expr: Expr, kinds: dict[str, str], doms: dict[str, set[str]]) -> Expr:
    """Use declared symmetry (Sᵀ = S) and probability targets (sum(y) = 1)."""
    symmetric: dict[Expr, bool] = {}
    unit = {n for n, k in kinds.items() if k in ("probability", "onehot")} \
        | {n for n, d in doms.items() if "probability" in d}      # names whose rows sum to 1

    def is_symmetric(n: Expr) -> bool:
        if n not in symmetric:
            op = n.op
            symmetric[n] = (
                op is alg.SYM and kinds.get(n.attrs[0]) in ("symmetric", "spd", "diagonal")
                or op is alg.IDENTITY
                or op in (alg.INV, alg.MATPOW, alg.ADD) and all(is_symmetric(a) for a in n.args)
                or op.name == "diag" and n.args[0].shape[1] == 1
                # a product that is its own transpose once symmetry is used: A S Aᵀ for symmetric S
                or op is alg.MUL and n.shape[0] == n.shape[1] and alg.rewrite(alg.transpose(n), visit) is n)
        return symmetric[n]

    def visit(node: Expr):
        if node.op is alg.TRANSPOSE and is_symmetric(node.args[0]):
            return node.args[0]
        if node.op.name == "sum" and _unit_rows(node.args[0], unit):      # m rows of sum 1; a column: one
            y = node.args[0]
            return alg.size(y.shape[0]) if y.shape[1] != 1 else alg.const(1)
        if node.op is alg.MUL:
            return _unit_row_sums(node, unit)
        return None
    try:
        return alg.rewrite(expr, visit)
    finally:        # closures that call each other are a reference cycle (with the memo's nodes): broken
        del is_symmetric, visit         # here, so reference counting frees them without the collector


def _unit_rows(y: Expr, unit: set[str]) -> bool:
    """Every row of y sums to 1: a name of probability or one-hot rows (declared, or the target of
    cross_entropy), or the value of an op that says so of itself (softmax)."""
    return y.op.unit_rows if hasattr(y.op, "unit_rows") else y.op is alg.SYM and y.attrs[0] in unit


def _unit_row_sums(node: Expr, unit: set[str]) -> Expr | None:
    """Y𝟏 = 𝟏 (Y𝟏𝟏ᵀ = 𝟏𝟏ᵀ) and 𝟏ᵀy = 1 (𝟏𝟏ᵀy = 𝟏) in a product, for a matrix Y (a column y) whose rows
    sum to 1 (_unit_rows): every column of a matrix of ones sums a row."""
    coef, atoms, chain = alg.mul_split(node)
    for i, (a, b) in enumerate(zip(chain, chain[1:])):
        if a.shape[1] != 1 and b.op is alg.ONES and _unit_rows(a, unit):
            return alg.mul_parts(coef, atoms, chain[:i] + [alg.ones((a.shape[0], b.shape[1]))] + chain[i + 2:])
        if b.shape[1] == 1 and b.shape[0] != 1 and a.op is alg.ONES and _unit_rows(b, unit):
            return alg.mul_parts(coef, atoms, chain[:i] + [alg.ones((a.shape[0], 1))] + chain[i + 2:])
    return None


def factor(expr: Expr) -> Expr:
    """Pull common factors out of sums: Ax + Aᵀx → (A + Aᵀ)x, 2a − 2b → 2(a − b)."""
    return alg.rewrite(expr, lambda node: _factor_sum(list(node.args)) if node.op is alg.ADD else None)


def _factor_sum(terms: list[Expr]) -> Expr:
    charge(5 * len(terms))    # the work budget: a term looked at costs about 5 units (13 µs), and a
    # sum of n terms is looked at up to n times (the Hessian of 641 norms: 13 s within the budget)
    terms = _merge_krons(_merge_diagonals(terms))
    if len(terms) == 1:
        return terms[0]
    g = _common_coef(terms)
    if g != 1:
        return alg.scale(g, _factor_sum([alg.scale(1 / g, t) for t in terms]))
    shared = _common_atoms(terms)
    if shared:       # a scalar factor of every term: Aᵀx/(xᵀx) + Ax/(xᵀx) → (A + Aᵀ)x/(xᵀx)
        rest = [alg.mul_parts(1, [(a, -e) for a, e in shared], [t]) for t in terms]
        return alg.mul_parts(1, shared, [_factor_sum(rest)])
    for side in (-1, 0):
        # terms keeping a matrix factor, and (a vector on the right) terms that are scalars times it;
        # no group leaves a term with an identity: not Ax + x → (A + I)x
        groups: dict[tuple, list[int]] = {}
        for i, t in enumerate(terms):
            chain = alg.mul_split(t)[2]
            if len(chain) > 1:
                groups.setdefault((chain[side], 1), []).append(i)
            elif len(chain) == 1 and side == -1 and t.shape[1] == 1:
                groups.setdefault((chain[0], 0), []).append(i)
        best = max((g for g in groups if len(groups[g]) >= 2),
                   key=lambda g: (len(groups[g]), g[1], g[0].key), default=None)
        if best is None:
            continue
        idx = groups[best]
        best = best[0]
        rest = [_remainder(terms[i], side, idx, terms) for i in idx]
        inner = _factor_sum(rest)
        pulled = alg.mul(inner, best) if side == -1 else alg.mul(best, inner)
        taken = set(idx)            # (a set: `i not in idx` on the list was quadratic in a wide sum)
        others = [t for i, t in enumerate(terms) if i not in taken]
        return _factor_sum([pulled] + others) if others else pulled
    return alg.add(*terms)


def _common_atoms(terms) -> list:
    """Scalar factors (with the same exponent) of every term of a sum."""
    first = dict(alg.mul_split(terms[0])[1])
    for t in terms[1:]:
        atoms = dict(alg.mul_split(t)[1])
        first = {a: e for a, e in first.items() if atoms.get(a) == e}
    return sorted(first.items(), key=lambda ae: ae[0].key)


def _remainder(t: Expr, side: int, idx, terms) -> Expr:
    coef, atoms, chain = alg.mul_split(t)
    rest = chain[:-1] if side == -1 else chain[1:]
    return alg.mul_parts(coef, atoms, rest)


def _merge_diagonals(terms: list[Expr]) -> list[Expr]:
    """Σ cᵢ diag(vᵢ) = diag(Σ cᵢ vᵢ)."""
    diags = [t for t in terms if _diag_of(t) is not None]
    if len(diags) < 2:
        return terms
    merged = alg.call("diag", alg.add(*[_diag_of(t) for t in diags]))
    return [merged] + [t for t in terms if _diag_of(t) is None]


def _merge_krons(terms: list[Expr]) -> list[Expr]:
    """Σ cᵢ (A ⊗ Bᵢ) = A ⊗ Σ cᵢ Bᵢ, and Σ cᵢ (Aᵢ ⊗ B) = (Σ cᵢ Aᵢ) ⊗ B."""
    from .ops.kron import kron
    for side in (0, 1):
        groups: dict[Expr, list[int]] = {}
        for i, t in enumerate(terms):
            parts = _kron_of(t)
            if parts is not None:
                groups.setdefault(parts[1][side], []).append(i)
        shared = max(groups, key=lambda g: (len(groups[g]), g.key), default=None)
        if shared is None or len(groups[shared]) < 2:
            continue
        idx = groups[shared]
        rest = alg.add(*[alg.mul_parts(*_kron_of(terms[i])[0], [_kron_of(terms[i])[1][1 - side]]) for i in idx])
        merged = kron(shared, rest) if side == 0 else kron(rest, shared)
        taken = set(idx)
        return _merge_krons([merged] + [t for i, t in enumerate(terms) if i not in taken])
    return terms


def _kron_of(t: Expr):
    """((c, atoms), (A, B)) when t = c·Π atoms·(A ⊗ B), else None."""
    from .ops.kron import KRON
    coef, atoms, chain = alg.mul_split(t)
    if len(chain) == 1 and chain[0].op is KRON:
        return (coef, atoms), chain[0].args
    return None


def kronecker(expr: Expr) -> Expr:
    """The Kronecker rules of the module docstring, on every matrix product."""
    return alg.rewrite(expr, lambda node: _kron_chain(node) if node.op is alg.MUL else None)


def _kron_chain(node: Expr) -> Expr | None:
    out = node
    while out.op is alg.MUL:            # to a fixed point: each rule leaves one factor fewer
        coef, atoms, chain = alg.mul_split(out)
        pair = next(((i, got) for i in range(len(chain) - 1)
                     for got in [_kron_pair(chain[i], chain[i + 1])] if got is not None), None)
        if pair is None:
            break
        i, got = pair
        out = alg.mul_parts(coef, atoms, chain[:i] + [got] + chain[i + 2:])
    return out if out is not node else None


def _kron_pair(x: Expr, y: Expr) -> Expr | None:
    """The product xy of two adjacent factors, where a Kronecker rule shortens it."""
    from .ops.kron import COMMUTATION, KRON, VEC, kron, vec
    if x.op is KRON and y.op is KRON:
        (a, b), (c, d) = x.args, y.args
        if a.shape[1] == c.shape[0] and b.shape[1] == d.shape[0]:
            return kron(alg.mul(a, c), alg.mul(b, d))
        return None
    if x.op is COMMUTATION and y.op is COMMUTATION and x.attrs == y.attrs[::-1]:
        return alg.identity(x.shape[0])                  # K_mn K_nm = I
    # K_pm (A ⊗ B) K_nq = B ⊗ A for A m×n, B p×q, where one of the two K is the identity
    if x.op is KRON and y.op is COMMUTATION and y.attrs == (x.args[0].shape[1], x.args[1].shape[1]) \
            and 1 in (x.args[0].shape[0], x.args[1].shape[0]):
        return kron(x.args[1], x.args[0])
    if y.op is KRON and x.op is COMMUTATION and x.attrs == (y.args[1].shape[0], y.args[0].shape[0]) \
            and 1 in (y.args[0].shape[1], y.args[1].shape[1]):
        return kron(y.args[1], y.args[0])
    if x.op is KRON and y.op is VEC:                     # (B ⊗ A) vec(M) = vec(A M Bᵀ)
        (b, a), m = x.args, y.args[0]
        if a.shape[1] == m.shape[0] and b.shape[1] == m.shape[1]:
            return vec(alg.mul(a, m, alg.transpose(b)))
    if y.op is KRON and x.op is alg.TRANSPOSE and x.args[0].op is VEC:     # vec(M)ᵀ(B ⊗ A) = vec(AᵀMB)ᵀ
        (b, a), m = y.args, x.args[0].args[0]
        if a.shape[0] == m.shape[0] and b.shape[0] == m.shape[1]:
            return alg.transpose(vec(alg.mul(alg.transpose(a), m, b)))
    if x.op is KRON and y.op not in (KRON, COMMUTATION):     # (a ⊗ B)M = a ⊗ BM, (A ⊗ b)M = AM ⊗ b
        a, b = x.args
        if a.shape[1] == 1 and b.shape[1] == y.shape[0]:
            return kron(a, alg.mul(b, y))
        if b.shape[1] == 1 and a.shape[1] == y.shape[0]:
            return kron(alg.mul(a, y), b)
    if y.op is KRON and x.op not in (KRON, COMMUTATION):     # M(aᵀ ⊗ B) = aᵀ ⊗ MB, M(A ⊗ bᵀ) = MA ⊗ bᵀ
        a, b = y.args
        if a.shape[0] == 1 and x.shape[1] == b.shape[0]:
            return kron(a, alg.mul(x, b))
        if b.shape[0] == 1 and x.shape[1] == a.shape[0]:
            return kron(alg.mul(x, a), b)
    return None


def _diag_of(t: Expr):
    """v when t = c·diag(v) with c a scalar, else None."""
    coef, atoms, chain = alg.mul_split(t)
    if len(chain) == 1 and chain[0].op.name == "diag" and chain[0].args[0].shape[1] == 1:
        return alg.mul_parts(coef, atoms, [chain[0].args[0]])
    return None


def _common_coef(terms) -> Fraction:
    coefs = [alg.split_coef(t)[0] for t in terms]
    num = 0
    den = 1
    for c in coefs:
        num = gcd(num, c.numerator)
        den = den * c.denominator // gcd(den, c.denominator)
    g = Fraction(num, den) if num else Fraction(1)
    return g if all(c / g == int(c / g) for c in coefs) else Fraction(1)


def expand(expr: Expr) -> Expr:
    """Multiply out Hadamard products of sums where terms cancel.

    The derivative of the binary cross-entropy comes out as σ ⊙ (𝟏 − σ) ⊙ ((𝟏 − y) ⊘ (𝟏 − σ) −
    y ⊘ σ); multiplied out, the quotients cancel and like terms collect to σ − y. Sums whose terms
    divide by a factor of the product go first (that is where things cancel), then the rest. The
    expansion is kept only when it is smaller and something cancelled (a quotient, or terms that
    collected): σ ⊙ (𝟏 − σ) stays as the textbook writes it. Tried only while it stays small."""
    measure: dict[Expr, tuple[int, int]] = {}       # shared: a deep result is walked once

    def visit(node):
        if _factors(node):
            return _expand_had(node, measure)
        if node.op is alg.MUL and node.shape != (1, 1):        # its scalar factors, as a product of scalars
            coef, atoms, chain = alg.mul_split(node)
            scalars = alg.mul_parts(1, atoms, [])
            done = _expand_had(scalars, measure) if atoms and _factors(scalars) else None
            return alg.mul_parts(coef, [(done, 1)], chain) if done is not None else None
        return None
    return alg.rewrite(expr, visit)


def _factors(node: Expr) -> list | None:
    """The factors (with exponents) of a Hadamard product, or of a product of scalars with no number in
    front (σ(ζ)(1 − σ(ζ))(…) multiplies out as σ ⊙ (𝟏 − σ) ⊙ (…) does); None for anything else."""
    if node.op is alg.HAD:
        return list(zip(node.args, node.attrs[0]))
    if node.op is alg.MUL and node.shape == (1, 1):
        coef, atoms, chain = alg.mul_split(node)
        return atoms if coef == 1 and not chain else None
    return None


_MAX_EXPANDED_TERMS = 16


def _expand_had(node: Expr, measure: dict) -> Expr | None:
    if not any(f.op is alg.ADD for f, _ in _factors(node)):
        return None
    raw: list[Expr] = []
    got = _multiply_out(node, raw, [_MAX_EXPANDED_TERMS])
    if got is None:
        return None
    (size, quotients), (size0, quotients0) = _measure(got, measure), _measure(node, measure)
    cancelled = len(_terms(got)) < len(raw) or quotients < quotients0
    return got if size < size0 and cancelled else None


def _multiply_out(node: Expr, raw: list, budget: list) -> Expr | None:
    """node with every sum factor (exponent 1) distributed, or None when that grows too large.
    raw collects the terms before like terms are collected."""
    parts = _factors(node)
    sums = [(f, e) for f, e in parts if f.op is alg.ADD and e == 1]
    if not sums:
        raw.append(node)
        return node
    budget[0] -= 1             # distributions, counted before going down: sums within sums
    if budget[0] < 0:
        return None
    factors = {f for f, e in parts if e > 0}

    def divides(s):       # a term of s divides by a factor of the product: it cancels there
        return any(f in factors for t in s.args for f, e in _had_parts(t) if e < 0)
    s = max(sums, key=lambda fe: divides(fe[0]))[0]
    rest = [(f, e) for f, e in parts if f is not s]
    terms = []
    for t in s.args:
        term = alg.had_parts(rest + [(t, 1)])
        coef, atoms, chain = alg.mul_split(term) if term.op is alg.MUL else (alg.ONE, [], [term])
        if len(chain) == 1 and chain[0].op is alg.HAD:     # c·(⊙ product): the product is expanded
            inner = _multiply_out(chain[0], raw, budget)
            if inner is None:
                return None
            term = alg.mul_parts(coef, atoms, [inner])
        elif not chain and any(a.op is alg.ADD and x == 1 for a, x in atoms):     # c·(product of scalars)
            inner = _multiply_out(alg.mul_parts(1, atoms, []), raw, budget)
            if inner is None:
                return None
            term = alg.add(*[alg.scale(coef, t) for t in _terms(inner)])
        else:
            raw.append(term)
        terms.extend(_terms(term))
        if len(raw) > _MAX_EXPANDED_TERMS:
            return None
    return alg.add(*terms)


def _terms(t: Expr) -> list:
    """The terms of t as a sum: c·(a + b) gives c·a, c·b."""
    if t.op is alg.ADD:
        return list(t.args)
    if t.op is alg.MUL:
        coef, atoms, chain = alg.mul_split(t)
        if len(chain) == 1 and chain[0].op is alg.ADD:
            return [alg.mul_parts(coef, atoms, [a]) for a in chain[0].args]
    return [t]


def _had_parts(t: Expr) -> list:
    """The Hadamard factors of a term, with exponents (scalar coefficients aside)."""
    coef, atoms, chain = alg.mul_split(t) if t.op is alg.MUL else (alg.ONE, [], [t])
    if len(chain) == 1 and chain[0].op is alg.HAD:
        return list(zip(chain[0].args, chain[0].attrs[0]))
    if not chain and t.shape == (1, 1):
        return atoms
    return [(t, 1)]


def _measure(e: Expr, memo: dict) -> tuple[int, int]:
    """(size as printed, quotients), each occurrence counted; memo keeps what is known."""
    for n in postorder(e, stop=lambda n: n in memo):
        if n not in memo:
            exps = n.attrs[0] if n.op is alg.HAD else n.attrs[1] if n.op is alg.MUL else ()
            own = sum(1 for x in exps if x < 0)
            memo[n] = (1 + sum(memo[a][0] for a in n.args), own + sum(memo[a][1] for a in n.args))
    return memo[e]


def row_sums(expr: Expr) -> Expr:
    """Row and column sums of a Hadamard product with a product of two inputs X, Y (names or their
    transposes), summed over the inputs' shape instead: (XY ⊙ C)𝟏 = (X ⊙ CYᵀ)𝟏 and 𝟏ᵀ(XY ⊙ C) =
    𝟏ᵀ(Y ⊙ XᵀC) — always (Σⱼₖ XᵢₖYₖⱼCᵢⱼ either way). FlashAttention's rowsum(dO ⊙ O) for
    rowsum(dP ⊙ P) (Dao et al. 2022, Algorithm 4)."""
    def leaf(f):
        return f.op is alg.SYM or f.op is alg.TRANSPOSE and f.args[0].op is alg.SYM

    def moved(h: Expr, side: int):
        if h.op is not alg.HAD or len(h.args) != 2 or h.attrs[0] != (1, 1):
            return None
        for p, c in (h.args, h.args[::-1]):
            coef, atoms, chain = alg.mul_split(p)
            if coef == 1 and not atoms and len(chain) == 2 and all(map(leaf, chain)):
                x, y = chain
                return alg.had(x, alg.mul(c, alg.transpose(y))) if side == -1 else \
                    alg.had(y, alg.mul(alg.transpose(x), c))
        return None

    def visit(node: Expr):
        if node.op is not alg.MUL:
            return None
        coef, atoms, chain = alg.mul_split(node)
        for i, (a, b) in enumerate(zip(chain, chain[1:])):
            if b.op is alg.ONES and b.shape[1] == 1 and (got := moved(a, -1)) is not None:
                return alg.mul_parts(coef, atoms, chain[:i] + [got, alg.ones((got.shape[1], 1))] + chain[i + 2:])
            if a.op is alg.ONES and a.shape[0] == 1 and (got := moved(b, 0)) is not None:
                return alg.mul_parts(coef, atoms, chain[:i] + [alg.ones((1, got.shape[0])), got] + chain[i + 2:])
        return None
    return alg.rewrite(expr, visit)


def finish(expr: Expr, kinds: dict[str, str], doms: dict[str, set[str]]) -> Expr:
    from .textbook import tidy
    return tidy(kronecker(factor(kronecker(expand(row_sums(assume(expr, kinds, doms)))))))     # (factoring makes products anew)
