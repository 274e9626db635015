"""The office calendar: when a Disdukcapil office is open, and working-time arithmetic.

Pure: values in, values out. The only data it reads is the ``holidays``
package's table of Indonesian public holidays and *cuti bersama* (through
``mailflow.core.calendar_year``, which also holds the per-year tables); nothing
here touches the database, IMAP or SMTP. ``mailflow.config.calendar`` builds
one from a rules file's ``[calendar]`` table.

Semantics (docs/CALENDAR.md has the long form):

- An office day has zero or more opening intervals ``[start, end]`` in the
  office's local time (default, Perpres 21/2023: Mon-Thu 07:30-16:00,
  Fri 07:30-16:30, Sat/Sun closed).
- A day is closed when it is in ``extra_closed``; otherwise open when it is
  in ``extra_open`` (with that weekday's hours, or Monday's hours if that
  weekday is normally closed); otherwise closed on a public holiday, on cuti
  bersama (unless ``cuti_bersama=False``) and on weekdays without hours.
- During Ramadan the weekday's ``ramadan_hours`` apply (a weekday missing from
  ``ramadan_hours`` keeps its normal hours).
- Every method takes aware datetimes (naive ones raise ``ValueError``) and
  returns aware datetimes **in the time zone of its input** (``t.tzinfo``),
  except ``working_intervals``, which answers in the office's zone. "Clock
  time" always means the office's local clock.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailflow.core.calendar_year import TABLE_YEARS, YearData, YearTable, build_year_table, load_year

Interval = tuple[time, time]

UTC = UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
UNITS = ("minutes", "hours", "working_days")
DEFAULT_TIMEZONE = "Asia/Jakarta"
_MON_THU: tuple[Interval, ...] = ((time(7, 30), time(16, 0)),)
_FRI: tuple[Interval, ...] = ((time(7, 30), time(16, 30)),)
# Civil-service hours (Perpres 21/2023): 37.5 hours a week.
DEFAULT_HOURS: Mapping[int, tuple[Interval, ...]] = {0: _MON_THU, 1: _MON_THU, 2: _MON_THU, 3: _MON_THU, 4: _FRI}
EXTRA_CLOSED_NAME = "Libur kantor"  # display name of an extra closed day the office did not name
# Ramadan is 29 or 30 days; without office-given dates we take the 30 days
# before Idul Fitri (at worst one day too early at the start).
_RAMADAN_DAYS = 30
# add_working_* give up after this many consecutive closed days: a calendar
# that never opens again would otherwise loop for ever.
_MAX_CLOSED_RUN = 3660
_MINUTE = timedelta(minutes=1)
_ZERO = timedelta(0)


def _aware(t: datetime, name: str = "t") -> None:
    if not isinstance(t, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {t.isoformat()}")


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _normalize_intervals(intervals: Sequence[Interval], what: str) -> tuple[Interval, ...]:
    out = tuple(sorted((s, e) for s, e in intervals))
    for s, e in out:
        if not (isinstance(s, time) and isinstance(e, time)) or s.tzinfo or e.tzinfo:
            raise ValueError(f"{what}: intervals are pairs of naive datetime.time, got {(s, e)!r}")
        if not s < e:
            raise ValueError(f"{what}: an interval must start before it ends, got {s}-{e}")
    for (_, e1), (s2, _) in zip(out, out[1:]):
        if s2 < e1:
            raise ValueError(f"{what}: intervals overlap ({e1} > {s2})")
    return out


def _normalize_hours(hours: Mapping[int, Sequence[Interval]], what: str) -> dict[int, tuple[Interval, ...]]:
    out: dict[int, tuple[Interval, ...]] = {}
    for weekday, intervals in hours.items():
        if weekday not in range(7):
            raise ValueError(f"{what}: weekday must be 0 (Monday) .. 6 (Sunday), got {weekday!r}")
        out[weekday] = _normalize_intervals(intervals or (), f"{what}[{weekday}]")
    return out


class OfficeCalendar:
    """One office's working time: hours per weekday, Ramadan hours, holidays, exceptions.

    ``hours``: weekday (0=Mon .. 6=Sun) -> list of ``(start, end)`` local times;
    a weekday missing or empty is closed. ``ramadan_hours``: the same shape, or
    None for no Ramadan schedule; a weekday missing keeps its normal hours, an
    empty list closes it. ``ramadan_periods``: year -> ``(first_day, last_day)``
    (or a list of such pairs); a year without an entry takes the 30 days
    before that year's Idul Fitri from the holidays package. ``cuti_bersama``:
    True = closed on cuti bersama. ``extra_closed`` / ``extra_open``: dates
    closed / open whatever else says. ``holiday_names``: display names of
    dates (e.g. the extra closed days).

    Caches holiday data per year, opening intervals per date, and per year a
    table of running totals of working time (all filled lazily; the answers
    never change for a given calendar). With the tables, the working-time
    arithmetic costs the same for a span of a day and a span of years.
    """

    def __init__(
        self,
        timezone: str = DEFAULT_TIMEZONE,
        hours: Mapping[int, Sequence[Interval]] | None = None,
        ramadan_hours: Mapping[int, Sequence[Interval]] | None = None,
        ramadan_periods: Mapping[int, Any] | None = None,
        cuti_bersama: bool = True,
        extra_closed: Sequence[date] | frozenset[date] | set[date] = frozenset(),
        extra_open: Sequence[date] | frozenset[date] | set[date] = frozenset(),
        holiday_names: Mapping[date, str] | None = None,
    ) -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {timezone!r}") from None
        self.timezone = timezone
        normal = _normalize_hours(DEFAULT_HOURS if hours is None else hours, "hours")
        self.hours: dict[int, tuple[Interval, ...]] = {w: normal.get(w, ()) for w in range(7)}
        open_weekdays = [w for w in range(7) if self.hours[w]]
        if not open_weekdays:
            raise ValueError("hours: the office is closed on every weekday")
        # An extra open day on a weekday that is normally closed (a weekend)
        # gets the hours of the first open weekday: Monday (Mon-Thu hours) by default.
        self._fallback_weekday = open_weekdays[0]
        self.ramadan_hours = None if ramadan_hours is None else _normalize_hours(ramadan_hours, "ramadan_hours")
        self.ramadan_periods: dict[int, tuple[tuple[date, date], ...]] = {}
        for year, value in (ramadan_periods or {}).items():
            pairs = [value] if len(value) == 2 and all(isinstance(v, date) for v in value) else list(value)
            for first, last in pairs:
                if not first <= last:
                    raise ValueError(f"ramadan_periods[{year}]: {first} is after {last}")
            self.ramadan_periods[int(year)] = tuple((first, last) for first, last in pairs)
        self.cuti_bersama = bool(cuti_bersama)
        self.extra_closed = frozenset(extra_closed)
        self.extra_open = frozenset(extra_open)
        both = self.extra_closed & self.extra_open
        if both:
            raise ValueError(f"dates both extra closed and extra open: {', '.join(map(str, sorted(both)))}")
        self.holiday_names = dict(holiday_names or {})
        self._years: dict[int, YearData] = {}
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._tables: dict[int, YearTable] = {}

    @classmethod
    def default(cls, timezone: str = DEFAULT_TIMEZONE) -> OfficeCalendar:
        """Civil-service hours, closed on public holidays and cuti bersama, no Ramadan schedule."""
        return cls(timezone)

    def __repr__(self) -> str:
        return f"OfficeCalendar({self.timezone!r}, cuti_bersama={self.cuti_bersama})"

    # ------------------------------------------------------------------ days

    def _year(self, year: int) -> YearData:
        data = self._years.get(year)
        if data is None:
            data = self._years[year] = load_year(year)
        return data

    def _closing_holiday(self, d: date) -> str | None:
        """The name of the public holiday (or observed cuti bersama) on d, else None."""
        data = self._year(d.year)
        name = data.public.get(d)
        if name is None and self.cuti_bersama:
            name = data.cuti.get(d)
        return name

    def _ramadan_periods_of(self, year: int) -> tuple[tuple[date, date], ...]:
        if year in self.ramadan_periods:
            return self.ramadan_periods[year]
        return tuple((f - timedelta(days=_RAMADAN_DAYS), f - timedelta(days=1)) for f in self._year(year).idul_fitri)

    def is_ramadan(self, d: date) -> bool:
        """True if the Ramadan schedule applies on d (always False without ramadan_hours)."""
        if self.ramadan_hours is None:
            return False
        # A period keyed by year Y may start in Y-1 or end in Y+1.
        years = (d.year - 1, d.year, d.year + 1)
        return any(first <= d <= last for y in years for first, last in self._ramadan_periods_of(y))

    def _local_hours(self, d: date) -> tuple[Interval, ...]:
        if d in self.extra_closed:
            return ()
        weekday = d.weekday()
        if d in self.extra_open:
            if not self.hours[weekday]:
                weekday = self._fallback_weekday
        elif self._closing_holiday(d) is not None:
            return ()
        if self.ramadan_hours is not None and weekday in self.ramadan_hours and self.is_ramadan(d):
            return self.ramadan_hours[weekday]
        return self.hours[weekday]

    def _day(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """Opening intervals of local date d as UTC instants (cached)."""
        found = self._days.get(d)
        if found is None:
            found = self._days[d] = tuple(
                (datetime.combine(d, s, self.zone).astimezone(UTC), datetime.combine(d, e, self.zone).astimezone(UTC))
                for s, e in self._local_hours(d)
            )
        return found

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self.zone).date()

    def _working_days_after(self, d: date) -> Iterator[date]:
        """Working days strictly after d, in order; raises after a decade of closed days."""
        closed_run = 0
        while True:
            d += timedelta(days=1)
            if self._day(d):
                closed_run = 0
                yield d
            else:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    raise ValueError(f"the office never opens again after {d - timedelta(days=closed_run)}")

    def _table(self, year: int) -> YearTable | None:
        """The running-total table of a local year (built once), or None outside TABLE_YEARS."""
        table = self._tables.get(year)
        if table is None:
            if year not in TABLE_YEARS:
                return None
            table = self._tables[year] = build_year_table(year, self._day)
        return table

    def _next_table(self, year: int, reached: int) -> YearTable | None:
        """The table of ``year``, entered by a search for the next working day after ordinal ``reached``.

        Raises as _working_days_after does when the office stays closed for
        more than _MAX_CLOSED_RUN days after ``reached`` (the last working day
        the search passed, or where it started), with the same message. None:
        the year has no table; the caller falls back to the walk.
        """
        table = self._table(year)
        if table is None:
            return None
        # the first day after `reached` that the walk would give up on
        give_up = reached + _MAX_CLOSED_RUN + 1
        next_open = table.base + table.working[0] if table.working else table.stop
        if next_open > give_up:
            raise ValueError(f"the office never opens again after {date.fromordinal(reached)}")
        return table

    def _nth_working_day_after(self, d: date, n: int) -> date:
        """The nth working day strictly after d (d itself for n == 0); what n next()s of _working_days_after give."""
        if n == 0:
            return d
        reached = d.toordinal()
        table = self._table(d.year)
        pos = 0 if table is None else bisect_right(table.working, reached - table.base)
        while table is not None:
            if n <= len(table.working) - pos:
                return date.fromordinal(table.base + table.working[pos + n - 1])
            n -= len(table.working) - pos
            if table.working:
                reached = max(reached, table.base + table.working[-1])
            table, pos = self._next_table(table.year + 1, reached), 0
        days = self._working_days_after(date.fromordinal(reached))  # outside the tables: walk
        for _ in range(n):
            d = next(days)
        return d

    def is_working_day(self, d: date) -> bool:
        """True if the office opens on local date d."""
        return bool(self._day(d))

    def working_intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        """The opening intervals of local date d, aware datetimes in the office's zone; [] if closed."""
        return [(s.astimezone(self.zone), e.astimezone(self.zone)) for s, e in self._day(d)]

    def holiday_name(self, d: date) -> str | None:
        """Why the office is closed on d, for display; None if no holiday closes it.

        An extra open day gives None; an extra closed day gives its name from
        ``holiday_names``, else the holiday's name, else "Libur kantor"; a
        public holiday or an observed cuti bersama gives the package's
        Indonesian name (overridden by ``holiday_names``). Ordinary weekends and
        unobserved cuti bersama give None.
        """
        if d in self.extra_open:
            return None
        name = self._closing_holiday(d)
        if d in self.extra_closed:
            return self.holiday_names.get(d) or name or EXTRA_CLOSED_NAME
        if name is None:
            return None
        return self.holiday_names.get(d, name)

    # ------------------------------------------------------------ arithmetic

    def add_working_minutes(self, t: datetime, minutes: int) -> datetime:
        """The earliest instant r >= t with ``minutes`` working minutes in [t, r].

        Counting starts at t if the office is open then, else at the next
        opening; a count that ends exactly at a closing time gives the closing
        time (not the next opening). ``minutes == 0`` gives t itself.
        Seconds in t are kept. Result in t's time zone.
        """
        _aware(t)
        remaining = timedelta(minutes=_count(minutes, "minutes"))
        if not remaining:
            return t
        cursor = t.astimezone(UTC)
        d = self._local_date(t)
        due = self._add_by_table(cursor, d, remaining)
        if due is None:
            due = self._add_by_walk(cursor, d, remaining)
        return due.astimezone(t.tzinfo)

    def _add_by_walk(self, cursor: datetime, d: date, remaining: timedelta) -> datetime:
        """add_working_minutes day by day from local date d: the definition, and the fallback."""
        days = self._working_days_after(d)
        while True:
            for start, end in self._day(d):
                if end <= cursor:
                    continue
                start = max(start, cursor)
                if remaining <= end - start:
                    return start + remaining
                remaining -= end - start
            d = next(days)

    def _add_by_table(self, cursor: datetime, d: date, remaining: timedelta) -> datetime | None:
        """What _add_by_walk gives, by bisection in the year tables; None where a table can't answer.

        The walk goes through the intervals of d and the days after it in
        order, skips those that end by ``cursor``, starts the first one left
        at ``cursor`` at the latest, and stops in the first interval that
        holds what remains. In an ordered table the skipped ones are a prefix
        (``ends`` is sorted: one bisect), only the first one left can be cut
        by ``cursor``, and the interval where it stops is the first whose
        running total reaches the target (a second bisect).
        """
        table = self._table(d.year)
        if table is None:
            return None
        lo = table.first[d.toordinal() - table.base]
        reached = d.toordinal()  # the last working day the walk has passed (for its give-up rule)
        while table is not None and table.ordered:
            n = len(table.starts)
            k = bisect_right(table.ends, cursor, lo)
            if k < n:
                start = max(table.starts[k], cursor)
                if remaining <= table.ends[k] - start:
                    return start + remaining
                target = table.cum[k + 1] + (remaining - (table.ends[k] - start))
                m = bisect_left(table.cum, target, k + 2)
                if m <= n:  # runs out in interval m - 1, which starts after cursor
                    return table.starts[m - 1] + (target - table.cum[m - 1])
                remaining = target - table.cum[n]
            if table.working:
                reached = max(reached, table.base + table.working[-1])
            table, lo = self._next_table(table.year + 1, reached), 0
        return None

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Whole working minutes (floored) between a and b; 0 if b <= a.

        The open time in [a, b] is added up exactly (to the microsecond)
        and floored once at the end.
        """
        _aware(a, "a")
        _aware(b, "b")
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if b <= a:
            return 0
        first, last = self._local_date(a), self._local_date(b)
        if first == last:
            return self._open_time(first, a, b) // _MINUTE
        if first < last:
            between = self._whole_days_between(first, last, a, b)
            if between is not None:
                return (self._open_time(first, a, b) + between + self._open_time(last, a, b)) // _MINUTE
        return self._between_by_walk(a, b)

    def _open_time(self, d: date, a: datetime, b: datetime) -> timedelta:
        """The open time of local date d inside [a, b] (UTC instants)."""
        total = _ZERO
        for start, end in self._day(d):
            lo, hi = max(start, a), min(end, b)
            if lo < hi:
                total += hi - lo
        return total

    def _between_by_walk(self, a: datetime, b: datetime) -> int:
        """working_minutes_between day by day (UTC a < b): the definition, and the fallback."""
        total = _ZERO
        d, last = self._local_date(a), self._local_date(b)
        while d <= last:
            total += self._open_time(d, a, b)
            d += timedelta(days=1)
        return total // _MINUTE

    def _whole_days_between(self, first: date, last: date, a: datetime, b: datetime) -> timedelta | None:
        """The open time of the local days strictly between first and last, all inside [a, b].

        That is what the walk adds for those days provided each of their
        intervals lies inside [a, b]; in an ordered table it is enough to
        check the first interval's start and the last one's end. None when a
        table is missing or not ordered, or the check fails (a zone whose
        offset changes around those days): the caller walks instead.
        """
        total = _ZERO
        lo, hi = first.toordinal() + 1, last.toordinal()  # ordinals of the days in [lo, hi)
        year = date.fromordinal(lo).year
        while lo < hi:
            table = self._table(year)
            if table is None or not table.ordered:
                return None
            end = min(hi, table.stop)
            k1, k2 = table.first[lo - table.base], table.first[end - table.base]
            if k1 < k2:
                if table.starts[k1] < a or table.ends[k2 - 1] > b:
                    return None
                total += table.cum[k2] - table.cum[k1]
            lo, year = end, year + 1
        return total

    def add_working_days(self, t: datetime, days: int) -> datetime:
        """The due time of a standard of ``days`` working days started at t.

        The rule ("same clock time N working days later"), in office time:
        - t while the office is open on day D (after an opening, up to and
          including the closing): the clock time of t on the Nth working day
          after D. If the office isn't open at that clock time on that day
          (shorter Friday or Ramadan hours, a break), the due time is the last
          moment before it that the office was open: that day's closing, the
          start of the break, or -- if it hadn't opened yet -- the previous
          working day's closing.
        - t in a break: as if t were the start of the break (the same moment
          in working time).
        - t otherwise outside hours (before or exactly at the day's first
          opening, after its last closing, a weekend or a holiday): the close
          of business of the Nth working day, counting the day of the next
          opening as day 1.
        So a due time is never an opening time; it is at most the close of
        business. ``days == 0`` gives t. Result in t's time zone.
        """
        _aware(t)
        n = _count(days, "days")
        if n == 0:
            return t
        tu = t.astimezone(UTC)
        day = self._local_date(t)
        intervals = self._day(day)
        anchor = None
        for i, (start, end) in enumerate(intervals):
            if start < tu <= end:
                anchor = tu
            elif i and intervals[i - 1][1] < tu <= start:  # in a break
                anchor = intervals[i - 1][1]
        if anchor is None:  # before the first opening, after the last closing, or a closed day
            if not intervals or tu > intervals[-1][1]:
                day = self._nth_working_day_after(day, 1)
            day = self._nth_working_day_after(day, n - 1)
            return self._day(day)[-1][1].astimezone(t.tzinfo)
        clock = anchor.astimezone(self.zone).time()
        previous = self._nth_working_day_after(day, n - 1)
        day = self._nth_working_day_after(previous, 1)
        wanted = datetime.combine(day, clock, self.zone).astimezone(UTC)
        due = self._day(previous)[-1][1]  # not open yet at that clock time: the previous closing
        for start, end in self._day(day):
            if start < wanted:
                due = min(wanted, end)
        return due.astimezone(t.tzinfo)

    def due(self, start: datetime, standard_amount: int, unit: str) -> datetime:
        """The due time of a time standard (mutu baku waktu) started at ``start``.

        ``unit``: "minutes" or "hours" (working time, via add_working_minutes)
        or "working_days" (via add_working_days).
        """
        if unit == "minutes":
            return self.add_working_minutes(start, standard_amount)
        if unit == "hours":
            return self.add_working_minutes(start, _count(standard_amount, "standard_amount") * 60)
        if unit == "working_days":
            return self.add_working_days(start, standard_amount)
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
