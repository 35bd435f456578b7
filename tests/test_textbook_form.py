"""Printed as a textbook prints it (issue 17): no non-trivial subexpression printed twice."""
from __future__ import annotations

import os
import re
import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

import matcalc
from matcalc import printing
from matcalc.errors import MatcalcError

from catalogue_points import results

sys.path.insert(0, os.path.dirname(__file__))
from fuzz.grammar import SCALAR, expressions  # noqa: E402



class _Recording(printing.TextPrinter):
    """The text printer, noting every non-trivial subexpression it prints in full (not by name)."""

    def __init__(self, reserved=()):
        super().__init__(reserved)
        self.printed: list[str] = []

    def render(self, e):
        s, own = super().render(e)
        if not printing.trivial(e):
            self.printed.append(s)
        return s, own


def repeated(expr, reserved=()) -> list[str]:
    """The non-trivial subexpressions printed more than once in the text of expr. A name's own
    decorations (Rᵀ, −R, M⁻¹) are the name, not a repeat."""
    pr = _Recording(reserved)
    pr.run(expr)
    names = set(pr.names.values())
    decorated = re.compile(r"^−?(.+?)[ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰]*$")
    return [s for s, n in Counter(pr.printed).items()
            if n > 1 and decorated.match(s).group(1) not in names]


def test_the_recording_sees_a_repeat():
    from matcalc import algebra as alg
    W, x = alg.sym("W", ("n", "n")), alg.sym("x", ("n", 1))
    h = alg.call("sigmoid", alg.mul(W, x))
    e = alg.had(h, alg.sub(alg.ones(h.shape), h))
    assert repeated(e) == []
    pr = _Recording()
    pr.share = False
    pr.run(e)
    assert Counter(pr.printed)["σ(Wx)"] == 2        # unnamed, it would be printed twice


def test_no_catalogue_result_prints_a_subexpression_twice():
    bad = [(entry["name"], r.text, rep) for entry, r in results() if (rep := repeated(r.expr, r.symbols))]
    assert not bad, "\n".join(f"{n}: {t}\n   repeats {rep}" for n, t, rep in bad)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(expressions(shape=SCALAR, max_depth=4))
def test_no_fuzzed_gradient_prints_a_subexpression_twice(ex):
    src, let, _ = ex
    for wrt in sorted(let):
        try:
            r = matcalc.derivative("grad", src, wrt, let)
        except MatcalcError:
            continue
        assert not repeated(r.expr, r.symbols), (src, wrt, r.text)


@pytest.mark.parametrize(("name", "text", "defs"), [
    ("layers", "(h ⊙ (𝟏 − h) ⊙ (W₂ᵀ(𝟏 − tanh(W₂h)²)))xᵀ", "h = σ(W₁x)"),
])
def test_names_read_like_a_textbook(name, text, defs):
    r = matcalc.grad("sum(tanh(W2*sigmoid(W1*x)))", "W1")
    assert r.text == f"{text}  where {defs}"


def test_a_residual_and_a_layer_are_named_once_with_capitals_for_matrices():
    r = matcalc.grad("norm(X - W'*sigmoid(W*X))**2", "W")
    main, defs = r.text.split("  where ")
    assert defs == "H = σ(WX), R = X − WᵀH"
    assert "σ" not in main and "Rᵀ" in main and "WR" in main
    assert r.verify().status == "passed"


def test_an_inverse_is_named_through_its_argument():
    r = matcalc.grad("x'*inv(lambda*eye(n) + A)*x", "A")
    assert r.text == "−M⁻ᵀxxᵀM⁻ᵀ  where M = λI + A"
    assert r"\mathbf{M}^{-\top}" in r.latex
    assert "M = " not in r.numpy and "inv" in r.numpy       # code computes it once, as (name := ...)
