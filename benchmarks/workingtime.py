"""Working-time arithmetic alone: ``OfficeCalendar`` calls as the listings and the daemon make them.

    python -m benchmarks.workingtime                      # 200 calls per figure, median of 7
    python -m benchmarks.workingtime --calls 200 --repeats 7 --json FILE

No mail stack, no database: the calendar is pure, so this isolates the part
of ``mailflow queue`` that the scale benchmark reports as "working-time
arithmetic".  Each figure is the time of CALLS calls with seeded random
arguments (the same arguments in every run, so two checkouts compare):

* *warm*: on a calendar that already answered the same calls once (what a
  long-running daemon sees);
* *cold*: on a freshly built calendar, so holiday loading and any per-year
  tables are paid inside the figure (what one ``mailflow queue`` process
  sees: it builds its calendar from the rules file at start-up).

"now" is fixed (Tue 1 Dec 2026 10:00 WIB) and the calendar is the default
one (WIB, civil-service hours, holidays and cuti bersama) plus one with
Ramadan hours and extra closed/open days, for the span figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.harness import Row, Run, median, table, write_json

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


def _calendars():
    from datetime import time as clock

    from mailflow.core.calendar import OfficeCalendar

    ramadan = {w: [(clock(8), clock(15))] for w in range(4)} | {4: [(clock(8), clock(15, 30))]}
    return {
        "default": lambda: OfficeCalendar.default(),
        "ramadan+extra": lambda: OfficeCalendar(
            "Asia/Makassar", ramadan_hours=ramadan,
            extra_closed={date(2026, 7, 20), date(2025, 7, 21)}, extra_open={date(2026, 3, 23)},
        ),
    }


def _spans(calls: int, min_days: int, max_days: int, seed: int) -> list[tuple[datetime, datetime]]:
    rnd = random.Random(seed)
    return [(NOW - timedelta(seconds=rnd.randrange(min_days * 86400, max_days * 86400 + 1)), NOW) for _ in range(calls)]


def _time(make, work, repeats: int) -> tuple[float, float]:
    """(warm ms, cold ms): medians over repeats of one pass of work(calendar)."""
    warm, cold = [], []
    for _ in range(repeats):
        cal = make()
        t = time.perf_counter()
        work(cal)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        work(cal)
        warm.append(time.perf_counter() - t)
    return median(warm) * 1000, median(cold) * 1000


def run(r: Run, *, calls: int = 200, repeats: int = 7) -> None:
    bench = "workingtime"
    rnd = random.Random(6)
    for name, make in _calendars().items():
        # 1000-1095 days: the oldest-first queue of a three-year register (the scale benchmark's case)
        for min_days, max_days in ((0, 365), (0, 3 * 365), (1000, 3 * 365)):
            spans = _spans(calls, min_days, max_days, seed=max_days + min_days)

            def between(cal, spans=spans):
                for a, b in spans:
                    cal.working_minutes_between(a, b)

            warm, cold = _time(make, between, repeats)
            label = f"{calls} x working_minutes_between, spans {min_days}-{max_days} days ({name})"
            r.add(Row(bench, label + ", warm", warm, "ms"))
            r.add(Row(bench, label + ", cold", cold, "ms", note="fresh calendar: holidays and tables inside"))

    make = _calendars()["default"]
    starts = [NOW - timedelta(seconds=rnd.randrange(365 * 86400)) for _ in range(calls)]
    big = [rnd.randrange(123_780) for _ in range(calls)]  # up to a year of working minutes (2026: 123,780)

    def add_big(cal):
        for t, m in zip(starts, big):
            cal.add_working_minutes(t, m)

    warm, cold = _time(make, add_big, repeats)
    r.add(Row(bench, f"{calls} x add_working_minutes, 0-123,780 min (a year), warm", warm, "ms"))
    r.add(Row(bench, f"{calls} x add_working_minutes, 0-123,780 min (a year), cold", cold, "ms"))

    # What registering a complaint costs (visits.open_visit): due, minutes between, the reminder.
    standards = [rnd.choice([(30, "minutes"), (4, "hours"), (1, "working_days"), (3, "working_days"),
                             (14, "working_days")]) for _ in range(calls)]

    def register(cal):
        for t, (amount, unit) in zip(starts, standards):
            due = cal.due(t, amount, unit)
            total = cal.working_minutes_between(t, due)
            cal.add_working_minutes(t, int(total * 0.75))

    warm, cold = _time(make, register, repeats)
    r.add(Row(bench, f"{calls} x open_visit arithmetic (due + minutes between + reminder), warm", warm, "ms"))
    r.add(Row(bench, f"{calls} x open_visit arithmetic (due + minutes between + reminder), cold", cold, "ms"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.workingtime", description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=200, help="calls per figure (default 200: one queue listing)")
    p.add_argument("--repeats", type=int, default=7, help="median of this many passes (default 7)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    r = Run(quick=False)
    run(r, calls=args.calls, repeats=args.repeats)
    print(table(r.rows))
    if args.json:
        write_json(r, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
