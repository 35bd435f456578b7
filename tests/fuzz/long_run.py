"""The long fuzzing run, by hand (issue 7). Not part of the test suite.

    python tests/fuzz/long_run.py                    # hypothesis, 10 minutes over all properties
    python tests/fuzz/long_run.py --minutes 30 --json /tmp/fuzz.json --seed 12345
    python tests/fuzz/long_run.py --seed 12345 --replay "CLI (in process)" 17   # one round again
    python tests/fuzz/long_run.py --atheris --minutes 5   # coverage-guided (pip install atheris)

Every run prints its seed (random unless --seed is given). Each property runs in rounds of 250
examples, round r seeded from (seed, property, r), so a run with the same seed draws the same
inputs, and a failure's report names the round that replays it (--replay PROPERTY ROUND).

Hypothesis mode runs the properties of tests/fuzz/properties.py (the ones tests/test_fuzz.py runs
with a few hundred examples) for a time budget, never stopping at a failure: every outcome is
counted, and failures are collected (deduplicated by message) with their inputs, so one run
reports all it found. Atheris mode feeds coverage-guided byte strings to the parser, printers and
round trip (check_text) and stops at the first failure, as libFuzzer does.

Results of the runs made so far: tests/fuzz/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))          # tests/, for `fuzz.*`


# ------------------------------------------------------------------ hypothesis mode

def round_seed(seed: int, name: str, rnd: int) -> int:
    """The seed of round rnd of a property: the same in every run with this seed."""
    import hashlib
    return int.from_bytes(hashlib.blake2b(f"{seed}/{name}/{rnd}".encode(), digest_size=8).digest(), "little")


def hypothesis_run(minutes: float, out_json: str | None, seed: int, replay=None) -> int:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from fuzz.grammar import SCALAR, expressions
    from fuzz.properties import (check_canonical_form, check_cli, check_derivative, check_gradient,
                                 check_round_trip, check_text, token_sequences)

    unstable: list = []

    def grad_case(draw_ex):
        (text, let, _), pick = draw_ex
        if not let:
            return "no-variable"
        return check_gradient(text, let, sorted(let)[pick % len(let)], record=unstable)

    def other_case(draw_ex):
        (text, let, shape), kind, pick = draw_ex
        if not let:
            return "no-variable"
        return check_derivative(kind, text, let, sorted(let)[pick % len(let)], record=unstable)

    properties = [   # name, share of the time, strategy, check
        ("unicode text", 0.07, st.text(max_size=200), check_text),
        ("bytes (utf-8, replaced)", 0.04, st.binary(max_size=200),
         lambda b: check_text(b.decode("utf-8", errors="replace"))),
        ("token sequences", 0.12, token_sequences(max_size=40), check_text),
        ("token sequences, grad x", 0.06, token_sequences(max_size=25), lambda s: check_text(s, wrt="x")),
        ("well-formed, round trip", 0.12, expressions(shape="any", max_depth=6),
         lambda ex: check_round_trip(ex[0], ex[1])),
        ("canonical form = as typed (rewrites)", 0.08,
         st.tuples(expressions(shape="any", max_depth=5, safe=False), st.integers(0, 2 ** 32 - 1)),
         lambda a: check_canonical_form(a[0][0], a[0][1], seed=a[1])),
        ("well-formed scalar, grad verified", 0.30,
         st.tuples(expressions(shape=SCALAR, max_depth=4), st.integers(0, 50)), grad_case),
        ("jacobian/hessian/vjp/jvp", 0.10,
         st.tuples(st.one_of(expressions(shape=SCALAR, max_depth=3), expressions(shape=("n", 1), max_depth=3)),
                   st.sampled_from(["jacobian", "hessian", "vjp", "jvp"]), st.integers(0, 50)), other_case),
        ("CLI (in process)", 0.08,
         st.tuples(st.one_of(st.text(max_size=80), token_sequences(max_size=20)), st.sampled_from(["show", "grad"])),
         lambda a: check_cli(a[0], a[1])),
    ]
    stats: dict[str, Counter] = defaultdict(Counter)
    failures: dict[str, dict] = {}
    seconds = {}
    started = time.monotonic()
    def runner_for(name, strategy, check, rnd):
        @hypothesis_seed(round_seed(seed, name, rnd))
        @settings(max_examples=250, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def body(x):
            stats[name]["inputs"] += 1
            try:
                outcome = check(x)
            except Exception as err:  # noqa: BLE001  (collect, do not stop)
                first = (str(err).strip().splitlines() or [""])[0]
                key = f"{name}: {type(err).__name__}: {first[:160]}"
                entry = failures.setdefault(key, {"count": 0, "examples": [], "trace": traceback.format_exc(),
                                                  "replay": f"--seed {seed} --replay {name!r} {rnd}"})
                entry["count"] += 1
                if len(entry["examples"]) < 3:
                    entry["examples"].append(repr(x)[:2000])
                outcome = "FAILED"
            stats[name][outcome] += 1
        return body

    print(f"seed {seed} (replay with --seed {seed})", flush=True)
    if replay is not None:
        properties = [p for p in properties if p[0] == replay[0]]
        if not properties:
            raise SystemExit(f"no property named {replay[0]!r}")
    for name, share, strategy, check in properties:
        budget = minutes * 60 * share
        t0 = time.monotonic()
        rounds = [int(replay[1])] if replay is not None else range(10 ** 9)
        for rnd in rounds:
            runner_for(name, strategy, check, rnd)()
            if replay is None and time.monotonic() - t0 >= budget:
                break
        seconds[name] = round(time.monotonic() - t0, 1)
        print(f"{name:36s} {stats[name]['inputs']:8d} inputs  {seconds[name]:7.1f} s  "
              f"{dict((k, v) for k, v in stats[name].items() if k != 'inputs')}", flush=True)
    total = sum(s["inputs"] for s in stats.values())
    print(f"\n{total} inputs in {time.monotonic() - started:.0f} s; {len(failures)} distinct failures, "
          f"{len(unstable)} gradients rejected by the verifier but right at a smaller step (see --json)")
    for key, entry in failures.items():
        print(f"\nFAILURE x{entry['count']}: {key}")
        print(f"  replay: python tests/fuzz/long_run.py {entry['replay']}")
        for ex in entry["examples"]:
            print(f"  input: {ex}")
        print("  " + entry["trace"].strip().splitlines()[-1][:300])
    if out_json:
        with open(out_json, "w") as fh:
            json.dump({"seed": seed, "total_inputs": total, "seconds": seconds, "stats": stats, "failures": failures,
                       "unstable": unstable}, fh, indent=2, ensure_ascii=False, default=str)
    return 1 if failures else 0


# ------------------------------------------------------------------ atheris mode

def atheris_run(minutes: float, seed: int) -> int:
    import atexit
    import tempfile

    import atheris

    with atheris.instrument_imports(include=["matcalc"]):
        import matcalc  # noqa: F401
    from fuzz.properties import TOKENS, check_text

    count = Counter()

    def one_input(data: bytes):
        fdp = atheris.FuzzedDataProvider(data)
        s = fdp.ConsumeUnicodeNoSurrogates(len(data))
        count["inputs"] += 1
        count[check_text(s).split(":")[0]] += 1

    atexit.register(lambda: print(f"\natheris: {dict(count)}", flush=True))
    work = tempfile.mkdtemp(prefix="matcalc-atheris-")
    with open(os.path.join(work, "tokens.dict"), "w") as fh:
        for tok in TOKENS:
            fh.write(json.dumps(tok, ensure_ascii=True) + "\n")
    corpus = os.path.join(work, "corpus")
    os.makedirs(corpus)
    for i, seed in enumerate(["norm(A*x - b)**2", "x'*A*x", "tr(inv(X)*A)", "sum(softmax(W*x + b))",
                              "cross_entropy(z, y)", "logdet(S) - alpha*x.^2"]):
        with open(os.path.join(corpus, f"seed{i}"), "w") as fh:
            fh.write(seed)
    print(f"seed {seed} (replay with --seed {seed})", flush=True)
    atheris.Setup([sys.argv[0], f"-seed={seed % 2 ** 31 or 1}", f"-max_total_time={int(minutes * 60)}",
                   f"-dict={work}/tokens.dict",
                   "-max_len=400", f"-artifact_prefix={work}/", corpus], one_input)
    atheris.Fuzz()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--json", help="write counts, failures and unstable gradients here")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing of the parser with atheris")
    ap.add_argument("--seed", type=int, default=None, help="the run's seed (default: random, printed)")
    ap.add_argument("--replay", nargs=2, metavar=("PROPERTY", "ROUND"),
                    help="run one round of one property again (with the failing run's --seed)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    if args.atheris:
        sys.exit(atheris_run(args.minutes, seed))
    sys.exit(hypothesis_run(args.minutes, args.json, seed, args.replay))


if __name__ == "__main__":
    main()
