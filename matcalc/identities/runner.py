"""Checking many identities: in order, one at a time or in worker processes, in bounded memory."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator

from .check import Outcome, check_identity
from .files import Identity


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
