"""matcalc: symbolic matrix calculus in the terminal.

    >>> import matcalc
    >>> matcalc.grad("norm(A*x - b)**2", "x").text
    '2Aᵀ(Ax − b)'
"""
from . import algebra  # noqa: F401  (the core ops register first)
from .ops import load as _load_ops

_load_ops()

from .api import Parsed, Result, derivative, grad, hessian, hvp, jacobian, jvp, parse, vjp  # noqa: E402
from .errors import LimitError, MatcalcError, ParseError, ShapeError, UnsupportedError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["parse", "grad", "jacobian", "hessian", "vjp", "jvp", "hvp", "derivative", "Parsed", "Result",
           "MatcalcError", "ParseError", "ShapeError", "UnsupportedError", "LimitError"]
