"""Deadlines (mutu baku waktu): reminders before a step's time standard runs
out, and the rules' action once it has.

``Deadlines.run_once`` is one pass, in one database transaction:

1. read the open step visits (``models.StepVisit``, ``ended_at IS NULL``) of
   running complaints whose breach is due (``breached_at IS NULL AND due_at <=
   now``) and those whose reminder is due (``reminded_at IS NULL AND remind_at
   <= now``, not yet past due), through their indexes and in ``LIMIT``-sized
   batches -- never a scan of every complaint;
2. decide, per visit, who is told what:
   - reminder: the role holding the complaint;
   - breach, by ``[deadlines] on_breach`` in the rules:
     ``notify-next``: the role of the next staff step (``Rules.next_staff_step``)
     for the complaint's section, or the holder when there is none;
     ``notify-holder``: the holder;
     ``escalate``: the complaint moves to the next staff step (visit closed and
     opened as a staff ``#teruskan`` would, ``workflow._store``) and its new
     holder is told; with no next step held by another role, the holder is
     told instead;
   a visit already past its due time gets only the breach (its stale reminder
   is marked done too);
3. queue the mail: a recipient told of one thing gets that one mail
   (``staff/reminder``, ``staff/breach-notice`` or ``staff/handover``); a
   recipient told of several (after an outage, say) gets ONE
   ``staff/deadline-summary`` listing them all;
4. set ``reminded_at`` / ``breached_at`` and append the hops (``reminded``,
   ``overdue``, and ``forwarded`` for an escalation) in the same transaction as
   the outbox rows, so each happens once per visit.

The daemon calls ``run_once`` once per pass; a full batch leaves the rest for
the next pass (``DeadlineResult.more``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store import hoplog

from mailflow.core import ladder
from mailflow.store.models import Complaint, Message, StepVisit, utcnow
from mailflow.edges.outbox import Outgoing, enqueue
from mailflow.core.render import TemplateError, localtime
from mailflow.core.sop import Role, Step
from mailflow.desk.replies import _store, state_of

if TYPE_CHECKING:
    from mailflow.desk.intake import Intake

log = logging.getLogger("mailflow.deadlines")

# Statuses whose step clock runs (waiting for the citizen or closed: no open visit).
RUNNING = (ladder.REGISTERED, ladder.IN_PROGRESS, ladder.AWAITING_APPROVAL)
SYSTEM_SENDER = "mailflow (otomatis)"

REMINDER = "reminder"
OVERDUE = "overdue"
ESCALATED = "escalated"


@dataclass
class DeadlineResult:
    reminded: int = 0  # visits whose reminder was done (marked; mailed unless nobody could be told)
    breached: int = 0  # visits whose breach action was done (marked; including escalations)
    mails: int = 0  # mails queued in the outbox
    escalated: int = 0  # of the breaches, complaints moved to the next step
    more: bool = False  # the batch was full: more may be due, the next pass goes on
    error: str | None = None  # the pass was rolled back (a template could not be rendered)

    def __bool__(self) -> bool:
        return bool(self.reminded or self.breached or self.mails or self.error)

    def summary(self) -> str:
        text = f"{self.reminded} reminded, {self.breached} overdue ({self.escalated} escalated), {self.mails} mail(s)"
        return text + (f"; failed: {self.error}" if self.error else "")


@dataclass
class _Notice:
    """One thing one recipient is told about one complaint."""

    kind: str  # REMINDER | OVERDUE | ESCALATED
    recipient: Role
    complaint: Complaint
    visit: StepVisit
    step: Step  # the step whose deadline it is
    holder: Role | None  # who held the complaint at that step
    late_minutes: int = 0
    remaining_minutes: int = 0
    new_step: Step | None = None  # ESCALATED: where the complaint moved
    hops: list[dict] = field(default_factory=list)  # hoplog.record kwargs, recorded once the mail is queued


def due_visits(which: str, now: datetime, limit: int, *, lock: bool = False) -> Select:
    """The query of open visits whose breach (``which="breach"``) or reminder
    (``which="reminder"``) is due at ``now``, with their running complaint,
    oldest first, at most ``limit``. Each reads its own index
    (``ix_step_visits_open_due`` / ``ix_step_visits_open_remind``).
    ``lock`` (PostgreSQL): ``FOR UPDATE SKIP LOCKED`` of both rows, so two
    daemons never act on the same visit, and a complaint whose mail is being
    handled right now waits for the next pass."""
    if which == "breach":
        where = (StepVisit.ended_at.is_(None), StepVisit.breached_at.is_(None), StepVisit.due_at <= now)
        order = StepVisit.due_at
    elif which == "reminder":
        # A visit already past due gets the breach instead (the breach query finds it).
        where = (StepVisit.ended_at.is_(None), StepVisit.reminded_at.is_(None), StepVisit.remind_at <= now,
                 StepVisit.breached_at.is_(None), StepVisit.due_at > now)
        order = StepVisit.remind_at
    else:
        raise ValueError(f"which must be 'breach' or 'reminder', got {which!r}")
    stmt = (
        select(StepVisit, Complaint)
        .join(Complaint, Complaint.id == StepVisit.complaint_id)
        .where(*where, Complaint.status.in_(RUNNING))
        .order_by(order, StepVisit.id)
        .limit(limit)
    )
    return stmt.with_for_update(skip_locked=True, of=(StepVisit, Complaint)) if lock else stmt


class Deadlines:
    """Reminders and breach actions for the time standards of the ladder's steps."""

    def __init__(self, intake: Intake, factory: sessionmaker[Session], *,
                 clock: Callable[[], datetime] = utcnow, batch_size: int = 500):
        self.intake = intake
        self.factory = factory
        self.clock = clock
        self.batch_size = batch_size
        self.settings = intake.settings
        self.rules = intake.rules
        self.renderer = intake.renderer

    # ------------------------------------------------------------------ the pass
    def run_once(self) -> DeadlineResult:
        """Do every due reminder and breach action (up to ``batch_size`` visits) in
        one transaction. A mail template that cannot be rendered rolls the pass
        back and is logged (nothing is marked, so the next pass tries again);
        database errors propagate to the caller."""
        now = self.clock()
        try:
            with self.factory.begin() as session:
                result = self._pass(session, now)
        except TemplateError as exc:
            log.error("deadline pass rolled back: %s", exc)
            return DeadlineResult(error=str(exc))
        if result:
            log.info("deadlines: %s", result.summary())
        return result

    def _pass(self, session: Session, now: datetime) -> DeadlineResult:
        result = DeadlineResult()
        lock = session.get_bind().dialect.name == "postgresql"  # SQLite: BEGIN IMMEDIATE serialises writers
        breaches = self._select(session, due_visits("breach", now, self.batch_size, lock=lock))
        room = self.batch_size - len(breaches)
        reminders = self._select(session, due_visits("reminder", now, room, lock=lock)) if room > 0 else []
        result.more = len(breaches) + len(reminders) >= self.batch_size

        notices: list[_Notice] = []
        for visit, complaint in breaches:
            notice = self._breach(session, visit, complaint, now)
            result.breached += 1
            result.escalated += notice is not None and notice.kind == ESCALATED
            if notice is not None:
                notices.append(notice)
        for visit, complaint in reminders:
            notice = self._reminder(session, visit, complaint, now)
            result.reminded += 1
            if notice is not None:
                notices.append(notice)

        by_recipient: dict[str, list[_Notice]] = {}
        for notice in notices:
            by_recipient.setdefault(notice.recipient.key, []).append(notice)
        for group in by_recipient.values():
            # One thing to tell: its own mail. Several (an outage, a busy morning): one summary.
            if len(group) == 1:
                message = self._mail_one(session, group[0], now)
            else:
                message = self._mail_summary(session, group, now)
            result.mails += 1
            for notice in group:
                for hop in notice.hops:
                    hoplog.record(session, at=now, complaint=notice.complaint, message=message, **hop)
        return result

    @staticmethod
    def _select(session: Session, stmt: Select) -> list[tuple[StepVisit, Complaint]]:
        return [(v, c) for v, c in session.execute(stmt)]

    # ------------------------------------------------------------------ decisions
    def _reminder(self, session: Session, visit: StepVisit, c: Complaint, now: datetime) -> _Notice | None:
        visit.reminded_at = now
        step = self._step(visit.step)
        holder = self.rules.roles.get(c.holder_role or "")
        remaining = self.rules.calendar.working_minutes_between(now, visit.due_at)
        if holder is None or step is None:
            self._orphan(session, visit, c, "reminded", now)
            return None
        return _Notice(REMINDER, holder, c, visit, step, holder, remaining_minutes=remaining, hops=[dict(
            kind="reminded", from_state=visit.step, to_state=visit.step,
            reason=f"reminder to {holder.name} ({', '.join(holder.members)}): step '{step.name}' "
                   f"({step.standard}) due {_iso(visit.due_at, self.settings)}, {remaining} working minute(s) left",
        )])

    def _breach(self, session: Session, visit: StepVisit, c: Complaint, now: datetime) -> _Notice | None:
        visit.breached_at = now
        if visit.reminded_at is None:
            visit.reminded_at = now  # past due already: the breach replaces the stale reminder
        step = self._step(visit.step)
        holder = self.rules.roles.get(c.holder_role or "")
        if step is None:
            self._orphan(session, visit, c, "overdue", now)
            return None
        late = self.rules.calendar.working_minutes_between(visit.due_at, now)
        action = self.rules.deadlines.on_breach
        overdue = (f"step '{step.name}' ({step.standard}) held by {holder.name if holder else c.holder_role} "
                   f"was due {_iso(visit.due_at, self.settings)}; {late} working minute(s) late")

        nxt = self.rules.next_staff_step(visit.step)
        nxt_role = self.rules.role_for(nxt, c.section) if nxt is not None else None
        if action == "escalate" and nxt_role is not None and nxt_role.key != c.holder_role \
                and c.step == visit.step and c.status != ladder.AWAITING_APPROVAL:
            return self._escalate(session, visit, c, step, holder, nxt, nxt_role, late, overdue, now)

        if action == "notify-next" and nxt_role is not None:
            recipient, why = nxt_role, "on_breach notify-next"
        else:
            recipient = holder
            why = "on_breach notify-holder" if action == "notify-holder" else f"on_breach {action}, no next rung"
        if recipient is None:
            self._orphan(session, visit, c, "overdue", now, overdue)
            return None
        return _Notice(OVERDUE, recipient, c, visit, step, holder, late_minutes=late, hops=[dict(
            kind="overdue", from_state=visit.step, to_state=visit.step,
            reason=f"{overdue}; {why}: {recipient.name} ({', '.join(recipient.members)}) told",
        )])

    def _escalate(self, session: Session, visit: StepVisit, c: Complaint, step: Step, holder: Role | None,
                  nxt: Step, role: Role, late: int, overdue: str, now: datetime) -> _Notice:
        before = state_of(c)
        after = replace(before, status=ladder.IN_PROGRESS, step=nxt.key, holder=role.key)
        _store(session, c, after, now, self.rules)  # closes this visit, opens the next one
        return _Notice(ESCALATED, role, c, visit, step, holder, late_minutes=late, new_step=nxt, hops=[
            dict(kind="overdue", from_state=step.key, to_state=step.key,
                 reason=f"{overdue}; on_breach escalate: forwarded to {role.name}"),
            dict(kind="forwarded", from_state=step.key, to_state=nxt.key,
                 reason=f"#teruskan to {role.name}: the time standard passed; forwarded automatically"),
        ])

    def _step(self, key: str) -> Step | None:
        try:
            return self.rules.step(key)
        except KeyError:  # the rules file changed since the visit began
            return None

    def _orphan(self, session: Session, visit: StepVisit, c: Complaint, kind: str, now: datetime,
                detail: str = "") -> None:
        """Nobody to tell: the rules no longer have the holder's role (or the step).
        Marked done all the same, so it is not retried every pass, and logged."""
        missing = (f"no step {visit.step!r}" if self._step(visit.step) is None
                   else f"no role {c.holder_role!r}") + " in the rules"
        log.warning("complaint %s: nobody told of its deadline: %s", c.number, missing)
        hoplog.record(session, kind, at=now, complaint=c, from_state=visit.step, to_state=visit.step,
                      reason=(detail + "; " if detail else "") + f"nobody told: {missing}")

    # ------------------------------------------------------------------ mail
    def _base(self, c: Complaint, now: datetime) -> dict:
        return dict(office=self.intake.office_ctx, now=now, complaint=self.intake._complaint_ctx(c),
                    reply_address=self.intake.reply_address(c))

    def _commands(self, c: Complaint, recipient: Role) -> list[SimpleNamespace]:
        """The commands ``recipient`` may reply with now (none unless they hold the complaint)."""
        from mailflow.desk.intake import command_help

        return command_help(state_of(c), self.rules) if recipient.key == c.holder_role else []

    def _step_ctx(self, step: Step) -> SimpleNamespace:
        return SimpleNamespace(name=step.name, standard=str(step.standard), standard_minutes=step.standard.minutes)

    def _mail_one(self, session: Session, n: _Notice, now: datetime) -> Message:
        c, role = n.complaint, n.recipient
        if n.kind == ESCALATED:
            template = "staff/handover"
            note = (f"Batas waktu tahap \"{n.step.name}\" ({n.step.standard}"
                    + (f", dipegang {n.holder.name}" if n.holder else "")
                    + f") terlampaui sejak {_local(n.visit.due_at, self.settings)}; "
                    "aduan ini diteruskan otomatis kepada Anda.")
            ctx = dict(role=_named(role), step=SimpleNamespace(name=n.new_step.name,
                                                                standard_minutes=n.new_step.standard.minutes),
                       from_role=SimpleNamespace(name=SYSTEM_SENDER), word="teruskan", note=note,
                       commands=self._commands(c, role))
        else:
            template = "staff/reminder" if n.kind == REMINDER else "staff/breach-notice"
            ctx = dict(role=_named(role), step=self._step_ctx(n.step), started_at=n.visit.started_at,
                       due_at=n.visit.due_at, commands=self._commands(c, role))
            if n.kind == REMINDER:
                ctx["remaining_minutes"] = n.remaining_minutes
            else:
                ctx.update(holder=self._holder_ctx(n.holder, c), late_minutes=n.late_minutes,
                           to_holder=role.key == c.holder_role)
        rendered = self.renderer.render(template, **self._base(c, now), **ctx)
        return enqueue(session, self.settings, Outgoing(
            kind=template, to=role.members, subject=rendered.subject, body=rendered.body,
            reply_to=self.intake.reply_address(c), auto_submitted="auto-generated",
        ), now=now, complaint=c)

    def _mail_summary(self, session: Session, group: list[_Notice], now: datetime) -> Message:
        role = group[0].recipient
        order = {ESCALATED: 0, OVERDUE: 1, REMINDER: 2}
        group = sorted(group, key=lambda n: (order[n.kind], n.visit.due_at, n.complaint.id))
        items = []
        for n in group:
            c = n.complaint
            items.append(SimpleNamespace(
                kind=n.kind, number=c.number, complaint=self.intake._complaint_ctx(c),
                step=self._step_ctx(n.step), holder=self._holder_ctx(n.holder, c),
                new_step=self._step_ctx(n.new_step) if n.new_step else None,
                started_at=n.visit.started_at, due_at=n.visit.due_at, late_minutes=n.late_minutes,
                remaining_minutes=n.remaining_minutes, reply_address=self.intake.reply_address(c),
                commands=self._commands(c, role),
            ))
        counts = SimpleNamespace(reminder=sum(n.kind == REMINDER for n in group),
                                 overdue=sum(n.kind == OVERDUE for n in group),
                                 escalated=sum(n.kind == ESCALATED for n in group))
        template = "staff/deadline-summary"
        rendered = self.renderer.render(template, office=self.intake.office_ctx, now=now, role=_named(role),
                                        items=items, counts=counts)
        return enqueue(session, self.settings, Outgoing(
            kind=template, to=role.members, subject=rendered.subject, body=rendered.body,
            auto_submitted="auto-generated",
        ), now=now)

    def _holder_ctx(self, holder: Role | None, c: Complaint) -> SimpleNamespace:
        if holder is None:
            return SimpleNamespace(name=c.holder_role or "-", addresses="")
        return SimpleNamespace(name=holder.name, addresses=", ".join(holder.members))


def _named(role: Role) -> SimpleNamespace:
    return SimpleNamespace(name=role.name)


def _iso(moment: datetime | None, settings) -> str:
    """For hop reasons: the office's local time, e.g. 2026-11-23T09:30+07:00."""
    if moment is None:
        return "-"
    return moment.astimezone(settings.office.tz).isoformat(timespec="minutes")


def _local(moment: datetime | None, settings) -> str:
    """For mail text: Senin, 23 November 2026 09.30 WIB."""
    return localtime(moment, settings.office.timezone)
