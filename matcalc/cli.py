"""The command line: a thin layer over the Python API.

Errors a user can make are MatcalcErrors: they print the expression with a
caret under the fault on stderr and exit with code 2. Exit codes: 0 success,
1 a verification failed, 2 bad input or usage (the boundary that decides them,
shared with the other command modules: matcalc/command.py).

Commands are declared in matcalc/args.py's terms (arguments, options, help); this module declares
show and the derivative commands, verify_cmd.py and functions_cmd.py theirs. Nothing of the engine,
NumPy or rich loads before a command needs it: `--version` and `--help` load none of them.
"""
from __future__ import annotations

import os
import sys

from . import __version__
from .args import HELP_FLAGS, Arg, Command, Opt, help_width, main_help
from .command import run_action

TEXT = "Symbolic matrix calculus: gradients, Jacobians and Hessians in textbook notation, checked numerically."
EXAMPLES = (
    'matcalc show "norm(A*x - b)**2"',
    'matcalc grad "norm(A*x - b)**2" x',
    'matcalc grad "x\'*S*x" x --let S:symmetric',
    'matcalc grad "logdet(X)" X --format latex',
    'matcalc jacobian "softmax(z)" z',
    'matcalc hessian "sum(softplus(X*w)) - y\'*X*w" w',
    'matcalc vjp "W*x" W --steps',
    'matcalc hvp "logdet(X)" X',
    'matcalc grad "cross_entropy(W*x, y)" W --format numpy',
    'echo "tr(A*X*B)" | matcalc grad - X',
)
MAIN_FOOTER = "Every function of the language: matcalc functions; one of them: matcalc functions NAME. " \
              "Each command's own help: matcalc COMMAND --help."
FOOTER = "The functions of the language: matcalc functions; the syntax: the README."

LET = Opt(("-l", "--let"), "let", "Declare a name's kind: NAME:KIND, KIND one of scalar vector matrix symmetric "
          "spd diagonal probability onehot, optionally sized: 'A:matrix(m,n)'. Repeat or separate with "
          "commas.", kind="list", metavar="NAME:KIND")
EXPR = Arg("expr", "EXPR", "The expression, in matcalc syntax (see README). '-' reads it from standard input.")
VAR = Arg("var", "VAR", "The variable to differentiate with respect to.")
FORMATS = ("text", "latex", "png", "svg", "numpy", "torch", "jax", "json")

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


def _check_format(fmt, allowed):
    if fmt not in allowed:
        from .errors import UsageError
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(allowed)}")


# ----------------------------------------------------------------------------- show

def show(expr, let, format, plain):
    import json

    from .api import parse
    from .shapes import fmt_shape
    _check_format(format, ("text", "latex", "json"))
    p = parse(_read_expr(expr), let)
    if format == "json":
        print(json.dumps({"input": p.source, "text": p.text, "latex": p.latex(), "canonical": p.canonical,
                          "shape": fmt_shape(p.shape), "names": p.names()}, ensure_ascii=False, indent=2))
    elif format == "latex":
        print(p.latex())
    elif plain:
        print(p.text)
    else:
        from rich.markup import escape
        from rich.table import Table

        from .command import console
        con = console()
        con.print(f"[bold]{escape(p.text)}[/]   [dim](shape {fmt_shape(p.shape)})[/]")
        table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
        for col in ("name", "kind", "shape"):
            table.add_column(col)
        for row in p.names():
            table.add_row(row["name"], row["kind"], row["shape"])
        con.print(table)


SHOW = Command(
    "show", "Parse an expression and print it with its shape and the kind and shape of every name.", show,
    [EXPR, LET,
     Opt(("-f", "--format"), "format", "text, latex or json.", metavar="FORMAT", default="text"),
     Opt(("--plain",), "plain", "Only the expression: no colour, no table.", kind="flag")],
    footer=FOOTER,
    examples=('matcalc show "norm(A*x - b)**2"',
              'matcalc show "x\'*A*x" --let A:symmetric --format latex',
              'matcalc show "W2*tanh(W1*x + b1)" --format json'))


# ----------------------------------------------------------------------------- derivatives

def _derivative(kind: str):
    def action(expr, var, let, format, verify, steps, plain, seed, trials, latex_style, equation, standalone,
               output, force, name, with_value):
        from .api import derivative
        from .output import check_options, render
        _check_format(format, FORMATS)
        check_options(format, output, with_value, equation, latex_style, standalone, name)
        result = derivative(kind, _read_expr(expr), var, let, steps=steps)
        check = verify if verify is not None else (format == "text" and not plain)
        report = result.verify(trials=trials, seed=seed) if check else None
        render(result, format, report=report, steps=steps, plain=plain, latex_style=latex_style,
               equation=equation, output=output, with_value=with_value, standalone=standalone, force=force,
               name=name)
        return 1 if report is not None and report.status == "failed" else 0     # inconclusive is no failure
    return action


def _derivative_options(kind: str) -> list:
    return [
        EXPR, VAR, LET,
        Opt(("-f", "--format"), "format", ", ".join(FORMATS) + ".", metavar="FORMAT", default="text"),
        Opt(("--verify",), "verify", "Check the result by finite differences (on by default for text output).",
            kind="switch"),
        Opt(("--steps",), "steps", "Show the derivation, rule by rule.", kind="flag"),
        Opt(("--plain",), "plain", "Only the result: no colour, no shapes.", kind="flag"),
        Opt(("--seed",), "seed", "Random seed of the numeric check.", kind="int", metavar="N", default=0, lo=0),
        Opt(("--trials",), "trials", "Random points to check.", kind="int", metavar="N", default=5, lo=1, hi=100),
        Opt(("--latex-style",), "latex_style", "bold or plain letters in LaTeX.", metavar="STYLE", default="bold"),
        Opt(("--equation",), "equation", "With --format latex: a full display equation.", kind="flag"),
        Opt(("--standalone",), "standalone", "With --format latex: a complete document (compiles with pdflatex "
            "as is).", kind="flag"),
        Opt(("-o", "--output"), "output", "Write to FILE, a new file, instead of standard output (needed for png "
            "and svg).", metavar="FILE"),
        Opt(("--force",), "force", "With -o: replace FILE if it exists (a symbolic link is replaced, never "
            "written through).", kind="flag"),
        Opt(("--name",), "name", "With --format numpy, torch or jax: the generated function's name (default "
            f"{kind}_f).", metavar="NAME"),
        Opt(("--with-value",), "with_value", "With --format numpy, torch or jax: a function returning (value, "
            "derivative).", kind="flag"),
    ]


_DERIVATIVES = {
    "grad": ("The gradient of a scalar expression, shaped like VAR (denominator layout).", [
        'matcalc grad "norm(A*x - b)**2" x',
        'matcalc grad "x\'*S*x" x --let S:symmetric',
        'matcalc grad "logdet(X)" X --format latex --equation',
        'matcalc grad "cross_entropy(W*x, y)" W --steps',
        'matcalc grad "tr(A*X*B)" X --format numpy --name grad_trace']),
    "jacobian": ("The Jacobian of vec(EXPR) by vec(VAR), numerator layout: m×n for vectors, in Kronecker "
                 "form for matrices.", [
        'matcalc jacobian "softmax(z)" z',
        'matcalc jacobian "tanh(W*x)" x --format json',
        'matcalc jacobian "A*X*B" X']),
    "hessian": ("The Hessian of a scalar expression by vec(VAR): n×n for a vector, mn×mn for a matrix.", [
        'matcalc hessian "sum(softplus(X*w)) - y\'*X*w" w',
        'matcalc hessian "x\'*A*x" x --plain',
        'matcalc hessian "logdet(X)" X']),
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


def _commands() -> dict:
    from .functions_cmd import COMMAND as functions
    from .verify_cmd import COMMAND as verify
    derivatives = [Command(kind, doc, _derivative(kind), _derivative_options(kind), footer=FOOTER, examples=lines)
                   for kind, (doc, lines) in _DERIVATIVES.items()]
    return {c.name: c for c in [SHOW, *derivatives, functions, verify]}


# ----------------------------------------------------------------------------- entry

def main(argv: list[str] | None = None) -> int:
    """Run one command line (sys.argv[1:] by default); the exit code."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    return run_action(lambda: _dispatch(argv))


def _dispatch(argv: list[str]) -> int:
    commands = _commands()
    if not argv or argv[0] in HELP_FLAGS:
        sys.stdout.write(main_help(commands, TEXT, EXAMPLES, MAIN_FOOTER, help_width()) + "\n")
        return 0 if argv else 2         # no command at all is a usage error, after the help
    if argv[0] == "--version":
        sys.stdout.write(f"matcalc {__version__}\n")
        return 0
    command = commands.get(argv[0])
    if command is None:
        raise _unknown(argv[0], commands)
    values = command.parse(argv[1:])
    if values is None:
        sys.stdout.write(command.help() + "\n")
        return 0
    return command.action(**values)


def _unknown(word: str, commands: dict):
    import difflib

    from .errors import UsageError
    what = "option" if word.startswith("-") else "command"
    close = difflib.get_close_matches(word, list(commands) + ["--version", "--help"], n=1)
    return UsageError(f"no such {what} {word!r}" + (f" (did you mean {close[0]}?)" if close else ""),
                      hint="matcalc COMMAND [ARGS]... (the commands: matcalc --help)")


def run():
    """The console script `matcalc` and `python -m matcalc`: main's exit code, without the interpreter's
    teardown. Freeing every module's objects, which the operating system frees at exit anyway, took
    15 ms of a verified gradient's 115 (issue 15 allows it 1.3× `import numpy`, whose own teardown is
    9 ms). Nothing is left to run at exit: files are written and closed, worker processes joined and
    temporary folders removed inside the commands; the standard streams are flushed here."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:     # the reader left: quietly, as run_action says it (code 1)
        code = code or 1
    except (OSError, ValueError):
        code = code or 2
    os._exit(code)


if __name__ == "__main__":
    run()
