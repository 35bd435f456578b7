"""pytest plugin (the `matcalc` pytest11 entry point): identity files as tests.

    pytest identities/                 # every identity in identities/**/*.toml is a test
    pytest ids/trace.toml -k hessian --matcalc-seed 3 --matcalc-trials 10

Which files: a ``*.toml`` file with ``[[identity]]`` tables that is named on the command line or
lies in a folder named on the command line, or lies under a path listed in the ``matcalc_identities``
ini option (``[tool.pytest.ini_options] matcalc_identities = ["ids"]`` in pyproject.toml; those paths
are collected by a bare ``pytest`` too). Without that option, folders called ``identities`` are
collected. A test run never picks up other TOML files (pyproject.toml, test data) by accident, and
a path it was given that holds no identity file is named in the report.

Each identity is one test item, named by the identity, checked as ``matcalc verify`` checks it (see
matcalc.identities); its tags are keywords for ``-k``. A failing identity shows the verifier's
message; one that finite differences can neither confirm nor refute is skipped with the reason; an
invalid file is a collection error with its file and line.
"""
from __future__ import annotations

from pathlib import Path

import pytest

_NAMES = pytest.StashKey[dict]()
_FILES = pytest.StashKey[set]()          # identity files collected in this run
INI = "matcalc_identities"


def pytest_addoption(parser):
    group = parser.getgroup("matcalc", "matcalc identity files")
    group.addoption("--matcalc-seed", type=int, default=0, metavar="N",
                    help="random seed of the numeric checks of identity files (default 0)")
    group.addoption("--matcalc-trials", type=int, default=3, metavar="N",
                    help="random points per identity (default 3)")
    parser.addini(INI, type="paths", default=[],
                  help="folders or files of matcalc identity files to collect, also by a bare pytest "
                       "(default: folders named identities)")


def _configured(config) -> list[Path]:
    return [Path(p).resolve() for p in config.getini(INI)]


def _named(config) -> dict[Path, str]:
    """The paths named on the command line, as typed (none when pytest took testpaths or the current
    folder)."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return {}
    base = Path(config.invocation_params.dir)
    typed = [str(a).split("::", 1)[0] for a in config.invocation_params.args if not str(a).startswith("-")]
    named = {}
    for a in config.args:
        path = (base / str(a).split("::", 1)[0]).resolve()
        named[path] = next((t for t in typed if (base / t).resolve() == path), str(path))
    return named


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def pytest_configure(config):
    config.stash[_FILES] = set()
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return
    walked = [Path(a).resolve() for a in config.args]
    for p in _configured(config):       # collected by a bare pytest too, though outside testpaths
        if p.exists() and not any(_within(p, w) for w in walked):
            config.args.append(str(p))


def _wanted(file_path: Path, config) -> bool:
    path = file_path.resolve()
    if any(_within(path, p) for p in _named(config)):
        return True
    configured = _configured(config)
    if configured:
        return any(_within(path, p) for p in configured)
    try:
        parts = path.relative_to(Path(config.rootpath).resolve()).parts
    except ValueError:
        parts = path.parts
    return "identities" in parts[:-1]


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".toml" or not _wanted(file_path, parent.config):
        return None
    from .identities import looks_like_identity_file
    if not looks_like_identity_file(file_path):
        return None
    return IdentityFile.from_parent(parent, path=file_path)


def pytest_report_collectionfinish(config, start_path, items):
    """Name the paths pytest was given that hold no identity file (and no other test)."""
    found = config.stash.get(_FILES, set())
    lines = []
    for p, typed in _named(config).items():
        if p.is_dir() or p.suffix == ".toml":
            if not any(_within(f, p) for f in found) and not any(_within(Path(i.path).resolve(), p) for i in items):
                lines.append(f"matcalc: {typed} holds no identity files (*.toml files with [[identity]] tables)")
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        for p in _configured(config):
            if not p.exists():
                lines.append(f"matcalc: {INI} names {p}, which does not exist")
            elif not any(_within(f, p) for f in found):
                lines.append(f"matcalc: {INI} names {p}, which holds no identity files "
                             "(*.toml files with [[identity]] tables)")
    return lines


class IdentityFile(pytest.File):
    """An identity file: one item per [[identity]] table."""

    def collect(self):
        from .identities import DuplicateNameError, IdentityFileError, load_file
        self.config.stash[_FILES].add(Path(self.path).resolve())
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
        if outcome.status == "inconclusive":
            pytest.skip(f"inconclusive: {outcome.message}")
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
