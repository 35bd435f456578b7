"""LaTeX for papers: every catalogue result and input expression compiles with a real TeX engine, and
reads back to the same numbers (so no parenthesis is missing); pictures through latex → dvipng / dvisvgm."""
from __future__ import annotations

import re
import shutil
import struct
from fractions import Fraction

import numpy as np
import pytest
from cli_runner import invoke

import matcalc
from matcalc import algebra as alg
from matcalc.numeric import evaluate
from matcalc.ops.base import FUNCTIONS
from matcalc.output import RenderError, latex_equation, run_latex, tex_document
from matcalc.printing import LatexPrinter, latex_name, latex_parts, shared_names

from catalogue_points import ids, point, registry_ops, rel_error, results

HAVE_LATEX = shutil.which("latex") is not None
needs_latex = pytest.mark.skipif(not HAVE_LATEX, reason="TeX is not installed: no 'latex' program on PATH "
                                 "(apt-get install texlive-latex-base texlive-latex-recommended "
                                 "texlive-fonts-recommended dvipng dvisvgm)")
STYLES = ("bold", "plain")

# Names that stress latex_name: underscores, accents, digits, Greek, keywords.
TRICKY = [
    ("grad", "norm(y_hat - y_true)**2", "y_hat", None),
    ("grad", "x_'*A_1*x_ + a__b'*x_", "x_", None),
    ("grad", "x_ij'*W1_a*x_ij", "x_ij", None),
    ("grad", "logdet(Sigma_hat) + tr(Sigma_hat*S_bar)", "Sigma_hat", {"Sigma_hat": "spd", "S_bar": "spd"}),
    ("grad", "lambda2*norm(theta_0_1)**2 + lambda_*sum(w_tilde)", "theta_0_1",
     {"lambda2": "scalar", "lambda_": "scalar"}),
    ("grad", "epsilon*phi*norm(x)", "x", {"phi": "scalar"}),
    ("jacobian", "relu(W*x) + gelu(x) + abs(x) + sign(x) .* sqrt(x .* x)", "x", None),
    ("grad", "norm1(X) + norm(X)**2 + sum(X) + sum(x')", "X", None),
    ("hessian", "sum(softplus(X*w)) + 0.5*lambda*norm(w)**2", "w", None),
    ("grad", "norm(norm(x)*a - b) + abs(abs(sigma) - 1)*sum(sigmoid(x))", "x", None),
]


def tricky_results():
    return [matcalc.derivative(op, expr, wrt, let) for op, expr, wrt, let in TRICKY]


def probe_results():
    """The derivatives every op of the registry declares as its probes: each op is compiled and read back."""
    return [({"name": f"{op.name}:{p[1]}"}, matcalc.derivative(p[0], p[1], p[2], p[3]))
            for op in registry_ops() for p in op.probes]


def _formulas():
    """(label, LaTeX math) for every catalogue result and input, every op's probes, both styles, and every
    display equation."""
    out = []
    for entry, r in list(results()) + probe_results() + \
            [({"name": f"tricky-{i}"}, r) for i, r in enumerate(tricky_results())]:
        for style in STYLES:
            out.append((f"{entry['name']} result {style}", "$" + r.latex_of(style) + "$"))
            out.append((f"{entry['name']} input {style}", "$" + r.function.latex(style) + "$"))
            out.append((f"{entry['name']} equation {style}", latex_equation(r, style)))
    return out


def _compile(formulas, tmp_path):
    lines, where = [], {}
    for label, math in formulas:
        lines.append(f"% {label}")
        for piece in math.splitlines():
            lines.append(piece)
            where[len(lines)] = (label, math)
        lines.append("")
    body = "\n".join(lines)
    offset = tex_document("").splitlines().index(r"\begin{document}") + 1
    try:
        run_latex(tex_document(body), tmp_path, "catalogue")
    except RenderError as err:
        m = re.search(r"l\.(\d+)", str(err))
        culprit = where.get(int(m.group(1)) - offset) if m else None
        pytest.fail(f"{err.message}\nin {culprit}" if culprit else err.message)


@needs_latex
def test_every_catalogue_latex_compiles(tmp_path):
    formulas = _formulas()
    assert len(formulas) >= 6 * len(results())
    _compile(formulas, tmp_path)
    assert (tmp_path / "catalogue.dvi").stat().st_size > 0


@needs_latex
def test_a_broken_formula_is_reported_with_its_label(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="bad one"):
        _compile([("good", "$x$"), ("bad one", r"$\nosuchmacro x$"), ("fine", "$y$")], tmp_path)


# ----------------------------------------------------------------------------- notation

@pytest.mark.parametrize("op,expr,wrt,let,want", [
    ("grad", "norm(A*x - b)**2", "x", None, r"2\mathbf{A}^\top(\mathbf{A}\mathbf{x} - \mathbf{b})"),
    ("grad", "logdet(X)", "X", None, r"\mathbf{X}^{-\top}"),
    ("grad", "tr(A*X*B)", "X", None, r"\mathbf{A}^\top\mathbf{B}^\top"),
    ("grad", "norm(x)", "x", None, r"\frac{\mathbf{x}}{\|\mathbf{x}\|_2}"),
    ("jacobian", "softmax(z)", "z", None,
     r"\operatorname{diag}(\mathbf{s}) - \mathbf{s}\mathbf{s}^\top,\quad \text{where } "
     r"\mathbf{s} = \operatorname{softmax}(\mathbf{z})"),
    ("jacobian", "sigmoid(x)", "x", None,
     r"\operatorname{diag}(\sigma(\mathbf{x}) \odot (\mathbf{1} - \sigma(\mathbf{x})))"),
    ("grad", "sum(a ./ x)", "x", None, r"-\mathbf{a} \oslash \mathbf{x}^{\circ 2}"),
    ("grad", "lambda*norm(w)**2", "w", None, r"2\lambda\mathbf{w}"),
])
def test_textbook_notation(op, expr, wrt, let, want):
    assert matcalc.derivative(op, expr, wrt, let).latex == want


@pytest.mark.parametrize("expr,want", [
    ("norm(A*x - b)**2", r"\|\mathbf{A}\mathbf{x} - \mathbf{b}\|_2^{2}"),
    ("norm(X)**2", r"\|\mathbf{X}\|_F^{2}"),
    ("logdet(S) - tr(S*C)", r"\log\det(\mathbf{S}) - \operatorname{tr}(\mathbf{S}\mathbf{C})"),
    ("(x - mu)'*inv(Sigma)*(x - mu)",
     r"(\mathbf{x} - \boldsymbol{\mu})^\top\boldsymbol{\Sigma}^{-1}(\mathbf{x} - \boldsymbol{\mu})"),
    ("-(a'*x + b'*x)", r"-(\mathbf{b}^\top\mathbf{x} + \mathbf{a}^\top\mathbf{x})"),
    ("0.5*x'*S*x", r"\frac{1}{2}\mathbf{x}^\top\mathbf{S}\mathbf{x}"),
    ("sum(x .* log(x))", r"\mathbf{1}^\top(\mathbf{x} \odot \log(\mathbf{x}))"),
    ("sum(x)**2", r"(\mathbf{1}^\top\mathbf{x})^{2}"),
    ("X^2", r"\mathbf{X}^{2}"),
    ("(X')^2", r"(\mathbf{X}^\top)^{2}"),
    ("norm(x/norm(x) - y)", r"\left\|\frac{\mathbf{x}}{\|\mathbf{x}\|_2} - \mathbf{y}\right\|_2"),
])
def test_input_notation(expr, want):
    let = {"mu": "vector"} if "mu" in expr else None
    assert matcalc.parse(expr, let).latex() == want


def test_plain_style_has_no_bold_letters():
    r = matcalc.grad("norm(A*x - b)**2", "x")
    assert r.latex_of("plain") == r"2A^\top(Ax - b)"
    assert matcalc.grad("lambda*norm(w)**2", "w").latex_of("plain") == r"2\lambda w"


@pytest.mark.parametrize("name,shape,want", [
    ("x", ("n", 1), r"\mathbf{x}"),
    ("W1", ("m", "n"), r"\mathbf{W}_{1}"),
    ("W12", ("m", "n"), r"\mathbf{W}_{12}"),
    ("lambda", (1, 1), r"\lambda"),
    ("Sigma", ("n", "n"), r"\boldsymbol{\Sigma}"),
    ("epsilon", (1, 1), r"\varepsilon"),
    ("y_hat", ("n", 1), r"\hat{\mathbf{y}}"),
    ("y_true", ("n", 1), r"\mathbf{y}_{\mathrm{true}}"),
    ("x_i", ("n", 1), r"\mathbf{x}_{i}"),
    ("theta_0_1", ("n", 1), r"\boldsymbol{\theta}_{\mathrm{0\_1}}"),
    ("W1_a", ("m", "n"), r"\mathbf{W}_{1,a}"),
    ("x_", ("n", 1), r"\mathbf{x\_}"),
    ("a__b", (1, 1), r"\mathrm{a\_\_b}"),
    ("Xi", ("n", "n"), r"\mathbf{Xi}"),
    ("lr", (1, 1), r"\mathrm{lr}"),
    ("x", ("n", 1), "x"),
])
def test_latex_name(name, shape, want):
    style = "plain" if want == "x" else "bold"
    assert latex_name(name, shape, style) == want


# ----------------------------------------------------------------------------- reading LaTeX back

class _SizedLatexPrinter(LatexPrinter):
    """The LaTeX printer with the sizes of 1, 0 and I written next to them, so that the reader below can
    evaluate what it reads. Removing the size marks gives exactly the printer's output."""

    def filled(self, e):
        s, prec = super().filled(e)
        r, c = e.shape
        if e.op is alg.ZERO:
            return s + rf"\size{{{_mark(r)},{_mark(c)}}}", prec
        n = r if (e.op is alg.IDENTITY or c == 1) else c if r == 1 else None
        if n is not None:
            mark = rf"\size{{{_mark(n)}}}"
            return (s[:-len(r"^\top")] + mark + r"^\top" if s.endswith(r"^\top") else s + mark), prec
        one = r"\mathbf{1}"
        return rf"{one}\size{{{_mark(r)}}}{one}\size{{{_mark(c)}}}^\top", prec

    def function(self, e):
        s, prec = super().function(e)
        if e.op.sized:                  # K_{mn}: the sizes as numbers can be read
            s += rf"\size{{{','.join(_mark(d) for d in e.attrs)}}}"
        if e.op.name == "sum":          # 1^T x, x^T 1, 1^T X 1
            one, (r, c) = r"\mathbf{1}", e.args[0].shape
            if c != 1 and s.endswith(one):
                s = s + rf"\size{{{c}}}"
            if r != 1 and s.startswith(one + r"^\top"):
                s = one + rf"\size{{{r}}}" + s[len(one):]
        return s, prec


def _mark(d) -> str:
    """A size for a size mark: 3, n, or a product as m*n*n."""
    from matcalc.shapes import Product
    if not isinstance(d, Product):
        return str(d)
    return "*".join(([str(d.coeff)] if d.coeff != 1 else []) + [n for n, e in d.powers for _ in range(e)])


def _latex_heads() -> dict:
    """LaTeX head -> op name, from the registry: what each op's template writes before its argument
    (\\exp, ReLU for \\operatorname{ReLU}), and the full name a lettered op falls back to (sigmoid)."""
    heads = {"vec": None}
    for op in registry_ops():
        call = r"\left(" + ", ".join("{%d}" % i for i in range(op.arity[1])) + r"\right)"
        if isinstance(op.latex, str) and op.latex.endswith(call) and "{" not in op.latex[:-len(call)].replace("{{", ""):
            head = op.latex[:-len(call)].replace("{{", "{").replace("}}", "}")
            m = re.fullmatch(r"\\operatorname\{(\w+)\}", head)
            heads[m.group(1) if m else head] = op.name
        if op.letter:
            heads[op.names[0]] = op.name
        if callable(op.latex):      # \operatorname{layernorm}(x, ε): an optional argument, written by its name
            heads.setdefault(op.names[0], op.name)
    return heads


_FUNCTION_OPS = _latex_heads()
_TOKEN = re.compile(r"\\left\\\||\\right\\\||\\bigl\\\||\\bigr\\\||\\left\\lvert|\\right\\rvert|\\left[(\[]|\\right[)\]]|\\\||"
                    r"\\operatorname\{[A-Za-z0-9]+\}|\\mathbb\{I\}|\\size\{[0-9A-Za-z,*]+\}|\\[A-Za-z]+|"
                    r"[0-9]+|[A-Za-z]|[(){}\[\]^_+\-,>/]")


class _Reader:
    """Evaluates the LaTeX matcalc writes, reading it as a person would: juxtaposition is a product
    (matrix product, or scaling by a 1×1 factor), ⊙ and ⊘ join such products, + and - join those.
    A product of several factors next to ⊙ or ⊘ is refused as ambiguous."""

    def __init__(self, text, names, sizes):
        self.toks = []
        self.names = names
        pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        pos = 0
        while pos < len(text):
            if text[pos] == " ":
                pos += 1
                continue
            m = re.compile(pattern).match(text, pos) if names else None
            if m and m.group(0):
                self.toks.append(("name", m.group(0)))
                pos = m.end()
                continue
            m = _TOKEN.match(text, pos)
            assert m, f"cannot read {text[pos:pos + 30]!r} in {text!r}"
            self.toks.append(("tok", m.group(0)))
            pos = m.end()
        self.i = 0
        self.open = []          # the norm bars opened and not yet closed
        self.sizes = sizes
        self.text = text

    # -- token helpers
    def peek(self, k=0):
        j = self.i + k
        return self.toks[j][1] if j < len(self.toks) else None

    def take(self, want=None):
        tok = self.peek()
        assert want is None or tok == want, f"expected {want!r}, got {tok!r} at {self.i} in {self.text!r}"
        self.i += 1
        return tok

    def group(self):
        self.take("{")
        v = self.sum()
        self.take("}")
        return v

    # -- grammar
    def read(self):
        v = self.sum()
        assert self.peek() is None, f"unread {self.toks[self.i:]} in {self.text!r}"
        return v

    def sum(self):
        sign = -1.0 if self.peek() == "-" and self.take() else 1.0
        acc = sign * self.hadamard()
        while self.peek() in ("+", "-"):
            op = self.take()
            v = self.hadamard()
            assert v.shape == acc.shape, f"adding {acc.shape} and {v.shape} in {self.text!r}"
            acc = acc + v if op == "+" else acc - v
        return acc

    def hadamard(self):
        acc, n = self.kron()
        while self.peek() in (r"\odot", r"\oslash"):
            op = self.take()
            v, m = self.kron()
            assert n == 1 and m == 1, f"ambiguous: a product next to {op} in {self.text!r}"
            assert v.shape == acc.shape
            acc = acc * v if op == r"\odot" else acc / v
        return acc

    def kron(self):
        """A ⊗ B, left to right; its operands are products (matcalc brackets any that is not a factor
        or a number times one: 2I ⊗ A is (2I) ⊗ A)."""
        acc, n = self.product()
        while self.peek() == r"\otimes":
            self.take()
            v, m = self.product()
            acc, n = np.kron(acc, v), n + m
        return acc, n

    def product(self):
        acc, n = self.factor(), 1
        while self.peek() not in (None, "+", "-", "}", ")", r"\right)", "]", r"\right]", ",", r"\odot", r"\otimes",
                                  r"\oslash", r"\right\|", r"\bigr\|", r"\rvert", r"\right\rvert", ">") and \
                not (self.peek() == r"\|" and self.open and self.open[-1] == r"\|"):    # a closing \|
            v = self.factor()
            n += 1
            if acc.shape == (1, 1) or v.shape == (1, 1):
                acc = acc * v
            else:
                assert acc.shape[1] == v.shape[0], f"product of {acc.shape} and {v.shape} in {self.text!r}"
                acc = acc @ v
        return acc, n

    def factor(self):
        v = self.primary()
        while self.peek() == "^":
            self.take()
            if self.peek() == r"\top":
                self.take()
                v = v.T
                continue
            self.take("{")
            toks = []
            while self.peek() != "}":
                toks.append(self.take())
            self.take("}")
            sup = "".join(t if not t.startswith("\\") else t + " " for t in toks).strip()
            if sup == "-1":
                v = np.linalg.inv(v) if v.shape != (1, 1) else 1 / v
            elif sup == r"-\top":
                v = np.linalg.inv(v).T
            elif sup.startswith(r"\circ"):
                v = v ** float(Fraction(sup[len(r"\circ"):].strip()))
            else:
                k = Fraction(sup)
                v = v ** float(k) if v.shape == (1, 1) else np.linalg.matrix_power(v, int(k))
        return v

    def size_mark(self) -> list[int]:
        """The numbers of a size mark \\size{m,n*k}."""
        mark = self.take()
        return [int(np.prod([int(self.sizes.get(f, f)) for f in d.split("*")]))
                for d in mark[len(r"\size{"):-1].split(",")]

    def group_text(self):
        self.take("{")
        while self.take() != "}":
            pass

    def args(self):
        close = {"(": ")", r"\left(": r"\right)"}[self.take()]
        vals = [self.sum()]
        while self.peek() == ",":
            self.take()
            vals.append(self.sum())
        self.take(close)
        return vals

    def call(self, op, vals):
        return np.asarray(FUNCTIONS[op].np(*vals), dtype=float) if op else vals[0]

    def primary(self):
        kind, tok = self.toks[self.i]
        if kind == "name":
            self.take()
            return self.names[tok]
        self.take()
        if tok.isdigit():
            return np.array([[float(tok)]])
        if tok in self.sizes:           # a size as a number (n = len(x)), printed by its name
            return np.array([[float(self.sizes[tok])]])
        if tok in ("(", r"\left("):
            v = self.sum()
            self.take(")" if tok == "(" else r"\right)")
            return v
        if tok == r"\frac":
            num, den = self.group(), self.group()
            assert den.shape == (1, 1)
            return num / den
        if tok == r"\sqrt":
            return np.sqrt(self.group())
        if tok in (r"\|", r"\left\|", r"\bigl\|"):
            self.open.append(tok)
            v = self.sum()
            self.open.pop()
            self.take({r"\|": r"\|", r"\left\|": r"\right\|", r"\bigl\|": r"\bigr\|"}[tok])
            self.take("_")
            kind = self.take()
            return np.array([[np.abs(v).sum() if kind == "1" else np.linalg.norm(v)]])
        if tok in (r"\lvert", r"\left\lvert"):
            v = self.sum()
            self.take(r"\rvert" if tok == r"\lvert" else r"\right\rvert")
            return np.abs(v)
        if tok == r"\mathbb{I}":
            close = {"[": "]", r"\left[": r"\right]"}[self.take()]
            v = self.sum()
            self.take(">")
            self.take("0")
            self.take(close)
            return (v > 0).astype(float)
        if tok in (r"\mathbf", "I"):
            letter = "I" if tok == "I" else (self.take("{"), self.take(), self.take("}"))[1]
            dims = self.size_mark()
            return {"I": lambda: np.eye(dims[0]), "1": lambda: np.ones((dims[0], 1)),
                    "0": lambda: np.zeros(tuple(dims))}[letter]()
        if tok == "K" and self.peek() == "_":         # K_{mn}\size{m,n}: the commutation matrix
            self.take()
            self.group_text()
            return self.call("commutation", self.size_mark())
        if tok == r"\log" and self.peek() == r"\det":
            self.take()
            return self.call("logdet", self.args())
        if tok == r"\log" and self.peek() == r"\operatorname{softmax}":
            self.take()
            return self.call("log_softmax", self.args())
        key = tok[len(r"\operatorname{"):-1] if tok.startswith(r"\operatorname") else tok
        assert key in _FUNCTION_OPS, f"unknown {tok!r} in {self.text!r}"
        return self.call(_FUNCTION_OPS[key], self.args())


def _read_latex(e, style, symbols, vals, sizes):
    """Print e with size marks, check that without them it is the real output, and evaluate it."""
    pr = _SizedLatexPrinter(style, symbols)
    main = pr.run(e, shared_names(e, symbols))
    real_main, real_defs = latex_parts(e, style, symbols)
    unmark = lambda s: re.sub(r"\\size\{[^}]*\}", "", s)  # noqa: E731
    assert unmark(main) == real_main, (unmark(main), real_main)
    assert [(n, unmark(d)) for n, d in pr.defs] == real_defs
    names = {latex_name(n, shape, style): vals[n] for n, (_, shape) in symbols.items() if n in vals}
    for name, body in pr.defs:          # definitions come before their first use, inner ones first
        names[name] = _Reader(body, names, sizes).read()
    return _Reader(main, names, sizes).read()


_ALL = list(results())


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_latex_reads_back_to_the_same_numbers(entry, r, style):
    sizes, vals = point(r, seed=3)
    symbols = r.symbols
    for expr in (r.expr, r.function.expr):
        want = evaluate(expr, vals, sizes)
        got = _read_latex(expr, style, symbols, vals, sizes)
        assert got.shape == want.shape
        assert rel_error(got, want) < 1e-9, (entry["name"], latex_parts(expr, style, symbols))


_PROBED = probe_results()


@pytest.mark.parametrize("entry,r", _PROBED, ids=ids(_PROBED))
def test_every_op_reads_back_to_the_same_numbers(entry, r):
    sizes, vals = point(r, seed=3)
    for style in STYLES:
        for expr in (r.expr, r.function.expr):
            assert rel_error(_read_latex(expr, style, r.symbols, vals, sizes), evaluate(expr, vals, sizes)) < 1e-9


@pytest.mark.parametrize("r", tricky_results(), ids=[t[1] for t in TRICKY])
def test_tricky_names_read_back(r):
    sizes, vals = point(r, seed=1)
    for style in STYLES:
        for expr in (r.expr, r.function.expr):
            assert rel_error(_read_latex(expr, style, r.symbols, vals, sizes), evaluate(expr, vals, sizes)) < 1e-9


def test_the_reader_refuses_ambiguous_products():
    x = np.ones((2, 1))
    with pytest.raises(AssertionError, match="ambiguous"):
        _Reader(r"\mathbf{A}\mathbf{x} \odot \mathbf{x}", {r"\mathbf{A}": np.eye(2), r"\mathbf{x}": x}, {}).read()


# ----------------------------------------------------------------------------- equations and pictures

def test_equation_for_each_kind():
    eq = latex_equation(matcalc.grad("norm(A*x - b)**2", "x"))
    assert eq == ("\\[\n\\frac{\\partial}{\\partial \\mathbf{x}} \\|\\mathbf{A}\\mathbf{x} - \\mathbf{b}\\|_2^{2}"
                  " = 2\\mathbf{A}^\\top(\\mathbf{A}\\mathbf{x} - \\mathbf{b})\n\\]")
    eq = latex_equation(matcalc.jacobian("softmax(z)", "z"))
    assert r"\begin{aligned}" in eq and r"\text{where}\quad \mathbf{s} &= \operatorname{softmax}(\mathbf{z})" in eq
    assert r"\partial^2" in latex_equation(matcalc.hessian("x'*A*x", "x"))
    assert latex_equation(matcalc.vjp("W*x", "x")).endswith(r"\mathbf{g} = \mathbf{W}^\top\mathbf{g}" + "\n\\]")
    assert r"\, \mathbf{v} = " in latex_equation(matcalc.jvp("exp(x)", "x"))
    # a sum as the function is parenthesised after the derivative operator
    assert r"\frac{\partial}{\partial \mathbf{x}} \left(" in latex_equation(matcalc.grad("a'*x + b'*x", "x"))


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


needs_dvipng = pytest.mark.skipif(not (HAVE_LATEX and shutil.which("dvipng")), reason="TeX or dvipng not installed")
needs_dvisvgm = pytest.mark.skipif(not (HAVE_LATEX and shutil.which("dvisvgm")),
                                   reason="TeX or dvisvgm not installed")


@needs_dvipng
def test_png_picture(tmp_path):
    out = tmp_path / "eq.png"
    r = invoke(["grad", "norm(A*x - b)**2", "x", "--format", "png", "-o", str(out)])
    assert r.exit_code == 0, r.output
    w, h = _png_size(out)
    assert 300 < w < 3000 and 40 < h < 400          # one line of display math at 300 dpi
    big = tmp_path / "mlp.png"
    r = invoke(["grad", "cross_entropy(W2*tanh(W1*x + b1) + b2, y)", "W1", "--format", "png",
                            "-o", str(big)])
    assert r.exit_code == 0
    assert _png_size(big)[1] > h                     # a second line for "where h = ..."


@needs_dvisvgm
def test_svg_picture(tmp_path):
    out = tmp_path / "eq.svg"
    r = invoke(["jacobian", "softmax(z)", "z", "--format", "svg", "-o", str(out),
                            "--latex-style", "plain"])
    assert r.exit_code == 0, r.output
    import xml.etree.ElementTree as ET
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg") and float(root.get("width").rstrip("pt")) > 50
    assert root.iter().__next__() is not None and len(list(root.iter())) > 10    # glyphs as paths


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_picture_needs_an_output_file(fmt):
    r = invoke(["grad", "x'*x", "x", "--format", fmt])
    assert r.exit_code == 2 and "-o FILE" in r.stderr


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_picture_without_tex_is_a_clear_error(fmt, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))          # no latex, dvipng or dvisvgm on PATH
    r = invoke(["grad", "x'*x", "x", "--format", fmt, "-o", str(tmp_path / "eq")])
    assert r.exit_code == 2
    assert "needs TeX" in r.stderr and "not found" in r.stderr and "hint:" in r.stderr
    assert not (tmp_path / "eq").exists()
