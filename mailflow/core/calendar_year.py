"""One calendar year of an office, as data the working-time arithmetic can bisect.

``load_year`` reads the ``holidays`` package's Indonesian public holidays and
*cuti bersama* of a year; ``build_year_table`` flattens a year of opening
intervals into running totals. Used by ``mailflow.core.calendar.OfficeCalendar``,
which caches both per year. Pure apart from reading the package's tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import holidays as holidays_pkg
from holidays.constants import GOVERNMENT, PUBLIC

# Names of the first day of Idul Fitri in the holidays package (language "id");
# an estimated date carries a suffix: "Hari Raya Idul Fitri (perkiraan)".
_IDUL_FITRI = "Hari Raya Idul Fitri"
# Years that get a YearTable. Outside them the day-by-day walk answers: the
# first local day of year 1 and the last of year 9999 can fall outside
# datetime's range in UTC, and the walk raises exactly where it did before.
TABLE_YEARS = range(2, 9999)
_ZERO = timedelta(0)


@dataclass(frozen=True)
class YearData:
    public: dict[date, str]  # public holidays (libur nasional)
    cuti: dict[date, str]  # cuti bersama (the package's GOVERNMENT category for ID)
    idul_fitri: tuple[date, ...]  # first day(s) of Idul Fitri in that Gregorian year


def load_year(year: int) -> YearData:
    """Public holidays and cuti bersama of one year, names in Indonesian."""
    public = holidays_pkg.country_holidays("ID", years=year, categories=(PUBLIC,), language="id")
    cuti = holidays_pkg.country_holidays("ID", years=year, categories=(GOVERNMENT,), language="id")
    fitri = tuple(
        sorted(
            d
            for d in public
            if any(n == _IDUL_FITRI or n.startswith(_IDUL_FITRI + " (") for n in public.get_list(d))
        )
    )
    return YearData(public=dict(public.items()), cuti=dict(cuti.items()), idul_fitri=fitri)


@dataclass(frozen=True, slots=True)
class YearTable:
    """One local calendar year of opening intervals, flattened, with running totals.

    Day i of the year (0 = 1 January) owns the intervals ``first[i]`` ..
    ``first[i + 1] - 1`` of ``starts`` / ``ends`` (UTC instants, in day order,
    each day's in its own order). ``cum[k]`` is the total length of intervals
    ``0 .. k-1``, so the open time of any run of whole days is one
    subtraction, and the instant where N working minutes run out is a
    ``bisect`` in ``cum``.

    ``ordered``: ``starts[k] < ends[k] <= starts[k + 1]`` for every k. In a zone
    without offset changes (WIB, WITA, WIT since 1964) this always holds; an
    interval whose clock time falls into a DST gap can break it (zoneinfo maps
    the missing time forward, past the next interval's start). The fast paths
    need it -- they bisect over ``ends`` and take whole days as fully inside a
    span -- so a year that is not ordered is left to the day-by-day walk.
    """

    year: int
    base: int  # date(year, 1, 1).toordinal()
    stop: int  # date(year + 1, 1, 1).toordinal()
    first: tuple[int, ...]  # one per day, plus the total count at the end
    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    cum: tuple[timedelta, ...]  # len(starts) + 1 entries, cum[0] = 0
    working: tuple[int, ...]  # day indexes (0 = 1 January) of the working days
    ordered: bool



def build_year_table(year: int, day: Callable[[date], tuple[tuple[datetime, datetime], ...]]) -> YearTable:
    """The table of local ``year``, from ``day``: a local date -> its opening intervals as UTC instants."""
    base, stop = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
    first: list[int] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    cum = [_ZERO]
    working: list[int] = []
    for i in range(stop - base):
        first.append(len(starts))
        intervals = day(date.fromordinal(base + i))
        if intervals:
            working.append(i)
        for start, end in intervals:
            starts.append(start)
            ends.append(end)
            cum.append(cum[-1] + (end - start))
    first.append(len(starts))
    ordered = all(s < e for s, e in zip(starts, ends)) and all(e <= s for e, s in zip(ends, starts[1:]))
    return YearTable(year, base, stop, tuple(first), tuple(starts), tuple(ends), tuple(cum), tuple(working), ordered)
