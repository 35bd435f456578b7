"""The expression language: parse tables (input -> canonical form) and error tables (message, caret column)."""
import pytest

import matcalc
from matcalc.errors import MatcalcError, ParseError, ShapeError, UnsupportedError

# input -> canonical matcalc source (the graph, printed back in matcalc syntax)
PARSES = [
    ("norm(A*x - b)**2", "norm(A*x - b)^2"),
    ("x'*A*x", "x'*A*x"),
    ("x.T @ A @ x", "x'*A*x"),
    ("x^T*A*x", "x'*A*x"),
    ("transpose(x)*A*x", "x'*A*x"),
    ("dot(a, b)", "a'*b"),
    ("A^-1", "inv(A)"),
    ("inv(A')", "inv(A)'"),
    ("inv(inv(A))", "A"),
    ("(A*B)'", "B'*A'"),
    ("A''", "A"),
    ("-alpha**2", "-alpha^2"),
    ("2*x - 3*x", "-x"),
    ("x + x", "2*x"),
    ("a .* b", "a.*b"),
    ("a ⊙ b", "a.*b"),
    ("a − b", "a - b"),
    ("a ./ b", "a./b"),
    ("x.^2", "x.^2"),
    ("x .* x", "x.^2"),
    ("A*B + C", "A*B + C"),
    ("b + W*x", "W*x + b"),
    ("A' + A", "A + A'"),
    ("ones(n) - tanh(x).^2", "ones(n) - tanh(x).^2"),
    ("alpha*x", "alpha*x"),
    ("x/alpha", "x/alpha"),
    ("tr(X)", "tr(X)"),
    ("trace(X')", "tr(X)"),
    ("log(det(X))", "logdet(X)"),
    ("log(exp(x))", "x"),
    ("I*A", "A"),
    ("A*eye(n)", "A"),
    ("ones(n) - sigmoid(z)", "ones(n) - sigmoid(z)"),
    ("A^2", "A^2"),
    ("A*A", "A^2"),
    ("A^0 - B", "eye(n) - B"),
    ("softmax(z)", "softmax(z)"),
    ("cross_entropy(W*x, y)", "cross_entropy(W*x, y)"),
    ("logsumexp(z) + 0", "logsumexp(z)"),
    ("diag(diag(x))", "x"),
    ("1/2*x'*x", "(x'*x)/2"),
]


@pytest.mark.parametrize("text,canonical", PARSES)
def test_parse_canonical(text, canonical):
    assert matcalc.parse(text).canonical == canonical


@pytest.mark.parametrize("text,_", PARSES)
def test_canonical_form_parses_back_to_the_same_graph(text, _):
    p = matcalc.parse(text)
    assert matcalc.parse(p.canonical, p.declarations()).expr is p.expr


# input -> (error class, message fragment, caret column)
ERRORS = [
    ("", ParseError, "empty expression", 0),
    ("(a + b", ParseError, "unclosed parenthesis", 0),
    ("a + b)", ParseError, "unmatched ')'", 5),
    ("a +", ParseError, "expected an operand after '+'", 3),
    ("a * * b", ParseError, "expected an operand but found '*'", 4),
    ("foo(x)", ParseError, "unknown function 'foo'", 0),
    ("a $ b", ParseError, "unexpected character '$'", 2),
    ("tr(A, B)", ParseError, "tr takes 1 argument, got 2", 0),
    ("cross_entropy(z)", ParseError, "cross_entropy takes 2 arguments, got 1", 0),
    ("tr(x)", ShapeError, "tr needs a square matrix, got a vector of size n", 0),
    ("det(A*x)", ShapeError, "det needs a square matrix", 0),
    ("A + x", ShapeError, "cannot add A (m×n) and x", 2),
    ("x*x", ShapeError, "both are column vectors", 1),
    ("x + 1", ShapeError, "a scalar and a vector or matrix", 2),
    ("A/B", ShapeError, "'/' divides by a scalar only", 1),
    ("x**2", ShapeError, "cannot raise the vector x (n) to a power", 1),
    ("2x", ParseError, "expected an operator before name 'x'", 1),
    ("x^y", UnsupportedError, "must be a number", 2),
    ("A^0.5", UnsupportedError, "whole number", 2),
    ("logsumexp(alpha)", ShapeError, "logsumexp needs a column vector or a matrix", 0),
    ("sigmoid(x) + softmax(x')", ShapeError, "softmax needs a column vector", 13),
    ("x.__class__", ParseError, "unexpected '.'", 1),
    ("__import__('os')", ParseError, "a name must start with a letter", 0),
]


@pytest.mark.parametrize("text,cls,message,column", ERRORS)
def test_errors_have_a_message_and_a_caret(text, cls, message, column):
    with pytest.raises(cls) as info:
        matcalc.parse(text)
    err = info.value
    assert message in err.message
    assert err.column == column
    rendered = err.render()
    if text:
        lines = rendered.splitlines()
        assert lines[0].strip() == text.strip()
        assert lines[1].index("^") - 2 == column


def test_non_square_product_declared_sizes():
    with pytest.raises(ShapeError) as info:
        matcalc.parse("det(A*B)", let={"A": "matrix(m,n)", "B": "matrix(n,k)"})
    assert "det needs a square matrix, got an m×k matrix" in info.value.message


def test_all_errors_are_matcalc_errors():
    for text, cls, _, _ in ERRORS:
        assert issubclass(cls, MatcalcError)


@pytest.mark.parametrize("text,hint", [
    ("norm(X*beta - y)**2", "beta is a scalar (Greek names are, unless declared): --let beta:vector"),
    ("(x - mu)'*S*(x - mu)", "mu is a scalar"),
    ("norm(x, 1)", "the 1-norm is norm1(v)"),
])
def test_hints_name_the_likely_fault(text, hint):
    with pytest.raises(MatcalcError) as info:
        matcalc.parse(text)
    assert hint in info.value.hint


def test_a_greek_name_not_at_fault_is_not_blamed():
    with pytest.raises(ShapeError) as info:
        matcalc.parse("alpha*x - x*x")
    assert "alpha" not in info.value.hint
