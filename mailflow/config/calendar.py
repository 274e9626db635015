"""Build an ``OfficeCalendar`` from a rules file's ``[calendar]`` table.

Every error names the file, the key and the fix (docs/CALENDAR.md documents the keys).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainValidator

from mailflow.config.toml import Expect, Source, Table, Timezone, problem
from mailflow.core.calendar import DEFAULT_TIMEZONE, WEEKDAYS, Interval, OfficeCalendar
from mailflow.errors import RulesError

_INTERVAL = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-\u2013]\s*(\d{1,2})[:.](\d{2})\s*$")
_HOURS = '"HH:MM-HH:MM" (several separated by ",", "" = closed), e.g. "07:30-16:00"'
_DATE = 'a date "YYYY-MM-DD", e.g. "2026-08-18"'
_PERIODS = 'a table of years to ["first day", "last day"], e.g. { 2026 = ["2026-02-19", "2026-03-20"] }'


def _intervals(value: Any) -> tuple[Interval, ...]:
    """``"07:30-12:00, 13:00-16:00"`` -> sorted (start, end) pairs; ``""`` -> closed."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    if not value.strip():
        return ()
    out: list[Interval] = []
    for part in value.split(","):
        m = _INTERVAL.match(part)
        if not m:
            raise ValueError("not HH:MM-HH:MM")
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise problem(f"{part.strip()!r} is not a time of day (00:00 to 23:59)")
        s, e = time(h1, m1), time(h2, m2)
        if not s < e:
            raise problem(f"{part.strip()!r} ends before it starts: write the opening time first")
        out.append((s, e))
    out.sort()
    for (_, e1), (s2, _) in zip(out, out[1:]):
        if s2 < e1:
            raise problem(f"the intervals in {value!r} overlap: list them without overlap")
    return tuple(out)


def _date(value: Any) -> date:
    """A TOML date or an ISO string -> a date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("not a date")


def _closed(value: Any) -> dict[date, str]:
    """``closed``: a list of dates, or a table date -> the day's display name ("" = unnamed)."""
    if isinstance(value, dict):
        out: dict[date, str] = {}
        for key, name in value.items():
            try:
                day = _date(key)
            except ValueError:
                raise problem(f"expected {_DATE}, got {key!r}", at=(key,)) from None
            if not isinstance(name, str) or not name.strip():
                raise problem(f"expected the day's name as a non-empty string, got {name!r}", at=(key,))
            out[day] = name.strip()
        return out
    if not isinstance(value, list):
        raise ValueError("neither a list nor a table")
    out = {}
    for i, item in enumerate(value):
        try:
            out[_date(item)] = ""
        except ValueError:
            raise problem(f"expected {_DATE}, got {item!r}", at=(i,)) from None
    return out


def _period_day(value: Any) -> date:
    try:
        return _date(value)
    except ValueError:
        raise problem(f"expected {_DATE}, got {value!r}") from None


def _periods(value: Any) -> tuple[tuple[date, date], ...]:
    """One year's Ramadan: ``[first, last]`` or a list of such pairs."""
    if isinstance(value, list) and len(value) == 2 and not any(isinstance(p, list) for p in value):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise ValueError("not pairs of dates")
    out = []
    for pair in value:
        first, last = (_period_day(v) for v in pair)
        if not first <= last:
            raise problem(f"{first} is after {last}: write the first day of Ramadan first")
        if (last - first).days > 31:
            raise problem(f"{first}..{last} is {(last - first).days + 1} days; Ramadan is 29 or 30")
        out.append((first, last))
    return tuple(out)


def _year(value: str) -> str:
    if not re.fullmatch(r"\d{4}", value):
        raise problem(f"expected {_PERIODS}: the key must be a year")
    return value


Hours = Annotated[tuple[Interval, ...], PlainValidator(_intervals), Expect(_HOURS)]
Day = Annotated[date, PlainValidator(_date), Expect(_DATE)]


class _Week(Table):
    mon: Hours | None = None
    tue: Hours | None = None
    wed: Hours | None = None
    thu: Hours | None = None
    fri: Hours | None = None
    sat: Hours | None = None
    sun: Hours | None = None

    def by_weekday(self) -> dict[int, tuple[Interval, ...]]:
        """Weekday (0 = Monday) -> intervals, for the days given."""
        return {i: getattr(self, day) for i, day in enumerate(WEEKDAYS) if getattr(self, day) is not None}


_WEEK = f"a table of weekdays ({', '.join(WEEKDAYS)}) to {_HOURS}"


class _Ramadan(Table):
    unknown_hint = "; extra closed/open days go in [calendar] as closed = [...] / open = [...]"

    hours: _Week = Field(description='a table of weekdays, e.g. { mon = "08:00-15:00", fri = "08:00-15:30" }')
    periods: dict[Annotated[str, PlainValidator(_year)],
                  Annotated[tuple[tuple[date, date], ...], PlainValidator(_periods), Expect(_PERIODS)]
                  ] | None = Field(None, description=_PERIODS)


class CalendarTable(Table):
    """The schema of ``[calendar]``."""

    timezone: Timezone | None = None  # default: the office's zone from mailflow.toml
    cuti_bersama: bool = Field(True, description="true (closed on cuti bersama) or false (open)")
    hours: _Week | None = Field(None, description=_WEEK)
    ramadan: _Ramadan | None = Field(None, description="a table with hours (and optionally periods)")
    closed: Annotated[dict[date, str], PlainValidator(_closed)] = Field(
        default_factory=dict, description='a list of dates ["YYYY-MM-DD", ...] or a table { "YYYY-MM-DD" = "name" }')
    open: list[Day] = Field(default_factory=list, description='a list of dates ["YYYY-MM-DD", ...]')


def build_calendar(source: Source, table: CalendarTable | None, default_timezone: str = DEFAULT_TIMEZONE) -> OfficeCalendar:
    """The calendar a validated ``[calendar]`` table describes (None: the default one)."""
    if table is None:
        return OfficeCalendar.default(default_timezone)
    hours = table.hours.by_weekday() if table.hours is not None else None
    if hours is not None and not any(hours.values()):
        raise source.fail("calendar.hours", 'every weekday is closed: give at least one day\'s hours, e.g. mon = "07:30-16:00"')
    ramadan_hours = ramadan_periods = None
    if table.ramadan is not None:
        ramadan_hours = table.ramadan.hours.by_weekday()
        ramadan_periods = {int(year): pairs for year, pairs in (table.ramadan.periods or {}).items()} or None
        for year, pairs in (ramadan_periods or {}).items():
            for first, last in pairs:
                if year not in (first.year, last.year):
                    raise source.fail(f"calendar.ramadan.periods.{year}",
                                      f"{first}..{last} is not in {year}: fix the year or the dates")
    both = sorted(set(table.closed) & set(table.open))
    if both:
        raise source.fail("calendar.open", f"{both[0]} is also in calendar.closed: keep it in one of them")
    return OfficeCalendar(
        table.timezone or default_timezone,
        hours=hours,
        ramadan_hours=ramadan_hours,
        ramadan_periods=ramadan_periods,
        cuti_bersama=table.cuti_bersama,
        extra_closed=frozenset(table.closed),
        extra_open=frozenset(table.open),
        holiday_names={d: name for d, name in table.closed.items() if name},
    )


def calendar_from_table(
    path: Path | str, table: dict | None, *, default_timezone: str = DEFAULT_TIMEZONE
) -> OfficeCalendar:
    """Build the office calendar from a rules file's ``[calendar]`` table.

    ``path`` is only used in error messages; ``None`` or ``{}`` gives
    ``OfficeCalendar.default(default_timezone)`` (pass the office's zone from
    mailflow.toml). Raises RulesError naming the file, the key and the fix.
    """
    if not table:
        return OfficeCalendar.default(default_timezone)
    source = Source(path, RulesError)
    checked = source.validate(CalendarTable, table, at=("calendar",), expected="a table [calendar]")
    return build_calendar(source, checked, default_timezone)
