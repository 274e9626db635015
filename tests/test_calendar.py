"""The office calendar (mailflow.calendar): working days, working-time arithmetic, the [calendar] table.

Fixed clocks only. The 2026 holiday dates asserted here were read from the
installed `holidays` package (and match the 2026 SKB 3 Menteri): Nyepi Thu
19 Mar, cuti bersama Nyepi Wed 18 Mar, Idul Fitri Sat 21 + Sun 22 Mar, cuti
bersama Idul Fitri Fri 20, Mon 23 and Tue 24 Mar.
"""

from __future__ import annotations

import re
import time as clock
import tomllib
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.calendar import OfficeCalendar, calendar_from_table
from mailflow.errors import RulesError

WIB = ZoneInfo("Asia/Jakarta")  # UTC+7
WITA = ZoneInfo("Asia/Makassar")  # UTC+8
WIT = ZoneInfo("Asia/Jayapura")  # UTC+9
UTC = timezone.utc
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
