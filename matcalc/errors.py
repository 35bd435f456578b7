"""One exception family for everything a user can get wrong.

Every error carries the source text and a span (start, end) into it, so the
command line can print the expression with a caret under the fault.
"""
from __future__ import annotations


class MatcalcError(Exception):
    """Base class: bad input, a shape clash, or a derivative matcalc refuses to guess."""

    exit_code = 2
    kind = "error"

    def __init__(self, message: str, span: tuple[int, int] | None = None,
                 hint: str | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.source = source

    def with_source(self, source: str) -> "MatcalcError":
        if self.source is None:
            self.source = source
        return self

    @property
    def column(self) -> int | None:
        """0-based column of the caret, or None when the error has no span."""
        return None if self.span is None else self.span[0]

    def render(self) -> str:
        """The expression, a caret line under the fault, the reason and a hint."""
        lines = []
        if self.source is not None and self.span is not None:
            lines += _excerpt(self.source, *self.span)
        lines.append(f"{self.kind}: {self.message}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


WINDOW = 100   # characters of a long line shown around the caret


def _excerpt(source: str, start: int, end: int) -> list[str]:
    """The line holding the fault, safe to print, and a caret line under the fault.

    Control characters (an escape sequence would reach the terminal) print as �, a tab as a
    space, so the caret stays in its column; a long line is cut to a window around the fault;
    in a text of several lines the line is named.
    """
    start = max(0, min(start, len(source)))
    end = max(start, min(end, len(source)))
    first = source.rfind("\n", 0, start) + 1
    last = source.find("\n", start)
    last = len(source) if last < 0 else last
    line, col, width = source[first:last], start - first, max(1, min(end, last) - start)
    out = []
    if "\n" in source:
        out.append(f"  (line {source.count(chr(10), 0, start) + 1})")
    if len(line) > WINDOW:
        a = max(0, min(col - WINDOW // 2, len(line) - WINDOW))
        out.append(f"  (at column {col + 1} of a {len(line)}-character line)")
        line, col = ("…" if a else "") + line[a:a + WINDOW] + ("…" if a + WINDOW < len(line) else ""), \
            col - a + (1 if a else 0)
        width = min(width, WINDOW)
    line = "".join(" " if c == "\t" else c if c.isprintable() else "\ufffd" for c in line)
    out.append("  " + line)
    out.append("  " + " " * col + "^" + "~" * (width - 1))
    return out


class ParseError(MatcalcError):
    kind = "syntax error"


class ShapeError(MatcalcError):
    kind = "shape error"


class UnsupportedError(MatcalcError):
    kind = "not supported"


class LimitError(MatcalcError):
    kind = "limit exceeded"


class UsageError(MatcalcError):
    kind = "usage error"


class InternalError(MatcalcError):
    """A bug in matcalc, found by one of its own checks: exit code 3, never a pass."""
    exit_code = 3
    kind = "internal error"

    def __init__(self, message: str, span=None, hint=None, source=None):
        super().__init__(message, span, hint or "this is a bug in matcalc; please report it with the "
                                                 "command you ran", source)
