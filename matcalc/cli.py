"""The command line: a thin layer over the Python API.

Errors a user can make are MatcalcErrors: they print the expression with a
caret under the fault on stderr and exit with code 2. Exit codes: 0 success,
1 a verification failed, 2 bad input or usage (the boundary that decides them,
shared with the other command modules: matcalc/command.py).
"""
from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from . import __version__
from .command import Command, Group, console, run_action

EXAMPLES = """
[bold]Examples[/]

  matcalc show "norm(A*x - b)**2"
  matcalc grad "norm(A*x - b)**2" x
  matcalc grad "x'*S*x" x --let S:symmetric
  matcalc grad "logdet(X)" X --format latex
  matcalc jacobian "softmax(z)" z
  matcalc hessian "sum(softplus(X*w)) - y'*X*w" w
  matcalc vjp "W*x" W --steps
  matcalc hvp "logdet(X)" X
  matcalc grad "cross_entropy(W*x, y)" W --format numpy
  echo "tr(A*X*B)" | matcalc grad - X

Every function of the language: [bold]matcalc functions[/]; one of them: [bold]matcalc functions NAME[/].
Each command's own help: [bold]matcalc COMMAND --help[/].
"""

app = typer.Typer(
    name="matcalc",
    help="Symbolic matrix calculus: gradients, Jacobians and Hessians in textbook notation, checked "
         "numerically.\n" + EXAMPLES,
    rich_markup_mode="rich",
    cls=Group,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

LET_HELP = "Declare a name's kind: NAME:KIND, KIND one of scalar vector matrix symmetric spd diagonal, " \
           "optionally sized: 'A:matrix(m,n)'. Repeat or separate with commas."
EXPR_HELP = "The expression, in matcalc syntax (see README). '-' reads it from standard input."
VAR_HELP = "The variable to differentiate with respect to."
FORMATS = ("text", "latex", "png", "svg", "numpy", "torch", "jax", "json")
FLAG = ""       # the metavar of an on/off option: nothing (typer would write <bool>)


def _expr_argument():
    return typer.Argument(..., metavar="EXPR", help=EXPR_HELP, show_default=False)


def _let_option():
    return typer.Option([], "--let", "-l", metavar="NAME:KIND", help=LET_HELP, show_default=False)


def _plain_option(what: str):
    return typer.Option(False, "--plain", metavar=FLAG, help=what)


def _examples(*lines: str) -> str:
    """The end of a command's help: where the language is listed, and examples to copy."""
    return "\n\nThe functions of the language: [bold]matcalc functions[/]; the syntax: the README." \
           "\n\n[bold]Examples[/]\n\n" + "\n".join(f"  {line}" for line in lines) + "\n"


class _ExprCommand(Command):
    """A command whose expression may start with a minus: `matcalc grad "-sum(log(x))" x`.

    The option parser takes any argument starting with '-' for an option. One that reads as an
    expression (an operator, bracket or digit in it, or not one of the command's options) is
    passed on as an argument, marked with a leading space that the expression reader strips."""

    def parse_args(self, ctx, args):
        shorts = {o for p in self.params for o in p.opts + p.secondary_opts if not o.startswith("--")}
        shorts |= {o for o in ctx.help_option_names if not o.startswith("--")}

        def expression_like(a):
            return a.startswith("-") and a != "-" and not a.startswith("--") and (
                any(c in "()*'+/^.@ ,[]" for c in a) or a[1].isdigit() or a[:2] not in shorts)

        return super().parse_args(ctx, [" " + a if expression_like(a) else a for a in args])


def _version(value: bool):
    if value:
        typer.echo(f"matcalc {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, metavar="",
                                                help="Show the version and exit.")):
    """matcalc"""


STDIN_LIMIT = 256 * 1024   # bytes read from standard input for '-'


def _read_expr(expr: str) -> str:
    if expr == "-":
        data = sys.stdin.buffer.read(STDIN_LIMIT + 1)   # never more: the input may be endless
        if len(data) > STDIN_LIMIT:
            from .errors import LimitError
            from .syntax import MAX_LENGTH
            raise LimitError(f"standard input is longer than {STDIN_LIMIT // 1024} KiB; an expression is "
                             f"at most {MAX_LENGTH:,} characters")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from .errors import ParseError
            raise ParseError("standard input is not UTF-8 text") from None
        return text.strip()
    return expr.lstrip()


# ----------------------------------------------------------------------------- show

SHOW_HELP = "Parse an expression and print it with its shape and the kind and shape of every name." + _examples(
    'matcalc show "norm(A*x - b)**2"',
    'matcalc show "x\'*A*x" --let A:symmetric --format latex',
    'matcalc show "W2*tanh(W1*x + b1)" --format json')


@app.command(cls=_ExprCommand, help=SHOW_HELP)
def show(expr: str = _expr_argument(),
         let: List[str] = _let_option(),
         format: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text, latex or json."),
         plain: bool = _plain_option("Only the expression: no colour, no table.")):
    def action():
        from .api import parse
        from .shapes import fmt_shape
        p = parse(_read_expr(expr), let)
        if format == "json":
            typer.echo(json.dumps({"input": p.source, "text": p.text, "latex": p.latex(),
                                   "canonical": p.canonical, "shape": fmt_shape(p.shape),
                                   "names": p.names()}, ensure_ascii=False, indent=2))
            return
        if format == "latex":
            typer.echo(p.latex())
            return
        _check_format(format, ("text", "latex", "json"))
        con = console(plain)
        if plain:
            con.print(p.text)
            return
        from rich.table import Table
        con.print(f"[bold]{_esc(p.text)}[/]   [dim](shape {fmt_shape(p.shape)})[/]")
        table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
        for col in ("name", "kind", "shape"):
            table.add_column(col)
        for row in p.names():
            table.add_row(row["name"], row["kind"], row["shape"])
        con.print(table)
    run_action(action)


def _esc(s: str) -> str:
    from rich.markup import escape
    return escape(s)


def _check_format(fmt, allowed):
    if fmt not in allowed:
        from .errors import UsageError
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(allowed)}")


# ----------------------------------------------------------------------------- derivatives

def _derivative_command(kind: str, doc: str):
    def command(expr: str = _expr_argument(),
                var: str = typer.Argument(..., metavar="VAR", help=VAR_HELP, show_default=False),
                let: List[str] = _let_option(),
                format: str = typer.Option("text", "--format", "-f", metavar="FORMAT",
                                           help=", ".join(FORMATS) + "."),
                verify: Optional[bool] = typer.Option(None, "--verify/--no-verify", metavar=FLAG,
                                                      help="Check the result by finite differences "
                                                           "(on by default for text output)."),
                steps: bool = typer.Option(False, "--steps", metavar=FLAG,
                                           help="Show the derivation, rule by rule."),
                plain: bool = _plain_option("Only the result: no colour, no shapes."),
                seed: int = typer.Option(0, "--seed", min=0, metavar="N", help="Random seed of the numeric check."),
                trials: int = typer.Option(5, "--trials", min=1, max=100, metavar="N",
                                           help="Random points to check."),
                latex_style: str = typer.Option("bold", "--latex-style", metavar="STYLE",
                                                help="bold or plain letters in LaTeX."),
                equation: bool = typer.Option(False, "--equation", metavar=FLAG,
                                              help="With --format latex: a full display equation."),
                standalone: bool = typer.Option(False, "--standalone", metavar=FLAG,
                                                help="With --format latex: a complete document "
                                                     "(compiles with pdflatex as is)."),
                output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                                     help="Write to FILE, a new file, instead of standard "
                                                          "output (needed for png and svg)."),
                force: bool = typer.Option(False, "--force", metavar=FLAG,
                                           help="With -o: replace FILE if it exists (a symbolic link is "
                                                "replaced, never written through)."),
                name: Optional[str] = typer.Option(None, "--name", metavar="NAME",
                                                   help="With --format numpy, torch or jax: the generated "
                                                        f"function's name (default {kind}_f)."),
                with_value: bool = typer.Option(False, "--with-value", metavar=FLAG,
                                                help="With --format numpy, torch or jax: a function "
                                                     "returning (value, derivative).")):
        def action():
            from .api import derivative
            _check_format(format, FORMATS)
            from .output import check_options
            check_options(format, output, with_value, equation, latex_style, standalone, name)
            result = derivative(kind, _read_expr(expr), var, let, steps=steps)
            check = verify if verify is not None else (format == "text" and not plain)
            report = result.verify(trials=trials, seed=seed) if check else None
            from .output import render
            render(result, format, report=report, steps=steps, plain=plain, latex_style=latex_style,
                   equation=equation, output=output, with_value=with_value, standalone=standalone,
                   force=force, name=name)
            if report is not None and report.status == "failed":     # inconclusive is not a failure
                raise typer.Exit(1)
        run_action(action)
    command.__name__ = kind
    return command


_DERIVATIVES = {
    "grad": ("The gradient of a scalar expression, shaped like VAR (denominator layout).", [
        'matcalc grad "norm(A*x - b)**2" x',
        'matcalc grad "x\'*S*x" x --let S:symmetric',
        'matcalc grad "logdet(X)" X --format latex --equation',
        'matcalc grad "cross_entropy(W*x, y)" W --steps',
        'matcalc grad "tr(A*X*B)" X --format numpy --name grad_trace']),
    "jacobian": ("The Jacobian of a vector expression w.r.t. a vector: m×n, numerator layout.", [
        'matcalc jacobian "softmax(z)" z',
        'matcalc jacobian "tanh(W*x)" x --format json']),
    "hessian": ("The Hessian of a scalar expression w.r.t. a vector: n×n.", [
        'matcalc hessian "sum(softplus(X*w)) - y\'*X*w" w',
        'matcalc hessian "x\'*A*x" x --plain']),
    "vjp": ("The vector-Jacobian product Jᵀg for an upstream gradient g, without forming J.", [
        'matcalc vjp "W*x" W --steps',
        'matcalc vjp "softmax(z)" z --format torch']),
    "jvp": ("The Jacobian-vector product J·v for a direction v, without forming J.", [
        'matcalc jvp "inv(X)" X',
        'matcalc jvp "exp(x)" x --format jax --with-value']),
    "hvp": ("The Hessian-vector product ∇²f·v of a scalar expression for a direction v shaped like VAR "
            "(V for a matrix), without forming the Hessian.", [
                'matcalc hvp "logdet(X)" X',
                'matcalc hvp "x\'*A*x" x --steps',
                'matcalc hvp "cross_entropy(W*x, y)" W --let y:probability --format torch']),
}
for _kind, (_doc, _lines) in _DERIVATIVES.items():
    app.command(name=_kind, cls=_ExprCommand, help=_doc + _examples(*_lines), short_help=_doc)(
        _derivative_command(_kind, _doc))


from .functions_cmd import register as _register_functions  # noqa: E402  (the functions command's module)
_register_functions(app)
from .verify_cmd import register as _register_verify   # noqa: E402  (the verify command's own module)
_register_verify(app)


def run():
    app()


if __name__ == "__main__":
    run()
