"""Printers: matcalc source, unicode text, LaTeX and code (NumPy, PyTorch, JAX).

One printer per target, dispatching on the op; function ops bring their own
templates (text, latex, source, code: see ops/function.py). Shared subexpressions are printed
once and named, as a textbook does (`… where s = softmax(z)`), so results
stay linear in size.
"""
from __future__ import annotations

import keyword
import re
from collections import Counter
from fractions import Fraction

from . import algebra as alg
from .expr import Expr, budget, free_leaves, postorder
from .ops.function import temporary_name
from .ops.linalg import is_diagonal_matrix
from .shapes import Product, is_column, is_row, is_vector, size_code

ADD_P, MUL_P, NEG_P, POW_P, POST_P, ATOM_P = 10, 20, 25, 30, 40, 50
KRON_P = 15     # ⊗ binds looser than a product, as in Magnus & Neudecker: (A ⊗ B)(C ⊗ D) = AC ⊗ BD
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_UNSUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUB_LETTERS = str.maketrans("0123456789aehijklmnoprstuvx²³·", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₂₃ ")
GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "kappa": "κ",
         "lambda": "λ", "mu": "μ", "nu": "ν", "rho": "ρ", "sigma": "σ", "tau": "τ", "omega": "ω",
         "theta": "θ", "phi": "ϕ", "psi": "ψ", "xi": "ξ", "zeta": "ζ", "chi": "χ", "pi": "π",
         "Sigma": "Σ", "Lambda": "Λ", "Omega": "Ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Phi": "Φ",
         "Psi": "Ψ", "Pi": "Π", "eps": "ε"}


def _untranspose_sum(e: Expr):
    terms = [alg.split_coef(t) for t in e.args]
    if all(rest.op is alg.TRANSPOSE for _, rest in terms):
        return alg.add(*[alg.scale(c, rest.args[0]) for c, rest in terms])
    return None


def _fewer_transposes(e: Expr) -> Expr | None:
    """eᵀ when printing (eᵀ)ᵀ saves at least two transposes (Pᵀ ⊙ (VGᵀ − 𝟏𝟏ᵀ(Gᵀ ⊙ VᵀPᵀ)) as
    (P ⊙ (GVᵀ − (G ⊙ PV)𝟏𝟏ᵀ))ᵀ), else None. Only small e are transposed: each costs its size."""
    if e.tree_size > _FLIP_SIZE:
        return None
    t = alg.transpose(e)
    return t if alg.count_transposes(t) + 1 < alg.count_transposes(e) else None


_FLIP_SIZE = 64


def _atom(e: Expr, named=frozenset()) -> bool:
    """A name, a number, 𝟏, I or 0, or a named subexpression, or one of those transposed, inverted,
    raised to a power or with a number in front: x, Xᵀ, X⁻¹, x², 2x, h (for h = σ(Wx))."""
    e = _stripped(e)
    return not e.args or e in named


def _stripped(e: Expr) -> Expr:
    """e without a transpose, an inverse, a power or a number in front: Xᵀ, X⁻¹, X², x∘², 2X read as X."""
    while True:
        if e.op in (alg.TRANSPOSE, alg.INV, alg.MATPOW) or e.op is alg.HAD and len(e.args) == 1:
            e = e.args[0]
        elif e.op is alg.MUL and alg.split_coef(e)[0] != 1:
            e = alg.split_coef(e)[1]
        elif e.op is alg.MUL and len(e.args) == 1 and not alg.mul_split(e)[2]:     # x² of a scalar
            e = e.args[0]
        else:
            return e


TRIVIAL_LEN = 8


def trivial(e: Expr, named=frozenset()) -> bool:
    """Printed in full wherever it occurs, never named: an atom (a name, a number, 𝟏, I or 0, or a
    subexpression already named, up to a transpose, an inverse, a power or a number in front: x,
    Xᵀ, X⁻¹, x², 2x, h), or the same around one operation on atoms that prints in at most TRIVIAL_LEN
    characters as text (Ax, xᵀSx, x − μ, x² + 𝟏, (A + B)⁻¹, ‖x‖, σ(z), det(X), tanh(x), W₁h).
    Everything else is named when it occurs twice: σ(WX), Ax − b, softmax(z), (λI + A)⁻¹."""
    if _atom(e, named):         # 2t for a named t is t
        return True
    e = _stripped(e)
    if not all(_atom(a, named) for a in e.args):
        return False
    pr = TextPrinter()
    pr.share = False
    pr.names = {n: "h" for n in named}        # a name prints in one letter, or two
    return len(pr.run(e)) <= TRIVIAL_LEN


def temp_base(e: Expr) -> str:
    """The letter of a named subexpression, as a textbook names it: its op's own (s for a softmax, h
    for a layer's activation), r for a difference (a residual), a capital for a matrix: H = σ(WX),
    R = WᵀH − X, M = λI + A (M⁻¹ prints its inverse); an op may name its matrix form apart (P for a
    row-wise softmax, where S is the attention scores)."""
    base = e.op.temp_of(e)
    if e.op is alg.ADD and any(alg.split_coef(t)[0] < 0 for t in e.args):
        base = "r"
    if len(base) > 1 or e.shape[0] == 1 or e.shape[1] == 1:
        return base
    return "M" if base == "t" else base.upper()


def _canonical(e: Expr, present) -> Expr:
    """The node that e prints through, and whose name it uses when that node is named: the argument
    of a transpose, an inverse, a matrix power or a number times it (Rᵀ, M⁻¹, 2H); for a sum, the
    one of ±e, ±eᵀ in the result that reads best (X − WᵀH and Xᵀ − HᵀW are R and Rᵀ for
    R = X − WᵀH); for a Hadamard product, eᵀ when that is in the result and prints with fewer
    transposes (_fewer_transposes)."""
    while e.op in (alg.TRANSPOSE, alg.INV, alg.MATPOW) or e.op is alg.MUL and alg.split_coef(e)[0] != 1:
        e = e.args[0] if e.op is not alg.MUL else alg.split_coef(e)[1]
    if e.op is alg.HAD:
        t = _fewer_transposes(e)
        return t if t is not None and t in present else e
    if e.op is not alg.ADD:
        return e
    return min((c for c in _signed_transposes(e) if c is e or c in present and c.op is alg.ADD), key=_reading)


def _signed_transposes(e: Expr):
    """e, −e, eᵀ, −eᵀ; a large sum only ±e (its transpose would cost as much as the sum, for each sum)."""
    if e.tree_size > _TRANSPOSED_SIZE:
        return e, alg.neg(e)
    t = alg.transpose(e)
    return e, alg.neg(e), t, alg.neg(t)


_TRANSPOSED_SIZE = 200


def _sub_sums(order) -> list[Expr]:
    """The sums whose terms are some (not all) of another sum's terms, once for each such sum:
    the flattened a + b + c holds a + b. Only sums that share b's first term are compared, and
    at most _SUB_SUMS of those for each b (naming is for reading; a long result is not read)."""
    sums = [n for n in order if n.op is alg.ADD]
    holding: dict[Expr, list[Expr]] = {}      # a term -> the sums it is a term of
    for a in sums:
        for t in set(a.args):
            holding.setdefault(t, []).append(a)
    out = []
    for b in sums:
        tb = Counter(b.args)
        out += [b for a in holding[b.args[0]][:_SUB_SUMS] if len(b.args) < len(a.args) and not tb - Counter(a.args)]
    return out


_SUB_SUMS = 50


def _reading(e: Expr):
    """Which of a sum's signed transposes to name: a column rather than a row, fewer transposes in
    its terms, more terms added than subtracted; then any fixed order."""
    transposes = sum(f.op is alg.TRANSPOSE for t in e.args for f in (alg.mul_split(t)[2] if t.op is alg.MUL else [t]))
    negatives = sum(alg.split_coef(t)[0] < 0 for t in e.args)
    return is_row(e.shape), transposes, negatives, e.key


def _fmt_num(c: Fraction) -> str:
    return str(c.numerator) if c.denominator == 1 else f"{c.numerator}/{c.denominator}"


class Printer:
    """Precedence-aware printing with shared subexpressions named once."""

    share = True          # name repeated subexpressions
    candidates: set = frozenset()

    def __init__(self):
        self.names: dict[Expr, str] = {}
        self.defs: list[tuple[str, str]] = []

    # ------------------------------------------------------------ entry point
    def run(self, e: Expr, shared: dict | None = None) -> str:
        """Print e; `shared` (node -> name) fixes which nodes are named, as another printer chose."""
        try:
            with budget(what="printing the result"):    # linear in the graph: a safety net
                if shared is not None:
                    self._plan(e)
                    self.candidates = set(shared)
                    self.forced = shared
                elif self.share:
                    self._plan(e)
                return self.operand(e, 0)
        except RecursionError:      # printing recurses once per level: a result ~200 deep (issue 7)
            from .errors import LimitError
            raise LimitError("the result nests too deeply to be printed",
                             hint="differentiate a less deeply nested expression") from None

    forced: dict | None = None

    def _plan(self, root: Expr):
        """Choose the nodes to name: the non-trivial ones used more than once in the printed tree.

        A transpose, an inverse, a power, a number times a node, and the negation of a sum are
        printed through the node (Rᵀ, M⁻¹, 2H, −R), so their uses count as uses of it: R = X − WᵀH
        is named once although the result holds X − WᵀH and Xᵀ − HᵀW."""
        order = postorder(root)
        present = set(order)
        canon = {node: _canonical(node, present) for node in order}
        uses: dict[Expr, int] = {canon[root]: 1}
        for node in order:          # in-degree in the DAG: a node inside a named one counts once
            for a in node.args:
                if canon[a] is not canon[node]:
                    uses[canon[a]] = uses.get(canon[a], 0) + 1
        for part in _sub_sums(order):      # a sum among a longer sum's terms is a use (M − M𝟏𝟏ᵀ/k)
            uses[part] = uses.get(part, 0) + 1
        # a difference printed as the negation of its named partner: X − WᵀH as −R
        self.partner = {node: c for node, c in canon.items() if node.op in (alg.ADD, alg.HAD) and c is not node}
        self.candidates = set()
        for node in order:      # arguments first: what is named is an atom for what holds it (W₁h)
            if uses.get(node, 0) >= 2 and not trivial(node, self.candidates):
                self.candidates.add(node)

    def operand(self, e: Expr, prec: int) -> str:
        if e in self.names:
            return self.names[e]
        negated = self.negated_partner(e, prec)
        if negated is not None:
            return negated
        s, own = self.render(self.scalars_inside(e) or e)
        if self.share and e in self.candidates:
            name = self.shared_name(self.forced[e]) if self.forced is not None else self.new_name(e)
            self.defs.append((name, s))
            self.names[e] = name
            return name
        return self.paren(s) if own < prec else s

    def sign_taken_in(self, coef, atoms, chain):
        """−2Xᵀ(y − Xw) as 2Xᵀ(Xw − y): a minus sign taken into the one difference of a product, its
        added terms first (a node for printing only), unless that difference is named."""
        sums = [i for i, f in enumerate(chain) if f.op is alg.ADD]
        if coef > 0 or len(sums) != 1 or any(a.op is alg.ADD and x == 1 for a, x in atoms):
            return coef, chain
        f = chain[sums[0]]
        if f in self.candidates or f in getattr(self, "partner", {}) or (self.forced and f in self.forced):
            return coef, chain
        terms = [alg.neg(t) for t in f.args]
        positive = [t for t in terms if alg.split_coef(t)[0] > 0]
        if len(positive) < len(terms) - len(positive):        # −2(a + b) stays: not 2(−a − b)
            return coef, chain
        pos = set(positive)         # (a set: `in` on the list is quadratic in a wide sum)
        flipped = Expr(alg.ADD, tuple(positive + [t for t in terms if t not in pos]), (), f.shape)
        return -coef, chain[:sums[0]] + [flipped] + chain[sums[0] + 1:]

    def negated_partner(self, e: Expr, prec: int) -> str | None:
        """−R, Rᵀ or −Rᵀ for a sum that is one of those for a named R, else None."""
        r = getattr(self, "partner", {}).get(e)
        if r is None or r not in self.candidates:
            return None
        transposed = e is not r and e is not alg.neg(r)
        s = self.transpose(Expr(alg.TRANSPOSE, (r,), (), e.shape)) if transposed else self.operand(r, NEG_P + 1)
        if e is alg.neg(r) or e is alg.neg(alg.transpose(r)):
            s = self.neg + s
            return self.paren(s) if NEG_P < prec else s
        return s

    def new_name(self, e: Expr) -> str:
        """The first free temporary of the node's kind (t₁, t₂, ...): an index per kind and the set
        of names that read alike, so that naming n temporaries is linear, not cubic in n."""
        if not hasattr(self, "_next"):
            self._next: dict[str, int] = {}
            self._taken = set(getattr(self, "reserved", set()))
        base = temp_base(e)
        i = self._next.get(base, 1)
        while self.look(self.temp_name(base, i)) in self._taken:
            i += 1
        self._next[base] = i + 1
        name = self.temp_name(base, i)
        self._taken.add(self.look(name))
        return name

    @staticmethod
    def look(name: str) -> str:
        """What two names must differ in (the text printer: how they read once printed)."""
        return name

    def temp_name(self, base, i):
        return f"{base}{i}"

    def shared_name(self, name: str) -> str:
        return name

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
        if op is alg.SIZE:
            return self.size(e.attrs[0]), ATOM_P
        if op is alg.ADD:
            untransposed = _untranspose_sum(e)
            if untransposed is not None:      # xᵀ − mᵀ prints as (x − m)ᵀ
                return self.transpose(Expr(alg.TRANSPOSE, (untransposed,), (), e.shape)), POST_P
            return self.add(e), ADD_P
        if op is alg.MUL:
            return self.mul(e)
        if op is alg.HAD:
            return self.hadamard(e)
        if op is alg.TRANSPOSE:
            return self.transpose(e), POST_P
        if op is alg.INV:
            return self.inv(e), POST_P
        if op is alg.MATPOW:
            return self.matpow(e), POW_P
        return self.function(e), self.infix(e) or ATOM_P

    def infix(self, e: Expr):
        """The precedence of an op printed as an operator (A ⊗ B) in this notation, else None."""
        return getattr(e.op, "infix", None) if self.template in ("text", "latex") else None

    def hadamard(self, e: Expr) -> tuple[str, int]:
        """A Hadamard product; in text and LaTeX through its transpose where that saves transposes
        ((P ⊙ (GVᵀ − …))ᵀ, _fewer_transposes). Code keeps its .T: free, and names stay shared."""
        flipped = _fewer_transposes(e) if self.template in ("text", "latex") else None
        if flipped is not None:
            return self.transpose(Expr(alg.TRANSPOSE, (flipped,), (), e.shape)), POST_P
        return self.had(e)

    def scalars_inside(self, e: Expr) -> Expr | None:
        """c(A ⊗ B) as cA ⊗ B (always: the one infix op, ⊗, is bilinear), so that −X⁻ᵀ ⊗ X⁻¹ and
        2I ⊗ AᵀA need no brackets; a node for printing only. None for anything else."""
        if e.op is not alg.MUL:
            return None
        coef, atoms, chain = alg.mul_split(e)
        if len(chain) != 1 or not self.infix(chain[0]) or chain[0] in self.candidates:
            return None
        k = chain[0]
        return Expr(k.op, (alg.mul_parts(coef, atoms, [k.args[0]]),) + k.args[1:], k.attrs, k.shape)

    def arguments(self, e: Expr, prec: int = 0) -> list[str]:
        """A function's arguments printed; a sized op's sizes (commutation(m, n))."""
        if getattr(e.op, "sized", False):
            return [self.size_arg(d) for d in e.attrs]
        infix = self.infix(e)
        if not infix:
            return [self.operand(a, prec) for a in e.args]
        # the operator is associative (A ⊗ B ⊗ C); a Hadamard product beside it is bracketed
        # although it binds tighter: A ⊙ B ⊗ C misleads
        return [self.operand(a, infix if a.op is e.op else MUL_P + 1 if a.op is alg.HAD else infix + 1)
                for a in e.args]

    def size(self, d) -> str:          # a size as a number in an expression (n = len(x))
        return str(d)

    def size_arg(self, d) -> str:      # a size as the argument of a sized op (commutation(m, n))
        return str(d)

    def add(self, e: Expr) -> str:
        out, terms = [], list(e.args)
        part = self.named_part(e) if self.share else None
        if part is not None:        # M + c for a named M = a + b, where the sum is a + b + c
            out.append(self.operand(part, ADD_P))
            for t in part.args:
                terms.remove(t)
        for i, t in enumerate(terms, start=len(out)):
            c, rest = alg.split_coef(t)
            if c < 0:
                body = self.operand(alg.scale(-c, rest), ADD_P + 1)
                out.append(f"{self.minus} {body}" if i else f"{self.neg}{body}")
            else:
                body = self.operand(t, ADD_P + 1 if i else ADD_P)
                out.append(f"{self.plus} {body}" if i else body)
        return " ".join(out)

    plus, minus, neg = "+", "-", "-"

    def named_part(self, e: Expr) -> Expr | None:
        """The longest named sum whose terms are some of e's (not all), else None."""
        if not hasattr(self, "_named_sums"):      # a term -> the named sums that begin with it
            self._named_sums: dict[Expr, list[Expr]] = {}
            for c in self.candidates:
                if c.op is alg.ADD:
                    self._named_sums.setdefault(c.args[0], []).append(c)
        terms = Counter(e.args)
        parts = [c for t in terms for c in self._named_sums.get(t, ())
                 if len(c.args) < len(e.args) and not Counter(c.args) - terms]
        return max(parts, key=lambda c: len(c.args), default=None)

    def function(self, e: Expr) -> str:
        tpl = getattr(e.op, self.template)
        if callable(tpl):           # the template of this node (ops/function.py)
            tpl = tpl(e)
        return tpl.format(*self.arguments(e))


# =============================================================== matcalc source

class SourcePrinter(Printer):
    """matcalc's own syntax: parses back to the same graph."""

    share = False
    template = "source"

    def sym(self, e):
        return e.attrs[0]

    def number(self, c):
        return _fmt_num(c)

    def size(self, d):
        return f"sum(ones({self.size_arg(d)}))"       # reads back as the size d (len(x) needs a variable of that size)

    def size_arg(self, d) -> str:       # a product of sizes as it reads back: m*n, n^2
        if not isinstance(d, Product):
            return str(d)
        return "*".join(([str(d.coeff)] if d.coeff != 1 else []) + [n if k == 1 else f"{n}^{k}" for n, k in d.powers])

    def filled(self, e):
        r, c = map(self.size_arg, e.shape)
        column, row = e.shape[1] == 1, e.shape[0] == 1
        if e.op is alg.IDENTITY:
            return f"eye({r})"
        if e.op is alg.ONES:
            return f"ones({r})" if column else f"ones({c})'" if row else f"ones({r}, {c})"
        return f"(0*ones({r}))" if column else f"(0*ones({c})')" if row else f"(0*ones({r}, {c}))"

    def mul(self, e):
        coef, atoms, chain = alg.mul_split(e)
        num = [self.operand(a, POW_P + 1) + ("" if x == 1 else f"^{self.operand(alg.const(x), ATOM_P)}" if x > 0 else "")
               for a, x in atoms if x > 0]
        den = [self.operand(a, POW_P + 1) + ("" if x == -1 else f"^{self.operand(alg.const(-x), ATOM_P)}")
               for a, x in atoms if x < 0]
        factors = num + [self.operand(f, MUL_P + 1) for f in chain]
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
            base = self.operand(f, POW_P + 1)
            (num if x > 0 else den).append(base if power == 1 else f"{base}.^{self.operand(alg.const(power), ATOM_P)}")
        if not num:
            num = [self.filled(alg.ones(e.shape))]
        return ".*".join(num) + "".join("./" + d for d in den), MUL_P

    def transpose(self, e):
        return self.operand(e.args[0], POST_P) + "'"

    def inv(self, e):
        return f"inv({self.operand(e.args[0], 0)})"

    def matpow(self, e):
        return f"{self.operand(e.args[0], POW_P + 1)}^{e.attrs[0]}"


def source(e: Expr, limit: int | None = None) -> str:
    """e in matcalc syntax, which names no shared parts: refused with a LimitError past `limit`
    characters (default: the parser's limit, beyond which the text would not parse back), before
    the expansion, which can be exponential in the graph's size, is written."""
    from .errors import LimitError
    from .syntax import MAX_LENGTH
    limit = MAX_LENGTH if limit is None else limit
    tree: dict[Expr, int] = {}
    for node in postorder(e):       # nodes of the expanded tree; each prints at least half a character
        tree[node] = 1 + sum(tree[a] for a in node.args)
    out = SourcePrinter().run(e) if tree[e] <= 2 * limit else ""
    if not out or len(out) > limit:
        raise LimitError(f"the result in matcalc syntax would be longer than {limit:,} characters, the longest "
                         "expression matcalc reads: this notation writes shared parts out in full",
                         hint="text, LaTeX and code name the shared parts (… where s = …)")
    return out


# =============================================================== unicode text

def _sup(x: Fraction) -> str:
    return _fmt_num(x).translate(_SUP) if x.denominator == 1 else f"^({_fmt_num(x)})"


class TextPrinter(Printer):
    """Textbook notation: 2Aᵀ(Ax − b), ‖x‖², σ(z) ⊙ (𝟏 − σ(z)), X⁻ᵀ."""

    template = "text"
    plus, minus, neg = "+", "−", "−"

    def __init__(self, reserved=()):
        super().__init__()
        self.reserved = set(reserved)

    def run(self, e: Expr, shared: dict | None = None) -> str:
        # a temporary never prints like a name of the expression, in text or LaTeX: h₁ is taken
        # by a variable h1 or h_1
        names = set(self.reserved) | {leaf.attrs[0] for leaf in free_leaves(e)}
        self.reserved = {_look(n) for n in names}
        return super().run(e, shared)

    def look(self, name: str) -> str:
        return _look(name)

    def render(self, e: Expr) -> tuple[str, int]:
        if getattr(e.op, "prefix", None):
            return self.prefixed(e.op.prefix, e.args[0]), POST_P
        return super().render(e)

    def function(self, e: Expr) -> str:
        letter = getattr(e.op, "letter", None)
        if letter and _look(letter) in self.reserved:      # a variable σ: sigmoid in full
            return e.op.source.format(*[self.operand(a, 0) for a in e.args])
        power = _diagonal_power(e)
        if power is not None:       # diag(u)⁻², not diag(𝟏 ⊘ u²): the same matrix for an integer power
            return super().function(alg.call("diag", power[0])) + _sup(power[1])
        return super().function(e)

    def size_arg(self, d) -> str:       # K_mn: sizes as subscripts where Unicode has them
        s = str(d)
        sub = s.translate(_SUB_LETTERS)
        return sub if all(c not in sub for c in s if c != "·") else s

    def temp_name(self, base, i):
        if not hasattr(self, "_kinds"):     # how many candidates of each kind (counted once)
            self._kinds = Counter(map(temp_base, self.candidates))
        plain = base if self._kinds[base] == 1 and self.look(base) not in self.reserved else None
        return plain or f"{base}{str(i).translate(_SUB)}"

    def sym(self, e):
        return pretty_name(e.attrs[0])

    def number(self, c):
        return _fmt_num(c)

    def size(self, d):
        return pretty_name(d) if isinstance(d, str) else str(d)

    def filled(self, e):
        if e.op is alg.ONES and e.shape[0] == 1:
            return "𝟏ᵀ"
        if e.op is alg.ONES and e.shape[1] != 1:       # a matrix of ones, as LaTeX writes it too
            return "𝟏𝟏ᵀ"
        return {"zero": "0", "identity": "I", "ones": "𝟏"}[e.op.name]

    def mul(self, e):
        coef, atoms, chain = alg.mul_split(e)
        coef, chain = self.sign_taken_in(coef, atoms, chain)
        # a lone factor after a number needs no brackets: 3x², 2xᵀv (scaling commutes with ⊙)
        alone = len(chain) + sum(1 for _, x in atoms if x > 0) == 1 and not any(x < 0 for _, x in atoms) \
            and coef.denominator == 1
        inner = MUL_P if alone else MUL_P + 1
        c = abs(coef)
        lone = [a for a, x in atoms if x > 0] + chain
        if c.denominator != 1 and c.numerator != 1 and len(lone) == 1 and not any(x < 0 for _, x in atoms) and lone[0].op is alg.HAD:
            # a fraction in front of a Hadamard product, as (3/2) b ⊙ √x: it scales the whole product
            s = f"({_fmt_num(c)}) " + (self.power(*atoms[0], MUL_P) if atoms else self.operand(chain[0], MUL_P))
            return (self.neg + s, NEG_P) if coef < 0 else (s, MUL_P)
        num = [self.power(a, x, inner) for a, x in atoms if x > 0]
        den = [self.power(a, -x, POW_P + 1) for a, x in atoms if x < 0]
        factors = num + [self.operand(f, inner) for f in chain]
        lead = "" if c.numerator == 1 and factors else str(c.numerator)
        s = _juxtapose([lead] + factors if lead else factors)
        if c.denominator != 1:
            den.insert(0, str(c.denominator))
        if den:
            d = den[0] if len(den) == 1 else "(" + _juxtapose(den) + ")"
            s = f"{s or '1'}/{d}"
        if coef < 0:
            return self.neg + s, NEG_P
        return s, MUL_P

    def prefixed(self, sign: str, a: Expr) -> str:
        """√n, √x, √(x + y): a prefix sign, its argument bracketed unless an atom."""
        return sign + self.operand(a, POST_P + 1)

    def power(self, a: Expr, x: Fraction, prec: int) -> str:
        """a^x for x > 0: √a for the square root, as a textbook writes it."""
        if x == Fraction(1, 2):
            return self.prefixed("√", a)
        return self.operand(a, prec if x == 1 else POW_P + 1) + ("" if x == 1 else _sup(x))

    def had(self, e):
        num, den = [], []
        for f, x in zip(e.args, e.attrs[0]):
            if abs(x) == Fraction(1, 2):       # √x, entrywise for a vector or matrix as for a scalar
                (num if x > 0 else den).append(self.power(f, abs(x), POW_P + 1))
                continue
            base = self.operand(f, POW_P + 1)
            power = abs(x)
            mark = "" if power == 1 else (_sup(power) if is_vector(f.shape) else "∘" + _sup(power))
            if mark and base[-1] in "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰":      # (X⁻¹)∘², not X⁻¹∘²
                base = f"({base})"
            (num if x > 0 else den).append(base + mark)
        s = " ⊙ ".join(num) if num else "𝟏"
        return s + "".join(" ⊘ " + d for d in den), MUL_P

    def transpose(self, e):
        a = e.args[0]
        if a.op is alg.INV and a not in self.candidates:
            return self.operand(a.args[0], POST_P + 1) + "⁻ᵀ"
        return self.operand(a, POST_P + 1) + "ᵀ"

    def inv(self, e):
        a = e.args[0]
        if a.op is alg.MATPOW:            # X⁻², (X⁻ᵀ)²: not ((Xᵀ)²)⁻¹
            b, k = a.args[0], str(a.attrs[0]).translate(_SUP)
            if b.op is alg.TRANSPOSE:
                return f"({self.operand(b.args[0], POST_P + 1)}⁻ᵀ){k}"
            return f"{self.operand(b, POST_P + 1)}⁻{k}"
        return self.operand(a, POST_P + 1) + "⁻¹"

    def matpow(self, e):
        return self.operand(e.args[0], POST_P + 1) + str(e.attrs[0]).translate(_SUP)


def _diagonal_power(e: Expr):
    """(u, k) when e = diag(u^∘k) for an integer k ≠ 1, which is diag(u)ᵏ (u ≠ 0 where k < 0, as
    u^∘k needs too), else None."""
    if not is_diagonal_matrix(e):
        return None
    a = e.args[0]
    if a.op is alg.HAD and len(a.args) == 1 and a.attrs[0][0].denominator == 1:
        return a.args[0], a.attrs[0][0]
    return None


def _simple(tok: str) -> bool:
    core = tok.rstrip("ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰₀₁₂₃₄₅₆₇₈₉")
    return len(core) <= 1 or core.startswith("(") and core.endswith(")") or tok.startswith("‖")


def _juxtapose(parts) -> str:
    """2Aᵀ(Ax − b), xᵀAx; a space only around multi-letter factors (Aᵀ diag(s) A)."""
    out, last = "", None
    for tok in parts:
        after_number = last is not None and last.isdigit() and (tok[0].isalpha() or tok[0] == "√") \
            and (len(tok) == 1 or not (tok[1].isascii() and tok[1].isalpha()))   # 2xᵀv, 2σ(x), 2 tr(X)
        if last is not None and not after_number and not (_simple(tok) and (_simple(last) or last.isdigit())):
            out += " "
        out += tok
        last = tok
    return out


def pretty_name(name: str) -> str:
    if name in GREEK:
        return GREEK[name]
    head = name.rstrip("0123456789")
    if head != name and head and "_" not in name:
        return pretty_name(head) + name[len(head):].translate(_SUB)
    return name


def _look(name: str) -> str:
    """How a name reads once printed: h1, h_1 and h₁ all read h1."""
    return pretty_name(name).replace("_", "").translate(_UNSUB)


def text(e: Expr, reserved=()) -> str:
    pr = TextPrinter(reserved)
    main = pr.run(e)
    if pr.defs:
        main += "  where " + ", ".join(f"{n} = {s}" for n, s in pr.defs)
    return main


def shared_names(e: Expr, reserved=()) -> dict:
    """The subexpressions the text printer names, with their names: every printer names the same."""
    pr = TextPrinter(reserved)
    pr.run(e)
    return dict(pr.names)


# =============================================================== LaTeX

_LGREEK = {k: "\\" + k for k in GREEK}
_LGREEK["epsilon"] = _LGREEK["eps"] = r"\varepsilon"
_LGREEK["phi"] = r"\phi"
_ACCENTS = {"hat": r"\hat", "bar": r"\bar", "tilde": r"\tilde"}
_UNSUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUB_LETTERS = str.maketrans("0123456789aehijklmnoprstuvx²³·", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₂₃ ")
_ENDS_WITH_SUP = re.compile(r"\^(\{[^{}]*\}|\\[A-Za-z]+|[0-9A-Za-z])$")
_ENDS_WITH_CMD = re.compile(r"\\[A-Za-z]+$")

def _tall(s: str) -> bool:
    return r"\frac" in s or r"\left" in s


def _delim(left: str, right: str, s: str) -> str:
    """Delimiters around s: plain, or \\left ... \\right when s is tall (holds a fraction)."""
    return rf"\left{left}{s}\right{right}" if _tall(s) else f"{left}{s}{right}"


def _juxt(parts) -> str:
    """Juxtapose factors: 2\\mathbf{A}^\\top(\\mathbf{A}\\mathbf{x} - \\mathbf{b}); a space only where a
    control word would otherwise run into a letter (\\lambda x, \\top x)."""
    out = ""
    for tok in parts:
        if out and _ENDS_WITH_CMD.search(out) and tok[:1].isalnum():
            out += " "
        out += tok
    return out


def _is_row(shape) -> bool:
    return shape[0] == 1 and shape[1] != 1


class LatexPrinter(Printer):
    """Textbook LaTeX: 2\\mathbf{A}^\\top(\\mathbf{A}\\mathbf{x} - \\mathbf{b}), \\|\\mathbf{x}\\|_2^{2},
    \\operatorname{tr}, \\log\\det, \\odot, \\oslash, \\sigma; bold vectors and matrices (style 'bold')
    or plain letters (style 'plain'). Needs amsmath and amssymb only."""

    template = "latex"
    plus, minus, neg = "+", "-", "-"

    def __init__(self, style="bold", reserved=()):
        super().__init__()
        self.style = style
        self.reserved = set(reserved)

    # ------------------------------------------------------------ naming and grouping
    def operand(self, e: Expr, prec: int) -> str:
        if e in self.names:
            return self.names[e]
        negated = self.negated_partner(e, prec)
        if negated is not None:
            return negated
        s, own = self.render(self.scalars_inside(e) or e)
        if self.forced and e in self.forced:       # the text printer's shared names, shape-aware
            name = latex_name(self.forced[e].translate(_UNSUB), e.shape, self.style)
            self.defs.append((name, s))
            self.names[e] = name
            return name
        return self.paren(s) if own < prec else s

    def paren(self, s):
        return _delim("(", ")", s)

    def sup(self, base: str, exp: str) -> str:
        if _ENDS_WITH_SUP.search(base):            # no double superscripts: (X^{2})^\top
            base = self.paren(base)
        return f"{base}^{exp}" if exp == r"\top" else f"{base}^{{{exp}}}"

    # ------------------------------------------------------------ dispatch
    def render(self, e: Expr) -> tuple[str, int]:
        op = e.op
        if _is_row(e.shape) and (op is alg.ADD or op is alg.HAD or getattr(op, "elementwise", False)):
            # a row vector sum or elementwise result is written as a transposed column: (x - mu)^T
            return self.sup(self.operand(alg.transpose(e), POST_P + 1), r"\top"), POST_P
        if op is alg.SYM:
            return latex_name(e.attrs[0], e.shape, self.style), ATOM_P
        if op is alg.CONST:
            c = e.attrs[0]
            return ("-" + self.number(-c), NEG_P) if c < 0 else (self.number(c), ATOM_P)
        if op in (alg.ZERO, alg.IDENTITY, alg.ONES):
            return self.filled(e)
        if op is alg.SIZE:
            return latex_size(e.attrs[0]), ATOM_P
        if op is alg.ADD:
            return self.add(e), ADD_P
        if op is alg.MUL:
            return self.mul(e)
        if op is alg.HAD:
            return self.hadamard(e)
        if op is alg.TRANSPOSE:
            return self.transpose(e), POST_P
        if op is alg.INV:
            a = e.args[0]
            if a.op is alg.MATPOW:        # X^{-2}, (X^{-\top})^{2}
                b, k = a.args[0], str(a.attrs[0])
                if b.op is alg.TRANSPOSE:
                    return self.sup(self.paren(self.sup(self.operand(b.args[0], POST_P + 1), r"-\top")), k), POST_P
                return self.sup(self.operand(b, POST_P + 1), "-" + k), POST_P
            return self.sup(self.operand(a, POST_P + 1), "-1"), POST_P
        if op is alg.MATPOW:
            return self.sup(self.operand(e.args[0], POST_P + 1), str(e.attrs[0])), POW_P
        return self.function(e)

    def number(self, c):
        return str(c.numerator) if c.denominator == 1 else rf"\frac{{{c.numerator}}}{{{c.denominator}}}"

    def filled(self, e):
        r, c = e.shape
        if e.op is alg.IDENTITY:
            return (r"\mathbf{I}" if self.style == "bold" else "I"), ATOM_P
        v = r"\mathbf{1}" if e.op is alg.ONES else r"\mathbf{0}"
        if c == 1:
            return v, ATOM_P
        if r == 1:
            return v + r"^\top", POST_P
        return (v + v + r"^\top", MUL_P) if e.op is alg.ONES else (v, ATOM_P)

    def mul(self, e):
        coef, atoms, chain = alg.mul_split(e)
        coef, chain = self.sign_taken_in(coef, atoms, chain)
        num = [(a, x) for a, x in atoms if x > 0]
        den = [(a, -x) for a, x in atoms if x < 0]
        c = abs(coef)
        group = len(num) + len(chain)
        if den:
            lead = str(c.numerator) if c.numerator != 1 else ""
        elif c.denominator != 1:
            lead = self.number(c)
        else:
            lead = str(c.numerator) if c.numerator != 1 or not group else ""
        signed = coef < 0 and not den     # -(a + b): the sign binds like a factor
        top = [self.power(a, x, group, bool(lead) or signed) for a, x in num]
        top += [self.operand(f, MUL_P + 1 if group > 1 or lead else MUL_P if signed else 0) for f in chain]
        s = _juxt(([lead] if lead else []) + top)
        if den:
            bottom = ([str(c.denominator)] if c.denominator != 1 else []) + \
                     [self.power(a, x, len(den), c.denominator != 1) for a, x in den]
            if _tall(s):      # no fraction in a numerator: \frac{1}{\|a\|}\left(\frac{a}{b} - ...\right)
                top = [self.power(a, x, group, True) for a, x in num] + [self.operand(f, MUL_P + 1) for f in chain]
                s = _juxt([rf"\frac{{{lead or '1'}}}{{{_juxt(bottom)}}}"] + top)
            else:
                s = rf"\frac{{{s or '1'}}}{{{_juxt(bottom)}}}"
        return ("-" + s, NEG_P) if coef < 0 else (s, MUL_P)

    def power(self, a: Expr, x, group: int, lead: bool) -> str:
        """A scalar factor a^x among `group` factors (lead: a number stands in front)."""
        if x == 1:
            return self.operand(a, MUL_P + 1 if group > 1 else MUL_P if lead else 0)
        if x == Fraction(1, 2):
            return rf"\sqrt{{{self.operand(a, 0)}}}"
        return self.sup(self.operand(a, POW_P + 1), _fmt_num(x))

    def had(self, e):
        num, den = [], []
        for f, x in zip(e.args, e.attrs[0]):
            base = self.operand(f, POW_P + 1)
            power = abs(x)
            if power == Fraction(1, 2):
                base = rf"\sqrt{{{self.operand(f, 0)}}}"
            (num if x > 0 else den).append(base if power in (1, Fraction(1, 2)) else
                                           self.sup(base, r"\circ " + _fmt_num(power)))
        if len(num) == 1 and not den:
            return num[0], POW_P
        if not num:          # 𝟏 ⊘ x; a matrix of ones is a product, bracketed before ⊘: (𝟏𝟏ᵀ) ⊘ X
            ones, prec = self.filled(alg.ones(e.shape))
            num = [ones if prec > MUL_P else self.paren(ones)]
        s = r" \odot ".join(num)
        return s + "".join(r" \oslash " + d for d in den), MUL_P

    def transpose(self, e):
        a = e.args[0]
        if a.op is alg.INV and a not in self.candidates:
            return self.sup(self.operand(a.args[0], POST_P + 1), r"-\top")
        return self.sup(self.operand(a, POST_P + 1), r"\top")

    def function(self, e):
        op = e.op
        if op.letter and op.letter in self.reserved:   # a variable is called sigma: sigmoid in full
            args = ", ".join(self.operand(a, 0) for a in e.args)
            return r"\operatorname{" + op.names[0].replace("_", r"\_") + "}" + self.paren(args), ATOM_P
        power = _diagonal_power(e)
        if power is not None:
            return self.sup(self.function(alg.call("diag", power[0]))[0], _fmt_num(power[1])), POST_P
        if callable(op.latex):
            return op.latex(self, e)
        args = self.arguments(e)
        tpl = op.latex if any(_tall(a) for a in args) else _plain_delimiters(op.latex)
        return tpl.format(*args), self.infix(e) or ATOM_P


def _plain_delimiters(tpl: str) -> str:
    """A template's \\left( ... \\right) as plain ( ... ): no argument is tall enough to need them."""
    return _LEFT_RIGHT.sub("", tpl)


_LEFT_RIGHT = re.compile(r"\\(left|right)(?=[()\[\]|.]|\\[|{}]|\\[lr]vert)")


def latex_size(d) -> str:
    """A size in LaTeX: n, or a product of sizes (mn, 2n^{2})."""
    if isinstance(d, str):
        return latex_name(d)
    sep = "" if all(len(n) == 1 for n, _ in d.powers) else r" \cdot "
    body = sep.join(latex_name(n) + (f"^{{{e}}}" if e != 1 else "") for n, e in d.powers)
    return (f"{d.coeff}" if d.coeff != 1 else "") + body


def latex_name(name: str, shape=(1, 1), style="bold") -> str:
    """A name in LaTeX: x -> \\mathbf{x}, W1 -> \\mathbf{W}_{1}, lambda -> \\lambda,
    Sigma -> \\boldsymbol{\\Sigma}, y_hat -> \\hat{\\mathbf{y}}, x_i -> \\mathbf{x}_{i},
    y_true -> \\mathbf{y}_{\\mathrm{true}}. Scalars (shape 1×1) are never bold."""
    bold = style == "bold" and tuple(shape) != (1, 1)
    parts = name.split("_")
    if any(not part for part in parts):            # x_, a__b: the whole name, underscores escaped
        body = name.replace("_", r"\_")
        return rf"\mathbf{{{body}}}" if bold else rf"\mathrm{{{body}}}"
    base, mods = parts[0], parts[1:]
    accents = []
    while mods and mods[0] in _ACCENTS:
        accents.append(mods.pop(0))
    subs = []
    head = base.rstrip("0123456789")
    if head and head != base:
        subs.append(base[len(head):])
        base = head
    if mods:
        rest = "_".join(mods)
        subs.append(rest if rest.isdigit() or len(rest) == 1 else r"\mathrm{" + rest.replace("_", r"\_") + "}")
    if base in _LGREEK:
        core = _LGREEK[base]
        if bold:
            core = rf"\boldsymbol{{{core}}}"
    elif len(base) == 1:
        core = rf"\mathbf{{{base}}}" if bold else base
    else:
        core = rf"\mathbf{{{base}}}" if bold else rf"\mathrm{{{base}}}"
    for acc in accents:
        core = f"{_ACCENTS[acc]}{{{core}}}"
    return core + (f"_{{{','.join(subs)}}}" if subs else "")


def latex_parts(e: Expr, style="bold", reserved=()) -> tuple[str, list[tuple[str, str]]]:
    """The LaTeX of e and its named shared subexpressions [(name, definition)], in order of use."""
    pr = LatexPrinter(style, reserved)
    main = pr.run(e, shared_names(e, reserved))
    return main, list(pr.defs)


def latex(e: Expr, style="bold", reserved=()) -> str:
    main, defs = latex_parts(e, style, reserved)
    if defs:
        main += r",\quad \text{where } " + r",\; ".join(f"{n} = {s}" for n, s in defs)
    return main


# =============================================================== code (1-D vectors)

class CodePrinter(Printer):
    """Python code over one backend's namespace (NumPy by default); vectors are 1-D arrays.

    Alone (Result.numpy) it prints one expression: a shared subexpression is named with := where it
    is first used, an argument a template repeats goes through a lambda. For a generated function
    (codegen.py), `stmt(code, hint) -> name` emits a statement before the current one, the caller
    names the shared subexpressions (self.names), and the module-level lines the code needs are
    collected in self.helpers."""

    template = "code"
    plus, minus, neg = "+", "-", "-"

    def __init__(self, dims: dict, backend=None, params: dict | None = None, stmt=None):
        super().__init__()
        from .backends import NUMPY
        self.dims = dims      # size name -> code giving it at run time, e.g. "A.shape[0]"
        self.be = backend or NUMPY
        self.params = params or {}
        self.stmt = stmt
        self.share = stmt is None
        self.helpers: set[str] = set()
        self.indices: dict[Expr, str] = {}     # a one-hot matrix -> the name of its row indices

    def run(self, e, shared=None):
        return self._in_text_order(super().run(e, shared))

    def _plan(self, root):
        """Text names M = λI + A and prints M⁻¹, and writes a small inverse out twice for the reader;
        code computes every inverse used more than once, once (n³ each time)."""
        super()._plan(root)
        order = postorder(root)
        uses = Counter(inner for node in order for a in node.args        # X⁻¹ and X⁻ᵀ: uses of X⁻¹
                       for inner in [a.args[0] if a.op is alg.TRANSPOSE else a] if inner.op is alg.INV)
        self.candidates |= {n for n in order if n.op is alg.INV and (n.args[0] in self.candidates or uses[n] >= 2)}

    def operand(self, e, prec):
        if e in self.names:
            return self.names[e]
        negated = self.negated_partner(e, prec) if self.share else None
        if negated is not None:
            return negated
        s, own = self.render(e)
        if self.share and e in self.candidates:
            # a marker now; where it first occurs in the text it becomes (name := ...), after that
            # the name: Python evaluates left to right, and the printer does not visit in that order
            k = len(self.defs)
            self.defs.append((f"_{temp_base(e).lower()}{k + 1}", s))
            self.names[e] = f"\x00{k}\x00"
            return self.names[e]
        return self.paren(s) if own < prec else s

    def add(self, e):
        return self.outer_products(e) or super().add(e)

    def outer_products(self, e) -> str | None:
        """A sum of outer products u₁v₁ᵀ + … + u_kv_kᵀ as one product [u₁ … u_k][v₁ … v_k]ᵀ, or None.

        The m×n result is written once, where k outer products and their sum write it 2k − 1 times:
        bᵀXᵀXc's gradient X(bcᵀ + cbᵀ) = (Xb)cᵀ + (Xc)bᵀ took 5.6× its function's time (issue 15).
        A term applies only if its cheapest order ends in a column times a row (a scalar factor goes
        into the column); a term named for sharing is left to the plain sum."""
        if e.shape[0] == 1 or e.shape[1] == 1:
            return None
        columns, rows = [], []
        for t in e.args:
            if t in self.names or t in self.candidates:
                return None
            coef, atoms, chain = alg.mul_split(t)
            if len(chain) < 2:
                return None
            k = _chain_order(chain)[1][0, len(chain) - 1]
            u, v = alg.mul(*chain[:k + 1]), alg.mul(*chain[k + 1:])
            if not (is_column(u.shape) and is_row(v.shape)):
                return None
            columns.append(self.operand(alg.mul_parts(coef, atoms, [u]), 0))
            rows.append(self.operand(v, 0))
        stack = self.be.columns.format(", ".join(columns), ns=self.be.ns)
        return f"{stack} @ {self.be.ns}.stack(({', '.join(rows)}))"

    def _in_text_order(self, code: str) -> str:
        def items(text):        # "a\x000\x00b" -> "a", 0, "b": text, and the markers' numbers
            return (int(p) if i % 2 else p for i, p in enumerate(text.split("\x00")))
        defined: set[int] = set()
        out: list[str] = []
        stack = [items(code)]          # iteratively: definitions nest as deep as the result
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                out.append(")" if stack else "")
            elif isinstance(item, str):
                out.append(item)
            elif item in defined:
                out.append(self.defs[item][0])
            else:
                defined.add(item)
                out.append(f"({self.defs[item][0]} := ")
                stack.append(items(self.defs[item][1]))
        return "".join(out)

    def dim(self, d) -> str:
        if not isinstance(d, str):
            return size_code(d, self.dim)
        if d not in self.dims:     # eye(k) with no variable of size k (was a KeyError; issue 7)
            from .errors import UnsupportedError
            raise UnsupportedError(f"the size {d} belongs to no variable, so generated code cannot know it",
                                   hint=f"write a number, as in eye(3), or use {d} as the size of a variable")
        return self.dims[d]

    def sym(self, e):
        return self.params.get(e.attrs[0]) or code_name(e.attrs[0])

    def size(self, d):
        return self.dim(d)

    def number(self, c):
        return str(c.numerator) if c.denominator == 1 else f"({c.numerator} / {c.denominator})"

    def filled(self, e):
        r, c = e.shape
        if e.op is alg.IDENTITY:
            return self.be.eye.format(self.dim(r))
        tpl = self.be.ones if e.op is alg.ONES else self.be.zeros
        if is_vector(e.shape):
            return tpl.format(self.dim(r if c == 1 else c))
        return tpl.format(f"({self.dim(r)}, {self.dim(c)})")

    def mul(self, e):
        coef, atoms, chain = alg.mul_split(e)
        spread = _distribute(coef, atoms, chain)
        if spread is not None:
            return self.render(spread)
        inside = _scale_smallest(coef, atoms, chain)
        if inside is not None:
            return self.chain(inside, False), MUL_P
        parts = []
        c = abs(coef)
        if c != 1 or (not atoms and not chain):
            parts.append(self.number(c))
        for a, x in atoms:
            base = self.operand(a, POW_P + 1)
            parts.append(base if x == 1 else f"{base} ** {self.number(x) if x > 0 else '(' + self.number(x) + ')'}"
                         if x.denominator == 1 or x > 0 else f"{base} ** ({_fmt_num(x)})")
        if chain:       # bracketed after a minus too: -A.T @ v would negate the matrix, not the product
            parts.append(self.chain(chain, bool(parts) or coef < 0 and len(chain) > 1))
        s = " * ".join(parts)
        return ("-" + s, NEG_P) if coef < 0 else (s, MUL_P)

    def chain(self, chain, scaled) -> str:
        """The cheapest evaluation order of a matrix product (sizes taken as large, vectors as 1)."""
        n = len(chain)
        if n == 1:
            return self.operand(chain[0], MUL_P + 1 if scaled else MUL_P)
        split = _chain_order(chain)[1]

        def diagonal(i):        # diag(u) as a factor: scale rows or columns, not a dense n×n product
            return self.operand(chain[i].args[0], POST_P)     # (printed once: it may define a shared temporary)

        def build(i, j):
            if i == j:
                return self.operand(chain[i], POST_P)
            k = split[i, j]
            lshape = (chain[i].shape[0], chain[k].shape[1])
            rshape = (chain[k + 1].shape[0], chain[j].shape[1])
            if i == k and is_diagonal_matrix(chain[i]):
                u, right = diagonal(i), build(k + 1, j)
                return f"({u}[:, None] * {right})" if not is_column(rshape) else f"({u} * {right})"
            if k + 1 == j and is_diagonal_matrix(chain[j]):
                left = build(i, k)
                return f"({left} * {diagonal(j)})"
            if i == k and _onehot(chain[i]) or k + 1 == j and _onehot(chain[j]):
                return self.selected(chain[i:k + 1], chain[k + 1:j + 1], build(i, k), build(k + 1, j))
            left, right = build(i, k), build(k + 1, j)
            if is_column(lshape) and is_row(rshape):
                return f"{self.be.ns}.outer({left}, {right})"
            return f"({left} @ {right})"
        out = build(0, n - 1)
        return out[1:-1] if out.startswith("(") and not scaled and _balanced(out[1:-1]) else out

    def selected(self, left, right, lcode, rcode):
        """A product with a matrix of one-hot rows S at one end, as an index: S R = R[i], R Sᵀ = R[..., i],
        Sᵀ R and R S scatter-adds (ops/domains.py draws such S; `i` the rows' argmax, computed once)."""
        on_left = len(left) == 1 and _onehot(left[0]) is not None
        s, transposed = _onehot(left[0] if on_left else right[0])
        index = self.be.onehot_index.format(self.operand(s, 0), ns=self.be.ns)
        if self.stmt is not None:
            index = self.indices.get(s) or self.indices.setdefault(s, self.stmt(index, "i"))
        other = rcode if on_left else lcode
        if on_left != transposed:              # S R or R Sᵀ: a gather
            return f"{other}[{index}]" if on_left else f"{other}[..., {index}]"
        shape = alg.mul(*left, *right).shape
        zeros = self.filled(alg.zero(shape))
        tpl = self.be.scatter_rows if on_left else self.be.scatter_cols
        return tpl.format(i=index, r=_unwrap(other), zeros=zeros)

    def had(self, e):
        num, den = [], []
        for f, x in zip(e.args, e.attrs[0]):
            base = self.operand(f, POW_P + 1)
            power = abs(x)
            (num if x > 0 else den).append(base if power == 1 else f"{base} ** {self.number(power)}")
        s = " * ".join(num) if num else "1"
        return s + "".join(" / " + (d if " " not in d else f"({d})") for d in den), MUL_P

    def transpose(self, e):
        if is_vector(e.shape):
            return self.operand(e.args[0], POST_P)
        return self.operand(e.args[0], POST_P) + ".T"

    def inv(self, e):
        return f"{self.be.ns}.linalg.inv({self.operand(e.args[0], 0)})"

    def matpow(self, e):
        return f"{self.be.ns}.linalg.matrix_power({self.operand(e.args[0], 0)}, {e.attrs[0]})"

    # ------------------------------------------------------------ function ops: their templates
    def size_arg(self, d) -> str:
        return self.dim(d)

    def function(self, e):
        halves = _halves(e.args[0]) if getattr(e.op, "code_product", None) else None
        if halves is not None:
            return e.op.code_product.format(*[self.operand(h, POST_P) for h in halves], ns=self.be.ns)
        tpl = e.op.code_template(self.be.name, e)
        if getattr(e.op, "sized", False):
            return tpl.format(*self.arguments(e), ns=self.be.ns)
        if isinstance(tpl, tuple):          # (first, then): first computed once, named in then
            first, then = tpl
            (hint,) = temporary_name(then)
            code = self.fill(first, e)
            if self.stmt is not None:
                return self.fill(then, e, {hint: self.stmt(_unwrap(code), hint)})
            return f"(lambda _{hint}: {self.fill(then, e, {hint: '_' + hint})})({code})"
        return self.fill(tpl, e)

    def fill(self, tpl: str, e: Expr, names=None) -> str:
        erfc = self.be.erfc if self.stmt is not None else self.be.erfc_inline
        if "{erfc}" in tpl and self.stmt is not None:
            self.helpers.update(self.be.erfc_needs)
        keys = dict(ns=self.be.ns, erfc=erfc, **(names or {}))
        if self.stmt is not None:
            self.helpers.update(line for prefix, line in self.be.submodules if prefix in tpl.format(
                *[""] * len(e.args), **keys))
        if self.stmt is not None:      # arguments that fill a whole call argument need no brackets
            args = [_unwrap(self.operand(a, 0)) if _call_position(tpl, i) else self.operand(a, POST_P)
                    for i, a in enumerate(e.args)]
            return tpl.format(*self._constants(e, args), **keys)
        args = self._constants(e, [self.operand(a, POST_P) for a in e.args])   # templates may apply operators to them
        if any(tpl.count("{%d}" % i) > 1 and not args[i].isidentifier() for i in range(len(args))):
            params = [f"_a{i}" for i in range(len(args))]
            return f"(lambda {', '.join(params)}: {tpl.format(*params, **keys)})({', '.join(args)})"
        return tpl.format(*args, **keys)

    def _constants(self, e, args):
        """A number or a size (no variable in it) as a function's argument, as the backend needs it."""
        if self.be.constant_arg == "{0}":
            return args
        return [self.be.constant_arg.format(s) if a.is_scalar and not free_leaves(a) else s
                for a, s in zip(e.args, args)]

    def repeats(self, e) -> list[int]:
        """Arguments a template uses more than once: a generated function computes them once, before."""
        tpl = e.op.code_template(self.be.name, e) if hasattr(e.op, "code_template") else None
        parts = tpl if isinstance(tpl, tuple) else (tpl,) if tpl else ()
        return [i for i in range(len(e.args)) if sum(part.count("{%d}" % i) for part in parts) > 1]


def _onehot(f: Expr):
    """(S, transposed) for a factor S or Sᵀ, S a matrix declared onehot (each row one-hot), else None."""
    s = f.args[0] if f.op is alg.TRANSPOSE else f
    if s.op is alg.SYM and s.attrs[1] == "onehot" and s.shape[0] != 1 and s.shape[1] != 1:
        return s, f is not s
    return None


def _call_position(tpl: str, i: int) -> bool:
    """True when every {i} in the template is a whole call argument: np.exp({0}) but not {0} ** 2."""
    for m in re.finditer(re.escape("{%d}" % i), tpl):
        before, after = tpl[:m.start()].rstrip(), tpl[m.end():].lstrip()
        if not (before.endswith(("(", ",")) and after.startswith((")", ","))):
            return False
    return True


def _unwrap(code: str) -> str:
    """(a - b) -> a - b, for the right-hand side of an assignment or a whole call argument."""
    while code.startswith("(") and code.endswith(")"):
        depth = 0
        for i, ch in enumerate(code):
            depth += (ch == "(") - (ch == ")")
            if depth == 0 and i < len(code) - 1:
                return code
        code = code[1:-1]
    return code


def _size(d) -> int:
    """A size as the code printer's cost model takes it: 1, or large (every symbolic size alike)."""
    return 1 if d == 1 else 1000


def _entries(shape) -> int:
    return _size(shape[0]) * _size(shape[1])


def _chain_order(chain) -> tuple[dict, dict]:
    """Matrix-chain ordering (Cormen et al., Introduction to Algorithms, 3rd ed., §15.2) under _size:
    cost[i, j], the multiplications of the best order of chain[i..j], and split[i, j], where it splits."""
    n = len(chain)
    dims = [_size(chain[0].shape[0])] + [_size(f.shape[1]) for f in chain]
    cost = {(i, i): 0 for i in range(n)}
    split = {}
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i, j], split[i, j] = min(
                (cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1], k) for k in range(i, j))
    return cost, split


def _halves(m: Expr):
    """(P, Q) with PQ = m, a product of two or more matrices, split where forming P and Q costs least;
    None for anything else."""
    coef, atoms, chain = alg.mul_split(m)
    if coef != 1 or atoms or len(chain) < 2:
        return None
    cost = _chain_order(chain)[0]
    k = min(range(1, len(chain)), key=lambda k: cost[0, k - 1] + cost[k, len(chain) - 1])
    return alg.mul(*chain[:k]), alg.mul(*chain[k:])


def _scale_smallest(coef, atoms, chain):
    """The product's factors with its scalars (coefficient and scalar atoms) applied to its smallest
    factor, when the product has more entries than that factor: 2(uvᵀ) as (2u)vᵀ scales n entries,
    not n². None when scaling the product costs no more (c·Ax: the product is as small as x)."""
    if not chain or (coef == 1 and not atoms):
        return None
    k = min(range(len(chain)), key=lambda i: _entries(chain[i].shape))
    if _entries(chain[k].shape) >= _entries((chain[0].shape[0], chain[-1].shape[1])):
        return None
    return chain[:k] + [alg.mul_parts(coef, atoms, [chain[k]])] + chain[k + 1:]


def _cheap_factor(t: Expr) -> bool:
    """A matrix that multiplies another without a dense product: rank one (a vector in its product)
    or a scaled diagonal matrix (it scales rows or columns)."""
    chain = alg.mul_split(t)[2]
    return any(h.shape[0] == 1 or h.shape[1] == 1 for h in chain) or \
        len(chain) == 1 and is_diagonal_matrix(chain[0])


def _distribute(coef, atoms, chain):
    """A product with a sum of matrices in it, computed term by term when that is cheaper:
    (A + Aᵀ)x as Ax + Aᵀx (two mat-vecs, no n×n sum); X(bcᵀ + cbᵀ) as (Xb)cᵀ + (Xc)bᵀ; a sum of
    cheap factors (rank one or diagonal) between matrices, Wᵀ(diag(s) − ssᵀ)W as Wᵀ(s ⊙ W) − (Wᵀs)(sᵀW):
    one dense product instead of two, and no n×n sum."""
    for i, f in enumerate(chain):
        if f.op is not alg.ADD or f.shape[0] == 1 or f.shape[1] == 1:
            continue
        has_vector = any(g.shape[0] == 1 or g.shape[1] == 1 for g in chain)
        rank_one = all(any(h.shape[0] == 1 or h.shape[1] == 1 for h in alg.mul_split(t)[2]) for t in f.args)
        cheap = len(chain) > 1 and all(_cheap_factor(t) for t in f.args)
        if has_vector or rank_one or cheap:
            return alg.add(*[alg.mul_parts(coef, atoms, chain[:i] + [t] + chain[i + 1:]) for t in f.args])
    return None


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def code_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or name in ("np",) else name


def numpy_code(e: Expr, dims: dict) -> str:
    return CodePrinter(dims).run(e)
