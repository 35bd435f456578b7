"""Translate a matcalc expression into SymPy matrix expressions, differentiate, and judge the answer.

The translator reads matcalc's syntax tree (so SymPy sees the expression as the user wrote it,
not matcalc's canonical form) and the shapes matcalc inferred for every name. It covers the
subset SymPy's matrix calculus is meant for: + - * (matrix and scalar), transpose, inv (and
X^-1, X^k), tr, det, logdet as log(det), norm(.)**2p as (v'v)^p or tr(X'X)^p, dot, I / eye(n),
numbers and scalar names. Anything else (elementwise functions, .*, sum, softmax, norm to an
odd power...) raises NotExpressible and the identity is counted as "not expressible".

Two spellings of a 1×1 result are tried, because SymPy treats them very differently:

- "element": every 1×1 product becomes a scalar through `[0, 0]` (the spelling the issue asks
  for: ‖x‖² as (x.T*x)[0,0]);
- "matrix": 1×1 products stay 1×1 matrix expressions, and `[0, 0]` is used only where SymPy
  needs a true scalar (a 1×1 matrix plus a number, a scalar function of it, scaling a matrix).

With `elementwise=True` (used for the depth-scaling chain only) elementwise functions such
as tanh are translated to SymPy's ElementwiseApplyFunction (`M.applyfunc(tanh)`).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp
from sympy import (Determinant, Identity, Inverse, MatPow, MatrixExpr, MatrixSymbol, Trace, log)

import matcalc
from matcalc.syntax import Binary, Call, Name, Num, Postfix, Unary, parse_syntax


class NotExpressible(Exception):
    """The expression uses something outside the SymPy subset."""


class _Pending:
    """`I` before its size is known."""


_ELEMENTWISE = {"tanh": sp.tanh, "exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos,
                "sqrt": sp.sqrt}


class Translation:
    """f (a SymPy object), wrt, the name -> SymPy symbol map and the size symbols."""

    def __init__(self, expr: str, wrt: str, let=None, variant: str = "matrix", elementwise: bool = False,
                 sizes: dict | None = None):
        self.variant = variant
        self.elementwise = elementwise
        self.parsed = matcalc.parse(expr, let)
        self.dims: dict[str, object] = {}
        self.names: dict[str, object] = {}
        for name, s in self.parsed.symbols.items():
            shape = tuple(self._dim(d, sizes) for d in s.shape)
            if shape == (1, 1) and s.kind == "scalar":
                self.names[name] = sp.Symbol(name, real=True)
            else:
                self.names[name] = MatrixSymbol(name, *shape)
        if wrt not in self.names:
            raise NotExpressible(f"{wrt} does not occur")
        self.wrt = self.names[wrt]
        f = self.tr(parse_syntax(expr))
        if isinstance(f, _Pending):
            raise NotExpressible("a bare I")
        if variant == "element" and _is_1x1(f):
            f = f[0, 0]
        self.f = f

    def _dim(self, d, sizes):
        if isinstance(d, int):
            return d
        if not isinstance(d, str):
            raise NotExpressible(f"the size {d} is a product of sizes (vec, kron)")
        if sizes is not None:
            return sizes[d]
        if d not in self.dims:
            self.dims[d] = sp.Symbol(d, integer=True, positive=True)
        return self.dims[d]

    # ------------------------------------------------------------ the tree walk
    def tr(self, node):
        if isinstance(node, Num):
            return _number(node.value)
        if isinstance(node, Name):
            if node.id == "I":
                return _Pending()
            if node.id not in self.names:
                raise NotExpressible(f"name {node.id}")
            return self.names[node.id]
        if isinstance(node, Unary):
            return -self.mat(self.tr(node.operand))
        if isinstance(node, Postfix):
            a = self.mat(self.tr(node.operand))
            return a.T if isinstance(a, MatrixExpr) else a
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        raise NotExpressible(type(node).__name__)

    def mat(self, e):
        if isinstance(e, _Pending):
            raise NotExpressible("I whose size is not known")
        return e

    def scalar(self, e):
        e = self.mat(e)
        if isinstance(e, MatrixExpr):
            if _is_1x1(e):
                return e[0, 0]
            raise NotExpressible("a matrix where a scalar is needed")
        return e

    def norm_power(self, call: Call, p: Fraction):
        if len(call.args) != 1 or p.denominator != 1 or p <= 0 or p % 2:
            raise NotExpressible("norm to a power other than 2, 4, ...")
        v = self.mat(self.tr(call.args[0]))
        if not isinstance(v, MatrixExpr):
            return v ** int(p)
        sq = v.T * v if v.shape[1] == 1 else Trace(v.T * v)
        if self.variant == "element" or not isinstance(sq, MatrixExpr):
            sq = self.scalar(sq)
            return sq ** int(p // 2)
        return sq if p == 2 else MatPow(sq, int(p // 2))

    def binary(self, node: Binary):
        op = node.op
        if op in (".*", "./", ".^"):
            raise NotExpressible(f"elementwise {op}")
        if op in ("**", "^"):
            p = _exponent(node.right)
            if isinstance(node.left, Call) and node.left.func == "norm":
                return self.norm_power(node.left, p)
            a = self.mat(self.tr(node.left))
            if not isinstance(a, MatrixExpr):
                return a ** _number(p)
            if _is_1x1(a):
                if self.variant == "matrix" and p.denominator == 1 and p > 0:
                    return a if p == 1 else MatPow(a, int(p))
                return self.scalar(a) ** _number(p)
            if p.denominator != 1:
                raise NotExpressible("a fractional matrix power")
            k = int(p)
            if k == -1:
                return Inverse(a)
            if k < 0:
                return Inverse(MatPow(a, -k))
            return a if k == 1 else MatPow(a, k)
        a, b = self.tr(node.left), self.tr(node.right)
        if op in ("+", "-"):
            if isinstance(a, _Pending):
                a = Identity(self.mat(b).shape[0])
            if isinstance(b, _Pending):
                b = Identity(a.shape[0])
            ma, mb = isinstance(a, MatrixExpr), isinstance(b, MatrixExpr)
            if ma != mb:                       # a number plus a 1×1 product
                a, b = self.scalar(a), self.scalar(b)
            return a + b if op == "+" else a - b
        if op in ("*", "@"):
            if isinstance(a, _Pending):
                a = Identity(self.mat(b).shape[0]) if isinstance(b, MatrixExpr) else _raise("scalar * I")
            if isinstance(b, _Pending):
                b = Identity(a.shape[1]) if isinstance(a, MatrixExpr) else _raise("scalar * I")
            return self.product(a, b)
        if op == "/":
            d = self.scalar(b)
            if isinstance(a, MatrixExpr) and _is_1x1(a) and self.variant == "element":
                a = a[0, 0]
            return a * d ** -1
        raise NotExpressible(f"operator {op}")

    def product(self, a, b):
        ma, mb = isinstance(a, MatrixExpr), isinstance(b, MatrixExpr)
        if ma and mb:
            if a.shape[1] == b.shape[0] and not (self.variant == "element" and (_is_1x1(a) or _is_1x1(b))):
                out = a * b
                return out[0, 0] if self.variant == "element" and _is_1x1(out) else out
            if self.variant == "matrix" and _is_1x1(a) and b.shape[1] == 1:
                return b * a                   # (a'x) b = b (a'x), a valid matrix product
            if _is_1x1(a):
                return self.scalar(a) * b
            if _is_1x1(b):
                return a * self.scalar(b)
            raise NotExpressible("a product of mismatched shapes")
        return a * b

    def call(self, node: Call):
        f = node.func
        if f == "eye":
            n = node.args[0]
            if isinstance(n, Name) and n.id in self.dims:
                return Identity(self.dims[n.id])
            if isinstance(n, Num):
                return Identity(int(n.value))
            raise NotExpressible("eye of an unknown size")
        args = [self.mat(self.tr(a)) for a in node.args]
        if f in ("tr", "trace"):
            return Trace(args[0]) if isinstance(args[0], MatrixExpr) else args[0]
        if f == "det":
            return Determinant(args[0])
        if f == "logdet":
            return log(Determinant(args[0]))
        if f == "inv":
            return Inverse(args[0])
        if f == "transpose":
            return args[0].T
        if f == "dot":
            return self.product(args[0].T, args[1])
        if self.elementwise and f in _ELEMENTWISE:
            a = args[0]
            return a.applyfunc(_ELEMENTWISE[f]) if isinstance(a, MatrixExpr) else _ELEMENTWISE[f](a)
        if f == "norm":
            raise NotExpressible("norm (not squared)")
        raise NotExpressible(f"{f}()")


def _raise(msg):
    raise NotExpressible(msg)


def _is_1x1(e) -> bool:
    return isinstance(e, MatrixExpr) and e.shape == (1, 1)


def _number(v: Fraction):
    v = Fraction(v)
    return sp.Integer(v.numerator) if v.denominator == 1 else sp.Rational(v.numerator, v.denominator)


def _exponent(node) -> Fraction:
    if isinstance(node, Num):
        return Fraction(node.value)
    if isinstance(node, Unary) and isinstance(node.operand, Num):
        return -Fraction(node.operand.value)
    raise NotExpressible("a symbolic exponent")


# ------------------------------------------------------------------ differentiating

def sympy_derivative(t: Translation, kind: str):
    """SymPy's answer: f.diff(x) (grad, jacobian) or f.diff(x).diff(x) (hessian)."""
    g = t.f.diff(t.wrt)
    if kind == "hessian":
        g = g.diff(t.wrt)
    return g


def unevaluated(e) -> bool:
    return bool(e.atoms(sp.Derivative)) if hasattr(e, "atoms") else False   # ArrayDerivative is one


def is_symbolic_zero(e) -> bool:
    from sympy.matrices.expressions import ZeroMatrix
    from sympy.tensor.array.expressions import ZeroArray
    return e == 0 or isinstance(e, (ZeroMatrix, ZeroArray)) or getattr(e, "is_ZeroMatrix", False)


def numeric(e, t: Translation, values: dict, sizes: dict):
    """Evaluate a SymPy (matrix or array) expression at values (2-D arrays) and sizes, via lambdify."""
    syms = list(t.names.values())
    dims = list(t.dims.values())
    args = [_scalar_arg(s, values[str(s.name)]) for s in syms] + [sizes[str(d)] for d in dims]
    fn = sp.lambdify(syms + dims, e, modules="numpy", printer=_printer())
    return np.asarray(fn(*args), dtype=float)


def _scalar_arg(s, a):
    return a if isinstance(s, MatrixSymbol) else float(np.asarray(a).reshape(-1)[0])


def _printer():
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        """lambdify's NumPy printer plus what SymPy 1.14 leaves out for matrix expressions."""

        def _print_Determinant(self, e):
            return f"numpy.linalg.det({self._print(e.arg)})"

        def _print_Trace(self, e):
            return f"numpy.trace({self._print(e.arg)})"

        def _print_Transpose(self, e):
            return f"numpy.swapaxes({self._print(e.arg)}, -1, -2)"

        def _print_MatrixElement(self, e):
            return f"({self._print(e.parent)})[{self._print(e.i)}, {self._print(e.j)}]"

        def _print_Identity(self, e):
            return f"numpy.eye({self._print(e.shape[0])})"

        def _print_ZeroMatrix(self, e):
            return f"numpy.zeros(({self._print(e.shape[0])}, {self._print(e.shape[1])}))"

        def _print_OneMatrix(self, e):
            return f"numpy.ones(({self._print(e.shape[0])}, {self._print(e.shape[1])}))"

        def _print_ElementwiseApplyFunction(self, e):
            fn = e.function
            var = fn.variables[0]
            return f"(lambda {self._print(var)}: {self._print(fn.expr)})({self._print(e.expr)})"

    return Printer({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False,
                    "user_functions": {}})
