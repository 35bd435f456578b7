"""The verifier's generator (matcalc.rng): the standard library's Mersenne Twister behind the subset of
NumPy's Generator that matcalc uses, without importing numpy.random."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from matcalc.ops.domains import DOMAINS, KINDS, draw
from matcalc.rng import Random, default_rng


def _draws(rng):
    pool = list(range(10))
    rng.shuffle(pool)
    return [rng.standard_normal((3, 2)), rng.uniform(0.5, 2.0, 4), rng.integers(5), rng.integers(2, 9, 6),
            rng.choice([-1, 1], 5), pool, rng.standard_normal(7), rng.uniform(1.0, 2.0)]


def test_deterministic_per_seed():
    for a, b in zip(_draws(default_rng(7)), _draws(default_rng(7))):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(default_rng(7).standard_normal(5), default_rng(8).standard_normal(5))


def test_shapes_and_types():
    rng = Random(0)
    assert rng.standard_normal((3, 2)).shape == (3, 2) and rng.standard_normal((3, 2)).dtype == np.float64
    assert rng.standard_normal((4, 1)).shape == (4, 1)
    assert rng.standard_normal(5).shape == (5,)
    assert rng.standard_normal((0, 3)).shape == (0, 3)
    assert isinstance(rng.standard_normal(), float)
    assert rng.uniform(0.1, 1.0, (2, 3)).shape == (2, 3) and rng.uniform(0.1, 1.0, (2, 3)).dtype == np.float64
    assert isinstance(rng.uniform(1.0, 2.0), float)
    assert rng.integers(0, 4, 3).shape == (3,) and rng.integers(0, 4, 3).dtype == np.int64
    assert isinstance(rng.integers(3), int)
    assert rng.choice([-1, 1], 4).shape == (4,)
    assert rng.random((2, 2)).shape == (2, 2)
    # sizes as NumPy integers (shapes computed from arrays)
    assert rng.standard_normal((np.int64(2), np.int64(3))).shape == (2, 3)


def test_ranges():
    rng = Random(1)
    u = rng.uniform(0.5, 2.0, 20000)
    assert u.min() >= 0.5 and u.max() < 2.0 and abs(u.mean() - 1.25) < 0.02
    k = rng.integers(2, 8, 20000)
    assert set(k.tolist()) == set(range(2, 8))
    assert set(rng.integers(3, size=1000).tolist()) == {0, 1, 2}
    assert set(rng.choice([-1, 1], 1000).tolist()) == {-1, 1}
    z = rng.standard_normal(200000)
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(z ** 4) - 3) < 0.1         # normal tails, not uniform ones
    pool = list(range(2, 8))
    rng.shuffle(pool)
    assert sorted(pool) == list(range(2, 8))
    with pytest.raises(ValueError):
        rng.integers(3, 3)


@pytest.mark.parametrize("kind", ["matrix", *KINDS])
@pytest.mark.parametrize("domain", [None, *DOMAINS])
def test_every_sampler_draws_with_it(kind, domain):
    """Every sampler of ops/domains.py runs on the verifier's generator and gives float64 values of the
    requested shape."""
    rng = Random(3)
    for shape in ((3, 3), (4, 1), (2, 5)):
        if kind in ("spd", "symmetric", "diagonal") and shape[0] != shape[1]:
            continue
        x = draw(kind, shape, {domain} if domain else set(), rng)
        assert x.shape == shape and x.dtype == np.float64 and np.all(np.isfinite(x))


def test_domains_hold_on_the_verifiers_generator():
    rng = Random(4)
    assert np.all(draw("matrix", (3, 2), {"positive"}, rng) > 0)
    p = draw("matrix", (4, 1), {"probability"}, rng)
    assert np.all(p > 0) and abs(p.sum() - 1) < 1e-12
    assert np.all(np.abs(draw("matrix", (3, 3), {"away-from-kinks"}, rng)) >= 0.2)
    assert np.linalg.det(draw("matrix", (3, 3), {"spd"}, rng)) > 0
    assert np.linalg.cond(draw("matrix", (3, 3), {"invertible"}, rng)) <= 2 + 1e-9
    s = np.linalg.eigvalsh(draw("spd", (4, 4), set(), rng))
    assert s.min() >= 0.5 - 1e-12 and s.max() <= 2 + 1e-12
    h = draw("onehot", (5, 3), set(), rng)
    assert np.all(h.sum(axis=1) == 1)


def test_verification_does_not_import_numpy_random():
    code = ("import sys, matcalc; r = matcalc.grad('norm(A*x - b)**2', 'x').verify(); "
            "assert r.passed; print(sorted(m for m in sys.modules if m.startswith('numpy.random') or m == 'secrets'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
