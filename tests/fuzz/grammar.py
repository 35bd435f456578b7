"""Random well-formed matcalc expressions, generated from the grammar of language.md.

Every name has a kind and symbolic sizes (m, n, k) fixed by a declaration, and
only shape-correct expressions are built: each generator is asked for an
expression of a given shape and picks among the operators and functions that
can produce that shape. Operator spellings (`*` `@` `·`, `'` `.T` `^T` `ᵀ`
`transpose()`, `.*` `⊙`, `**` `^`, `tr` `trace`, `−`) and parenthesisation are
random, but parentheses are always added where precedence needs them.

`Gen.tags` marks what is known of an expression's values, so that functions
with a restricted domain (log, sqrt, logdet, ./) get arguments on which they
are defined: "positive" (every entry > 0), "spd" (symmetric positive definite).

Used by tests/test_fuzz.py (bounded runs) and tests/fuzz/long_run.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

import matcalc  # noqa: F401  (registers the ops)
from matcalc.ops.base import FUNCTIONS
from matcalc.ops.function import ZERO

# the elementwise functions of the registry with a derivative (step and sign are its results)
ELEMENTWISE = sorted({op.names[0] for op in FUNCTIONS.values() if getattr(op, "elementwise", False) and op.d != ZERO})

SIZES = ("m", "n", "k")
SCALAR = (1, 1)

# precedence of the printed form (matches matcalc/syntax.py binding powers)
SUM_P, PROD_P, NEG_P, POW_P, POST_P, ATOM_P = 10, 20, 30, 40, 50, 60

SCALAR_NAMES = ("alpha", "beta", "lambda", "t")          # t is declared; lambda is a Python keyword
VECTOR_NAMES = {"m": ("a", "y_hat"), "n": ("x", "y"), "k": ("u", "w2")}


def matrix_names(r, c):
    if r == c:
        return (f"A{r}{c}", f"B{r}{c}", f"S{r}", f"P{r}", f"D{r}")   # plain, plain, symmetric, spd, diagonal
    return (f"A{r}{c}", f"B{r}{c}")


def declaration(name: str, shape) -> str:
    """The --let text of a generated name."""
    r, c = shape
    if shape == SCALAR:
        return "scalar"
    if c == 1:
        return f"vector({r})"
    if name.startswith("S") and r == c:
        return f"symmetric({r})"
    if name.startswith("P") and r == c:
        return f"spd({r})"
    if name.startswith("D") and r == c:
        return f"diagonal({r})"
    return f"matrix({r},{c})"


@dataclass
class Gen:
    text: str
    prec: int
    shape: tuple
    names: dict = field(default_factory=dict)    # name -> shape
    tags: frozenset = frozenset()

    def at(self, prec: int) -> str:
        """The text as an operand that needs at least precedence prec."""
        return self.text if self.prec >= prec else f"({self.text})"


def _merge(*gens) -> dict:
    out = {}
    for g in gens:
        out.update(g.names)
    return out


# forms every shape has, and the method that builds each
ANY_SHAPE = {"sum": "sum", "scaled": "scaled", "divided": "divided", "negated": "negated", "hadamard": "hadamard",
             "elementwise_division": "elementwise_division", "elementwise_power": "elementwise_power",
             "elementwise": "elementwise_function", "nested_power": "nested_power", "signs": "signs"}


class Grammar:
    """Builds expressions with hypothesis' draw; `depth` bounds the nesting."""

    def __init__(self, draw, max_depth: int = 4, safe: bool = True, spellings: bool = True):
        self.draw = draw
        self.max_depth = max_depth
        self.safe = safe              # keep log/sqrt/logdet/./ on their domains
        self.spellings = spellings

    # ------------------------------------------------------------ helpers
    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def coin(self, p=0.5) -> bool:
        return self.draw(st.floats(0, 1)) < p

    def paren(self, g: Gen) -> Gen:
        """Optional redundant parentheses (they must not change the graph)."""
        if g.prec < ATOM_P and self.coin(0.1):
            return Gen(f"({g.text})", ATOM_P, g.shape, g.names, g.tags)
        return g

    def number(self, nonzero=False) -> Gen:
        v = self.choice(("0", "1", "2", "3", "0.5", "1.5", "2.25", "10", ".5", "1e-1", "2E0", "7"))
        if v == "0" and nonzero:
            v = "4"
        return Gen(v, ATOM_P, SCALAR, {}, frozenset({"positive"}) if v not in ("0",) else frozenset())

    def leaf(self, shape) -> Gen:
        r, c = shape
        if shape == SCALAR:
            name = self.choice(SCALAR_NAMES)
        elif c == 1:
            name = self.choice(VECTOR_NAMES[r])
        else:
            name = self.choice(matrix_names(r, c))
        tags = frozenset({"spd", "positive-diag"}) if name.startswith("P") and r == c and c != 1 else frozenset()
        return Gen(name, ATOM_P, shape, {name: shape}, tags)

    def size(self):
        return self.choice(SIZES)

    # spellings
    def times(self):
        return self.choice(("*", "*", "*", " * ", "@", "·")) if self.spellings else "*"

    def minus(self):
        return self.choice(("-", "-", " - ", "−")) if self.spellings else "-"

    def transpose(self, g: Gen) -> Gen:
        shape = (g.shape[1], g.shape[0])
        how = self.choice(("'", "'", ".T", "^T", "ᵀ", "transpose")) if self.spellings else "'"
        if how == "transpose":
            return Gen(f"transpose({g.text})", ATOM_P, shape, g.names, g.tags & {"spd"})
        return Gen(g.at(POST_P) + how, POST_P, shape, g.names, g.tags & {"spd"})

    def call(self, fname, *args: Gen, shape, tags=frozenset()) -> Gen:
        return Gen(f"{fname}({', '.join(a.text for a in args)})", ATOM_P, shape, _merge(*args), tags)

    # ------------------------------------------------------------ entry points
    def expr(self, shape, depth=0) -> Gen:
        if depth >= self.max_depth or self.coin(0.25 if depth else 0.0):
            return self.paren(self.base(shape))
        r, c = shape
        if shape == SCALAR:
            g = self.scalar(depth + 1)
        elif c == 1:
            g = self.vector(r, depth + 1)
        elif r == 1:
            g = self.transpose(self.expr((c, 1), depth + 1))
        else:
            g = self.matrix(r, c, depth + 1)
        return self.paren(g)

    def base(self, shape) -> Gen:
        r, c = shape
        if r == 1 and c != 1:
            return self.transpose(self.leaf((c, 1)))
        if shape != SCALAR and self.coin(0.1):
            return self.filled(shape)
        if shape == SCALAR and self.coin(0.2):
            return self.number()
        return self.leaf(shape)

    def filled(self, shape) -> Gen:
        r, c = shape
        if r == c and self.coin(0.5):
            return Gen(self.choice(("I", f"eye({r})")), ATOM_P, shape, {}, frozenset())
        if c == 1:
            return Gen(f"ones({r})", ATOM_P, shape, {}, frozenset({"positive"}))
        return Gen(f"ones({r}, {c})", ATOM_P, shape, {}, frozenset({"positive"}))

    # ------------------------------------------------------------ shared binary forms
    def sum(self, shape, depth) -> Gen:
        a, b = self.expr(shape, depth), self.expr(shape, depth)
        op = self.choice(("+", " + ", self.minus()))
        tags = a.tags & b.tags & {"positive"} if "+" in op else frozenset()
        return Gen(f"{a.at(SUM_P)}{op}{b.at(SUM_P + 1)}", SUM_P, shape, _merge(a, b), tags)

    def scaled(self, shape, depth) -> Gen:
        s, e = self.expr(SCALAR, depth), self.expr(shape, depth)
        tags = frozenset({"positive"}) if "positive" in s.tags and "positive" in e.tags else frozenset()
        if self.coin():
            return Gen(f"{s.at(PROD_P)}{self.times()}{e.at(PROD_P + 1)}", PROD_P, shape, _merge(s, e), tags)
        return Gen(f"{e.at(PROD_P)}{self.times()}{s.at(PROD_P + 1)}", PROD_P, shape, _merge(s, e), tags)

    def divided(self, shape, depth) -> Gen:
        a, s = self.expr(shape, depth), self.positive(SCALAR, depth)
        return Gen(f"{a.at(PROD_P)}/{s.at(PROD_P + 1)}", PROD_P, shape, _merge(a, s), a.tags & {"positive"})

    def negated(self, shape, depth) -> Gen:
        a = self.expr(shape, depth)
        return Gen(f"{self.minus().strip()}{a.at(NEG_P)}", NEG_P, shape, a.names)

    def hadamard(self, shape, depth) -> Gen:
        a, b = self.expr(shape, depth), self.expr(shape, depth)
        op = self.choice((".*", " .* ", "⊙")) if self.spellings else ".*"
        tags = a.tags & b.tags & {"positive"}
        return Gen(f"{a.at(PROD_P)}{op}{b.at(PROD_P + 1)}", PROD_P, shape, _merge(a, b), tags)

    def elementwise_division(self, shape, depth) -> Gen:
        a, b = self.expr(shape, depth), self.positive(shape, depth)
        return Gen(f"{a.at(PROD_P)}./{b.at(PROD_P + 1)}", PROD_P, shape, _merge(a, b), a.tags & {"positive"})

    def elementwise_power(self, shape, depth) -> Gen:
        if self.coin(0.5):
            a, p = self.positive(shape, depth), self.choice(("0.5", "(1/2)", "-1", "1.5", "2", "3", "-2"))
        else:
            a, p = self.expr(shape, depth), self.choice(("2", "3", "1", "0"))
        op = ".^" if shape != SCALAR or self.coin() else self.choice(("**", "^"))
        tags = a.tags & {"positive"} if p not in ("0",) else frozenset({"positive"})
        return Gen(f"{a.at(POST_P)}{op}{p}", POW_P, shape, a.names, tags)

    def nested_power(self, shape, depth) -> Gen:
        """(a^p)^q, entrywise or of a scalar: the rewrites (a^p)^q = a^(pq), |a|^(pq) and their
        conditions (issue 11). a may be negative; a fractional power of a negative entry is nan,
        as in NumPy, and the verifier draws points where the function is defined."""
        a = self.expr(shape, depth)
        p = self.choice(("2", "3", "-2", "4", "0.5", "(1/3)", "1.5", "-1"))
        q = self.choice(("0.5", "(1/2)", "1.5", "(3/2)", "2", "3", "-0.5", "(1/3)", "(1/4)", "-2"))
        op = ".^" if shape != SCALAR or self.coin() else self.choice(("**", "^"))
        inner = Gen(f"{a.at(POST_P)}{op}{p}", POW_P, shape, a.names, a.tags & {"positive"})
        return Gen(f"({inner.text}){op}{q}", POW_P, shape, a.names, a.tags & {"positive"})

    def signs(self, shape, depth) -> Gen:
        """Square roots and logs of squares, abs and sign, negative numbers: where sign matters."""
        a = self.expr(shape, depth)
        form = self.choice(("sqrt_sq", "log_sq", "abs", "sign_times", "negative_scale", "abs_power"))
        sq = f"{a.at(POST_P)}.^2" if shape != SCALAR else f"{a.at(POST_P)}^2"
        if form == "sqrt_sq":
            return self.call("sqrt", Gen(sq, POW_P, shape, a.names), shape=shape, tags=frozenset())
        if form == "log_sq":
            return self.call("log", Gen(sq, POW_P, shape, a.names), shape=shape)
        if form == "abs":
            return self.call("abs", a, shape=shape)
        if form == "sign_times":
            s = self.call("sign", a, shape=shape)
            return Gen(f"{s.text} .* {a.at(PROD_P + 1)}", PROD_P, shape, a.names)
        if form == "abs_power":
            return Gen(f"abs({a.text}).^{self.choice(('2', '3', '0.5', '-1'))}", POW_P, shape, a.names)
        c = self.choice(("-2", "-0.5", "-1", "-3"))
        return Gen(f"({c})*{a.at(PROD_P + 1)}", PROD_P, shape, a.names)

    def elementwise_function(self, shape, depth) -> Gen:
        f = self.choice(ELEMENTWISE)
        domain = FUNCTIONS[f].domain[0]        # an argument inside the op's domain
        if domain == "positive":
            a = self.positive(shape, depth) if self.safe else self.expr(shape, depth)
        elif domain == "moderate":
            a = self.bounded(shape, depth)
        else:
            a = self.expr(shape, depth)
        tags = frozenset({"positive"}) if f in ("exp", "sigmoid", "softplus") else frozenset()
        return self.call(f, a, shape=shape, tags=tags)

    def bounded(self, shape, depth) -> Gen:
        """An argument for exp: values of moderate size, so exp stays finite."""
        g = self.expr(shape, depth + 1)
        if self.coin(0.5):
            return self.call(self.choice(("sin", "cos", "tanh", "sigmoid")), g, shape=shape)
        return g

    def positive(self, shape, depth) -> Gen:
        """An expression with every entry > 0 (for log, sqrt and denominators)."""
        if not self.safe:
            return self.expr(shape, depth)
        if depth >= self.max_depth:
            if shape == SCALAR:
                return self.number(nonzero=True) if self.coin(0.3) else self.call("exp", self.leaf(SCALAR), shape=SCALAR,
                                                                        tags=frozenset({"positive"}))
            return self.call(self.choice(("exp", "sigmoid", "softplus")), self.leaf(shape), shape=shape,
                             tags=frozenset({"positive"}))
        how = self.choice(("exp", "sigmoid", "softplus", "squares", "norm") if shape == SCALAR
                          else ("exp", "sigmoid", "softplus", "squares"))
        if how == "norm":
            r = self.size()
            g = self.expr((r, 1), depth + 1)
            return Gen(f"norm({g.text})**2 + 1", SUM_P, SCALAR, g.names, frozenset({"positive"}))
        if how == "squares":
            g = self.expr(shape, depth + 1)
            one = "1" if shape == SCALAR else self.filled_ones(shape)
            return Gen(f"{g.at(POST_P)}.^2 + {one}", SUM_P, shape, g.names, frozenset({"positive"}))
        g = self.bounded(shape, depth + 1) if how == "exp" else self.expr(shape, depth + 1)
        return self.call(how, g, shape=shape, tags=frozenset({"positive"}))

    def filled_ones(self, shape) -> str:
        r, c = shape
        return f"ones({r})" if c == 1 else f"ones({r}, {c})"

    # ------------------------------------------------------------ scalars
    def scalar(self, depth) -> Gen:
        form = self.choice(("sum", "sum", "scaled", "product", "divided", "negated", "power", "elementwise",
                            "trace", "det", "logdet", "norm", "norm1", "sum_of", "dot", "quadratic",
                            "logsumexp", "cross_entropy", "hadamard", "elementwise_division"))
        if form in ANY_SHAPE:
            return getattr(self, ANY_SHAPE[form])(SCALAR, depth)
        if form == "product":
            a, b = self.expr(SCALAR, depth), self.expr(SCALAR, depth)
            return Gen(f"{a.at(PROD_P)}{self.times()}{b.at(PROD_P + 1)}", PROD_P, SCALAR, _merge(a, b),
                       a.tags & b.tags & {"positive"})
        if form == "power":
            a = self.positive(SCALAR, depth) if self.coin() else self.expr(SCALAR, depth)
            p = self.choice(("2", "3", "-1", "0.5", "(1/3)", "-2")) if "positive" in a.tags else \
                self.choice(("2", "3", "1", "4"))
            op = self.choice(("**", "^"))
            return Gen(f"{a.at(POST_P)}{op}{p}", POW_P, SCALAR, a.names, a.tags)
        if form == "trace":
            n = self.size()
            a = self.expr((n, n), depth)
            return self.call(self.choice(("tr", "tr", "trace")), a, shape=SCALAR)
        if form == "det":
            n = self.size()
            return self.call("det", self.expr((n, n), depth), shape=SCALAR)
        if form == "logdet":
            n = self.size()
            a = self.spd(n, depth) if self.safe else self.expr((n, n), depth)
            return self.call("logdet", a, shape=SCALAR)
        if form in ("norm", "norm1", "sum_of"):
            r = self.size()
            c = self.choice((1, 1, self.size()))
            a = self.expr((r, c) if self.coin(0.8) else (1, r), depth)
            f = {"norm": "norm", "norm1": "norm1", "sum_of": "sum"}[form]
            g = self.call(f, a, shape=SCALAR)
            if form == "norm" and self.coin():
                return Gen(f"{g.text}{self.choice(('**', '^'))}2", POW_P, SCALAR, g.names)
            return g
        if form == "dot":
            r = self.size()
            a, b = self.expr((r, 1), depth), self.expr((r, 1), depth)
            if self.coin():
                return self.call("dot", a, b, shape=SCALAR)
            return Gen(f"{self.transpose(a).at(PROD_P)}{self.times()}{b.at(PROD_P + 1)}", PROD_P, SCALAR,
                       _merge(a, b))
        if form == "quadratic":
            r, c = self.size(), self.size()
            a, m, b = self.expr((r, 1), depth), self.expr((r, c), depth), self.expr((c, 1), depth)
            # the middle factor in parentheses when it is a product: a' * (s * I) is no chain
            return Gen(f"{self.transpose(a).at(PROD_P)}{self.times()}{m.at(PROD_P + 1)}{self.times()}"
                       f"{b.at(PROD_P + 1)}", PROD_P, SCALAR, _merge(a, m, b))
        if form == "logsumexp":
            return self.call("logsumexp", self.expr((self.size(), 1), depth), shape=SCALAR)
        # cross_entropy(z, y): the target is a (probability) vector name
        r = self.size()
        z = self.expr((r, 1), depth)
        y = self.leaf((r, 1))
        return self.call("cross_entropy", z, y, shape=SCALAR)

    def spd(self, n, depth) -> Gen:
        """A symmetric positive definite n×n expression."""
        form = self.choice(("leaf", "gram", "gram_t", "shift"))
        if form == "leaf":
            return self.leaf_named(f"P{n}", (n, n), frozenset({"spd"}))
        if form == "shift":
            p = self.leaf_named(f"P{n}", (n, n), frozenset({"spd"}))
            g = self.expr((n, n), depth + 1)
            return Gen(f"{p.text} + {g.at(PROD_P)}*{self.transpose(g).at(PROD_P + 1)}", SUM_P, (n, n),
                       _merge(p, g), frozenset({"spd"}))
        k = self.size()
        g = self.expr((n, k) if form == "gram" else (k, n), depth + 1)
        eye = self.choice(("I", f"eye({n})"))
        if form == "gram":
            text = f"{g.at(PROD_P)}*{self.transpose(g).at(PROD_P + 1)} + {eye}"
        else:
            text = f"{self.transpose(g).at(PROD_P)}*{g.at(PROD_P + 1)} + {eye}"
        return Gen(text, SUM_P, (n, n), g.names, frozenset({"spd"}))

    def leaf_named(self, name, shape, tags=frozenset()) -> Gen:
        return Gen(name, ATOM_P, shape, {name: shape}, tags)

    # ------------------------------------------------------------ vectors
    def vector(self, r, depth) -> Gen:
        shape = (r, 1)
        form = self.choice(("sum", "sum", "scaled", "divided", "negated", "matvec", "matvec", "hadamard",
                            "elementwise_division", "elementwise_power", "elementwise", "elementwise",
                            "softmax", "log_softmax", "diag", "transposed_row", "outer_apply"))
        if form in ANY_SHAPE:
            return getattr(self, ANY_SHAPE[form])(shape, depth)
        if form == "matvec":
            c = self.size()
            m, v = self.expr((r, c), depth), self.expr((c, 1), depth)
            return Gen(f"{m.at(PROD_P)}{self.times()}{v.at(PROD_P + 1)}", PROD_P, shape, _merge(m, v))
        if form in ("softmax", "log_softmax"):
            tags = frozenset({"positive"}) if form == "softmax" else frozenset()
            return self.call(form, self.expr(shape, depth), shape=shape, tags=tags)
        if form == "diag":
            return self.call("diag", self.expr((r, r), depth), shape=shape)
        if form == "transposed_row":
            return self.transpose(self.expr((1, r), depth))
        # (row · vector) scalar times a vector, written as a product of three
        c = self.size()
        v, a, b = self.expr(shape, depth), self.expr((c, 1), depth), self.expr((c, 1), depth)
        return Gen(f"{v.at(PROD_P)}{self.times()}{self.transpose(a).at(PROD_P)}{self.times()}{b.at(PROD_P + 1)}",
                   PROD_P, shape, _merge(v, a, b))

    # ------------------------------------------------------------ matrices
    def matrix(self, r, c, depth) -> Gen:
        shape = (r, c)
        forms = ["sum", "sum", "scaled", "divided", "negated", "product", "product", "transposed", "outer",
                 "hadamard", "elementwise_division", "elementwise_power", "elementwise"]
        if r == c:
            forms += ["inv", "inv", "matpow", "diag_of", "identity_shift"]
        form = self.choice(tuple(forms))
        if form in ANY_SHAPE:
            return getattr(self, ANY_SHAPE[form])(shape, depth)
        if form == "product":
            k = self.size()
            a, b = self.expr((r, k), depth), self.expr((k, c), depth)
            return Gen(f"{a.at(PROD_P)}{self.times()}{b.at(PROD_P + 1)}", PROD_P, shape, _merge(a, b))
        if form == "transposed":
            return self.transpose(self.expr((c, r), depth))
        if form == "outer":
            u, v = self.expr((r, 1), depth), self.expr((c, 1), depth)
            return Gen(f"{u.at(PROD_P)}{self.times()}{self.transpose(v).at(PROD_P + 1)}", PROD_P, shape,
                       _merge(u, v))
        if form == "inv":
            a = self.expr(shape, depth)
            if self.coin(0.7):
                return self.call("inv", a, shape=shape, tags=a.tags & {"spd"})
            return Gen(f"{a.at(POST_P)}{self.choice(('^', '**'))}-1", POW_P, shape, a.names, a.tags & {"spd"})
        if form == "matpow":
            a = self.expr(shape, depth)
            p = self.choice(("2", "3", "-2", "0", "1"))
            return Gen(f"{a.at(POST_P)}{self.choice(('^', '**'))}{p}", POW_P, shape, a.names)
        if form == "diag_of":
            return self.call("diag", self.expr((r, 1), depth), shape=shape)
        a = self.expr(shape, depth)
        eye = self.choice(("I", f"eye({r})"))
        return Gen(f"{a.at(SUM_P)} + {eye}", SUM_P, shape, a.names)


@st.composite
def expressions(draw, shape=SCALAR, max_depth=4, safe=True, spellings=True):
    """(text, let) of a random well-formed expression of the given shape ("any" for a random shape)."""
    g = Grammar(draw, max_depth=max_depth, safe=safe, spellings=spellings)
    if shape == "any":
        r, c = draw(st.sampled_from(SIZES)), draw(st.sampled_from(SIZES))
        shape = draw(st.sampled_from((SCALAR, (r, 1), (1, r), (r, c), (r, r))))
    e = g.expr(shape)
    let = {name: declaration(name, s) for name, s in sorted(e.names.items())}
    return e.text, let, e.shape


def let_text(let: dict) -> str:
    return ",".join(f"{n}:{k}" for n, k in let.items())
