"""Sizes as scalars: len(v), rows(X), cols(X).

A size is a constant (its derivative is zero), so these are shorthands: each builds the size
node of its argument's shape (algebra.size), which prints by the size's name (n, 1/n, mn) and
which the verifier and generated code compute from the inputs' shapes. The typer also reads
them where a size is expected (ones(len(x)), eye(rows(A))) through `size_of`.
"""
from __future__ import annotations

import numpy as np

from ..algebra import _need, size
from .function import FunctionOp

_RULE = "constant: a size does not vary, its derivative is 0"


class SizeFunction(FunctionOp):
    """A function whose value is one size of its argument's shape."""

    def __init__(self, *, size_of, **fields):
        self.size_of = size_of          # (rows, cols) -> the size, in the shape's own terms
        super().__init__(sugar=lambda a: size(self.size_of(a.shape)), rule=_RULE, **fields)


def _len_shape(shapes, u):
    r, c = shapes[0]
    _need(r != 1 or c != 1, "len needs a vector, got a scalar")
    _need(r == 1 or c == 1, f"len needs a vector, got {u.describe(shapes[0])}",
          "len of a matrix means its rows in NumPy and its larger size in MATLAB: "
          "write rows(X) or cols(X)")
    return (1, 1)


def _any_shape(shapes, u):
    return (1, 1)


LEN = SizeFunction(
    names=("len",), meaning="the length of a vector, as a scalar (printed by its size name, n)",
    shape=_len_shape, size_of=lambda s: s[0] if s[1] == 1 else s[1],
    np=lambda v: np.array([[float(v.size)]]),
    probes=(("grad", "norm(x)**2/len(x)", "x", None),))

ROWS = SizeFunction(
    names=("rows",), meaning="the number of rows of a matrix, as a scalar (of a vector: its length)",
    shape=_any_shape, size_of=lambda s: s[0],
    np=lambda X: np.array([[float(X.shape[0])]]),
    probes=(("grad", "norm(X*w - y)**2/rows(X)", "w", None),))

COLS = SizeFunction(
    names=("cols",), meaning="the number of columns of a matrix, as a scalar (of a column vector: 1)",
    shape=_any_shape, size_of=lambda s: s[1],
    np=lambda X: np.array([[float(X.shape[1])]]),
    probes=(("grad", "tr(Q*K')/sqrt(cols(Q))", "Q", None),))
