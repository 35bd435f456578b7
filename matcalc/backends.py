"""The array libraries generated code is written for: how each spells the calls matcalc emits.

An op's code template is written over the namespace {ns} (`{ns}.log1p({0})`) and {erfc}; an op
overrides it for a backend only where that backend differs (ops/, `code_for`).
"""
from __future__ import annotations

from typing import NamedTuple


class Backend(NamedTuple):       # not a dataclass: dataclasses loads inspect, ≈ 8 ms of every start-up
    name: str
    ns: str                       # the array namespace: np, torch, jnp
    imports: tuple                # the module's import lines
    erfc: str                     # the elementwise complementary error function (Φ(x) = erfc(−x/√2)/2
    erfc_needs: tuple             # is accurate far into the left tail, where 1 + erf(x) cancels to 0)
    erfc_inline: str              # the same as one expression (Result.numpy has no module)
    asarray: str
    eye: str
    ones: str
    zeros: str
    scalar_out: str
    kinds_note: str
    symmetric_check: str | None   # None: a check on values would not trace (jax.jit)
    constant_arg: str = "{0}"     # a number (or size) as a function's argument: torch.log(3) needs a tensor
    submodules: tuple = ()        # (prefix, import line): submodules a call needs imported


NUMPY = Backend(
    name="numpy", ns="np", imports=("import numpy as np",),
    erfc="_erfc", erfc_needs=("import math", "_erfc = np.vectorize(math.erfc, otypes=[float])"),
    erfc_inline="np.vectorize(__import__('math').erfc, otypes=[float])",
    asarray="np.asarray({0}, dtype=float)", eye="np.eye({0})", ones="np.ones({0})", zeros="np.zeros({0})",
    scalar_out="float({0})",
    kinds_note="vectors are 1-D arrays, scalars are floats",
    symmetric_check="np.allclose({0}, {0}.T)",
)

TORCH = Backend(
    name="torch", ns="torch", imports=("import torch",),
    erfc="torch.special.erfc", erfc_needs=(), erfc_inline="torch.special.erfc",
    asarray="torch.as_tensor({0}, dtype=torch.float64)",
    eye="torch.eye({0}, dtype=torch.float64)", ones="torch.ones({0}, dtype=torch.float64)",
    zeros="torch.zeros({0}, dtype=torch.float64)",
    scalar_out="torch.as_tensor({0}, dtype=torch.float64)",
    kinds_note="vectors are 1-D tensors, scalars 0-d tensors; every argument is cast to float64, "
               "a float32 one too, and so is the result",
    symmetric_check="torch.allclose({0}, {0}.T)",
    constant_arg="torch.as_tensor({0}, dtype=torch.float64)",
)

JAX = Backend(
    name="jax", ns="jnp", imports=("import jax", "import jax.numpy as jnp"),
    erfc="jax.scipy.special.erfc", erfc_needs=("import jax.scipy.special",), erfc_inline="jax.scipy.special.erfc",
    asarray="jnp.asarray({0}, dtype=jnp.result_type(float))", eye="jnp.eye({0})", ones="jnp.ones({0})",
    zeros="jnp.zeros({0})",
    scalar_out="jnp.asarray({0})",
    kinds_note="vectors are 1-D arrays, scalars 0-d arrays; every argument is cast to JAX's default "
               "float type: float32, or float64 when jax_enable_x64 is set",
    symmetric_check=None,
    submodules=(("jax.scipy.special.", "import jax.scipy.special"),),
)

BACKENDS = {b.name: b for b in (NUMPY, TORCH, JAX)}
