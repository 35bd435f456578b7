"""Commands, their arguments and options: parsed by the standard library's argparse, helped from the
same declarations.

matcalc's command line was built on typer, whose import alone takes 0.7× `import numpy`; a gradient
printed without verification must start in 0.6× (issue 15). argparse imports in about 2 ms. A
command is declared once, as a `Command` of `Arg`s and `Opt`s: the parser and the help are made from
that declaration, so they cannot disagree. Parsing builds only the parser of the command that runs.

Usage errors are UsageErrors (exit code 2, one message on stderr, with the command's usage line);
`-h`/`--help` anywhere shows the command's help.
"""
from __future__ import annotations

import os
import sys

from .errors import UsageError

HELP_WIDTH = 80         # help is wrapped to the terminal (or COLUMNS), at most this wide
HELP_FLAGS = ("-h", "--help")


class Arg:
    """A positional argument: its metavar (EXPR), help, and how many values (None: one; '+': one or more;
    '?': optional). `dest` is the action's keyword."""

    def __init__(self, dest: str, metavar: str, help: str, nargs: str | None = None):
        self.dest, self.metavar, self.help, self.nargs = dest, metavar, help, nargs

    def usage(self) -> str:
        return f"[{self.metavar}]" if self.nargs == "?" else self.metavar


class Opt:
    """An option. `kind`: 'flag' (present or not), 'switch' (--x / --no-x, None when neither is
    given), 'str', 'int' (within lo..hi), 'list' (repeatable: every value, in order)."""

    def __init__(self, flags: tuple[str, ...], dest: str, help: str, kind: str = "str", metavar: str = "",
                 default=None, lo: int | None = None, hi: int | None = None):
        if kind not in ("flag", "switch", "str", "int", "list"):
            raise ValueError(f"option {flags[0]}: unknown kind {kind!r}")
        self.flags, self.dest, self.help, self.kind = flags, dest, help, kind
        self.metavar, self.default, self.lo, self.hi = metavar, default, lo, hi

    def names(self) -> str:
        """How the help lists it: `-f, --format FORMAT`, `--verify / --no-verify`."""
        longs = [f for f in self.flags if f.startswith("--")]
        shorts = [f for f in self.flags if not f.startswith("--")]
        if self.kind == "switch":
            return " / ".join(f"{f} / --no-{f[2:]}" for f in longs)
        text = ", ".join(shorts + longs)
        return text if self.kind == "flag" else f"{text} {self.metavar}"

    def describe(self) -> str:
        extra = []
        if self.kind == "int" and self.lo is not None:
            extra.append(f"at least {self.lo}" if self.hi is None else f"{self.lo} to {self.hi}")
        if self.default is not None and self.kind in ("str", "int"):
            extra.append(f"default: {self.default}")
        return self.help + (f"  [{'; '.join(extra)}]" if extra else "")


class Command:
    """A command: its name, a one-line summary (the main help's list), its help text, examples to copy,
    its arguments and options, and the action called with their values as keywords (its return value,
    if an int, is the exit code)."""

    def __init__(self, name: str, summary: str, action, params: list, text: str = "", examples=(),
                 footer: str = ""):
        self.name, self.summary, self.action, self.params = name, summary, action, params
        self.text, self.examples, self.footer = text or summary, tuple(examples), footer

    @property
    def args(self) -> list[Arg]:
        return [p for p in self.params if isinstance(p, Arg)]

    @property
    def opts(self) -> list[Opt]:
        return [p for p in self.params if isinstance(p, Opt)]

    def usage(self) -> str:
        return f"Usage: matcalc {self.name} [OPTIONS] " + " ".join(a.usage() for a in self.args)

    def usage_error(self, message: str) -> UsageError:
        usage = self.usage().removeprefix("Usage: ")
        return UsageError(message, hint=f"{usage} (every option: matcalc {self.name} --help)")

    def parse(self, argv: list[str]) -> dict | None:
        """The action's keywords from argv, or None when the help was asked for."""
        if any(a in HELP_FLAGS for a in _options_part(argv)):
            return None
        shorts = {f for o in self.opts for f in o.flags if not f.startswith("--")}
        values = vars(_parser(self).parse_args([_as_argument(a, shorts) for a in argv]))
        for o in self.opts:
            if o.kind == "list" and values[o.dest] is None:
                values[o.dest] = []
        return values

    def help(self, width: int | None = None) -> str:
        width = width or help_width()
        out = [self.usage(), ""] + _paragraphs(self.text, width) + [""]
        rows = [(a.metavar, a.help) for a in self.args]
        out += _section("Arguments", rows, width)
        rows = [(o.names(), o.describe()) for o in self.opts] + [("-h, --help", "Show this help and exit.")]
        out += _section("Options", rows, width)
        if self.footer:
            out += _paragraphs(self.footer, width) + [""]
        if self.examples:
            out += ["Examples", ""] + [f"  {e}" for e in self.examples] + [""]
        return "\n".join(out)


def main_help(commands: dict, text: str, examples, footer: str, width: int | None = None) -> str:
    """The help of `matcalc` itself: usage, what it does, examples, its options and every command."""
    width = width or help_width()
    out = ["Usage: matcalc [OPTIONS] COMMAND [ARGS]...", ""] + _paragraphs(text, width) + [""]
    out += ["Examples", ""] + [f"  {e}" for e in examples] + [""] + _paragraphs(footer, width) + [""]
    out += _section("Options", [("--version", "Show the version and exit."),
                                ("-h, --help", "Show this help and exit.")], width)
    out += _section("Commands", [(c.name, c.summary) for c in commands.values()], width)
    return "\n".join(out)


def help_width() -> int:
    """COLUMNS, else the terminal's width, else 80; at most 80 (long lines are hard to read)."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        width = int(cols)
    else:
        try:
            width = os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else HELP_WIDTH
        except (OSError, ValueError):
            width = HELP_WIDTH
    return max(40, min(width, HELP_WIDTH))


def _paragraphs(text: str, width: int) -> list[str]:
    """Text wrapped to width, paragraph by paragraph (blank lines kept)."""
    import textwrap
    out = []
    for para in text.strip("\n").split("\n\n"):
        out += textwrap.wrap(" ".join(para.split()), width) or [""]
        out.append("")
    return out[:-1]


def _section(title: str, rows: list[tuple[str, str]], width: int) -> list[str]:
    """A titled list: names in a column, their help wrapped beside them (below a name too long)."""
    import textwrap
    if not rows:
        return []
    col = min(max(len(name) for name, _ in rows) + 4, 30)
    out = [f"{title}:"]
    for name, text in rows:
        lines = textwrap.wrap(text, max(20, width - col)) or [""]
        head = f"  {name}"
        if len(head) + 2 > col:
            out.append(head)
        else:
            out.append(head.ljust(col) + lines.pop(0))
        out += [" " * col + line for line in lines]
    return out + [""]


def _options_part(argv: list[str]) -> list[str]:
    """The arguments before `--` (after it, everything is a value)."""
    return argv[:argv.index("--")] if "--" in argv else argv


def _as_argument(a: str, shorts: set[str]) -> str:
    """An expression may start with a minus: `matcalc grad "-sum(log(x))" x`. argparse takes any
    argument starting with '-' for an option; one that reads as an expression (an operator, bracket or
    digit in it, or not one of the command's short options) is passed on as an argument, marked with a
    leading space that the expression reader strips."""
    if a.startswith("-") and a != "-" and not a.startswith("--") and (
            any(c in "()*'+/^.@ ,[]" for c in a) or a[1].isdigit() or a[:2] not in shorts):
        return " " + a
    return a


def _parser(command: Command):
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise command.usage_error(_reworded(message, command))

    # argparse's own help is not used (Command.help is); a fixed width spares it asking the terminal
    p = Parser(prog=f"matcalc {command.name}", add_help=False, allow_abbrev=False,
               formatter_class=lambda prog: argparse.HelpFormatter(prog, width=HELP_WIDTH))
    for a in command.args:
        p.add_argument(a.dest, metavar=a.metavar, nargs=a.nargs)
    for o in command.opts:
        if o.kind == "flag":
            p.add_argument(*o.flags, dest=o.dest, action="store_true")
        elif o.kind == "switch":
            p.add_argument(*o.flags, dest=o.dest, action=argparse.BooleanOptionalAction, default=None)
        elif o.kind == "list":
            p.add_argument(*o.flags, dest=o.dest, metavar=o.metavar, action="append")
        else:
            p.add_argument(*o.flags, dest=o.dest, metavar=o.metavar, default=o.default,
                           type=_integer(o) if o.kind == "int" else str)
    return p


def _integer(o: Opt):
    import argparse

    def convert(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if (o.lo is not None and n < o.lo) or (o.hi is not None and n > o.hi):
            bound = f"at least {o.lo}" if o.hi is None else f"from {o.lo} to {o.hi}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {n}")
        return n
    return convert


def _reworded(message: str, command: Command) -> str:
    """argparse's message, with a suggestion for a mistyped option."""
    prefix = "unrecognized arguments: "
    if message.startswith(prefix):
        import difflib
        words = message[len(prefix):].split()
        unknown = [w.split("=")[0] for w in words if w.startswith("-")]
        if unknown:
            flags = [f for o in command.opts for f in o.flags] + \
                [f"--no-{f[2:]}" for o in command.opts if o.kind == "switch" for f in o.flags]
            if unknown[0] in flags:     # a real option, after `--`, where every word is an argument
                return f"unexpected extra argument: {unknown[0]} (after --, every word is an argument)"
            close = difflib.get_close_matches(unknown[0], flags, n=1)
            return f"no such option {unknown[0]}" + (f" (did you mean {close[0]}?)" if close else "")
        return f"unexpected extra argument{'s' if len(words) > 1 else ''}: {' '.join(words)}"
    required = "the following arguments are required: "
    if message.startswith(required):
        names = message[len(required):]
        return f"missing argument{'s' if ',' in names else ''} {names}"
    return message
