"""Kinds and shapes: defaults by name, declarations, inference by unification."""
import pytest

import matcalc
from matcalc.errors import MatcalcError
from matcalc.shapes import fmt_shape


def shapes(text, let=None):
    p = matcalc.parse(text, let)
    return {n: (s.kind, fmt_shape(s.shape)) for n, s in p.symbols.items()}, fmt_shape(p.shape)


CASES = [
    ("A*x - b", None, {"A": ("matrix", "m×n"), "x": ("vector", "n"), "b": ("vector", "m")}, "m"),
    ("A*x + x", None, {"A": ("matrix", "n×n"), "x": ("vector", "n")}, "n"),
    ("x'*x", None, {"x": ("vector", "n")}, "scalar"),
    ("x'*A*x", None, {"x": ("vector", "n"), "A": ("matrix", "n×n")}, "scalar"),
    ("alpha*x + beta*y", None, {"alpha": ("scalar", "scalar"), "x": ("vector", "n"),
                                "beta": ("scalar", "scalar"), "y": ("vector", "n")}, "n"),
    ("Sigma*x", None, {"Sigma": ("matrix", "m×n"), "x": ("vector", "n")}, "m"),
    ("tr(A*X*B)", None, {"A": ("matrix", "m×n"), "X": ("matrix", "n×k"), "B": ("matrix", "k×m")}, "scalar"),
    ("S*x", {"S": "spd"}, {"S": ("spd", "n×n"), "x": ("vector", "n")}, "n"),
    ("t*x", {"t": "scalar"}, {"t": ("scalar", "scalar"), "x": ("vector", "n")}, "n"),
    ("A*x", {"A": "matrix(p,q)"}, {"A": ("matrix", "p×q"), "x": ("vector", "q")}, "p"),
    ("A*x", {"A": "matrix(3,4)"}, {"A": ("matrix", "3×4"), "x": ("vector", "4")}, "3"),
    ("x*y'", None, {"x": ("vector", "m"), "y": ("vector", "n")}, "m×n"),
    ("ones(n)'*x", None, {"x": ("vector", "n")}, "scalar"),
    ("W2*tanh(W1*x)", None, {"W2": ("matrix", "m×n"), "W1": ("matrix", "n×k"), "x": ("vector", "k")}, "m"),
]


@pytest.mark.parametrize("text,let,names,shape", CASES)
def test_shapes(text, let, names, shape):
    assert shapes(text, let) == (names, shape)


def test_let_strings_as_on_the_command_line():
    from matcalc.typecheck import parse_lets
    decls = parse_lets(["S:spd,t:scalar", "A:matrix(m,n)"])
    assert decls["S"].kind == "spd" and decls["t"].kind == "scalar"
    assert decls["A"].sizes == ("m", "n")


@pytest.mark.parametrize("bad", ["S:posdef", "S", "A:matrix(m)", "A:vector(m,n)", "1x:scalar"])
def test_bad_declarations(bad):
    from matcalc.typecheck import parse_lets
    with pytest.raises(MatcalcError):
        parse_lets([bad])
