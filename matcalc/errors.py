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
        if self.source is not None and self.span is not None and "\n" not in self.source:
            start, end = self.span
            shown = self.source if len(self.source) <= 200 else None
            if shown is not None:
                width = max(1, end - start)
                lines.append("  " + shown)
                lines.append("  " + " " * start + "^" + "~" * (width - 1))
            else:
                lines.append(f"  (at column {start + 1} of a {len(self.source)}-character expression)")
        lines.append(f"{self.kind}: {self.message}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


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
