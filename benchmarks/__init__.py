"""mailflow's benchmarks, each measured beside its limit in the same run.

Run ``python -m benchmarks all`` (or one name; ``--quick`` for a smoke run;
``--json FILE``).  See docs/PERFORMANCE.md for what each figure means.
"""
