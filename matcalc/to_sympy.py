"""Conversion of a matcalc graph to SymPy matrix expressions (for users who continue in SymPy).

Variables become `MatrixSymbol`s (sizes are positive integer `Symbol`s) and scalar `Symbol`s.
A matrix or vector is a `MatrixExpr` of its shape. A scalar built from 1×1 matrix products by
sums, products, positive integer powers and scalar coefficients stays a 1×1 `MatrixExpr`, as
SymPy itself types it: `x'*A*x` is `x.T*A*x`, `2*(a'*x)^2 - x'*x` is `2*(a.T*x)**2 - x.T*x`.
Every other scalar is a SymPy scalar expression, and a 1×1 matrix M inside it (under log or a
fractional power, as a factor of a larger matrix, added to a scalar) is written `Trace(M)`:
the trace of a 1×1 matrix is its one entry, and SymPy keeps it whole, where `M[0, 0]`
becomes an index-level `Sum` on the first `doit()` (which every SymPy `*` and `+` call).

Function ops give their SymPy form in their spec's `sp` field (a function of the SymPy arguments;
for elementwise ops the scalar function, applied entrywise to a matrix by SymPy's
`ElementwiseApplyFunction`, and unevaluated to a scalar that holds a matrix: see _of_scalar).
Ops SymPy has no matrix form for write themselves out in SymPy's matrix algebra with the helpers
here (`matrix_sum`: 𝟏ᵀX𝟏, `entrywise`, `as_scalar`, `DiagonalOf`, `TriangularMask`), so that SymPy can
substitute sizes and values into them and evaluate them: softmax(z) = exp.(z) / 𝟏ᵀexp.(z). An op without
becomes an undefined function of its arguments with the op's shape (`sp.Function` for a
scalar, `UndefinedMatrixFunction` for a matrix). SymPy is imported only here, on demand.
"""
from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from . import algebra as alg
from .expr import Expr, postorder


def _basic(d):
    """A size as a SymPy object: a Python int becomes an Integer (never a parse of text)."""
    return sp.Integer(d) if isinstance(d, int) else d


def _dim(d):
    return d if isinstance(d, int) else sp.Symbol(d, integer=True, positive=True)


def to_sympy(root: Expr):
    done: dict[Expr, object] = {}
    for node in postorder(root):
        args = [done[a] for a in node.args]
        done[node] = _convert(node, args)
    return done[root]


def _convert(node: Expr, args):
    op = node.op
    r, c = (_dim(d) for d in node.shape)
    if op is alg.SYM:
        return sp.Symbol(node.attrs[0]) if node.is_scalar else sp.MatrixSymbol(node.attrs[0], r, c)
    if op is alg.CONST:
        return _rational(node.attrs[0])
    if op is alg.SIZE:
        return _dim(node.attrs[0])
    if op is alg.ZERO:
        return sp.ZeroMatrix(r, c)
    if op is alg.IDENTITY:
        return sp.Identity(r)
    if op is alg.ONES:
        return sp.OneMatrix(r, c)
    if op is alg.ADD:
        if all(isinstance(a, sp.MatrixExpr) for a in args):
            return sp.MatAdd(*args).doit(deep=False)
        return sp.Add(*[as_scalar(a) for a in args])
    if op is alg.MUL:
        coef, exps = node.attrs
        k = len(exps)
        scalar, matrices = _rational(coef), []
        for a, e in zip(args[:k], exps):
            if node.is_scalar and isinstance(a, sp.MatrixExpr) and e.denominator == 1 and e > 0:
                matrices.append(a if e == 1 else sp.MatPow(a, int(e)))    # (aᵀx)²: a 1×1 matrix product
            else:
                scalar = scalar * as_scalar(a) ** _rational(e)
        matrices += args[k:]
        return sp.MatMul(scalar, *matrices).doit(deep=False) if matrices else scalar
    if op is alg.HAD:
        factors = [a if e == 1 else sp.HadamardPower(a, _rational(e)) for a, e in zip(args, node.attrs[0])]
        return factors[0] if len(factors) == 1 else sp.HadamardProduct(*factors)
    if op is alg.TRANSPOSE:
        return args[0].T
    if op is alg.INV:
        return sp.Inverse(args[0])
    if op is alg.MATPOW:
        return sp.MatPow(args[0], node.attrs[0])
    convert = getattr(op, "sp", None)
    if convert is None:
        return _undefined(op.name, node.shape, args)
    if getattr(op, "elementwise", False):
        return _of_scalar(convert, as_scalar(args[0])) if node.is_scalar else entrywise(convert, args[0])
    return convert(*args)


def _rational(f):
    return sp.Rational(f.numerator, f.denominator)


def as_scalar(x):
    """A 1×1 matrix expression as a scalar: its trace, which is its one entry (tr(cM) = c tr(M))."""
    if isinstance(x, sp.MatMul):
        c, m = x.as_coeff_mmul()
        return c * sp.Trace(m.doit(deep=False))
    return sp.Trace(x) if isinstance(x, sp.MatrixExpr) else x


def _of_scalar(f, t):
    """f(t) for a scalar t. Where t holds a matrix, f is applied unevaluated: SymPy 1.14's Max and
    Heaviside, evaluating, call factor_terms, which fails on any number inside a matrix expression
    (relu(2*x'*A*x), step(logdet(2*X)): "input to Trace, 2*x.T*A*x, is not a matrix")."""
    if not t.has(sp.MatrixExpr):
        return f(t)
    body = f(_T)
    with sp.evaluate(False):
        return body.xreplace({_T: t})


_T = sp.Dummy("t")     # one bound variable for every elementwise function: equal inputs, equal outputs


def entrywise(f, X):
    """f applied to every entry of the matrix expression X (f: a scalar SymPy function)."""
    return ElementwiseApplyFunction(sp.Lambda(_T, f(_T)), X)


# ---------------------------------------------------------------- helpers of the ops' SymPy forms

def matrix_sum(X):
    """sum(X) as 𝟏ᵀX𝟏 (a 1×1 matrix), without the factors a vector does not need."""
    r, c = X.shape
    return sp.MatMul(*([sp.OneMatrix(1, r)] if r != 1 else []), X,
                     *([sp.OneMatrix(c, 1)] if c != 1 else [])).doit(deep=False)


class DiagonalOf(sp.DiagonalOf):
    """SymPy's diagonal of a square matrix, whose shape also works once an explicit matrix is put in
    (SymPy 1.14's reads `.is_Integer` of the explicit matrix's shape, Python ints, and fails)."""

    @property
    def shape(self):
        return _basic(self.arg.shape[0]), sp.S.One


class TriangularMask(sp.MatrixExpr):
    """The r×c matrix of ones on and above (upper) or below the diagonal, zeros elsewhere:
    triu(X) = mask ⊙ X."""

    def __new__(cls, rows, cols, upper):
        return sp.Basic.__new__(cls, _basic(rows), _basic(cols), sp.true if upper else sp.false)

    @property
    def shape(self):
        return self.args[0], self.args[1]

    def _entry(self, i, j, **kwargs):
        return sp.Piecewise((1, sp.Le(i, j) if self.args[2] else sp.Ge(i, j)), (0, True))


class Extreme(sp.Function):
    """The largest (smallest) entry of a matrix: Max (Min) of its entries once it is explicit."""

    is_commutative = True

    @classmethod
    def eval(cls, X, largest):
        if isinstance(X, sp.MatrixBase):
            return (sp.Max if largest else sp.Min)(*X)
        return None


class ExtremeIndicator(sp.MatrixExpr):
    """1 where X is its largest (smallest) entry, 0 elsewhere: the derivative of max (min)."""

    def __new__(cls, X, largest):
        return sp.Basic.__new__(cls, X, sp.true if largest else sp.false)

    @property
    def shape(self):
        return self.args[0].shape

    def _entry(self, i, j, **kwargs):
        X = self.args[0]
        return sp.Piecewise((1, sp.Eq(X[i, j], Extreme(X, self.args[1]))), (0, True))


# ---------------------------------------------------------------- ops SymPy knows nothing of

class UndefinedMatrixFunction(sp.MatrixExpr):
    """name(args) as a matrix of the given shape, for a matrix-valued op with no SymPy form."""

    def __new__(cls, name, shape, *args):
        return sp.Basic.__new__(cls, Str(name) if isinstance(name, str) else name, sp.Tuple(*shape), *args)

    @property
    def name(self):
        return self.args[0].name

    @property
    def shape(self):
        return tuple(self.args[1])

    def _sympystr(self, printer):
        return f"{self.name}({', '.join(printer.doprint(a) for a in self.args[2:])})"

    def _latex(self, printer):
        name = self.name.replace("_", r"\_")
        return rf"\operatorname{{{name}}}\left({', '.join(printer.doprint(a) for a in self.args[2:])}\right)"


def _undefined(name, shape, args):
    if shape == (1, 1):
        return sp.Function(name)(*args)
    return UndefinedMatrixFunction(name, tuple(_dim(d) for d in shape), *args)
