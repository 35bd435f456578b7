"""The op registry. `matcalc.ops.load()` registers every op (matcalc/__init__ calls it)."""


def load():
    from . import elementwise, linalg, nn, normalization, reductions, sizes  # noqa: F401  (importing registers the ops)
