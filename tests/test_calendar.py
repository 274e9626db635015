"""The office calendar (mailflow.core.calendar): working days, working-time arithmetic; and the
[calendar] table (mailflow.config.calendar).

Fixed clocks only. The 2026 holiday dates asserted here were read from the
installed `holidays` package (and match the 2026 SKB 3 Menteri): Nyepi Thu
19 Mar, cuti bersama Nyepi Wed 18 Mar, Idul Fitri Sat 21 + Sun 22 Mar, cuti
bersama Idul Fitri Fri 20, Mon 23 and Tue 24 Mar.
"""

from __future__ import annotations

import re
import time as clock
import tomllib
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.config.calendar import calendar_from_table
from mailflow.core.calendar import OfficeCalendar
from mailflow.errors import RulesError

WIB = ZoneInfo("Asia/Jakarta")  # UTC+7
WITA = ZoneInfo("Asia/Makassar")  # UTC+8
WIT = ZoneInfo("Asia/Jayapura")  # UTC+9
UTC = UTC
DOCS = Path(__file__).resolve().parent.parent / "docs" / "CALENDAR.md"
RAMADAN_HOURS = {w: [(time(8), time(15))] for w in range(4)} | {4: [(time(8), time(15, 30))]}

CAL = OfficeCalendar.default()  # shared: its caches only ever hold the same answers


def wib(y, mo, d, h=0, mi=0, s=0):
    return datetime(y, mo, d, h, mi, s, tzinfo=WIB)


def local(intervals):
    return [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in intervals]


# ----------------------------------------------------------------- days


def test_default_hours_are_civil_service_hours():
    assert local(CAL.working_intervals(date(2026, 1, 12))) == [("07:30", "16:00")]  # Monday
    assert local(CAL.working_intervals(date(2026, 1, 15))) == [("07:30", "16:00")]  # Thursday
    assert local(CAL.working_intervals(date(2026, 1, 9))) == [("07:30", "16:30")]  # Friday
    assert CAL.working_intervals(date(2026, 1, 10)) == []  # Saturday
    assert not CAL.is_working_day(date(2026, 1, 11))  # Sunday
    start, end = CAL.working_intervals(date(2026, 1, 12))[0]
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=7)
    assert end - start == timedelta(hours=8, minutes=30)


@pytest.mark.parametrize(
    "day, working, name",
    [
        (date(2026, 3, 17), True, None),
        (date(2026, 3, 18), False, "Cuti Bersama Hari Suci Nyepi"),
        (date(2026, 3, 19), False, "Hari Suci Nyepi"),
        (date(2026, 3, 20), False, "Cuti Bersama Hari Raya Idul Fitri"),
        (date(2026, 3, 21), False, "Hari Raya Idul Fitri"),  # Saturday
        (date(2026, 3, 22), False, "Hari kedua dari Hari Raya Idul Fitri"),  # Sunday
        (date(2026, 3, 23), False, "Cuti Bersama Hari Raya Idul Fitri"),
        (date(2026, 3, 24), False, "Cuti Bersama Hari Raya Idul Fitri"),
        (date(2026, 3, 25), True, None),
        (date(2026, 1, 10), False, None),  # an ordinary Saturday has no holiday name
        (date(2026, 8, 17), False, "Hari Kemerdekaan Republik Indonesia"),
        (date(2026, 12, 24), False, "Cuti Bersama Hari Raya Natal"),
    ],
)
def test_holidays_and_cuti_bersama_2026(day, working, name):
    assert CAL.is_working_day(day) is working
    assert CAL.holiday_name(day) == name


def test_working_year_2026():
    # 261 weekdays - 13 public holidays on weekdays - 8 cuti bersama = 240 working days,
    # 46 of them Fridays (52 - Jan 16, Mar 20, Apr 3, May 1, May 15, Dec 25):
    # 194 x 510 min (Mon-Thu) + 46 x 540 min (Fri).
    started = clock.perf_counter()
    minutes = OfficeCalendar.default().working_minutes_between(wib(2026, 1, 1), wib(2027, 1, 1))
    assert minutes == 194 * 510 + 46 * 540 == 123_780
    assert sum(CAL.is_working_day(date(2026, 1, 1) + timedelta(days=i)) for i in range(365)) == 240
    # and back: the year's last working minute ends at the close of Thu 31 Dec
    assert OfficeCalendar.default().add_working_minutes(wib(2026, 1, 1), 123_780) == wib(2026, 12, 31, 16)
    assert clock.perf_counter() - started < 1.0  # per day, not per minute


# ---------------------------------------------------------- arithmetic


def test_friday_afternoon_deadline_lands_on_monday():
    # Fri 9 Jan 16:10 + 30 working minutes: 20 minutes until the 16:30 close,
    # then 10 minutes from Monday's 07:30 opening.
    assert CAL.add_working_minutes(wib(2026, 1, 9, 16, 10), 30) == wib(2026, 1, 12, 7, 40)
    # received after Friday's close: counting starts at Monday's opening
    assert CAL.add_working_minutes(wib(2026, 1, 9, 17, 5), 30) == wib(2026, 1, 12, 8, 0)
    # received on Saturday
    assert CAL.add_working_minutes(wib(2026, 1, 10, 9, 0), 160) == wib(2026, 1, 12, 10, 10)
    assert CAL.working_minutes_between(wib(2026, 1, 9, 16, 10), wib(2026, 1, 12, 7, 40)) == 30


@pytest.mark.parametrize(
    "start, minutes, expected",
    [
        (wib(2026, 1, 12, 6, 0), 30, wib(2026, 1, 12, 8, 0)),  # before opening
        (wib(2026, 1, 12, 7, 30), 30, wib(2026, 1, 12, 8, 0)),  # at opening
        (wib(2026, 1, 12, 15, 30), 30, wib(2026, 1, 12, 16, 0)),  # ends exactly at closing: the closing
        (wib(2026, 1, 12, 15, 30), 31, wib(2026, 1, 13, 7, 31)),
        (wib(2026, 1, 12, 16, 0), 1, wib(2026, 1, 13, 7, 31)),  # at closing
        (wib(2026, 1, 12, 10, 0, 30), 30, wib(2026, 1, 12, 10, 30, 30)),  # seconds are kept
        (wib(2026, 1, 12, 22, 0), 0, wib(2026, 1, 12, 22, 0)),  # nothing to add: t itself
        (wib(2026, 1, 15, 15, 0), 8 * 60, wib(2026, 1, 19, 14, 30)),  # 60 min Thu, Fri 16/1 Isra Mikraj, 420 min Mon
        (wib(2026, 2, 2, 7, 30), 4 * 510 + 540, wib(2026, 2, 6, 16, 30)),  # a whole week: Friday's close
        (wib(2026, 2, 2, 7, 30), 4 * 510 + 541, wib(2026, 2, 9, 7, 31)),
    ],
)
def test_add_working_minutes(start, minutes, expected):
    assert CAL.add_working_minutes(start, minutes) == expected
    assert CAL.working_minutes_between(start, expected) == minutes


def test_a_step_across_idul_fitri_and_cuti_bersama_2026():
    # Tue 17 Mar 10:00, standard 1 working day. Wed 18 (cuti bersama Nyepi),
    # Thu 19 (Nyepi), Fri 20 (cuti bersama), Sat 21 + Sun 22 (Idul Fitri),
    # Mon 23 + Tue 24 (cuti bersama) are closed: the next working day is Wed 25.
    start = wib(2026, 3, 17, 10)
    assert CAL.due(start, 1, "working_days") == wib(2026, 3, 25, 10)
    # one full working day: 16:00 - 10:00 on Tuesday + 10:00 - 07:30 on Wednesday
    assert CAL.working_minutes_between(start, wib(2026, 3, 25, 10)) == 360 + 150
    # 30 minutes started at 15:50 on Tuesday: 10 before the close, 20 on Wednesday
    assert CAL.due(wib(2026, 3, 17, 15, 50), 30, "minutes") == wib(2026, 3, 25, 7, 50)
    # 2 working days: Wed 25 then Thu 26
    assert CAL.due(start, 2, "working_days") == wib(2026, 3, 26, 10)


def test_an_office_open_on_cuti_bersama_is_due_earlier():
    start = wib(2026, 3, 17, 10)
    closed = CAL.due(start, 1, "working_days")
    assert closed == wib(2026, 3, 25, 10)
    # open on every cuti bersama: Wed 18 Mar (cuti bersama Nyepi) is a working day
    open_cuti = OfficeCalendar("Asia/Jakarta", cuti_bersama=False)
    assert open_cuti.due(start, 1, "working_days") == wib(2026, 3, 18, 10)
    assert open_cuti.due(wib(2026, 3, 17, 15, 50), 30, "minutes") == wib(2026, 3, 18, 7, 50)
    assert open_cuti.holiday_name(date(2026, 3, 18)) is None
    assert open_cuti.holiday_name(date(2026, 3, 19)) == "Hari Suci Nyepi"  # a public holiday stays closed
    # open on one cuti bersama day only (Mon 23 Mar); 18 and 20 stay closed
    one_day = OfficeCalendar("Asia/Jakarta", extra_open={date(2026, 3, 23)})
    assert one_day.due(start, 1, "working_days") == wib(2026, 3, 23, 10)
    assert one_day.holiday_name(date(2026, 3, 23)) is None
    assert one_day.due(start, 1, "working_days") < closed and open_cuti.due(start, 1, "working_days") < closed


def test_the_same_standard_in_wib_wita_and_wit():
    results = {}
    for zone in (WIB, WITA, WIT):
        office = OfficeCalendar(zone.key)
        start = datetime(2026, 3, 17, 10, 0, tzinfo=zone)  # 10:00 local in each office
        results[zone.key] = office.due(start, 1, "working_days"), office.due(start, 90, "minutes")
    for days, minutes in results.values():  # the same wall clock everywhere ...
        assert days.replace(tzinfo=None) == datetime(2026, 3, 25, 10, 0)
        assert minutes.replace(tzinfo=None) == datetime(2026, 3, 17, 11, 30)
    # ... at different instants
    assert [d.astimezone(UTC).hour for d, _ in results.values()] == [3, 2, 1]
    # one UTC instant, 08:10Z Friday = 15:10 WIB / 16:10 WITA / 17:10 WIT, plus 30 minutes
    t = datetime(2026, 1, 9, 8, 10, tzinfo=UTC)
    assert OfficeCalendar("Asia/Jakarta").add_working_minutes(t, 30) == datetime(2026, 1, 9, 8, 40, tzinfo=UTC)
    assert OfficeCalendar("Asia/Makassar").add_working_minutes(t, 30) == datetime(2026, 1, 12, 7, 40, tzinfo=WITA)
    assert OfficeCalendar("Asia/Jayapura").add_working_minutes(t, 30) == datetime(2026, 1, 12, 8, 0, tzinfo=WIT)


def test_results_are_in_the_zone_of_the_input():
    t = datetime(2026, 1, 9, 9, 10, tzinfo=UTC)  # 16:10 WIB
    due = CAL.add_working_minutes(t, 30)
    assert due.tzinfo is UTC and due == datetime(2026, 1, 12, 0, 40, tzinfo=UTC)  # Mon 07:40 WIB
    assert CAL.add_working_days(t, 1).tzinfo is UTC
    assert CAL.add_working_minutes(wib(2026, 1, 9, 16, 10), 30).tzinfo is WIB


@pytest.mark.parametrize(
    "start, days, expected, why",
    [
        (wib(2026, 1, 12, 10), 1, wib(2026, 1, 13, 10), "open: same clock time the next working day"),
        (wib(2026, 1, 12, 10), 3, wib(2026, 1, 15, 10), "three working days later"),
        (wib(2026, 1, 15, 10), 1, wib(2026, 1, 19, 10), "Thu -> Mon: Fri 16 Jan is Isra Mikraj"),
        (wib(2026, 1, 9, 16, 15), 1, wib(2026, 1, 12, 16), "Fri 16:15 -> Mon closes 16:00: clamped to the close"),
        (wib(2026, 1, 8, 15, 59), 1, wib(2026, 1, 9, 15, 59), "Thu 15:59 -> Fri 15:59"),
        (wib(2026, 1, 12, 16, 0), 1, wib(2026, 1, 13, 16), "exactly at closing: still open"),
        (wib(2026, 1, 12, 16, 1), 1, wib(2026, 1, 13, 16), "after closing: close of business of the next day"),
        (wib(2026, 1, 12, 6, 0), 1, wib(2026, 1, 12, 16), "before opening: today counts as day 1"),
        (wib(2026, 1, 12, 7, 30), 1, wib(2026, 1, 12, 16), "exactly at opening: today counts as day 1"),
        (wib(2026, 1, 12, 7, 31), 1, wib(2026, 1, 13, 7, 31), "a minute after opening"),
        (wib(2026, 1, 12, 6, 0), 2, wib(2026, 1, 13, 16), "before opening, 2 days"),
        (wib(2026, 1, 10, 9, 0), 1, wib(2026, 1, 12, 16), "Saturday: Monday's close of business"),
        (wib(2026, 1, 16, 9, 0), 1, wib(2026, 1, 19, 16), "a holiday (Isra Mikraj): Monday's close"),
        (wib(2026, 1, 9, 18, 0), 1, wib(2026, 1, 12, 16), "Friday evening: Monday's close"),
        (wib(2026, 1, 12, 10), 0, wib(2026, 1, 12, 10), "zero days: t"),
    ],
)
def test_add_working_days_rule(start, days, expected, why):
    assert CAL.add_working_days(start, days) == expected, why
    assert CAL.due(start, days, "working_days") == expected


def test_working_days_with_a_break_and_ramadan_hours():
    # Mon-Thu with a lunch break, Ramadan (explicit period) shorter and later
    office = OfficeCalendar(
        "Asia/Jakarta",
        hours={w: [(time(7, 30), time(12)), (time(13), time(16))] for w in range(5)},
        ramadan_hours={w: [(time(8), time(14))] for w in range(5)},
        ramadan_periods={2026: (date(2026, 2, 19), date(2026, 3, 20))},
    )
    assert office.add_working_days(wib(2026, 1, 12, 12, 30), 1) == wib(2026, 1, 13, 12), "in the break: its start"
    assert office.add_working_days(wib(2026, 1, 12, 13, 0), 1) == wib(2026, 1, 13, 12), "at the afternoon opening"
    assert office.add_working_days(wib(2026, 1, 12, 13, 1), 1) == wib(2026, 1, 13, 13, 1)
    assert office.add_working_minutes(wib(2026, 1, 12, 11, 50), 20) == wib(2026, 1, 12, 13, 10)
    # Wed 18 Feb normal -> Thu 19 Feb the first day of Ramadan, 08:00-14:00
    assert office.add_working_days(wib(2026, 2, 18, 15, 0), 1) == wib(2026, 2, 19, 14), "clamped to the Ramadan close"
    assert office.add_working_days(wib(2026, 2, 18, 7, 45), 1) == wib(2026, 2, 18, 16), "Ramadan not open yet at 07:45"
    assert office.add_working_days(wib(2026, 2, 18, 9, 0), 1) == wib(2026, 2, 19, 9)


def test_ramadan_hours_with_periods_derived_from_idul_fitri():
    # Idul Fitri 2026 is Sat 21 Mar, so Ramadan is taken as the 30 days before: 19 Feb .. 20 Mar.
    office = OfficeCalendar("Asia/Jakarta", ramadan_hours=RAMADAN_HOURS)
    assert not office.is_ramadan(date(2026, 2, 18)) and office.is_ramadan(date(2026, 2, 19))
    assert office.is_ramadan(date(2026, 3, 20)) and not office.is_ramadan(date(2026, 3, 21))
    assert local(office.working_intervals(date(2026, 2, 18))) == [("07:30", "16:00")]
    assert local(office.working_intervals(date(2026, 2, 19))) == [("08:00", "15:00")]  # Thursday
    assert local(office.working_intervals(date(2026, 2, 20))) == [("08:00", "15:30")]  # Friday
    assert local(office.working_intervals(date(2026, 3, 25))) == [("07:30", "16:00")]  # after Lebaran
    # 2025: Idul Fitri Mon 31 Mar -> Ramadan 1 .. 30 Mar
    assert office.is_ramadan(date(2025, 3, 1)) and not office.is_ramadan(date(2025, 2, 28))
    # Tue 17 Mar 14:50 (Ramadan, closes 15:00) + 30 min: 10 min, then 20 min on Wed 25 Mar (normal hours)
    assert office.add_working_minutes(wib(2026, 3, 17, 14, 50), 30) == wib(2026, 3, 25, 7, 50)
    assert office.add_working_days(wib(2026, 3, 17, 14, 50), 1) == wib(2026, 3, 25, 14, 50)
    # received exactly at the Ramadan opening: that day counts as day 1, due at its (Ramadan) close,
    # not at 08:00 on Wed 25 Mar, which opens at 07:30
    assert office.add_working_days(wib(2026, 3, 17, 8, 0), 1) == wib(2026, 3, 17, 15)
    # a year the office gives dates for replaces the derived period
    given = OfficeCalendar(
        "Asia/Jakarta", ramadan_hours=RAMADAN_HOURS, ramadan_periods={2026: (date(2026, 2, 18), date(2026, 3, 19))}
    )
    assert given.is_ramadan(date(2026, 2, 18)) and not given.is_ramadan(date(2026, 3, 20))
    assert given.is_ramadan(date(2025, 3, 1))  # 2025 still derived
    # without Ramadan hours nothing changes
    assert not CAL.is_ramadan(date(2026, 3, 1))
    assert local(CAL.working_intervals(date(2026, 2, 19))) == [("07:30", "16:00")]


def test_extra_closed_and_extra_open_days():
    office = OfficeCalendar(
        "Asia/Jakarta",
        extra_closed={date(2026, 1, 13), date(2026, 1, 14)},
        extra_open={date(2026, 1, 10), date(2026, 1, 16)},  # a Saturday; Isra Mikraj
        holiday_names={date(2026, 1, 13): "Hari Jadi Kabupaten"},
    )
    assert office.holiday_name(date(2026, 1, 13)) == "Hari Jadi Kabupaten"
    assert office.holiday_name(date(2026, 1, 14)) == "Libur kantor"
    assert office.holiday_name(date(2026, 1, 16)) is None
    assert local(office.working_intervals(date(2026, 1, 10))) == [("07:30", "16:00")]  # Saturday: Mon-Thu hours
    assert local(office.working_intervals(date(2026, 1, 16))) == [("07:30", "16:30")]  # a Friday keeps Friday hours
    # Mon 12 Jan 10:00 + 1 working day: Tue 13 and Wed 14 closed -> Thu 15
    assert office.add_working_days(wib(2026, 1, 12, 10), 1) == wib(2026, 1, 15, 10)
    # Fri 9 Jan 16:10 + 30 min: 20 min Friday, 10 min on the open Saturday
    assert office.add_working_minutes(wib(2026, 1, 9, 16, 10), 30) == wib(2026, 1, 10, 7, 40)
    # Thu 15 Jan 10:00 + 1 working day: Fri 16 is open despite Isra Mikraj
    assert office.add_working_days(wib(2026, 1, 15, 10), 1) == wib(2026, 1, 16, 10)
    with pytest.raises(ValueError, match="both"):
        OfficeCalendar("Asia/Jakarta", extra_closed={date(2026, 1, 13)}, extra_open={date(2026, 1, 13)})


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: CAL.add_working_minutes(datetime(2026, 1, 12, 10), 30), ValueError),  # naive
        (lambda: CAL.working_minutes_between(datetime(2026, 1, 12, 10), wib(2026, 1, 12, 11)), ValueError),
        (lambda: CAL.add_working_minutes(wib(2026, 1, 12, 10), -1), ValueError),
        (lambda: CAL.add_working_days(wib(2026, 1, 12, 10), 1.5), TypeError),
        (lambda: CAL.due(wib(2026, 1, 12, 10), 1, "days"), ValueError),
        (lambda: OfficeCalendar("Asia/Nowhere"), ValueError),
        (lambda: OfficeCalendar("Asia/Jakarta", hours={5: []}), ValueError),
        (lambda: OfficeCalendar("Asia/Jakarta", hours={0: [(time(16), time(8))]}), ValueError),
    ],
)
def test_bad_arguments_raise(call, error):
    with pytest.raises(error):
        call()


def test_due_units_and_minutes_between():
    start = wib(2026, 1, 12, 15, 0)
    assert CAL.due(start, 2, "hours") == CAL.due(start, 120, "minutes") == wib(2026, 1, 13, 8, 30)
    assert CAL.working_minutes_between(wib(2026, 1, 13), wib(2026, 1, 12)) == 0
    assert CAL.working_minutes_between(wib(2026, 1, 12, 10, 0, 0), wib(2026, 1, 12, 10, 0, 59)) == 0  # floored
    assert CAL.working_minutes_between(wib(2026, 1, 12, 10, 0, 30), wib(2026, 1, 12, 10, 2, 0)) == 1


# ---------------------------------------------------------- properties

BUSY = OfficeCalendar(  # breaks, a Saturday, Ramadan, extra days: every branch at once
    "Asia/Makassar",
    hours={0: [(time(7, 30), time(12)), (time(13), time(16))], 1: [(time(7, 30), time(16))], 2: [(time(7, 30), time(16))],
           3: [(time(7, 30), time(16))], 4: [(time(7, 30), time(11, 30)), (time(13, 30), time(16, 30))],
           5: [(time(8), time(12))]},
    ramadan_hours=RAMADAN_HOURS,
    extra_closed={date(2026, 1, 13), date(2026, 7, 20)},
    extra_open={date(2026, 3, 18), date(2026, 1, 11)},
)
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=3 * 365 * 24 * 3600).map(lambda s: EPOCH + timedelta(seconds=s))
calendars = st.sampled_from([CAL, BUSY])


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(min_value=0, max_value=20_000))
def test_minutes_between_inverts_add_working_minutes(office, start, minutes):
    due = office.add_working_minutes(start, minutes)
    assert due >= start
    assert office.working_minutes_between(start, due) == minutes
    if minutes:  # the earliest such instant: a second earlier is not enough
        assert office.working_minutes_between(start, due - timedelta(seconds=1)) == minutes - 1
        later = due + timedelta(hours=5)
        assert office.add_working_minutes(start, office.working_minutes_between(start, later)) <= later


@settings(max_examples=40, deadline=None)
@given(calendars, instants.map(lambda t: t.replace(second=0)), st.integers(min_value=0, max_value=4 * 24 * 60))
def test_minutes_between_matches_counting_minute_by_minute(office, start, span):
    end = start + timedelta(minutes=span)
    opened: dict[date, list] = {}
    count = 0
    for i in range(span):
        minute = start + timedelta(minutes=i)
        day = minute.astimezone(office.zone).date()
        intervals = opened.setdefault(day, office.working_intervals(day))
        count += any(s <= minute < e for s, e in intervals)
    assert office.working_minutes_between(start, end) == count


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(min_value=0, max_value=3 * 24 * 3600), st.integers(min_value=1, max_value=15))
def test_working_days_due_is_monotone_and_an_open_moment(office, start, later, days):
    due = office.add_working_days(start, days)
    assert due >= start
    assert office.add_working_days(start + timedelta(seconds=later), days) >= due
    local_due = due.astimezone(office.zone)
    # a due time is while open or at a closing, never at an opening
    assert any(s < local_due <= e for s, e in office.working_intervals(local_due.date()))
    # at most what is left of the start day plus N whole days
    worked = office.working_minutes_between(start, due)
    assert worked <= (days + 1) * 9 * 60


# ------------------------------------------------------- the rules file


def test_calendar_table_from_the_docs_example():
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    office = calendar_from_table("rules/x.toml", tomllib.loads(block)["calendar"])
    assert office.timezone == "Asia/Jakarta" and office.cuti_bersama
    assert local(office.working_intervals(date(2026, 1, 9))) == [("07:30", "16:30")]
    assert office.working_intervals(date(2026, 1, 10)) == []
    assert local(office.working_intervals(date(2026, 2, 20))) == [("08:00", "15:30")]  # Ramadan Friday
    assert office.holiday_name(date(2026, 7, 20)) == "Hari Jadi Kabupaten"
    assert office.is_working_day(date(2026, 3, 23))  # open despite cuti bersama


def test_calendar_table_parses_every_key():
    table = tomllib.loads(
        """
        [calendar]
        timezone = "Asia/Makassar"
        cuti_bersama = false
        closed = [2026-07-20, "2026-07-21"]
        open = ["2026-01-10"]
        [calendar.hours]
        mon = "07.30-12.00, 13.00-16.00"
        tue = "07:30 \u2013 16:00"
        wed = ""
        [calendar.ramadan]
        hours = { mon = "08:00-14:00", tue = "" }
        periods = { 2026 = ["2026-02-18", "2026-03-19"], 2030 = [["2030-01-05", "2030-02-03"], ["2030-12-26", "2031-01-24"]] }
        """
    )["calendar"]
    office = calendar_from_table(Path("rules/x.toml"), table)
    assert office.zone == WITA and not office.cuti_bersama
    assert local(office.working_intervals(date(2026, 1, 12))) == [("07:30", "12:00"), ("13:00", "16:00")]
    assert local(office.working_intervals(date(2026, 1, 13))) == [("07:30", "16:00")]
    assert office.working_intervals(date(2026, 1, 14)) == []  # Wednesday "" = closed
    assert office.working_intervals(date(2026, 1, 15)) == []  # Thursday missing = closed
    assert local(office.working_intervals(date(2026, 1, 10))) == [("07:30", "12:00"), ("13:00", "16:00")]  # open Saturday
    assert local(office.working_intervals(date(2026, 2, 23))) == [("08:00", "14:00")]  # Ramadan Monday
    assert office.working_intervals(date(2026, 2, 24)) == []  # Ramadan Tuesday closed
    assert office.is_ramadan(date(2030, 12, 31)) and office.is_ramadan(date(2031, 1, 24))
    assert office.holiday_name(date(2026, 7, 21)) == "Libur kantor"


@pytest.mark.parametrize("table", [None, {}])
def test_no_calendar_table_gives_the_default(table):
    office = calendar_from_table("rules/x.toml", table, default_timezone="Asia/Jayapura")
    assert office.timezone == "Asia/Jayapura" and office.cuti_bersama
    assert local(office.working_intervals(date(2026, 1, 9))) == [("07:30", "16:30")]


@pytest.mark.parametrize(
    "table, key, fix",
    [
        ({"hours": {"fri": "07:30-1630"}}, "calendar.hours.fri", 'expected "HH:MM-HH:MM"'),
        ({"hours": {"fri": 8}}, "calendar.hours.fri", 'expected "HH:MM-HH:MM"'),
        ({"hours": {"fri": "16:30-07:30"}}, "calendar.hours.fri", "ends before it starts"),
        ({"hours": {"fri": "07:30-25:00"}}, "calendar.hours.fri", "not a time of day"),
        ({"hours": {"mon": "07:30-12:00, 11:00-16:00"}}, "calendar.hours.mon", "overlap"),
        ({"hours": {"friday": "07:30-16:30"}}, "calendar.hours.friday", "unknown key (known: mon, tue"),
        ({"hours": {"mon": ""}}, "calendar.hours", "every weekday is closed"),
        ({"hours": "07:30-16:00"}, "calendar.hours", "expected a table of weekdays"),
        ({"timezone": "WIB"}, "calendar.timezone", "Asia/Jakarta (WIB)"),
        ({"cuti_bersama": "ya"}, "calendar.cuti_bersama", "expected true"),
        ({"closed": ["18-08-2026"]}, "calendar.closed[0]", 'expected a date "YYYY-MM-DD"'),
        ({"closed": "2026-08-18"}, "calendar.closed", "expected a list of dates"),
        ({"closed": {"2026-08-18": ""}}, "calendar.closed.2026-08-18", "non-empty string"),
        ({"open": ["2026-08-18"], "closed": ["2026-08-18"]}, "calendar.open", "also in calendar.closed"),
        ({"ramadan": {"hours": {"mon": "08:00-15:00"}, "closed": ["2026-08-18"]}}, "calendar.ramadan.closed",
         "go in [calendar] as closed"),
        ({"ramadan": {"periods": {"2026": ["2026-02-19", "2026-03-20"]}}}, "calendar.ramadan.hours", "is missing"),
        ({"ramadan": {"hours": {}, "periods": {"2026": ["2026-03-20", "2026-02-19"]}}}, "calendar.ramadan.periods.2026",
         "is after"),
        ({"ramadan": {"hours": {}, "periods": {"2026": ["2025-03-01", "2025-03-30"]}}}, "calendar.ramadan.periods.2026",
         "is not in 2026"),
        ({"ramadan": {"hours": {}, "periods": {"2026": ["2026-02-19", "2026-12-20"]}}}, "calendar.ramadan.periods.2026",
         "Ramadan is 29 or 30"),
        ({"ramadan": {"hours": {}, "periods": {"2026": "2026-02-19"}}}, "calendar.ramadan.periods.2026",
         "expected a table of years"),
        ({"ramadan": {"hours": {}, "periods": {"next": ["2026-02-19", "2026-03-20"]}}}, "calendar.ramadan.periods.next",
         "the key must be a year"),
        ({"weekend": "sat"}, "calendar.weekend", "unknown key (known: timezone"),
    ],
)
def test_calendar_table_errors_name_file_key_and_fix(table, key, fix):
    with pytest.raises(RulesError) as err:
        calendar_from_table("rules/x.toml", table)
    message = str(err.value)
    assert message.startswith(f"rules/x.toml: key '{key}': "), message
    assert fix in message, message


# ------------------------------------ the fast arithmetic against the walk
#
# OfficeCalendar answers from per-year tables of running totals. The
# reference below is the day-by-day walk it replaced (the code of
# add_working_minutes / working_minutes_between / add_working_days before the
# tables), written against the public working_intervals / is_working_day only,
# so it does not share the tables, their bisects or their fallbacks.


def ref_day(office, d):
    return [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in office.working_intervals(d)]


def ref_working_days_after(office, d):
    closed_run = 0
    while True:
        d += timedelta(days=1)
        if office.is_working_day(d):
            closed_run = 0
            yield d
        else:
            closed_run += 1
            if closed_run > 3660:
                raise ValueError(f"the office never opens again after {d - timedelta(days=closed_run)}")


def ref_minutes_between(office, a, b):
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    if b <= a:
        return 0
    total = timedelta(0)
    d, last = a.astimezone(office.zone).date(), b.astimezone(office.zone).date()
    while d <= last:
        for start, end in ref_day(office, d):
            lo, hi = max(start, a), min(end, b)
            if lo < hi:
                total += hi - lo
        d += timedelta(days=1)
    return total // timedelta(minutes=1)


def ref_add_working_minutes(office, t, minutes):
    remaining = timedelta(minutes=minutes)
    if not remaining:
        return t
    cursor = t.astimezone(UTC)
    d = t.astimezone(office.zone).date()
    days = ref_working_days_after(office, d)
    while True:
        for start, end in ref_day(office, d):
            if end <= cursor:
                continue
            start = max(start, cursor)
            if remaining <= end - start:
                return (start + remaining).astimezone(t.tzinfo)
            remaining -= end - start
        d = next(days)


def ref_add_working_days(office, t, n):
    if n == 0:
        return t
    tu = t.astimezone(UTC)
    day = t.astimezone(office.zone).date()
    intervals = ref_day(office, day)
    anchor = None
    for i, (start, end) in enumerate(intervals):
        if start < tu <= end:
            anchor = tu
        elif i and intervals[i - 1][1] < tu <= start:
            anchor = intervals[i - 1][1]
    if anchor is None:
        if not intervals or tu > intervals[-1][1]:
            day = next(ref_working_days_after(office, day))
        following = ref_working_days_after(office, day)
        for _ in range(n - 1):
            day = next(following)
        return ref_day(office, day)[-1][1].astimezone(t.tzinfo)
    clock_time = anchor.astimezone(office.zone).time()
    following = ref_working_days_after(office, day)
    previous = day
    for _ in range(n):
        previous, day = day, next(following)
    wanted = datetime.combine(day, clock_time, office.zone).astimezone(UTC)
    due = ref_day(office, previous)[-1][1]
    for start, end in ref_day(office, day):
        if start < wanted:
            due = min(wanted, end)
    return due.astimezone(t.tzinfo)


def same_instant_and_zone(got, want):
    assert got == want and got.utcoffset() == want.utcoffset() and got.tzinfo is want.tzinfo, (got, want)


# Random offices: any hours (minute precision, up to two intervals a day,
# touching allowed), Ramadan hours or not, office-given Ramadan periods or
# derived ones, cuti bersama on or off, extra closed and open days, the
# three Indonesian zones -- and two zones with DST, whose transitions are at
# midnight (America/Santiago) or inside hours someone could set (Europe/Berlin).
# A table out of order (hours inside a DST gap) is rare at random; the tests
# after this one build such cases on purpose.
OFFICE_ZONES = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Asia/Jakarta", "Asia/Makassar",
                "America/Santiago", "Europe/Berlin"]
INPUT_ZONES = [UTC, WIB, WITA, WIT, timezone(timedelta(hours=-5, minutes=-30))]
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2030, 12, 31)


@st.composite
def day_hours(draw):
    shape = draw(st.sampled_from(["closed", "one", "one", "two", "two-touching"]))
    if shape == "closed":
        return []
    if shape == "one":
        s, e = sorted(draw(st.lists(st.integers(0, 1439), min_size=2, max_size=2, unique=True)))
        return [(time(s // 60, s % 60), time(e // 60, e % 60))]
    size = 4 if shape == "two" else 3
    points = sorted(draw(st.lists(st.integers(0, 1439), min_size=size, max_size=size, unique=True)))
    if shape == "two-touching":
        points = [points[0], points[1], points[1], points[2]]
    t = [time(m // 60, m % 60) for m in points]
    return [(t[0], t[1]), (t[2], t[3])]


@st.composite
def offices(draw):
    hours = {w: draw(day_hours()) for w in range(7)}
    if not any(hours.values()):
        hours[draw(st.integers(0, 6))] = [(time(7, 30), time(16))]
    ramadan_hours = draw(st.none() | st.dictionaries(st.integers(0, 6), day_hours(), max_size=7))
    periods = None
    if ramadan_hours is not None and draw(st.booleans()):
        periods = {}
        for year in draw(st.sets(st.integers(2024, 2031), max_size=4)):
            start = draw(st.dates(date(year, 1, 1), date(year, 12, 31)))
            periods[year] = (start, start + timedelta(days=draw(st.integers(0, 29))))
    closed = draw(st.sets(st.dates(FIRST_DAY, LAST_DAY), max_size=40))
    opened = draw(st.sets(st.dates(FIRST_DAY, LAST_DAY), max_size=40)) - closed
    return OfficeCalendar(
        draw(st.sampled_from(OFFICE_ZONES)), hours=hours, ramadan_hours=ramadan_hours, ramadan_periods=periods,
        cuti_bersama=draw(st.booleans()), extra_closed=closed, extra_open=opened,
    )


def _seconds(low_days, high_days):
    # days and seconds drawn apart: one wide integer would mostly come out small
    return st.builds(lambda d, s: d * 86400 + s, st.integers(low_days, high_days), st.integers(0, 86399))


moments = st.builds(
    # microseconds too (the floor to whole minutes must be taken at the same place), and moments on
    # the minute or the half hour, where openings and closings are (a count ending exactly at one)
    lambda s, us, step, zone: (datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=s - s % step, microseconds=us
                                                                         if step == 1 else 0)).astimezone(zone),
    _seconds(0, 5 * 365), st.integers(0, 999_999), st.sampled_from([1, 1, 60, 1800]), st.sampled_from(INPUT_ZONES),
)
spans = st.one_of(  # seconds: within a day or two, a few weeks, up to four years (twice the weight), backwards
    st.integers(0, 2 * 86400), _seconds(0, 60), _seconds(60, 4 * 365), _seconds(300, 4 * 365),
    st.integers(-3 * 86400, 0),
)


@settings(max_examples=100, deadline=None)
@given(offices(), st.lists(st.tuples(moments, spans, st.integers(-2, 2), st.sampled_from(INPUT_ZONES)), min_size=1,
                           max_size=4))
def test_tables_answer_what_the_walk_answers(office, queries):
    for a, span, jitter, zone in queries:
        b = (a + timedelta(seconds=span)).astimezone(zone)
        expected = ref_minutes_between(office, a, b)
        assert office.working_minutes_between(a, b) == expected
        assert office.working_minutes_between(b, a) == ref_minutes_between(office, b, a)
        # adding back what lies between a and b (give or take a minute or two): bounded walks
        minutes = max(0, expected + jitter)
        same_instant_and_zone(office.add_working_minutes(a, minutes), ref_add_working_minutes(office, a, minutes))
        same_instant_and_zone(office.due(a, minutes, "minutes"), ref_add_working_minutes(office, a, minutes))
        # as many working days as lie between a's and b's dates, give or take
        d, last = a.astimezone(office.zone).date(), b.astimezone(office.zone).date()
        days = max(0, sum(office.is_working_day(d + timedelta(days=i)) for i in range((last - d).days)) + jitter)
        same_instant_and_zone(office.add_working_days(a, days), ref_add_working_days(office, a, days))


def test_the_busy_office_and_the_default_agree_with_the_walk_over_three_years():
    # fixed cases beside the random ones: every year boundary 2024-2028, each office of this file
    for office in (CAL, BUSY, OfficeCalendar("Asia/Jayapura", cuti_bersama=False)):
        for year in range(2024, 2028):
            for a in (datetime(year, 12, 31, 15, 59, 30, 500, tzinfo=WIB), datetime(year, 1, 1, tzinfo=UTC),
                      datetime(year, 3, 10, 12, 0, tzinfo=WIT)):
                for b in (a + timedelta(days=1), a + timedelta(days=400), a + timedelta(days=3 * 365, seconds=59)):
                    minutes = ref_minutes_between(office, a, b)
                    assert office.working_minutes_between(a, b) == minutes
                    same_instant_and_zone(office.add_working_minutes(a, minutes),
                                          ref_add_working_minutes(office, a, minutes))
                for days in (1, 5, 250, 760):
                    same_instant_and_zone(office.add_working_days(a, days), ref_add_working_days(office, a, days))


def test_indonesian_offices_never_walk(monkeypatch):
    # The tables must really answer (not fall back to the walk) for the
    # offices mailflow is for: a regression here would stay correct and
    # silently get slow again.
    offices_ = [OfficeCalendar(zone, ramadan_hours=RAMADAN_HOURS, cuti_bersama=cuti, extra_closed={date(2026, 7, 20)})
                for zone in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura") for cuti in (True, False)] + [BUSY]

    def walked(*args, **kwargs):
        raise AssertionError("walked day by day")

    for name in ("_between_by_walk", "_add_by_walk", "_working_days_after"):
        monkeypatch.setattr(OfficeCalendar, name, walked)
    a = wib(2024, 2, 29, 11, 7, 13)
    for office in offices_:
        b = a + timedelta(days=3 * 365 + 17)
        minutes = office.working_minutes_between(a, b)
        assert minutes > 3 * 100_000
        assert office.add_working_minutes(a, minutes) <= b
        assert office.add_working_days(a, 700) > a
        assert all(office._table(year).ordered for year in range(2024, 2028))


def test_a_table_out_of_order_falls_back_to_the_walk():
    # Europe/Berlin skips 02:00-03:00 on Sun 29 Mar 2026; zoneinfo puts 02:30
    # at 03:30 local, so the first interval ends after the second starts: the
    # walk counts the overlap twice, and the tables must give the same.
    office = OfficeCalendar("Europe/Berlin", hours={6: [(time(0), time(2, 30)), (time(3), time(5))]})
    assert not office._table(2026).ordered
    sunday = datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Berlin"))
    a, b = sunday - timedelta(days=20), sunday + timedelta(days=20)
    assert office.working_minutes_between(a, b) == ref_minutes_between(office, a, b)
    assert office.working_minutes_between(sunday, sunday + timedelta(hours=6)) == 150 + 120  # 30 min twice over
    for minutes in (1, 149, 150, 151, 200, 270, 271, 10_000):
        same_instant_and_zone(office.add_working_minutes(a, minutes), ref_add_working_minutes(office, a, minutes))
    for days in (1, 3, 4, 30):
        same_instant_and_zone(office.add_working_days(a, days), ref_add_working_days(office, a, days))
    # the same office in a DST-free zone is in order and takes the tables
    assert OfficeCalendar("Asia/Jakarta", hours={6: [(time(0), time(2, 30)), (time(3), time(5))]})._table(2026).ordered


def test_an_office_that_never_opens_again_gives_up_where_the_walk_did():
    # Mondays only. Closed on every Monday after Mon 5 Jan 2026 up to and
    # including X + 3661 days (Mon 14 Jan 2036): 3661 closed days is one
    # more than the walk accepts, so it gives up "after 2026-01-05"; with that
    # last Monday open, it is the answer.
    x = date(2026, 1, 5)
    last = x + timedelta(days=3661)
    mondays = {x + timedelta(days=7 * i) for i in range(1, 524)}
    assert max(mondays) == last
    hours = {0: [(time(7, 30), time(16))]}
    never = OfficeCalendar("Asia/Jakarta", hours=hours, extra_closed=mondays)
    just = OfficeCalendar("Asia/Jakarta", hours=hours, extra_closed=mondays - {last})
    assert just.is_working_day(last) and never.is_working_day(x)
    t = wib(2026, 1, 5, 15, 0)
    for call in (lambda o: o.add_working_minutes(t, 61), lambda o: o.add_working_days(t, 1),
                 lambda o: o.add_working_days(wib(2026, 1, 5, 17, 0), 1)):
        with pytest.raises(ValueError, match="never opens again after 2026-01-05"):
            call(never)
    with pytest.raises(ValueError, match="never opens again after 2026-01-05"):
        ref_add_working_minutes(never, t, 61)
    # started after the year's last working day: the run is counted from the start day
    tuesday = wib(2026, 1, 6, 10, 0)
    for call in (lambda o: o.add_working_minutes(tuesday, 1), lambda o: o.add_working_days(tuesday, 1)):
        with pytest.raises(ValueError, match="never opens again after 2026-01-06"):
            call(never)
    with pytest.raises(ValueError, match="never opens again after 2026-01-06"):
        ref_add_working_minutes(never, tuesday, 1)
    assert just.add_working_minutes(t, 61) == ref_add_working_minutes(just, t, 61) == wib(2036, 1, 14, 7, 31)
    assert just.add_working_days(t, 1) == ref_add_working_days(just, t, 1) == wib(2036, 1, 14, 15, 0)
    assert just.add_working_days(t, 2) == ref_add_working_days(just, t, 2)


def test_the_ends_of_the_datetime_range_are_walked_as_before():
    # Years 1 and 9999 get no table (their edge days overflow in UTC); the walk answers, and raises as it did.
    late = datetime(9998, 11, 2, 9, 0, tzinfo=WIB)
    end = datetime(9999, 12, 30, 12, 0, tzinfo=WIB)
    assert CAL.working_minutes_between(late, end) == ref_minutes_between(CAL, late, end) > 0
    minutes = ref_minutes_between(CAL, late, end)
    assert CAL.add_working_minutes(late, minutes) == ref_add_working_minutes(CAL, late, minutes)
    assert CAL.add_working_days(late, 200) == ref_add_working_days(CAL, late, 200)
    with pytest.raises(OverflowError):
        ref_add_working_minutes(CAL, late, minutes + 10_000)
    with pytest.raises(OverflowError):
        CAL.add_working_minutes(late, minutes + 10_000)
    early = datetime(2, 1, 3, 9, 0, tzinfo=WIB)
    assert CAL.working_minutes_between(early, early + timedelta(days=500)) == ref_minutes_between(
        CAL, early, early + timedelta(days=500))


class _Jump(tzinfo):
    """A zone whose offset jumps once, at UTC instant ``at``, across local midnight.

    No zone mailflow is for does this; it is the case where the whole days
    between a and b are not all inside [a, b], so the tables must see it and
    walk. Local times in the repeated (backward) or skipped (forward) stretch
    follow PEP 495: fold=0 takes the offset before the jump, fold=1 after.
    """

    def __init__(self, at, before, after):
        self.at, self.before, self.after = at, timedelta(hours=before), timedelta(hours=after)
        self.lo, self.hi = sorted((at + self.before, at + self.after))

    def utcoffset(self, dt):
        naive = dt.replace(tzinfo=None)
        if naive < self.lo:
            return self.before
        if naive >= self.hi:
            return self.after
        return self.after if dt.fold else self.before

    def dst(self, dt):
        return timedelta(0)

    def tzname(self, dt):
        return "JUMP"

    def fromutc(self, dt):
        naive = dt.replace(tzinfo=None)
        if naive < self.at:
            return (naive + self.before).replace(tzinfo=self)
        local = naive + self.after
        return local.replace(tzinfo=self, fold=int(self.after < self.before and local < self.hi))


@pytest.mark.parametrize(
    "zone, a, b, closing",
    [
        # back from Mon 9 Mar 00:30 (+3) to Sun 22:30 (+1): at a (Sun 23:00 local, the second time)
        # Monday has been open for an hour, so Monday is not all inside [a, b]
        (_Jump(datetime(2026, 3, 8, 21, 30), 3, 1), datetime(2026, 3, 8, 22, 0, tzinfo=UTC), None, time(23, 59)),
        # forward from Sun 8 Mar 23:00 (+1) to Mon 01:00 (+3): Sunday's 23:30 close does not exist and is
        # taken as 22:30 UTC, after b (Mon 01:15 local), so Sunday is not all inside [a, b]
        (_Jump(datetime(2026, 3, 8, 22, 0), 1, 3), datetime(2026, 3, 7, 11, 0, tzinfo=UTC),
         datetime(2026, 3, 8, 22, 15, tzinfo=UTC), time(23, 30)),
    ],
)
def test_whole_days_not_inside_the_span_are_walked(zone, a, b, closing):
    office = OfficeCalendar("Asia/Jakarta", hours={w: [(time(0), closing)] for w in range(7)}, cuti_bersama=False)
    office.zone = zone  # before any day is cached
    assert office._table(2026).ordered  # the order alone does not tell
    ends = [b] if b else [a + timedelta(days=2), a + timedelta(days=40)]
    for end in ends:
        assert end.astimezone(zone).date() > a.astimezone(zone).date() + timedelta(days=1)
        assert office.working_minutes_between(a, end) == ref_minutes_between(office, a, end)
    for minutes in (1, 60, 3000):
        same_instant_and_zone(office.add_working_minutes(a, minutes), ref_add_working_minutes(office, a, minutes))
