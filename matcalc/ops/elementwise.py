"""Elementwise functions: one line each. f'(x) is written in terms of x and y = f(x).

The derivative of y = f(x) applied entrywise is dy = f'(x) ⊙ dx: its Jacobian
is diag(f'(x)) (seed 000, Jacobian table; seed 004, activation derivatives).
"""
from __future__ import annotations

import math

import numpy as np

from ..algebra import CONST, add, call, const, had, hadpow, ones, scale, sub
from .function import FunctionOp

_erf = np.vectorize(math.erf, otypes=[float])
_SQRT2PI = math.sqrt(2 * math.pi)


class Elementwise(FunctionOp):
    elementwise = True
    shape = "elementwise"

    def __init__(self, name, np_fn, deriv, text, latex, code, cite="", rule="", domain=(None,),
                 temp="t", canon=None, names=None, sp=None, codegen=None):
        super().__init__(name=name, names=names or (name,), np=np_fn, text=text + "({0})",
                         latex=latex + r"\left({0}\right)", source=name + "({0})", code=code,
                         cite=cite, rule=rule, domain=domain, temp=temp, canon=canon, codegen=codegen or {})
        self.deriv = deriv
        self._sp = sp

    def sp(self, t):
        """The scalar function in SymPy (imported only when asked for); by default SymPy's of the same name."""
        import sympy
        return self._sp(sympy, t) if self._sp else getattr(sympy, self.name)(t)

    def d(self, node, dargs):
        fprime = self.deriv(node.args[0], node)
        return None if fprime is None else had(fprime, dargs[0])


def _ones(x):
    return ones(x.shape)


def _log_canon(x):
    if x.op.name == "exp":
        return x.args[0]
    if x.op.name == "det":
        return call("logdet", x.args[0])
    if x.op.name == "softmax":
        return call("log_softmax", x.args[0])
    if x.op.name == "sum" and x.args[0].op.name == "exp" and x.args[0].shape[1] == 1:
        return call("logsumexp", x.args[0].args[0])
    if x.op is CONST and x.attrs[0] == 1:
        return const(0)
    if x.op.name == "add" and len(x.args) == 2:      # log(1 + exp(u)) = softplus(u)
        one, e = sorted(x.args, key=lambda t: t.op.name != "ones" and not (t.op is CONST and t.attrs[0] == 1))
        if (one.op.name == "ones" or one.op is CONST and one.attrs[0] == 1) and e.op.name == "exp":
            return call("softplus", e.args[0])
    return None


def _exp_canon(x):
    if x.op.name == "log":
        return x.args[0]
    if x.op is CONST and x.attrs[0] == 0:
        return const(1)
    return None


def _abs_canon(x):
    return x if x.op.name in ("exp", "sigmoid", "softplus", "abs", "norm", "norm1") else None


EXP = Elementwise("exp", np.exp, lambda x, y: y, "exp", r"\exp", "np.exp({0})",
                  rule="d exp(x) = exp(x) ⊙ dx", cite="elementwise calculus", canon=_exp_canon,
                  domain=("moderate",),
    codegen={"numpy": 'np.exp({0})', "torch": 'torch.exp({0})', "jax": 'jnp.exp({0})'})
LOG = Elementwise("log", np.log, lambda x, y: hadpow(x, -1), "log", r"\log", "np.log({0})",
                  rule="d log(x) = dx ⊘ x", cite="elementwise calculus", domain=("positive",), canon=_log_canon,
    codegen={"numpy": 'np.log({0})', "torch": 'torch.log({0})', "jax": 'jnp.log({0})'})
SQRT = Elementwise("sqrt", np.sqrt, lambda x, y: scale(0.5, hadpow(y, -1)), "√", r"\sqrt", "np.sqrt({0})",
                   rule="d √x = dx ⊘ (2√x)", cite="elementwise calculus", domain=("positive",),
    codegen={"numpy": 'np.sqrt({0})', "torch": 'torch.sqrt({0})', "jax": 'jnp.sqrt({0})'})
SIN = Elementwise("sin", np.sin, lambda x, y: call("cos", x), "sin", r"\sin", "np.sin({0})",
                  rule="d sin(x) = cos(x) ⊙ dx", cite="elementwise calculus",
    codegen={"numpy": 'np.sin({0})', "torch": 'torch.sin({0})', "jax": 'jnp.sin({0})'})
COS = Elementwise("cos", np.cos, lambda x, y: scale(-1, call("sin", x)), "cos", r"\cos", "np.cos({0})",
                  rule="d cos(x) = −sin(x) ⊙ dx", cite="elementwise calculus",
    codegen={"numpy": 'np.cos({0})', "torch": 'torch.cos({0})', "jax": 'jnp.cos({0})'})
TANH = Elementwise("tanh", np.tanh, lambda x, y: sub(_ones(x), hadpow(y, 2)), "tanh", r"\tanh", "np.tanh({0})",
                   rule="d tanh(x) = (1 − tanh²(x)) ⊙ dx", cite="seed 004: activation derivatives", temp="h",
    codegen={"numpy": 'np.tanh({0})', "torch": 'torch.tanh({0})', "jax": 'jnp.tanh({0})'})
# exp(-log(1 + e^-x)): accurate to the last digits for every x; 0.5(1 + tanh(x/2)) cancels for
# x < 0 (it gives 0 for x < -37 and 10% errors near -34, which made the verifier fail right
# gradients; issue 7, found by fuzzing)
SIGMOID = Elementwise("sigmoid", lambda x: np.exp(-np.logaddexp(0, -x)),
                      lambda x, y: had(y, sub(_ones(x), y)), "σ", r"\sigma",
                      "(0.5 * (1 + np.tanh(0.5 * {0})))",
                      rule="d σ(x) = σ(x) ⊙ (1 − σ(x)) ⊙ dx", cite="seed 004: activation derivatives",
                      temp="p", sp=lambda S, t: 1 / (1 + S.exp(-t)),
    codegen={"numpy": '(0.5 * (1 + np.tanh(0.5 * {0})))', "torch": 'torch.sigmoid({0})', "jax": 'jax.nn.sigmoid({0})'})
RELU = Elementwise("relu", lambda x: np.maximum(x, 0), lambda x, y: call("step", x), "relu",
                   r"\operatorname{ReLU}", "np.maximum({0}, 0)",
                   rule="d relu(x) = 𝟙[x > 0] ⊙ dx (0 at the kink, as frameworks do)", temp="a",
                   cite="seed 004: activation derivatives; seed 002: ReLU VJP", domain=("away-from-kinks",), sp=lambda S, t: S.Max(0, t),
    codegen={"numpy": 'np.maximum({0}, 0)', "torch": 'torch.relu({0})', "jax": 'jax.nn.relu({0})'})
SOFTPLUS = Elementwise("softplus", lambda x: np.logaddexp(0, x), lambda x, y: call("sigmoid", x), "softplus",
                       r"\operatorname{softplus}", "np.logaddexp(0, {0})",
                       rule="d softplus(x) = σ(x) ⊙ dx", cite="softplus(x) = log(1 + eˣ)", sp=lambda S, t: S.log(1 + S.exp(t)),
    codegen={"numpy": 'np.logaddexp(0, {0})', "torch": 'torch.logaddexp(torch.zeros_like({0}), {0})', "jax": 'jnp.logaddexp(0, {0})'})
GELU = Elementwise("gelu", lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))),
                   lambda x, y: _gelu_deriv(x), "gelu", r"\operatorname{GELU}",
                   "({0} * 0.5 * (1 + np.vectorize(__import__('math').erf)({0} / 2 ** 0.5)))",
                   rule="d gelu(x) = (Φ(x) + x ⊙ φ(x)) ⊙ dx (exact GELU x·Φ(x))",
                   cite="Hendrycks & Gimpel 2016, exact form", sp=lambda S, t: t * (1 + S.erf(t / S.sqrt(2))) / 2,
    codegen={"numpy": '({0} * 0.5 * (1 + _erf({0} / math.sqrt(2))))', "torch": 'torch.nn.functional.gelu({0})', "jax": 'jax.nn.gelu({0}, approximate=False)'})
ABS = Elementwise("abs", np.abs, lambda x, y: call("sign", x), "abs", r"\operatorname{abs}", "np.abs({0})",
                  rule="d |x| = sign(x) ⊙ dx", cite="elementwise calculus (x away from 0)",
                  domain=("away-from-kinks",), canon=_abs_canon, sp=lambda S, t: S.Abs(t),
    codegen={"numpy": 'np.abs({0})', "torch": 'torch.abs({0})', "jax": 'jnp.abs({0})'})

# Derivative helpers: they appear in results, and may be typed too.
STEP = Elementwise("step", lambda x: (x > 0).astype(float), lambda x, y: None, "𝟙", r"\mathbb{1}",
                   "({0} > 0).astype(float)", rule="constant away from 0", domain=("away-from-kinks",), sp=lambda S, t: S.Heaviside(t, 0),
    codegen={"numpy": 'np.where({0} > 0, 1.0, 0.0)', "torch": '({0} > 0).to(torch.float64)', "jax": 'jnp.where({0} > 0, 1.0, 0.0)'})
STEP.text, STEP.latex = "𝟙[{0} > 0]", r"\mathbb{{1}}\left[{0} > 0\right]"
SIGN = Elementwise("sign", np.sign, lambda x, y: None, "sign", r"\operatorname{sign}", "np.sign({0})",
                   rule="constant away from 0", domain=("away-from-kinks",),
    codegen={"numpy": 'np.sign({0})', "torch": 'torch.sign({0})', "jax": 'jnp.sign({0})'})
NORMCDF = Elementwise("normcdf", lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))), lambda x, y: call("normpdf", x),
                      "Φ", r"\Phi", "(0.5 * (1 + np.vectorize(__import__('math').erf)({0} / 2 ** 0.5)))",
                      rule="d Φ(x) = φ(x) ⊙ dx", cite="standard normal CDF", sp=lambda S, t: (1 + S.erf(t / S.sqrt(2))) / 2,
    codegen={"numpy": '(0.5 * (1 + _erf({0} / math.sqrt(2))))', "torch": '(0.5 * (1 + torch.special.erf({0} / math.sqrt(2))))', "jax": '(0.5 * (1 + jax.scipy.special.erf({0} / math.sqrt(2))))'})
NORMPDF = Elementwise("normpdf", lambda x: np.exp(-0.5 * x * x) / _SQRT2PI,
                      lambda x, y: scale(-1, had(x, y)), "φ", r"\phi",
                      "(np.exp(-0.5 * {0} ** 2) / (2 * np.pi) ** 0.5)",
                      rule="d φ(x) = −x ⊙ φ(x) ⊙ dx", cite="standard normal PDF", sp=lambda S, t: S.exp(-t ** 2 / 2) / S.sqrt(2 * S.pi),
    codegen={"numpy": '(np.exp(-0.5 * {0} ** 2) / math.sqrt(2 * math.pi))', "torch": '(torch.exp(-0.5 * {0} ** 2) / math.sqrt(2 * math.pi))', "jax": '(jnp.exp(-0.5 * {0} ** 2) / math.sqrt(2 * math.pi))'})

# Signs of their values, for the power rules of algebra.mul_parts (algebra.positive, nonnegative).
for _op in (EXP, SIGMOID, SOFTPLUS, NORMCDF, NORMPDF):
    _op.positive = True
for _op in (SQRT, ABS, RELU, STEP):
    _op.nonnegative = True


def _gelu_deriv(x):
    return add(call("normcdf", x), had(x, call("normpdf", x)))
