"""The held-out problems of test_heldout.py as a table, one row each, on the installed matcalc:

    python tests/heldout_report.py            # a Markdown table on stdout

outcome: correct | wrong number | refused | crash | not in this matcalc; then the printed result, its length
against the textbook form, any subexpression printed twice, and what matcalc's own verifier says of it
(not used for the outcome: a false alarm there is a finding of its own).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_heldout as T  # noqa: E402


def outcome(p) -> tuple[str, str]:
    """(outcome, detail) of one problem."""
    try:
        msg = T.check_numbers(p)
    except pytest.skip.Exception as err:
        return "not in this matcalc", str(err.msg)
    except pytest.xfail.Exception as err:
        return "refused", str(err.msg).replace("\n", " ")
    except Exception as err:                 # noqa: BLE001  (a crash is an outcome to report)
        return "crash", f"{type(err).__name__}: {err}".replace("\n", " ")
    return ("wrong number", msg) if msg else ("correct", "")


def main():
    import matcalc
    print(f"matcalc from {matcalc.__file__}\n")
    print("| id | issue | command | outcome | printed | length vs textbook | repeats | matcalc's verifier |")
    print("|---|---|---|---|---|---|---|---|")
    for p in T.PROBLEMS:
        what, detail = outcome(p)
        let = "".join(f" --let {k}:{v}" for k, v in (p.let or {}).items())
        cmd = f"`matcalc {p.kind} \"{p.expr}\" {p.wrt}{let}`"
        printed = ratio = rep = own = ""
        if what in ("correct", "wrong number"):
            r = T._results[p.id]
            printed = f"`{r.text}`"
            ratio = f"{len(r.text) / len(p.book):.2f}"
            rep = ", ".join(f"`{g}`" for g in T.repeats(r.text))
            try:
                v = r.verify()
                own = v.status + (f": {v.message}" if v.status != "passed" else "")
            except Exception as err:          # noqa: BLE001
                own = f"{type(err).__name__}: {err}".replace("\n", " ")
        if detail:
            what = f"{what}: {detail}"
        print(f"| {p.id} | {p.issue} | {cmd} | {what} | {printed} | {ratio} | {rep} | {own} |")


if __name__ == "__main__":
    main()
