"""How a derivative is shown: terminal text, LaTeX, code or JSON."""
from __future__ import annotations

import json

import typer

from .shapes import fmt_shape

_KIND_SYMBOL = {"grad": "∇", "jacobian": "J", "hessian": "H", "vjp": "Jᵀg", "jvp": "Jv"}


def render(result, fmt: str, report=None, steps=False, plain=False, latex_style="bold", equation=False):
    if fmt == "json":
        typer.echo(json.dumps(as_json(result, report, latex_style), ensure_ascii=False, indent=2))
        return
    if fmt == "latex":
        typer.echo(latex_equation(result, latex_style) if equation else result.latex_of(latex_style))
        _report_line(report, plain=True, err=True)
        return
    if fmt in ("numpy", "torch", "jax"):
        from .codegen import function_code
        typer.echo(function_code(result, fmt))
        _report_line(report, plain=True, err=True)
        return
    from rich.console import Console
    from rich.markup import escape
    con = Console(highlight=False, no_color=plain, soft_wrap=True)
    if plain:
        con.print(result.text)
        return
    if steps and result.steps:
        con.print(steps_tree(result), soft_wrap=False)
    for note in result.notes:
        con.print(f"[yellow]note:[/] {escape(note)}")
    con.print(f"[bold]{escape(result.text)}[/]")
    con.print(f"[dim]  {escape(result.shapes_line())}[/]")
    _report_line(report, plain=False, con=con)


def _report_line(report, plain, err=False, con=None):
    if report is None:
        return
    if plain:
        typer.echo(report.summary(), err=err)
        return
    colour = "green" if report.passed else "red"
    from rich.markup import escape
    con.print(f"[{colour}]  {escape(report.summary())}[/]")


def steps_tree(result):
    from rich.markup import escape
    from rich.tree import Tree

    from .printing import text
    reverse = result.kind in ("grad", "vjp", "hessian")
    title = f"derivation of {result.kind} w.r.t. {result.wrt}" + (" (reverse mode: adjoints from the output back)"
                                                                 if reverse else " (forward mode)")
    tree = Tree(f"[bold]{escape(title)}[/]")
    names = result.symbols
    for i, st in enumerate(result.steps, 1):
        branch = tree.add(f"{i}. [cyan]{escape(st.rule or st.node.op.name)}[/]")
        if st.cite:
            branch.add(f"[dim]source: {escape(st.cite)}[/]")
        if not st.parts and st.rule.startswith("simplify"):
            branch.add(f"before  {escape(text(st.node, names))}")
            branch.add(f"after   {escape(text(st.adjoint, names))}")
            continue
        branch.add(f"at  {escape(text(st.node, names))}")
        if st.parts:
            branch.add(f"adjoint  {escape(text(st.adjoint, names))}")
            for arg, contribution in st.parts:
                branch.add(f"→ to {escape(text(arg, names))}:  {escape(text(contribution, names))}")
        else:
            branch.add(f"differential  {escape(text(st.adjoint, names))}")
    return tree


def latex_equation(result, style="bold") -> str:
    """A display equation: \\frac{\\partial}{\\partial x} f = result."""
    from .printing import latex_name
    var = latex_name(result.wrt, result.function.symbols[result.wrt].shape if result.wrt in result.function.symbols
                     else (1, 1), style)
    f = result.function.latex(style)
    lhs = {
        "grad": rf"\frac{{\partial}}{{\partial {var}}} {f}",
        "jacobian": rf"\frac{{\partial \left({f}\right)}}{{\partial {var}}}",
        "hessian": rf"\frac{{\partial^2}}{{\partial {var}\, \partial {var}^\top}} {f}",
        "vjp": rf"\left(\frac{{\partial \left({f}\right)}}{{\partial {var}}}\right)^{{\!\top}} g",
        "jvp": rf"\frac{{\partial \left({f}\right)}}{{\partial {var}}}\, v",
    }[result.kind]
    return "\\[\n  " + lhs + " = " + result.latex_of(style) + "\n\\]"


def as_json(result, report=None, latex_style="bold") -> dict:
    out = {
        "input": result.function.source,
        "variable": result.wrt,
        "derivative": result.kind,
        "names": result.function.names(),
        "shape": fmt_shape(result.shape),
        "result": {"text": result.text, "latex": result.latex_of(latex_style), "numpy": result.numpy,
                   "matcalc": result.source},
        "notes": result.notes,
    }
    if result.aux:
        out["names"].append({"name": result.aux, "kind": "upstream gradient" if result.kind == "vjp"
                             else "direction", "shape": fmt_shape(result.aux_shape)})
    if report is not None:
        out["verification"] = report.as_dict()
    return out
