"""FunctionOp: an op written as a function call, described by its fields."""
from __future__ import annotations

from ..algebra import _need
from .base import Op


class FunctionOp(Op):
    """A function of the language. Fields:

    shape      "scalar-of-square" | "scalar-of-any" | "scalar-of-vector" | "vector-to-vector" |
               "elementwise" | "vectors-to-scalar" or a callable(shapes, u) -> shape
    np         callable(*2-D arrays) -> 2-D array (the verifier's and evaluator's implementation)
    d          callable(node, dargs) -> differential (JVP) in terms of the args' differentials
    canon      optional callable(*args) -> Expr | None: a simplification before a node is built
    text, latex, source, code: print templates with {0}, {1}; code is NumPy for 1-D vectors
    codegen    {"numpy": ..., "torch": ..., "jax": ...}: the calls of generated functions (codegen.py)
    usage      optional hint when the function is called with the wrong number of arguments
    """

    shape = "elementwise"
    canon = None
    text = latex = source = code = None

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

    scalar_ok = True

    def build(self, *args, attrs=()):
        from ..algebra import TRANSPOSE, transpose
        if getattr(self, "elementwise", False) and args[0].op is TRANSPOSE:
            return transpose(self.build(args[0].args[0]))      # f(Xᵀ) = f(X)ᵀ: one form only
        if self.canon is not None:
            got = self.canon(*args)
            if got is not None:
                return got
        return super().build(*args, attrs=attrs)

    def evaluate(self, node, vals, dims):
        return self.np(*vals)

    def jvp(self, node, dargs):
        if all(d is None for d in dargs):
            return None
        return self.d(node, dargs)


def _square_hint(name, s, u):
    if s[1] == 1 or s[0] == 1:
        return f"{name} of a vector is not defined; for x'x write x'*x or norm(x)**2" if name == "tr" \
            else f"{name} is defined for square matrices only"
    return "a product A*B is square only when A is m×n and B is n×m"
