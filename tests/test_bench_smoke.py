"""Smoke test of the benchmarks: `python bench/run.py --quick` runs to the end (no timing assertions)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_bench_quick_runs():
    p = subprocess.run([sys.executable, os.path.join("bench", "run.py"), "--quick"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600,
                       env={**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore"})
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Depth scaling" in p.stdout and "Cheap-gradient bound over the catalogue" in p.stdout
    assert "Goals" in p.stdout
