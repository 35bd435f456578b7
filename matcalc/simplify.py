"""The last simplification of a result: what holds on the inputs' domain, and common factors.

Runs after differentiation only: a rule such as Sᵀ = S for a symmetric S is
true of the values but not of the function of independent entries, so it
must not be applied to anything that is still to be differentiated.
"""
from __future__ import annotations

from fractions import Fraction
from math import gcd

from . import algebra as alg
from .expr import Expr, postorder


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

    def is_symmetric(n: Expr) -> bool:
        if n not in symmetric:
            op = n.op
            symmetric[n] = (
                op is alg.SYM and kinds.get(n.attrs[0]) in ("symmetric", "spd", "diagonal")
                or op is alg.IDENTITY
                or op in (alg.INV, alg.MATPOW, alg.ADD) and all(is_symmetric(a) for a in n.args)
                or op.name == "diag" and n.args[0].shape[1] == 1)
        return symmetric[n]

    def visit(node: Expr):
        if node.op is alg.TRANSPOSE and is_symmetric(node.args[0]):
            return node.args[0]
        if node.op.name == "sum" and node.args[0].op is alg.SYM \
                and "probability" in doms.get(node.args[0].attrs[0], ()):
            return alg.const(1)
        return None
    return alg.rewrite(expr, visit)


def factor(expr: Expr) -> Expr:
    """Pull common factors out of sums: Ax + Aᵀx → (A + Aᵀ)x, 2a − 2b → 2(a − b)."""
    return alg.rewrite(expr, lambda node: _factor_sum(list(node.args)) if node.op is alg.ADD else None)


def _factor_sum(terms: list[Expr]) -> Expr:
    g = _common_coef(terms)
    if g != 1:
        return alg.scale(g, _factor_sum([alg.scale(1 / g, t) for t in terms]))
    for side in (-1, 0):
        groups: dict[Expr, list[int]] = {}
        for i, t in enumerate(terms):
            chain = alg.mul_split(t)[2]
            if chain:
                groups.setdefault(chain[side], []).append(i)
        # a factor is pulled out only where no term would be left with an identity: not Ax + x → (A + I)x
        best = max((f for f in groups if len(groups[f]) >= 2 and _clean(groups[f], terms, side)),
                   key=lambda f: (len(groups[f]), f.key), default=None)
        if best is None:
            continue
        idx = groups[best]
        rest = [_remainder(terms[i], side, idx, terms) for i in idx]
        inner = _factor_sum(rest)
        pulled = alg.mul(inner, best) if side == -1 else alg.mul(best, inner)
        others = [t for i, t in enumerate(terms) if i not in idx]
        return _factor_sum([pulled] + others) if others else pulled
    return alg.add(*terms)


def _clean(idx, terms, side) -> bool:
    """No remainder may need an identity: every term keeps a matrix factor, or (a vector factored out
    on the right) every remainder is a scalar: 3x + (aᵀb)x → (3 + aᵀb)x."""
    lengths = [len(alg.mul_split(terms[i])[2]) for i in idx]
    if all(n > 1 for n in lengths):
        return True
    return side == -1 and all(n == 1 for n in lengths) and terms[idx[0]].shape[1] == 1


def _remainder(t: Expr, side: int, idx, terms) -> Expr:
    coef, atoms, chain = alg.mul_split(t)
    rest = chain[:-1] if side == -1 else chain[1:]
    return alg.mul_parts(coef, atoms, rest)


def _common_coef(terms) -> Fraction:
    coefs = [alg.split_coef(t)[0] for t in terms]
    num = 0
    den = 1
    for c in coefs:
        num = gcd(num, c.numerator)
        den = den * c.denominator // gcd(den, c.denominator)
    g = Fraction(num, den) if num else Fraction(1)
    return g if all(c / g == int(c / g) for c in coefs) else Fraction(1)


def finish(expr: Expr, kinds: dict[str, str], doms: dict[str, set[str]]) -> Expr:
    return factor(assume(expr, kinds, doms))
