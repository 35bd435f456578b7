"""Checking one identity two ways: `expected` against finite differences of `expr`, and matcalc's
own derivation against `expected` (see matcalc.identities)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

from ..errors import MatcalcError
from .files import Identity

AGREEMENT = 1e-8          # matcalc's derivation against `expected`, relative
_REDRAWS = 20


@dataclass
class Outcome:
    """What checking one identity found: small, picklable, kept for the report."""

    name: str
    status: str               # passed | failed | inconclusive | error
    max_error: float = float("nan")
    time: float = 0.0
    message: str = ""
    file: str = ""
    line: int = 0
    op: str = "grad"
    tags: tuple = ()
    derived: str = ""         # matcalc's own result, as text

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["tags"] = list(self.tags)
        d["max_error"] = self.max_error if math.isfinite(self.max_error) else None
        return d



# ====================================================================== checking

class _Failed(Exception):
    """The identity is wrong (status failed): message and worst error so far."""

    def __init__(self, message, error=float("nan")):
        super().__init__(message)
        self.message, self.error = message, error


def _decl(shape) -> str:
    """A declaration for a name of this shape; only a row needs its size (matrix(1,n)): the other
    sizes are tied by an expression (see _tie)."""
    if shape == (1, 1):
        return "scalar"
    if shape[1] == 1:
        return "vector"
    if shape[0] == 1:
        return f"matrix(1,{shape[1]})"
    return "matrix"


def _tie(op, n, expr, wrt, what) -> str:
    """An expression that types only when the name n has the shape of `what`:
    the function ("f"), the variable ("x") or the answer ("answer")."""
    if what == "f" or what == "answer" and op == "jvp":
        return f"{n} + ({expr})"
    if what == "x" or what == "answer" and op in ("grad", "vjp", "hvp"):
        return f"{n} + {wrt}"
    if op == "hessian":                  # by vec(X): vec of a vector is the vector
        return f"{n}*vec({wrt}) + vec({wrt})"
    return f"{n}*vec({wrt}) + vec({expr})"       # jacobian: of vec(f) by vec(X) (1×n for a scalar f)


def _answer_shape(op, f_shape, x_shape):
    from ..shapes import size_product
    if op in ("grad", "vjp", "hvp"):
        return x_shape
    if op == "jvp":
        return f_shape
    x = size_product(*x_shape)          # Jacobians and Hessians by vec(X), of vec(f)
    if op == "hessian":
        return (x, x)
    return (size_product(*f_shape), x)


def _merged_sizes(alone: dict, shared: dict, names) -> str | None:
    """Sizes the expression leaves free that typing `expected` made equal or fixed ("m = n"), or None."""
    groups: dict = {}
    for n in sorted(names):
        if n in alone and n in shared:
            for a, b in zip(alone[n].shape, shared[n].shape):
                if not isinstance(a, int):
                    groups.setdefault(b, set()).add(a)
    eqs = [" = ".join(sorted(g) + ([str(b)] if isinstance(b, int) else []))
           for b, g in groups.items() if len(g) > 1 or isinstance(b, int)]
    if not eqs:
        return None
    from ..shapes import fmt_shape
    hit = {a for b, g in groups.items() if len(g) > 1 or isinstance(b, int) for a in g}
    who = [f"{n} is {fmt_shape(alone[n].shape)}" for n in sorted(names)
           if n in alone and any(d in hit for d in alone[n].shape)]
    return ", ".join(eqs) + " (" + ", ".join(who) + ")"


def check_identity(ident: Identity, trials: int = 3, seed: int = 0) -> Outcome:
    """Check one identity two ways (see the module docstring); never raises."""
    t0 = time.perf_counter()
    out = Outcome(ident.name, "passed", file=ident.file, line=ident.line, op=ident.op, tags=tuple(ident.tags))
    try:
        out.max_error, out.derived, problems, unsure = _check(ident, trials, seed)
        if problems:
            out.status, out.message = "failed", "; ".join(problems)
        elif unsure:
            out.status, out.message = "inconclusive", unsure
    except _Failed as exc:
        out.status, out.message, out.max_error = "failed", exc.message, exc.error
        out.derived = _derive_text(ident)
    except MatcalcError as exc:
        out.status, out.message = "error", _one_line(exc)
    except RecursionError:
        out.status, out.message = "error", "limit exceeded: the expression is too deeply nested"
    except Exception as exc:   # a bug in matcalc: reported, not raised
        out.status, out.message = "error", f"internal error: {type(exc).__name__}: {exc}"
    out.time = time.perf_counter() - t0
    return out


def _derive_text(ident: Identity) -> str:
    """matcalc's own answer as text, for the report of a failing identity ("" when it has none)."""
    try:
        from ..api import derivative
        r = derivative(ident.op, ident.expr, ident.wrt, ident.lets)
        return r.text
    except Exception:
        return ""


def _one_line(exc: MatcalcError) -> str:
    part = getattr(exc, "part", None)
    msg = f"{exc.kind}{f' in {part}' if part else ''}: {exc.message}"
    if exc.source is not None and exc.span is not None:
        msg += f" (in {exc.source!r}, column {exc.span[0] + 1})"
    return msg + (f"; hint: {exc.hint}" if exc.hint else "")


@dataclass
class Prepared:
    """An identity typed: the function f and expected e as graphs sharing names and sizes."""

    identity: Identity
    f: object                 # Expr
    e: object                 # Expr
    symbols: dict             # name -> (kind, shape) of f's names and the aux input
    aux: str | None           # the vjp's g / the direction v of a jvp or hvp
    domains: dict             # name -> set of domains (from f's ops)
    parsed: object            # api.Parsed of f, for matcalc's own derivation

    @property
    def function(self):
        """f as typed, for the verifier (judge.Function)."""
        return self.parsed.typed

    def points(self, count: int, seed: int):
        """`count` random points (sizes, values) where e is finite: sizes drawn once, values from
        each name's kind and domain (the aux input standard normal), as the verifier draws them."""
        import numpy as np

        from ..numeric import evaluate
        from ..shapes import size_names, size_value
        from ..verify import draw_sizes, draw_value, size_pairs
        from ..rng import default_rng
        rng = default_rng(seed)     # as the verifier draws them (verify.check)
        dims = {n for _, shape in self.symbols.values() for d in shape for n in size_names(d)}
        sizes = draw_sizes(dims, rng, size_pairs(self.f, self.e))
        concrete = {n: tuple(size_value(d, sizes) for d in shape)
                    for n, (_, shape) in self.symbols.items()}
        for _ in range(count):
            for _ in range(_REDRAWS):
                vals = {n: (rng.standard_normal(concrete[n]) if n == self.aux else
                            draw_value(kind, concrete[n], self.domains.get(n, set()), rng))
                        for n, (kind, _) in self.symbols.items()}
                if np.all(np.isfinite(evaluate(self.e, vals, sizes))):
                    break
            yield sizes, vals


def prepare(ident: Identity) -> Prepared:
    """Type an identity's expr and expected together; MatcalcError when one cannot be read,
    _Failed when expected does not fit (names, sizes, shape)."""
    from .. import api
    from ..errors import ParseError
    from ..expr import free_leaves
    from ..shapes import Product, fmt_shape
    from ..syntax import parse_syntax
    from ..typecheck import typecheck

    op, wrt, let = ident.op, ident.wrt, ident.lets
    # -- the expression alone: its names and free sizes
    try:
        alone, = typecheck(ident.expr, let)
    except MatcalcError as exc:
        exc.part = "expr"           # named by _one_line: "syntax error in expr: ..."
        raise
    if wrt not in alone.symbols:
        raise MatcalcError(f"the variable {wrt!r} does not occur in expr {ident.expr!r}")
    x = alone.symbols[wrt]
    check_kind = getattr(api, "_check_kind", None)     # grad of a vector, jacobian by a matrix, ...
    if check_kind is not None:
        from .. import algebra as alg
        check_kind(op, alone.expr, alg.sym(wrt, x.shape, x.kind), ident.expr, wrt)
    try:
        parse_syntax(ident.expected)
    except ParseError as exc:
        exc.part = "expected"
        raise exc.with_source(ident.expected)
    f_names = set(alone.symbols)
    aux = api.aux_name(op, alone.expr.shape, alone.symbols[wrt].shape, f_names)
    lets = dict(let)
    ties = []
    if aux is not None:     # the vjp's g has the function's shape, the direction of a jvp or hvp the variable's
        lets[aux] = _decl(alone.expr.shape if op == "vjp" else alone.symbols[wrt].shape)
        ties.append(_tie(op, aux, ident.expr, wrt, "f" if op == "vjp" else "x"))
    # -- expected typed with the expression, sharing names and sizes
    try:
        free = typecheck(ident.expr, lets, extra=(ident.expected, *ties))
    except MatcalcError as exc:
        where = "expected" if exc.source == ident.expected else f"expected's {aux}"
        raise _Failed(f"{where} does not fit the expression: {_one_line(exc)}") from None
    # -- ... and tied to the shape of the answer, so that I, eye(n), ones(n) take the answer's sizes
    want = _answer_shape(op, free[0].expr.shape, free[0].symbols[wrt].shape)
    answer = api.fresh_name("Answer", f_names | set(free[0].symbols))
    lets[answer] = _decl(want)
    if want[0] == 1 and isinstance(want[1], Product):    # a row of mn entries (a scalar by a matrix):
        lets[answer], answer = "vector", answer + "'"     # no declaration names mn, a transpose does
    try:
        typed = typecheck(ident.expr, lets, extra=(f"({ident.expected}) + 0*{answer}", *ties,
                                                   _tie(op, answer, ident.expr, wrt, "answer")))
    except MatcalcError:
        raise _Failed(f"expected is {fmt_shape(free[1].expr.shape)}, the {op} is {fmt_shape(want)}") from None
    f, e = typed[0].expr, typed[1].expr
    shared = typed[0].symbols
    others = sorted(s.attrs[0] for s in free_leaves(e) if s.attrs[0] not in f_names and s.attrs[0] != aux)
    if others:
        raise _Failed(f"expected uses {', '.join(others)}, which expr does not: "
                      + (f"the {op}'s extra input is named {aux}" if aux else "a derivative uses only expr's names"))
    merged = _merged_sizes(alone.symbols, shared, f_names)
    if merged:
        raise _Failed(f"expected only fits when {merged}: the identity must hold for all sizes")
    want = _answer_shape(op, f.shape, shared[wrt].shape)
    if e.shape != want:     # cannot happen after the tie; kept as a guard
        raise _Failed(f"expected is {fmt_shape(e.shape)}, the {op} is {fmt_shape(want)}")
    symbols = {n: (s.kind, s.shape) for n, s in shared.items() if n in f_names}
    if aux is not None:
        symbols[aux] = ("vector" if shared[aux].shape[1] == 1 else "matrix", shared[aux].shape)
    parsed = api.Parsed(ident.expr, f, {n: s for n, s in shared.items() if n in f_names},
                        typed[0].tree, typed[0].tree_shapes)
    return Prepared(ident, f, e, symbols, aux, parsed.typed.domains(), parsed)


def _check(ident: Identity, trials: int, seed: int):
    import numpy as np

    from .. import api
    from ..numeric import evaluate
    from ..printing import text as print_text
    from ..shapes import fmt_shape
    from ..verify import check, relative_error

    prep = prepare(ident)
    op, f, e, aux = ident.op, prep.f, prep.e, prep.aux
    problems = []
    # -- (a) expected against finite differences
    report = check(op, prep.function, ident.wrt, e, prep.symbols, prep.domains, trials=trials, seed=seed, aux=aux)
    worst = report.max_error
    if report.status == "failed":
        problems.append(f"expected {report.message}")
    unsure = f"finite differences cannot confirm expected: {report.message}" \
        if report.status == "inconclusive" else ""
    # -- (b) matcalc's derivation against expected
    try:
        result = api.derivative(op, prep.parsed, ident.wrt, ident.lets)
    except MatcalcError as exc:
        if problems:
            raise _Failed(problems[0], worst) from None
        exc.part = "matcalc's derivation"
        raise
    derived = print_text(result.expr, result.symbols)
    if result.aux != aux:
        raise AssertionError(f"matcalc names the {op}'s input {result.aux}, expected {aux}")
    if result.expr.shape != e.shape:
        problems.append(f"matcalc's {op} {derived} is {fmt_shape(result.expr.shape)}, expected is "
                        f"{fmt_shape(e.shape)}")
        return worst, derived, problems, unsure
    agree = 0.0
    for sizes, vals in prep.points(max(1, trials), seed):
        want_v = evaluate(e, vals, sizes)
        got_v = evaluate(result.expr, vals, sizes)
        if not (np.all(np.isfinite(want_v)) and np.all(np.isfinite(got_v))):
            problems.append(f"matcalc's {op} {derived} or expected is not finite at {_REDRAWS} random points")
            break
        err = relative_error(got_v, want_v)
        agree = max(agree, err)
        if not err <= AGREEMENT:
            problems.append(f"matcalc's {op} {derived} differs from expected (relative error {err:.1e} "
                            f"> {AGREEMENT:.0e})")
            break
    worst = max(worst, agree) if math.isfinite(worst) else worst
    return worst, derived, problems, unsure


