"""Kronecker products, vectorisation and the commutation matrix (Magnus & Neudecker's vec calculus).

vec(X) stacks the columns of X (column-major); kron(A, B) = A ⊗ B; commutation(m, n) is K_{mn},
the mn×mn permutation with K_{mn} vec(X) = vec(Xᵀ) for an m×n X. With them a Jacobian of or by
a matrix is a matrix (derive.jacobian): d vec(AXB) = (Bᵀ ⊗ A) d vec(X).
"""
from __future__ import annotations

from .lazy_numpy import np

from ..algebra import ADD, IDENTITY, MUL, ONES, ZERO, add, identity, is_zero, mul, mul_parts, mul_split, transpose, zero
from ..errors import UnsupportedError
from ..expr import Expr
from ..printing import KRON_P
from ..shapes import is_column, is_row, size_product
from .function import FunctionOp

_MN = "Magnus & Neudecker, Matrix Differential Calculus with Applications in Statistics and Econometrics " \
      "(3rd ed. 2019)"
_COOKBOOK = "Petersen & Pedersen, The Matrix Cookbook (2012)"


def kron(a, b):
    return KRON.build(a, b)


def vec(x):
    return VEC.build(x)


def commutation(m, n):
    return COMMUTATION.build(attrs=(m, n))


# ---------------------------------------------------------------- kron

def _kron_shape(shapes, u):
    (r1, c1), (r2, c2) = shapes
    return (u.mul(r1, r2), u.mul(c1, c2))


def _kron_canon(a, b):
    if a.is_scalar or b.is_scalar:                    # kron(α, X) = αX
        return mul(a, b)
    if is_zero(a) or is_zero(b):
        return zero((size_product(a.shape[0], b.shape[0]), size_product(a.shape[1], b.shape[1])))
    if is_column(a.shape) and is_row(b.shape):        # a ⊗ bᵀ = a bᵀ
        return mul(a, b)
    if is_row(a.shape) and is_column(b.shape):        # aᵀ ⊗ b = b aᵀ
        return mul(b, a)
    if a.op is IDENTITY and b.op is IDENTITY:         # I_m ⊗ I_n = I_mn
        return identity(size_product(a.shape[0], b.shape[0]))
    (ca, xa, ra), (cb, xb, rb) = mul_split(a), mul_split(b)
    if ca != 1 or cb != 1 or xa or xb:                # (αA) ⊗ (βB) = αβ (A ⊗ B): scalars leave
        return mul_parts(ca * cb, xa + xb, [kron(mul(*ra), mul(*rb))])
    return None


def _kron_d(node, d):
    a, b = node.args
    return add(*([kron(d[0], b)] if d[0] is not None else []) + ([kron(a, d[1])] if d[1] is not None else []))


def _kron_transpose(node, c, i):
    """The adjoint of A (i = 0) or B (i = 1) in A ⊗ B when the product's is C. In matrix notation
    only when the other factor is a vector: C's blocks are then contracted by a Kronecker product
    with an identity ((I ⊗ bᵀ)C for A ⊗ b). For two matrices the adjoint Σₖₗ Bₖₗ C[k::p, l::q]
    needs a reshape that matrix notation does not have."""
    mine, other = node.args[i], transpose(node.args[1 - i])
    if other.shape[0] == 1:            # A ⊗ b: (I ⊗ bᵀ)C;  a ⊗ B: (aᵀ ⊗ I)C
        eye = identity(mine.shape[0])
        return mul(kron(eye, other) if i == 0 else kron(other, eye), c)
    if other.shape[1] == 1:            # A ⊗ bᵀ: C(I ⊗ b);  aᵀ ⊗ B: C(a ⊗ I)
        eye = identity(mine.shape[1])
        return mul(c, kron(eye, other) if i == 0 else kron(other, eye))
    raise UnsupportedError("the gradient through a Kronecker product of two matrices has no form in matrix "
                           "notation: it sums the blocks of the adjoint weighted by the other factor, which "
                           "needs a reshape", hint="use jacobian, which writes it in vec form")


def _kron_matrix(node, m):
    """vec(A ⊗ B) = (I_n ⊗ K_qm ⊗ I_p)(vec A ⊗ vec B) for A m×n, B p×q, so that
    d vec(A ⊗ dB) = (I_n ⊗ K_qm ⊗ I_p)(vec A ⊗ I_pq) d vec B, and likewise for dA."""
    a, b = node.args
    (ma, na), (p, q) = a.shape, b.shape
    g = kron(kron(identity(na), commutation(q, ma)), identity(p))
    terms = []
    if m.depends(a):
        terms.append(mul(g, kron(identity(size_product(ma, na)), vec(b)), m(a)))
    if m.depends(b):
        terms.append(mul(g, kron(vec(a), identity(size_product(p, q))), m(b)))
    return add(*terms)


def _kron_code(node, suffix=""):
    """The template of {ns}.kron of 2-D operands, a vector lifted to 2-D where the product is a matrix.
    suffix: torch.kron (2.13) fails on a transposed view, so torch makes its operands contiguous."""
    args = []
    for i, a in enumerate(node.args):
        lift = ("[:, None]" if is_column(a.shape) and not is_column(node.shape) else
                "[None, :]" if is_row(a.shape) and not is_row(node.shape) else "")
        args.append("{%d}%s%s" % (i, lift, suffix))
    return "{ns}.kron(%s, %s)" % tuple(args)


KRON = FunctionOp(
    names=("kron",), meaning="Kronecker product A ⊗ B (mp×nq for A m×n, B p×q)", arity=2,
    shape=_kron_shape, np=np.kron, d=_kron_d, transpose=_kron_transpose, matrix=_kron_matrix,
    transposed=lambda node: kron(transpose(node.args[0]), transpose(node.args[1])),
    canon=_kron_canon, infix=KRON_P,     # AC ⊗ BD: a product binds tighter
    text="{0} ⊗ {1}", latex=r"{0} \otimes {1}", source="kron({0}, {1})", code=_kron_code,
    code_for={"torch": lambda node: _kron_code(node, ".contiguous()")},
    rule="d(A ⊗ B) = dA ⊗ B + A ⊗ dB",
    cite=_MN + ", ch. 2, sec. 2; vec(A ⊗ B): ch. 3, sec. 7; " + _COOKBOOK + ", sec. 10.2.1",
    sp=lambda A, B: _sympy().KroneckerProduct(A, B),
    probes=(("jacobian", "kron(A, X)", "X", None), ("jacobian", "kron(X, B)", "X", None),
            ("grad", "a'*kron(X, b)*c", "X", None), ("jvp", "kron(X, X)", "X", None),
            ("hessian", "tr(kron(X, X))", "X", {"X": "matrix(n,n)"})))


def _sympy():
    import sympy
    return sympy


def _to_sympy():
    from .. import to_sympy
    return to_sympy


# ---------------------------------------------------------------- vec

def _vec_shape(shapes, u):
    r, c = shapes[0]
    return (u.mul(r, c), 1)


def _vec_canon(x):
    if x.is_scalar or is_column(x.shape):      # a column is its own vec
        return x
    if is_row(x.shape):                        # vec(xᵀ) = x
        return transpose(x)
    if x.op in (ONES, ZERO):                   # vec(𝟏𝟏ᵀ) = 𝟏, vec(0) = 0 (mn entries)
        return Expr(x.op, (), (), (size_product(*x.shape), 1))
    if x.op is ADD:
        return add(*[vec(t) for t in x.args])
    if x.op is MUL:
        c, atoms, chain = mul_split(x)
        if c != 1 or atoms:                    # vec(αX) = α vec(X)
            return mul_parts(c, atoms, [vec(mul(*chain))])
        if len(chain) == 2 and is_column(chain[0].shape) and is_row(chain[1].shape):
            return kron(transpose(chain[1]), chain[0])      # vec(a bᵀ) = b ⊗ a
    return None


def unvec(c):
    """M with vec(M) = c, where c shows it; else None."""
    if c.op is VEC:
        return c.args[0]
    if c.op is KRON and all(is_column(a.shape) for a in c.args):     # b ⊗ a = vec(a bᵀ)
        return mul(c.args[1], transpose(c.args[0]))
    if c.op is ADD:
        parts = [unvec(t) for t in c.args]
        return None if any(p is None for p in parts) else add(*parts)
    if c.op is MUL:
        coef, atoms, chain = mul_split(c)
        if coef != 1 or atoms:
            inner = unvec(mul(*chain))
            return None if inner is None else mul_parts(coef, atoms, [inner])
        if len(chain) == 2 and chain[0].op is KRON and chain[1].op is VEC:   # (B ⊗ A) vec(M) = vec(A M Bᵀ)
            bk, ak = chain[0].args
            m = chain[1].args[0]
            if ak.shape[1] == m.shape[0] and bk.shape[1] == m.shape[1]:
                return mul(ak, m, transpose(bk))
    return None


def _vec_transpose(node, c):
    got = unvec(c)
    if got is None:
        x = node.args[0]
        raise UnsupportedError(f"the gradient through vec() is the {x.shape[0]}×{x.shape[1]} matrix whose columns "
                               "stack to the adjoint, and matrix notation has no name for that here",
                               hint="use jacobian, which answers in vec form")
    return got


VEC = FunctionOp(
    names=("vec",), meaning="the columns of a matrix stacked into one vector (column-major)",
    shape=_vec_shape, np=lambda X: X.reshape(-1, 1, order="F"),
    d=lambda node, d: vec(d[0]), transpose=_vec_transpose,
    matrix=lambda node, m: m(node.args[0]),
    canon=_vec_canon,
    text="vec({0})", latex=r"\operatorname{{vec}}\left({0}\right)", source="vec({0})",
    code='{ns}.reshape({0}, -1, order="F")', code_for={"torch": "{0}.T.reshape(-1)"},
    sp=lambda X: _to_sympy().Vec(X),
    rule="d vec(X) = vec(dX)", cite=_MN + ", ch. 2, sec. 4; " + _COOKBOOK + ", sec. 10.2.2",
    probes=(("jacobian", "vec(A*X*B)", "X", None), ("grad", "vec(X)'*vec(C)", "X", {"X": "matrix(m,n)", "C": "matrix(m,n)"}),
            ("jacobian", "vec(X')", "X", None)))


# ---------------------------------------------------------------- commutation

def _commutation_np(m, n):
    """K_mn without a loop: the rows of I_mn in the order that takes vec(X) to vec(Xᵀ)."""
    return np.eye(m * n)[np.arange(m * n).reshape(n, m).T.reshape(-1)]


def _commutation_shape(sizes, u):
    m, n = sizes
    mn = u.mul(m, n)
    return (mn, mn)


def _commutation_canon(m, n):
    return identity(size_product(m, n)) if m == 1 or n == 1 else None


COMMUTATION = FunctionOp(
    names=("commutation",), meaning="the commutation matrix K_mn: K_mn vec(X) = vec(Xᵀ) for X m×n", arity=2,
    sized=True, shape=_commutation_shape, np=_commutation_np, d="zero",
    transposed=lambda node: commutation(node.attrs[1], node.attrs[0]),      # K_mnᵀ = K_nm
    canon=_commutation_canon,
    text="K{0}{1}", latex="K_{{{0}{1}}}", source="commutation({0}, {1})",
    code="{ns}.eye({0} * {1})[{ns}.arange({0} * {1}).reshape({1}, {0}).T.reshape(-1)]",
    code_for={"torch": "torch.eye({0} * {1}, dtype=torch.float64)[torch.arange({0} * {1}).reshape({1}, {0}).T"
                       ".reshape(-1)]"},
    usage="commutation(m, n): its arguments are sizes, as in ones(m, n)",
    sp=lambda m, n: _to_sympy().Commutation(m, n),
    rule="constant: K_mn vec(X) = vec(Xᵀ)", cite=_MN + ", ch. 3, sec. 7; " + _COOKBOOK + ", sec. 10.2.2",
    probes=(("jacobian", "commutation(m, n)*vec(X)", "X", {"X": "matrix(m,n)"}),))
