"""Generated functions: NumPy, PyTorch and JAX code that imports and runs."""
from __future__ import annotations

from .printing import code_name, numpy_code
from .shapes import fmt_shape

_HEADER = {"numpy": "import numpy as np\n", "torch": "import torch\n", "jax": "import jax.numpy as jnp\n"}


def function_code(result, backend: str = "numpy", with_value: bool = False) -> str:
    """def grad_f(A, x, b): ... — a complete function with a docstring and shape checks."""
    names = list(result.function.symbols)
    if result.aux:
        names.append(result.aux)
    params = [code_name(n) for n in names]
    body = result.numpy
    shapes = "\n".join(f"        {n}: {fmt_shape(s)}" for n, (_, s) in result.symbols.items())
    doc = (f'    """{result.kind} of {result.function.source} with respect to {result.wrt}.\n\n'
           f"    Result: {result.text}\n    Result shape: {fmt_shape(result.shape)}\n    Arguments (vectors are 1-D):\n"
           f'{shapes}\n    """')
    checks = _shape_checks(result)
    lines = [_HEADER["numpy"], "", f"def {result.kind}_f({', '.join(params)}):", doc]
    for n in params:
        lines.append(f"    {n} = np.asarray({n}, dtype=float)")
    lines += checks
    lines.append(f"    return {body}")
    code = "\n".join(lines) + "\n"
    if backend == "numpy":
        return code
    raise NotImplementedError(f"{backend} code generation")


def _shape_checks(result) -> list[str]:
    out, seen = [], {}
    for name, (kind, shape) in result.symbols.items():
        n = code_name(name)
        want = 0 if shape == (1, 1) else 1 if shape[1] == 1 else 2
        out.append(f"    assert {n}.ndim == {want}, '{name} must be {'a scalar' if want == 0 else 'a 1-D vector' if want == 1 else 'a matrix'}'")
        dims = [shape[0]] if want == 1 else list(shape) if want == 2 else []
        for axis, d in enumerate(dims):
            ref = f"{n}.shape[{axis}]"
            if isinstance(d, int):
                out.append(f"    assert {ref} == {d}, '{name}: size {d} expected'")
            elif d in seen:
                out.append(f"    assert {ref} == {seen[d]}, 'size {d} of {name} does not match'")
            else:
                seen[d] = ref
    return out
