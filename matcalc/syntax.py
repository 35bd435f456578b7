"""Lexer and parser for the matcalc expression language (../shared/design/language.md).

A hand-written Pratt parser: the grammar is one small operator table, a
parsing library would add a dependency without making it shorter, and a
hand-written parser gives exact spans and error messages at every token.
The parser only builds a syntax tree; it never evaluates user text.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import LimitError, ParseError
from .record import record

MAX_LENGTH = 100_000   # characters in one expression
MAX_DEPTH = 200        # nesting of parentheses, calls and operators

# ---------------------------------------------------------------- syntax tree


@record(frozen=True)
class Num:
    value: Fraction
    span: tuple[int, int]


@record(frozen=True)
class Name:
    id: str
    span: tuple[int, int]


@record(frozen=True)
class Unary:
    op: str
    operand: object
    span: tuple[int, int]
    op_span: tuple[int, int]


@record(frozen=True)
class Binary:
    op: str
    left: object
    right: object
    span: tuple[int, int]
    op_span: tuple[int, int]


@record(frozen=True)
class Postfix:
    op: str            # always "'": transpose
    operand: object
    span: tuple[int, int]
    op_span: tuple[int, int]


@record(frozen=True)
class Call:
    func: str
    args: tuple
    span: tuple[int, int]
    name_span: tuple[int, int]


# ---------------------------------------------------------------- lexer


@record(frozen=True)
class Token:
    kind: str          # num, name, op, (, ), ",", eof
    text: str
    span: tuple[int, int]


# Longest operators first. Unicode spellings map onto the ASCII ones.
_OPERATORS = ["**", ".*", "./", ".^", ".T", "+", "-", "*", "@", "/", "^", "'", "⊙", "−", "ᵀ", "·", "⊗"]
_CANONICAL = {"⊙": ".*", "−": "-", "ᵀ": "'", ".T": "'", "·": "*"}
_NUMBER = re.compile(r"(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        m = _NUMBER.match(text, i)
        if m and not (c == "." and tokens and tokens[-1].kind in ("name", "num", ")")):
            # "x.5" is not a number after an operand; let the operator branch complain.
            tokens.append(Token("num", m.group(), m.span()))
            i = m.end()
            continue
        m = _NAME.match(text, i)
        if m:
            tokens.append(Token("name", m.group(), m.span()))
            i = m.end()
            continue
        if c in "(),":
            tokens.append(Token(c, c, (i, i + 1)))
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op == ".T" and re.match(r"[A-Za-z0-9_]", text[i + 2:i + 3]):
            op = None   # ".Tx" is not a transpose
        if op is not None:
            tokens.append(Token("op", _CANONICAL.get(op, op), (i, i + len(op))))
            i += len(op)
            continue
        if c == "_":
            raise ParseError("a name must start with a letter", (i, i + 1),
                             hint="names are letters, digits and underscores, starting with a letter")
        if c == ".":
            raise ParseError("unexpected '.'", (i, i + 1),
                             hint="elementwise operators are .* ./ .^ and .T is the transpose")
        raise ParseError(f"unexpected character {c!r}", (i, i + 1),
                         hint=_char_hint(c))
    tokens.append(Token("eof", "", (n, n)))
    return tokens


def _char_hint(c: str) -> str | None:
    return {
        "[": "matrices are named, not written out: use a name such as A",
        "=": "an expression has no assignments or comparisons",
        "!": "an expression has no assignments or comparisons",
        "<": "an expression has no assignments or comparisons",
        ">": "an expression has no assignments or comparisons",
        "|": "write norm(x) for ‖x‖",
        '"': "strings are not part of the language",
        ":": "an expression has no slices, lambdas or declarations: declare kinds with --let NAME:KIND",
        "×": "use * for the matrix product",
        "{": "braces are LaTeX: group with parentheses, x^(2) or (a + b)/2",
        "∘": "use .* for the elementwise product",
        "Σ": "write sum(x) for a sum of entries",
        "∑": "write sum(x) for a sum of entries",
        "√": "write sqrt(x)",
    }.get(c)


# Habits from NumPy, PyTorch, MATLAB, LaTeX and matcalc's own printed output: (pattern in the text,
# the matcalc spelling, or a function of the match giving it). The first that matches gives the hint
# of a syntax error or an unknown function.
_MODULE_CALLS = {"trace": "tr(A)", "matmul": "A*B", "dot": "x'*y", "inner": "x'*y", "outer": "x*y'",
                 "transpose": "A'", "multiply": "a.*b", "divide": "a./b", "power": "a.^p", "slogdet": "logdet(A)",
                 "mm": "A*B", "mv": "A*x", "t": "A'"}
_PRINTED = {"ᵀ": "xᵀAx is x'*A*x", "⁻": "A⁻¹ is inv(A)", "¹": "A⁻¹ is inv(A)", "²": "norm(x)² is norm(x)**2 (elementwise: x.^2)",
            "‖": "‖x‖² is norm(x)**2", "𝟏": "𝟏 is ones(n)"}


def _printed(m) -> str:
    text = m.string
    parts = dict.fromkeys(v for k, v in _PRINTED.items() if k in text and not (k == "²" and "‖" in text))
    return "matcalc prints results in math notation but reads its own syntax: " + "; ".join(parts)


HABITS = [
    (r"[ᵀ⁻¹²‖𝟏]", _printed),
    (r"\\(top|intercal|mathsf\{T\}|T\b)", "write x' for the transpose x^\\top"),
    (r"\\(frac|cdot|times|mathbf|boldsymbol|operatorname|mathrm|sqrt|log|exp|sum|left|right|\||odot|tr\b|det\b)",
     "matcalc reads its own syntax, not LaTeX: \\frac{a}{b} is a/b, \\cdot is *, \\odot is .*, "
     "\\|x\\| is norm(x), \\mathbf{A} is A, \\sqrt{x} is sqrt(x)"),
    (r"[\w)']\s*\\", "there is no backslash solve: write inv(A)*b for A\\b"),
    (r"norm\s*\([^()]*,\s*['\"]fro", "norm(X) of a matrix is already the Frobenius norm: drop 'fro'"),
    (r"\b(np|numpy|torch|jnp|jax|math|scipy|F|tf)\s*\.(?:\s*\w+\s*\.)*\s*(\w+)\s*\(",
     lambda m: f"matcalc's functions have no module: write {_MODULE_CALLS.get(m[2], m[2] + '(…)')}, "
               f"not {m[0]}…) (matcalc functions lists the functions)"),
    (r"\.\s*(t|T|transpose|permute)\s*\(", "write A' (or A.T) for the transpose"),
    (r"\.\s*'", "A' is the transpose (there is no conjugate: .' is not needed)"),
    (r"\.\s*(dot|matmul|mm|mv)\s*\(", "write x'*y (or dot(x, y)) for the inner product, A*B for the "
                                       "matrix product"),
    (r"\.\s*(pow|square)\s*\(", "write x.^p for the elementwise power"),
    (r"(\w+)\s*\.\s*(sum|mean|norm|exp|log|abs|sqrt|sigmoid|tanh|relu|softmax)\s*\(",
     lambda m: f"matcalc has functions, not methods: write {m[2]}({m[1]}), not {m[1]}.{m[2]}()"),
    (r"\b(dim|axis|keepdims|keepdim|ord)\s*=", "matcalc's functions take no keyword arguments: "
                                              "softmax(z) and sum(x) work on the whole vector"),
    (r"(?<![\w.])sigma\s*\(", "write sigmoid(x) for the logistic function σ(x)"),
    (r"(?<![\w.])[A-Za-z]\w?\s*\(\s*(\d+|:)\s*(,\s*(\d+|:)\s*)?\)",
     "matcalc has no indexing: it differentiates whole vectors and matrices (one entry of x is e'*x, "
     "with a vector e)"),
]


def habit_hint(text: str) -> str | None:
    """The matcalc spelling of a habit from another notation found in `text`, or None."""
    for pattern, message in HABITS:
        m = re.search(pattern, text)
        if m:
            return message(m) if callable(message) else message
    return None


# ---------------------------------------------------------------- parser

_INFIX = {  # operator -> (left binding power, right binding power)
    "+": (10, 11), "-": (10, 11),
    "*": (20, 21), "@": (20, 21), "/": (20, 21), ".*": (20, 21), "./": (20, 21),
    "**": (40, 39), "^": (40, 39), ".^": (40, 39),   # right-associative
    "⊗": (15, 16),      # looser than a product, as printed: A ⊗ B*C is kron(A, B*C)
}
_CALLS = {"⊗": "kron"}     # operators that spell a function: A ⊗ B is the call kron(A, B)
_PREFIX_BP = 30        # -a binds looser than a power: -x**2 is -(x**2)
_POSTFIX_BP = 50       # a' binds tightest


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        t = self.tokens[self.pos]
        self.pos += 1
        return t

    def parse(self):
        if self.tok.kind == "eof":
            raise ParseError("empty expression", (0, 0), hint='try for example "norm(A*x - b)**2"')
        node = self.expression(0)
        t = self.tok
        if t.kind == ")":
            raise ParseError("unmatched ')'", t.span, hint="remove it or add a '(' before it")
        if t.kind != "eof":
            raise ParseError(f"expected an operator before {_describe(t)}", t.span,
                             hint=_juxtaposition_hint(node, t, self.text))
        return node

    def expression(self, min_bp: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LimitError(f"the expression nests deeper than {MAX_DEPTH} levels", self.tok.span)
        left = self.operand()
        while True:
            t = self.tok
            if t.kind != "op":
                break
            if t.text == "'":
                if _POSTFIX_BP < min_bp:
                    break
                self.advance()
                left = Postfix("'", left, (left.span[0], t.span[1]), t.span)
                continue
            if t.text not in _INFIX:
                break
            lbp, rbp = _INFIX[t.text]
            if lbp < min_bp:
                break
            self.advance()
            if t.text in ("^", "**") and self.tok.kind == "name" and self.tok.text == "T" \
                    and self.tokens[self.pos + 1].kind != "(":
                end = self.advance().span[1]           # a^T is the transpose
                left = Postfix("'", left, (left.span[0], end), (t.span[0], end))
                continue
            right = self.expression(rbp)
            if t.text in _CALLS:
                left = Call(_CALLS[t.text], (left, right), (left.span[0], right.span[1]), t.span)
                continue
            left = Binary(t.text, left, right, (left.span[0], right.span[1]), t.span)
        self.depth -= 1
        return left

    def operand(self):
        t = self.advance()
        if t.kind == "num":
            exponent = t.text.lower().partition("e")[2]
            if len(t.text) > 400 or exponent and abs(int(exponent)) > 400:
                # Fraction("1e99999999") computes 10^99999999 exactly: minutes (issue 7)
                raise LimitError(f"the number {t.text[:20]}{'...' if len(t.text) > 20 else ''} is out of range",
                                 t.span, hint="numbers are at most about 1e300 in size")
            return Num(Fraction(t.text), t.span)
        if t.kind == "name":
            if self.tok.kind == "(":
                return self.call(t)
            return Name(t.text, t.span)
        if t.kind == "(":
            inner = self.expression(0)
            close = self.tok
            if close.kind != ")":
                if close.kind == "eof":
                    raise ParseError("unclosed parenthesis", t.span, hint="add a ')' to close it")
                raise ParseError(f"expected ')' but found {_describe(close)}", close.span)
            self.advance()
            return _regroup(inner, (t.span[0], close.span[1]))
        if t.kind == "op" and t.text in ("-", "+"):
            operand = self.expression(_PREFIX_BP)
            if t.text == "+":
                return _regroup(operand, (t.span[0], operand.span[1]))
            return Unary("-", operand, (t.span[0], operand.span[1]), t.span)
        if t.kind == "eof":
            prev = self.tokens[self.pos - 2] if self.pos >= 2 else None
            what = f"after {_describe(prev)}" if prev else "here"
            raise ParseError(f"expected an operand {what}", t.span,
                             hint="the expression ends too early")
        if t.kind == ")":
            raise ParseError("expected an operand before ')'", t.span)
        raise ParseError(f"expected an operand but found {_describe(t)}", t.span)

    def call(self, name: Token):
        open_ = self.advance()
        args = []
        if self.tok.kind != ")":
            while True:
                args.append(self.expression(0))
                if self.tok.kind == ",":
                    self.advance()
                    continue
                break
        close = self.tok
        if close.kind != ")":
            if close.kind == "eof":
                raise ParseError("unclosed parenthesis", open_.span, hint="add a ')' to close the call")
            raise ParseError(f"expected ',' or ')' in the call of {name.text} but found {_describe(close)}",
                             close.span)
        self.advance()
        return Call(name.text, tuple(args), (name.span[0], close.span[1]), name.span)


def _regroup(node, span):
    """Parentheses widen a node's span (for carets) without adding a node."""
    return type(node)(**{**node.__dict__, "span": span})


def _describe(t: Token | None) -> str:
    if t is None or t.kind == "eof":
        return "the end"
    if t.kind == "num":
        return f"number {t.text}"
    if t.kind == "name":
        return f"name {t.text!r}"
    return f"{t.text!r}"


def _juxtaposition_hint(left, t: Token, text: str) -> str | None:
    if t.kind in ("name", "num", "("):
        return f"write '*' for a product: {text[left.span[0]:left.span[1]]}*{t.text}..."
    return None


def parse_syntax(text: str):
    """Parse text into a syntax tree; raise ParseError with a span on bad input."""
    if not isinstance(text, str):
        raise ParseError("the expression must be text")
    if len(text) > MAX_LENGTH:
        raise LimitError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
                         (MAX_LENGTH, MAX_LENGTH + 1), source=text)
    try:
        return _Parser(text).parse()
    except ParseError as err:
        err.hint = habit_hint(text) or err.hint
        raise err.with_source(text)
    except LimitError as err:   # LimitError is no ParseError: it needs the source too
        raise err.with_source(text)
