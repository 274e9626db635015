"""The monthly report's database edge: one month read as plain values.

Every figure is aggregated in SQL (``GROUP BY``/``COUNT``) over one index range,
so the cost follows the size of the month, not of the database:

| what | rows read | index |
| --- | --- | --- |
| complaints received, by category/channel/status | the month's complaints | ``ix_complaints_month_counts`` (covering) |
| complaints closed in the month | the month's closings | ``ix_complaints_closings`` (covering) |
| step durations (step x minutes), running visits, compliance | visits started in the month | ``ix_step_visits_month`` |
| rejected and ignored mail | the month's hops of those two kinds | ``ix_hops_kind_at`` (covering) |
| open at the as-of moment | complaints open now, and those closed since | ``ix_complaints_status_created_at``, ``ix_complaints_closings`` |
| overdue at the as-of moment | visits open now, and those ended since | ``ix_step_visits_open_due`` |
| satisfaction survey: ratings by category and section, per element | the month's ratings | ``ix_survey_responses_rated`` |
| surveys sent in the month | the month's surveys | ``ix_survey_responses_asked`` |

Percentiles need the durations, not just a sum: the query returns how many
visits of each step took each whole number of working minutes (a few hundred
rows a step), from which ``figures.nearest_rank`` is exact. The open and
overdue lists are cut to ``limit`` rows; their totals are exact counts.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from mailflow.core.identity import mask_ids_in_text
from mailflow.core.sop import WAITING_STEP
from mailflow.core.vocabulary import OPEN_STATUSES, Status
from mailflow.report.figures import (
    DurationCount,
    Month,
    MonthData,
    OpenComplaint,
    OverdueVisit,
    RatingCount,
    ReceivedCount,
    SectionCount,
)
from mailflow.store.models import SURVEY_ELEMENTS, Complaint, Hop, StepVisit, SurveyResponse

DEFAULT_LIMIT = 100


class MonthNotBegun(ValueError):
    """The month asked for starts after the moment the report is made."""


def _of(column, office: str | None) -> tuple:
    return () if office is None else (column == office,)


def _complaints_of(session: Session, office: str | None) -> tuple:
    """The office condition on complaints. SQLite's planner, which has no
    statistics, takes ``office = ?`` for a selective lookup and reads the
    office's whole register through its unique (office, number) index (2.4 s
    at 1 M complaints instead of 0.2 s); a unary plus (SQLite's documented
    way) keeps it on the month's index range, whose covering indexes end with
    the office. PostgreSQL's planner has statistics."""
    if office is None:
        return ()
    if session.get_bind().dialect.name == "sqlite":
        return (literal_column("+complaints.office", type_=Complaint.office.type) == office,)
    return (Complaint.office == office,)


def load_month(session: Session, month: Month, zone: tzinfo, *, now: datetime,
               limit: int = DEFAULT_LIMIT, office: str | None = None) -> MonthData:
    """Read ``month`` (calendar month in ``zone``) as of ``now`` (aware), of
    ``office`` (None: every office of the database, for a roll-up).

    The open and overdue lists are as of the month's end, or ``now`` if the
    month has not ended yet; each holds at most ``limit`` complaints. Raises
    ``MonthNotBegun`` for a month that starts after ``now``. Reads only.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    start, end = month.bounds(zone)
    if start > now:
        raise MonthNotBegun(f"{month.key} has not begun yet (it starts {start.isoformat()})")
    as_of = min(end, now)

    # A duplicate merged into another complaint counts once, as that one (merging): counted apart.
    counts = [(category, channel, status, count) for category, channel, status, count in session.execute(
        select(Complaint.category, Complaint.channel, Complaint.status, func.count())
        .where(Complaint.created_at >= start, Complaint.created_at < end, *_complaints_of(session, office))
        .group_by(Complaint.category, Complaint.channel, Complaint.status))]
    received = tuple(ReceivedCount(*row) for row in counts if row[2] != Status.MERGED)
    merged = sum(row[3] for row in counts if row[2] == Status.MERGED)
    closed = session.scalar(select(func.count()).select_from(Complaint)
                            .where(Complaint.closed_at >= start, Complaint.closed_at < end,
                                   Complaint.status != str(Status.MERGED), *_complaints_of(session, office))) or 0

    month_visits = (StepVisit.started_at >= start, StepVisit.started_at < end, *_of(StepVisit.office, office))
    # The office's own steps; the waits for the citizen (after #info) are shown apart.
    started_in_month = (*month_visits, StepVisit.step != WAITING_STEP)
    done = StepVisit.working_minutes.is_not(None)  # set exactly when the visit ended
    within = func.sum(case((StepVisit.within_standard.is_(True), 1), else_=0))
    durations = tuple(DurationCount(step, minutes, count, int(ok or 0)) for step, minutes, count, ok in
                      session.execute(
                          select(StepVisit.step, StepVisit.working_minutes, func.count(), within)
                          .where(*started_in_month, done)
                          .group_by(StepVisit.step, StepVisit.working_minutes)))
    running = tuple((step, count) for step, count in session.execute(
        select(StepVisit.step, func.count()).where(*started_in_month, StepVisit.working_minutes.is_(None))
        .group_by(StepVisit.step)))
    sections = tuple(SectionCount(section, count, int(ok or 0)) for section, count, ok in session.execute(
        select(StepVisit.section, func.count(), within).where(*started_in_month, done).group_by(StepVisit.section)))

    # One query: the ended waits by working minutes, the running ones as the NULL group.
    waits = dict(session.execute(
        select(StepVisit.working_minutes, func.count()).where(*month_visits, StepVisit.step == WAITING_STEP)
        .group_by(StepVisit.working_minutes)).all())
    waiting_running = waits.pop(None, 0)
    waiting = tuple((minutes, count) for minutes, count in waits.items() if minutes is not None)

    hop_counts = dict(session.execute(
        select(Hop.kind, func.count()).where(Hop.kind.in_(("rejected", "ignored")), Hop.at >= start, Hop.at < end,
                                             *_of(Hop.office, office))
        .group_by(Hop.kind)).all())

    open_total, open_items = _open_at(session, as_of, limit, office)
    overdue_total, overdue_items = _overdue_at(session, as_of, limit, office)
    asked, ratings = _ratings(session, start, end, office)
    return MonthData(
        month=month, start=start, end=end, as_of=as_of, generated_at=now,
        received=received, closed=closed, durations=durations, running=running, sections=sections,
        rejected=hop_counts.get("rejected", 0), ignored=hop_counts.get("ignored", 0),
        open_total=open_total, open_items=open_items, overdue_total=overdue_total, overdue_items=overdue_items,
        limit=limit, asked=asked, ratings=ratings, waiting=waiting, waiting_running=waiting_running,
        merged=merged,
    )


def _ratings(session: Session, start: datetime, end: datetime,
             office: str | None) -> tuple[int, tuple[RatingCount, ...]]:
    """Surveys sent in [start, end), and the ratings received in it by category
    and section: per element the sum and count of the scores."""
    asked = session.scalar(select(func.count()).select_from(SurveyResponse).where(
        SurveyResponse.asked_at >= start, SurveyResponse.asked_at < end, *_of(SurveyResponse.office, office))) or 0
    columns = [getattr(SurveyResponse, name) for name in SURVEY_ELEMENTS]
    rows = session.execute(
        select(SurveyResponse.category, SurveyResponse.section, func.count(),
               *(func.coalesce(func.sum(c), 0) for c in columns), *(func.count(c) for c in columns))
        .where(SurveyResponse.rated_at >= start, SurveyResponse.rated_at < end,
               *_of(SurveyResponse.office, office))
        .group_by(SurveyResponse.category, SurveyResponse.section)).all()
    n = len(columns)
    return asked, tuple(RatingCount(r[0], r[1], r[2], tuple(int(v) for v in r[3:3 + n]),
                                    tuple(int(v) for v in r[3 + n:3 + 2 * n])) for r in rows)


def _open_at(session: Session, as_of: datetime, limit: int,
             office: str | None) -> tuple[int, tuple[OpenComplaint, ...]]:
    """Complaints open at ``as_of``: received before it and either open now, or
    closed (by their last closing) after it. Oldest first."""
    # The complaints closed since as_of are few unless the month is long past:
    # they are read by closed_at (ix_complaints_closings). SQLite's planner, which
    # has no statistics, would rather walk ix_complaints_month_counts in created_at
    # order through every complaint received before as_of; a unary plus (SQLite's
    # documented way) keeps it off that index. PostgreSQL's planner has statistics.
    received: Any = Complaint.created_at
    if session.get_bind().dialect.name == "sqlite":
        received = literal_column("+complaints.created_at", type_=Complaint.created_at.type)
    mine = _complaints_of(session, office)
    groups = (
        ((Complaint.status.in_(OPEN_STATUSES), Complaint.created_at < as_of, *mine), Complaint.created_at),
        ((Complaint.status.not_in(OPEN_STATUSES), Complaint.closed_at >= as_of, received < as_of, *mine), received),
    )
    total, rows = 0, list[Any]()
    for where, order in groups:
        total += session.scalar(select(func.count()).select_from(Complaint).where(*where)) or 0
        rows += session.execute(
            select(Complaint.created_at, Complaint.id, Complaint.number, Complaint.category, Complaint.category_name,
                   Complaint.section, Complaint.status, Complaint.step, Complaint.closed_at)
            .where(*where).order_by(order, Complaint.id).limit(limit)).all()
    rows.sort(key=lambda r: (r.created_at, r.id))
    return total, tuple(OpenComplaint(
        number=r.number, received_at=r.created_at, category=r.category,
        category_name=mask_ids_in_text(r.category_name), section=r.section, status=r.status, step=r.step,
        closed_at=r.closed_at if r.status not in OPEN_STATUSES else None,
    ) for r in rows[:limit])


def _overdue_at(session: Session, as_of: datetime, limit: int,
                office: str | None) -> tuple[int, tuple[OverdueVisit, ...]]:
    """Step visits open at ``as_of`` and past their due time then: still open
    now, or ended after ``as_of``. Longest overdue (earliest due) first."""
    mine = (*_of(StepVisit.office, office), StepVisit.step != WAITING_STEP)  # a wait for the citizen is not late
    groups = (
        (StepVisit.ended_at.is_(None), StepVisit.due_at < as_of, *mine),
        (StepVisit.ended_at > as_of, StepVisit.due_at < as_of, *mine),
    )
    total, rows = 0, list[Any]()
    for where in groups:
        total += session.scalar(select(func.count()).select_from(StepVisit).where(*where)) or 0
        rows += session.execute(
            select(StepVisit.due_at, StepVisit.id, StepVisit.step, StepVisit.role, StepVisit.section,
                   StepVisit.started_at, StepVisit.ended_at, Complaint.number, Complaint.category,
                   Complaint.category_name)
            .join(Complaint, Complaint.id == StepVisit.complaint_id)
            .where(*where).order_by(StepVisit.due_at, StepVisit.id).limit(limit)).all()
    rows.sort(key=lambda r: (r.due_at, r.id))
    return total, tuple(OverdueVisit(
        number=r.number, category=r.category, category_name=mask_ids_in_text(r.category_name), section=r.section,
        step=r.step, role=r.role, started_at=r.started_at, due_at=r.due_at, ended_at=r.ended_at,
    ) for r in rows[:limit])
