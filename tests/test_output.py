"""How results are shown: JSON that follows its shipped schema, the terminal text, files with -o,
option errors, and the Jupyter representations."""
from __future__ import annotations

import json
import math
import re
from importlib import resources

import pytest
from cli_runner import invoke

import matcalc
from matcalc.output import SCHEMA_PATH, as_json, latex_equation
from matcalc.verify import Report

from catalogue_points import ids, results


def run(*args):
    return invoke(list(args))


# ----------------------------------------------------------------------------- a small JSON Schema validator

_KEYWORDS = {"$schema", "$id", "$ref", "$defs", "title", "description", "type", "enum", "required",
             "properties", "additionalProperties", "items", "minimum", "pattern"}
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value, name) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, _TYPES[name])


def validate(value, schema, root=None, path="$") -> list[str]:
    """The errors of value against the subset of JSON Schema (2020-12) that result.schema.json uses."""
    root = root if root is not None else schema
    unknown = set(schema) - _KEYWORDS
    assert not unknown, f"the validator does not know {unknown}"
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return validate(value, target, root, path)
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: {value!r} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                errors += validate(item, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(item, schema["additionalProperties"], root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors


SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_schema_is_shipped_with_the_package():
    shipped = resources.files("matcalc").joinpath("schema/result.schema.json")
    assert json.loads(shipped.read_text(encoding="utf-8")) == SCHEMA
    assert SCHEMA["$schema"].endswith("2020-12/schema")


def test_the_validator_rejects_what_it_should():
    good = json.loads(run("grad", "x'*x", "x", "--format", "json").stdout)
    assert validate(good, SCHEMA) == []
    bad = dict(good, derivative="gradient", extra=1)
    del bad["names"]
    errors = validate(bad, SCHEMA)
    assert any("missing 'names'" in e for e in errors)
    assert any("unexpected 'extra'" in e for e in errors)
    assert any("'gradient' not one of" in e for e in errors)
    assert validate(dict(good, shape="m by n"), SCHEMA)
    assert validate(dict(good, verification={"passed": "yes"}), SCHEMA)


@pytest.mark.parametrize("args", [
    ["grad", "norm(A*x - b)**2", "x"],
    ["grad", "norm(A*x - b)**2", "x", "--verify"],
    ["grad", "logdet(S)", "S", "--let", "S:spd", "--verify", "--latex-style", "plain"],
    ["jacobian", "softmax(z)", "z", "--verify"],
    ["hessian", "sum(softplus(X*w)) - y'*X*w", "w"],
    ["vjp", "W*x + b", "W", "--verify"],
    ["jvp", "tanh(W*x + b)", "x"],
    ["grad", "norm(x)**2", "y"],
    ["grad", "alpha*x'*A*x", "alpha", "--let", "A:matrix(3,3)", "--verify"],
])
def test_cli_json_follows_the_schema(args):
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert validate(data, SCHEMA) == []
    assert list(data) == ["input", "variable", "derivative", "names", "shape", "result", "notes", "assumptions",
                          "verification"]
    assert (data["verification"] is not None) == ("--verify" in args)
    if data["verification"]:
        assert data["verification"]["passed"] is True and data["verification"]["message"] == ""


def test_json_fields():
    data = json.loads(run("vjp", "W*x + b", "W", "--format", "json").stdout)
    assert data["input"] == "W*x + b" and data["variable"] == "W" and data["derivative"] == "vjp"
    assert data["names"][-1] == {"name": "g", "kind": "upstream gradient", "shape": "m"}
    assert data["shape"] == "m×n"
    assert data["result"] == {"text": "gxᵀ", "latex": r"\mathbf{g}\mathbf{x}^\top", "numpy": "np.outer(g, x)",
                              "matcalc": "g*x'"}
    data = json.loads(run("grad", "norm(x)**2", "y", "--format", "json").stdout)
    assert data["notes"] == ["y does not occur in the expression: the derivative is zero"]


_ALL = list(results())


@pytest.mark.parametrize("entry,r", _ALL, ids=ids(_ALL))
def test_catalogue_json_follows_the_schema(entry, r):
    data = json.loads(json.dumps(as_json(r), ensure_ascii=False))
    assert validate(data, SCHEMA) == []


def test_json_has_no_nan():
    r = matcalc.grad("x'*x", "x")
    report = Report(False, float("nan"), 0, {"n": 3}, 0, "no point found where the function is finite")
    data = as_json(r, report)
    assert data["verification"]["max_rel_error"] is None
    assert validate(json.loads(json.dumps(data, allow_nan=False)), SCHEMA) == []


# ----------------------------------------------------------------------------- terminal text

def test_terminal_result_shapes_and_mark():
    r = run("grad", "norm(A*x - b)**2", "x")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[:2] == ["2Aᵀ(Ax − b)", "  shape n; A: m×n, x: n, b: m"]
    assert re.fullmatch(r"  ✓ verified \(max rel\. error \S+ over 5 trials, sizes m=\d n=\d\)",
                        r.stdout.splitlines()[2])


def test_plain_is_only_the_result_even_with_brackets():
    r = run("grad", "sum(relu(x))", "x", "--plain")
    assert r.stdout == "𝟙[x > 0]\n"             # not swallowed as rich markup
    r = run("grad", "sum(relu(x))", "x", "--no-verify")
    assert r.stdout.splitlines()[0] == "𝟙[x > 0]"


def test_notes_and_failed_verification(monkeypatch):
    r = run("grad", "norm(x)**2", "y")
    # the note goes to stderr (also with --plain), stdout holds the result alone
    assert r.stdout.startswith("0\n") and "note" not in r.stdout
    assert r.stderr.startswith("note: y does not occur in the expression: the derivative is zero")
    r = run("grad", "x'*W*x", "w", "--plain")
    assert r.stdout == "0\n"
    assert r.stderr == "note: w does not occur in the expression: the derivative is zero (did you mean W?)\n"
    r = run("grad", "cross_entropy(W*x, y)", "W", "--plain")
    assert r.stdout == "(softmax(Wx) − y)xᵀ\n"
    assert "note: assuming y is a probability vector" in r.stderr
    r = run("grad", "cross_entropy(W*x, y)", "W", "--plain", "--let", "y:onehot")
    assert r.stderr == ""
    assert json.loads(run("grad", "cross_entropy(W*x, y)", "W", "--format", "json").stdout)["assumptions"] == \
        ["assuming y is a probability vector (entries ≥ 0 summing to 1): --let y:probability or :onehot says so"]
    steps = run("grad", "cross_entropy(W*x, y)", "W", "--steps", "--no-verify").stdout
    assert "assumption: y is a probability vector" in steps
    failing = Report(False, 0.25, 1, {"n": 4}, 0, "differs from finite differences (relative error 2.5e-01 > 1e-06)")
    monkeypatch.setattr(matcalc.api.Result, "verify", lambda self, trials=5, seed=0: failing)
    r = run("grad", "x'*x", "x")
    assert r.exit_code == 1
    assert "✗ verification FAILED: differs from finite differences" in r.stdout


def test_steps_are_wrapped_not_cropped():
    r = run("grad", "cross_entropy(W*x, y)", "W", "--steps", "--no-verify")
    flat = " ".join(line.strip(" │├└─") for line in r.stdout.splitlines())
    assert "Deep Learning (2016), §6.2.2.3" in flat and "derivation of grad w.r.t. W" in flat


@pytest.mark.parametrize("fmt,check", [
    ("text", lambda s: s.startswith("2Aᵀ(Ax − b)\n  shape n;")),
    ("latex", lambda s: s == "2\\mathbf{A}^\\top(\\mathbf{A}\\mathbf{x} - \\mathbf{b})\n"),
    ("json", lambda s: json.loads(s)["result"]["text"] == "2Aᵀ(Ax − b)"),
    ("numpy", lambda s: "def grad_f(A, x, b):" in s),
])
def test_output_file(tmp_path, fmt, check):
    out = tmp_path / f"result.{fmt}"
    r = run("grad", "norm(A*x - b)**2", "x", "--format", fmt, "-o", str(out))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert f"wrote {out}" in r.stderr
    assert check(out.read_text(encoding="utf-8"))


def test_unwritable_output_is_a_usage_error(tmp_path):
    r = run("grad", "x'*x", "x", "--format", "latex", "-o", str(tmp_path / "no" / "such" / "dir.tex"))
    assert r.exit_code == 2 and "cannot write" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--with-value"], "--with-value goes with --format numpy, torch, jax"),
    (["--format", "json", "--equation"], "--equation goes with --format latex"),
    (["--format", "latex", "--latex-style", "fancy"], "unknown --latex-style 'fancy'"),
    (["--format", "png"], "give the file with -o FILE"),
])
def test_option_errors(args, message):
    r = run("grad", "x'*x", "x", *args)
    assert r.exit_code == 2
    assert message in r.stderr


def test_latex_equation_option():
    r = run("grad", "norm(A*x - b)**2", "x", "--format", "latex", "--equation")
    assert r.stdout == latex_equation(matcalc.grad("norm(A*x - b)**2", "x")) + "\n"
    assert r.stdout.startswith("\\[\n\\frac{\\partial}{\\partial \\mathbf{x}}")


# ----------------------------------------------------------------------------- Jupyter

def test_jupyter_representations():
    r = matcalc.grad("norm(A*x - b)**2", "x")
    assert r._repr_latex_() == r"$$2\mathbf{A}^\top(\mathbf{A}\mathbf{x} - \mathbf{b})$$"
    md = r._repr_markdown_()
    assert md.startswith(r"$$2\mathbf{A}^\top(\mathbf{A}\mathbf{x} - \mathbf{b})$$")
    assert "shape n; A: m×n, x: n, b: m" in md
    r = matcalc.jacobian("softmax(z)", "z")
    assert r._repr_latex_().count("$$") == 2 and r"\text{where }" in r._repr_latex_()
