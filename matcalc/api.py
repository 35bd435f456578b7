"""The Python API the command line sits on.

    >>> import matcalc
    >>> r = matcalc.grad("norm(A*x - b)**2", "x")
    >>> r.text
    '2Aᵀ(Ax − b)'
"""
from __future__ import annotations

import re
from functools import cached_property

from . import algebra as alg
from . import derive, simplify
from .errors import LimitError, MatcalcError, ShapeError, UnsupportedError, UsageError
from .expr import Expr, budget
from .printing import latex, numpy_code, shared_names, source, text
from .record import factory, record
from .shapes import Product, fmt_shape, is_column, is_row, is_scalar, size_code
from .typecheck import Symbol, typecheck

KINDS = ("grad", "jacobian", "hessian", "vjp", "jvp", "hvp")


@record
class Parsed:
    """A typed expression: `expr` is the graph; `symbols` every name with its kind and shape."""

    source: str
    expr: Expr
    symbols: dict[str, Symbol]
    tree: object = None             # the syntax tree, and each of its nodes' shapes: what the
    tree_shapes: dict = None        # verifier evaluates (the function as typed, judge.py)

    @property
    def shape(self) -> tuple:
        return self.expr.shape

    @property
    def typed(self):
        """The function as typed, for the verifier (judge.Function)."""
        from .judge import Function
        return Function(self.tree, self.tree_shapes, self.expr)

    @property
    def text(self) -> str:
        return text(self.expr, self.symbols)

    def latex(self, style: str = "bold") -> str:
        return latex(self.expr, style, self.symbols)

    @property
    def canonical(self) -> str:
        """The expression in matcalc's own syntax (parses back to the same graph)."""
        return source(self.expr)

    @cached_property
    def sympy(self):
        from .to_sympy import to_sympy
        return to_sympy(self.expr)

    def declarations(self) -> dict[str, str]:
        """Every name's kind with its sizes, as `let` takes them: re-parsing with these gives the same graph."""
        out = {}
        for s in self.symbols.values():
            if any(isinstance(d, Product) for d in s.shape):    # a size mn no declaration names:
                out[s.name] = s.kind                             # typing gives it again
                continue
            sizes = [str(d) for d in s.shape if d != 1] if s.kind in ("vector", "matrix", "probability", "onehot") else \
                [str(s.shape[0])] if s.kind != "scalar" else []
            out[s.name] = f"{s.kind}({','.join(sizes)})" if sizes else s.kind
        return out

    def names(self) -> list[dict]:
        return [{"name": s.name, "kind": s.kind, "shape": fmt_shape(s.shape)} for s in self.symbols.values()]


def parse(expr: str, let=None) -> Parsed:
    t, = typecheck(expr, let)
    return Parsed(expr, t.expr, t.symbols, t.tree, t.tree_shapes)


@record
class Result:
    """A derivative: the result graph, how to print it and how to check it."""

    kind: str                 # grad | jacobian | hessian | vjp | jvp | hvp
    function: Parsed
    wrt: str
    expr: Expr
    aux: str | None = None    # the upstream gradient (vjp) or direction (jvp, hvp) named in the result
    aux_shape: tuple | None = None
    steps: list = factory(list)
    notes: list = factory(list)
    absent: tuple | None = None     # (kind, shape) of a variable that does not occur in the expression
    assumptions: list = factory(list)     # what the result assumes of its inputs

    @property
    def shape(self) -> tuple:
        return self.expr.shape

    @property
    def symbols(self) -> dict:
        """name -> (kind, shape) for every name the result may use."""
        out = {n: (s.kind, s.shape) for n, s in self.function.symbols.items()}
        if self.absent:
            out[self.wrt] = self.absent
        if self.aux:
            out[self.aux] = ("matrix" if not is_column(self.aux_shape) else "vector", self.aux_shape)
        return out

    @cached_property
    def text(self) -> str:
        return text(self.expr, self.symbols)

    def latex_of(self, style: str = "bold") -> str:
        return latex(self.expr, style, self.symbols)

    @property
    def latex(self) -> str:
        return self.latex_of("bold")

    @property
    def source(self) -> str:
        return source(self.expr)

    @cached_property
    def numpy(self) -> str:
        """One Python expression over `np` and the variables (vectors as 1-D arrays). A Jacobian is a
        matrix, also of one row or column: its value is a 2-D array of shape (m, n)."""
        dims = self.size_code()
        code = numpy_code(self.expr, dims)
        if self.kind == "jacobian" and not is_scalar(self.shape) and 1 in self.shape:
            size = [size_code(d, dims.__getitem__) for d in self.shape]
            code = f"np.reshape({code}, ({size[0]}, {size[1]}))"
        return code

    def size_code(self) -> dict:
        dims = {}
        for name, (_, shape) in self.symbols.items():
            for axis, d in enumerate(shape):
                if isinstance(d, str) and d not in dims:
                    dims[d] = f"{name}.shape[0]" if shape[1] == 1 else f"{name}.shape[{axis}]"
        return dims

    @cached_property
    def sympy(self):
        from .to_sympy import to_sympy
        return to_sympy(self.expr)

    def verify(self, trials: int = 5, seed: int = 0):
        from .verify import check
        typed = self.function.typed
        return check(self.kind, typed, self.wrt, self.expr, self.symbols, typed.domains(),
                     trials=trials, seed=seed, aux=self.aux)

    def shapes_line(self) -> str:
        names = ", ".join(f"{n}: {fmt_shape(s.shape)}" for n, s in self.function.symbols.items())
        if self.aux:
            names += f", {self.aux}: {fmt_shape(self.aux_shape)}"
        return f"shape {fmt_shape(self.shape)}; {names}"

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        return f"$${self.latex}$$\n\n*{self.shapes_line()}*"

    def __str__(self) -> str:
        return self.text


def _variable(p: Parsed, wrt: str) -> Expr:
    if not isinstance(wrt, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", wrt):    # as in the language
        raise UsageError(f"the variable must be a name, got {wrt!r}",
                         hint="a name is a letter followed by letters, digits or _")
    sym = p.symbols.get(wrt)
    if sym is None:
        return None
    return alg.sym(wrt, sym.shape, sym.kind)


def aux_name(kind: str, f_shape, x_shape, taken) -> str | None:
    """The name of a derivative's extra input: the upstream gradient of a vjp, g (G for a matrix or
    row function); the direction of a jvp or hvp, v (V for a matrix variable). Where a name in
    `taken` has it, the next free one (V2, V3, ...)."""
    if kind == "vjp":
        base = "g" if is_column(f_shape) or is_scalar(f_shape) else "G"
    elif kind in ("jvp", "hvp"):
        base = "v" if is_column(x_shape) or is_scalar(x_shape) else "V"
    else:
        return None
    return fresh_name(base, taken)


def fresh_name(base: str, taken) -> str:
    """base, or the first of base2, base3, ... not in taken."""
    name, i = base, 2
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


AUX_ROLE = {"vjp": "upstream gradient", "jvp": "direction", "hvp": "direction"}


def derivative(kind: str, expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    if kind not in KINDS:
        raise UsageError(f"unknown derivative {kind!r}; one of {', '.join(KINDS)}")
    p = parse(expr, let) if isinstance(expr, str) else expr
    x = _variable(p, wrt)
    f = p.expr
    notes = []
    if x is None:
        # w.r.t. a name that does not occur: zero of the declared or default shape
        shape = _absent_shape(wrt, let, {d for s in p.symbols.values() for d in s.shape})
        import difflib
        close = [n for n in p.symbols if n.lower() == wrt.lower()] or \
            difflib.get_close_matches(wrt, list(p.symbols), n=1)
        notes.append(f"{wrt} does not occur in the expression: the derivative is zero"
                     + (f" (did you mean {close[0]}?)" if close else ""))
        x = alg.sym(wrt, shape, "matrix")
        absent = ("scalar" if shape == (1, 1) else "vector" if shape[1] == 1 else "matrix", shape)
    else:
        absent = None
    _check_kind(kind, f, x, p.source, wrt)
    try:
        with budget():      # a derivation that blows up stops with a LimitError (expr.MAX_WORK)
            return _derive(kind, p, f, x, wrt, steps, notes, absent)
    except LimitError as err:
        if err.span is None:
            err.span = (0, len(p.source))
        raise err.with_source(p.source)
    except RecursionError:
        # the Jacobian of a result nested ~190 deep (hessian of log_softmax(log_softmax(...))) recurses
        # past Python's limit; say so, as for any other limit (issue 7)
        raise LimitError(f"the {kind} of this expression nests too deeply to be written out", (0, len(p.source)),
                         "differentiate a less deeply nested expression, or use vjp/jvp", p.source) from None


def _derive(kind, p, f, x, wrt, steps, notes, absent) -> Result:
    record = [] if steps else None
    aux = aux_name(kind, f.shape, x.shape, {*p.symbols, wrt})     # wrt too: it may not occur in f
    aux_shape = f.shape if kind == "vjp" else x.shape if aux else None
    base = aux_name(kind, f.shape, x.shape, ())
    if aux != base:
        notes.append(f"the {AUX_ROLE[kind]} is named {aux}: "
                     + (f"the expression uses {base}" if base in p.symbols else f"{base} is the variable"))
    if kind == "grad":
        out = derive.grad(f, x, record)
    elif kind == "vjp":
        out = derive.vjp(f, x, alg.sym(aux, f.shape, "vector"), record)
    elif kind == "jvp":
        out = derive.jvp(f, x, alg.sym(aux, x.shape, "vector"), record)
    elif kind == "hvp":
        out = derive.hvp(f, x, alg.sym(aux, x.shape, "vector"), record)
    elif kind == "jacobian":      # a row vector's entries are those of its transpose
        out = derive.jacobian(alg.transpose(f) if is_row(f.shape) else f, x, record)
    else:
        out = derive.hessian(f, x, record)
    kinds = {n: s.kind for n, s in p.symbols.items()}
    final = simplify.finish(out, kinds, simplify.domains(f))
    assumptions = _assumptions(f, x, kinds)
    if record is not None and final is not out:
        record.append(derive.Step("simplify: declared symmetry (Sᵀ = S), probability targets (sum(y) = 1), "
                                  "cancelling products, common factors", "", out, final, []))
    if record is not None:
        record.extend(derive.Step(f"assumption: {a.removeprefix('assuming ')}", "", f, f, []) for a in assumptions)
    return Result(kind, p, wrt, final, aux, aux_shape, record or [], notes, absent, assumptions)


def _assumptions(f: Expr, x: Expr, kinds: dict) -> list[str]:
    """What a result assumes of its inputs beyond their kinds, to be said with it. An op argument
    whose domain is "probability" (the target of cross_entropy) is taken to sum to 1 when the
    result is simplified (simplify.assume: the derivative of cross_entropy(z, y) in z is then
    (softmax(z) − y)ᵀdz); that is true of a name declared probability or onehot, and said otherwise
    when the derivative goes through another argument of the op."""
    from .expr import free_leaves, postorder
    out = []
    for node in postorder(f):
        for i, (y, dom) in enumerate(zip(node.args, node.op.domain)):
            if dom != "probability" or y.op is not alg.SYM or kinds.get(y.attrs[0]) in ("probability", "onehot"):
                continue
            if any(x in free_leaves(a) for j, a in enumerate(node.args) if j != i):
                what = "a probability vector" if y.shape[1] == 1 else "a matrix of probability rows"
                out.append(f"assuming {y.attrs[0]} is {what} (entries ≥ 0 summing to 1): "
                           f"--let {y.attrs[0]}:probability or :onehot says so")
    return list(dict.fromkeys(out))


def _absent_shape(wrt, let, taken):
    """The declared shape of a variable that does not occur, else sizes of its own."""
    from .typecheck import default_kind, parse_lets
    decl = parse_lets(let).get(wrt)
    kind = decl.kind if decl else default_kind(wrt)
    free = [d for d in ("n", "m", "k", "p", "q", "r", "s", "t") if d not in taken]
    sizes = list(decl.sizes) if decl else []
    if kind == "scalar":
        return (1, 1)
    if kind == "vector":
        return (sizes[0] if sizes else free[0], 1)
    if kind == "matrix":
        return tuple(sizes) if len(sizes) == 2 else (free[0], free[1])
    return (sizes[0], sizes[0]) if sizes else (free[0], free[0])


def _check_kind(kind, f, x, src, wrt):
    span = (0, len(src))
    fdesc = f"the expression is {_describe(f.shape)}"
    if kind == "grad" and not is_scalar(f.shape):
        raise ShapeError(f"grad needs a scalar function; {fdesc}", span,
                         "use jacobian for a vector function, or vjp with an upstream gradient", src)
    if kind in ("hessian", "hvp") and not is_scalar(f.shape):
        raise ShapeError(f"{kind} needs a scalar function; {fdesc}", span,
                         "hvp applies the Hessian of a scalar (a loss): take one of the function, "
                         "as sum(f) or u'*f" if kind == "hvp" else None, src)


def _describe(shape):
    from .shapes import describe_shape
    return describe_shape(shape)


def grad(expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    """The gradient of a scalar expression, shaped like wrt (denominator layout)."""
    return derivative("grad", expr, wrt, let, steps)


def jacobian(expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    """The Jacobian of vec(expr) by vec(wrt), numerator layout: (rows·cols of expr) × (rows·cols of wrt);
    the usual m×n Jacobian for vectors. `jacobian("A*X*B", "X")` is Bᵀ ⊗ A."""
    return derivative("jacobian", expr, wrt, let, steps)


def hessian(expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    """The Hessian of a scalar expression: ∂²f/∂vec(wrt)∂vec(wrt)ᵀ, n×n for a vector, mn×mn for a matrix."""
    return derivative("hessian", expr, wrt, let, steps)


def vjp(expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    """Jᵀg for an upstream gradient g (named g in the result), without forming J."""
    return derivative("vjp", expr, wrt, let, steps)


def jvp(expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    """J·v for a direction v (named v in the result), without forming J."""
    return derivative("jvp", expr, wrt, let, steps)


def hvp(expr: str, wrt: str, let=None, steps: bool = False) -> Result:
    """∇²f·v, the Hessian of a scalar expression applied to a direction v shaped like wrt (named v,
    or V for a matrix), without forming the Hessian: for a matrix wrt the result is a matrix."""
    return derivative("hvp", expr, wrt, let, steps)


__all__ = ["MatcalcError", "Parsed", "Result", "parse", "grad", "jacobian", "hessian", "vjp", "jvp", "hvp", "derivative"]
