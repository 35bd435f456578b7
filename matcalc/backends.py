"""The array libraries generated code is written for: how each spells the calls matcalc emits.

An op's code template is written over the namespace {ns} (`{ns}.log1p({0})`) and {erfc}; an op
overrides it for a backend only where that backend differs (ops/, `code_for`).
"""
from __future__ import annotations

from .record import record


@record(frozen=True)
class Backend:
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
    # A matrix S of one-hot rows is a selector: its row indices i (argmax), S R is the gather R[i],
    # R Sᵀ the gather R[..., i], and Sᵀ R and R S scatter-adds into zeros (rows; columns), over
    # {i}, {r} and {zeros}: never a dense product with a one-hot matrix (an embedding lookup).
    scatter_rows: str
    scatter_cols: str
    onehot_index: str = "{ns}.argmax({0}, axis=-1)"
    onehot_check: str | None = None   # a declared onehot matrix has one-hot rows (None: would not trace)
    constant_arg: str = "{0}"     # a number (or size) as a function's argument: torch.log(3) needs a tensor
    columns: str = "{ns}.stack(({0}), axis=1)"    # vectors side by side: the columns of a matrix
    submodules: tuple = ()        # (prefix, import line): submodules a call needs imported


NUMPY = Backend(
    name="numpy", ns="np", imports=("import numpy as np",),
    erfc="_erfc", erfc_needs=("import math", "_erfc = np.vectorize(math.erfc, otypes=[float])"),
    erfc_inline="np.vectorize(__import__('math').erfc, otypes=[float])",
    asarray="np.asarray({0}, dtype=float)", eye="np.eye({0})", ones="np.ones({0})", zeros="np.zeros({0})",
    scalar_out="float({0})",
    kinds_note="vectors are 1-D arrays, scalars are floats",
    symmetric_check="np.allclose({0}, {0}.T)",
    # np.add.at works in place; the lambda takes every value as an argument (an expression evaluated
    # with its names as locals, Result.numpy, sees no enclosing names inside a lambda)
    onehot_check="np.all(({0} == 0) | ({0} == 1)) and np.all({0}.sum(axis=-1) == 1)",
    scatter_rows="(lambda _o, _i, _r: (np.add.at(_o, _i, _r), _o)[1])({zeros}, {i}, {r})",
    scatter_cols="(lambda _o, _i, _r: (np.add.at(_o, (..., _i), _r), _o)[1])({zeros}, {i}, {r})",
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
    onehot_check="torch.all(({0} == 0) | ({0} == 1)) and torch.all({0}.sum(dim=-1) == 1)",
    onehot_index="torch.argmax({0}, dim=-1)", columns="torch.stack(({0}), dim=1)",
    scatter_rows="{zeros}.index_add(0, {i}, {r})", scatter_cols="{zeros}.index_add(-1, {i}, {r})",
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
    scatter_rows="{zeros}.at[{i}].add({r})", scatter_cols="{zeros}.at[..., {i}].add({r})",
    submodules=(("jax.scipy.special.", "import jax.scipy.special"),),
)

BACKENDS = {b.name: b for b in (NUMPY, TORCH, JAX)}
