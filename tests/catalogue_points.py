"""Shared by the output tests: the identity catalogue, its results, and domain-correct random points."""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import numpy as np

from matcalc import simplify
from matcalc.api import derivative
from matcalc.errors import MatcalcError
from matcalc.numeric import evaluate
from matcalc.shapes import size_names, size_value
from matcalc.verify import draw_sizes, draw_value

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=None)
def catalogue() -> tuple[dict, ...]:
    """Every identity of identities/*.toml (name, expr, wrt, op, expected, let, file)."""
    out = []
    for path in sorted((ROOT / "identities").glob("*.toml")):
        with open(path, "rb") as fh:
            for entry in tomllib.load(fh).get("identity", []):
                out.append(dict(entry, file=path.name, op=entry.get("op", "grad")))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def results() -> tuple[tuple[dict, object], ...]:
    """(entry, Result) for every identity matcalc derives; the ones it refuses are left out."""
    out = []
    for entry in catalogue():
        try:
            out.append((entry, derivative(entry["op"], entry["expr"], entry["wrt"], entry.get("let"))))
        except MatcalcError:
            continue
    return tuple(out)


def registry_ops() -> list:
    """Every function op of the language, from the registry (not a sugar such as dot)."""
    from matcalc.ops.base import FUNCTIONS
    from matcalc.ops.function import FunctionOp
    return sorted({op for op in FUNCTIONS.values() if isinstance(op, FunctionOp) and op.sugar is None},
                  key=lambda op: op.name)


def ids(pairs) -> list[str]:
    return [entry["name"] for entry, _ in pairs]


def point(result, seed: int = 0):
    """(sizes, values as 2-D arrays) drawn from each name's kind and domain, where the function and
    the result are finite."""
    rng = np.random.default_rng(seed)
    doms = simplify.domains(result.function.expr)
    symbols = result.symbols
    dims = {n for _, shape in symbols.values() for d in shape for n in size_names(d)}
    for attempt in range(60):
        if attempt % 12 == 0:
            sizes = draw_sizes(dims, rng)
        vals = {}
        for name, (kind, shape) in symbols.items():
            shp = tuple(size_value(d, sizes) for d in shape)
            vals[name] = rng.standard_normal(shp) if name == result.aux else \
                draw_value(kind, shp, doms.get(name, set()), rng)
        with np.errstate(all="ignore"):
            f = evaluate(result.function.expr, vals, sizes)
            d = evaluate(result.expr, vals, sizes)
        if np.all(np.isfinite(f)) and np.all(np.isfinite(d)):
            return sizes, vals
    raise AssertionError(f"no point where {result.function.source} and its {result.kind} are finite")


def rel_error(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-12))
