"""Identity files: a catalogue of derivatives, each checked two ways.

An identity file is a TOML file (UTF-8) holding an array of ``[[identity]]``
tables, one per identity::

    # Comments are welcome.
    [[identity]]
    name = "least-squares"                # required, unique across all files checked together
    expr = "norm(A*x - b)**2"             # required: the function, in matcalc syntax
    wrt = "x"                             # required: the variable (a name in expr)
    op = "grad"                           # optional: grad (default), jacobian, hessian, vjp, jvp, hvp
    expected = "2*A'*(A*x - b)"           # required: the derivative, in matcalc syntax
    let = { S = "spd" }                   # optional: declarations, as --let (kind or kind(sizes))
    tags = ["least-squares"]              # optional: list of strings (matched by --filter)
    source = "Matrix Cookbook, eq. (84)"  # optional: where the identity comes from

``expected`` is typed together with ``expr``, so it shares its names and
sizes, and it is tied to the shape of the answer, so ``I``, ``eye(n)`` and
``ones(n)`` take the answer's sizes. It must not force sizes the expression
leaves free to be equal or fixed (an ``expected`` that only types when ``A``
is square is wrong: the identity must hold for all sizes).
Its shape is the shape of the answer: the shape of ``wrt`` for ``grad``,
``vjp`` and ``hvp``, m×n for the ``jacobian`` of an m-vector w.r.t. an n-vector
(1×n for a scalar), n×n for the ``hessian``, the shape of ``expr`` for ``jvp``.
The upstream gradient of a ``vjp`` is named ``g`` (``G`` when ``expr`` is a
matrix or a row) and has the shape of ``expr``; the direction of a ``jvp`` or
``hvp`` is ``v`` (``V`` when ``wrt`` is a matrix) and has the shape of ``wrt``: the names
matcalc gives them (if ``expr`` already uses one, the next free one: ``g2``,
...). The size of a row is named as matcalc names it for ``expr`` alone.
Unless the identity says otherwise with ``op``, it is a gradient: ``expr``
must be a scalar.

Files: a path is a file or a folder; folders are searched recursively
(hidden folders skipped) for ``*.toml`` files with ``[[identity]]`` tables.
A TOML file given by name without any identity table (a pre-commit hook
passing pyproject.toml) is skipped with a note; so is, in a folder, a file that
is not a regular file (a FIFO, a link to /dev/zero), which is never opened (given
by name, it is an error). A file is UTF-8, or UTF-16/UTF-32 with a byte-order
mark; at most 4 MiB of it are read, and TOML nested deeper than 32 levels
(arrays, inline tables, parts of a dotted key) is refused before it is parsed.

The package has three parts: `files` (finding, reading and validating files),
`check` (checking one identity) and `runner` (checking many, in processes);
everything public is importable from `matcalc.identities`.

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
refuses the derivative), the worst relative error, the time and a message.
Identities are checked one at a time and nothing but that record is kept,
so a file of any length verifies in constant memory per identity.
"""
from __future__ import annotations

from .check import AGREEMENT, Outcome, Prepared, check_identity, prepare
from .files import (KEYS, OPS, REQUIRED, DuplicateNameError, FileReadError, Identity, IdentityFileError,
                    IdentityFileErrors, NoIdentitiesError, SchemaError, SkippedFile, TomlSyntaxError, find_files,
                    load, load_file, looks_like_identity_file, parse_file, read_text, select)
from .runner import _context, run

__all__ = ["AGREEMENT", "KEYS", "OPS", "REQUIRED", "DuplicateNameError", "FileReadError", "Identity",
           "IdentityFileError", "IdentityFileErrors", "NoIdentitiesError", "Outcome", "Prepared", "SchemaError",
           "SkippedFile", "TomlSyntaxError", "check_identity", "find_files", "load", "load_file",
           "looks_like_identity_file", "parse_file", "prepare", "read_text", "run", "select"]
