"""matcalc: symbolic matrix calculus in the terminal.

    >>> import matcalc
    >>> matcalc.grad("norm(A*x - b)**2", "x").text
    '2Aᵀ(Ax − b)'

Importing the package registers the ops; the API (parser, engine, printers) loads when one of its
names is first used, so that `matcalc --version` and `--help` do not load it.
"""
from . import algebra  # noqa: F401  (the core ops register first)
from .ops import load as _load_ops

_load_ops()

__version__ = "0.1.0"
__all__ = ["parse", "grad", "jacobian", "hessian", "vjp", "jvp", "hvp", "derivative", "Parsed", "Result",
           "MatcalcError", "ParseError", "ShapeError", "UnsupportedError", "LimitError"]
_ERRORS = ("MatcalcError", "ParseError", "ShapeError", "UnsupportedError", "LimitError")


def __getattr__(name):          # PEP 562: called only for names not yet in the module
    if name not in __all__:
        raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
    from . import api, errors
    value = getattr(errors if name in _ERRORS else api, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
