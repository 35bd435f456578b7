"""The op registry: everything matcalc knows about an op, in one place.

An op carries its names in the language, its shape rule, its canonical
constructor, its NumPy implementation (used by the verifier and the
evaluator), its derivative rule as a differential (JAX style: reverse mode
and Jacobians follow from it), its print templates and the input domain its
tests draw from, with a citation for the rule.
"""
from __future__ import annotations

REGISTRY: dict[str, "Op"] = {}     # node tag -> op
FUNCTIONS: dict[str, "Op"] = {}    # name in the language -> op


class Op:
    name = ""            # node tag
    names: tuple = ()    # function names in the language (parser reads them from here)
    arity: tuple = (1, 1)
    cite = ""            # where the derivative rule comes from
    rule = ""            # the differential, in words, for --steps
    domain: tuple = ()   # per argument: None or a domain registered in ops/domains.py
    temp = "t"           # preferred name when printed as a shared temporary
    usage = None         # a hint when called with the wrong number of arguments
    sized = False        # its arguments are sizes, kept as attrs (commutation(m, n))
    infix = None         # the precedence of an operator notation (A ⊗ B), else a function call
    order = 0

    def __init__(self, **fields):
        for k, v in fields.items():
            setattr(self, k, v)
        self.order = len(REGISTRY)
        REGISTRY[self.name] = self
        for n in self.names:
            FUNCTIONS[n] = self

    # -- typing: shapes are (rows, cols); `u` unifies sizes and raises ShapeError
    def infer(self, shapes, u):
        raise NotImplementedError

    # -- construction: canonical form; default is a plain node
    def build(self, *args, attrs=()):
        from ..expr import Expr
        return Expr(self, args, attrs, self.infer([a.shape for a in args], EQUAL_SIZES))

    # -- numerics on 2-D arrays (vectors are (n, 1), scalars (1, 1))
    def evaluate(self, node, vals, dims):
        raise NotImplementedError

    # -- derivative: the differential of node given its arguments' differentials (None = 0)
    def jvp(self, node, dargs):
        raise NotImplementedError(f"no derivative rule for {self.name}")

    def temp_of(self, node) -> str:
        """The name a shared temporary holding this node is given (printing, codegen)."""
        return self.temp

    def __repr__(self):
        return f"Op({self.name})"


class _EqualSizes:
    """The unifier of built nodes, whose shapes are resolved: two sizes agree when they are equal."""

    def eq(self, a, b):
        return a == b

    def shape_eq(self, s, t):
        return tuple(s) == tuple(t)

    def size(self, d):
        return d

    def mul(self, *sizes):
        from ..shapes import size_product
        return size_product(*sizes)

    def fmt(self, shape):
        from ..shapes import fmt_shape
        return fmt_shape(shape)

    def describe(self, shape):
        from ..shapes import describe_shape
        return describe_shape(shape)


EQUAL_SIZES = _EqualSizes()
