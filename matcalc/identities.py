"""Identity files: a catalogue of derivatives, each checked two ways.

An identity file is a TOML file (UTF-8) holding an array of ``[[identity]]``
tables, one per identity::

    # Comments are welcome.
    [[identity]]
    name = "least-squares"                # required, unique across all files checked together
    expr = "norm(A*x - b)**2"             # required: the function, in matcalc syntax
    wrt = "x"                             # required: the variable (a name in expr)
    op = "grad"                           # optional: grad (default), jacobian, hessian, vjp, jvp
    expected = "2*A'*(A*x - b)"           # required: the derivative, in matcalc syntax
    let = { S = "spd" }                   # optional: declarations, as --let (kind or kind(sizes))
    tags = ["least-squares"]              # optional: list of strings (matched by --filter)
    source = "Matrix Cookbook, eq. (84)"  # optional: where the identity comes from

``expected`` is typed together with ``expr``, so it shares its names and
sizes, and it is tied to the shape of the answer, so ``I``, ``eye(n)`` and
``ones(n)`` take the answer's sizes. It must not force sizes the expression
leaves free to be equal or fixed (an ``expected`` that only types when ``A``
is square is wrong: the identity must hold for all sizes).
Its shape is the shape of the answer: the shape of ``wrt`` for ``grad`` and
``vjp``, m×n for the ``jacobian`` of an m-vector w.r.t. an n-vector (1×n for a
scalar), n×n for the ``hessian``, the shape of ``expr`` for ``jvp``.
The upstream gradient of a ``vjp`` is named ``g`` (``G`` when ``expr`` is a
matrix or a row) and has the shape of ``expr``; the direction of a ``jvp`` is
``v`` (``V`` when ``wrt`` is a matrix) and has the shape of ``wrt``: the names
matcalc gives them (if ``expr`` already uses one, the next free one: ``g2``,
...). The size of a row is named as matcalc names it for ``expr`` alone.
Unless the identity says otherwise with ``op``, it is a gradient: ``expr``
must be a scalar.

Files: a path is a file or a folder; folders are searched recursively
(hidden folders skipped) for ``*.toml`` files with ``[[identity]]`` tables.
A TOML file given by name without any identity table (a pre-commit hook
passing pyproject.toml) is skipped with a note.

No other keys are allowed, in an identity or at the top of the file. A
mistake in a file (malformed TOML, a file that is not UTF-8 or cannot be
read, an unknown or missing key, a value of the wrong type, an unknown op,
a name used twice, a folder without identity files) is an
`IdentityFileError` naming the file and the line; the command line exits
with code 2 before checking anything. Files are only read, never written.

Checking an identity (`check_identity`):

(a) ``expected`` agrees with finite differences of ``expr``
    (`matcalc.verify.check`: random distinct sizes, inputs from each name's
    domain, several trials, seeded);
(b) matcalc's own derivation of ``expr`` has the shape of ``expected`` and
    agrees with it numerically at random points (same sizes, same values,
    relative error at most 1e-8).

The outcome is a small record: status ``passed``, ``failed`` (the identity, or
matcalc's derivation, is wrong), ``inconclusive`` (finite differences could
neither confirm nor refute expected; matcalc's derivation agrees with it) or
``error`` (it cannot be checked: an expression does not parse, matcalc
refuses the derivative, no point where the function is finite), the worst relative error, the time and a message.
Identities are checked one at a time and nothing but that record is kept,
so a file of any length verifies in constant memory per identity.
"""
from __future__ import annotations

import math
import os
import re
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .errors import MatcalcError

OPS = ("grad", "jacobian", "hessian", "vjp", "jvp")
REQUIRED = ("name", "expr", "wrt", "expected")
KEYS = ("name", "expr", "wrt", "op", "expected", "let", "tags", "source")
AGREEMENT = 1e-8          # matcalc's derivation against `expected`, relative
_REDRAWS = 20

# A file looks like an identity file when it has an [[identity]] table (or an identity = key).
_LOOKS = re.compile(rb'(?m)^[ \t]*(\[\[[ \t]*(identity|"identity"|\'identity\')[ \t]*\]\]|'
                    rb'(identity|"identity")[ \t]*=)')
_HEADER = re.compile(r'^[ \t]*\[\[[ \t]*(identity|"identity"|\'identity\')[ \t]*\]\]')
_TABLE = re.compile(r'^[ \t]*\[')
_SKIP_DIRS = {"__pycache__", "node_modules"}


# ====================================================================== errors

class IdentityFileError(MatcalcError):
    """A problem with an identity file, at a line (1-based; None when the whole file is at fault)."""

    kind = "identity file error"

    def __init__(self, message: str, file, line: int | None = None, hint: str | None = None):
        super().__init__(message, None, hint)
        self.file = str(file)
        self.line = line

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        out = f"{self.location}: {self.kind}: {self.message}"
        return out + (f"\n  hint: {self.hint}" if self.hint else "")


class TomlSyntaxError(IdentityFileError):
    kind = "TOML syntax error"


class FileReadError(IdentityFileError):
    kind = "cannot read"


class SchemaError(IdentityFileError):
    kind = "invalid identity"


class DuplicateNameError(SchemaError):
    kind = "duplicate identity"


class NoIdentitiesError(IdentityFileError):
    kind = "no identities"


class IdentityFileErrors(IdentityFileError):
    """Several problems at once; file and line are the first one's."""

    def __init__(self, errors: list[IdentityFileError]):
        first = errors[0]
        super().__init__(f"{len(errors)} problems in identity files", first.file, first.line)
        self.errors = errors

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


# ====================================================================== the record

@dataclass(frozen=True)
class Identity:
    name: str
    expr: str
    wrt: str
    expected: str
    op: str = "grad"
    let: tuple = ()           # ((name, kind), ...), in file order
    tags: tuple = ()
    source: str = ""
    file: str = ""
    line: int = 0

    @property
    def lets(self) -> dict:
        return dict(self.let)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Outcome:
    """What checking one identity found: small, picklable, kept for the report."""

    name: str
    status: str               # passed | failed | inconclusive | error
    max_error: float = float("nan")
    time: float = 0.0
    message: str = ""
    file: str = ""
    line: int = 0
    op: str = "grad"
    tags: tuple = ()
    derived: str = ""         # matcalc's own result, as text

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["tags"] = list(self.tags)
        d["max_error"] = self.max_error if math.isfinite(self.max_error) else None
        return d


# ====================================================================== finding files

def looks_like_identity_file(path) -> bool:
    """True when the file has an [[identity]] table (read as bytes: any encoding, unreadable = False)."""
    try:
        with open(path, "rb") as fh:
            return _LOOKS.search(fh.read()) is not None
    except OSError:
        return False


def find_files(paths: Iterable) -> list[Path]:
    """The identity files among paths: files as given, folders searched recursively for *.toml
    files with an [[identity]] table (hidden folders skipped). A folder without any is an error."""
    out: list[Path] = []
    seen: set = set()

    def add(p: Path):
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                for f in sorted(files):
                    if f.endswith(".toml") and looks_like_identity_file(Path(root) / f):
                        found.append(Path(root) / f)
            if not found:
                raise NoIdentitiesError("no identity files (*.toml with [[identity]] tables) in this folder",
                                        p, None, "an identity file holds [[identity]] tables; see identities/README.md")
            for f in found:
                add(f)
        elif p.exists() or p.is_symlink():
            add(p)
        else:
            raise FileReadError("no such file or folder", p)
    return out


# ====================================================================== reading one file

def read_text(path) -> str:
    """The file's text; FileReadError / TomlSyntaxError when it cannot be read or is not UTF-8."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except IsADirectoryError:
        raise FileReadError("is a folder, not a file", path) from None
    except OSError as exc:
        raise FileReadError(exc.strerror or str(exc), path) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FileReadError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line})", path, line,
                            "identity files are TOML, which is UTF-8") from None


def _table_lines(text: str) -> tuple[list[int], list[int]]:
    """Line numbers (1-based) of every [[identity]] header and of every table header, skipping
    the inside of multi-line strings."""
    headers, tables = [], []
    in_string = None
    for no, line in enumerate(text.splitlines(), 1):
        if in_string is None:
            if _HEADER.match(line):
                headers.append(no)
            if _TABLE.match(line):
                tables.append(no)
        # track multi-line strings: an odd number of delimiters toggles the state
        for delim in ('"""', "'''"):
            if in_string in (None, delim):
                count = line.split("#", 1)[0].count(delim) if in_string is None else line.count(delim)
                if count % 2 == 1:
                    in_string = None if in_string == delim else delim
    return headers, tables


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    pat = re.compile(r'^[ \t]*(%s|"%s"|\'%s\')[ \t]*[.=]' % ((re.escape(key),) * 3))
    for no in range(start, min(end, len(lines)) + 1):
        if pat.match(lines[no - 1]):
            return no
    return None


def _top_key_line(lines: list[str], key: str) -> int | None:
    pat = re.compile(r'^[ \t]*\[*[ \t]*(%s|"%s"|\'%s\')[ \t]*[\].=]' % ((re.escape(key),) * 3))
    for no, line in enumerate(lines, 1):
        if pat.match(line):
            return no
    return None


def _is_str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(t, str) for t in v)


def _type_name(v) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


def parse_file(path, text: str | None = None) -> tuple[list[Identity], list[IdentityFileError]]:
    """Read and validate one file: its identities and every problem found (with lines)."""
    path = Path(path)
    if text is None:
        text = read_text(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = getattr(exc, "lineno", None)
        if line is None:
            m = re.search(r"line (\d+)", msg)
            line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)$|\s*\(at end of document\)$", "", msg)
        raise TomlSyntaxError(msg, path, line) from None
    lines = text.splitlines()
    errors: list[IdentityFileError] = []
    if "identity" not in doc:       # not an identity file (pyproject.toml): the caller decides
        return [], errors
    for key in doc:
        if key != "identity":
            errors.append(SchemaError(f"unknown key {key!r} at the top of the file", path, _top_key_line(lines, key),
                                      "an identity file holds only [[identity]] tables"))
    items = doc.get("identity")
    if items is None:
        return [], errors
    if not isinstance(items, list):
        errors.append(SchemaError("identity must be an array of tables: write [[identity]], not [identity]",
                                  path, _top_key_line(lines, "identity")))
        return [], errors
    headers, tables = _table_lines(text)
    if len(headers) != len(items):   # inline tables (identity = [{...}]): point at the key
        headers = [_top_key_line(lines, "identity") or 1] * len(items)
    out = []
    for i, item in enumerate(items):
        start = headers[i]
        end = min([t - 1 for t in tables if t > start], default=len(lines))
        if headers[i] == (headers[i + 1] if i + 1 < len(headers) else None):
            end = start

        def at(key, start=start, end=end):
            return _key_line(lines, start, end, key) or start

        if not isinstance(item, dict):
            errors.append(SchemaError(f"identity number {i + 1} is {_type_name(item)}, not a table", path, start))
            continue
        who = f"identity {item['name']!r}" if isinstance(item.get("name"), str) else f"identity number {i + 1}"
        bad = False
        for key in item:
            if key not in KEYS:
                import difflib
                close = difflib.get_close_matches(key, KEYS, n=1)
                errors.append(SchemaError(f"unknown key {key!r} in {who}", path, at(key),
                                          f"did you mean {close[0]!r}?" if close else
                                          "keys: " + ", ".join(KEYS)))
                bad = True
        for key in REQUIRED:
            if key not in item:
                errors.append(SchemaError(f"{who} has no {key!r}", path, start,
                                          "required keys: " + ", ".join(REQUIRED)))
                bad = True
        for key in ("name", "expr", "wrt", "expected", "op", "source"):
            if key in item:
                v = item[key]
                if not isinstance(v, str):
                    errors.append(SchemaError(f"{key!r} of {who} must be a string, not "
                                              f"{_type_name(v)}", path, at(key)))
                    bad = True
                elif key != "source" and not v.strip():
                    errors.append(SchemaError(f"{key!r} of {who} is empty", path, at(key)))
                    bad = True
        if isinstance(item.get("wrt"), str) and item["wrt"].strip() and not item["wrt"].strip().isidentifier():
            errors.append(SchemaError(f"'wrt' of {who} must be a name, got {item['wrt']!r}",
                                      path, at("wrt")))
            bad = True
        if isinstance(item.get("op"), str) and item["op"].strip() and item["op"] not in OPS:
            import difflib
            close = difflib.get_close_matches(item["op"], OPS, n=1)
            errors.append(SchemaError(f"unknown op {item['op']!r} in {who}", path, at("op"),
                                      (f"did you mean {close[0]!r}? " if close else "") + "ops: " + ", ".join(OPS)))
            bad = True
        if "tags" in item and not _is_str_list(item["tags"]):
            errors.append(SchemaError(f"'tags' of {who} must be an array of strings", path, at("tags")))
            bad = True
        lets = ()
        if "let" in item:
            v = item["let"]
            if not isinstance(v, dict) or not all(isinstance(k, str) for k in v.values()):
                errors.append(SchemaError(f"'let' of {who} must be a table of strings, "
                                          "like let = {{ S = \"spd\" }}", path, at("let")))
                bad = True
            else:
                from .typecheck import parse_decl
                try:
                    for n, k in v.items():
                        parse_decl(n, k)
                except MatcalcError as exc:
                    errors.append(SchemaError(f"in 'let' of {who}: {exc.message}", path, at("let"),
                                              exc.hint))
                    bad = True
                lets = tuple(v.items())
        if bad:
            continue
        out.append(Identity(name=item["name"], expr=item["expr"], wrt=item["wrt"].strip(),
                            expected=item["expected"], op=item.get("op", "grad"), let=lets,
                            tags=tuple(item.get("tags", ())), source=item.get("source", ""),
                            file=str(path), line=start))
    return out, errors


def load_file(path) -> list[Identity]:
    """One file's identities; raises IdentityFileError on any problem (names unique within it)."""
    return load([path])


def load(paths: Iterable, skipped: list | None = None) -> list[Identity]:
    """Every identity in paths (files, or folders searched for *.toml identity files), validated.

    All problems in all files are collected; one raises as itself, several as
    IdentityFileErrors. A file given explicitly that is valid TOML without any
    identity table (pyproject.toml passed by a pre-commit hook) is skipped and
    appended to `skipped`.
    """
    errors: list[IdentityFileError] = []
    out: list[Identity] = []
    names: dict[str, Identity] = {}
    try:
        files = find_files(paths)
    except IdentityFileError as exc:
        errors.append(exc)
        files = []
        for raw in paths:     # the other paths still get checked, for a complete report
            try:
                files.extend(f for f in find_files([raw]) if f not in files)
            except IdentityFileError as more:
                if more.render() != exc.render():
                    errors.append(more)
    for f in files:
        try:
            items, errs = parse_file(f)
        except IdentityFileError as exc:
            errors.append(exc)
            continue
        errors.extend(errs)
        if not items and not errs and not looks_like_identity_file(f):
            if skipped is not None:
                skipped.append(str(f))
            continue
        for ident in items:
            prev = names.get(ident.name)
            if prev is not None:
                errors.append(DuplicateNameError(f"the name {ident.name!r} is already used at {prev.location}",
                                                 f, ident.line, "every identity needs its own name"))
                continue
            names[ident.name] = ident
            out.append(ident)
    order = {str(f): i for i, f in enumerate(files)}
    errors.sort(key=lambda e: (order.get(e.file, -1), e.line or 0))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise IdentityFileErrors(errors)
    return out


def select(identities: Iterable[Identity], filters) -> Iterator[Identity]:
    """Identities whose name contains one of the filters or that carry one as a tag (all without filters)."""
    filters = [f for f in (filters or ()) if f]
    for ident in identities:
        if not filters or any(f in ident.name or f in ident.tags for f in filters):
            yield ident


# ====================================================================== checking

class _Failed(Exception):
    """The identity is wrong (status failed): message and worst error so far."""

    def __init__(self, message, error=float("nan")):
        super().__init__(message)
        self.message, self.error = message, error


def _decl(shape) -> str:
    """A declaration for a name of this shape; only a row needs its size (matrix(1,n)): the other
    sizes are tied by an expression (see _tie)."""
    if shape == (1, 1):
        return "scalar"
    if shape[1] == 1:
        return "vector"
    if shape[0] == 1:
        return f"matrix(1,{shape[1]})"
    return "matrix"


def _fresh(base: str, taken) -> str:
    name, i = base, 2
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


def _aux_name(op, f_shape, x_shape, names):
    """The name matcalc gives the vjp's upstream gradient / the jvp's direction (as api.derivative)."""
    from .shapes import is_column, is_scalar
    if op == "vjp":
        return _fresh("g" if is_column(f_shape) or is_scalar(f_shape) else "G", names)
    if op == "jvp":
        return _fresh("v" if is_column(x_shape) or is_scalar(x_shape) else "V", names)
    return None


def _tie(op, n, expr, wrt, what) -> str:
    """An expression that types only when the name n has the shape of `what`:
    the function ("f"), the variable ("x") or the answer ("answer")."""
    if what == "f" or what == "answer" and op == "jvp":
        return f"{n} + ({expr})"
    if what == "x" or what == "answer" and op in ("grad", "vjp"):
        return f"{n} + {wrt}"
    if op == "hessian":
        return f"{n}*{wrt} + {wrt}"
    return f"{n}*{wrt} + ({expr})"       # jacobian: m×n (1×n for a scalar function)


def _answer_shape(op, f_shape, x_shape):
    if op in ("grad", "vjp"):
        return x_shape
    if op == "jvp":
        return f_shape
    if op == "hessian":
        return (x_shape[0], x_shape[0])
    return (1, x_shape[0]) if f_shape == (1, 1) else (f_shape[0], x_shape[0])


def _merged_sizes(alone: dict, shared: dict, names) -> str | None:
    """Sizes the expression leaves free that typing `expected` made equal or fixed ("m = n"), or None."""
    groups: dict = {}
    for n in sorted(names):
        if n in alone and n in shared:
            for a, b in zip(alone[n].shape, shared[n].shape):
                if not isinstance(a, int):
                    groups.setdefault(b, set()).add(a)
    eqs = [" = ".join(sorted(g) + ([str(b)] if isinstance(b, int) else []))
           for b, g in groups.items() if len(g) > 1 or isinstance(b, int)]
    if not eqs:
        return None
    from .shapes import fmt_shape
    hit = {a for b, g in groups.items() if len(g) > 1 or isinstance(b, int) for a in g}
    who = [f"{n} is {fmt_shape(alone[n].shape)}" for n in sorted(names)
           if n in alone and any(d in hit for d in alone[n].shape)]
    return ", ".join(eqs) + " (" + ", ".join(who) + ")"


def check_identity(ident: Identity, trials: int = 3, seed: int = 0) -> Outcome:
    """Check one identity two ways (see the module docstring); never raises."""
    t0 = time.perf_counter()
    out = Outcome(ident.name, "passed", file=ident.file, line=ident.line, op=ident.op, tags=tuple(ident.tags))
    try:
        out.max_error, out.derived, problems, unsure = _check(ident, trials, seed)
        if problems:
            out.status, out.message = "failed", "; ".join(problems)
        elif unsure:
            out.status, out.message = "inconclusive", unsure
    except _Failed as exc:
        out.status, out.message, out.max_error = "failed", exc.message, exc.error
        out.derived = _derive_text(ident)
    except MatcalcError as exc:
        out.status, out.message = "error", _one_line(exc)
    except RecursionError:
        out.status, out.message = "error", "limit exceeded: the expression is too deeply nested"
    except Exception as exc:   # a bug in matcalc: reported, not raised
        out.status, out.message = "error", f"internal error: {type(exc).__name__}: {exc}"
    out.time = time.perf_counter() - t0
    return out


def _derive_text(ident: Identity) -> str:
    """matcalc's own answer as text, for the report of a failing identity ("" when it has none)."""
    try:
        from .api import derivative
        r = derivative(ident.op, ident.expr, ident.wrt, ident.lets)
        return r.text
    except Exception:
        return ""


def _one_line(exc: MatcalcError) -> str:
    part = getattr(exc, "part", None)
    msg = f"{exc.kind}{f' in {part}' if part else ''}: {exc.message}"
    if exc.source is not None and exc.span is not None:
        msg += f" (in {exc.source!r}, column {exc.span[0] + 1})"
    return msg + (f"; hint: {exc.hint}" if exc.hint else "")


@dataclass
class Prepared:
    """An identity typed: the function f and expected e as graphs sharing names and sizes."""

    identity: Identity
    f: object                 # Expr
    e: object                 # Expr
    symbols: dict             # name -> (kind, shape) of f's names and the aux input
    aux: str | None           # the vjp's g / the jvp's v
    domains: dict             # name -> set of domains (from f's ops)
    parsed: object            # api.Parsed of f, for matcalc's own derivation

    @property
    def function(self):
        """f as typed, for the verifier (judge.Function)."""
        return self.parsed.typed

    def points(self, count: int, seed: int):
        """`count` random points (sizes, values) where e is finite: sizes drawn once, values from
        each name's kind and domain (the aux input standard normal), as the verifier draws them."""
        import numpy as np

        from .numeric import evaluate
        from .verify import draw_sizes, draw_value
        rng = np.random.default_rng(seed)
        dims = {d for _, shape in self.symbols.values() for d in shape if isinstance(d, str)}
        sizes = draw_sizes(dims, rng)
        concrete = {n: tuple(d if isinstance(d, int) else sizes[d] for d in shape)
                    for n, (_, shape) in self.symbols.items()}
        for _ in range(count):
            for _ in range(_REDRAWS):
                vals = {n: (rng.standard_normal(concrete[n]) if n == self.aux else
                            draw_value(kind, concrete[n], self.domains.get(n, set()), rng))
                        for n, (kind, _) in self.symbols.items()}
                if np.all(np.isfinite(evaluate(self.e, vals, sizes))):
                    break
            yield sizes, vals


def prepare(ident: Identity) -> Prepared:
    """Type an identity's expr and expected together; MatcalcError when one cannot be read,
    _Failed when expected does not fit (names, sizes, shape)."""
    from . import api
    from .errors import ParseError
    from .expr import free_leaves
    from .shapes import fmt_shape
    from .syntax import parse_syntax
    from .typecheck import typecheck

    op, wrt, let = ident.op, ident.wrt, ident.lets
    # -- the expression alone: its names and free sizes
    try:
        alone, = typecheck(ident.expr, let)
    except MatcalcError as exc:
        exc.part = "expr"           # named by _one_line: "syntax error in expr: ..."
        raise
    if wrt not in alone.symbols:
        raise MatcalcError(f"the variable {wrt!r} does not occur in expr {ident.expr!r}")
    x = alone.symbols[wrt]
    check_kind = getattr(api, "_check_kind", None)     # grad of a vector, jacobian by a matrix, ...
    if check_kind is not None:
        from . import algebra as alg
        check_kind(op, alone.expr, alg.sym(wrt, x.shape, x.kind), ident.expr, wrt)
    try:
        parse_syntax(ident.expected)
    except ParseError as exc:
        exc.part = "expected"
        raise exc.with_source(ident.expected)
    f_names = set(alone.symbols)
    aux = _aux_name(op, alone.expr.shape, alone.symbols[wrt].shape, f_names)
    lets = dict(let)
    ties = []
    if aux is not None:     # the vjp's g has the function's shape, the jvp's v the variable's
        lets[aux] = _decl(alone.expr.shape if op == "vjp" else alone.symbols[wrt].shape)
        ties.append(_tie(op, aux, ident.expr, wrt, "f" if op == "vjp" else "x"))
    # -- expected typed with the expression, sharing names and sizes
    try:
        free = typecheck(ident.expr, lets, extra=(ident.expected, *ties))
    except MatcalcError as exc:
        where = "expected" if exc.source == ident.expected else f"expected's {aux}"
        raise _Failed(f"{where} does not fit the expression: {_one_line(exc)}") from None
    # -- ... and tied to the shape of the answer, so that I, eye(n), ones(n) take the answer's sizes
    want = _answer_shape(op, free[0].expr.shape, free[0].symbols[wrt].shape)
    answer = _fresh("Answer", f_names | set(free[0].symbols))
    lets[answer] = _decl(want)
    try:
        typed = typecheck(ident.expr, lets, extra=(f"({ident.expected}) + 0*{answer}", *ties,
                                                   _tie(op, answer, ident.expr, wrt, "answer")))
    except MatcalcError:
        raise _Failed(f"expected is {fmt_shape(free[1].expr.shape)}, the {op} is {fmt_shape(want)}") from None
    f, e = typed[0].expr, typed[1].expr
    shared = typed[0].symbols
    others = sorted(s.attrs[0] for s in free_leaves(e) if s.attrs[0] not in f_names and s.attrs[0] != aux)
    if others:
        raise _Failed(f"expected uses {', '.join(others)}, which expr does not: "
                      + (f"the {op}'s extra input is named {aux}" if aux else "a derivative uses only expr's names"))
    merged = _merged_sizes(alone.symbols, shared, f_names)
    if merged:
        raise _Failed(f"expected only fits when {merged}: the identity must hold for all sizes")
    want = _answer_shape(op, f.shape, shared[wrt].shape)
    if e.shape != want:     # cannot happen after the tie; kept as a guard
        raise _Failed(f"expected is {fmt_shape(e.shape)}, the {op} is {fmt_shape(want)}")
    symbols = {n: (s.kind, s.shape) for n, s in shared.items() if n in f_names}
    if aux is not None:
        symbols[aux] = ("vector" if shared[aux].shape[1] == 1 else "matrix", shared[aux].shape)
    parsed = api.Parsed(ident.expr, f, {n: s for n, s in shared.items() if n in f_names},
                        typed[0].tree, typed[0].tree_shapes)
    return Prepared(ident, f, e, symbols, aux, parsed.typed.domains(), parsed)


def _check(ident: Identity, trials: int, seed: int):
    import numpy as np

    from . import api
    from .numeric import evaluate
    from .printing import text as print_text
    from .shapes import fmt_shape
    from .verify import check, relative_error

    prep = prepare(ident)
    op, f, e, aux = ident.op, prep.f, prep.e, prep.aux
    problems = []
    # -- (a) expected against finite differences
    report = check(op, prep.function, ident.wrt, e, prep.symbols, prep.domains, trials=trials, seed=seed, aux=aux)
    worst = report.max_error
    if report.status == "failed":
        problems.append(f"expected {report.message}")
    unsure = f"finite differences cannot confirm expected: {report.message}" \
        if report.status == "inconclusive" else ""
    # -- (b) matcalc's derivation against expected
    try:
        result = api.derivative(op, prep.parsed, ident.wrt, ident.lets)
    except MatcalcError as exc:
        if problems:
            raise _Failed(problems[0], worst) from None
        exc.part = "matcalc's derivation"
        raise
    derived = print_text(result.expr, result.symbols)
    if result.aux != aux:
        raise AssertionError(f"matcalc names the {op}'s input {result.aux}, expected {aux}")
    if result.expr.shape != e.shape:
        problems.append(f"matcalc's {op} {derived} is {fmt_shape(result.expr.shape)}, expected is "
                        f"{fmt_shape(e.shape)}")
        return worst, derived, problems, unsure
    agree = 0.0
    for sizes, vals in prep.points(max(1, trials), seed):
        want_v = evaluate(e, vals, sizes)
        got_v = evaluate(result.expr, vals, sizes)
        if not (np.all(np.isfinite(want_v)) and np.all(np.isfinite(got_v))):
            problems.append(f"matcalc's {op} {derived} or expected is not finite at {_REDRAWS} random points")
            break
        err = relative_error(got_v, want_v)
        agree = max(agree, err)
        if not err <= AGREEMENT:
            problems.append(f"matcalc's {op} {derived} differs from expected (relative error {err:.1e} "
                            f"> {AGREEMENT:.0e})")
            break
    worst = max(worst, agree) if math.isfinite(worst) else worst
    return worst, derived, problems, unsure


# ====================================================================== running many

def run(identities: Iterable[Identity], trials: int = 3, seed: int = 0, jobs: int = 1,
        window: int | None = None) -> Iterator[Outcome]:
    """Check identities and yield their outcomes in input order, one at a time.

    With jobs > 1 the checks run in that many processes; at most `window`
    identities are in flight, so memory stays bounded however many there are.
    """
    if jobs <= 1:
        for ident in identities:
            yield check_identity(ident, trials, seed)
        return
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp

    window = window or 4 * jobs
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(mp), initializer=_warm)
    try:
        pending: deque = deque()
        for ident in identities:
            pending.append(pool.submit(check_identity, ident, trials, seed))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:    # also on Ctrl-C or when the caller stops early: drop what has not started
        pool.shutdown(wait=True, cancel_futures=True)


_FORK_HOSTILE = ("jax", "jaxlib", "tensorflow", "torch")


def _context(mp):
    """How to start the workers.

    On Linux, fork: workers start at once with matcalc imported, and a script calling run()
    needs no `if __name__ == "__main__"` guard. All workers are forked at the first submit,
    before the caller sees a result (the command line starts its progress-bar thread then).
    But forking a process that runs other threads can deadlock the child (JAX says so when it
    is loaded, as in a test session that also tests JAX code generation): then, and on other
    systems, a fork server with matcalc preloaded (or the platform's default).
    """
    import threading
    methods = mp.get_all_start_methods()
    hostile = threading.active_count() > 1 or any(m in sys.modules for m in _FORK_HOSTILE)
    if sys.platform.startswith("linux") and "fork" in methods and not hostile:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["matcalc.identities"])
        return ctx
    return None


def _warm():
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle: no worker tracebacks
    import matcalc  # noqa: F401  (import once per worker, before the first identity)
    import matcalc.api  # noqa: F401
    import matcalc.verify  # noqa: F401
