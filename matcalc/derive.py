"""Derivatives: one differential (JVP) rule per op; everything else follows.

- jvp: forward mode, J·v, memoised on the DAG.
- vjp / grad: reverse mode over the DAG. Each node's VJP is its differential
  transposed locally (JAX's linearise-then-transpose): only the linear ops
  need a transpose rule (sum, product, Hadamard product and transpose here;
  the function ops declare theirs in their spec, as `transpose`). Adjoints of a node used twice are summed, so the result
  grows linearly with the expression. An op whose spec has a `vjp` of its own
  (layernorm) keeps that reverse rule whole instead.
- jacobian: the JVP written as a matrix (diag(f'(x)) for elementwise ops); of
  or by a matrix, the Jacobian of vec(f) by vec(x), written with Kronecker
  products (d vec(AXB) = (Bᵀ ⊗ A) d vec(X)).
- hessian: the Jacobian of the gradient (by a matrix: mn×mn, in vec form).
- hvp: the JVP of the gradient (forward-over-reverse, Pearlmutter 1994): the
  Hessian applied to a direction, never formed, so also for a matrix variable.
"""
from __future__ import annotations

from functools import wraps

from . import algebra as alg
from .errors import UnsupportedError
from .expr import Depends, Expr, Leaves, postorder
from .ops.kron import commutation, kron, vec
from .ops.linalg import DIAG, is_diagonal_matrix
from .record import record
from .shapes import is_column, is_row, size_product
from .simplify import expand


@record
class Step:
    """One rule application, for --steps."""
    rule: str
    cite: str
    node: Expr          # the subexpression
    adjoint: Expr       # ∂f/∂node (reverse) or its differential (forward)
    parts: list         # [(argument, contribution)]


def _tangent(i: int, shape) -> Expr:
    return alg.sym(f"∂{i}", shape, "tangent")


_memos: dict | None = None       # the dependency memos of one outermost derivation call (_scoped)
_TANGENTS = "tangents"            # the key of the memo of tangent sets


def _depends(node: Expr, leaf: Expr) -> bool:
    memos = _memos if _memos is not None else {}
    if _is_tangent(leaf):
        # tangents occur only in the (small) differentials, never in the function: one memo of
        # the tangents each node holds answers for all of them
        tangents = memos.get(_TANGENTS) or memos.setdefault(_TANGENTS, Leaves(_is_tangent))
        return leaf in tangents(node)
    dep = memos.get(leaf)
    if dep is None:
        dep = memos[leaf] = Depends(leaf)
    return dep(node)


def _is_tangent(leaf: Expr) -> bool:
    return leaf.op is alg.SYM and leaf.attrs[1] == "tangent"


def _scoped(derivation):
    """The dependency memos live while the outermost derivation runs: no node is walked twice
    for the same variable, and nothing is kept once the result is built."""
    @wraps(derivation)
    def run(*args, **kwargs):
        global _memos
        if _memos is not None:
            return derivation(*args, **kwargs)
        _memos = {}
        try:
            return derivation(*args, **kwargs)
        finally:
            _memos = None
    return run


# ------------------------------------------------------------------ forward mode

@_scoped
def jvp(f: Expr, wrt: Expr, v: Expr, steps: list | None = None) -> Expr:
    tangents: dict[Expr, Expr | None] = {}
    for node in postorder(f):
        if node is wrt:
            tangents[node] = v
        elif not _depends(node, wrt):
            continue
        else:
            dargs = [tangents.get(a) for a in node.args]
            if all(d is None for d in dargs):   # e.g. sign(x): depends on x, derivative zero
                continue
            tangents[node] = t = node.op.jvp(node, dargs)
            if steps is not None and t is not None:
                steps.append(Step(node.op.rule, node.op.cite, node, t, []))
    out = tangents.get(f)
    return alg.zero(f.shape) if out is None else out


# ------------------------------------------------------------------ reverse mode

@_scoped
def vjp(f: Expr, wrt: Expr, seed: Expr, steps: list | None = None) -> Expr:
    """∂⟨seed, f⟩/∂wrt: the adjoint of wrt when f's adjoint is seed."""
    order = [n for n in postorder(f) if _depends(n, wrt)]
    adjoints: dict[Expr, list[Expr]] = {f: [seed]}
    result = alg.zero(wrt.shape)
    for node in reversed(order):
        pending = adjoints.pop(node, None)
        if pending is None:
            continue
        ct = alg.add(*pending)
        if node is wrt:
            result = ct
            continue
        dargs = [_tangent(i, a.shape) if _depends(a, wrt) else None for i, a in enumerate(node.args)]
        # a sum passes its adjoint to every term: the shortcut of transposing d(a + b + ...)
        # term by term, which is quadratic in a long sum (issue 7: 5,000-term sums)
        # an op with a reverse rule of its own (layernorm: (g − mean(g)𝟏 − mean(g ⊙ x̂)x̂)/σ) keeps it
        # whole, where transposing its differential term by term would scatter it
        fused = getattr(node.op, "vjp", None)
        local = node.op.jvp(node, dargs) if node.op is not alg.ADD and fused is None else None
        parts = []
        for i, (arg, d) in enumerate(zip(node.args, dargs)):
            if d is None:
                continue
            if node.op is alg.ADD:
                contribution = ct
            elif fused is not None:
                contribution = fused(node, i, ct)
            else:
                contribution = transpose_linear(local, d, ct) if local is not None else alg.zero(arg.shape)
            parts.append((arg, contribution))
            adjoints.setdefault(arg, []).append(contribution)
        if steps is not None:
            steps.append(Step(node.op.rule, node.op.cite, node, ct, parts))
    return result


@_scoped
def transpose_linear(t: Expr, leaf: Expr, ct: Expr) -> Expr:
    """The adjoint of `leaf` in the expression t, linear in leaf, when t's adjoint is ct."""
    # only the part of t that depends on leaf: not the (deep) primal arguments below it
    order = [n for n in postorder(t, stop=lambda n: not _depends(n, leaf)) if _depends(n, leaf)]
    cts: dict[Expr, list[Expr]] = {t: [ct]}
    for node in reversed(order):
        pending = cts.pop(node, None)
        if pending is None:
            continue
        c = alg.add(*pending)
        if node is leaf:
            return c
        for child, child_ct in _transpose_rule(node, c, leaf):
            cts.setdefault(child, []).append(child_ct)
    return alg.zero(leaf.shape)


def _transpose_rule(node: Expr, c: Expr, leaf: Expr):
    """Transpose rules of the linear ops: how an adjoint flows back to the linear argument."""
    op = node.op
    if op is alg.ADD:
        return [(t, c) for t in node.args if _depends(t, leaf)]
    if op is alg.MUL:
        coef, atoms, chain = alg.mul_split(node)
        for i, (a, e) in enumerate(atoms):
            if _depends(a, leaf):
                assert e == 1, "differential is not linear"
                rest = alg.mul_parts(coef, atoms[:i] + atoms[i + 1:], chain)
                return [(a, alg.inner(rest, c))]
        for i, f in enumerate(chain):
            if _depends(f, leaf):
                before = [alg.transpose(alg.mul(*chain[:i]))] if i else []
                after = [alg.transpose(alg.mul(*chain[i + 1:]))] if i + 1 < len(chain) else []
                return [(f, alg.mul_parts(coef, atoms, before + [c] + after))]
    if op is alg.HAD:
        parts = list(zip(node.args, node.attrs[0]))
        for i, (a, e) in enumerate(parts):
            if _depends(a, leaf):
                assert e == 1, "differential is not linear"
                return [(a, alg.had_parts(parts[:i] + parts[i + 1:] + [(c, 1)]))]
    if op is alg.TRANSPOSE:
        return [(node.args[0], alg.transpose(c))]
    rule = getattr(op, "transpose", None)
    if rule is not None:
        if len(node.args) > 1:          # a bilinear op (kron): the adjoint of the argument that varies
            i = next(i for i, a in enumerate(node.args) if _depends(a, leaf))
            return [(node.args[i], rule(node, c, i))]
        return [(node.args[0], rule(node, c))]
    raise AssertionError(f"{op.name} is not linear: it cannot appear in a differential")


def grad(f: Expr, wrt: Expr, steps: list | None = None) -> Expr:
    return vjp(f, wrt, alg.const(1), steps)


# ------------------------------------------------------------------ Jacobians

@_scoped
def jacobian(f: Expr, wrt: Expr, steps: list | None = None) -> Expr:
    """The Jacobian of vec(f) by vec(wrt) (numerator layout): (rows·cols of f) × (rows·cols of wrt).
    For vectors it is the usual m×n Jacobian; for a scalar f of a matrix, vec(∇f)ᵀ."""
    if f.is_scalar and not is_column(wrt.shape) and not wrt.is_scalar:
        return alg.transpose(vec(grad(f, wrt, steps)))
    d = alg.sym("d" + wrt.attrs[0], wrt.shape, "tangent")
    t = jvp(f, wrt, d, steps)
    out = _LinearMap(d).matrix(t)
    if steps is not None and not (is_column(wrt.shape) and (is_column(f.shape) or f.is_scalar)):
        steps.append(Step("identification: d vec(F) = J d vec(X) gives the Jacobian J", _IDENTIFICATION, t, out, []))
    return out


_IDENTIFICATION = "Magnus & Neudecker, Matrix Differential Calculus (3rd ed. 2019), ch. 9; " \
                  "d vec(A dX B) = (Bᵀ ⊗ A) d vec(X): ch. 2"


@_scoped
def hessian(f: Expr, wrt: Expr, steps: list | None = None) -> Expr:
    """∂²f/∂vec(wrt)∂vec(wrt)ᵀ: the Jacobian of the gradient."""
    return jacobian(_gradient_to_differentiate(f, wrt, steps), wrt, steps)


FORWARD_OVER_REVERSE = "forward mode over reverse mode"     # the --steps line between an hvp's two passes


@_scoped
def hvp(f: Expr, wrt: Expr, v: Expr, steps: list | None = None) -> Expr:
    """∇²f·v, shaped like wrt: the directional derivative of the gradient along v (forward mode
    over reverse mode; Pearlmutter, Fast exact multiplication by the Hessian, Neural Computation
    6(1), 1994). The Hessian is never formed: for an m×n wrt it is mn×mn in vec form (`hessian`),
    its product with v an m×n matrix."""
    g = _gradient_to_differentiate(f, wrt, steps)
    if steps is not None:
        x, d = wrt.attrs[0], v.attrs[0]
        steps.append(Step(f"{FORWARD_OVER_REVERSE}: the derivative of the gradient along {d} (d{x} = {d})",
                          "Pearlmutter, Fast exact multiplication by the Hessian, Neural Computation 6(1) "
                          "(1994)", g, v, []))
    return jvp(g, wrt, v, steps)


def _gradient_to_differentiate(f: Expr, wrt: Expr, steps) -> Expr:
    # the gradient multiplied out first (pure algebra, true of every input): the cross-entropy's
    # σ − y, not its unsimplified form, is what the second derivative should start from
    return expand(grad(f, wrt, steps))


def _entries(shape):
    """The number of entries of a shape, as a size: mn for an m×n matrix."""
    return size_product(*shape)


class _LinearMap:
    """Writes an expression t, linear in d, as M·vec(d) = vec(t) (M = self.matrix(t)).

    By the identification theorem (Magnus & Neudecker, ch. 5 and 9) M is the Jacobian of vec(t)
    by vec(d): d vec(P dX Q) = (Qᵀ ⊗ P) d vec(X), d vec(dXᵀ) = K_mn d vec(X). For column vectors
    vec is the identity and these are the usual rules."""

    def __init__(self, d: Expr):
        self.d = d
        self.memo: dict[Expr, Expr] = {}

    def __call__(self, t: Expr) -> Expr:
        return self.matrix(t)

    def depends(self, t: Expr) -> bool:
        return _depends(t, self.d)

    def matrix(self, t: Expr) -> Expr:
        got = self.memo.get(t)
        if got is None:
            got = self.memo[t] = self._matrix(t)
        return got

    def _matrix(self, t: Expr) -> Expr:
        d = self.d
        if t is d:
            return alg.identity(_entries(d.shape))
        if not _depends(t, d):
            return alg.zero((_entries(t.shape), _entries(d.shape)))
        if is_row(t.shape):
            return self.matrix(alg.transpose(t))
        op = t.op
        if op is alg.ADD:
            return alg.add(*[self.matrix(a) for a in t.args if _depends(a, d)])
        if op is alg.HAD:
            parts = list(zip(t.args, t.attrs[0]))
            for i, (a, e) in enumerate(parts):
                if _depends(a, d) and e == 1:
                    others = alg.had_parts(parts[:i] + parts[i + 1:])
                    return alg.mul(DIAG.build(vec(others)), self.matrix(a))
        if op is alg.TRANSPOSE:         # vec(Aᵀ) = K_mn vec(A) for A m×n
            a = t.args[0]
            return alg.mul(commutation(*a.shape), self.matrix(a))
        if op is alg.MUL:
            return self._product(t)
        rule = getattr(op, "matrix", None)
        got = rule(t, self) if rule is not None else None
        if got is not None:
            return got
        raise UnsupportedError(f"this Jacobian (through {op.name}) has no form in matrix notation that matcalc "
                               "can write",
                               hint="use vjp or jvp, which never form the Jacobian")

    def _product(self, t: Expr) -> Expr:
        d = self.d
        coef, atoms, chain = alg.mul_split(t)
        for i, (a, e) in enumerate(atoms):
            if _depends(a, d):
                rest = alg.mul_parts(coef, atoms[:i] + atoms[i + 1:], chain)
                return alg.mul(vec(rest), self.matrix(a))
        for i, f in enumerate(chain):
            if not _depends(f, d):
                continue
            before, after = chain[:i], chain[i + 1:]
            if is_column(f.shape) and not after:
                return alg.mul_parts(coef, atoms, before + [self.matrix(f)])
            if is_row(f.shape) and not before:       # t = f·q = qᵀ fᵀ, a scalar
                return alg.mul_parts(coef, atoms, [alg.transpose(alg.mul(*after)), self.matrix(alg.transpose(f))])
            if f.op is alg.ADD:
                return self.matrix(alg.add(*[alg.mul_parts(coef, atoms, before + [g] + after) for g in f.args]))
            if is_diagonal_matrix(f) and after:
                q = alg.mul(*after)
                if is_column(q.shape):                # P diag(l) q = P diag(q) l
                    return alg.mul_parts(coef, atoms, before + [DIAG.build(q), self.matrix(f.args[0])])
            # vec(P f Q) = (Qᵀ ⊗ P) vec(f)  (Magnus & Neudecker, ch. 2, Theorem 2)
            left = alg.mul(*before) if before else alg.identity(f.shape[0])
            right = alg.transpose(alg.mul(*after)) if after else alg.identity(f.shape[1])
            return alg.mul_parts(coef, atoms, [kron(right, left), self.matrix(f)])
        raise AssertionError("a product that depends on d has no factor that does")
