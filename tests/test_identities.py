"""Identity files: the loader's errors (message and line), and checking one identity."""
from __future__ import annotations

import gc
import os
import tracemalloc
from pathlib import Path

import pytest

from matcalc import api
from matcalc.errors import MatcalcError
from matcalc.identities import (DuplicateNameError, FileReadError, Identity, IdentityFileError,
                                IdentityFileErrors, NoIdentitiesError, SchemaError, TomlSyntaxError,
                                check_identity, find_files, load, parse_file, run, select)

CATALOGUE = Path(__file__).resolve().parent.parent / "identities"

GOOD = '''# a comment
[[identity]]
name = "least-squares"
expr = "norm(A*x - b)**2"
wrt = "x"
expected = "2*A'*(A*x - b)"
tags = ["least-squares", "norm"]
source = "Matrix Cookbook"

[[identity]]
name = "quadratic-spd"
expr = "x'*S*x"
wrt = "x"
op = "hessian"
expected = "2*S"
let = { S = "spd" }
'''


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def one_error(paths, cls=IdentityFileError):
    with pytest.raises(cls) as info:
        load(paths)
    err = info.value
    assert isinstance(err, MatcalcError) and err.exit_code == 2
    assert not isinstance(err, IdentityFileErrors), err.render()
    return err


# ------------------------------------------------------------------ reading good files

def test_a_good_file_reads_with_defaults_and_lines(tmp_path):
    p = write(tmp_path, "good.toml", GOOD)
    a, b = load([p])
    assert (a.name, a.expr, a.wrt, a.op, a.expected) == ("least-squares", "norm(A*x - b)**2", "x", "grad",
                                                          "2*A'*(A*x - b)")
    assert a.tags == ("least-squares", "norm") and a.source == "Matrix Cookbook" and a.let == ()
    assert (a.file, a.line) == (str(p), 2)
    assert (b.op, b.lets, b.line) == ("hessian", {"S": "spd"}, 10)


def test_catalogue_lines_point_at_the_identity_headers():
    identities = load([CATALOGUE])
    assert len(identities) >= 369
    assert len({i.name for i in identities}) == len(identities)
    for ident in identities[::17]:
        lines = Path(ident.file).read_text(encoding="utf-8").splitlines()
        assert lines[ident.line - 1].strip() == "[[identity]]"
        assert f'name = "{ident.name}"' in lines[ident.line]


def test_folders_are_searched_recursively_for_identity_files_only(tmp_path):
    write(tmp_path, "a/one.toml", GOOD)
    write(tmp_path, "a/b/two.toml", GOOD.replace('"least-squares"', '"ls2"').replace('"quadratic-spd"', '"q2"'))
    write(tmp_path, "a/pyproject.toml", '[project]\nname = "x"\n')
    write(tmp_path, "a/.hidden/three.toml", GOOD)
    write(tmp_path, "a/notes.txt", "[[identity]]\n")
    files = find_files([tmp_path / "a"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a/one.toml", "a/b/two.toml"]
    assert len(load([tmp_path / "a"])) == 4


def test_an_explicit_toml_file_without_identities_is_skipped(tmp_path):
    p = write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')
    skipped = []
    assert load([p], skipped) == [] and skipped == [str(p)]


def test_files_are_never_modified(tmp_path):
    paths = [write(tmp_path, "good.toml", GOOD), write(tmp_path, "bad.toml", "[[identity]]\nname = 3\n")]
    before = [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths]
    with pytest.raises(IdentityFileError):
        load(paths)
    list(run(load(paths[:1]), trials=1))
    assert [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths] == before


def test_select_by_name_substring_or_exact_tag(tmp_path):
    ids = load([write(tmp_path, "good.toml", GOOD)])
    assert [i.name for i in select(ids, ["squares"])] == ["least-squares"]
    assert [i.name for i in select(ids, ["norm"])] == ["least-squares"]      # a tag
    assert [i.name for i in select(ids, ["nor"])] == []                      # not a whole tag, not in a name
    assert [i.name for i in select(ids, ["spd", "least"])] == ["least-squares", "quadratic-spd"]
    assert len(list(select(ids, []))) == 2


# ------------------------------------------------------------------ errors, with their lines

HEADER = '[[identity]]\nname = "n1"\nexpr = "tr(X)"\nwrt = "X"\nexpected = "I"\n'

CASES = [
    # (file text, error class, line, words of the message)
    (HEADER + 'tag = ["x"]\n', SchemaError, 6, "unknown key 'tag' in identity 'n1'"),
    (HEADER.replace('name = "n1"\n', ""), SchemaError, 1, "has no 'name'"),
    (HEADER.replace('expr = "tr(X)"\n', ""), SchemaError, 1, "identity 'n1' has no 'expr'"),
    (HEADER.replace('wrt = "X"\n', ""), SchemaError, 1, "identity 'n1' has no 'wrt'"),
    (HEADER.replace('expected = "I"\n', ""), SchemaError, 1, "identity 'n1' has no 'expected'"),
    (HEADER.replace('expr = "tr(X)"', "expr = 3"), SchemaError, 3,
     "'expr' of identity 'n1' must be a string, not an integer"),
    (HEADER.replace('expected = "I"', 'expected = ["I"]'), SchemaError, 5, "must be a string, not an array"),
    (HEADER.replace('name = "n1"', "name = true"), SchemaError, 2, "'name' of identity number 1 must be a string"),
    (HEADER + 'tags = "trace"\n', SchemaError, 6, "'tags' of identity 'n1' must be an array of strings"),
    (HEADER + "tags = [1, 2]\n", SchemaError, 6, "'tags' of identity 'n1' must be an array of strings"),
    (HEADER + 'source = 1984\n', SchemaError, 6, "'source' of identity 'n1' must be a string"),
    (HEADER + 'let = "S:spd"\n', SchemaError, 6, "'let' of identity 'n1' must be a table"),
    (HEADER + 'let = { S = "spdd" }\n', SchemaError, 6, "unknown kind 'spdd' for S"),
    (HEADER.replace('wrt = "X"', 'wrt = "X Y"'), SchemaError, 4, "'wrt' of identity 'n1' must be a name"),
    (HEADER.replace('expr = "tr(X)"', 'expr = "  "'), SchemaError, 3, "'expr' of identity 'n1' is empty"),
    (HEADER + 'op = "gradient"\n', SchemaError, 6, "unknown op 'gradient' in identity 'n1'"),
    (HEADER + 'op = 2\n', SchemaError, 6, "'op' of identity 'n1' must be a string"),
    ('title = "x"\n\n' + HEADER, SchemaError, 1, "unknown key 'title' at the top of the file"),
    ('[identity]\nname = "n1"\n', SchemaError, 1, "identity must be an array of tables"),
    (HEADER + '\n[[identity]]\nname = "n1"\nexpr = "x"\nwrt = "x"\nexpected = "x"\n', DuplicateNameError, 7,
     "the name 'n1' is already used at"),
    (HEADER + 'op = "grad\n', TomlSyntaxError, 6, ""),
    ('[[identity]]\nname = "n1"\nexpr = "tr(X)"\nwrt = "X"\nexpected = "I"\nexpected = "2*I"\n', TomlSyntaxError, 6,
     ""),
    ('[[identity]\nname = "n1"\n', TomlSyntaxError, 1, ""),
]


@pytest.mark.parametrize("text, cls, line, words", CASES, ids=[f"{c[1].__name__}-{i}" for i, c in enumerate(CASES)])
def test_invalid_files_name_the_file_and_line(tmp_path, text, cls, line, words):
    p = write(tmp_path, "ids.toml", text)
    err = one_error([p], cls)
    assert type(err) is cls, err.render()
    assert (err.file, err.line) == (str(p), line), err.render()
    assert words in err.message
    assert err.render().startswith(f"{p}:{line}: ")


def test_the_key_line_is_found_within_its_own_identity(tmp_path):
    text = HEADER + "\n" + HEADER.replace("n1", "n2").replace('expr = "tr(X)"', "expr = 5")
    err = one_error([write(tmp_path, "ids.toml", text)], SchemaError)
    assert err.line == 9 and "identity 'n2'" in err.message


def test_a_key_inside_a_multiline_string_is_not_a_table(tmp_path):
    text = HEADER + 'source = """\n[[identity]]\nexpr = 1\n"""\n\n' + HEADER.replace("n1", "n2").replace(
        'wrt = "X"', "wrt = 1")
    err = one_error([write(tmp_path, "ids.toml", text)], SchemaError)
    assert err.line == 14 and "'wrt' of identity 'n2'" in err.message


def test_duplicate_names_across_files(tmp_path):
    a = write(tmp_path, "a.toml", HEADER)
    b = write(tmp_path, "b.toml", "# second file\n\n" + HEADER)
    err = one_error([a, b], DuplicateNameError)
    assert (err.file, err.line) == (str(b), 3)
    assert f"already used at {a}:1" in err.message


def test_malformed_toml_reports_tomllib_line(tmp_path):
    p = write(tmp_path, "ids.toml", HEADER + "\n\nthis is not toml\n")
    err = one_error([p], TomlSyntaxError)
    assert err.line == 8 and "TOML syntax error" in err.render()


def test_a_file_that_is_not_utf8(tmp_path):
    p = write(tmp_path, "latin1.toml", HEADER + 'source = "Möller"\n', encoding="latin-1")
    err = one_error([p], FileReadError)
    assert err.line == 6 and "not UTF-8" in err.message and "0xf6" in err.message


def test_an_unreadable_file(tmp_path, monkeypatch):
    link = tmp_path / "dangling.toml"
    link.symlink_to(tmp_path / "gone.toml")
    err = one_error([link], FileReadError)
    assert err.file == str(link) and err.line is None and "No such file" in err.message
    p = write(tmp_path, "secret.toml", HEADER)
    real_open = open

    def deny(path, *args, **kw):
        if str(path) == str(p):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr("builtins.open", deny)
    err = one_error([p], FileReadError)
    assert err.render() == f"{p}: cannot read: Permission denied"


def test_a_missing_path(tmp_path):
    err = one_error([tmp_path / "nothere.toml"], FileReadError)
    assert "no such file or folder" in err.message


def test_a_folder_without_identity_files(tmp_path):
    (tmp_path / "empty").mkdir()
    write(tmp_path, "other/pyproject.toml", '[project]\nname = "x"\n')
    for folder in ("empty", "other"):
        err = one_error([tmp_path / folder], NoIdentitiesError)
        assert err.file == str(tmp_path / folder) and "no identity files" in err.message


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    a = write(tmp_path, "a.toml", HEADER + 'op = "hess"\n\n' + HEADER.replace("n1", "n2") + "extra = 1\n")
    b = write(tmp_path, "b.toml", "[[identity]\n")
    with pytest.raises(IdentityFileErrors) as info:
        load([a, b])
    got = [(Path(e.file).name, e.line, type(e).__name__) for e in info.value.errors]
    assert got == [("a.toml", 6, "SchemaError"), ("a.toml", 13, "SchemaError"), ("b.toml", 1, "TomlSyntaxError")]
    text = info.value.render()
    assert f"{a}:6: invalid identity: unknown op 'hess'" in text and f"{a}:13: " in text


def test_parse_file_returns_identities_and_problems(tmp_path):
    p = write(tmp_path, "ids.toml", GOOD + "\n" + HEADER + "colour = 1\n")
    items, errors = parse_file(p)
    assert [i.name for i in items] == ["least-squares", "quadratic-spd"]
    assert [(e.line, e.message) for e in errors] == [(23, "unknown key 'colour' in identity 'n1'")]


# ------------------------------------------------------------------ checking one identity

def ident(expr, wrt, expected, op="grad", let=()):
    return Identity("t", expr, wrt, expected, op, tuple(dict(let).items()))


@pytest.mark.parametrize("expr, wrt, op, expected, let", [
    ("norm(A*x - b)**2", "x", "grad", "2*A'*(A*x - b)", ()),
    ("sum(x)", "x", "grad", "ones(n)", ()),                      # a size named as matcalc names it
    ("norm(x)**2", "x", "hessian", "2*I", ()),                   # I takes the answer's size
    ("tr(X)", "X", "grad", "eye(n)", ()),
    ("x'*S*x", "x", "grad", "2*S*x", {"S": "symmetric"}),
    ("logdet(X)", "X", "grad", "inv(X)'", ()),
    ("A*x", "x", "jacobian", "A", ()),
    ("x'*A*x", "x", "jacobian", "x'*(A + A')", ()),              # 1×n for a scalar function
    ("W*x", "W", "vjp", "g*x'", ()),
    ("alpha*x", "alpha", "vjp", "x'*g", ()),
    ("x'*A", "x", "vjp", "A*G'", ()),                            # G, a row, for a row function
    ("A*X", "X", "vjp", "A'*G", ()),
    ("A*X", "X", "jvp", "A*V", ()),
    ("tanh(x)", "x", "jvp", "(ones(n) - tanh(x) .^ 2) .* v", ()),
    ("g'*x", "x", "vjp", "g*g2", ()),                            # g taken: the upstream gradient is g2
])
def test_true_identities_pass(expr, wrt, op, expected, let):
    out = check_identity(ident(expr, wrt, expected, op, let), trials=2, seed=1)
    assert out.status == "passed", out.message
    assert out.max_error < 1e-6 and out.time > 0 and out.derived


@pytest.mark.parametrize("expr, wrt, op, expected, words", [
    ("norm(A*x - b)**2", "x", "grad", "-2*A'*(A*x - b)",
     "expected differs from finite differences"),
    ("a'*A*x", "x", "grad", "A*a",
     "expected only fits when m = n (A is m×n, a is m, x is n): the identity must hold for all sizes"),
    ("sum(x)", "x", "grad", "ones(3)", "expected only fits when n = 3"),
    ("norm(x)**2", "x", "hessian", "2*x", "expected is n, the hessian is n×n"),
    ("a'*x", "x", "grad", "a'", "expected is 1×n, the grad is n"),
    ("W*x", "W", "vjp", "g*y'", "expected uses y, which expr does not: the vjp's extra input is named g"),
    ("a'*x", "x", "grad", "a + a'", "expected does not fit the expression: shape error: cannot add"),
    ("x'*x", "x", "grad", "a + b", "expected uses a, b, which expr does not"),
])
def test_wrong_identities_fail_with_a_reason(expr, wrt, op, expected, words):
    out = check_identity(ident(expr, wrt, expected, op), trials=2, seed=0)
    assert out.status in ("failed", "error") and words in out.message, out.message


def test_wrong_sign_reports_both_checks_and_matcalcs_answer():
    out = check_identity(ident("norm(A*x - b)**2", "x", "-2*A'*(A*x - b)"), trials=2)
    assert out.status == "failed" and out.max_error > 1
    assert "matcalc's grad 2Aᵀ(Ax − b) differs from expected" in out.message
    assert out.derived == "2Aᵀ(Ax − b)"


@pytest.mark.parametrize("expr, wrt, op, expected, words", [
    ("tr(A*X", "X", "grad", "A'", "syntax error in expr: unclosed parenthesis"),
    ("tr(A*X)", "X", "grad", "A'+", "syntax error in expected:"),
    ("x'*A*x", "q", "grad", "x", "the variable 'q' does not occur"),
    ("A*x", "x", "grad", "A", "grad needs a scalar function"),
])
def test_identities_that_cannot_be_checked_are_errors(expr, wrt, op, expected, words):
    out = check_identity(ident(expr, wrt, expected, op))
    assert out.status == "error" and words in out.message, out.message


def test_a_wrong_derivation_by_matcalc_fails_the_identity(monkeypatch):
    """Check (b): matcalc's own answer must agree with expected (here the engine is made wrong)."""
    real = api.derivative

    def wrong(kind, expr, wrt, let=None, steps=False):
        r = real(kind, expr, wrt, let, steps)
        from matcalc import algebra as alg
        r.expr = alg.scale(3, r.expr)
        return r

    monkeypatch.setattr(api, "derivative", wrong)
    out = check_identity(ident("a'*x", "x", "a"))
    assert out.status == "failed" and "matcalc's grad 3a differs from expected (relative error" in out.message


def test_check_is_seeded_and_reports_time_and_error():
    a = check_identity(ident("logdet(X)", "X", "inv(X)'"), trials=2, seed=5)
    b = check_identity(ident("logdet(X)", "X", "inv(X)'"), trials=2, seed=5)
    c = check_identity(ident("logdet(X)", "X", "inv(X)'"), trials=2, seed=6)
    assert a.max_error == b.max_error != c.max_error
    d = a.as_dict()
    assert d["status"] == "passed" and d["message"] == "" and isinstance(d["max_error"], float)


def test_runs_in_order_in_processes(tmp_path):
    ids = load([CATALOGUE / "trace.toml"])[:12]
    serial = [o.name for o in run(ids, trials=1)]
    parallel = list(run(ids, trials=1, jobs=2, window=3))
    assert [o.name for o in parallel] == serial == [i.name for i in ids]
    assert all(o.passed for o in parallel)


def test_processes_start_safely_when_other_threads_run():
    """Forking a multithreaded process can deadlock: with another thread alive, a fork server is used."""
    import multiprocessing as mp
    import threading

    from matcalc.identities import _context
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        assert _context(mp).get_start_method() == "forkserver"
        ids = load([CATALOGUE / "trace.toml"])[:6]
        assert [o.name for o in run(ids, trials=1, jobs=2) if o.passed] == [i.name for i in ids]
    finally:
        stop.set()


@pytest.mark.slow
def test_memory_stays_constant_per_identity():
    """Streaming: nothing but the small outcome record is kept per identity."""
    def stream(count):
        for k in range(count):
            c = k + 2    # a new function each time, so no graph is shared between identities
            yield Identity(f"id{k}", f"{c}*x'*A*x + sum(exp(W*x))", "x", f"{c}*(A + A')*x + W'*exp(W*x)")

    # count what matcalc's own code keeps alive: pytest's warning capture and other libraries' caches
    # (which depend on the tests that ran before) are not matcalc's memory
    only_matcalc = [tracemalloc.Filter(True, "*/matcalc/*")]
    tracemalloc.start()
    try:
        sizes = {}
        for i, outcome in enumerate(run(stream(90), trials=1)):
            assert outcome.passed, outcome.message
            if i + 1 in (30, 90):
                gc.collect()
                snapshot = tracemalloc.take_snapshot().filter_traces(only_matcalc)
                sizes[i + 1] = sum(stat.size for stat in snapshot.statistics("filename"))
    finally:
        tracemalloc.stop()
    assert sizes[90] - sizes[30] < 100_000, sizes
