"""Scale of the database: the listings at 1,000,000 complaints, on SQLite and PostgreSQL.

For each database: ``benchmarks.generate`` fills a fresh one (SQLite: a file
under /var/tmp, no ANALYZE -- mailflow never runs it; PostgreSQL: database
``mailflow_bench``, created and dropped here, VACUUM ANALYZE after the load
as autovacuum would do) at schema 0005, the last one before the listing
indexes, and ``mailflow db upgrade`` then brings it to head (timed: what an
office's upgrade costs).  Then each command is run in-process through
Typer's CliRunner -- the real command: config load, app build, schema check,
queries, formatting -- once to warm up and REPEATS times; median reported.
Interpreter start-up and imports are not included (about 0.7 s, the same for
every command).  Also kept: how much of each run went to working-time
arithmetic (``OfficeCalendar.working_minutes_between``, used for the "left
(working)" column and the due line of ``show``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.generate import db_redact, generate
from benchmarks.harness import ENV, Row, Run, median, write_config

BEFORE = "0005"  # the schema before the listing indexes (0006)
BENCH_DB = "mailflow_bench"
TARGET_MS = 300
REPORT_TARGET_MS = 2000


class _CalendarTimer:
    """Adds up the time spent in OfficeCalendar.working_minutes_between (this process only)."""

    def __init__(self) -> None:
        from mailflow.core.calendar import OfficeCalendar

        self.cls = OfficeCalendar
        self.orig = OfficeCalendar.working_minutes_between
        self.total = 0.0

    def __enter__(self):
        orig, timer = self.orig, self

        def timed(cal, a, b):
            t = time.perf_counter()
            try:
                return orig(cal, a, b)
            finally:
                timer.total += time.perf_counter() - t

        self.cls.working_minutes_between = timed
        return self

    def __exit__(self, *exc) -> None:
        self.cls.working_minutes_between = self.orig


def _time_command(config: Path, args: list[str], repeats: int) -> dict:
    from typer.testing import CliRunner

    from mailflow.cli import app

    runner = CliRunner()
    os.environ.update(ENV)
    res = runner.invoke(app, [*args, "--config", str(config)])  # warm-up (caches, connections)
    if res.exit_code != 0:
        return {"error": (res.output or repr(res.exception))[-500:], "exit": res.exit_code}
    times, cal = [], []
    for _ in range(repeats):
        with _CalendarTimer() as timer:
            t = time.perf_counter()
            res = runner.invoke(app, [*args, "--config", str(config)])
            times.append(time.perf_counter() - t)
        cal.append(timer.total)
    return {"ms": median(times) * 1000, "max_ms": max(times) * 1000, "calendar_ms": median(cal) * 1000,
            "lines": len(res.output.splitlines()), "exit": res.exit_code, "all_ms": [round(x * 1000, 1) for x in times]}


def _report_args() -> list[str] | None:
    """How to call `mailflow report` for last month, or None while mailflow has no report."""
    if importlib.util.find_spec("mailflow.report") is None:
        return None
    from typer.testing import CliRunner

    from mailflow.cli import app

    helptext = CliRunner().invoke(app, ["report", "--help"]).output
    if "No such command" in helptext:
        return None
    last = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return ["report", "--month", last] if "--month" in helptext else ["report"]


def _numbers(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM complaints")).scalar()
            closed = c.execute(text("SELECT number FROM complaints WHERE id = :i"), {"i": max(1, n // 2)}).scalar()
            open_ = c.execute(text("SELECT number FROM complaints WHERE status <> 'closed' ORDER BY id DESC LIMIT 1")).scalar()
        return {"closed": closed, "open": open_}
    finally:
        engine.dispose()


def _one_database(r: Run, kind: str, url: str, workdir: Path, complaints: int, repeats: int) -> None:
    from mailflow.store import db

    bench = f"scale/{kind}"
    counts = generate(url, complaints, revision=BEFORE, log=lambda m: print(m, flush=True))
    r.add(Row(bench, f"generate {complaints:,} complaints ({counts.rows():,} rows)", counts.rows() / counts.seconds,
              "rows/s", note=f"{counts.seconds:.0f} s; bulk {'executemany' if kind == 'sqlite' else 'COPY'}"))
    engine = db.make_engine(url)
    t = time.perf_counter()
    db.upgrade(engine)
    migrate_s = time.perf_counter() - t
    engine.dispose()
    r.add(Row(bench, f"mailflow db upgrade {BEFORE} -> head at {complaints:,}", migrate_s, "s",
              note="builds the listing indexes"))
    where = workdir / f"scale-{kind}"
    where.mkdir(parents=True, exist_ok=True)
    config = write_config(where, db_url=url, imap_port=143, smtp_port=25)
    numbers = _numbers(url)
    commands = [
        ("mailflow queue", ["queue"]),
        ("mailflow queue --overdue", ["queue", "--overdue"]),
        (f"mailflow show (closed, {numbers['closed']})", ["show", numbers["closed"]]),
        ("mailflow show (open)", ["show", numbers["open"]]),
    ]
    details = r.details.setdefault("scale", {}).setdefault(kind, {"counts": counts.__dict__, "migrate_s": migrate_s})
    for label, args in commands:
        got = _time_command(config, args, repeats)
        details[label] = got
        if "error" in got:
            r.add(Row(bench, label, None, "ms", target=f"<= {TARGET_MS} ms", met=False, note=f"failed: {got['error']}"))
            continue
        r.add(Row(bench, label, got["ms"], "ms", target=f"<= {TARGET_MS} ms", met=got["ms"] <= TARGET_MS,
                  note=f"median of {repeats}, max {got['max_ms']:.0f}; working-time arithmetic "
                       f"{got['calendar_ms']:.0f} ms of it"))
    report = _report_args()
    if report is None:
        r.add(Row(bench, "mailflow report (monthly)", None, "ms", target=f"<= {REPORT_TARGET_MS} ms",
                  note="skipped: mailflow.report does not exist in this tree yet"))
    else:
        got = _time_command(config, report, max(3, repeats // 2))
        details["report"] = got
        r.add(Row(bench, f"mailflow {' '.join(report)}", got.get("ms"), "ms", target=f"<= {REPORT_TARGET_MS} ms",
                  met=("error" not in got and got["ms"] <= REPORT_TARGET_MS),
                  note=f"failed: {got['error']}" if "error" in got else f"median of {max(3, repeats // 2)}"))


def run(r: Run, workdir: Path, *, complaints: int, pg_url: str, repeats: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "scale.db"
    try:
        _one_database(r, "sqlite", f"sqlite:///{path}", workdir, complaints, repeats)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not pg_url:
        r.notes.append("scale on PostgreSQL skipped (--pg-url '')")
        return
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB}"))
            c.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    except Exception as exc:
        r.notes.append(f"scale on PostgreSQL skipped: {db_redact(pg_url)} not usable ({type(exc).__name__}: {exc})"[:300])
        admin.dispose()
        return
    url = make_url(pg_url).set(database=BENCH_DB).render_as_string(hide_password=False)
    try:
        _one_database(r, "postgresql", url, workdir, complaints, repeats)
    finally:
        with contextlib.suppress(Exception):
            create_engine(url).dispose()
        with admin.connect() as c:
            c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{BENCH_DB}' "
                           "AND pid <> pg_backend_pid()"))
            c.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB}"))
        admin.dispose()
