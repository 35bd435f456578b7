"""Trace, determinant, log-determinant, norms, sum, diag, dot."""
from __future__ import annotations

from .lazy_numpy import np

from ..algebra import (ADD, IDENTITY, INV, MATPOW, MUL, ONES, TRANSPOSE, ZERO, _need, add, call, const, count, had, identity,
                       inner, inv, mul, mul_parts, mul_split, ones, power, scale, size, transpose)
from ..shapes import is_column, is_row, size_product
from .function import FunctionOp

_COOKBOOK = "Petersen & Pedersen, The Matrix Cookbook (2012)"


# ---------------------------------------------------------------- trace

def _linear_invariant(name: str, x):
    """What tr, sum and the diagonal of a matrix share: f(Xᵀ) = f(X), f(ΣXᵢ) = Σf(Xᵢ), f(cX) = c f(X)."""
    if x.op is TRANSPOSE:
        return call(name, x.args[0])
    if x.op is ADD:
        return add(*[call(name, t) for t in x.args])
    if x.op is MUL:
        c, atoms, chain = mul_split(x)
        if c != 1 or atoms:
            return mul_parts(c, atoms, [call(name, mul(*chain))])
    return None


def _tr_canon(x):
    if x.is_scalar:
        return x
    got = _linear_invariant("tr", x)
    if got is not None:
        return got
    if x.op is MUL:       # tr(A x yᵀ) = yᵀ A x: rotate a row factor to the front
        chain = mul_split(x)[2]
        for i, f in enumerate(chain):
            if f.shape[0] == 1:
                return mul(*chain[i:], *chain[:i])
    if x.op is ZERO:
        return const(0)
    if x.op in (IDENTITY, ONES):        # tr(Iₙ) = tr(𝟏𝟏ᵀ) = n: the size, printed by its name
        return size(x.shape[0])
    if x.op is DIAG and is_column(x.args[0].shape):
        return call("sum", x.args[0])
    from .kron import KRON
    if x.op is KRON and all(a.shape[0] == a.shape[1] for a in x.args):
        return mul(call("tr", x.args[0]), call("tr", x.args[1]))     # tr(A ⊗ B) = tr(A) tr(B), A and B square
    return None


TR = FunctionOp(
    names=("tr", "trace"), meaning="trace of a square matrix", shape="scalar-of-square", scalar_ok=False,
    np=lambda X: np.array([[np.trace(X)]]),
    d=lambda node, d: call("tr", d[0]),
    transpose=lambda node, c: mul(c, identity(node.args[0].shape[0])),
    matrix=lambda node, m: mul(transpose(call("vec", identity(node.args[0].shape[0]))), m(node.args[0])),
    canon=_tr_canon,
    text="tr({0})", latex=r"\operatorname{{tr}}\left({0}\right)", source="tr({0})", code="{ns}.trace({0})",
    code_product="{ns}.sum({0} * {1}.T)",     # tr(PQ) = Σᵢⱼ PᵢⱼQⱼᵢ (Magnus & Neudecker, ch. 2 §4)
    rule="d tr(X) = tr(dX)", cite=_COOKBOOK + ", eq. (100)", sp=lambda X: _sympy().Trace(X),
    probes=(("grad", "tr(A*X)", "X", None),))


def _to_sympy():
    from .. import to_sympy
    return to_sympy


def _sympy():
    import sympy
    return sympy


# ---------------------------------------------------------------- determinants

def _det_canon(x):
    if x.is_scalar:
        return x
    if x.op is TRANSPOSE:
        return call("det", x.args[0])
    if x.op is IDENTITY:
        return const(1)
    if x.op is MATPOW:                   # det(Xᵏ) = det(X)ᵏ, det(X⁻¹) = det(X)⁻¹
        return power(call("det", x.args[0]), x.attrs[0])
    if x.op is INV:
        return power(call("det", x.args[0]), -1)
    return None


DET = FunctionOp(
    names=("det",), meaning="determinant of a square matrix", shape="scalar-of-square", scalar_ok=False,
    domain=("invertible",),
    np=lambda X: np.array([[np.linalg.det(X)]]),
    d=lambda node, d: mul(node, call("tr", mul(inv(node.args[0]), d[0]))),
    canon=_det_canon,
    text="det({0})", latex=r"\det\left({0}\right)", source="det({0})", code="{ns}.linalg.det({0})",
    rule="d det(X) = det(X) tr(X⁻¹ dX)", cite=_COOKBOOK + ", eq. (46)",
    sp=lambda X: _sympy().Determinant(X),
    probes=(("grad", "det(X)", "X", None), ("grad", "det(A*X*B)", "X", {"A": "matrix(n,n)", "B": "matrix(n,n)"})))


def _logdet_np(X):
    sign, val = np.linalg.slogdet(X)
    return np.array([[val if sign > 0 else np.nan]])


def _logdet_canon(x):
    if x.op is TRANSPOSE:
        return call("logdet", x.args[0])
    if x.op is IDENTITY:
        return const(0)
    if x.is_scalar:
        return call("log", x)
    # log det(Xᵏ) = k log det(X) where both are defined alike: k odd (det(Xᵏ) > 0 iff det(X) > 0)
    if x.op is MATPOW and x.attrs[0] % 2:
        return scale(x.attrs[0], call("logdet", x.args[0]))
    if x.op is INV:
        return scale(-1, call("logdet", x.args[0]))
    return None


LOGDET = FunctionOp(
    names=("logdet",), meaning="log det X, for det X > 0", shape="scalar-of-square", scalar_ok=False,
    domain=("spd",),
    np=_logdet_np,
    d=lambda node, d: call("tr", mul(inv(node.args[0]), d[0])),
    canon=_logdet_canon,
    text="log det({0})", latex=r"\log\det\left({0}\right)", source="logdet({0})",
    code="{ns}.linalg.slogdet({0})[1]",
    rule="d log det(X) = tr(X⁻¹ dX)", cite=_COOKBOOK + ", eq. (57)",
    sp=lambda X: _sympy().log(_sympy().Determinant(X)),
    probes=(("grad", "logdet(X)", "X", None), ("grad", "logdet(X'*X)", "X", {"X": "matrix(n,n)"})))


# ---------------------------------------------------------------- norms and sums

def _norm_canon(x):
    if x.op is TRANSPOSE:
        return call("norm", x.args[0])
    if x.op in (ONES, IDENTITY):    # ‖𝟏ₙ‖ = √n, ‖𝟏𝟏ᵀ‖ = √(mn), ‖Iₙ‖ = √n: a sum of that many squared ones
        return power(size(x.shape[0]) if x.op is IDENTITY else count(x.shape), 1 / 2)
    if x.is_scalar:
        return call("abs", x)
    return None


NORM = FunctionOp(
    sign="nonnegative",
    names=("norm",), meaning="Euclidean norm of a vector, Frobenius norm of a matrix", shape="scalar-of-any",
    np=lambda X: np.array([[np.linalg.norm(X)]]),
    d=lambda node, d: mul(inner(node.args[0], d[0]), _recip(node)),
    canon=_norm_canon, domain=("away-from-zero",),
    usage="norm(v) is the Euclidean norm (Frobenius for a matrix); the 1-norm is norm1(v)",
    text="‖{0}‖", latex=lambda pr, node: _norm_latex(pr, node, one=False), source="norm({0})",
    code="{ns}.linalg.norm({0})",
    rule="d‖x‖ = xᵀdx / ‖x‖ (Frobenius: tr(XᵀdX) / ‖X‖)", cite=_COOKBOOK + ", eq. (129)",
    sp=lambda X: _sympy().sqrt(_sympy().Trace(X.T * X)),
    probes=(("grad", "norm(x)", "x", None), ("grad", "norm(X)", "X", None)))


def _norm_latex(pr, node, one):
    """‖x‖₂, ‖X‖_F, ‖x‖₁, ‖vec(X)‖₁; a norm inside a norm gets bigger outer bars."""
    from ..printing import ATOM_P, _delim, _tall
    a = node.args[0]
    inner = pr.operand(a, 0)
    matrix = a.shape[0] != 1 and a.shape[1] != 1
    if matrix and one:
        inner = r"\operatorname{vec}" + pr.paren(inner)
    sub = "_1" if one else "_F" if matrix else "_2"
    if r"\|" in inner and not _tall(inner):
        return rf"\bigl\|{inner}\bigr\|{sub}", ATOM_P
    return _delim(r"\|", r"\|", inner) + sub, ATOM_P


def _recip(e):
    return mul_parts(1, [(e, -1)], [])


def _norm1_canon(x):
    if x.op is TRANSPOSE:
        return call("norm1", x.args[0])
    return None


NORM1 = FunctionOp(
    sign="nonnegative",
    names=("norm1",), meaning="sum of the absolute values of the entries", shape="scalar-of-any",
    domain=("away-from-kinks",),
    np=lambda X: np.array([[np.abs(X).sum()]]),
    d=lambda node, d: inner(call("sign", node.args[0]), d[0]),
    canon=_norm1_canon,
    text="‖{0}‖₁", latex=lambda pr, node: _norm_latex(pr, node, one=True), source="norm1({0})",
    code="{ns}.sum({ns}.abs({0}))",
    rule="d‖x‖₁ = sign(x)ᵀ dx", cite=_COOKBOOK + ", eq. (131) (for x away from 0)",
    sp=lambda X: _to_sympy().matrix_sum(_to_sympy().entrywise(_sympy().Abs, X)),
    probes=(("grad", "norm1(A*x)", "x", None),))


def _sum_canon(x):
    if x.is_scalar:
        return x
    got = _linear_invariant("sum", x)
    if got is not None:
        return got
    if x.op is ZERO:
        return const(0)
    if x.op is ONES:                # sum(𝟏ₙ) = n, sum(𝟏𝟏ᵀ) = mn: sizes, printed by their names
        return count(x.shape)
    if x.op is IDENTITY:            # sum(Iₙ) = n
        return size(x.shape[0])
    if x.op.name == "softmax":      # each row sums to 1 (else a gradient that is 0 came out as
        return count((x.shape[0], 1)) if not is_column(x.shape) else const(1)   # (1 − sum(softmax(z)))x)
    return None


def _sum_latex(pr, node):
    """1ᵀx, 1ᵀX1, xᵀ1."""
    from ..printing import MUL_P, _juxt
    a = node.args[0]
    pure_chain = a.op is MUL and a.attrs[0] == 1 and not a.attrs[1]
    inner = pr.operand(a, MUL_P if pure_chain else MUL_P + 1)
    one = r"\mathbf{1}"
    if a.shape[1] == 1:
        return _juxt([one + r"^\top", inner]), MUL_P
    if a.shape[0] == 1:
        return _juxt([inner, one]), MUL_P
    return _juxt([one + r"^\top", inner, one]), MUL_P


def _sum_matrix(node, m):
    """sum(t) = 𝟏ᵀvec(t): its Jacobian is 𝟏ᵀ times t's."""
    a = node.args[0]
    return mul(ones((1, size_product(*a.shape))), m(a))


SUM = FunctionOp(
    names=("sum",), meaning="sum of all entries", shape="scalar-of-any",
    np=lambda X: np.array([[X.sum()]]),
    d=lambda node, d: call("sum", d[0]),
    transpose=lambda node, c: mul(c, ones(node.args[0].shape)),
    matrix=_sum_matrix,
    canon=_sum_canon,
    text="sum({0})", latex=_sum_latex, source="sum({0})", code="{ns}.sum({0})",
    rule="d sum(X) = sum(dX)", cite="linear: sum(X) = 𝟏ᵀX𝟏; " + _COOKBOOK + ", sec. 2.4.1",
    sp=lambda X: _to_sympy().matrix_sum(X),       # 𝟏ᵀX𝟏: a 1×1 matrix (its [0, 0] is an index-level Sum)
    probes=(("grad", "sum(A*x)", "x", None), ("grad", "sum(X)", "X", None)))


# ---------------------------------------------------------------- diag

def _diag_shape(shapes, u):
    s = shapes[0]
    if s[1] == 1 and s[0] != 1:
        return (s[0], s[0])
    _need(s[0] != 1 and s[1] != 1 and u.eq(s[0], s[1]),
          f"diag takes a column vector or a square matrix, got {u.describe(s)}")
    return (s[0], 1)


def _diag_np(X):
    return np.diagflat(X) if X.shape[1] == 1 else np.diag(X).reshape(-1, 1)


def _diag_canon(x):
    if x.shape[0] != 1 and x.shape[1] != 1:      # the diagonal of a matrix
        got = _linear_invariant("diag", x)
        if got is not None:
            return got
    elif is_row(x.shape):                         # diag(vᵀ) = diag(v)
        return call("diag", transpose(x))
    elif x.op is MUL:                             # diag(c·v) = c·diag(v)
        c, atoms, chain = mul_split(x)
        if c != 1 or atoms:
            return mul_parts(c, atoms, [call("diag", mul(*chain))])
    if is_diagonal_matrix(x):
        return x.args[0]          # diag(diag(v)) = v
    if x.op is MUL and len(x.args) == 2 and is_column(x.args[0].shape) and is_row(x.args[1].shape):
        return had(x.args[0], transpose(x.args[1]))     # diag(u vᵀ) = u ⊙ v
    if x.op is MUL and not is_column(x.shape):   # diag(diag(u) A) = u ⊙ diag(A), diag(A diag(u)) = diag(A) ⊙ u
        for end, rest in ((x.args[0], x.args[1:]), (x.args[-1], x.args[:-1])):
            if is_diagonal_matrix(end):
                return had(end.args[0], call("diag", mul(*rest)))
    if x.op is ONES and is_column(x.shape):
        return identity(x.shape[0])
    if x.op is IDENTITY:
        return ones((x.shape[0], 1))
    return None


def is_diagonal_matrix(e) -> bool:
    """e = diag(v) for a column v: a diagonal matrix, which products, inverses and printers treat as such."""
    return e.op is DIAG and is_column(e.args[0].shape)


def _diag_matrix(node, m):
    """The Jacobian of the diagonal of a matrix linear in the variable, where it has a form; of the
    diagonal matrix of a vector: vec(diag(v)) = diag(vec(I))(𝟏 ⊗ I)v (the entries i + n·i of vec)."""
    if not is_column(node.shape):
        n = node.shape[0]
        return mul(call("diag", call("vec", identity(n))), call("kron", ones((n, 1)), identity(n)), m(node.args[0]))
    inner = node.args[0]
    if inner.op is not MUL:
        return None
    c, atoms, chain = mul_split(inner)
    if len(chain) == 2:                # diag(u wᵀ) = diag(w) u
        p, q = chain
        col, row = (p, transpose(q)) if m.depends(p) else (transpose(q), p)
        if is_column(col.shape) and not m.depends(row):
            return mul_parts(c, atoms, [call("diag", row), m(col)])
    for i, f in enumerate(chain):      # diag(P diag(l) Q) = (P ⊙ Qᵀ) l  (log-det Hessians)
        if is_diagonal_matrix(f) and 0 < i < len(chain) - 1 \
                and not any(m.depends(g) for g in chain[:i] + chain[i + 1:] + [a for a, _ in atoms]):
            p, q = mul(*chain[:i]), mul(*chain[i + 1:])
            return mul_parts(c, atoms, [had(p, transpose(q)), m(f.args[0])])
    return None


DIAG = FunctionOp(
    names=("diag",), meaning="the diagonal matrix of a vector, or the diagonal of a square matrix",
    shape=_diag_shape, np=_diag_np,
    d=lambda node, d: call("diag", d[0]),
    transpose=lambda node, c: call("diag", c),
    matrix=_diag_matrix,
    transposed=lambda node: node if is_column(node.args[0].shape) else None,
    canon=_diag_canon,
    text="diag({0})", latex=r"\operatorname{{diag}}\left({0}\right)", source="diag({0})",
    code="{ns}.diag({0})",
    rule="d diag(X) = diag(dX)", cite="linear: diag(X + Y) = diag(X) + diag(Y)",
    sp=lambda X: _sympy().DiagMatrix(X) if X.shape[1] == 1 else _to_sympy().DiagonalOf(X),
    probes=(("grad", "sum(diag(x)*b)", "x", None), ("grad", "a'*diag(X)", "X", None)))


# ---------------------------------------------------------------- dot: sugar for a'*b

def _dot_shape(shapes, u):
    a, b = shapes
    _need(a[1] == 1 and a[0] != 1 and u.shape_eq(a, b),
          f"dot needs two column vectors of the same size, got {u.describe(a)} and {u.describe(b)}",
          "for matrices write tr(A'*B)")
    return (1, 1)


DOT = FunctionOp(names=("dot",), meaning="aᵀb for two column vectors (written as the product)", arity=2,
                 shape=_dot_shape, sugar=lambda a, b: mul(transpose(a), b), np=lambda a, b: a.T @ b,
                 rule="d(aᵀb) = daᵀ b + aᵀ db",
                 probes=(("grad", "dot(a, x)", "x", None),))


# ---------------------------------------------------------------- triangular parts

def _triangle_shape(name):
    def shape(shapes, u):
        s = shapes[0]
        _need(s[0] != 1 and s[1] != 1, f"{name} takes a matrix, got {u.describe(s)}")
        return s
    return shape


def _triangle(name, other, np_fn, where):
    """triu / tril: an entry mask, so linear, and its own adjoint under ⟨A, B⟩ = tr(AᵀB)."""
    def canon(x):
        if x.op is ZERO or x.op is IDENTITY or x.op.name == name:     # the mask of a masked matrix
            return x
        if x.op is MUL:                                               # triu(cX) = c triu(X)
            c, atoms, chain = mul_split(x)
            if c != 1 or atoms:
                return mul_parts(c, atoms, [call(name, mul(*chain))])
        return None
    return FunctionOp(
        names=(name,), meaning=f"the {where} triangular part of a matrix (diagonal included)",
        shape=_triangle_shape(name), np=np_fn,
        d=lambda node, d: call(name, d[0]),
        transpose=lambda node, c: call(name, c),
        # vec(triu(X)) = diag(vec(triu(𝟏𝟏ᵀ))) vec(X): the mask on the diagonal
        matrix=lambda node, m: mul(call("diag", call("vec", call(name, ones(node.shape)))), m(node.args[0])),
        transposed=lambda node: call(other, transpose(node.args[0])),       # triu(X)ᵀ = tril(Xᵀ)
        canon=canon,
        text=name + "({0})", latex=r"\operatorname{{" + name + r"}}\left({0}\right)", source=name + "({0})",
        code="{ns}." + name + "({0})",
        sp=lambda X: _sympy().HadamardProduct(_to_sympy().TriangularMask(*X.shape, where == "upper"), X),
        rule=f"d {name}(X) = {name}(dX)",
        cite="linear; the adjoint of an entry mask is the mask (Griewank & Walther, Evaluating Derivatives, "
             "2nd ed. 2008, ch. 3)",
        probes=(("grad", f"tr(A*{name}(X))", "X", None), ("grad", f"norm({name}(X*B) - C)**2", "X", None),
                ("hessian", f"x'*{name}(A)*x", "x", None)))


TRIU = _triangle("triu", "tril", np.triu, "upper")
TRIL = _triangle("tril", "triu", np.tril, "lower")
