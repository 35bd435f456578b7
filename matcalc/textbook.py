"""Rewrites of a result toward the form a textbook prints, each with where it holds (issue 17).

Run by simplify.finish, on results only, and on the parts of a result a reader can read (READABLE).
Each rewrite holds wherever the expression it rewrites is defined on the inputs' domain, none makes
a result longer, and one bottom-up pass applies them all (so they terminate):
- σ(u) − σ(−u) = tanh(u/2), for every real u: both are (eᵘ − 1)/(eᵘ + 1); with a common scalar
  factor c too (c σ(u) − c σ(−u) = c tanh(u/2));
- 𝟙[u > 0] + 𝟙[−u > 0] = 𝟏 where no entry of u is 0, which is the step's domain (its kink);
- a 1×1 product equals its transpose: xᵀ(λI + Aᵀ)⁻²x = xᵀ(λI + A)⁻²x, kept when it has fewer transposes;
- diag(Mᵀ) = diag(M) for a square M (the diagonal of a transpose): diag(AᵀBᵀ) = diag(BA);
- (G₁⋯Gₖ)⁻¹G₁ = (G₂⋯Gₖ)⁻¹ and Gₖ(G₁⋯Gₖ)⁻¹ = (G₁⋯Gₖ₋₁)⁻¹ when every Gᵢ is square: then the
  product is invertible exactly when every factor is, so where the left side is defined the right
  is, with the same value: Aᵀ(AXB)⁻ᵀBᵀ = X⁻ᵀ;
- a ⊙ b + a ⊙ c = a ⊙ (b + c), always, and a ⊘ f + b ⊘ f² = (a ⊙ f + b) ⊘ f² where f has no
  zero entry (as the left side needs), when that prints shorter;
- u ⊙ v = diag(v)u and (wᵀu)v = vwᵀu, always: a sum of such terms in one vector u is written as a
  matrix times u when that prints shorter: Kᵀ((Vc) ⊙ s − (sᵀVc)s) = Kᵀ(diag(s) − ssᵀ)Vc;
- exp(u) = sum(exp(u)) softmax(u) for every real vector u (the definition of softmax), used only
  when every sum(exp(u)) then cancels: diag(exp(z))/t − exp(z)exp(z)ᵀ/t², t = sum(exp(z)), is
  diag(s) − ssᵀ;
- k·mean(X) = sum(X) where k, among the factors of a product, is X's number of entries mn, always
  (mean(X) = sum(X)/(mn)): sum(x) − n mean(x) = 0 for x of length n.
"""
from __future__ import annotations

from fractions import Fraction

from . import algebra as alg
from .expr import Expr, postorder
from .ops.elementwise import EXP, SIGMOID, STEP
from .ops.linalg import DIAG, SUM
from .ops.reductions import MEAN
from .ops.nn import SOFTMAX
from .shapes import is_column


def tidy(expr: Expr) -> Expr:
    return alg.rewrite(_softmax_of_exp(expr), _visit)


def _softmax_of_exp(expr: Expr) -> Expr:
    """exp(u) as sum(exp(u)) softmax(u), where every sum(exp(u)) then cancels (module docstring)."""
    from .simplify import expand, factor
    if expr.tree_size > READABLE:
        return expr
    sums = [n for n in postorder(expr) if n.op is SUM and n.args[0].op is EXP and is_column(n.args[0].shape)]
    for t in sums:
        e, u = t.args[0], t.args[0].args[0]
        held = alg.sym("sum(exp(u))", (1, 1), "scalar")       # not a name one can type: it cannot clash
        kept = alg.rewrite(expr, lambda n: held if n is t else None)
        new = factor(expand(alg.rewrite(kept, lambda n: alg.mul(held, SOFTMAX.build(u)) if n is e else None)))
        if not any(n is held for n in postorder(new)):
            expr = new
    return expr


# A textbook form matters where a reader reads: a larger subexpression is left as it is, so that the
# rewrites, which transpose and print what they compare, cost at most a constant for each node.
READABLE = 200


def _visit(node: Expr) -> Expr | None:
    if node.tree_size > READABLE:
        return None
    if node.op is alg.ADD:
        return _pairs(node) or _common_hadamard(node) or _as_matrix_times_vector(node)
    if node.op is alg.MUL:
        return _cancel_inverses(node) or _fewer_transposes_of_scalar(node) or _sum_of_mean(node)
    if node.op is DIAG and not is_column(node.args[0].shape):
        flipped = alg.call("diag", alg.transpose(node.args[0]))
        return flipped if _transposes(flipped) < _transposes(node) else None
    return None


def _sum_of_mean(node: Expr) -> Expr | None:
    """k·mean(X) → sum(X) where the product's factors hold X's number of entries mn (module docstring);
    only where every size of mn cancels, and a number factor too, so that it prints shorter."""
    coef, atoms, chain = alg.mul_split(node)
    exps = dict(atoms)
    for a, x in atoms:
        if a.op is MEAN and x == 1:
            c, sizes, _ = alg.mul_split(alg.count(a.args[0].shape))
            if (coef / c).denominator == 1 and all(exps.get(s, 0) >= e for s, e in sizes):
                less = dict(sizes)
                rest = [(s, e - less.get(s, 0)) for s, e in atoms if s is not a]
                return alg.mul_parts(coef / c, rest + [(alg.call("sum", a.args[0]), 1)], chain)
    return None


# ------------------------------------------------------------------ pairs of terms in a sum

def _pairs(node: Expr) -> Expr | None:
    """σ(u) − σ(−u) → tanh(u/2) and 𝟙[u > 0] + 𝟙[−u > 0] → 𝟏, between terms with the same scalar factors."""
    terms = list(node.args)
    found = {}
    for i, t in enumerate(terms):
        coef, atoms, chain = alg.mul_split(t) if t.op is alg.MUL else (Fraction(1), [], [t])
        if len(chain) == 1 and chain[0].op in (SIGMOID, STEP):
            found[(chain[0].op, chain[0].args[0], tuple(atoms))] = (i, coef)
    done, out = set(), []
    for (op, u, atoms), (i, c) in found.items():
        j, c2 = found.get((op, alg.neg(u), atoms), (None, None))
        if j is None or i in done or j in done or (op is SIGMOID and c2 != -c) or (op is STEP and c2 != c):
            continue
        done |= {i, j}
        pair = alg.call("tanh", alg.scale(Fraction(1, 2), u)) if op is SIGMOID else alg.ones(u.shape)
        out.append(alg.mul_parts(c, list(atoms), [pair]))
    if not done:
        return None
    return alg.add(*out, *[t for k, t in enumerate(terms) if k not in done])


def _hadamard_factors(t: Expr):
    """(c, scalar factors, Hadamard factors with exponents) of a term c·(scalars)·(f₁ ⊙ f₂ ⋯), else None."""
    coef, atoms, chain = alg.mul_split(t) if t.op is alg.MUL else (Fraction(1), [], [t])
    if len(chain) == 1 and chain[0].op is alg.HAD:
        return coef, atoms, list(zip(chain[0].args, chain[0].attrs[0]))
    return None


def _common_hadamard(node: Expr) -> Expr | None:
    """a ⊙ b + a ⊙ c → a ⊙ (b + c), and a ⊘ f + b ⊘ f² → (a ⊙ f + b) ⊘ f²: a factor of every term's
    Hadamard product (as a divisor, its highest power: where f ≠ 0, as the terms already need); kept
    when it prints shorter."""
    parts = [_hadamard_factors(t) for t in node.args]
    if any(p is None for p in parts):
        return None
    powers = [dict(fs) for _, _, fs in parts]
    common = {}
    for f in set(powers[0]).intersection(*powers[1:]):
        xs = [p[f] for p in powers]
        if all(x > 0 for x in xs) or all(x < 0 for x in xs):
            common[f] = min(xs)           # the lowest power of a factor, the highest of a divisor
    if not common:
        return None
    rest = [alg.mul_parts(c, atoms, [alg.had_parts([(f, x - common.get(f, 0)) for f, x in fs])])
            for c, atoms, fs in parts]
    from .printing import text
    from .simplify import _terms
    numerator = alg.add(*[t for r in rest for t in _terms(r)])         # 2(x² + 𝟏) − 4x² = 2·𝟏 − 2x²
    new = alg.had_parts(sorted(common.items(), key=lambda fx: fx[0].key) + [(numerator, 1)])
    return new if len(text(new)) < len(text(node)) else None


def _times(u: Expr, t: Expr):
    """M with t = M u, when t is c·(scalars)·(u ⊙ v) or c·(scalars)·(wᵀu)·v; else None."""
    coef, atoms, chain = alg.mul_split(t) if t.op is alg.MUL else (Fraction(1), [], [t])
    if len(chain) == 1 and chain[0].op is alg.HAD:
        fs = list(zip(chain[0].args, chain[0].attrs[0]))
        if (u, 1) in fs:
            fs.remove((u, 1))
            return alg.mul_parts(coef, atoms, [alg.call("diag", alg.had_parts(fs))])
    tail = alg.mul_split(u)[2] if u.op is alg.MUL and alg.split_coef(u)[0] == 1 else [u]
    for i, (a, x) in enumerate(atoms):
        c, inner_atoms, inner = alg.mul_split(a) if a.op is alg.MUL else (None, None, [])
        if x == 1 and c == 1 and not inner_atoms and len(inner) > len(tail) and inner[-len(tail):] == tail \
                and len(chain) == 1 and is_column(chain[0].shape):
            return alg.mul_parts(coef, atoms[:i] + atoms[i + 1:], [chain[0], *inner[:-len(tail)]])
    return None


def _as_matrix_times_vector(node: Expr) -> Expr | None:
    """u ⊙ s − (sᵀu)s → (diag(s) − ssᵀ)u, for a vector u of the sum's Hadamard products, when shorter."""
    if not is_column(node.shape) or node.shape == (1, 1):
        return None
    from .printing import text
    for parts in filter(None, map(_hadamard_factors, node.args)):
        for u, x in parts[2]:
            maps = [_times(u, t) for t in node.args]
            if x == 1 and all(m is not None for m in maps):
                new = alg.mul(alg.add(*maps), u)
                if len(text(new)) < len(text(node)):
                    return new
    return None


# ------------------------------------------------------------------ products

def _transposes(e: Expr) -> int:
    return sum(n.op is alg.TRANSPOSE for n in postorder(e))


def _fewer_transposes_of_scalar(node: Expr) -> Expr | None:
    """A 1×1 product as its transpose, when that is written with fewer transposes."""
    coef, atoms, chain = alg.mul_split(node)
    if node.shape != (1, 1) or len(chain) < 2:
        return None
    flipped = alg.mul_parts(coef, atoms, [_transposed(f) for f in reversed(chain)])
    return flipped if _transposes(flipped) < _transposes(node) else None


def _transposed(f: Expr) -> Expr:
    """fᵀ, with an inverse's transpose taken inside it: (M⁻¹)ᵀ = (Mᵀ)⁻¹, always."""
    return alg.inv(alg.transpose(f.args[0])) if f.op is alg.INV else alg.transpose(f)


def _inverted_chain(f: Expr):
    """(G₁, …, Gₖ) when f = (G₁⋯Gₖ)⁻¹ (or its transpose, as (Gₖᵀ⋯G₁ᵀ)⁻¹) with every Gᵢ square, else None."""
    if f.op is alg.TRANSPOSE and f.args[0].op is alg.INV:
        p = alg.transpose(f.args[0].args[0])
    elif f.op is alg.INV:
        p = f.args[0]
    else:
        return None
    if p.op is not alg.MUL:
        return None
    coef, atoms, chain = alg.mul_split(p)
    n = p.shape[0]
    if coef != 1 or atoms or len(chain) < 2 or any(g.shape != (n, n) for g in chain):
        return None
    return chain


def _cancel_inverses(node: Expr) -> Expr | None:
    """(G₁⋯Gₖ)⁻¹G₁ → (G₂⋯Gₖ)⁻¹ and Gₖ(G₁⋯Gₖ)⁻¹ → (G₁⋯Gₖ₋₁)⁻¹, for square Gᵢ (module docstring)."""
    coef, atoms, chain = alg.mul_split(node)
    changed = False
    i = 0
    while i < len(chain):
        gs = _inverted_chain(chain[i])
        if gs is not None and i + 1 < len(chain) and chain[i + 1] is gs[0]:
            chain[i:i + 2] = [alg.inv(alg.mul(*gs[1:]))]
            changed = True
        elif gs is not None and i > 0 and chain[i - 1] is gs[-1]:
            chain[i - 1:i + 1] = [alg.inv(alg.mul(*gs[:-1]))]
            changed, i = True, i - 1
        else:
            i += 1
    return alg.mul_parts(coef, atoms, chain) if changed else None
