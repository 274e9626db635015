"""The benchmark harness still runs: `python -m benchmarks all --quick` on tiny N.

Not a timed test -- it asserts only that every benchmark produced its figures
and the JSON file, never how fast anything was (see docs/PERFORMANCE.md for
the numbers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import PG_URL, REPO

pytestmark = pytest.mark.integration


def test_quick_run_of_every_benchmark_writes_one_table_and_one_json(tmp_path):
    out = tmp_path / "quick.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "all", "--quick", "--complaints", "300", "--json", str(out),
         "--pg-url", PG_URL],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=360,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(out.read_text())
    benches = {row["bench"].split("/")[0] for row in data["rows"]}
    # workers is one skipped row when no PostgreSQL is given (its note says so)
    assert benches == {"intake", "e2e", "outbox", "latency", "memory", "scale", "workers"}
    measured = [row for row in data["rows"] if row["value"] is None and "skipped" not in row["note"]]
    assert measured == [], measured
    assert "| benchmark" in res.stdout  # the one table
