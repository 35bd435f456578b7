"""pytest plugin (the `matcalc` pytest11 entry point): identity files as tests.

    pytest identities/                 # every identity in identities/**/*.toml is a test
    pytest identities/trace.toml -k hessian --matcalc-seed 3 --matcalc-trials 10

A ``*.toml`` file is collected when it holds ``[[identity]]`` tables and
either was named on the command line or lies under a folder called
``identities``: a test run never picks up other TOML files (pyproject.toml,
test data) by accident. Each identity is one test item, named by the
identity, checked as ``matcalc verify`` checks it (see matcalc.identities);
its tags are keywords for ``-k``. A failing identity shows the verifier's
message; an invalid file is a collection error with its file and line.
"""
from __future__ import annotations

from pathlib import Path

import pytest

_NAMES = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("matcalc", "matcalc identity files")
    group.addoption("--matcalc-seed", type=int, default=0, metavar="N",
                    help="random seed of the numeric checks of identity files (default 0)")
    group.addoption("--matcalc-trials", type=int, default=3, metavar="N",
                    help="random points per identity (default 3)")


def _explicit(file_path: Path, config) -> bool:
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        p = Path(str(arg).split("::", 1)[0])
        p = p if p.is_absolute() else base / p
        try:
            if p.resolve() == file_path.resolve():
                return True
        except OSError:
            continue
    return False


def _under_identities(file_path: Path, config) -> bool:
    try:
        parts = file_path.resolve().relative_to(Path(config.rootpath).resolve()).parts
    except ValueError:
        parts = file_path.resolve().parts
    return "identities" in parts[:-1]


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".toml":
        return None
    config = parent.config
    if not (_explicit(file_path, config) or _under_identities(file_path, config)):
        return None
    from .identities import looks_like_identity_file
    if not looks_like_identity_file(file_path):
        return None
    return IdentityFile.from_parent(parent, path=file_path)


class IdentityFile(pytest.File):
    """An identity file: one item per [[identity]] table."""

    def collect(self):
        from .identities import DuplicateNameError, IdentityFileError, load_file
        try:
            identities = load_file(self.path)
        except IdentityFileError as err:
            raise self.CollectError(err.render()) from None
        names = self.config.stash.setdefault(_NAMES, {})
        for ident in identities:
            prev = names.get(ident.name)
            if prev is not None and prev != ident.location:
                err = DuplicateNameError(f"the name {ident.name!r} is already used at {prev}", ident.file,
                                         ident.line, "every identity needs its own name")
                raise self.CollectError(err.render())
            names[ident.name] = ident.location
        for ident in identities:
            yield IdentityItem.from_parent(self, name=ident.name, identity=ident)


class IdentityCheckFailed(Exception):
    """Raised by an identity item that does not pass; carries the verifier's outcome."""

    def __init__(self, outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


class IdentityItem(pytest.Item):
    """One identity, checked two ways: finite differences and matcalc's own derivation."""

    def __init__(self, *, identity, **kw):
        super().__init__(**kw)
        self.identity = identity
        self.extra_keyword_matches.update(identity.tags)
        self.extra_keyword_matches.add(identity.op)

    def runtest(self):
        from .identities import check_identity
        seed = self.config.getoption("matcalc_seed", 0)
        trials = self.config.getoption("matcalc_trials", 3)
        outcome = check_identity(self.identity, trials=trials, seed=seed)
        if outcome.max_error == outcome.max_error:   # not NaN
            self.user_properties.append(("max_error", f"{outcome.max_error:.3e}"))
        if not outcome.passed:
            raise IdentityCheckFailed(outcome)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, IdentityCheckFailed):
            o, i = excinfo.value.outcome, self.identity
            lines = [f"identity {i.name!r} ({i.location}) {o.status.upper()}: {o.message}",
                     f"  {i.op} of   {i.expr}   w.r.t. {i.wrt}",
                     f"  expected:  {i.expected}"]
            if o.derived:
                lines.append(f"  matcalc derives: {o.derived}")
            if o.max_error == o.max_error:
                lines.append(f"  max relative error: {o.max_error:.1e}")
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, max(self.identity.line - 1, 0), f"identity {self.identity.name}"
