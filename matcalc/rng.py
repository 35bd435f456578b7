"""The verifier's random numbers: the standard library's Mersenne Twister behind the few methods of
NumPy's Generator that matcalc uses (standard_normal, uniform, integers, choice, shuffle).

`np.random.default_rng` imports numpy.random, which loads secrets, hmac and OpenSSL's _hashlib, the
legacy mtrand and more: ≈ 15 ms of a verified command's start-up, more than the check itself.
`random` loads in about a millisecond. The draws are deterministic per seed (MT19937 seeded by
`random.Random(seed)`) and are returned as NumPy float64 arrays of the requested shapes, as the
Generator's; they are not the Generator's values. Bits are taken in bulk (getrandbits), so a draw of
n numbers costs a few NumPy operations, not n Python calls.
"""
from __future__ import annotations

import random as _random

import numpy as np

_TWO_PI = 2.0 * np.pi
_EPS53 = 2.0 ** -53


def _shape(size) -> tuple:
    if isinstance(size, tuple):
        return tuple(int(s) for s in size)
    if isinstance(size, (list, np.ndarray)):
        return tuple(int(s) for s in size)
    return (int(size),)


def _count(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    if n < 0:
        raise ValueError(f"negative dimensions are not allowed: {shape}")
    return n


class Random:
    """A seeded source of random numbers with the subset of numpy.random.Generator's interface matcalc
    uses. `size` is None (a Python float or int), an int or a tuple, as for the Generator."""

    __slots__ = ("_mt",)

    def __init__(self, seed: int = 0):
        self._mt = _random.Random(seed)

    def _unit(self, n: int) -> np.ndarray:
        """n floats uniform on [0, 1), 53 random bits each."""
        if n == 0:
            return np.zeros(0)
        bits = self._mt.getrandbits(64 * n).to_bytes(8 * n, "little")
        return (np.frombuffer(bits, dtype="<u8") >> np.uint64(11)).astype(float) * _EPS53

    def random(self, size=None):
        if size is None:
            return self._mt.random()
        shape = _shape(size)
        return self._unit(_count(shape)).reshape(shape)

    def standard_normal(self, size=None):
        """Standard normal draws (Box–Muller on pairs of uniforms)."""
        if size is None:
            return float(self.standard_normal(1)[0])
        shape = _shape(size)
        n = _count(shape)
        k = (n + 1) // 2
        u = self._unit(2 * k)
        r = np.sqrt(-2.0 * np.log(1.0 - u[:k]))      # 1 − u lies in (0, 1]: log is finite
        theta = _TWO_PI * u[k:]
        return np.concatenate((r * np.cos(theta), r * np.sin(theta)))[:n].reshape(shape)

    def uniform(self, low=0.0, high=1.0, size=None):
        """Uniform on [low, high)."""
        if size is None:
            return low + (high - low) * self._mt.random()
        shape = _shape(size)
        return low + (high - low) * self._unit(_count(shape)).reshape(shape)

    def integers(self, low, high=None, size=None):
        """Integers uniform on [low, high) ([0, low) with one bound), as Generator.integers."""
        if high is None:
            low, high = 0, low
        low, high = int(low), int(high)
        if high <= low:
            raise ValueError(f"high <= low: [{low}, {high})")
        draw = self._mt.randrange
        if size is None:
            return draw(low, high)
        shape = _shape(size)
        return np.array([draw(low, high) for _ in range(_count(shape))], dtype=np.int64).reshape(shape)

    def choice(self, a, size=None):
        """Entries of a (a sequence, or range(a) for an int) drawn uniformly with replacement."""
        pool = np.arange(a) if isinstance(a, (int, np.integer)) else np.asarray(a)
        if pool.size == 0:
            raise ValueError("a cannot be empty")
        if size is None:
            return pool[self._mt.randrange(len(pool))]
        return pool[self.integers(0, len(pool), size)]

    def shuffle(self, x) -> None:
        """Shuffle a list (or a 1-D array) in place."""
        self._mt.shuffle(x)


def default_rng(seed: int = 0) -> Random:
    """The verifier's generator for a seed (in place of numpy.random.default_rng)."""
    return Random(seed)
