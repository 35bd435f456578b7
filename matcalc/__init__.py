"""matcalc: symbolic matrix calculus in the terminal."""
from . import algebra  # noqa: F401  (the core ops register first)
from .ops import load as _load_ops

_load_ops()

__version__ = "0.1.0"
