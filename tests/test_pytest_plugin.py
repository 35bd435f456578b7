"""The pytest plugin (pytest11 entry point `matcalc`): identity files collected as tests."""
from __future__ import annotations

pytest_plugins = ["pytester"]

GOOD = '''[[identity]]
name = "trace-product"
expr = "tr(A*X)"
wrt = "X"
expected = "A'"
tags = ["trace"]

[[identity]]
name = "quadratic-form"
expr = "x'*A*x"
wrt = "x"
expected = "(A + A')*x"
tags = ["quadratic"]
'''

WRONG = '''[[identity]]
name = "least-squares-wrong-sign"
expr = "norm(A*x - b)**2"
wrt = "x"
expected = "-2*A'*(A*x - b)"
'''


def test_identities_folder_collects_one_item_per_identity(pytester):
    pytester.makefile(".toml", **{"identities/basics": GOOD, "identities/sub/wrong": WRONG})
    result = pytester.runpytest("identities", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*identities/basics.toml::trace-product PASSED*",
        "*identities/basics.toml::quadratic-form PASSED*",
        "*identities/sub/wrong.toml::least-squares-wrong-sign FAILED*",
    ])
    # the failure shows the verifier's message, not a traceback
    result.stdout.fnmatch_lines([
        "*identity 'least-squares-wrong-sign' (*wrong.toml:1) FAILED: expected differs from finite differences*",
        "*expected:  -2*A'*(A*x - b)*",
        "*matcalc derives: 2Aᵀ(Ax − b)*",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "runtest" not in result.stdout.str()


def test_an_explicit_file_anywhere_is_collected(pytester):
    path = pytester.makefile(".toml", **{"data/mine": GOOD})
    result = pytester.runpytest(str(path))
    result.assert_outcomes(passed=2)


def test_toml_files_elsewhere_are_not_collected(pytester):
    """A test run must not pick up TOML files it did not ask for: only paths it was given, configured
    paths, or identities/."""
    pytester.makefile(".toml", **{"data/catalogue": GOOD + WRONG, "identities/pyproject": '[project]\nname = "x"\n'})
    pytester.makepyfile(test_other="def test_one():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_a_folder_named_on_the_command_line_is_collected_whatever_its_name(pytester):
    pytester.makefile(".toml", **{"ids/basics": GOOD, "ids/sub/wrong": WRONG})
    result = pytester.runpytest("ids")
    result.assert_outcomes(passed=2, failed=1)


def test_a_path_given_without_identity_files_is_named(pytester):
    pytester.makefile(".toml", **{"ids/settings": '[project]\nname = "x"\n'})
    pytester.mkdir("empty")
    result = pytester.runpytest("ids", "empty")
    assert result.ret == 5
    result.stdout.fnmatch_lines(["matcalc: ids holds no identity files (*.toml files with *identity*",
                                 "matcalc: empty holds no identity files*"])


def test_the_ini_option_collects_identity_files_wherever_they_are(pytester):
    """matcalc_identities in pyproject.toml: a bare pytest collects those paths, also outside testpaths."""
    pytester.makefile(".toml", **{"math/ids/basics": GOOD, "identities/other": WRONG})
    pytester.makepyfile(**{"tests/test_other": "def test_one():\n    pass\n"})
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
                               'matcalc_identities = ["math/ids"]\n')
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)                 # identities/ is not collected: the option says where
    result.stdout.fnmatch_lines(["*math/ids/basics.toml::trace-product PASSED*"])


def test_a_configured_path_that_is_missing_or_empty_is_named(pytester):
    pytester.mkdir("ids")
    pytester.makeini("[pytest]\nmatcalc_identities = ids nowhere\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["matcalc: matcalc_identities names */ids, which holds no identity files*",
                                 "matcalc: matcalc_identities names */nowhere, which does not exist"])


def test_an_inconclusive_identity_is_skipped_with_its_reason(pytester):
    # the verifier's outcome stands in for a check that finite differences cannot decide
    # (for the inner run only, and undone when it ends: the module is shared with this session)
    pytester.makeconftest(
        "import matcalc.identities as ids\n"
        "real = ids.check_identity\n"
        "def inconclusive(ident, trials=3, seed=0):\n"
        "    return ids.Outcome(ident.name, 'inconclusive', message='no step resolves the derivative')\n"
        "def pytest_configure(config):\n"
        "    ids.check_identity = inconclusive\n"
        "def pytest_unconfigure(config):\n"
        "    ids.check_identity = real\n")
    pytester.makefile(".toml", **{"identities/basics": GOOD})
    result = pytester.runpytest("identities", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*inconclusive: no step resolves the derivative*"])
    from matcalc import identities
    assert identities.check_identity.__module__.startswith("matcalc.identities")     # nothing left behind
def test_keywords_select_by_tag_and_name(pytester):
    pytester.makefile(".toml", **{"identities/basics": GOOD})
    result = pytester.runpytest("identities", "-k", "quadratic", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    result = pytester.runpytest("identities", "-k", "trace-product")
    result.assert_outcomes(passed=1, deselected=1)


def test_an_invalid_file_is_a_collection_error_with_file_and_line(pytester):
    pytester.makefile(".toml", **{"identities/bad": GOOD + '\n[[identity]]\nname = "x"\nexpr = "x"\n'
                                                          'wrt = "x"\nexpected = "x"\nop = "gradient"\n'})
    result = pytester.runpytest("identities")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*identities/bad.toml:20: invalid identity: unknown op 'gradient'*"])
    assert "Traceback" not in result.stdout.str()


def test_duplicate_names_across_collected_files(pytester):
    pytester.makefile(".toml", **{"identities/a": GOOD, "identities/b": GOOD})
    result = pytester.runpytest("identities")
    result.stdout.fnmatch_lines(["*identities/b.toml:1: duplicate identity: the name 'trace-product' is already "
                                 "used at*a.toml:1*"])


def test_seed_and_trials_options(pytester):
    pytester.makefile(".toml", **{"identities/basics": GOOD})
    result = pytester.runpytest("identities", "--matcalc-seed", "11", "--matcalc-trials", "1")
    result.assert_outcomes(passed=2)
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--matcalc-seed*", "*--matcalc-trials*"])


def test_junit_from_pytest_carries_the_max_error(pytester):
    pytester.makefile(".toml", **{"identities/basics": GOOD})
    result = pytester.runpytest("identities", "--junitxml=out.xml")
    result.assert_outcomes(passed=2)
    import xml.etree.ElementTree as ET
    root = ET.parse(pytester.path / "out.xml").getroot()
    props = [p.get("name") for p in root.iter("property")]
    assert props == ["max_error", "max_error"]
