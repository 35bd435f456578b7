"""`matcalc functions [NAME]`: the functions of the language, from the op registry."""
from __future__ import annotations

from .args import Arg, Command, Opt
from .command import console


def functions(name, plain):
    from rich.markup import escape
    from rich.table import Table

    import matcalc  # noqa: F401  (registers the ops)
    from .ops.reference import entries, find
    con = console(plain)
    if name is None:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("function", "args", "meaning", "derivative"):
            table.add_column(col)
        for e in entries():
            table.add_row(escape(" / ".join(e.names)), e.arguments, escape(e.meaning), escape(e.rule))
        con.print(table)
        con.print("\n[dim]matcalc functions NAME: the source of a rule and an example[/]")
        return
    e = find(name)
    if e is None:
        import difflib
        close = difflib.get_close_matches(name, [n for x in entries() for n in x.names], n=1)
        from .errors import MatcalcError
        raise MatcalcError(f"unknown function {name!r}",
                           hint=f"did you mean {close[0]}?" if close else "matcalc functions lists them")
    con.print(f"[bold]{escape(' / '.join(e.names))}[/]  ({e.arguments} argument{'s' if e.arity != (1, 1) else ''})")
    con.print(f"  {escape(e.meaning)}")
    con.print(f"  derivative: {escape(e.rule)}")
    if e.cite:
        con.print(f"  source: {escape(e.cite)}")
    if e.example is not None:
        from .api import derivative
        kind, expr, wrt, let = e.example
        r = derivative(kind, expr, wrt, let)
        con.print(f"  example: matcalc {kind} \"{escape(expr)}\" {wrt}"
                  + "".join(f" --let {k}:{v}" for k, v in (let or {}).items()))
        con.print(f"           {escape(r.text)}")


COMMAND = Command(
    "functions", "List the functions of the language (name, arguments, meaning, derivative rule).", functions,
    [Arg("name", "NAME", "One function: its rule, source and an example.", nargs="?"),
     Opt(("--plain",), "plain", "No colour.", kind="flag")],
    examples=("matcalc functions", "matcalc functions logdet"))
