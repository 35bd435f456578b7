"""Where the verifier draws an op's inputs from: registered samplers, by name.

An op names, per argument, the domain its input must lie in (`domain=("positive",)` for log); a
name that is not registered here is an error when the op is declared. The verifier draws each
variable from its declared kind (matrix, symmetric, spd, diagonal) and the domains of the ops it
is an argument of:

- a domain with `draw` gives the whole value when it applies to the kind (it returns None when
  the kind has its own, stronger sampler: an spd matrix is already positive definite);
- a domain with `refine` moves a generic draw (entries N(0, 1/cols)) into the domain;
- `inverted`: the op inverts its argument, so the verifier redraws points where that argument
  is ill-conditioned (finite differences lose their accuracy near a singular matrix).

Domains are tried in the order they are registered: the first `draw` that applies wins.
"""
from __future__ import annotations

from collections.abc import Callable

from .lazy_numpy import np

DOMAINS: dict[str, "Domain"] = {}


class Domain:
    """draw: (kind, shape, rng) -> 2-D array | None; refine: (x) -> x, on a generic draw. A plain class,
    not a dataclass: dataclasses loads inspect, ≈ 8 ms of every command's start-up."""

    __slots__ = ("name", "meaning", "draw", "refine", "inverted")

    def __init__(self, *, name: str, meaning: str, draw: Callable | None = None, refine: Callable | None = None,
                 inverted: bool = False):
        if (draw is None) == (refine is None):
            raise TypeError(f"domain {name!r}: give exactly one of draw and refine")
        self.name, self.meaning, self.draw, self.refine, self.inverted = name, meaning, draw, refine, inverted
        DOMAINS[name] = self

    def __repr__(self):
        return f"Domain({self.name!r})"


def _orthogonal(n, rng):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _singular_values_in_1_2(n, rng, det_positive=False):
    u, v = _orthogonal(n, rng), _orthogonal(n, rng)
    if det_positive and np.linalg.det(u) * np.linalg.det(v) < 0:
        u[:, 0] = -u[:, 0]
    return (u * rng.uniform(1.0, 2.0, n)) @ v.T


def _square(shape):
    return shape[0] == shape[1] and shape[0] > 1


def _probability(kind, shape, rng):
    if kind in ("probability", "onehot"):     # the kind's own sampler: rows of a matrix sum to 1
        return None
    return _probability_kind(shape, rng)


def _unit_interval(kind, shape, rng):
    return None if kind in KINDS else rng.uniform(0.05, 0.95, shape)


def _spd_argument(kind, shape, rng):
    # log det of a general matrix: positive determinant but *not* symmetric, so that a result
    # X⁻¹ where X⁻ᵀ is right cannot pass
    return _singular_values_in_1_2(shape[0], rng, det_positive=True) if kind == "matrix" and _square(shape) \
        else None


def _positive(kind, shape, rng):
    if kind == "diagonal":
        return np.diag(rng.uniform(0.5, 2.0, shape[0]))
    return None if kind in KINDS else rng.uniform(0.5, 2.0, shape)


def _invertible(kind, shape, rng):
    if kind == "symmetric":
        m = rng.standard_normal(shape)
        return (m + m.T) / 2 + 2 * np.eye(shape[0])
    return None if kind in KINDS or not _square(shape) else _singular_values_in_1_2(shape[0], rng)


def _untied(x):
    # each entry moved up by 0.1 times its rank: the order is kept, neighbours end ≥ 0.1 apart
    out = x.astype(float).reshape(-1)
    out[np.argsort(out, kind="stable")] += 0.1 * np.arange(out.size)
    return out.reshape(x.shape)


def _spread(x):
    # layernorm, rmsnorm divide by a row's standard deviation (rms): stretch every row (a vector: the
    # whole) about its mean until its standard deviation is at least 0.5; a constant row gets a ramp
    axis = 0 if x.shape[1] == 1 else 1
    x = x + 1e-3 * np.arange(x.shape[axis]).reshape((-1, 1) if axis == 0 else (1, -1))
    mean, std = x.mean(axis=axis, keepdims=True), x.std(axis=axis, keepdims=True)
    return mean + (x - mean) * np.maximum(1.0, 0.5 / std)


def _away_from_zero(x):
    # a norm's derivative x/‖x‖ is singular at 0: keep ‖x‖ ≥ 0.5 (a rescaling draws nothing more)
    n = np.linalg.norm(x)
    return x * (0.5 / n) if 0 < n < 0.5 else x


Domain(name="probability", meaning="entries in (0, 1) summing to 1 (a target distribution)", draw=_probability)
Domain(name="unit-interval", meaning="entries in [0.05, 0.95] (a binary target)", draw=_unit_interval)
Domain(name="spd", meaning="positive determinant (log det): drawn not symmetric", draw=_spd_argument, inverted=True)
Domain(name="positive", meaning="entries in [0.5, 2]", draw=_positive)
Domain(name="invertible", meaning="singular values in [1, 2]", draw=_invertible, inverted=True)
Domain(name="away-from-kinks", meaning="entries at least 0.2 away from 0 (relu, abs, sign)",
       refine=lambda x: np.sign(x) * (0.2 + np.abs(x)))
Domain(name="moderate", meaning="entries in [-3, 3] (exp stays moderate)", refine=lambda x: np.clip(x, -3, 3))
Domain(name="untied", meaning="entries at least 0.1 apart (max, min: no ties, and no finite-difference step "
       "moves the arg-max)", refine=_untied)
Domain(name="spread", meaning="each row (a vector: all entries) with standard deviation at least 0.5 "
       "(layernorm and rmsnorm divide by it)", refine=_spread)
Domain(name="away-from-zero", meaning="norm at least 0.5 (a norm's derivative is singular at 0)",
       refine=_away_from_zero)


# ---------------------------------------------------------------- the declared kinds

def _spd(shape, rng):
    q = _orthogonal(shape[0], rng)
    return (q * rng.uniform(0.5, 2.0, shape[0])) @ q.T


def _symmetric(shape, rng):
    m = rng.standard_normal(shape)
    return (m + m.T) / 2


def _diagonal(shape, rng):
    return np.diag(rng.uniform(0.5, 2.0, shape[0]) * rng.choice([-1, 1], shape[0]))


def _generic(shape, rng):
    r, c = shape
    return rng.standard_normal((r, c)) / (np.sqrt(c) if r > 1 and c > 1 else 1.0)


def _probability_kind(shape, rng):
    """A probability vector; for a matrix, each row one (targets Y of a batch)."""
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum() if shape[1] == 1 else p / p.sum(axis=1, keepdims=True)


def _onehot(shape, rng):
    """A one-hot vector; for a matrix, each row one-hot (a selector, as an embedding lookup)."""
    rows = np.zeros((shape[1], shape[0]) if shape[1] == 1 else shape)
    rows[np.arange(rows.shape[0]), rng.integers(0, rows.shape[1], rows.shape[0])] = 1.0
    return rows.reshape(shape)


KINDS = {"spd": _spd, "symmetric": _symmetric, "diagonal": _diagonal, "probability": _probability_kind,
         "onehot": _onehot}


def draw(kind: str, shape, domains, rng) -> np.ndarray:
    """A value of the given kind and shape inside every domain in `domains` (names)."""
    shape = tuple(shape)
    ordered = [d for d in DOMAINS.values() if d.name in domains]
    for d in ordered:
        if d.draw is not None:
            got = d.draw(kind, shape, rng)
            if got is not None:
                return got
    if d_kind := KINDS.get(kind):
        return d_kind(shape, rng)
    x = _generic(shape, rng)
    for d in ordered:
        if d.refine is not None:
            x = d.refine(x)
    return x
