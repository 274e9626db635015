"""The monthly report's figures: pure code over plain values.

``report.query.load_month`` reads a month from the database as a ``MonthData``
(counts already aggregated by SQL, lists already cut to a limit); ``figures``
turns it into a ``Report``: names from the rules, percentiles, shares, the
working minutes each overdue complaint is late. Nothing here touches the
database; docs/REPORT.md defines every figure.

Percentiles are **nearest-rank**: the p-th percentile of N values is the value
at rank ceil(p/100 x N) of the values sorted in ascending order (1-based). It
is always one of the observed values; the median is the 50th percentile, so for
an even N it is the lower of the two middle values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from mailflow.core.calendar import OfficeCalendar
from mailflow.core.render import MONTHS
from mailflow.core.sop import APPROVAL, CITIZEN, SECTION_ROLE, Rules
from mailflow.core.survey import ElementSums, grade, ikm
from mailflow.core.vocabulary import STATUS_WORDS, Status

CHANNEL_WORDS = {"email": "Surel", "whatsapp": "WhatsApp", "lapor": "LAPOR!", "tatap-muka": "Tatap muka"}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# ---------------------------------------------------------------------- the month
@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, e.g. ``Month(2026, 11)`` ("2026-11")."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9998:
            raise ValueError(f"no such month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``"2026-11"`` -> ``Month(2026, 11)``; anything else raises ValueError."""
        m = _MONTH.match(text.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"expected a month as YYYY-MM, e.g. 2026-11, got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def following(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """``November 2026``."""
        return f"{MONTHS[self.month - 1]} {self.year}"

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """[start, end): local midnight of the first day, and of the next month's first day."""
        start = datetime.combine(self.first_day(), time(0), zone)
        return start, datetime.combine(self.following().first_day(), time(0), zone)

    def __str__(self) -> str:
        return self.key


# ---------------------------------------------------------------------- what the database gives
@dataclass(frozen=True)
class ReceivedCount:
    """How many complaints received in the month have this category, channel and (current) status."""

    category: str
    channel: str
    status: str
    count: int


@dataclass(frozen=True)
class DurationCount:
    """How many of the month's counted visits of ``step`` took exactly ``minutes``
    working minutes, and how many of those were within the standard."""

    step: str
    minutes: int
    count: int
    within: int


@dataclass(frozen=True)
class SectionCount:
    """The month's counted visits of complaints of ``section``, and how many were within standard."""

    section: str
    count: int
    within: int


@dataclass(frozen=True)
class OpenComplaint:
    """A complaint that was open at the report's as-of moment."""

    number: str
    received_at: datetime
    category: str
    category_name: str  # as stored, NIK/KK-like numbers already masked
    section: str
    status: str  # now
    step: str | None  # now
    closed_at: datetime | None  # closed after the as-of moment (None: still open now)


@dataclass(frozen=True)
class OverdueVisit:
    """A step visit that was open and past its due time at the as-of moment."""

    number: str
    category: str
    category_name: str  # masked as above
    section: str
    step: str
    role: str | None
    started_at: datetime
    due_at: datetime
    ended_at: datetime | None  # done after the as-of moment (None: still open now)


@dataclass(frozen=True)
class RatingCount:
    """The month's survey ratings of complaints of one category and section:
    how many, and per element (U1..U9) the sum of the scores and how many scored it."""

    category: str
    section: str
    responses: int
    sums: tuple[int, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class MonthData:
    """One month as read from the database (see report.query.load_month)."""

    month: Month
    start: datetime  # the month's first instant (office time)
    end: datetime  # the next month's first instant
    as_of: datetime  # open/overdue lists: the month's end, or the generation time if earlier
    generated_at: datetime
    received: tuple[ReceivedCount, ...]
    closed: int  # complaints closed (closed_at) within the month
    durations: tuple[DurationCount, ...]
    running: tuple[tuple[str, int], ...]  # (step, visits started in the month and not closed yet)
    sections: tuple[SectionCount, ...]
    rejected: int  # "rejected" hops in the month
    ignored: int  # "ignored" hops in the month
    open_total: int
    open_items: tuple[OpenComplaint, ...]  # oldest first, at most ``limit``
    overdue_total: int
    overdue_items: tuple[OverdueVisit, ...]  # longest overdue first, at most ``limit``
    limit: int
    # the satisfaction survey (SKM): surveys sent in the month, and the month's ratings
    asked: int = 0
    ratings: tuple[RatingCount, ...] = ()
    # Waiting for the citizen (after #info; closing after silence): (working minutes, how many) of the
    # waits started in the month and ended, and how many are still running; shown apart from the office's time.
    waiting: tuple[tuple[int, int], ...] = ()
    waiting_running: int = 0
    merged: int = 0  # complaints received in the month and merged into another (merging): not in ``received``


# ---------------------------------------------------------------------- the figures
@dataclass(frozen=True)
class Tally:
    key: str
    name: str
    count: int


@dataclass(frozen=True)
class StepFigure:
    key: str
    name: str
    holder: str  # who holds the step (a role name, or the section's role)
    standard: str  # "30 menit", "1 hari kerja"
    standard_minutes: int | None  # None for a standard counted in working days
    count: int  # counted (closed) visits
    median: int | None  # working minutes, nearest-rank; None without visits
    p90: int | None
    within: int  # of ``count``, done by their due time
    running: int  # visits started in the month and still open when the report was made

    @property
    def share(self) -> float | None:
        return self.within / self.count if self.count else None


@dataclass(frozen=True)
class WaitingFigure:
    """"Menunggu pelapor": the time complaints waited for the citizen's reply
    to an #info question, in working minutes, apart from the office's own time."""

    count: int  # waits started in the month and ended (the citizen replied, staff went on, or it was closed)
    median: int | None
    p90: int | None
    total: int  # working minutes of those waits, summed
    running: int  # waits started in the month and still running


@dataclass(frozen=True)
class Compliance:
    key: str
    name: str
    count: int
    within: int

    @property
    def share(self) -> float | None:
        return self.within / self.count if self.count else None


@dataclass(frozen=True)
class OpenItem:
    number: str
    received_at: datetime
    category_name: str
    section_name: str
    status: str  # now, in words
    step_name: str  # now ("-" when closed)
    closed_at: datetime | None


@dataclass(frozen=True)
class OverdueItem:
    number: str
    category_name: str
    section_name: str
    step_name: str
    holder: str
    due_at: datetime
    late_minutes: int  # working minutes from due_at to the as-of moment
    done_at: datetime | None  # the step was done after the as-of moment


@dataclass(frozen=True)
class SatisfactionFigure:
    """The IKM of a group of ratings (core/survey.py): 25-100 and its grade."""

    key: str
    name: str
    responses: int
    ikm: float | None  # None without a rating
    grade: str  # "A".."D", "" without a rating
    grade_words: str  # "Sangat Baik" .. "Tidak Baik"
    means: tuple[float | None, ...]  # each element's mean score (NRR), U1..U9


@dataclass(frozen=True)
class Satisfaction:
    asked: int  # survey mails sent in the month
    overall: SatisfactionFigure
    by_category: tuple[SatisfactionFigure, ...]
    by_section: tuple[SatisfactionFigure, ...]


@dataclass(frozen=True)
class Headline:
    """A month's headline figures, for the column beside the next month's."""

    month: Month
    received: int
    closed: int
    visits: int
    within: int
    open_total: int
    overdue_total: int
    rejected: int
    ignored: int
    ikm: float | None
    responses: int

    @property
    def share(self) -> float | None:
        return self.within / self.visits if self.visits else None


@dataclass(frozen=True)
class Letterhead:
    """The office's letterhead (kop surat) and who signs the report (from the office's config)."""

    name: str
    address: str = ""
    city: str = ""
    logo_uri: str = ""  # the logo as a data: URI ("" for none): the page stays self-contained
    head_title: str = "Kepala Dinas"
    head_name: str = ""
    head_nip: str = ""


@dataclass(frozen=True)
class Report:
    office: str
    sop: str
    timezone: str
    month: Month
    start: datetime
    end: datetime
    as_of: datetime
    as_of_month_end: bool  # True: the lists are as of the month's end; False: as of generated_at
    generated_at: datetime
    received: int
    closed: int
    by_category: tuple[Tally, ...]
    by_channel: tuple[Tally, ...]
    by_status: tuple[Tally, ...]
    steps: tuple[StepFigure, ...]
    compliance: Compliance
    compliance_by_section: tuple[Compliance, ...]
    rejected: int
    ignored: int
    open_total: int
    open_items: tuple[OpenItem, ...]
    overdue_total: int
    overdue_items: tuple[OverdueItem, ...]
    limit: int
    satisfaction: Satisfaction | None = None  # the SKM/IKM of the month's ratings
    previous: Headline | None = None  # the previous month's headline figures
    letterhead: Letterhead | None = None  # the kop surat and signature block (None: the office's name only)
    waiting: WaitingFigure = WaitingFigure(0, None, None, 0, 0)  # closing after silence
    merged: int = 0  # merged duplicates received in the month, not counted in ``received``


def headline(report: Report) -> Headline:
    s = report.satisfaction
    return Headline(
        month=report.month, received=report.received, closed=report.closed, visits=report.compliance.count,
        within=report.compliance.within, open_total=report.open_total, overdue_total=report.overdue_total,
        rejected=report.rejected, ignored=report.ignored, ikm=s.overall.ikm if s else None,
        responses=s.overall.responses if s else 0)


def satisfaction_figure(key: str, name: str, rows: Iterable[RatingCount]) -> SatisfactionFigure:
    rows = list(rows)
    sums = ElementSums.zero()
    for r in rows:
        sums = sums + ElementSums(r.sums, r.counts)
    index = ikm(sums)
    letter, words = grade(index) or ("", "")
    return SatisfactionFigure(key, name, sum(r.responses for r in rows), index, letter, words, sums.means())


def nearest_rank(histogram: Iterable[tuple[int, int]], percent: int) -> int | None:
    """The ``percent``-th percentile (nearest-rank) of values given as (value, how many) pairs.

    ``None`` when there are no values. ``percent`` is a whole number 1-100.
    """
    if not 1 <= percent <= 100:
        raise ValueError(f"percent must be 1-100, got {percent}")
    pairs = sorted((value, count) for value, count in histogram if count > 0)
    total = sum(count for _, count in pairs)
    if total == 0:
        return None
    rank = -(-percent * total // 100)  # ceil(percent/100 * total) in whole numbers
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the rank is at most the total")


def _by_count(counts: dict[str, int], name) -> tuple[Tally, ...]:
    return tuple(sorted((Tally(k, name(k), n) for k, n in counts.items()), key=lambda t: (-t.count, t.name, t.key)))


def _holder(rules: Rules, role_key: str) -> str:
    if role_key == CITIZEN:
        return "Pemohon"
    if role_key == SECTION_ROLE:
        return "Sesuai seksi aduan"
    role = rules.roles.get(role_key)
    return role.name if role else role_key


def _step_name(rules: Rules, key: str | None) -> str:
    if not key:
        return "-"
    try:
        return rules.step(key).name
    except KeyError:  # the rules changed since
        return key


def build_report(data: MonthData, rules: Rules, *, office: str, previous: MonthData | None = None) -> Report:
    """The report's figures from ``data``, named as ``rules`` name things.

    Steps are listed in SOP order (every staff step, with or without visits),
    then the approval step and any step the rules no longer have, if they had
    visits. Tallies are ordered by count, largest first. The working minutes
    an overdue complaint is late are counted on ``rules.calendar``. A step
    with a standard in minutes is within it when its working minutes are at
    most the standard (counted from the durations, so a visit of exactly the
    standard counts whatever its seconds). ``previous``: the month before, for
    the headline column beside this month's.
    """
    calendar: OfficeCalendar = rules.calendar
    categories = {c.key: c.name for c in rules.format.categories}

    def category_name(key: str) -> str:
        return categories.get(key, key)

    all_names = list(rules.section_names.values())

    def section_name(key: str) -> str:
        # Sections may share a name (Palangka Raya's analyst serves three): add the key then.
        name = rules.section_names.get(key, key)
        return f"{name} ({key})" if all_names.count(name) > 1 else name

    by_category: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for row in data.received:
        by_category[row.category] = by_category.get(row.category, 0) + row.count
        by_channel[row.channel] = by_channel.get(row.channel, 0) + row.count
        by_status[row.status] = by_status.get(row.status, 0) + row.count
    status_order = list(STATUS_WORDS)
    statuses = tuple(sorted(
        (Tally(k, STATUS_WORDS.get(k, k), n) for k, n in by_status.items()),
        key=lambda t: (status_order.index(t.key) if t.key in status_order else len(status_order), t.key)))

    histograms: dict[str, list[tuple[int, int]]] = {}
    within: dict[str, int] = {}
    for d in data.durations:
        histograms.setdefault(d.step, []).append((d.minutes, d.count))
        within[d.step] = within.get(d.step, 0) + d.within
    running = dict(data.running)
    staff_steps = [s.key for s in rules.steps if s.role != CITIZEN and not s.auto]
    extra = sorted((set(histograms) | set(running)) - set(staff_steps) - {APPROVAL})
    keys = staff_steps + ([APPROVAL] if APPROVAL in histograms or APPROVAL in running else []) + extra
    steps = []
    for key in keys:
        hist = histograms.get(key, [])
        try:
            step = rules.step(key)
            name, holder, standard = step.name, _holder(rules, step.role), step.standard
            standard_text, standard_minutes = str(standard), (standard.minutes or None)
        except KeyError:
            name, holder, standard_text, standard_minutes = key, "-", "-", None
        ok = (sum(n for m, n in hist if m <= standard_minutes) if standard_minutes
              else within.get(key, 0))
        steps.append(StepFigure(
            key=key, name=name, holder=holder, standard=standard_text, standard_minutes=standard_minutes,
            count=sum(n for _, n in hist), median=nearest_rank(hist, 50), p90=nearest_rank(hist, 90),
            within=ok, running=running.get(key, 0),
        ))

    section_order = list(rules.section_names)
    sections = tuple(sorted(
        (Compliance(s.section, section_name(s.section), s.count, s.within) for s in data.sections),
        key=lambda c: (section_order.index(c.key) if c.key in section_order else len(section_order), c.key)))
    overall = Compliance("all", "Keseluruhan", sum(s.count for s in sections), sum(s.within for s in sections))

    open_items = tuple(OpenItem(
        number=c.number, received_at=c.received_at,
        category_name=categories.get(c.category, c.category_name), section_name=section_name(c.section),
        status=STATUS_WORDS.get(c.status, c.status),
        step_name="-" if c.status == Status.CLOSED else _step_name(rules, c.step), closed_at=c.closed_at,
    ) for c in data.open_items)
    overdue_items = tuple(OverdueItem(
        number=v.number, category_name=categories.get(v.category, v.category_name),
        section_name=section_name(v.section), step_name=_step_name(rules, v.step),
        holder=_holder(rules, v.role) if v.role else "-", due_at=v.due_at,
        late_minutes=calendar.working_minutes_between(v.due_at, data.as_of), done_at=v.ended_at,
    ) for v in data.overdue_items)

    by_cat: dict[str, list[RatingCount]] = {}
    by_sec: dict[str, list[RatingCount]] = {}
    for r in data.ratings:
        by_cat.setdefault(r.category, []).append(r)
        by_sec.setdefault(r.section, []).append(r)
    satisfaction = Satisfaction(
        asked=data.asked, overall=satisfaction_figure("all", "Keseluruhan", data.ratings),
        by_category=tuple(sorted((satisfaction_figure(k, category_name(k), rows) for k, rows in by_cat.items()),
                                 key=lambda f: (-f.responses, f.name))),
        by_section=tuple(sorted((satisfaction_figure(k, section_name(k), rows) for k, rows in by_sec.items()),
                                key=lambda f: (section_order.index(f.key) if f.key in section_order
                                               else len(section_order), f.key))))
    before = headline(build_report(previous, rules, office=office)) if previous is not None else None

    return Report(
        office=office, sop=rules.sop, timezone=calendar.zone.key, month=data.month,
        start=data.start, end=data.end, as_of=data.as_of, as_of_month_end=data.as_of >= data.end,
        generated_at=data.generated_at,
        received=sum(by_category.values()), closed=data.closed,
        by_category=_by_count(by_category, category_name),
        by_channel=_by_count(by_channel, lambda k: CHANNEL_WORDS.get(k, k)),
        by_status=statuses, steps=tuple(steps), compliance=overall, compliance_by_section=sections,
        rejected=data.rejected, ignored=data.ignored,
        open_total=data.open_total, open_items=open_items,
        overdue_total=data.overdue_total, overdue_items=overdue_items, limit=data.limit,
        satisfaction=satisfaction, previous=before,
        waiting=WaitingFigure(sum(n for _, n in data.waiting), nearest_rank(data.waiting, 50),
                              nearest_rank(data.waiting, 90), sum(m * n for m, n in data.waiting),
                              data.waiting_running),
        merged=data.merged,
    )
