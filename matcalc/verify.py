"""The numeric judge: finite differences on random distinct sizes and random inputs.

It shares nothing with the derivative engine but the ops' NumPy
implementations: it evaluates the *function as the user typed it*, from the
syntax tree (judge.py), at perturbed points, and compares with the candidate
derivative evaluated at the point. At every point it draws it also evaluates the
engine's canonical graph of the function: a disagreement is a bug in matcalc's
algebra (an internal error, exit 3), never a pass.

- Sizes: a distinct random size for every symbolic dimension (2 to 7), so a
  missing transpose cannot hide behind a square matrix (past six names, sizes
  that meet in one matrix differ: draw_sizes).
- Inputs: drawn from each name's kind and domain (symmetric, SPD with
  eigenvalues in [0.5, 2], well-conditioned invertible matrices with singular
  values in [1, 2], positive entries for log and sqrt, probability vectors for
  cross-entropy targets, entries at least 0.2 away from the kinks of relu/abs).
  A point where the function or the candidate is not finite, or where a matrix
  the function inverts has condition number above 1e3, is drawn again (up to
  200 times: log(b − Ax) needs every entry of b − Ax positive). So is, up to
  8 times, a point where the candidate is 0 and f flat along the variable: there
  a wrong result is often 0 too (relu(Wx), the gradient of aᵀrelu(Wx) by a, is
  0 wherever Wx < 0, and so is −relu(Wx)).
- Checks: directional derivatives ⟨G, V⟩ against central differences with
  Richardson extrapolation, for every trial; the full entry-by-entry
  comparison when the variable has at most 36 entries. Hessians and
  Hessian-vector products through the bilinear form wᵀHv, by mixed second
  differences of the function (_second_order_verdict).
- Judgement, with nothing absolute in it (an overall factor of 1e-15 changes
  nothing): each difference quotient comes with its uncertainty, the change of
  the extrapolated quotient between two steps plus the rounding noise of the
  function (measured, as in Moré & Wild's ECnoise, from fourth differences at a
  step so small that no real fourth derivative shows) divided by the step. The
  candidate passes when it agrees with the quotients to the relative tolerance
  (1e-5; 1e-4 for Hessians, from second differences), or within their
  uncertainty when that is a negligible fraction of the function's own scale (a
  zero Hessian of a linear function). It fails when it differs by more than
  tolerance and uncertainty together. Otherwise, and where floating point cannot
  decide at all (overflow, no point where the function is finite), the outcome
  is inconclusive: said as such, neither ✓ nor ✗. A failing trial is repeated at
  a 20× smaller step: near a pole or a kink, or where f varies fast, the usual step is too
  coarse for a right result, and no step suits a wrong one (then once more, 400×
  smaller). Quotients whose uncertainty is over 10% of their value decide nothing.
- Generic matrices are drawn with entries N(0, 1/cols) (the usual
  initialisation), so deep compositions stay away from saturation.
"""
from __future__ import annotations

import numpy as np

from .algebra import graph_size_names
from .expr import Expr, postorder
from .numeric import evaluate
from .ops.domains import DOMAINS, draw as draw_in_domains
from .record import factory, record
from .rng import default_rng
from .shapes import size_names, size_value

TOLERANCE = {"grad": 1e-5, "jacobian": 1e-5, "vjp": 1e-5, "jvp": 1e-5, "hessian": 1e-4, "hvp": 1e-4}
_DRAWS = 200
_REDRAWS = 8     # more points drawn where the result is 0 and f flat (_check_sizes)


@record
class Report:
    """The outcome of a check."""

    passed: bool
    max_error: float
    trials: int
    sizes: dict
    seed: int
    message: str = ""
    failures: list = factory(list)
    inconclusive: bool = False          # floating point could not decide: neither passed nor failed

    @property
    def status(self) -> str:
        return "passed" if self.passed else "inconclusive" if self.inconclusive else "failed"

    def summary(self) -> str:
        sizes = " ".join(f"{k}={v}" for k, v in sorted(self.sizes.items())) or "no symbolic sizes"
        if self.passed:
            return f"✓ verified (max rel. error {self.max_error:.1e} over {self.trials} trials, sizes {sizes})"
        if self.inconclusive:
            return f"? not verified, inconclusive: {self.message} (sizes {sizes}, seed {self.seed})"
        return f"✗ verification FAILED: {self.message} (max rel. error {self.max_error:.1e}, sizes {sizes}, " \
               f"seed {self.seed})"

    def as_dict(self) -> dict:
        return {"passed": self.passed, "status": self.status, "max_rel_error": self.max_error,
                "trials": self.trials, "sizes": dict(self.sizes), "seed": self.seed, "message": self.message}


# ------------------------------------------------------------------ sampling

MAX_DRAWN_SIZE = 12    # no size drawn for the check is larger, however many size names there are


def draw_sizes(names, rng, together=()) -> dict[str, int]:
    """A random size from 2 to 7 for every size name, distinct while there are at most six names.

    Beyond six, sizes repeat (each name's size drawn at random), except that names that appear
    together in one shape (`together`: pairs of size names, as the rows and columns of a matrix)
    get different sizes while a size up to MAX_DRAWN_SIZE is free: a missing transpose needs
    its two sizes to differ to show. Sizes stay small so that the check of an expression with
    two thousand names costs what a small one costs (each name its own size made the
    matrices grow with the number of names: 22 GB for 2,000 weight matrices).
    """
    pool = list(range(2, 8))
    rng.shuffle(pool)
    names = sorted(names)
    sizes = {n: int(pool[i]) for i, n in enumerate(names[:len(pool)])}
    if len(names) <= len(pool):
        return sizes
    beside: dict = {}
    for a, b in together:
        if a != b:
            beside.setdefault(a, set()).add(b)
            beside.setdefault(b, set()).add(a)
    for n in names[len(pool):]:
        taken = {sizes[m] for m in beside.get(n, ()) if m in sizes}
        free = [s for s in range(2, 8) if s not in taken] or \
            [s for s in range(8, MAX_DRAWN_SIZE + 1) if s not in taken][:1] or list(range(2, 8))
        sizes[n] = int(free[rng.integers(len(free))])
    return sizes


def size_pairs(*exprs) -> set:
    """Pairs of size names that are the rows and columns of one node of the graphs."""
    return {node.shape for e in exprs for node in postorder(e)
            if isinstance(node.shape[0], str) and isinstance(node.shape[1], str)}


def draw_value(kind: str, shape, domains: set, rng) -> np.ndarray:
    """A value of the declared kind inside the named domains: the samplers registered in ops/domains.py."""
    return draw_in_domains(kind, shape, domains, rng)


# ------------------------------------------------------------------ checking

class _Problem:
    """A function as typed, its variable, and a point where everything is finite."""

    def __init__(self, f, wrt: str, symbols: dict, domains: dict, sizes: dict, rng):
        self.f, self.wrt, self.symbols, self.domains, self.sizes, self.rng = f, wrt, symbols, domains, sizes, rng
        self.units = None       # what one evaluation of f charges the budget (charge_again)

    def shape(self, name):
        return tuple(size_value(d, self.sizes) for d in self.symbols[name][1])

    def point(self, extra=()):
        vals = {}
        for name, (kind, _) in self.symbols.items():
            vals[name] = draw_value(kind, self.shape(name), self.domains.get(name, set()), self.rng)
        return vals

    def f_at(self, vals, x):
        return self.f.at({**vals, self.wrt: x}, self.sizes)

    def charge_again(self):
        """Charge the check's budget for an evaluation of f whose value is reused (as f.at charges)."""
        if hasattr(self.sizes, "charge"):
            units = self.units
            if units is None:
                f = self.f
                units = self.units = len(f.shapes) if f.tree is not None else len(postorder(f.expr))
            self.sizes.charge(units)


from .errors import InternalError  # noqa: E402


class CanonicalFormDiffers(InternalError):
    """The engine's graph of a function disagrees with the function as typed: a bug in matcalc."""


def _same_value(typed, canonical, magnitude) -> bool:
    """The typed and canonical values of a function agree up to rounding. They are computed in
    different orders, so rounding differs by a few ulps of the largest intermediate value."""
    if typed.shape != canonical.shape or not np.all(np.isfinite(canonical)):
        return False
    gap = float(np.max(np.abs(typed - canonical), initial=0.0))
    return gap <= 1e-7 * max(float(np.max(np.abs(typed), initial=0.0)), 1e-3 * magnitude)


def _assert_canonical_agrees(f, vals, sizes, fx):
    canon = f.canonical_at(vals, sizes)
    if not _same_value(fx, canon, f.magnitude(vals, sizes)):
        from .printing import source
        raise CanonicalFormDiffers(
            f"the canonical form of the expression, {source(f.expr)}, differs from the expression as "
            f"typed at a random point (typed {_show(fx)}, canonical {_show(canon)})")


def _show(a) -> str:
    a = np.asarray(a).reshape(-1)
    return f"{a[0]:.6g}" if a.size == 1 else f"[{', '.join(f'{v:.4g}' for v in a[:3])}{', …' if a.size > 3 else ''}]"


def check(kind: str, f, wrt: str, candidate: Expr, symbols: dict, domains: dict,
          trials: int = 5, seed: int = 0, aux: str | None = None) -> Report:
    """Check candidate = kind-derivative of f w.r.t. wrt.

    f is the function as typed (a judge.Function: its syntax tree and canonical graph);
    symbols: name -> (kind, shape) for every name in f (and aux: the upstream
    gradient g of a vjp or the direction v of a jvp or hvp, with its shape).
    Raises CanonicalFormDiffers when the engine's graph of f is not the typed f.
    """
    rng = default_rng(seed)     # the standard library's Mersenne Twister: no numpy.random (rng.py)
    dims = {n for _, shape in symbols.values() for d in shape for n in size_names(d)}
    # and sizes no name has: ones(m) or eye(k) alone (was a KeyError; issue 7, found by fuzzing)
    dims |= graph_size_names(f.expr) | graph_size_names(candidate)     # (and sizes as numbers: n = len(x))
    dims |= {n for shape in f.shapes.values() for d in shape for n in size_names(d)}    # as typed: 0*sum(ones(m))
    for _ in range(5):     # some sizes leave the function undefined everywhere (logdet(XXᵀ) with X wide)
        sizes = sizes_within_budget(kind, f, wrt, candidate, symbols, dims, trials, rng)
        report = _check_sizes(kind, f, wrt, candidate, symbols, domains, trials, seed, aux, sizes, rng)
        if report.passed or "no point found" not in report.message:
            return report
    return report


# The numeric check's budget: a check evaluates the function some hundred times (more for a full
# Jacobian or Hessian by finite differences) and the candidate once per trial. Its cost is counted
# in node evaluations (one NumPy call on small arrays, about 4 µs on the development machine; a
# product or inverse of n×n matrices counts n³/10,000 more), so a check is refused on every
# machine or on none. Measured: 4,000,000 units take about 25 s of CPU time (the 2,000-term sum of
# sum(tanh(Wᵢx)), estimated at 3.2 M, 22 s with its derivation at load 1); the catalogue's
# largest check is estimated at 33,000 (the Hessian of the binary cross-entropy).
MAX_CHECK_WORK = 4_000_000


class CheckSizes(dict):
    """The sizes of one check (size name -> number), carrying the work it may still do: every
    evaluation with them (numeric.evaluate) charges its nodes, so that redrawing points where the
    function is not finite (up to 200 times) is bounded too."""

    def __init__(self, sizes: dict, work: float):
        super().__init__(sizes)
        self.work_left = work

    def charge(self, units: int):
        self.work_left -= units
        if self.work_left < 0:
            from .errors import LimitError
            raise LimitError(f"the numeric check grows too large: it was stopped after {MAX_CHECK_WORK:,} steps "
                             "of work", hint="is the function finite anywhere? Skip the check with --no-verify")


_current: list = [None, None, None]    # the check running: its rng, its set of size names, its CheckSizes


def sizes_within_budget(kind, f, wrt, candidate, symbols, dims, trials, rng) -> dict[str, int]:
    """Sizes for the check (draw_sizes), refused with a LimitError when the check would cost more
    than MAX_CHECK_WORK; the check's evaluations with them are charged as they go (CheckSizes).
    Sizes drawn again for the same check (the same rng and set of size names, held here so that
    no other check can have them) share what is left of its budget."""
    again = _current[0] is rng and _current[1] is dims
    sizes = CheckSizes(draw_sizes(dims, rng, size_pairs(f.expr, candidate)),
                       _current[2].work_left if again else MAX_CHECK_WORK)
    _current[:] = [rng, dims, sizes]
    x = tuple(size_value(d, sizes) for d in symbols[wrt][1])
    work = check_cost(kind, f, candidate, x[0] * x[1], trials, sizes)
    if work > MAX_CHECK_WORK:
        from .errors import LimitError
        about = f"{work:,.0f}" if work < 1e12 else f"{work:.1e}"
        raise LimitError(f"the numeric check would take about {about} steps of work; the limit is "
                         f"{MAX_CHECK_WORK:,}", hint="check a smaller expression, or skip the check with "
                         "--no-verify")
    return sizes


def check_cost(kind, f, candidate, x_entries, trials, sizes) -> float:
    """The work of one check (see MAX_CHECK_WORK): evaluations of f times its cost, and of the
    candidate, doubled for the smaller step tried on a failure."""
    full = 8 * x_entries if x_entries <= 36 else 0          # four steps, both sides, each entry
    if kind == "hessian":
        full = 16 * x_entries ** 2 if x_entries <= 16 else 0
    if kind == "hvp":
        full = 16 * x_entries if x_entries <= 36 else 0         # each entry against the direction
    if kind in ("hessian", "hvp"):
        per_trial = 11 + 16 + 32 + 3    # noise, slopes, two pairs of directions, the point
    else:
        per_trial = 11 + 22 + 3         # noise, two directions with their scales, the point
    # a check that passes; the smaller steps tried on a failure are charged as they run (CheckSizes)
    f_evals = trials * per_trial + full
    # every evaluation is of the function as typed (its tree: one unit a node, and the matrix work
    # of the canonical graph, which it has too); the canonical graph once a point, the candidate twice
    canonical = _evaluation_cost(f.expr, sizes)
    return f_evals * max(canonical, len(f.shapes)) + trials * canonical + 2 * trials * _evaluation_cost(candidate, sizes)


def _evaluation_cost(e: Expr, sizes) -> float:
    """Work of evaluating e once: one unit a node, and n³/10,000 for a node whose arrays are n×n."""
    def size(d):
        return size_value(d, sizes)
    work = 0.0
    for node in postorder(e):
        n = max([size(d) for a in (node, *node.args) for d in a.shape])
        work += 1 + n ** 3 * max(1, len(node.args) - 1) / 10_000
    return work


def _check_sizes(kind, f, wrt, candidate, symbols, domains, trials, seed, aux, sizes, rng) -> Report:
    prob = _Problem(f, wrt, {k: v for k, v in symbols.items() if k != aux}, domains, sizes, rng)
    prob.candidate = candidate
    tol = TOLERANCE[kind]
    worst = 0.0
    for trial in range(trials):
        drawn = _finite_point(prob, aux, symbols, sizes, rng)
        if drawn is None:
            return Report(False, float("nan"), trial, sizes, seed,
                          "no point found where the function is finite", inconclusive=True)
        vals, fx = drawn
        cand = evaluate(candidate, vals, sizes)
        zero = _is_zero(cand, candidate, vals, sizes)
        # A point where the result is 0 and f is flat proves little: a wrong result is often 0 where
        # the right one is (aᵀrelu(Wx)'s gradient by a, relu(Wx), is 0 wherever Wx < 0, and so are a
        # wrong −relu(Wx) or 0). A few more points are drawn for one where the result is not 0 or f
        # varies; for a function flat everywhere (a constant) the last one drawn is as good as any.
        for _ in range(_REDRAWS):
            if not zero or _varies(prob, vals, fx):
                break
            other = _finite_point(prob, aux, symbols, sizes, rng)
            if other is None:
                break
            vals, fx = other
            cand = evaluate(candidate, vals, sizes)
            zero = _is_zero(cand, candidate, vals, sizes)
        _assert_canonical_agrees(f, vals, sizes, fx)
        if not np.all(np.isfinite(cand)):       # at a random point: overflow, not a pole
            return Report(False, float("inf"), trial + 1, sizes, seed,
                          "the result overflows at a point where the function is finite", inconclusive=True)
        # near a pole or a kink (log(b − Ax) with b − Ax small) the quotients at the usual step are
        # off; a right result agrees at a smaller one, a wrong one at none
        verdict = _one_trial(kind, prob, vals, cand, aux, zero, full=(trial == 0), fx=fx)
        for step in (0.05, 0.0025):         # fast variation (sin(1000x)) needs steps far below 1e-4
            if verdict.outcome == "pass":
                break
            verdict = verdict.best(_one_trial(kind, prob, vals, cand, aux, zero, full=(trial == 0), step=step,
                                              fx=fx))
        worst = max(worst, verdict.error)
        if verdict.outcome == "fail":
            return Report(False, worst, trial + 1, sizes, seed,
                          f"differs from finite differences (relative error {verdict.error:.1e} > {tol:.0e})")
        if verdict.outcome == "unresolved":
            return Report(False, worst, trial + 1, sizes, seed,
                          "finite differences do not settle here (their uncertainty is "
                          f"{verdict.uncertainty:.1e} of the derivative's size)", inconclusive=True)
    return Report(True, worst, trials, sizes, seed)


def _finite_point(prob, aux, symbols, sizes, rng):
    """(values, f at them) at a random point where f is finite, also nearby, and the matrices it
    inverts are well-conditioned; None when _DRAWS draws find none."""
    for _ in range(_DRAWS):
        vals = prob.point()
        if aux is not None:
            vals[aux] = rng.standard_normal(tuple(size_value(d, sizes) for d in symbols[aux][1]))
        fx = prob.f_at(vals, vals[prob.wrt])
        if np.all(np.isfinite(fx)) and _finite_nearby(prob, vals) and _well_conditioned(prob, vals):
            return vals, fx
    return None


def _is_zero(value, candidate, vals, sizes) -> bool:
    """The candidate's value is 0 up to its own rounding (terms that cancel): its largest entry at
    most 1e-9 of the largest value computed on the way to it."""
    return float(np.abs(value).max(initial=0.0)) <= 1e-9 * evaluate(candidate, vals, sizes, magnitude=True)


def _varies(prob, vals, fx) -> bool:
    """Whether f moves beyond rounding along a random direction of the variable, over the step the
    difference quotients take."""
    x = vals[prob.wrt]
    t = 1e-4 * max(1.0, float(np.abs(x).max()))
    v = prob.rng.standard_normal(x.shape)
    rounding = 4 * np.finfo(float).eps * float(np.abs(fx).max(initial=0.0))
    with np.errstate(all="ignore"):
        return any(float(np.abs(prob.f_at(vals, x + h * v) - fx).max(initial=0.0)) > rounding for h in (t, -t))


class _Verdict:
    """One comparison of a candidate with difference quotients."""

    __slots__ = ("outcome", "error", "uncertainty")

    def __init__(self, outcome: str, error: float, uncertainty: float):
        self.outcome = outcome              # pass | fail | unresolved
        self.error = error                  # relative difference
        self.uncertainty = uncertainty      # the quotients' uncertainty, relative

    def __repr__(self):
        return f"_Verdict({self.outcome!r}, {self.error!r}, {self.uncertainty!r})"

    def best(self, other: "_Verdict") -> "_Verdict":
        """Of two steps: a pass at either; else a failure (a disagreement beyond the quotients'
        own uncertainty at one step is not undone by more noise at the other)."""
        rank = {"pass": 0, "fail": 1, "unresolved": 2}
        return min(self, other, key=lambda v: (rank[v.outcome], v.error))

    @staticmethod
    def worst(verdicts) -> "_Verdict":
        rank = {"pass": 0, "unresolved": 1, "fail": 2}
        return max(verdicts, key=lambda v: (rank[v.outcome], v.error))


def _judge(got, want, uncertainty, tol, natural, flat=False) -> _Verdict:
    """Compare a candidate value with a difference quotient `want` of known `uncertainty`
    (all arrays or floats; the norm is taken). `natural`: the scale a derivative of this order has
    where the function varies (see _scale), below which a disagreement does not matter."""
    got, want = np.asarray(got, float).reshape(-1), np.asarray(want, float).reshape(-1)
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want)) and np.isfinite(uncertainty)):
        return _Verdict("unresolved", float("inf"), float("inf"))
    m = max(np.max(np.abs(got), initial=0.0), np.max(np.abs(want), initial=0.0), uncertainty)
    if m == 0.0:
        return _Verdict("pass", 0.0, 0.0)
    got, want, u = got / m, want / m, uncertainty / m          # rescaled: no overflow near 1e300
    diff = float(np.linalg.norm(got - want))
    scale = max(float(np.linalg.norm(got)), float(np.linalg.norm(want)))
    rel = diff / scale if scale > 0 else 0.0
    rel_u = u / scale if scale > 0 else float("inf")
    if diff <= tol * scale:
        return _Verdict("pass", rel, rel_u)
    if diff <= tol * scale + 3 * u:     # within the quotients' uncertainty: does it matter?
        # flat: f does not vary beyond rounding over a step the size of x and the candidate is 0 up
        # to its own rounding (see _check_sizes)
        negligible = u * m <= tol * natural or flat
        return _Verdict("pass" if negligible else "unresolved", rel, rel_u)
    if u > 1e-3 * scale:     # quotients that have not settled to 0.1% at this step fail nothing
        return _Verdict("unresolved", rel, rel_u)
    return _Verdict("fail", rel, rel_u)


def relative_error(a, b) -> float:
    """‖a − b‖ / max(‖a‖, ‖b‖), with nothing absolute in it. Not finite counts as a failure (never
    NaN, which `max` would drop); the arrays are rescaled first so that values near 1e300 do not
    overflow the norm."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    m = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if m == 0.0:
        return 0.0
    a, b = a / m, b / m
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))


MAX_CONDITION = 1e3


def _well_conditioned(prob, vals) -> bool:
    """Every matrix the function inverts (arguments of inv, det, logdet) has condition number at
    most MAX_CONDITION: near a singular matrix (S + X, XᵀX with X drawn at random) finite
    differences lose their accuracy, and a true identity would fail (1e-3 at cond 2e4). The same
    for what the candidate inverts: inv(X²⁴) at cond(X) = 14 is off by 6%."""
    candidate = getattr(prob, "candidate", None)
    for node in postorder(prob.f.expr) + (postorder(candidate) if candidate is not None else []):
        for arg, dom in zip(node.args, node.op.domain):
            if dom is not None and DOMAINS[dom].inverted and arg.shape[0] == arg.shape[1] and not arg.is_scalar:
                m = evaluate(arg, vals, prob.sizes)
                if not np.all(np.isfinite(m)) or not np.linalg.cond(m) <= MAX_CONDITION:
                    return False
    return True


def _finite_nearby(prob, vals) -> bool:
    x = vals[prob.wrt]
    v = prob.rng.standard_normal(x.shape)
    for t in (1e-3, -1e-3):
        if not np.all(np.isfinite(prob.f_at(vals, x + t * v))):
            return False
    return True


def _noise(fun, x, rng) -> float:
    """The rounding noise of fun's values near x (entrywise, absolute).

    As in Moré & Wild's ECnoise: fourth differences at a step so small (1e-6 of x's scale) that
    no real fourth derivative shows in them (h⁴f⁗ is below rounding unless f⁗ is beyond 1e16),
    while the points still differ enough for their rounding errors to be independent. For noise
    of standard deviation σ a fourth difference has standard deviation √70 σ."""
    h = 1e-6 * max(1.0, float(np.abs(x).max()))
    noise = 2 * np.finfo(float).eps * float(np.max(np.abs(fun(x)), initial=0.0))
    for _ in range(2):
        v = h * rng.standard_normal(x.shape)
        fourth = fun(x + 2 * v) - 4 * fun(x + v) + 6 * fun(x) - 4 * fun(x - v) + fun(x - 2 * v)
        noise = max(noise, float(np.max(np.abs(fourth), initial=0.0)) / np.sqrt(70))
    return noise


def _extrapolated(d):
    """Richardson extrapolation of central differences at steps t, t/2, t/4, t/8 (error O(t⁴)):
    the finest value, and how much it moved over the last two halvings (its uncertainty: far from
    convergence, when the step is too coarse for f, two levels can agree by chance, three rarely)."""
    r = [(4 * fine - coarse) / 3 for coarse, fine in zip(d, d[1:])]
    return r[-1], np.abs(r[0] - r[1]) + np.abs(r[1] - r[2])


def _first(fun, x, v, t):
    """The directional derivative of fun along v, and its uncertainty (_extrapolated)."""
    return _extrapolated([(fun(x + h * v) - fun(x - h * v)) / (2 * h) for h in (t, t / 2, t / 4, t / 8)])


def _second(f, x, v, w, t):
    """vᵀ(∇²f)w by second differences, extrapolated as in _first."""
    def s(h):
        return (f(x + h * v + h * w) - f(x + h * v - h * w) - f(x - h * v + h * w) + f(x - h * v - h * w)) \
            / (4 * h * h)
    return _extrapolated([s(h) for h in (t, t / 2, t / 4, t / 8)])


def _scale(fun, x, v, s, noise, lower=None) -> tuple[float, bool]:
    """The natural scale of a derivative of f along v: how fast f varies over a step s of the size
    of x (not the size of f: x'x + 1e12 varies like x'x), or for a second derivative how large the
    first one is (`lower`). Where f does not vary beyond rounding over that step, the derivative
    is 0 at the resolution noise/s, which is then the scale."""
    if lower is not None:
        return max(lower, 100 * noise / s ** 2), lower <= 100 * noise / s ** 2
    with np.errstate(all="ignore"):
        moved = [np.asarray(fun(x + s * v) - fun(x)), np.asarray(fun(x - s * v) - fun(x))]
    var = max((float(np.linalg.norm(m)) for m in moved if np.all(np.isfinite(m))), default=0.0)
    return max(var, 100 * noise) / s, var <= 100 * noise


# How rounding noise σ in f reaches the finest extrapolated quotient (its weights summed, with a
# margin of 3): first differences 12σ/t, second differences 90σ/t².
_NOISE_GAIN = {1: 40.0, 2: 270.0}


def _one_trial(kind, prob, vals, cand, aux, zero, full, step=1.0, fx=None) -> _Verdict:
    """fx: f at the point (vals), when the caller has it: f(x) is wanted a dozen times (the point's size,
    the noise, the scales) and is the same value each time, so it is computed once; each use is still
    charged to the check's budget as an evaluation (_Problem.charge_again), so the budget is unchanged."""
    x = vals[prob.wrt]
    rng = prob.rng
    xscale = max(1.0, float(np.abs(x).max()))
    if fx is None:
        fx = prob.f_at(vals, x)
    else:
        prob.charge_again()
    # f and the candidate in units of a power of 2 near f's size (exact): differences of values
    # near 1e300 do not overflow, and every judgement is relative anyway
    size = float(np.max(np.abs(fx), initial=0.0))
    unit = 2.0 ** float(np.round(np.log2(size))) if 0 < size < np.inf else 1.0

    def fun(xx):
        if xx is x:             # f at the point itself (_noise, _scale): the value computed once
            prob.charge_again()
            return fx / unit
        return prob.f_at(vals, xx) / unit
    cand = cand / unit
    tol = TOLERANCE[kind]
    if kind in ("hessian", "hvp"):
        return _second_order_verdict(fun, x, cand, vals[aux] if kind == "hvp" else None, rng, full, step,
                                     xscale, zero)
    t = step * 1e-4 * xscale
    if kind in ("grad", "vjp"):
        g = vals[aux] if kind == "vjp" else 1.0
        fun_s = lambda xx: np.array(float(np.sum(g * fun(xx))))  # noqa: E731
        return _gradient_verdict(fun_s, x, cand, rng, t, full, tol, xscale, zero)
    # jacobian and jvp: the derivative applied to a direction
    noise = _noise(fun, x, rng)
    size = fun(x).size
    directions = [vals[aux]] if kind == "jvp" else [rng.standard_normal(x.shape) for _ in range(2)]
    verdicts, naturals = [], []
    for v in directions:
        want, moved = _first(fun, x, v, t)
        # a Jacobian acts on vec(v) and gives vec(f): columns stacked (column-major, as in
        # Magnus & Neudecker); for vectors this is the plain reshape
        got = cand if kind == "jvp" else cand @ v.reshape(-1, 1, order="F")
        if kind == "jacobian":
            want, moved = want.reshape(-1, 1, order="F"), moved.reshape(-1, 1, order="F")
        u = float(np.linalg.norm(moved)) + _NOISE_GAIN[1] * noise * np.sqrt(size) / t
        natural, flat = _scale(fun, x, v, 0.1 * xscale, noise)
        flat = flat and zero
        naturals.append((natural / float(np.linalg.norm(v)), flat))
        verdicts.append(_judge(got, want, u, tol, natural, flat))
    natural, flat = max(n for n, _ in naturals), all(f for _, f in naturals)
    if kind == "jacobian" and full and x.size <= 36:
        cols, moved = [], []
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = 1
            c, m = _first(fun, x, e.reshape(x.shape, order="F"), t)
            cols.append(c.reshape(-1, order="F"))
            moved.append(m.reshape(-1, order="F"))
        u = float(np.linalg.norm(moved)) + _NOISE_GAIN[1] * noise * np.sqrt(size * x.size) / t
        verdicts.append(_judge(cand, np.array(cols).T, u, tol, natural * np.sqrt(x.size), flat))
    return _Verdict.worst(verdicts)


def _gradient_verdict(fun_s, x, g, rng, t, full, tol, xscale, zero) -> _Verdict:
    noise = _noise(fun_s, x, rng)
    verdicts, naturals = [], []
    for _ in range(2):
        v = rng.standard_normal(x.shape)
        want, moved = _first(fun_s, x, v, t)
        u = float(moved) + _NOISE_GAIN[1] * noise / t
        natural, flat = _scale(fun_s, x, v, 0.1 * xscale, noise)
        flat = flat and zero
        naturals.append((natural / float(np.linalg.norm(v)), flat))
        verdicts.append(_judge(np.sum(g * v), want, u, tol, natural, flat))
    natural, flat = max(n for n, _ in naturals), all(f for _, f in naturals)
    if full and x.size <= 36:
        fd, moved = np.zeros(x.shape), np.zeros(x.shape)
        for idx in np.ndindex(x.shape):
            e = np.zeros(x.shape)
            e[idx] = 1
            fd[idx], moved[idx] = _first(fun_s, x, e, t)
        u = float(np.linalg.norm(moved)) + _NOISE_GAIN[1] * noise * np.sqrt(x.size) / t
        verdicts.append(_judge(g, fd, u, tol, natural * np.sqrt(x.size), flat))
    return _Verdict.worst(verdicts)


def _second_order_verdict(fun, x, cand, v, rng, full, step, xscale, zero) -> _Verdict:
    """A Hessian H (v None), or a Hessian-vector product H·v (shaped like x), against second
    differences of the function as typed.

    The judge has no gradient, so H·v cannot be had as (∇f(x + tv) − ∇f(x − tv))/2t. Both are
    checked through the bilinear form aᵀHb, which the mixed second difference of f along a and b
    gives directly (_second): for the product, ⟨w, H·v⟩ = wᵀHv along the direction v and random
    directions w, and on the first trial (x of at most 36 entries) every entry eᵢᵀHv; for the
    Hessian, random pairs (v, w) and (at most 16 entries) every pair of unit vectors. The mixed
    difference cancels f(x) and the first-order terms exactly, so its error is O(t²) (removed by
    Richardson extrapolation) plus rounding amplified by 1/t², which the uncertainty carries."""
    t = step * 1e-3 * xscale
    tol = TOLERANCE["hessian" if v is None else "hvp"]
    f = lambda xx: float(fun(xx)[0, 0])  # noqa: E731
    noise = _noise(lambda xx: np.array(f(xx)), x, rng)
    gain = _NOISE_GAIN[2] * noise / t ** 2
    # second derivatives are judged against how large the first ones are, per unit of x
    slopes = [abs(float(_first(f, x, d, t)[0])) / float(np.linalg.norm(d))
              for d in (rng.standard_normal(x.shape) for _ in range(2))]
    natural, flat = _scale(f, x, None, xscale, noise, lower=max(slopes) / xscale)
    flat = flat and zero
    if v is None:
        form = lambda a, b: a.reshape(1, -1, order="F") @ cand @ b.reshape(-1, 1, order="F")  # noqa: E731
    else:
        form = lambda a, b: np.sum(b * cand)  # noqa: E731  (a is v: ⟨b, H·v⟩ = vᵀHb)
    verdicts = []
    # vec(X): the basis in column-major order, as the Hessian's rows and columns are
    basis = [np.eye(x.size)[i].reshape(x.shape, order="F") for i in range(x.size)] if full and x.size <= 36 else []
    if basis and v is None and x.size <= 16:
        pairs = [[_second(f, x, a, b, t) for b in basis] for a in basis]
        fd = np.array([[p[0] for p in row] for row in pairs])
        moved = np.array([[p[1] for p in row] for row in pairs])
        u = float(np.linalg.norm(moved)) + gain * x.size
        verdicts.append(_judge(cand, fd, u, tol, natural * x.size, flat))
    if basis and v is not None:
        pairs = [_second(f, x, a, v, t) for a in basis]
        fd = np.array([p[0] for p in pairs]).reshape(x.shape, order="F")
        moved = np.array([p[1] for p in pairs])
        u = float(np.linalg.norm(moved)) + gain * np.sqrt(x.size)
        verdicts.append(_judge(cand, fd, u, tol, natural * np.sqrt(x.size) * float(np.linalg.norm(v)), flat))
    for _ in range(2):
        a = rng.standard_normal(x.shape) if v is None else v
        w = rng.standard_normal(x.shape)
        want, moved = _second(f, x, a, w, t)
        u = moved + gain
        verdicts.append(_judge(form(a, w), want, u, tol, natural * float(np.linalg.norm(a) * np.linalg.norm(w)),
                               flat))
    return _Verdict.worst(verdicts)
