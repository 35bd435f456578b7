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
from .errors import UsageError
from .expr import Expr, postorder
from .backends import BACKENDS, Backend
from .printing import CodePrinter, _unwrap, shared_names
from .shapes import Product, fmt_shape, size_code, size_names

_KIND_WORD = {"grad": "gradient", "jacobian": "Jacobian", "hessian": "Hessian",
              "vjp": "vector-Jacobian product", "jvp": "Jacobian-vector product", "hvp": "Hessian-vector product"}
_UNSUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
# Names generated code uses besides its own: the modules and the builtins it calls (the shape
# checks raise ValueError with tuple(x.shape), scalars are converted with float, templates import
# with __import__). A variable, size or temporary is never called so: a variable named tuple or
# ValueError made a wrong-shaped input raise TypeError or UnboundLocalError, not ValueError.
# (tests/test_hostile.py checks that generated code calls no other builtin.)
BUILTINS_USED = {"ValueError", "tuple", "float", "__import__"}
_MODULE_NAMES = {"np", "torch", "jnp", "jax", "math", "_erfc"} | BUILTINS_USED


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


def _cheap(node: Expr) -> bool:
    """Not worth a temporary: a name, a number, 1/0/I, a transpose of a name (a view), a vector transpose."""
    if not node.args:
        return True
    if node.op is alg.TRANSPOSE:
        a = node.args[0]
        return not a.args or a.shape[0] == 1 or a.shape[1] == 1
    return False


# ------------------------------------------------------------------------------------------- the module

def check_function_name(name: str) -> None:
    """A name the user gives the generated function: a Python name that hides nothing the module uses."""
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name) or name in _MODULE_NAMES:
        raise UsageError(f"--name {name!r} cannot name the generated function",
                         hint="a Python name (letters, digits and _), not a keyword or one of "
                              + ", ".join(sorted(_MODULE_NAMES)))


def function_code(result, backend: str = "numpy", with_value: bool = False, name: str | None = None) -> str:
    """A complete module: imports and `def grad_f(A, x, b): ...` (docstring with the shapes, shape checks
    raising ValueError, named temporaries); with_value: `value_and_grad_f` returning (value, derivative);
    `name` names the function instead."""
    if name is not None:
        check_function_name(name)
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
    be = BACKENDS[backend]
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

    pr = CodePrinter(dims, be, params, stmt)
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
                    by_code[code] = fresh(text_names.get(node) or node.op.temp_of(node).lower() or "t")
                    statements.append(f"    {by_code[code]} = {code}")
                pr.names[node] = by_code[code]
    outs = []
    for root in roots:
        code = pr.operand(root, 0)
        if root.shape == (1, 1):
            code = be.scalar_out.format(code)
        outs.append(code)

    lines = list(be.imports) + sorted(h for h in pr.helpers if h.startswith("import"))
    lines = sorted(set(lines), key=lambda s: (not s.startswith("import math"), s))
    module = "\n".join(lines) + "\n"
    definitions = sorted(h for h in pr.helpers if not h.startswith("import"))
    if definitions:
        module += "\n" + "\n".join(definitions) + "\n"
    fname = name or ("value_and_" if with_value else "") + f"{result.kind}_f"
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
    # "an m×n matrix": a size name is read as its letter (em, en), a word as a word ("a vector")
    vowel = "aefhilmnorsx8" if "×" in desc.split()[0] else "aeiou8"
    return ("an " if desc[0] in vowel else "a ") + desc


def _docstring(result, be: Backend, with_value: bool) -> str:
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
    what = _describe("matrix", result.shape) + (f" (the shape of {result.wrt})" if result.kind in ("grad", "hvp")
                                                else "")
    lines.append("    Returns:")
    if with_value:
        lines.append(f"        (value, {result.kind}): the value of the expression, "
                     f"{_article(_describe('matrix', result.function.shape))}, and the {word}, {_article(what)}")
    else:
        lines.append(f"        the {word}, {_article(what)}")
    lines.append("    Raises:")
    lines.append("        ValueError: when an argument's shape does not fit the others"
                 + (", or a declared symmetric or diagonal matrix is not" if be.symmetric_check and any(
                     k in ("symmetric", "spd", "diagonal") for k, _ in result.symbols.values()) else "")
                 + (", or a declared onehot matrix has a row that is not one-hot" if be.onehot_check and any(
                     k == "onehot" and len(s) == 2 and 1 not in s for k, s in result.symbols.values()) else "") + ".")
    lines.append('    """')
    return "    " + "\n".join(lines)


def _shape_checks(result, be: Backend, params: dict, fresh) -> tuple[list[str], dict]:
    """Lines checking every argument's number of dimensions and sizes; the size names bound on the way
    (size name -> the local variable holding it), which the body uses for eye/ones/zeros."""
    out: list[str] = []
    bound: dict[str, tuple[str, str]] = {}       # size -> (variable, the argument it came from)
    products = []       # (argument, axis, size): a product size (mn) is checked once its names are bound
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
            if isinstance(d, Product):
                products.append((name, v, axis, d))
            elif isinstance(d, str) and d not in bound:
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
        if be.onehot_check and kind == "onehot" and len(dims) == 2:       # code indexes with its rows
            out.append(f"    if not ({be.onehot_check.format(v)}):")
            out.append(f'        raise ValueError("{name} must have one-hot rows (declared onehot)")')
    for name, v, axis, d in products:
        if all(n in bound for n in size_names(d)):
            ref, want = f"{v}.shape[{axis}]", size_code(d, lambda n: bound[n][0])
            out.append(f"    if {ref} != {want}:")
            out.append(f'        raise ValueError(f"{name}: axis {axis} has size {{{ref}}}, but size {d} is '
                       f'{{{want}}}")')
    return out, {d: var for d, (var, _) in bound.items()}
