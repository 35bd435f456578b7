"""NumPy for the op declarations, imported on first use: `np=np.exp` in a FunctionOp names numpy.exp
without importing NumPy (≈ 120 ms), which only commands that evaluate something need (verification,
`Result.numpy` run, the judge). The ops modules write `from .lazy_numpy import np` and use `np` as
NumPy: an attribute read before NumPy is loaded is a deferred reference, resolved when it is called
or when one of its own attributes is read after NumPy has loaded (`np.linalg.qr`, `np.pi`); once
NumPy is loaded every attribute is NumPy's own.
"""
from __future__ import annotations

import importlib
import sys


def _numpy():
    return sys.modules.get("numpy") or importlib.import_module("numpy")


class _Deferred:
    """numpy.<path>, looked up when first needed."""

    __slots__ = ("_path", "_target")

    def __init__(self, path: tuple):
        self._path = path
        self._target = None

    def _resolve(self):
        if self._target is None:
            target = _numpy()
            for name in self._path:
                target = getattr(target, name)
            self._target = target
        return self._target

    def __getattr__(self, name):
        if name.startswith("__"):           # copy, pickle and friends probe dunders: no NumPy for them
            raise AttributeError(name)
        if "numpy" in sys.modules:
            return getattr(self._resolve(), name)
        return _Deferred(self._path + (name,))

    def __call__(self, *args, **kw):
        return self._resolve()(*args, **kw)

    def __repr__(self):
        return f"<numpy.{'.'.join(self._path)}, loaded on first use>"


np = _Deferred(())
