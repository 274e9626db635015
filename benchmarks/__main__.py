"""``python -m benchmarks all|intake|e2e|outbox|latency|memory|scale|workers [--quick] [--json FILE]``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import REPO, Run, Stack, table, write_json

NAMES = ("intake", "e2e", "outbox", "latency", "memory", "scale", "workers")
NEEDS_STACK = {"intake", "e2e", "outbox", "latency", "memory", "workers"}
DEFAULT_JSON = REPO / "benchmarks" / "results" / "latest.json"
PG_URL = os.environ.get("MAILFLOW_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("names", nargs="+", metavar="NAME", help=f"all, or some of: {', '.join(NAMES)}")
    p.add_argument("--quick", action="store_true", help="tiny N: a smoke run of the harness (< 30 s without scale)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON})")
    p.add_argument("--complaints", type=int, help="scale: complaints to generate (default 1,000,000; --quick 5,000)")
    p.add_argument("--pg-url", default=PG_URL,
                   help="scale: a PostgreSQL server to create (and drop) database mailflow_bench on; workers: "
                        "one to create (and drop) private schemas on (default MAILFLOW_TEST_DATABASE_URL, else "
                        "the local server); '' to skip both")
    p.add_argument("--profile", type=Path, help="write pyinstrument profiles of mailflow's intake and drain here")
    args = p.parse_args(argv)
    names = list(NAMES) if "all" in args.names else args.names
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from all, {', '.join(NAMES)}")

    q = args.quick
    run = Run(quick=q)
    work = Path(tempfile.mkdtemp(prefix="mailflow-bench-work-", dir="/var/tmp"))
    stack = None
    try:
        if NEEDS_STACK & set(names):
            t = time.perf_counter()
            stack = Stack()
            run.notes.append(f"mail stack in {stack.dir} (Dovecot sdbox on tmpfs) started in "
                             f"{time.perf_counter() - t:.1f} s")
        for name in names:
            print(f"== {name}", file=sys.stderr, flush=True)
            t = time.perf_counter()
            if name == "intake":
                from benchmarks import intake

                intake.run(run, stack, work, n=200 if q else 5000, repeats=1 if q else 3, profile=args.profile)
            elif name == "e2e":
                from benchmarks import e2e

                e2e.run(run, stack, work, n=60 if q else 2000)
            elif name == "outbox":
                from benchmarks import drain

                drain.run(run, stack, work, n=60 if q else 2000, repeats=1 if q else 3, profile=args.profile)
            elif name == "latency":
                from benchmarks import latency

                latency.run(run, stack, work, n=10 if q else 200, rate=10.0 if q else 5.0)
            elif name == "memory":
                from benchmarks import memory

                memory.run(run, stack, work, big=3 if q else 200, small=50 if q else 2000)
            elif name == "scale":
                from benchmarks import scale

                scale.run(run, work, complaints=args.complaints or (5000 if q else 1_000_000),
                          pg_url=args.pg_url, repeats=3 if q else 5)
            elif name == "workers":
                from benchmarks import workers

                workers.run(run, stack, work / "workers", pg_url=args.pg_url, n_intake=100 if q else 2000,
                            n_e2e=40 if q else 1000, n_pickup=6 if q else 120, repeats=1 if q else 3,
                            # --quick: one variant whose slots watch all 20 mailboxes (no turns to wait for)
                            variants=((2, 12),) if q else ((1, 12), (2, 12), (3, 12), (1, 20)))
            run.details.setdefault("seconds", {})[name] = round(time.perf_counter() - t, 1)
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(work, ignore_errors=True)
        write_json(run, args.json)
    print(table(run.rows))
    for note in run.notes:
        print(f"- {note}")
    print(f"(results written to {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
