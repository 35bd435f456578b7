"""Elementwise functions: one declaration each. f'(x) is written in terms of x and y = f(x).

The derivative of y = f(x) applied entrywise is dy = f'(x) ⊙ dx: its Jacobian is diag(f'(x))
(Magnus & Neudecker, Matrix Differential Calculus, 3rd ed. 2019, ch. 9).
"""
from __future__ import annotations

import functools
import math

from ..algebra import CONST, add, call, const, had, hadpow, ones, scale, sub
from .function import ZERO, FunctionOp
from .lazy_numpy import np


@functools.cache
def _erfc_vectorized():
    # Φ(x) = erfc(−x/√2)/2: 1 + erf(x/√2) cancels to 0 for x < −8, erfc keeps every digit (Φ(−20) = 2.8e−89)
    return np.vectorize(math.erfc, otypes=[float])


def _erfc(x):
    return _erfc_vectorized()(x)


_SQRT2PI = math.sqrt(2 * math.pi)
_TABLES = "Abramowitz & Stegun, Handbook of Mathematical Functions, ch. 4"
_DL = "Goodfellow, Bengio & Courville, Deep Learning (2016)"


class Elementwise(FunctionOp):
    """f applied to every entry. fprime(x, y): f'(x) given y = f(x), or None for a zero derivative;
    text_head, latex_head: how f is written before its bracketed argument, unless text or latex gives
    the whole template. The probes are the usual three unless given."""

    elementwise = True

    def __init__(self, *, name: str, meaning: str, np: callable, fprime, text_head: str, latex_head: str = "",
                 code: str, code_for: dict | None = None, rule: str, cite: str, domain: str | None = None,
                 temp: str = "t", canon=None, sp=None, letter=None, text=None, latex=None, probes=None,
                 sign=None, prefix=None):
        self.fprime, self._sp = fprime, sp
        inner = "x" if domain == "positive" else "A*x"    # the verifier draws names, not A*x, positive
        super().__init__(
            names=(name,), meaning=meaning, np=np, d=ZERO if fprime is None else self._d,
            text=text or text_head + "({0})", latex=latex or latex_head + r"\left({0}\right)",
            source=name + "({0})", code=code, code_for=code_for, rule=rule, cite=cite, domain=(domain,),
            temp=temp, canon=canon, letter=letter, sign=sign, prefix=prefix,
            probes=probes or (("grad", f"sum({name}(x))", "x", None), ("jacobian", f"{name}({inner})", "x", None),
                              ("grad", f"sum({name}(X))", "X", None)))
        self.sp = self._sympy

    def _sympy(self, t):
        """The scalar function in SymPy (imported only when asked for); by default SymPy's of the same name."""
        import sympy
        return self._sp(sympy, t) if self._sp else getattr(sympy, self.name)(t)

    def _d(self, node, dargs):
        fprime = self.fprime(node.args[0], node)
        return None if fprime is None else had(fprime, dargs[0])


def _ones(x):
    return ones(x.shape)


def _log_canon(x):
    if x.op is EXP:
        return x.args[0]
    if x.op.name == "det":
        return call("logdet", x.args[0])
    if x.op.name == "softmax":
        return call("log_softmax", x.args[0])
    if x.op.name == "sum" and x.args[0].op is EXP and x.args[0].shape[1] == 1:
        return call("logsumexp", x.args[0].args[0])
    if x.op is CONST and x.attrs[0] == 1:
        return const(0)
    if x.op.name == "add" and len(x.args) == 2:      # log(1 + exp(u)) = softplus(u)
        one, e = sorted(x.args, key=lambda t: t.op.name != "ones" and not (t.op is CONST and t.attrs[0] == 1))
        if (one.op.name == "ones" or one.op is CONST and one.attrs[0] == 1) and e.op is EXP:
            return call("softplus", e.args[0])
    return None


def _exp_canon(x):
    if x.op is LOG:
        return x.args[0]
    if x.op is CONST and x.attrs[0] == 0:
        return const(1)
    return None


def _abs_canon(x):
    return x if x.op.name in ("exp", "sigmoid", "softplus", "abs", "norm", "norm1", "cosh") else None


EXP = Elementwise(name="exp", meaning="eˣ, entrywise", np=np.exp, fprime=lambda x, y: y, text_head="exp",
                  latex_head=r"\exp", code="{ns}.exp({0})", rule="d exp(x) = exp(x) ⊙ dx",
                  cite=_TABLES, canon=_exp_canon, domain="moderate", sign="positive")
LOG = Elementwise(name="log", meaning="natural logarithm, entrywise", np=np.log, fprime=lambda x, y: hadpow(x, -1),
                  text_head="log", latex_head=r"\log", code="{ns}.log({0})", rule="d log(x) = dx ⊘ x",
                  cite=_TABLES, domain="positive", canon=_log_canon)
SQRT = Elementwise(name="sqrt", meaning="square root, entrywise", np=np.sqrt,
                   fprime=lambda x, y: scale(0.5, hadpow(y, -1)), text_head="√", prefix="√", latex_head=r"\sqrt",
                   latex=r"\sqrt{{{0}}}", code="{ns}.sqrt({0})", rule="d √x = dx ⊘ (2√x)", cite=_TABLES,
                   domain="positive", sign="nonnegative")
SIN = Elementwise(name="sin", meaning="sine, entrywise", np=np.sin, fprime=lambda x, y: call("cos", x),
                  text_head="sin", latex_head=r"\sin", code="{ns}.sin({0})", rule="d sin(x) = cos(x) ⊙ dx",
                  cite=_TABLES)
COS = Elementwise(name="cos", meaning="cosine, entrywise", np=np.cos, fprime=lambda x, y: scale(-1, call("sin", x)),
                  text_head="cos", latex_head=r"\cos", code="{ns}.cos({0})", rule="d cos(x) = −sin(x) ⊙ dx",
                  cite=_TABLES)
TANH = Elementwise(name="tanh", meaning="hyperbolic tangent, entrywise", np=np.tanh,
                   fprime=lambda x, y: sub(_ones(x), hadpow(y, 2)), text_head="tanh", latex_head=r"\tanh",
                   code="{ns}.tanh({0})", rule="d tanh(x) = (1 − tanh²(x)) ⊙ dx", cite=_TABLES,
                   temp="h")
# exp(-log(1 + e^-x)): accurate to the last digits for every x; 0.5(1 + tanh(x/2)) cancels for
# x < 0 (it gives 0 for x < -37 and 10% errors near -34, which made the verifier fail right
# gradients; issue 7, found by fuzzing)
SIGMOID = Elementwise(name="sigmoid", meaning="logistic sigmoid 1/(1 + e⁻ˣ), entrywise",
                      np=lambda x: np.exp(-np.logaddexp(0, -x)), fprime=lambda x, y: had(y, sub(_ones(x), y)),
                      text_head="σ", latex_head=r"\sigma", letter="sigma",
                      code="{ns}.exp(-{ns}.logaddexp(0, -{0}))",
                      code_for={"torch": "torch.sigmoid({0})", "jax": "jax.nn.sigmoid({0})"},
                      rule="d σ(x) = σ(x) ⊙ (1 − σ(x)) ⊙ dx", cite=_DL + ", §3.10", temp="h",
                      sp=lambda S, t: 1 / (1 + S.exp(-t)), sign="positive")
RELU = Elementwise(name="relu", meaning="max(x, 0), entrywise", np=lambda x: np.maximum(x, 0),
                   fprime=lambda x, y: call("step", x), text_head="relu", latex_head=r"\operatorname{{ReLU}}",
                   code="{ns}.maximum({0}, 0)", code_for={"torch": "torch.relu({0})", "jax": "jax.nn.relu({0})"},
                   rule="d relu(x) = 𝟙[x > 0] ⊙ dx (0 at the kink, as frameworks do)", temp="h",
                   cite=_DL + ", §6.3.1", domain="away-from-kinks", sp=lambda S, t: S.Max(0, t), sign="nonnegative")
SOFTPLUS = Elementwise(name="softplus", meaning="log(1 + eˣ), entrywise", np=lambda x: np.logaddexp(0, x),
                       fprime=lambda x, y: call("sigmoid", x), text_head="softplus",
                       latex_head=r"\operatorname{{softplus}}", code="{ns}.logaddexp(0, {0})",
                       code_for={"torch": "torch.logaddexp(torch.zeros_like({0}), {0})"},
                       rule="d softplus(x) = σ(x) ⊙ dx", cite=_DL + ", §3.10",
                       sp=lambda S, t: S.log(1 + S.exp(t)), sign="positive")
GELU = Elementwise(name="gelu", meaning="x Φ(x) (exact GELU), entrywise",
                   np=lambda x: x * 0.5 * _erfc(-x / math.sqrt(2)), fprime=lambda x, y: _gelu_deriv(x),
                   text_head="gelu", latex_head=r"\operatorname{{GELU}}",
                   code="({0} * 0.5 * {erfc}(-{0} / 2 ** 0.5))",
                   code_for={"torch": "torch.nn.functional.gelu({0})", "jax": "jax.nn.gelu({0}, approximate=False)"},
                   rule="d gelu(x) = (Φ(x) + x ⊙ φ(x)) ⊙ dx (exact GELU x·Φ(x))",
                   cite="Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs), arXiv:1606.08415 (2016)",
                   sp=lambda S, t: t * (1 + S.erf(t / S.sqrt(2))) / 2)
ABS = Elementwise(name="abs", meaning="|x|, entrywise", np=np.abs, fprime=lambda x, y: call("sign", x),
                  text_head="abs", latex=r"\left\lvert {0} \right\rvert", code="{ns}.abs({0})",
                  rule="d |x| = sign(x) ⊙ dx", cite=_TABLES + " (x away from 0)",
                  domain="away-from-kinks", canon=_abs_canon, sp=lambda S, t: S.Abs(t), sign="nonnegative")

# Derivative helpers: they appear in results, and may be typed too.
STEP = Elementwise(name="step", meaning="1 where x > 0, else 0 (the derivative of relu), entrywise",
                   np=lambda x: (x > 0).astype(float), fprime=None, text_head="𝟙",
                   text="𝟙[{0} > 0]", latex=r"\mathbb{{I}}\left[{0} > 0\right]",
                   code="{ns}.where({0} > 0, 1.0, 0.0)", code_for={"torch": "({0} > 0).to(torch.float64)"},
                   rule="constant away from 0", cite="piecewise constant", domain="away-from-kinks",
                   sp=lambda S, t: S.Heaviside(t, 0), probes=(("grad", "sum(step(x) .* x)", "x", None),), sign="nonnegative")
SIGN = Elementwise(name="sign", meaning="−1, 0 or 1 by the sign of x (the derivative of abs), entrywise",
                   np=np.sign, fprime=None, text_head="sign", latex_head=r"\operatorname{{sign}}",
                   code="{ns}.sign({0})", rule="constant away from 0", cite="piecewise constant",
                   domain="away-from-kinks", probes=(("grad", "sum(sign(x) .* x)", "x", None),))
NORMCDF = Elementwise(name="normcdf", meaning="Φ(x), the standard normal CDF, entrywise",
                      np=lambda x: 0.5 * _erfc(-x / math.sqrt(2)), fprime=lambda x, y: call("normpdf", x),
                      text_head="Φ", latex_head=r"\Phi", letter="Phi", code="(0.5 * {erfc}(-{0} / 2 ** 0.5))",
                      rule="d Φ(x) = φ(x) ⊙ dx", cite=_TABLES + " (26.2.2)",
                      sp=lambda S, t: (1 + S.erf(t / S.sqrt(2))) / 2, sign="positive")
NORMPDF = Elementwise(name="normpdf", meaning="φ(x), the standard normal density, entrywise",
                      np=lambda x: np.exp(-0.5 * x * x) / _SQRT2PI, fprime=lambda x, y: scale(-1, had(x, y)),
                      text_head="φ", latex_head=r"\varphi", code="({ns}.exp(-0.5 * {0} ** 2) / (2 * {ns}.pi) ** 0.5)",
                      rule="d φ(x) = −x ⊙ φ(x) ⊙ dx", cite=_TABLES + " (26.2.1)",
                      sp=lambda S, t: S.exp(-t ** 2 / 2) / S.sqrt(2 * S.pi), sign="positive")

# Signs of their values, for the power rules of algebra.mul_parts (algebra.positive, nonnegative).
for _op in (EXP, SIGMOID, SOFTPLUS, NORMCDF, NORMPDF):
    _op.positive = True
for _op in (SQRT, ABS, RELU, STEP):
    _op.nonnegative = True


def _gelu_deriv(x):
    return add(call("normcdf", x), had(x, call("normpdf", x)))


LOG1P = Elementwise(name="log1p", meaning="log(1 + x), accurate for small x, entrywise", np=np.log1p,
                    fprime=lambda x, y: hadpow(add(_ones(x), x), -1), text_head="log1p",
                    latex_head=r"\operatorname{{log1p}}", code="{ns}.log1p({0})",
                    rule="d log1p(x) = dx ⊘ (1 + x)", cite=_TABLES, domain="positive",
                    sp=lambda S, t: S.log(1 + t))
COSH = Elementwise(name="cosh", meaning="hyperbolic cosine, entrywise", np=np.cosh,
                   fprime=lambda x, y: call("sinh", x), text_head="cosh", latex_head=r"\cosh",
                   code="{ns}.cosh({0})", rule="d cosh(x) = sinh(x) ⊙ dx", cite=_TABLES, domain="moderate", sign="positive")
SINH = Elementwise(name="sinh", meaning="hyperbolic sine, entrywise", np=np.sinh,
                   fprime=lambda x, y: call("cosh", x), text_head="sinh", latex_head=r"\sinh",
                   code="{ns}.sinh({0})", rule="d sinh(x) = cosh(x) ⊙ dx", cite=_TABLES, domain="moderate")
