"""Mutation testing of the identity verifier.

For every identity of the catalogue, `expected` is mutated on matcalc's
expression graph (built with the canonical constructors of matcalc.algebra):
the result transposed, its sign flipped, doubled, a factor of a product
dropped, two factors of a matrix product swapped, inv(X) replaced by X.
Every mutant that is numerically different from the original (evaluated at
random points drawn as the verifier draws them) must be reported failing by
the verifier; and the true identities must pass for 20 seeds.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matcalc import algebra as alg
from matcalc.expr import postorder
from matcalc.errors import MatcalcError
from matcalc.identities import Identity, check_identity, load, prepare, run
from matcalc.numeric import evaluate
from matcalc.ops.base import EQUAL_SIZES
from matcalc.printing import source

CATALOGUE = Path(__file__).resolve().parent.parent / "identities"


# ------------------------------------------------------------------ mutants on the graph

def substitute(root, target, new):
    """root with every occurrence of the node target replaced by new, rebuilt canonically."""
    done = {}
    for node in postorder(root):
        if node is target:
            done[node] = new
        elif any(done[a] is not a for a in node.args):
            done[node] = alg.rebuild(node, [done[a] for a in node.args])
        else:
            done[node] = node
    return done[root]


def well_shaped(root) -> bool:
    """Every node's shape follows from its arguments' (the constructors do not all check)."""
    for node in postorder(root):
        if not node.args:
            continue
        try:
            shape = node.op.infer([a.shape for a in node.args], EQUAL_SIZES)
        except Exception:
            return False
        if tuple(shape) != tuple(node.shape):
            return False
    return True


def _chain_ok(chain) -> bool:
    return all(a.shape[1] == b.shape[0] for a, b in zip(chain, chain[1:]))


def local_mutants(node):
    """(label, thunk building the replacement) for one node: dropped factors, swapped factors,
    inv(X) → X. The caller calls each thunk before the generator moves on."""
    if node.op is alg.MUL:
        coef, atoms, chain = alg.mul_split(node)
        if coef != 1:
            yield "drop-factor", lambda: alg.mul_parts(1, atoms, chain)
        for i in range(len(atoms)):
            yield "drop-factor", lambda: alg.mul_parts(coef, atoms[:i] + atoms[i + 1:], chain)
        if len(chain) >= 2:
            for i in range(len(chain)):
                rest = chain[:i] + chain[i + 1:]
                if _chain_ok(rest):
                    yield "drop-factor", lambda: alg.mul_parts(coef, atoms, rest)
            for i in range(len(chain)):
                for j in range(i + 1, len(chain)):
                    swapped = list(chain)
                    swapped[i], swapped[j] = chain[j], chain[i]
                    if _chain_ok(swapped):
                        yield "swap-operands", lambda: alg.mul_parts(coef, atoms, swapped)
    elif node.op is alg.HAD and len(node.args) >= 2:
        parts = list(zip(node.args, node.attrs[0]))
        for i in range(len(parts)):
            yield "drop-factor", lambda: alg.had_parts(parts[:i] + parts[i + 1:])
        for i in range(len(parts)):     # a ./ b → b ./ a: the operands of a quotient swapped
            for j in range(i + 1, len(parts)):
                if parts[i][1] != parts[j][1]:
                    swapped = list(parts)
                    swapped[i], swapped[j] = (parts[i][0], parts[j][1]), (parts[j][0], parts[i][1])
                    yield "swap-operands", lambda: alg.had_parts(swapped)
    elif node.op is alg.INV:
        yield "inv-to-X", lambda: node.args[0]


def mutants(e):
    """Distinct (label, graph) mutants of e, all well shaped and different from e as graphs."""
    out = [("transpose", alg.transpose(e)), ("negate", alg.neg(e)), ("double", alg.scale(2, e))]
    for node in postorder(e):
        for label, make in local_mutants(node):
            try:     # the canonical constructors assert on shapes they cannot combine: not a mutant
                new = make()
                if new is node or new.shape != node.shape:
                    continue
                out.append((label, substitute(e, node, new)))
            except (AssertionError, ZeroDivisionError, MatcalcError):
                continue
    seen, unique = {e}, []
    for label, m in out:
        if m in seen or not well_shaped(m):
            continue
        seen.add(m)
        unique.append((label, m))
    return unique


def numerically_different(prep, m, seed=0) -> bool:
    """Does m differ from expected at random points drawn from the identity's domains?"""
    if m.shape != prep.e.shape:
        return True
    for sizes, vals in prep.points(3, seed):
        a = evaluate(prep.e, vals, sizes)
        b = evaluate(m, vals, sizes)
        if not np.all(np.isfinite(a)):
            continue
        if not np.all(np.isfinite(b)):
            return True
        scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-6)
        if np.linalg.norm(a - b) / scale > 1e-6:
            return True
    return False


# ------------------------------------------------------------------ the tests

def test_substitute_and_mutants_on_a_small_graph():
    prep = prepare(Identity("t", "a'*A*x", "x", "A'*a"))
    ms = dict((source(m), label) for label, m in mutants(prep.e))
    assert ms["-A'*a"] == "negate"
    assert ms["2*A'*a"] == "double"
    assert ms["a'*A"] == "transpose"
    inv = prepare(Identity("t", "logdet(X)", "X", "inv(X)'"))
    assert "X'" in {source(m) for label, m in mutants(inv.e) if label == "inv-to-X"}


@pytest.mark.slow
def test_every_numerically_different_mutant_fails(record_property):
    """Each catalogue identity's mutants: those numerically different must not pass."""
    t0 = time.perf_counter()
    generated = different = caught = 0
    by_label: dict[str, list[int]] = {}
    missed = []
    unprepared = []
    for ident in load([CATALOGUE]):
        try:
            prep = prepare(ident)
        except Exception as exc:     # reported by the catalogue test; nothing to mutate here
            unprepared.append(f"{ident.name}: {type(exc).__name__}: {exc}")
            continue
        for label, m in mutants(prep.e):
            generated += 1
            counts = by_label.setdefault(label, [0, 0, 0])
            counts[0] += 1
            if not numerically_different(prep, m):
                continue
            different += 1
            counts[1] += 1
            text = source(m)
            outcome = check_identity(replace(ident, name=f"{ident.name}~{label}", expected=text), trials=1, seed=0)
            if outcome.status != "passed":
                caught += 1
                counts[2] += 1
            else:
                missed.append(f"{ident.name} [{label}] {text!r}")
    elapsed = time.perf_counter() - t0
    summary = (f"mutants: {generated} generated, {different} numerically different, {caught} caught "
               f"({elapsed:.1f} s); by kind (generated/different/caught): "
               + ", ".join(f"{k} {v[0]}/{v[1]}/{v[2]}" for k, v in sorted(by_label.items()))
               + (f"; {len(unprepared)} identities not typed: {unprepared}" if unprepared else ""))
    print(summary)
    record_property("mutation", summary)
    assert generated > 1000 and different > 0.8 * generated
    assert not missed, f"{len(missed)} mutants pass the verifier:\n" + "\n".join(missed[:40])
    assert caught == different


@pytest.mark.slow
def test_true_identities_pass_for_20_seeds(record_property):
    """No false alarm: the whole catalogue, 20 seeds, 1 trial each (two processes)."""
    identities = load([CATALOGUE])
    t0 = time.perf_counter()
    failures = []
    for seed in range(20):
        for outcome in run(identities, trials=1, seed=seed, jobs=2):
            if not outcome.passed:
                failures.append(f"seed {seed}: {outcome.name}: {outcome.status}: {outcome.message}")
    elapsed = time.perf_counter() - t0
    print(f"20 seeds × {len(identities)} identities in {elapsed:.1f} s")
    record_property("seed_sweep_seconds", f"{elapsed:.1f}")
    assert not failures, "\n".join(failures)
