"""Build an ``OfficeCalendar`` from a rules file's ``[calendar]`` table.

Every error names the file, the key and the fix (docs/CALENDAR.md documents the keys).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailflow.core.calendar import DEFAULT_TIMEZONE, WEEKDAYS, Interval, OfficeCalendar
from mailflow.errors import RulesError

_INTERVAL = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-\u2013]\s*(\d{1,2})[:.](\d{2})\s*$")
_HOURS_HINT = 'expected "HH:MM-HH:MM" (several separated by ",", "" = closed), e.g. "07:30-16:00"'
_TZ_HINT = "expected an IANA zone: Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)"
_CALENDAR_KEYS = ("timezone", "cuti_bersama", "hours", "ramadan", "closed", "open")
_RAMADAN_KEYS = ("hours", "periods")


def _fail(path: Path | str, key: str, message: str) -> RulesError:
    return RulesError(f"{path}: key '{key}': {message}")


def _check_keys(path: Path | str, table: dict, where: str, known: Sequence[str], hint: str = "") -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise _fail(path, f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(known)}){hint}")


def _parse_intervals(path: Path | str, key: str, value: Any) -> tuple[Interval, ...]:
    if not isinstance(value, str):
        raise _fail(path, key, f"{_HOURS_HINT}, got {value!r}")
    if not value.strip():
        return ()
    out: list[Interval] = []
    for part in value.split(","):
        m = _INTERVAL.match(part)
        if not m:
            raise _fail(path, key, f"{_HOURS_HINT}, got {value!r}")
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise _fail(path, key, f"{part.strip()!r} is not a time of day (00:00 to 23:59)")
        s, e = time(h1, m1), time(h2, m2)
        if not s < e:
            raise _fail(path, key, f"{part.strip()!r} ends before it starts: write the opening time first")
        out.append((s, e))
    out.sort()
    for (_, e1), (s2, _) in zip(out, out[1:]):
        if s2 < e1:
            raise _fail(path, key, f"the intervals in {value!r} overlap: list them without overlap")
    return tuple(out)


def _parse_week(path: Path | str, key: str, value: Any) -> dict[int, tuple[Interval, ...]]:
    if not isinstance(value, dict):
        raise _fail(path, key, f"expected a table of weekdays ({', '.join(WEEKDAYS)}) to {_HOURS_HINT}")
    _check_keys(path, value, key, WEEKDAYS)
    return {WEEKDAYS.index(day): _parse_intervals(path, f"{key}.{day}", v) for day, v in value.items()}


def _parse_date(path: Path | str, key: str, value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(path, key, f'expected a date "YYYY-MM-DD", e.g. "2026-08-18", got {value!r}')


def _parse_dates(path: Path | str, key: str, value: Any, *, named: bool) -> dict[date, str]:
    """A list of dates, or (if named) a table date -> display name."""
    if named and isinstance(value, dict):
        out: dict[date, str] = {}
        for k, name in value.items():
            d = _parse_date(path, f"{key}.{k}", k)
            if not isinstance(name, str) or not name.strip():
                raise _fail(path, f"{key}.{k}", f"expected the day's name as a non-empty string, got {name!r}")
            out[d] = name.strip()
        return out
    if not isinstance(value, list):
        shape = 'a list of dates ["YYYY-MM-DD", ...]' + (' or a table { "YYYY-MM-DD" = "name" }' if named else "")
        raise _fail(path, key, f"expected {shape}, got {value!r}")
    return {_parse_date(path, f"{key}[{i}]", v): "" for i, v in enumerate(value)}


def _parse_periods(path: Path | str, key: str, value: Any) -> dict[int, tuple[tuple[date, date], ...]]:
    hint = 'expected a table of years to ["first day", "last day"], e.g. { 2026 = ["2026-02-19", "2026-03-20"] }'
    if not isinstance(value, dict):
        raise _fail(path, key, f"{hint}, got {value!r}")
    out: dict[int, tuple[tuple[date, date], ...]] = {}
    for year_key, pairs in value.items():
        where = f"{key}.{year_key}"
        if not re.fullmatch(r"\d{4}", str(year_key)):
            raise _fail(path, where, f"{hint}: the key must be a year")
        year = int(year_key)
        if isinstance(pairs, list) and len(pairs) == 2 and not any(isinstance(p, list) for p in pairs):
            pairs = [pairs]
        if not isinstance(pairs, list) or not pairs or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise _fail(path, where, f"{hint}, got {value[year_key]!r}")
        parsed = []
        for first_raw, last_raw in pairs:
            first, last = _parse_date(path, where, first_raw), _parse_date(path, where, last_raw)
            if not first <= last:
                raise _fail(path, where, f"{first} is after {last}: write the first day of Ramadan first")
            if year not in (first.year, last.year):
                raise _fail(path, where, f"{first}..{last} is not in {year}: fix the year or the dates")
            if (last - first).days > 31:
                raise _fail(path, where, f"{first}..{last} is {(last - first).days + 1} days; Ramadan is 29 or 30")
            parsed.append((first, last))
        out[year] = tuple(parsed)
    return out


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
    if not isinstance(table, dict):
        raise _fail(path, "calendar", "expected a table [calendar]")
    _check_keys(path, table, "calendar", _CALENDAR_KEYS)

    timezone = table.get("timezone", default_timezone)
    if not isinstance(timezone, str):
        raise _fail(path, "calendar.timezone", f"{_TZ_HINT}, got {timezone!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(path, "calendar.timezone", f"{_TZ_HINT}, got {timezone!r}") from None

    cuti_bersama = table.get("cuti_bersama", True)
    if not isinstance(cuti_bersama, bool):
        raise _fail(
            path, "calendar.cuti_bersama", f"expected true (closed on cuti bersama) or false (open), got {cuti_bersama!r}"
        )

    hours: dict[int, tuple[Interval, ...]] | None = None
    if "hours" in table:
        hours = _parse_week(path, "calendar.hours", table["hours"])
        if not any(hours.values()):
            raise _fail(path, "calendar.hours", 'every weekday is closed: give at least one day\'s hours, e.g. mon = "07:30-16:00"')

    ramadan_hours = ramadan_periods = None
    if "ramadan" in table:
        ramadan = table["ramadan"]
        if not isinstance(ramadan, dict):
            raise _fail(path, "calendar.ramadan", "expected a table with hours (and optionally periods)")
        _check_keys(
            path, ramadan, "calendar.ramadan", _RAMADAN_KEYS,
            "; extra closed/open days go in [calendar] as closed = [...] / open = [...]",
        )
        if "hours" not in ramadan:
            example = '{ mon = "08:00-15:00", fri = "08:00-15:30" }'
            raise _fail(path, "calendar.ramadan.hours", f"is missing: expected e.g. {example}")
        ramadan_hours = _parse_week(path, "calendar.ramadan.hours", ramadan["hours"])
        if "periods" in ramadan:
            ramadan_periods = _parse_periods(path, "calendar.ramadan.periods", ramadan["periods"])

    closed = _parse_dates(path, "calendar.closed", table.get("closed", []), named=True)
    open_days = _parse_dates(path, "calendar.open", table.get("open", []), named=False)
    both = sorted(set(closed) & set(open_days))
    if both:
        raise _fail(path, "calendar.open", f"{both[0]} is also in calendar.closed: keep it in one of them")

    return OfficeCalendar(
        timezone,
        hours=hours,
        ramadan_hours=ramadan_hours,
        ramadan_periods=ramadan_periods,
        cuti_bersama=cuti_bersama,
        extra_closed=frozenset(closed),
        extra_open=frozenset(open_days),
        holiday_names={d: name for d, name in closed.items() if name},
    )
