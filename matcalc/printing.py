"""Printers: matcalc source, unicode text, LaTeX and NumPy code.

One printer per target, dispatching on the op; function ops bring their own
templates (text, latex, source, code). Shared subexpressions are printed
once and named, as a textbook does (`… where s = softmax(z)`), so results
stay linear in size.
"""
from __future__ import annotations

import keyword
from fractions import Fraction

from . import algebra as alg
from .expr import Expr, postorder
from .shapes import is_column, is_row, is_vector

ADD_P, MUL_P, NEG_P, POW_P, POST_P, ATOM_P = 10, 20, 25, 30, 40, 50
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "kappa": "κ",
         "lambda": "λ", "mu": "μ", "nu": "ν", "rho": "ρ", "sigma": "σ", "tau": "τ", "omega": "ω",
         "theta": "θ", "phi": "ϕ", "psi": "ψ", "xi": "ξ", "zeta": "ζ", "chi": "χ", "pi": "π",
         "Sigma": "Σ", "Lambda": "Λ", "Omega": "Ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Phi": "Φ",
         "Psi": "Ψ", "Pi": "Π"}


def _fmt_num(c: Fraction) -> str:
    return str(c.numerator) if c.denominator == 1 else f"{c.numerator}/{c.denominator}"


class Printer:
    """Precedence-aware printing with shared subexpressions named once."""

    share = True          # name repeated subexpressions
    min_share_len = 8     # ... when they print at least this long

    def __init__(self):
        self.names: dict[Expr, str] = {}
        self.defs: list[tuple[str, str]] = []

    # ------------------------------------------------------------ entry point
    def run(self, e: Expr) -> str:
        if self.share:
            self._plan(e)
        return self.p(e, 0)

    def _plan(self, root: Expr):
        """Choose the nodes to name: non-trivial ones used more than once in the printed tree."""
        uses: dict[Expr, int] = {root: 1}
        order = postorder(root)
        for node in reversed(order):
            n = uses.get(node, 0)
            for a in node.args:
                uses[a] = min(uses.get(a, 0) + n, 10 ** 6)
        self.candidates = {node for node in order if uses.get(node, 0) >= 2 and self._worth(node)}

    def _worth(self, node: Expr) -> bool:
        if not node.args or node.op in (alg.TRANSPOSE,) and not node.args[0].args:
            return False
        return True

    def p(self, e: Expr, prec: int) -> str:
        if e in self.names:
            return self.names[e]
        s, own = self.render(e)
        if self.share and e in getattr(self, "candidates", ()) and len(s) >= self.min_share_len:
            name = self.new_name(e)
            self.defs.append((name, s))
            self.names[e] = name
            return name
        return self.paren(s) if own < prec else s

    def new_name(self, e: Expr) -> str:
        base = e.op.temp
        used = {n for n, _ in self.defs} | getattr(self, "reserved", set())
        i = 1
        while f"{base}{i}" in used or (i == 1 and base in used and False):
            i += 1
        return self.temp_name(base, i)

    def temp_name(self, base, i):
        return f"{base}{i}"

    def paren(self, s: str) -> str:
        return f"({s})"

    # ------------------------------------------------------------ dispatch
    def render(self, e: Expr) -> tuple[str, int]:
        op = e.op
        if op is alg.SYM:
            return self.sym(e), ATOM_P
        if op is alg.CONST:
            c = e.attrs[0]
            return self.number(abs(c)) if c >= 0 else "-" + self.number(-c), (ATOM_P if c >= 0 and c.denominator == 1 else NEG_P if c.denominator == 1 else MUL_P)
        if op in (alg.ZERO, alg.IDENTITY, alg.ONES):
            return self.filled(e), ATOM_P
        if op is alg.ADD:
            return self.add(e), ADD_P
        if op is alg.MUL:
            return self.mul(e)
        if op is alg.HAD:
            return self.had(e)
        if op is alg.TRANSPOSE:
            return self.transpose(e), POST_P
        if op is alg.INV:
            return self.inv(e), POST_P
        if op is alg.MATPOW:
            return self.matpow(e), POW_P
        return self.function(e), ATOM_P

    def add(self, e: Expr) -> str:
        out = []
        for i, t in enumerate(e.args):
            c, rest = alg.split_coef(t)
            if c < 0:
                body = self.p(alg.scale(-c, rest), ADD_P + 1)
                out.append(f"{self.minus} {body}" if i else f"{self.neg}{body}")
            else:
                body = self.p(t, ADD_P + 1 if i else ADD_P)
                out.append(f"{self.plus} {body}" if i else body)
        return " ".join(out)

    plus, minus, neg = "+", "-", "-"

    def function(self, e: Expr) -> str:
        tpl = getattr(e.op, self.template)
        args = [self.p(a, 0) for a in e.args]
        return tpl(args, e) if callable(tpl) else tpl.format(*args)


# =============================================================== matcalc source

class SourcePrinter(Printer):
    """matcalc's own syntax: parses back to the same graph."""

    share = False
    template = "source"

    def sym(self, e):
        return e.attrs[0]

    def number(self, c):
        return _fmt_num(c)

    def filled(self, e):
        r, c = e.shape
        if e.op is alg.IDENTITY:
            return f"eye({r})"
        if e.op is alg.ONES:
            return f"ones({r})" if c == 1 else f"ones({c})'" if r == 1 else f"ones({r}, {c})"
        return f"(0*ones({r}))" if c == 1 else f"(0*ones({c})')" if r == 1 else f"(0*ones({r}, {c}))"

    def mul(self, e):
        coef, atoms, chain = alg.mul_split(e)
        num = [self.p(a, POW_P + 1) + ("" if x == 1 else f"^{self.p(alg.const(x), ATOM_P + 1)}" if x > 0 else "")
               for a, x in atoms if x > 0]
        den = [self.p(a, POW_P + 1) + ("" if x == -1 else f"^{self.p(alg.const(-x), ATOM_P + 1)}")
               for a, x in atoms if x < 0]
        factors = num + [self.p(f, MUL_P + 1) for f in chain]
        c = abs(coef)
        if c.numerator != 1 or not factors:
            factors.insert(0, str(c.numerator))
        s = "*".join(factors)
        if c.denominator != 1:
            s += f"/{c.denominator}"
        for d in den:
            s += f"/{d}"
        return ("-" + s, NEG_P) if coef < 0 else (s, MUL_P)

    def had(self, e):
        num, den = [], []
        for f, x in zip(e.args, e.attrs[0]):
            power = abs(x)
            base = self.p(f, POW_P + 1)
            (num if x > 0 else den).append(base if power == 1 else f"{base}.^{self.p(alg.const(power), ATOM_P + 1)}")
        if not num:
            num = [self.filled(alg.ones(e.shape))]
        return ".*".join(num) + "".join("./" + d for d in den), MUL_P

    def transpose(self, e):
        return self.p(e.args[0], POST_P) + "'"

    def inv(self, e):
        return f"inv({self.p(e.args[0], 0)})"

    def matpow(self, e):
        return f"{self.p(e.args[0], POW_P + 1)}^{e.attrs[0]}"


def source(e: Expr) -> str:
    return SourcePrinter().run(e)
