"""The fuzzing properties, shared by tests/test_fuzz.py (bounded) and tests/fuzz/long_run.py (long).

Each check returns an outcome word (counted by the long run) or raises AssertionError with a
reproducer. Anything that is not a MatcalcError escaping matcalc is a crash.
"""
from __future__ import annotations

from hypothesis import strategies as st

import matcalc
from matcalc.errors import LimitError, MatcalcError, UnsupportedError
from matcalc.ops.base import FUNCTIONS as REGISTERED
from matcalc.printing import latex, numpy_code, source, text

FUNCTIONS = sorted(REGISTERED) + ["eye", "ones"]      # every function name of the language
TOKENS = (
    ["x", "y", "z", "b", "A", "B", "X", "W", "S", "alpha", "beta", "lambda", "sigma", "I", "T", "n", "m",
     "y_hat", "W1", "Sigma", "x2"]
    + ["0", "1", "2", "3", "0.5", ".5", "1e3", "2E-2", "10", "1000000", "1e308", "1e-308", "007", "1.5e+3"]
    + ["+", "-", "*", "/", "^", "**", ".*", "./", ".^", "'", ".T", "@", "⊙", "−", "ᵀ", "·", "^T", "^-1"]
    + ["(", ")", "(", ")", ",", " "]
    + [f + "(" for f in FUNCTIONS]
    # hostile: Python, shell, format strings, other syntaxes
    + ["__import__", "('os')", ".system", "exec", "eval", "lambda:", "__class__", "x.__class__", "{0}", "%s",
       "$(", "`", ";", "&&", "|", "||", ">", "<", "=", "==", "!", "[", "]", "{", "}", ":", "#", "\\", "\"", "'",
       "\n", "\t", "\x00", "\x1b[2J", "‖", "×", "∑", "∂", "_", "..", "...", "e", "E", "x.y", "1.2.3"]
)


@st.composite
def token_sequences(draw, max_size=25):
    toks = draw(st.lists(st.sampled_from(TOKENS), max_size=max_size))
    seps = draw(st.lists(st.sampled_from(["", "", "", " "]), min_size=len(toks), max_size=len(toks)))
    return "".join(t + s for t, s in zip(toks, seps))


# ------------------------------------------------------------------ errors

def check_error(err: BaseException, src: str, need_span: bool = True) -> str:
    """A user-facing failure: a MatcalcError with a message, a span into the text, a rendering."""
    assert isinstance(err, MatcalcError), f"not a MatcalcError: {type(err).__name__}: {err} (input {src!r})"
    assert err.message, f"error without a message for {src!r}"
    if need_span:
        assert err.span is not None, f"error without a span: {err.message!r} (input {src!r})"
        start, end = err.span
        assert 0 <= start <= end, f"bad span {err.span} for {src!r}"
        if not isinstance(err, LimitError):
            assert end <= len(src) + 1, f"span {err.span} beyond the input {src!r}"
    rendered = err.render()
    assert err.message in rendered and isinstance(rendered, str)
    return type(err).__name__


def _dims(symbols) -> dict:
    dims = {}
    for name, sym in symbols.items():
        for axis, d in enumerate(sym.shape):
            if isinstance(d, str):
                dims.setdefault(d, f"{name}.shape[{axis if sym.shape[1] != 1 else 0}]")
    return dims


def check_printers(p) -> None:
    """Every printer prints a parsed expression (text, LaTeX, NumPy code, matcalc source)."""
    assert source(p.expr)
    assert text(p.expr, p.symbols) is not None
    assert latex(p.expr, "bold", p.symbols) is not None
    try:
        code = numpy_code(p.expr, _dims(p.symbols))
    except UnsupportedError as err:       # a size no variable has (eye(k) alone): refused, clearly
        assert "belongs to no variable" in err.message, err
        return
    compile(code, "<generated>", "eval")


# ------------------------------------------------------------------ properties

def check_text(src: str, let=None, wrt: str | None = None) -> str:
    """Arbitrary text: parses (and then round-trips) or fails with a MatcalcError with a span."""
    try:
        p = matcalc.parse(src, let)
    except Exception as err:  # noqa: BLE001  (the point: only MatcalcError may come out)
        return "refused:" + check_error(err, src)
    check_printers(p)
    s = source(p.expr)
    q = matcalc.parse(s, p.declarations())    # A^1 prints as A, which alone no longer says A is square
    assert q.expr is p.expr, f"round trip: {src!r} -> {s!r} -> {source(q.expr)!r}"
    if wrt is None:
        return "parsed"
    try:
        r = matcalc.grad(src, wrt, let)
    except Exception as err:  # noqa: BLE001
        return "grad-refused:" + check_error(err, src, need_span=False)
    assert r.text is not None and r.latex is not None and r.source
    return "grad"


def check_round_trip(src: str, let) -> str:
    """A well-formed expression: parses, prints, parses back to the very same graph."""
    try:
        p = matcalc.parse(src, let)
    except MatcalcError as err:
        raise AssertionError(f"a well-formed expression was refused: {src!r} let={let}\n{err}") from None
    check_printers(p)
    s = source(p.expr)
    try:
        q = matcalc.parse(s, p.declarations())
    except MatcalcError as err:
        raise AssertionError(f"source() printed what does not parse: {src!r} -> {s!r}\n{err}") from None
    assert q.expr is p.expr, (f"round trip changed the graph: {src!r} let={let}\n  source:   {s}\n"
                              f"  re-read:  {source(q.expr)}")
    return "round-trip"


FINITE = "no point found where the function is finite"


def fd_oracle(r, wrt: str, points: int = 3) -> float | None:
    """An independent second opinion on a gradient the verifier rejected.

    At a few random points (drawn as the verifier draws them) and random directions, compare
    <g, v> with central differences of f at steps 1e-2 ... 1e-7 and keep the best step: for a
    differentiable function the differences converge to the derivative as the step shrinks, so a
    right gradient agrees closely at some step even where the verifier's fixed step does not
    (fast oscillation, a steep power, a function constant in the variable whose gradient is 0 up
    to rounding). Returns the worst over the points of the best relative error, None when no
    point is finite.
    """
    import numpy as np

    from matcalc import simplify, verify
    from matcalc.algebra import graph_size_names
    from matcalc.numeric import evaluate

    f_expr, g_expr = r.function.expr, r.expr
    typed = r.function.typed            # the function as typed, not the engine's graph of it
    dims = {d for _, shape in r.symbols.values() for d in shape if isinstance(d, str)}
    dims |= graph_size_names(f_expr) | graph_size_names(g_expr)
    doms = simplify.domains(f_expr)
    worst, seen = 0.0, 0
    with np.errstate(all="ignore"):
        for seed in range(3 * points):
            if seen == points:
                break
            rng = np.random.default_rng(1000 + seed)
            sizes = {d: int(rng.integers(2, 6)) for d in sorted(dims)}
            vals = {n: verify.draw_value(k, tuple(sizes.get(d, d) for d in shape), doms.get(n, set()), rng)
                    for n, (k, shape) in r.symbols.items()}
            x = vals[wrt]

            def f(xx):
                return float(typed.at({**vals, wrt: xx}, sizes)[0, 0])

            g = evaluate(g_expr, vals, sizes)
            fx = f(x)
            if not (np.isfinite(fx) and np.all(np.isfinite(g))):
                continue
            seen += 1
            for _ in range(2):
                v = rng.standard_normal(x.shape)
                gv = float(np.sum(g * v))
                best = np.inf
                for t in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
                    fd = (f(x + t * v) - f(x - t * v)) / (2 * t)
                    if np.isfinite(fd):
                        floor = 1e-9 * max(1.0, abs(fx))      # rounding of f, for a gradient that is 0
                        best = min(best, abs(fd - gv) / max(abs(fd), abs(gv), floor))
                worst = max(worst, best)
    return worst if seen else None


ORACLE_TOLERANCE = 1e-5


def check_gradient(src: str, let, wrt: str, record=None) -> str:
    """grad verifies numerically, or is refused with a MatcalcError; never wrong.

    When the verifier rejects a gradient, `fd_oracle` takes a second look with several steps:
    "fd-step" when it agrees (the verifier's fixed step was the trouble; recorded for review by
    the long run), "inconclusive" when there is no point where the function is finite, and a
    failure with a reproducer otherwise.
    """
    r, report, outcome = _derive_and_verify("grad", src, let, wrt)
    if outcome:
        return outcome
    second = fd_oracle(r, wrt)
    if second is None:
        return "inconclusive"
    if second > ORACLE_TOLERANCE:
        raise AssertionError(f"WRONG gradient?  matcalc grad {src!r} {wrt} --let {_let(let)}\n"
                             f"  result: {r.text}\n  {report.summary()}\n  best relative error over "
                             f"steps 1e-2..1e-7: {second:.1e}")
    if record is not None:
        record.append(("fd-step", src, let, wrt, r.text, report.summary(), second))
    return "fd-step"


def _derive_and_verify(kind: str, src: str, let, wrt: str):
    """(result, report, outcome): the outcome is set ("refused:…", "verified", "inconclusive") when
    there is nothing more to look at; a crash of the derivation or the verifier fails the property."""
    try:
        r = matcalc.derivative(kind, src, wrt, let)
    except Exception as err:  # noqa: BLE001  (the point: only MatcalcError may come out)
        return None, None, "refused:" + check_error(err, src, need_span=False)
    assert r.text is not None and r.source
    try:
        report = r.verify()
    except Exception as err:  # noqa: BLE001
        raise AssertionError(f"verify crashed: {kind} {src!r} {wrt} let={let}: {type(err).__name__}: {err}") \
            from None
    if report.passed:
        return r, report, "verified"
    if report.inconclusive:
        return r, report, "inconclusive"
    return r, report, None


def check_canonical_form(src: str, let, points: int = 6, seed: int = 0) -> str:
    """The differential property of the rewrites: the canonical graph the constructors build has
    the value of the expression as typed (evaluated from the syntax tree, judge.py) at random
    points, negative entries included, wherever the typed expression is defined. The canonical
    form may be defined where the typed one is not (exp(log(x)) = x), never the other way."""
    from types import SimpleNamespace

    import numpy as np

    from matcalc import verify
    from matcalc.typecheck import typecheck

    try:
        t, = typecheck(src, let)
    except MatcalcError as err:
        return "refused:" + check_error(err, src, need_span=False)
    f = t.function
    rng = np.random.default_rng(seed)
    dims = {d for s in t.symbols.values() for d in s.shape if isinstance(d, str)}
    dims |= {d for shape in t.tree_shapes.values() for d in shape if isinstance(d, str)}
    defined = 0
    for _ in range(points):
        sizes = {d: int(rng.integers(1, 5)) for d in sorted(dims)}
        scale = float(rng.choice([0.3, 1.0, 3.0]))
        vals = {}
        for name, sym in t.symbols.items():
            shape = tuple(sizes.get(d, d) for d in sym.shape)
            v = verify.draw_value(sym.kind, shape, set(), rng)
            vals[name] = v * scale if sym.kind in ("scalar", "vector", "matrix") else v
        with np.errstate(all="ignore"):
            typed = f.at(vals, sizes)
            # near a singular matrix (a rank-2 product 4×4) rounding decides det's sign: skip such
            # points, as the verifier does
            if not np.all(np.isfinite(typed)) or not verify._well_conditioned(SimpleNamespace(f=f, sizes=sizes), vals):
                continue
            defined += 1
            canon = f.canonical_at(vals, sizes)
            mag = f.magnitude(vals, sizes)
        assert verify._same_value(typed, canon, mag), (
            f"canonical form differs: {src!r} let={let}\n  canonical: {source(t.expr)}\n"
            f"  typed {typed.reshape(-1)[:4]}  canonical {canon.reshape(-1)[:4]}  sizes {sizes}")
    return "agrees" if defined else "undefined"


def _let(let) -> str:
    return "'" + ",".join(f"{k}:{v}" for k, v in (let or {}).items()) + "'"


def check_cli(s: str, command: str) -> str:
    """The CLI: exit 0 or 2, never a traceback or an internal error; a caret under a short fault."""
    from cli_runner import invoke
    args = [command, s] + (["x", "--no-verify"] if command == "grad" else []) + ["--plain"]
    r = invoke(args)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "internal error" not in out, (args, out)
    assert r.exit_code in (0, 2), (args, r.exit_code, out, r.exception)
    if r.exit_code == 2:
        assert r.stderr.strip(), (args, "exit 2 without a message")
        assert r.stdout == "", (args, "a failure printed on stdout", r.stdout)
        try:
            matcalc.parse(s)
        except MatcalcError as err:
            if err.span is not None and not s.startswith("-"):
                assert "^" in r.stderr, (args, "no caret", r.stderr)
    return f"exit {r.exit_code}"


def check_derivative(kind: str, src: str, let, wrt: str, record=None) -> str:
    """jacobian / hessian / vjp / jvp: a result or a MatcalcError, never a crash.

    A verification failure is recorded for review (there is no second opinion for these kinds).
    """
    r, report, outcome = _derive_and_verify(kind, src, let, wrt)
    if outcome:
        return outcome
    if record is not None:
        record.append((kind + " not verified", src, let, wrt, r.text, report.summary()))
    return "not verified"
