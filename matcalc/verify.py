"""The numeric judge: finite differences on random distinct sizes and random inputs.

It shares nothing with the derivative engine but the ops' NumPy
implementations: it evaluates the *function* at perturbed points and compares
with the candidate derivative evaluated at the point.

- Sizes: a distinct random size for every symbolic dimension (2 to 7), so a
  missing transpose cannot hide behind a square matrix (past six names, sizes
  that meet in one matrix differ: draw_sizes).
- Inputs: drawn from each name's kind and domain (symmetric, SPD with
  eigenvalues in [0.5, 2], well-conditioned invertible matrices with singular
  values in [1, 2], positive entries for log and sqrt, probability vectors for
  cross-entropy targets, entries at least 0.2 away from the kinks of relu/abs).
  A point where the function or the candidate is not finite, or where a matrix
  the function inverts has condition number above 1e3, is drawn again (up to
  200 times: log(b − Ax) needs every entry of b − Ax positive).
- Checks: directional derivatives ⟨G, V⟩ against central differences with
  Richardson extrapolation, for every trial; the full entry-by-entry
  comparison when the variable has at most 36 entries. A trial that fails is
  repeated at a 20× smaller step: near a pole or a kink the usual step is too
  coarse for a right result, and no step suits a wrong one.
- Tolerance: relative error at most 1e-5 (1e-4 for Hessians, which use second
  differences), relative to the size of the quantities compared, or to the
  rounding-noise level of the difference quotients where those are ~0. A wrong
  transpose, sign or factor gives errors of order 1; correct results score
  about 1e-9 (the mutation test in tests/ checks both sides).
- Generic matrices are drawn with entries N(0, 1/cols) (the usual
  initialisation), so deep compositions stay away from saturation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .expr import Expr, postorder
from .numeric import evaluate

TOLERANCE = {"grad": 1e-5, "jacobian": 1e-5, "vjp": 1e-5, "jvp": 1e-5, "hessian": 1e-4}
_DRAWS = 200


@dataclass
class Report:
    passed: bool
    max_error: float
    trials: int
    sizes: dict
    seed: int
    message: str = ""
    failures: list = field(default_factory=list)

    def summary(self) -> str:
        sizes = " ".join(f"{k}={v}" for k, v in sorted(self.sizes.items())) or "no symbolic sizes"
        if self.passed:
            return f"✓ verified (max rel. error {self.max_error:.1e} over {self.trials} trials, sizes {sizes})"
        return f"✗ verification FAILED: {self.message} (max rel. error {self.max_error:.1e}, sizes {sizes}, " \
               f"seed {self.seed})"

    def as_dict(self) -> dict:
        return {"passed": self.passed, "max_rel_error": self.max_error, "trials": self.trials,
                "sizes": dict(self.sizes), "seed": self.seed, "message": self.message}


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


def _orthogonal(n, rng):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def draw_value(kind: str, shape, domains: set, rng) -> np.ndarray:
    r, c = shape
    if "probability" in domains:
        p = rng.uniform(0.1, 1.0, (r, c))
        return p / p.sum()
    if kind == "spd":
        q = _orthogonal(r, rng)
        return (q * rng.uniform(0.5, 2.0, r)) @ q.T
    if "spd" in domains and kind == "matrix" and r == c and r > 1:
        # log det of a general matrix: positive determinant but *not* symmetric, so that a result
        # X⁻¹ where X⁻ᵀ is right cannot pass
        u, v = _orthogonal(r, rng), _orthogonal(r, rng)
        if np.linalg.det(u) * np.linalg.det(v) < 0:
            u[:, 0] = -u[:, 0]
        return (u * rng.uniform(1.0, 2.0, r)) @ v.T
    if kind == "symmetric":
        m = rng.standard_normal((r, r))
        return (m + m.T) / 2 + (2 * np.eye(r) if "invertible" in domains else 0)
    if kind == "diagonal":
        d = rng.uniform(0.5, 2.0, r) * (rng.choice([-1, 1], r) if "positive" not in domains else 1)
        return np.diag(d)
    if "positive" in domains:
        return rng.uniform(0.5, 2.0, (r, c))
    if "invertible" in domains and r == c and r > 1:
        u, v = _orthogonal(r, rng), _orthogonal(r, rng)
        return (u * rng.uniform(1.0, 2.0, r)) @ v.T
    x = rng.standard_normal((r, c)) / (np.sqrt(c) if r > 1 and c > 1 else 1.0)
    if "away-from-kinks" in domains:
        x = np.sign(x) * (0.2 + np.abs(x))
    if "moderate" in domains:
        x = np.clip(x, -3, 3)
    return x


# ------------------------------------------------------------------ checking

class _Problem:
    """A function, its variable, and a point where everything is finite."""

    def __init__(self, f: Expr, wrt: str, symbols: dict, domains: dict, sizes: dict, rng):
        self.f, self.wrt, self.symbols, self.domains, self.sizes, self.rng = f, wrt, symbols, domains, sizes, rng

    def shape(self, name):
        return tuple(d if isinstance(d, int) else self.sizes[d] for d in self.symbols[name][1])

    def point(self, extra=()):
        vals = {}
        for name, (kind, _) in self.symbols.items():
            vals[name] = draw_value(kind, self.shape(name), self.domains.get(name, set()), self.rng)
        return vals

    def f_at(self, vals, x):
        return evaluate(self.f, {**vals, self.wrt: x}, self.sizes)


def _rel(a, b, floor: float = 1e-6) -> float:
    """Relative error. Not finite counts as a failure (never NaN, which `max` would drop); the
    arrays are rescaled first so that values near 1e300 do not overflow the norm."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    m = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if m == 0.0:
        return 0.0
    a, b = a / m, b / m
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor / m)
    return float(np.linalg.norm(a - b) / scale)


def _directional(fun, x, v, t):
    """Central difference of fun along v, Richardson-extrapolated: error O(t⁴)."""
    d1 = (fun(x + t * v) - fun(x - t * v)) / (2 * t)
    d2 = (fun(x + t / 2 * v) - fun(x - t / 2 * v)) / t
    return (4 * d2 - d1) / 3


def check(kind: str, f: Expr, wrt: str, candidate: Expr, symbols: dict, domains: dict,
          trials: int = 5, seed: int = 0, aux: str | None = None) -> Report:
    """Check candidate = kind-derivative of f w.r.t. wrt.

    symbols: name -> (kind, shape) for every name in f (and aux: the upstream
    gradient g of a vjp or the direction v of a jvp, with its shape).
    """
    rng = np.random.default_rng(seed)
    dims = {d for _, shape in symbols.values() for d in shape if isinstance(d, str)}
    # and sizes no name has: ones(m) or eye(k) alone (was a KeyError; issue 7, found by fuzzing)
    dims |= {d for e in (f, candidate) for node in postorder(e) for d in node.shape if isinstance(d, str)}
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
# machine or on none. Measured: 3,000,000 units take about 11 s of CPU time; the catalogue's
# largest check is estimated at 33,000 (the Hessian of the binary cross-entropy).
MAX_CHECK_WORK = 3_000_000


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
    sizes = CheckSizes(draw_sizes(dims, rng, size_pairs(f, candidate)),
                       _current[2].work_left if again else MAX_CHECK_WORK)
    _current[:] = [rng, dims, sizes]
    x = tuple(d if isinstance(d, int) else sizes[d] for d in symbols[wrt][1])
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
    full = x_entries if x_entries <= 36 else 0
    if kind == "hessian":
        full = 8 * x_entries ** 2 if x_entries <= 16 else 0
        per_trial = 11 + 16 + 3
    else:
        per_trial = 11 + 8 + 3          # noise floor, two directions, the point and its neighbours
    f_evals = 2 * (trials * per_trial + 4 * full)
    return f_evals * _evaluation_cost(f, sizes) + 2 * trials * _evaluation_cost(candidate, sizes)


def _evaluation_cost(e: Expr, sizes) -> float:
    """Work of evaluating e once: one unit a node, and n³/10,000 for a node whose arrays are n×n."""
    def size(d):
        return d if isinstance(d, int) else sizes[d]
    work = 0.0
    for node in postorder(e):
        n = max([size(d) for a in (node, *node.args) for d in a.shape])
        work += 1 + n ** 3 * max(1, len(node.args) - 1) / 10_000
    return work


def _check_sizes(kind, f, wrt, candidate, symbols, domains, trials, seed, aux, sizes, rng) -> Report:
    prob = _Problem(f, wrt, {k: v for k, v in symbols.items() if k != aux}, domains, sizes, rng)
    tol = TOLERANCE[kind]
    worst = 0.0
    for trial in range(trials):
        for _ in range(_DRAWS):
            vals = prob.point()
            if aux is not None:
                vals[aux] = rng.standard_normal(tuple(d if isinstance(d, int) else sizes[d]
                                                      for d in symbols[aux][1]))
            fx = prob.f_at(vals, vals[wrt])
            cand = evaluate(candidate, vals, sizes)
            if np.all(np.isfinite(fx)) and _finite_nearby(prob, vals) and _well_conditioned(prob, vals):
                break
        else:
            return Report(False, float("nan"), trial, sizes, seed,
                          "no point found where the function is finite")
        if not np.all(np.isfinite(cand)):
            return Report(False, float("inf"), trial + 1, sizes, seed,
                          "the result is not finite at a point where the function is")
        # near a pole or a kink (log(b − Ax) with b − Ax small) the quotients at the usual step are
        # off; a right result agrees at a smaller one, a wrong one at none
        err = _one_trial(kind, prob, vals, cand, aux, full=(trial == 0))
        if not err <= tol:
            err = min(err, _one_trial(kind, prob, vals, cand, aux, full=(trial == 0), step=0.05))
        worst = max(worst, err)
        if not err <= tol:
            return Report(False, worst, trial + 1, sizes, seed,
                          f"differs from finite differences (relative error {err:.1e} > {tol:.0e})")
    return Report(True, worst, trials, sizes, seed)


MAX_CONDITION = 1e3


def _well_conditioned(prob, vals) -> bool:
    """Every matrix the function inverts (arguments of inv, det, logdet) has condition number at
    most MAX_CONDITION: near a singular matrix (S + X, XᵀX with X drawn at random) finite
    differences lose their accuracy, and a true identity would fail (1e-3 at cond 2e4)."""
    for node in postorder(prob.f):
        for arg, dom in zip(node.args, node.op.domain):
            if dom in ("invertible", "spd") and arg.shape[0] == arg.shape[1] and not arg.is_scalar:
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


def _noise_floor(fun, x, rng, t, order, tol) -> float:
    """The smallest derivative difference quotients of `order` (1 or 2) at step t resolve here.

    Rounding moves f by some noise; a quotient cannot tell apart derivatives closer than about
    noise / tᵒʳᵈᵉʳ. Below that level (a derivative that is 0 up to rounding: a constant function,
    terms that cancel) errors count relative to it, not as 100% of a value near 0. The noise is
    at least the rounding of f itself (an ulp or two), more where f is a small difference of large
    intermediates: that shows in fourth differences at the first-order step (moves of x like the
    quotients' own), whose true value, h⁴ f⁗, is far below rounding, and to which rounding
    contributes about 8× the noise. The factor covers the extrapolation's weights: 10 for first
    differences, 40 for second ones (four evaluations at each of two steps)."""
    h = 1e-4 * max(1.0, float(np.abs(x).max()))
    noise = 2 * np.finfo(float).eps * float(np.max(np.abs(fun(x))))
    for _ in range(2):
        v = h * rng.standard_normal(x.shape)
        fourth = fun(x + 2 * v) - 4 * fun(x + v) + 6 * fun(x) - 4 * fun(x - v) + fun(x - 2 * v)
        noise = max(noise, float(np.max(np.abs(fourth))) / 8)
    return 10 * 4 ** (order - 1) * noise / (t ** order * tol)


def _one_trial(kind, prob, vals, cand, aux, full, step=1.0) -> float:
    x = vals[prob.wrt]
    rng = prob.rng
    t = step * 1e-4 * max(1.0, float(np.abs(x).max()))
    fun = lambda xx: prob.f_at(vals, xx)  # noqa: E731
    tol = TOLERANCE[kind]
    if kind == "hessian":
        return _hessian_error(fun, x, cand, rng, full, step)
    if kind in ("grad", "vjp"):
        g = vals[aux] if kind == "vjp" else 1.0
        fun_s = lambda xx: float(np.sum(g * fun(xx)))  # noqa: E731
        floor = max(1e-6, _noise_floor(fun_s, x, rng, t, 1, tol))
        return _gradient_error(fun_s, x, cand, rng, t, full, floor)
    # jacobian and jvp: the derivative applied to a direction
    floor = max(1e-6, _noise_floor(fun, x, rng, t, 1, tol))
    directions = [vals[aux]] if kind == "jvp" else [rng.standard_normal(x.shape) for _ in range(2)]
    err = 0.0
    for v in directions:
        want = _directional(fun, x, v, t)
        got = cand if kind == "jvp" else cand @ v.reshape(-1, 1)
        err = max(err, _rel(got.reshape(-1), want.reshape(-1), floor))
    if kind == "jacobian" and full and x.size <= 36:
        cols = []
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = 1
            cols.append(_directional(fun, x, e.reshape(x.shape), t).reshape(-1))
        err = max(err, _rel(cand, np.array(cols).T, floor))
    return err


def _gradient_error(fun_s, x, g, rng, t, full, floor) -> float:
    err = 0.0
    for _ in range(2):
        v = rng.standard_normal(x.shape)
        err = max(err, _rel(np.sum(g * v), _directional(fun_s, x, v, t), floor))
    if full and x.size <= 36:
        fd = np.zeros(x.shape)
        for idx in np.ndindex(x.shape):
            e = np.zeros(x.shape)
            e[idx] = 1
            fd[idx] = _directional(fun_s, x, e, t)
        err = max(err, _rel(g, fd, floor))
    return err


def _hessian_error(fun, x, h, rng, full, step) -> float:
    t = step * 1e-3 * max(1.0, float(np.abs(x).max()))
    f = lambda xx: float(fun(xx)[0, 0])  # noqa: E731

    def second(v, w, s):
        return (f(x + s * v + s * w) - f(x + s * v - s * w) - f(x - s * v + s * w) + f(x - s * v - s * w)) / (4 * s * s)

    # second differences carry rounding noise of about 1e-10·|f|: a zero Hessian must not fail on it
    floor = max(1e-5 * (1 + abs(f(x))), _noise_floor(f, x, rng, t, 2, TOLERANCE["hessian"]))
    err = 0.0
    pairs = [(rng.standard_normal(x.shape), rng.standard_normal(x.shape)) for _ in range(2)]
    if full and x.size <= 16:
        basis = [np.eye(x.size)[i].reshape(x.shape) for i in range(x.size)]
        fd = np.array([[(4 * second(a, b, t / 2) - second(a, b, t)) / 3 for b in basis] for a in basis])
        err = _rel(h, fd, floor)
    for v, w in pairs:
        want = (4 * second(v, w, t / 2) - second(v, w, t)) / 3
        err = max(err, _rel(v.reshape(1, -1) @ h @ w.reshape(-1, 1), want, floor))
    return err
