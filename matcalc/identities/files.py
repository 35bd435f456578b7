"""Identity files: finding them, reading them (bounded; UTF-8, or UTF-16/32 with a byte-order
mark) and validating them into `Identity` records. The format is described in matcalc.identities."""
from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import MatcalcError

OPS = ("grad", "jacobian", "hessian", "vjp", "jvp", "hvp")
REQUIRED = ("name", "expr", "wrt", "expected")
KEYS = ("name", "expr", "wrt", "op", "expected", "let", "tags", "source")

# A file looks like an identity file when it has an [[identity]] table (or an identity = key).
_LOOKS = re.compile(r'(?m)^[ \t]*(\[\[[ \t]*(identity|"identity"|\'identity\')[ \t]*\]\]|'
                    r'(identity|"identity")[ \t]*=)')
_HEADER = re.compile(r'^[ \t]*\[\[[ \t]*(identity|"identity"|\'identity\')[ \t]*\]\]')
_TABLE = re.compile(r'^[ \t]*\[')
# Read before parsing, never more: a link to /dev/zero or a file of gigabytes is refused, not
# loaded (it was a MemoryError at 5.3 GB); TOML nesting past MAX_NESTING (arrays, inline
# tables, dotted keys) is refused before tomllib sees it (a 60 KB dotted key took 5.3 GB).
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NESTING = 32
# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xef\xbb\xbf", "utf-8"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
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


# ====================================================================== finding files

class SkippedFile(str):
    """The path of a file `load` skipped (a str), with the reason as `reason`."""

    def __new__(cls, path, reason: str = "no [[identity]] tables"):
        out = super().__new__(cls, str(path))
        out.reason = reason
        return out


def not_regular(path) -> str | None:
    """Why a path is not a file to read (a FIFO would block, /dev/zero never ends), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return None if not os.path.lexists(path) else f"cannot read it ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    what = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special"
    return f"not a regular file ({what})"


def looks_like_identity_file(path) -> bool:
    """True when the file has an [[identity]] table, in any encoding read_text reads (a regular
    file only, at most MAX_FILE_BYTES of it; unreadable = False)."""
    if not_regular(path):
        return False
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES)
    except OSError:
        return False
    try:
        text = _decode(data, path)
    except IdentityFileError:     # not Unicode: as bytes, so that the error is reported when it is one
        text = data.replace(b"\x00", b"").decode("latin-1")
    return _LOOKS.search(text) is not None


def find_files(paths: Iterable, skipped: list | None = None) -> list[Path]:
    """The identity files among paths: files as given, folders searched recursively for *.toml
    files with an [[identity]] table (hidden folders skipped). A folder without any is an error.
    In a folder, files that are not regular (a FIFO, a link to a device) are never opened: they
    are appended to `skipped` (SkippedFile) with the reason."""
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
                    if not f.endswith(".toml"):
                        continue
                    why = not_regular(Path(root) / f)
                    if why:
                        if skipped is not None:
                            skipped.append(SkippedFile(Path(root) / f, why))
                    elif looks_like_identity_file(Path(root) / f):
                        found.append(Path(root) / f)
            if not found:
                raise NoIdentitiesError("no identity files (*.toml with [[identity]] tables) in this folder",
                                        p, None, "an identity file holds [[identity]] tables; see identities/README.md")
            for f in found:
                add(f)
        elif p.exists() or p.is_symlink():     # named: read, or an error (read_text), never skipped
            add(p)
        else:
            raise FileReadError("no such file or folder", p)
    return out


# ====================================================================== reading one file

def read_text(path) -> str:
    """The file's text: UTF-8, or UTF-16 / UTF-32 with a byte-order mark (a UTF-8 one is dropped);
    FileReadError when it cannot be read, is larger than MAX_FILE_BYTES or is not Unicode text."""
    why = not_regular(path)
    if why:
        raise FileReadError(why, path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise FileReadError("is a folder, not a file", path) from None
    except OSError as exc:
        raise FileReadError(exc.strerror or str(exc), path) from None
    if len(data) > MAX_FILE_BYTES:
        raise FileReadError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the limit for an identity file",
                            path, None, "split it into several files")
    return _decode(data, path)


def _decode(data: bytes, path) -> str:
    encoding = "utf-8"
    for bom, enc in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom):], enc
            break
    else:
        if b"\x00" in data:         # valid UTF-8, but no TOML: what UTF-16 without a mark looks like
            line = data[:data.index(b"\x00")].count(b"\n") + 1
            raise FileReadError("not UTF-8 text (NUL bytes: UTF-16 without a byte-order mark?)", path, line,
                                "identity files are TOML, which is UTF-8 (or UTF-16 with a byte-order mark)")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].decode(encoding, errors="replace").count("\n") + 1
        why = f"not {encoding.upper()} text (byte 0x{data[exc.start]:02x} at line {line})"
        raise FileReadError(why, path, line, "identity files are TOML, which is UTF-8 (or UTF-16 with a "
                            "byte-order mark)") from None


def _check_nesting(text: str, path):
    """Refuse TOML nested deeper than MAX_NESTING (arrays and inline tables inside each other, the
    parts of a dotted key) before parsing: tomllib recurses once a level, and deep dotted keys
    cost it memory quadratic in their length. A scan of the text that skips strings and comments."""
    depth, dots, line, in_str, i, n = 0, 0, 1, None, 0, len(text)
    while i < n:
        c = text[i]
        if in_str:
            if text.startswith(in_str, i):
                i, in_str = i + len(in_str), None
                continue
            if c == "\\" and in_str[0] == '"':
                i += 1
            elif c == "\n":
                line += 1
        elif c in "\"'":
            in_str = c * 3 if text.startswith(c * 3, i) else c
            i += len(in_str)
            continue
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == "\n":
            line, dots = line + 1, 0
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == "." and not (i and text[i - 1].isdigit() and i + 1 < n and text[i + 1].isdigit()):
            dots += 1
        if depth + dots > MAX_NESTING:
            raise TomlSyntaxError(f"the TOML nests deeper than {MAX_NESTING} levels (arrays, inline tables "
                                  "and the parts of dotted keys)", path, line,
                                  "an identity file needs three levels: [[identity]], let = { ... }, tags = [...]")
        i += 1


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
    _check_nesting(text, path)
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
                from ..typecheck import parse_decl
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
    before = len(skipped) if skipped is not None else 0
    try:
        files = find_files(paths, skipped)
    except IdentityFileError as exc:
        errors.append(exc)
        files = []
        if skipped is not None:
            del skipped[before:]
        for raw in paths:     # the other paths still get checked, for a complete report
            try:
                files.extend(f for f in find_files([raw], skipped) if f not in files)
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
                skipped.append(SkippedFile(f))
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


