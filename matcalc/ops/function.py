"""FunctionOp: a function of the language, declared once with everything matcalc knows about it.

Every field is keyword-only and checked when the op is declared (at import): an unknown field, a
template with the wrong placeholders, a domain no sampler is registered for or a missing probe is
a TypeError naming the op, never a surprise in a printer or the verifier later.
"""
from __future__ import annotations

import string
from collections.abc import Callable

from ..algebra import _need
from ..backends import BACKENDS
from .base import Op
from .domains import DOMAINS

SHAPES = ("elementwise", "scalar-of-square", "scalar-of-any", "scalar-of-vector", "vector-to-vector",
          "vectors-to-scalar")
KINDS = ("grad", "jacobian", "hessian", "vjp", "jvp", "hvp")
ZERO = "zero"       # d=ZERO: the derivative is zero wherever the op is differentiable (step, sign)


class FunctionOp(Op):
    """A function of the language. Fields (keyword-only):

    names      its names in the language; name (the node tag) defaults to the first
    meaning    what it computes, in a line (`matcalc functions`)
    arity      number of arguments, or (fewest, most)
    shape      one of SHAPES, or a callable(shapes, u) -> shape raising ShapeError
    np         callable(*2-D arrays) -> 2-D array: the verifier's and evaluator's implementation
    d          callable(node, dargs) -> the differential (JVP) given the arguments' differentials
               (None for an argument that does not vary), or ZERO
    transpose  for a linear op: callable(node, ct) -> the adjoint of its argument when its own is ct;
               for a bilinear op (kron) callable(node, ct, i): the adjoint of argument i, the one
               that varies (derive._transpose_rule)
    matrix     for a linear op from vectors: callable(node, m) -> the Jacobian matrix, where m(t) is
               that of an argument (derive._LinearMap), or None when it has no matrix form
    vjp        optional callable(node, i, ct) -> the adjoint of argument i when the node's own is ct: a
               reverse rule kept whole (layernorm's (g − mean(g)𝟏 − mean(g ⊙ x̂)x̂)/σ), where
               transposing d term by term would scatter it; it must agree with d (the tests check both)
    transposed optional callable(node) -> Expr | None: the node's transpose where the op knows a
               shorter form (diag(v)ᵀ = diag(v))
    canon      optional callable(*args) -> Expr | None: a simplification before a node is built
    text, source  templates over {0}, {1}: unicode text and matcalc's own syntax; this and code may
               also be a callable(node) -> the template for that node (an op with an optional
               argument: layernorm(x) and layernorm(x, eps))
    latex      a template ("\\left(" and "\\right)" print plain unless an argument holds a fraction),
               or a callable(printer, node) -> (latex, precedence) for notation of its own
    code       a template over the backend's namespace {ns} (np, torch, jnp) and {erfc}; a pair
               (first, then) computes `first` once, as the temporary that `then` names by its one
               other placeholder (("{ns}.exp({0})", "({e} / {ns}.sum({e}))"))
    code_for   {backend: template}: only where a backend spells it differently
    code_product  for a function of one matrix: a template over {ns}, {0} and {1} for its argument
               when that is a product PQ of matrices, split where P and Q cost least to form: tr(PQ)
               as sum(P ⊙ Qᵀ) forms no PQ
    domain     per argument: None or the name of a registered sampler (ops/domains.py)
    probes     ((kind, expr, wrt, let), ...): derivatives that exercise the rule (tests)
    rule, cite the differential in words and where it comes from (--steps)
    letter     the variable name its printed symbol reads as (σ: sigma): with a variable of that
               name in the expression it prints by its name instead
    sized      its arguments are sizes (as in ones(m, n)), kept as the node's attrs: np, shape, canon
               and the templates take the sizes (numbers, names or products), not values
    infix      the precedence of an operator notation (⊗): text and LaTeX bracket the arguments as
               operands of that precedence, and the result as such; None for a function call
    unit_rows  every row of its value sums to 1 (of a column vector, its entries), wherever it is
               defined: P𝟏 = 𝟏 for softmax, which the simplification uses (simplify.assume)
    prefix     a sign the text writes before its one argument with no brackets when that is an atom
               (√n, √x; √(x + y) otherwise), as for a power ½; None for the text template
    temp, usage, sp, scalar_ok  the name of a shared temporary (or a pair: for a vector, for a
               matrix), a hint for a wrong number of arguments, its SymPy form, whether a 1×1
               argument is allowed (scalar-of-square)
    sugar      callable(*args) -> Expr: a shorthand that never becomes a node of its own (dot)
    sign       "positive" or "nonnegative" when every value it takes is (exp, abs): the power rules
               of the algebra use it ((u²)^½ = u only for u ≥ 0; algebra.positive, nonnegative)
    """

    elementwise = False

    def __init__(self, *, names: tuple, meaning: str, name: str | None = None, arity=1, shape="elementwise",
                 np: Callable | None = None, d=None, transpose: Callable | None = None,
                 matrix: Callable | None = None, vjp: Callable | None = None, transposed: Callable | None = None, canon: Callable | None = None, text: str | None = None,
                 source: str | None = None, latex=None, code=None, code_for: dict | None = None,
                 code_product: str | None = None, domain: tuple | None = None, probes: tuple = (), rule: str = "", cite: str = "",
                 letter: str | None = None, temp="t", usage: str | None = None, sp: Callable | None = None,
                 scalar_ok: bool = True, sugar: Callable | None = None, sign: str | None = None,
                 sized: bool = False, infix: int | None = None, prefix: str | None = None,
                 unit_rows: bool = False):
        lo, hi = (arity, arity) if isinstance(arity, int) else arity
        self.names, self.meaning, self.arity, self.shape = tuple(names), meaning, (lo, hi), shape
        self.np, self.d, self.transpose, self.matrix, self.canon = np, d, transpose, matrix, canon
        if vjp is not None:
            self.vjp = vjp
        if transposed is not None:
            self.transposed = transposed
        self.text, self.source, self.latex, self.code = text, source, latex, code
        self.code_for, self.code_product = dict(code_for or {}), code_product
        self.domain = tuple(domain) if domain is not None else (None,) * hi
        self.probes, self.rule, self.cite, self.letter = tuple(probes), rule, cite, letter
        # temp: a name, or (for a vector, for a matrix): a matrix reads by an uppercase name (s, P)
        temp, self.matrix_temp = temp if isinstance(temp, tuple) else (temp, None)
        self.temp, self.usage, self.sp, self.scalar_ok, self.sugar = temp, usage, sp, scalar_ok, sugar
        self.name = name or self.names[0]
        if sign not in (None, "positive", "nonnegative"):
            raise TypeError(f"op {self.name}: sign must be 'positive', 'nonnegative' or None, got {sign!r}")
        self.sign, self.sized, self.infix, self.prefix, self.unit_rows = sign, sized, infix, prefix, unit_rows
        self._validate()
        super().__init__()

    # ------------------------------------------------------------------ declaration checks
    def _fail(self, what):
        raise TypeError(f"op {self.name!r}: {what}")

    def _validate(self):
        if not self.names or not all(n.isidentifier() for n in self.names):
            self._fail("names must be identifiers")
        if not self.meaning:
            self._fail("meaning is required")
        if not callable(self.shape) and self.shape not in SHAPES:
            self._fail(f"unknown shape rule {self.shape!r}; one of {', '.join(SHAPES)}")
        if len(self.domain) != self.arity[1]:
            self._fail(f"domain needs one entry per argument, got {len(self.domain)}")
        for dom in self.domain:
            if dom is not None and dom not in DOMAINS:
                self._fail(f"unknown domain {dom!r}; registered: {', '.join(DOMAINS)}")
        if self.sugar is not None:
            return              # a shorthand: the op it expands to is declared elsewhere
        if not callable(self.np):
            self._fail("np (the NumPy implementation) is required")
        if not (callable(self.d) or self.d == ZERO):
            self._fail("d (the differential) is required: a callable, or ZERO")
        if not self.rule:
            self._fail("rule (the differential in words) is required")
        for field in ("text", "source"):
            if not callable(getattr(self, field)):
                self._check_template(field, getattr(self, field), ())
        if not callable(self.latex):
            self._check_template("latex", self.latex, ())
        if self.code is None:
            self._fail("code is required")
        for backend, tpl in [(None, self.code)] + list(self.code_for.items()):
            if backend is not None and backend not in BACKENDS:
                self._fail(f"code_for: unknown backend {backend!r}")
            if callable(tpl):
                continue
            if isinstance(tpl, tuple):
                self._check_template("code", tpl[0], ("ns", "erfc"))
                if len(tpl) != 2 or len(temporary_name(tpl[1])) != 1:
                    self._fail(f"code {tpl!r}: a pair (first, then) where then names first by one placeholder")
            else:
                self._check_template("code", tpl, ("ns", "erfc"))
        if self.code_product is not None:
            if self.arity != (1, 1):
                self._fail("code_product goes with a function of one argument")
            self._check_template("code_product", self.code_product, ("ns", "1"))
            if "1" not in _keywords(self.code_product):
                self._fail(f"code_product {self.code_product!r} needs both halves, {{0}} and {{1}}")
        if not self.probes:
            self._fail("probes are required: derivatives whose rule the tests check")
        for probe in self.probes:
            if len(probe) != 4 or probe[0] not in KINDS:
                self._fail(f"a probe is (kind, expr, wrt, let) with kind one of {KINDS}, got {probe!r}")

    def _check_template(self, field, tpl, keywords):
        if not isinstance(tpl, str):
            self._fail(f"{field} template is required")
        used = _keywords(tpl)
        allowed = {str(i) for i in range(self.arity[1])} | set(keywords)
        if used - allowed:
            self._fail(f"{field} template {tpl!r} uses {sorted(used - allowed)}")
        if not {str(i) for i in range(self.arity[0])} <= used:
            self._fail(f"{field} template {tpl!r} leaves out an argument")

    # ------------------------------------------------------------------ what the engine asks
    def code_template(self, backend: str, node=None):
        tpl = self.code_for.get(backend, self.code)
        return tpl(node) if callable(tpl) and node is not None else tpl

    def infer(self, shapes, u):
        rule = self.shape
        if callable(rule):
            return rule(shapes, u)
        s = shapes[0]
        if rule == "elementwise":
            return s
        if rule == "scalar-of-square":
            _need(u.eq(s[0], s[1]) and not (s[0] == 1 and s[1] == 1) or (s[0] == 1 and s[1] == 1 and self.scalar_ok),
                  f"{self.names[0]} needs a square matrix, got {u.describe(s)}",
                  _square_hint(self.names[0], s, u))
            return (1, 1)
        if rule == "scalar-of-any":
            return (1, 1)
        if rule == "scalar-of-vector":
            _need(s[1] == 1 and s[0] != 1, f"{self.names[0]} needs a column vector, got {u.describe(s)}")
            return (1, 1)
        if rule == "vector-to-vector":
            _need(s[1] == 1 and s[0] != 1, f"{self.names[0]} needs a column vector, got {u.describe(s)}")
            return s
        if rule == "vectors-to-scalar":
            _need(s[1] == 1 and s[0] != 1, f"{self.names[0]} needs column vectors, got {u.describe(s)}")
            _need(u.shape_eq(s, shapes[1]),
                  f"{self.names[0]} needs two vectors of the same size, got {u.describe(s)} and {u.fmt(shapes[1])}")
            return (1, 1)
        raise AssertionError(rule)

    def build(self, *args, attrs=()):
        from ..algebra import TRANSPOSE, transpose
        if self.sized:      # a constant of the sizes in attrs: commutation(m, n)
            from ..expr import Expr
            from .base import EQUAL_SIZES
            got = self.canon(*attrs) if self.canon is not None else None
            return got if got is not None else Expr(self, (), attrs, self.shape(list(attrs), EQUAL_SIZES))
        if self.sugar is not None:
            return self.sugar(*args)
        if self.elementwise and args[0].op is TRANSPOSE:
            return transpose(self.build(args[0].args[0]))      # f(Xᵀ) = f(X)ᵀ: one form only
        if self.canon is not None:
            got = self.canon(*args)
            if got is not None:
                return got
        return super().build(*args, attrs=attrs)

    def evaluate(self, node, vals, dims):
        if self.sized:
            from ..shapes import size_value
            return self.np(*[size_value(d, dims) for d in node.attrs])
        return self.np(*vals)

    def temp_of(self, node) -> str:
        return self.matrix_temp if self.matrix_temp and 1 not in node.shape else self.temp

    def jvp(self, node, dargs):
        if self.d == ZERO or all(d is None for d in dargs):
            return None
        return self.d(node, dargs)


def temporary_name(then: str) -> set:
    """The placeholder naming the temporary in the second template of a pair."""
    return {k for k in _keywords(then) - {"ns", "erfc"} if not k.isdigit()}


def _keywords(tpl: str) -> set:
    return {f for _, f, _, _ in string.Formatter().parse(tpl) if f is not None}


def _square_hint(name, s, u):
    if s[1] == 1 or s[0] == 1:
        return f"{name} of a vector is not defined; for x'x write x'*x or norm(x)**2" if name == "tr" \
            else f"{name} is defined for square matrices only"
    return "a product A*B is square only when A is m×n and B is n×m"
