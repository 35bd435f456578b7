"""Generated functions: NumPy, PyTorch and JAX code that imports and runs.

`function_code(result, backend, with_value)` writes a module with one function,
`def grad_f(A, x, b): ...`: a docstring with the shapes, shape checks that
raise ValueError, one statement per shared subexpression (named as the text
printer names it: `s = softmax(z)` becomes `s = ...`), and the result. With
`with_value=True` the function is `value_and_grad_f` and returns
`(value, derivative)`, sharing the work the two have in common.

Conventions (docs/language: "In NumPy"): vectors are 1-D arrays, matrices
2-D. NumPy returns Python floats for scalars; PyTorch works in float64 tensors
(scalars are 0-d tensors) and keeps autograd graphs of tensor inputs; JAX uses
jax.numpy's default float type (float64 with jax_enable_x64) and the function
can be jax.jit-ed: its checks look at shapes only.
"""
from __future__ import annotations

import keyword
import re

from . import algebra as alg
from .errors import UnsupportedError, UsageError
from .expr import Expr, postorder
from .printing import POST_P, NumpyPrinter, shared_names
from .shapes import fmt_shape

BACKENDS = ("numpy", "torch", "jax")
_KIND_WORD = {"grad": "gradient", "jacobian": "Jacobian", "hessian": "Hessian",
              "vjp": "vector-Jacobian product", "jvp": "Jacobian-vector product"}
_UNSUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_ERF_NP = "_erf = np.vectorize(math.erf, otypes=[float])"


class _Backend:
    """How one array library spells the few calls generated code uses."""

    def __init__(self, name, ns, imports, asarray, eye, ones, zeros, scalar_out, kinds_note, symmetric_check):
        self.name, self.ns, self.imports = name, ns, imports
        self.asarray, self.eye, self.ones, self.zeros = asarray, eye, ones, zeros
        self.scalar_out, self.kinds_note = scalar_out, kinds_note
        self.symmetric_check = symmetric_check

    def template(self, op) -> str | None:
        """The op's call in this backend: each op carries its own, as `codegen` (see matcalc/ops/)."""
        return getattr(op, "codegen", {}).get(self.name)


from .ops.nn import SOFTMAX_STATEMENTS as _SOFTMAX_NP  # noqa: E402  (statements, see _CodePrinter.function)

NUMPY = _Backend(
    "numpy", "np", ["import numpy as np"],
    asarray="np.asarray({0}, dtype=float)", eye="np.eye({0})", ones="np.ones({0})", zeros="np.zeros({0})",
    scalar_out="float({0})",
    kinds_note="vectors are 1-D arrays, scalars are floats",
    symmetric_check="np.allclose({0}, {0}.T)",
)

TORCH = _Backend(
    "torch", "torch", ["import torch"],
    asarray="torch.as_tensor({0}, dtype=torch.float64)",
    eye="torch.eye({0}, dtype=torch.float64)", ones="torch.ones({0}, dtype=torch.float64)",
    zeros="torch.zeros({0}, dtype=torch.float64)",
    scalar_out="torch.as_tensor({0}, dtype=torch.float64)",
    kinds_note="vectors are 1-D tensors, scalars 0-d tensors; everything float64",
    symmetric_check="torch.allclose({0}, {0}.T)",
)

JAX = _Backend(
    "jax", "jnp", ["import jax", "import jax.numpy as jnp"],
    asarray="jnp.asarray({0}, dtype=jnp.result_type(float))", eye="jnp.eye({0})", ones="jnp.ones({0})",
    zeros="jnp.zeros({0})",
    scalar_out="jnp.asarray({0})",
    kinds_note="vectors are 1-D arrays, scalars 0-d arrays; float64 when jax_enable_x64 is set",
    symmetric_check=None,       # a check on values would not trace under jax.jit
)

_BACKEND = {"numpy": NUMPY, "torch": TORCH, "jax": JAX}
# Names generated code uses besides its own: the modules and the builtins it calls (the shape
# checks raise ValueError with tuple(x.shape), scalars are converted with float, templates import
# with __import__). A variable, size or temporary is never called so: a variable named tuple or
# ValueError made a wrong-shaped input raise TypeError or UnboundLocalError, not ValueError.
# (tests/test_hostile.py checks that generated code calls no other builtin.)
BUILTINS_USED = {"ValueError", "tuple", "float", "__import__"}
_MODULE_NAMES = {"np", "torch", "jnp", "jax", "math", "_erf"} | BUILTINS_USED


def _call_position(tpl: str, i: int) -> bool:
    """True when every {i} in the template is a whole call argument: np.exp({0}) but not {0} ** 2."""
    for m in re.finditer(re.escape("{%d}" % i), tpl):
        before, after = tpl[:m.start()].rstrip(), tpl[m.end():].lstrip()
        if not (before.endswith(("(", ",")) and after.startswith((")", ","))):
            return False
    return True


class _CodePrinter(NumpyPrinter):
    """The NumPy printer's expression pieces, with named temporaries instead of walrus sharing and the
    calls of one backend. `stmt(code, hint)` lets a renderer emit a statement before the current one."""

    share = False

    def __init__(self, dims, backend: _Backend, params: dict, stmt):
        super().__init__(dims)
        self.be, self.params, self.stmt = backend, params, stmt
        self.helpers: set[str] = set()       # module-level lines needed (imports, _erf)

    def p(self, e, prec):
        if e in self.names:
            return self.names[e]
        s, own = self.render(e)
        return self.paren(s) if own < prec else s

    def sym(self, e):
        return self.params[e.attrs[0]]

    def filled(self, e):
        r, c = e.shape
        if e.op is alg.IDENTITY:
            return self.be.eye.format(self.dim(r))
        tpl = self.be.ones if e.op is alg.ONES else self.be.zeros
        if r == 1 or c == 1:
            return tpl.format(self.dim(r if c == 1 else c))
        return tpl.format(f"({self.dim(r)}, {self.dim(c)})")

    def chain(self, chain, scaled):
        return re.sub(r"(?<![\w.])np\.outer\(", f"{self.be.ns}.outer(", super().chain(chain, scaled))

    def inv(self, e):
        return f"{self.be.ns}.linalg.inv({self.p(e.args[0], 0)})"

    def matpow(self, e):
        return f"{self.be.ns}.linalg.matrix_power({self.p(e.args[0], 0)}, {e.attrs[0]})"

    def function(self, e):
        name = e.op.name
        tpl = self.be.template(e.op)
        if tpl is None:
            raise UnsupportedError(f"no {self.be.name} code for the function {name}",
                                   hint="use --format numpy, or the result's text")
        if tpl == _SOFTMAX_NP:                       # two statements: e = exp(z - max z); e / sum(e)
            z = self.p(e.args[0], POST_P)
            ex = self.stmt(f"np.exp({z} - np.max({z}))", "e")
            return f"({ex} / np.sum({ex}))"
        args = [_unwrap(self.p(a, 0)) if _call_position(tpl, i) else self.p(a, POST_P)
                for i, a in enumerate(e.args)]
        if "_erf(" in tpl:
            self.helpers.add(_ERF_NP)
        if "math." in tpl:
            self.helpers.add("import math")
        if "jax.scipy.special" in tpl:
            self.helpers.add("import jax.scipy.special")
        return tpl.format(*args)

    def repeats(self, e) -> list[int]:
        """Arguments a backend template uses more than once: they are computed once, before."""
        tpl = self.be.template(e.op)
        if tpl is None:
            return []
        if tpl == _SOFTMAX_NP:
            return [0]
        return [i for i in range(len(e.args)) if tpl.count("{%d}" % i) > 1]


# ------------------------------------------------------------------------------------------- planning

def _in_degree(roots) -> dict:
    deg: dict[Expr, int] = {}
    for root in roots:
        deg[root] = deg.get(root, 0) + 1
    seen = set()
    for root in roots:
        for node in postorder(root):
            if node in seen:
                continue
            seen.add(node)
            for a in node.args:
                deg[a] = deg.get(a, 0) + 1
    return deg


def _unwrap(code: str) -> str:
    """(a - b) -> a - b, for the right-hand side of an assignment."""
    while code.startswith("(") and code.endswith(")"):
        depth = 0
        for i, ch in enumerate(code):
            depth += (ch == "(") - (ch == ")")
            if depth == 0 and i < len(code) - 1:
                return code
        code = code[1:-1]
    return code


def _cheap(node: Expr) -> bool:
    """Not worth a temporary: a name, a number, 1/0/I, a transpose of a name (a view), a vector transpose."""
    if not node.args:
        return True
    if node.op is alg.TRANSPOSE:
        a = node.args[0]
        return not a.args or a.shape[0] == 1 or a.shape[1] == 1
    return False


# ------------------------------------------------------------------------------------------- the module

def function_code(result, backend: str = "numpy", with_value: bool = False) -> str:
    """A complete module: imports and `def grad_f(A, x, b): ...` (docstring with the shapes, shape checks
    raising ValueError, named temporaries); with_value: `value_and_grad_f` returning (value, derivative)."""
    if backend not in _BACKEND:
        raise UsageError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    be = _BACKEND[backend]
    symbols = result.symbols                         # name -> (kind, shape), the aux name last
    taken = set(_MODULE_NAMES) | {n for n in symbols}
    params = {}
    for n in symbols:
        p = n
        while keyword.iskeyword(p) or p in _MODULE_NAMES or (p != n and p in taken):
            p += "_"
        params[n] = p
        taken.add(p)

    def fresh(base: str) -> str:
        base = re.sub(r"\W", "", base.translate(_UNSUB)) or "t"
        if base[0].isdigit():
            base = "t" + base
        name, i = base, 2
        while name in taken or keyword.iskeyword(name):
            name, i = f"{base}{i}" if not base[-1].isdigit() else f"{base}_{i}", i + 1
        taken.add(name)
        return name

    body: list[str] = []
    checks, dims = _shape_checks(result, be, params, fresh)
    statements: list[str] = []

    def stmt(code: str, hint: str) -> str:
        name = fresh(hint)
        statements.append(f"    {name} = {code}")
        return name

    pr = _CodePrinter(dims, be, params, stmt)
    roots = [result.function.expr, result.expr] if with_value else [result.expr]
    deg = _in_degree(roots)
    text_names = shared_names(result.expr, result.symbols)
    temps: set[Expr] = {n for n, d in deg.items() if d >= 2 and not _cheap(n)}
    for root in roots:
        for node in postorder(root):
            if node.args:
                temps |= {node.args[i] for i in pr.repeats(node) if not _cheap(node.args[i])}
    by_code: dict[str, str] = {}                     # two nodes may print alike (x − μ and its transpose)
    for root in roots:
        for node in postorder(root):
            if node in temps and node not in pr.names:
                code = _unwrap(pr.render(node)[0])
                if code not in by_code:
                    by_code[code] = fresh(text_names.get(node) or node.op.temp.lower() or "t")
                    statements.append(f"    {by_code[code]} = {code}")
                pr.names[node] = by_code[code]
    outs = []
    for root in roots:
        code = pr.p(root, 0)
        if root.shape == (1, 1):
            code = be.scalar_out.format(code)
        outs.append(code)

    lines = list(be.imports) + sorted(h for h in pr.helpers if h.startswith("import"))
    lines = sorted(set(lines), key=lambda s: (not s.startswith("import math"), s))
    module = "\n".join(lines) + "\n"
    if _ERF_NP in pr.helpers:
        module += "\n" + _ERF_NP + "\n"
    fname = ("value_and_" if with_value else "") + f"{result.kind}_f"
    body.append(f"def {fname}({', '.join(params[n] for n in symbols)}):")
    body.append(_docstring(result, be, with_value))
    body += [f"    {params[n]} = {be.asarray.format(params[n])}" for n in symbols]
    body += checks
    body += statements
    body.append(f"    return {', '.join(outs)}")
    return module + "\n\n" + "\n".join(body) + "\n"


def _describe(kind, shape) -> str:
    if shape == (1, 1):
        return "scalar"
    if shape[0] == 1 or shape[1] == 1:
        return f"vector of size {shape[0] if shape[1] == 1 else shape[1]}"
    adj = {"symmetric": "symmetric ", "spd": "symmetric positive definite ", "diagonal": "diagonal "}.get(kind, "")
    return f"{fmt_shape(shape)} {adj}matrix"


def _article(desc: str) -> str:
    return ("an " if desc[0] in "aeiou8" else "a ") + desc


def _docstring(result, be: _Backend, with_value: bool) -> str:
    word = _KIND_WORD[result.kind]
    esc = lambda s: s.replace("\\", "\\\\").replace('"""', r'\"\"\"')  # noqa: E731
    lines = [f'"""The {word} of {esc(result.function.source)} with respect to {result.wrt}, by matcalc.', ""]
    lines.append(f"    {esc(result.text)}")
    lines.append("")
    for note in result.notes:
        lines.append(f"    Note: {esc(note)}.")
    lines.append(f"    Arguments ({be.kinds_note}):")
    for name, (kind, shape) in result.symbols.items():
        role = ""
        if name == result.aux:
            role = " (upstream gradient, the shape of the output)" if result.kind == "vjp" else \
                " (direction, the shape of the variable)"
        lines.append(f"        {name}: {_describe(kind, shape)}{role}")
    what = _describe("matrix", result.shape) + (f" (the shape of {result.wrt})" if result.kind == "grad" else "")
    lines.append("    Returns:")
    if with_value:
        lines.append(f"        (value, {result.kind}): the value of the expression, "
                     f"{_article(_describe('matrix', result.function.shape))}, and the {word}, {_article(what)}")
    else:
        lines.append(f"        the {word}, {_article(what)}")
    lines.append("    Raises:")
    lines.append("        ValueError: when an argument's shape does not fit the others"
                 + (", or a declared symmetric or diagonal matrix is not" if be.symmetric_check and any(
                     k in ("symmetric", "spd", "diagonal") for k, _ in result.symbols.values()) else "") + ".")
    lines.append('    """')
    return "    " + "\n".join(lines)


def _shape_checks(result, be: _Backend, params: dict, fresh) -> tuple[list[str], dict]:
    """Lines checking every argument's number of dimensions and sizes; the size names bound on the way
    (size name -> the local variable holding it), which the body uses for eye/ones/zeros."""
    out: list[str] = []
    bound: dict[str, tuple[str, str]] = {}       # size -> (variable, the argument it came from)
    for name, (kind, shape) in result.symbols.items():
        v = params[name]
        if shape == (1, 1):
            dims = []
        elif shape[1] == 1:
            dims = [shape[0]]
        elif shape[0] == 1:
            dims = [shape[1]]
        else:
            dims = list(shape)
        want = {0: "a scalar", 1: "a 1-D vector", 2: "a 2-D matrix"}[len(dims)]
        shown = "" if not dims else " of shape (" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1
                                                                                       else "") + ")"
        out.append(f"    if {v}.ndim != {len(dims)}:")
        out.append(f'        raise ValueError(f"{name} must be {want}{shown}, got shape {{tuple({v}.shape)}}")')
        new, checks = [], []
        for axis, d in enumerate(dims):
            if isinstance(d, str) and d not in bound:
                var = fresh(d)
                bound[d] = (var, name)
                new.append((axis, var))
            else:
                checks.append((axis, d))
        if new and len(new) == len(dims) and len(dims) > 1:
            out.append(f"    {', '.join(var for _, var in new)} = {v}.shape")
        else:
            out += [f"    {var} = {v}.shape[{axis}]" for axis, var in new]
        for axis, d in checks:
            ref = f"{v}.shape[{axis}]"
            if isinstance(d, int):
                out.append(f"    if {ref} != {d}:")
                out.append(f'        raise ValueError(f"{name}: size {d} expected on axis {axis}, got {{{ref}}}")')
                continue
            var, src = bound[d]
            out.append(f"    if {ref} != {var}:")
            if src == name:
                out.append(f'        raise ValueError(f"{name} must be square, got shape {{tuple({v}.shape)}}")')
            else:
                out.append(f'        raise ValueError(f"{name}: axis {axis} has size {{{ref}}}, but size {d} is '
                           f'{{{var}}} (from {src})")')
        if be.symmetric_check and kind in ("symmetric", "spd") and len(dims) == 2:
            out.append(f"    if not {be.symmetric_check.format(v)}:")
            out.append(f'        raise ValueError("{name} must be symmetric (declared {kind})")')
        if be.symmetric_check and kind == "diagonal" and len(dims) == 2:
            allclose = be.symmetric_check.split("(")[0]
            out.append(f"    if not {allclose}({v}, {be.ns}.diag({be.ns}.diag({v}))):")
            out.append(f'        raise ValueError("{name} must be diagonal (declared diagonal)")')
    return out, {d: var for d, (var, _) in bound.items()}
