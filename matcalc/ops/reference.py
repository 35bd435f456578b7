"""The functions of the language, as `matcalc functions` and the README list them: from the registry.

Every function op contributes its names, arity, meaning, derivative rule and source; the few
functions the core algebra and the parser build themselves (inv, transpose, eye, ones) are
described here once.
"""
from __future__ import annotations

from ..record import record
from .base import FUNCTIONS
from .function import FunctionOp


@record(frozen=True)
class Entry:
    names: tuple
    arity: tuple
    meaning: str
    rule: str
    cite: str
    example: tuple | None       # (kind, expr, wrt, let): a derivative through it

    @property
    def arguments(self) -> str:
        lo, hi = self.arity
        return str(lo) if lo == hi else f"{lo} or {hi}"


_BUILT_IN = {       # (arity, meaning, rule, cite, example); inv and transpose are ops of the algebra
    "inv": ((1, 1), "the inverse of a square matrix (inv(A) = A^-1)", None, None,
            ("grad", "a'*inv(X)*b", "X", None)),
    "transpose": ((1, 1), "the transpose (also a', a.T, a^T)", "d(Xᵀ) = (dX)ᵀ", "linear",
                  ("grad", "a'*transpose(X)*b", "X", None)),
    "eye": ((1, 1), "eye(n): the n×n identity matrix (also I, its size inferred)", "constant", "", None),
    "ones": ((1, 2), "ones(n): the vector of ones; ones(m, n): the m×n matrix of ones", "constant", "", None),
}


def entries() -> list[Entry]:
    """One entry per function (its names together), in alphabetical order."""
    out, seen = [], set()
    for name, op in FUNCTIONS.items():
        if op in seen:
            continue
        seen.add(op)
        if isinstance(op, FunctionOp):
            out.append(Entry(op.names, op.arity, op.meaning, op.rule, op.cite, op.probes[0] if op.probes else None))
        elif name in _BUILT_IN:
            arity, meaning, rule, cite, example = _BUILT_IN[name]
            out.append(Entry(op.names, arity, meaning, rule or op.rule, cite or op.cite, example))
    for name in ("eye", "ones"):
        arity, meaning, rule, cite, example = _BUILT_IN[name]
        out.append(Entry((name,), arity, meaning, rule, cite, example))
    missing = set(FUNCTIONS) - {n for e in out for n in e.names}
    assert not missing, f"functions without an entry: {sorted(missing)}"
    return sorted(out, key=lambda e: e.names[0])


def find(name: str) -> Entry | None:
    return next((e for e in entries() if name in e.names), None)


def markdown_table() -> str:
    """The README's function list."""
    rows = ["| function | arguments | meaning | derivative |", "|---|---|---|---|"]
    for e in entries():
        names = " / ".join(f"`{n}`" for n in e.names)
        rows.append(f"| {names} | {e.arguments} | {_cell(e.meaning)} | {_cell(e.rule)} |")
    return "\n".join(rows) + "\n"


def _cell(s: str) -> str:
    return s.replace("|", "\\|")
