"""The op registry is complete: every function op declares everything the engine, the printers, the code
generator and the verifier ask of it, and a declaration that leaves something out fails at import."""
from __future__ import annotations

import re

import numpy as np
import pytest

import matcalc
from matcalc.backends import BACKENDS
from matcalc.ops.base import FUNCTIONS
from matcalc.ops.domains import DOMAINS, Domain
from matcalc.ops.function import ZERO, FunctionOp

from catalogue_points import registry_ops

OPS = registry_ops()


def test_every_function_name_is_a_registered_op():
    assert {"tr", "sum", "diag"} <= set(FUNCTIONS)
    for name, op in FUNCTIONS.items():
        assert name in op.names


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op_is_complete(op):
    assert callable(op.np), "an implementation"
    assert callable(op.d) or op.d == ZERO, "a differential, or a declared zero"
    assert op.rule and op.meaning
    assert op.cite and not re.search(r"\bseed \d|\bissue \d", op.cite), "a source a reader can look up"
    assert all(isinstance(t, str) or callable(t) for t in (op.text, op.source)), "a template, or one per node"
    assert isinstance(op.latex, str) or callable(op.latex)
    for backend in BACKENDS:
        assert op.code_template(backend), f"code for {backend}"
    for dom in op.domain:
        assert dom is None or dom in DOMAINS
    assert op.probes, "derivatives for its tests"
    for kind, expr, wrt, let in op.probes:
        assert op.names[0] + "(" in expr
        assert kind in ("grad", "jacobian", "hessian", "vjp", "jvp")


@pytest.mark.parametrize("op", [op for op in OPS if op.arity == (1, 1)], ids=lambda op: op.name)
def test_linear_ops_carry_a_transpose_rule(op):
    """An op whose differential is the op applied to the differential is linear: reverse mode needs its
    transpose rule (without one every gradient through it would be an internal error)."""
    from matcalc import algebra as alg
    from matcalc.errors import ShapeError
    for shape in ((3, 3), (3, 1), (3, 2)):
        try:
            node = op.build(alg.sym("X", shape))
        except ShapeError:
            continue
        d = alg.sym("dX", shape, "tangent")
        if node.op is op and op.d != ZERO and op.jvp(node, [d]) is op.build(d):
            assert op.transpose is not None, f"{op.name} is linear"
            decl = lambda r, c: f"vector({r})" if c == 1 else f"matrix({r},{c})"  # noqa: E731
            if node.shape[0] == shape[0] * shape[1] and shape[1] != 1:
                # vec: its adjoint is the matrix whose columns stack to the cotangent, which matrix
                # notation names only when the cotangent is itself vec of a matrix
                grad = matcalc.grad(f"sum({op.names[0]}(X) .* vec(C))", "X", {"X": decl(*shape), "C": decl(*shape)})
                assert grad.verify(trials=2).passed
                continue
            grad = matcalc.grad(f"sum({op.names[0]}(X) .* C)", "X", {"X": decl(*shape), "C": decl(*node.shape)})
            assert grad.verify(trials=2).passed


def test_an_unknown_field_is_an_error_at_declaration():
    with pytest.raises(TypeError):
        FunctionOp(names=("f_test",), meaning="m", np=np.exp, d=ZERO, colour="red")


def test_an_unknown_domain_is_an_error_at_declaration():
    with pytest.raises(TypeError, match="unknown domain 'far-away'"):
        FunctionOp(names=("f_test",), meaning="m", np=np.exp, d=ZERO, rule="r", text="f({0})", source="f({0})",
                   latex="f({0})", code="{ns}.exp({0})", domain=("far-away",), probes=(("grad", "f_test(x)", "x", None),))
    assert "f_test" not in FUNCTIONS


def test_a_template_with_a_wrong_placeholder_is_an_error_at_declaration():
    with pytest.raises(TypeError, match="uses"):
        FunctionOp(names=("f_test",), meaning="m", np=np.exp, d=ZERO, rule="r", text="f({1})", source="f({0})",
                   latex="f({0})", code="{ns}.exp({0})", probes=(("grad", "f_test(x)", "x", None),))


@pytest.mark.parametrize("code_product, arity, message", [
    ("{ns}.sum({0})", 1, "needs both halves"), ("{ns}.sum({0} * {2})", 1, "uses"),
    ("{ns}.sum({0} * {1})", (1, 2), "one argument")])
def test_a_product_template_is_checked_at_declaration(code_product, arity, message):
    with pytest.raises(TypeError, match=message):
        FunctionOp(names=("f_test",), meaning="m", np=np.exp, d=ZERO, rule="r", text="f({0})", source="f({0})",
                   latex="f({0})", code="{ns}.exp({0})", code_product=code_product, arity=arity,
                   probes=(("grad", "f_test(x)", "x", None),))
    assert "f_test" not in FUNCTIONS


def test_a_domain_gives_a_sampler_or_a_refinement():
    with pytest.raises(TypeError):
        Domain(name="nowhere", meaning="m")
    assert "nowhere" not in DOMAINS


def test_away_from_zero_is_honoured():
    """norm's domain: the point never lies at a norm below 0.5, where x/‖x‖ is badly conditioned."""
    from matcalc.ops.domains import draw
    rng = np.random.default_rng(0)
    norms = [np.linalg.norm(draw("matrix", (2, 1), {"away-from-zero"}, rng)) for _ in range(2000)]
    assert min(norms) >= 0.5 - 1e-12


def test_every_domain_draws_inside_itself():
    from matcalc.ops.domains import draw
    rng = np.random.default_rng(1)
    assert np.all(draw("matrix", (3, 2), {"positive"}, rng) > 0)
    p = draw("matrix", (4, 1), {"probability"}, rng)
    assert np.all(p > 0) and abs(p.sum() - 1) < 1e-12
    assert np.all(np.abs(draw("matrix", (3, 3), {"away-from-kinks"}, rng)) >= 0.2)
    assert np.all(np.abs(draw("matrix", (50, 1), {"moderate"}, rng)) <= 3)
    assert np.linalg.det(draw("matrix", (3, 3), {"spd"}, rng)) > 0
    assert np.linalg.cond(draw("matrix", (3, 3), {"invertible"}, rng)) <= 2 + 1e-9


# ---------------------------------------------------------------- matcalc functions and the README

def test_readme_function_table_is_the_generated_one():
    from pathlib import Path
    from matcalc.ops.reference import markdown_table
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("<!-- the function table")
    table = readme[readme.index("\n", start) + 1:readme.index("<!-- end of the function table -->")]
    assert table == markdown_table(), "regenerate the README table from matcalc.ops.reference.markdown_table()"


def test_functions_command_lists_every_function():
    from cli_runner import invoke
    r = invoke(["functions", "--plain"])
    assert r.exit_code == 0
    listed = {line.split()[0] for line in r.stdout.splitlines()[1:] if line and not line.startswith(" ")}
    assert set(FUNCTIONS) - {"trace"} <= listed | {"trace"}
    assert "eye" in listed and "ones" in listed


def test_functions_command_shows_one_with_its_source_and_an_example():
    import subprocess
    r = subprocess.run(["matcalc", "functions", "log"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "d log(x) = dx ⊘ x" in r.stdout and "Abramowitz & Stegun" in r.stdout
    assert 'example: matcalc grad "sum(log(x))" x' in r.stdout and "𝟏 ⊘ x" in r.stdout
    bad = subprocess.run(["matcalc", "functions", "logg"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "did you mean log" in bad.stderr and "Traceback" not in bad.stderr


def test_unknown_function_hint_points_to_matcalc_functions():
    from matcalc.errors import ParseError
    with pytest.raises(ParseError) as err:
        matcalc.grad("fooo(x)", "x")
    assert "matcalc functions" in (err.value.hint or "")


def test_user_facing_sources_name_no_internal_labels():
    """--steps and the catalogue cite what a reader can look up, never internal labels."""
    from matcalc.ops.base import REGISTRY
    from catalogue_points import catalogue
    internal = re.compile(r"\bseed \d|\bissue \d", re.I)
    for op in REGISTRY.values():
        assert not internal.search(op.cite or ""), (op.name, op.cite)
    for entry in catalogue():
        assert not internal.search(entry.get("source", "")), (entry["name"], entry["source"])
