"""matcalc benchmarks (issue 6): `python bench/run.py [--quick]` or `python -m bench [--quick]`.

Sections (each prints rich tables and states its goal as met / not met):

1. derivation  -- in-process derive+simplify time per catalogue identity vs SymPy's MatrixExpr.diff
2. depth       -- gradient of an L-layer tanh network's squared loss: time and size growth
3. cli         -- cold command-line latency vs the `python -c "import sympy"` floor
4. flops       -- FLOPs of the generated gradient vs the function (cheap-gradient principle)
5. autograd    -- generated NumPy gradient / Hessian vs torch.autograd.grad / torch.func.hessian
6. verify      -- `matcalc verify identities/` throughput with 1 and 2 processes

Everything is measured as ratios within one run (medians of repeats), because the
machine the numbers come from is shared and noisy. See bench/RESULTS.md.
"""
