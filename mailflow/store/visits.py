"""Step visits: the database record of how long a complaint stayed at each
step, and when its reminder and breach are due (see models.StepVisit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.core.sop import CITIZEN, WAITING_STEP, Rules
from mailflow.store.models import Complaint, StepVisit


def open_visit(session: Session, complaint: Complaint, rules: Rules, now: datetime) -> StepVisit | None:
    """Start the clock of the complaint's current step (staff-held steps only)."""
    step = rules.step(complaint.step) if complaint.step else None
    if step is None or step.role == CITIZEN:
        return None
    cal = rules.calendar
    due = cal.due(now, step.standard.amount, step.standard.unit)
    total = cal.working_minutes_between(now, due)
    remind = cal.add_working_minutes(now, int(total * rules.deadlines.remind_share))
    visit = StepVisit(
        office=complaint.office,
        complaint=complaint, step=step.key, role=complaint.holder_role, section=complaint.section,
        started_at=now, standard_minutes=step.standard.minutes or None, remind_at=remind, due_at=due,
    )
    session.add(visit)
    return visit


def open_waiting_visit(session: Session, complaint: Complaint, rules: Rules, now: datetime) -> StepVisit:
    """Start the clock of a wait for the citizen (after #info): a visit of
    ``WAITING_STEP`` held by the citizen, whose reminder and "due" times are the
    rules' ``[waiting]`` reminder and closing, in working days. The complaint's
    own due time stays empty: the office's clock does not run."""
    cal = rules.calendar
    visit = StepVisit(
        office=complaint.office, complaint=complaint, step=WAITING_STEP, role=CITIZEN, section=complaint.section,
        started_at=now, standard_minutes=None,
        remind_at=cal.due(now, rules.waiting.remind_days, "working_days"),
        due_at=cal.due(now, rules.waiting.close_days, "working_days"),
    )
    session.add(visit)
    return visit


def close_visit(session: Session, complaint: Complaint, rules: Rules, now: datetime) -> StepVisit | None:
    """Stop the clock of the complaint's open visit, recording the working minutes spent."""
    visit = session.scalar(
        select(StepVisit).where(StepVisit.complaint_id == complaint.id, StepVisit.ended_at.is_(None))
        .order_by(StepVisit.id.desc()).limit(1)
    )
    if visit is None:
        return None
    visit.ended_at = now
    visit.working_minutes = rules.calendar.working_minutes_between(visit.started_at, now)
    # Within standard: a standard in minutes is met when the working minutes spent
    # are at most the standard (so a visit of exactly the standard counts, though
    # its seconds went past the due minute); a standard in working days by its
    # due time.
    if visit.standard_minutes:
        visit.within_standard = visit.working_minutes <= visit.standard_minutes
    else:
        visit.within_standard = visit.due_at is None or now <= visit.due_at
    return visit
