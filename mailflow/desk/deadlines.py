"""Deadlines (mutu baku waktu): reminders before a step's time standard runs
out, and the rules' action once it has.

``Deadlines.run_once`` is one pass, in one database transaction:

1. read the open step visits of running complaints whose breach is due and
   those whose reminder is due (``store.queries.due_visits``: through their
   indexes and in ``LIMIT``-sized batches, never a scan of every complaint);
2. ask the ladder what each means (``ladder.transition`` with a
   ``DeadlinePassed`` or ``DeadlineNear`` event): who is reminded, who is told
   of the breach (``[deadlines] on_breach``: the next rung, or the holder), or
   whether the complaint moves up (``escalate``); a visit already past its
   due time gets only the breach (its stale reminder is marked done too);
3. apply it: an escalation is written as a staff ``#teruskan`` would be
   (``desk.state.apply_state``: the visit closed and the next one opened);
   a recipient told of one thing gets that one mail (``staff/reminder``,
   ``staff/breach-notice`` or ``staff/handover``), a recipient told of
   several (after an outage, say) ONE ``staff/deadline-summary``;
4. set ``reminded_at`` / ``breached_at`` and append the hops (``reminded``,
   ``overdue``, and ``forwarded`` for an escalation) in the same transaction
   as the outbox rows, so each happens once per visit;
5. in the same transaction, the waits for the citizen: a reminder to them,
   then closing after silence (``desk/silence.py``).

The daemon calls ``run_once`` once per pass; a full batch leaves the rest for
the next pass (``DeadlineResult.more``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailflow.core import ladder
from mailflow.core.render import TemplateError, localtime
from mailflow.core.sop import Role, Step
from mailflow.core.vocabulary import HopKind, MailKind, Notice, Word
from mailflow.desk.letters import Letters, named
from mailflow.desk.silence import Silence
from mailflow.desk.state import apply_state, state_of
from mailflow.store import hoplog, queries
from mailflow.store.models import Complaint, Message, StepVisit, utcnow

log = logging.getLogger("mailflow.deadlines")

SYSTEM_SENDER = "mailflow (otomatis)"

REMINDER, OVERDUE, ESCALATED = Notice.REMINDER, Notice.OVERDUE, Notice.ESCALATED


@dataclass
class DeadlineResult:
    reminded: int = 0  # visits whose reminder was done (marked; mailed unless nobody could be told)
    breached: int = 0  # visits whose breach action was done (marked; including escalations)
    mails: int = 0  # mails queued in the outbox
    escalated: int = 0  # of the breaches, complaints moved to the next step
    more: bool = False  # the batch was full: more may be due, the next pass goes on
    error: str | None = None  # the pass was rolled back (a template could not be rendered)
    # closing after silence (desk/silence.py)
    citizens_reminded: int = 0  # complaints waiting for the citizen whose citizen was reminded
    closed_silent: int = 0  # complaints closed because the citizen never answered

    def __bool__(self) -> bool:
        return bool(self.reminded or self.breached or self.mails or self.error or self.citizens_reminded
                    or self.closed_silent)

    def summary(self) -> str:
        text = f"{self.reminded} reminded, {self.breached} overdue ({self.escalated} escalated), {self.mails} mail(s)"
        if self.citizens_reminded or self.closed_silent:
            text += f"; waiting for the citizen: {self.citizens_reminded} reminded, {self.closed_silent} closed"
        return text + (f"; failed: {self.error}" if self.error else "")


@dataclass
class _Notice:
    """One thing one recipient is told about one complaint."""

    kind: Notice
    recipient: Role
    complaint: Complaint
    visit: StepVisit
    step: Step  # the step whose deadline it is
    holder: Role | None  # who held the complaint at that step
    late_minutes: int = 0
    remaining_minutes: int = 0
    new_step: Step | None = None  # ESCALATED: where the complaint moved
    hops: list[dict[str, Any]] = field(default_factory=list)  # hoplog.record kwargs, recorded once the mail is queued


class Deadlines:
    """Reminders and breach actions for the time standards of the ladder's steps."""

    def __init__(self, letters: Letters, factory: sessionmaker[Session], *,
                 clock: Callable[[], datetime] = utcnow, batch_size: int = 500):
        self.letters = letters
        self.factory = factory
        self.clock = clock
        self.batch_size = batch_size
        self.settings = letters.settings
        self.rules = letters.rules
        self.silence = Silence(letters)

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
        office = self.settings.office.key
        session.info[hoplog.OFFICE] = office
        breaches = queries.visits_due(session, office, "breach", now, self.batch_size)
        room = self.batch_size - len(breaches)
        reminders = queries.visits_due(session, office, "reminder", now, room) if room > 0 else []
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
        # Waiting for the citizen: their reminder and closing after silence, in this transaction.
        quiet = self.silence.pass_(session, now, self.batch_size)
        result.citizens_reminded, result.closed_silent = quiet.reminded, quiet.closed
        result.mails += quiet.reminded + quiet.closed
        result.more = result.more or quiet.more
        return result

    # ------------------------------------------------------------------ applying the ladder's decisions
    def _reminder(self, session: Session, visit: StepVisit, c: Complaint, now: datetime) -> _Notice | None:
        visit.reminded_at = now
        [act] = ladder.transition(state_of(c), ladder.DeadlineNear(visit.step), self.rules).actions
        if isinstance(act, ladder.Unattended):
            self._orphan(session, visit, c, HopKind.REMINDED, now, act)
            return None
        assert isinstance(act, ladder.Remind)
        assert visit.due_at is not None  # the reminder query reads visits with a due time
        step, holder = self.rules.step(visit.step), self.rules.roles[act.role]
        remaining = self.rules.calendar.working_minutes_between(now, visit.due_at)
        return _Notice(REMINDER, holder, c, visit, step, holder, remaining_minutes=remaining, hops=[dict(
            kind=HopKind.REMINDED, from_state=visit.step, to_state=visit.step,
            reason=f"reminder to {holder.name} ({', '.join(holder.members)}): step '{step.name}' "
                   f"({step.standard}) due {self._iso(visit.due_at)}, {remaining} working minute(s) left",
        )])

    def _breach(self, session: Session, visit: StepVisit, c: Complaint, now: datetime) -> _Notice | None:
        visit.breached_at = now
        if visit.reminded_at is None:
            visit.reminded_at = now  # past due already: the breach replaces the stale reminder
        result = ladder.transition(state_of(c), ladder.DeadlinePassed(visit.step), self.rules)
        [act] = result.actions
        if isinstance(act, ladder.Unattended) and act.missing == "step":
            self._orphan(session, visit, c, HopKind.OVERDUE, now, act)
            return None
        assert visit.due_at is not None  # the breach query reads visits past their due time
        step = self.rules.step(visit.step)
        holder = self.rules.roles.get(c.holder_role or "")
        late = self.rules.calendar.working_minutes_between(visit.due_at, now)
        overdue = (f"step '{step.name}' ({step.standard}) held by {holder.name if holder else c.holder_role} "
                   f"was due {self._iso(visit.due_at)}; {late} working minute(s) late")
        if isinstance(act, ladder.Escalate):
            role, nxt = self.rules.roles[act.role], self.rules.step(act.step)
            apply_state(session, c, result.state, self.rules, now)  # closes this visit, opens the next one
            return _Notice(ESCALATED, role, c, visit, step, holder, late_minutes=late, new_step=nxt, hops=[
                dict(kind=HopKind.OVERDUE, from_state=step.key, to_state=step.key,
                     reason=f"{overdue}; on_breach escalate: forwarded to {role.name}"),
                dict(kind=HopKind.FORWARDED, from_state=step.key, to_state=nxt.key,
                     reason=f"#teruskan to {role.name}: the time standard passed; forwarded automatically"),
            ])
        if isinstance(act, ladder.Unattended):
            self._orphan(session, visit, c, HopKind.OVERDUE, now, act, overdue)
            return None
        assert isinstance(act, ladder.Overdue)
        recipient = self.rules.roles[act.role]
        return _Notice(OVERDUE, recipient, c, visit, step, holder, late_minutes=late, hops=[dict(
            kind=HopKind.OVERDUE, from_state=visit.step, to_state=visit.step,
            reason=f"{overdue}; {act.why}: {recipient.name} ({', '.join(recipient.members)}) told",
        )])

    def _orphan(self, session: Session, visit: StepVisit, c: Complaint, kind: HopKind, now: datetime,
                act: ladder.Unattended, detail: str = "") -> None:
        """Nobody to tell: the rules no longer have the holder's role (or the step).
        Marked done all the same, so it is not retried every pass, and logged."""
        missing = (f"no step {visit.step!r}" if act.missing == "step" else f"no role {c.holder_role!r}") + " in the rules"
        log.warning("complaint %s: nobody told of its deadline: %s", c.number, missing)
        hoplog.record(session, kind, at=now, complaint=c, from_state=visit.step, to_state=visit.step,
                      reason=(detail + "; " if detail else "") + f"nobody told: {missing}")

    # ------------------------------------------------------------------ mail
    def _commands(self, c: Complaint, recipient: Role) -> list[SimpleNamespace]:
        """The commands ``recipient`` may reply with now (none unless they hold the complaint)."""
        return self.letters.command_help(state_of(c)) if recipient.key == c.holder_role else []

    @staticmethod
    def _step_ctx(step: Step) -> SimpleNamespace:
        return SimpleNamespace(name=step.name, standard=str(step.standard), standard_minutes=step.standard.minutes)

    def _mail_one(self, session: Session, n: _Notice, now: datetime) -> Message:
        c, role = n.complaint, n.recipient
        if n.kind == ESCALATED:
            assert n.new_step is not None
            kind = MailKind.HANDOVER
            note = (f"Batas waktu tahap \"{n.step.name}\" ({n.step.standard}"
                    + (f", dipegang {n.holder.name}" if n.holder else "")
                    + f") terlampaui sejak {localtime(n.visit.due_at, self.settings.office.timezone)}; "
                    "aduan ini diteruskan otomatis kepada Anda.")
            context: dict[str, Any] = dict(
                step=SimpleNamespace(name=n.new_step.name, standard_minutes=n.new_step.standard.minutes,
                                     output=n.new_step.output),
                from_step=SimpleNamespace(name=n.step.name), from_role=SimpleNamespace(name=SYSTEM_SENDER),
                word=Word.TERUSKAN.value, rejected_draft=False, note=note)
        else:
            kind = MailKind.REMINDER if n.kind == REMINDER else MailKind.BREACH_NOTICE
            context = dict(step=self._step_ctx(n.step), started_at=n.visit.started_at, due_at=n.visit.due_at)
            if n.kind == REMINDER:
                context["remaining_minutes"] = n.remaining_minutes
            else:
                context.update(holder=self._holder_ctx(n.holder, c), late_minutes=n.late_minutes,
                               to_holder=role.key == c.holder_role)
        return self.letters.to_role(session, c, role, kind, now, commands=self._commands(c, role), **context)

    def _mail_summary(self, session: Session, group: list[_Notice], now: datetime) -> Message:
        role = group[0].recipient
        order = {ESCALATED: 0, OVERDUE: 1, REMINDER: 2}
        group = sorted(group, key=lambda n: (order[n.kind], n.visit.due_at, n.complaint.id))
        items = []
        for n in group:
            c = n.complaint
            items.append(SimpleNamespace(
                kind=n.kind, number=c.number, complaint=self.letters.complaint(c),
                step=self._step_ctx(n.step), holder=self._holder_ctx(n.holder, c),
                new_step=self._step_ctx(n.new_step) if n.new_step else None,
                started_at=n.visit.started_at, due_at=n.visit.due_at, late_minutes=n.late_minutes,
                remaining_minutes=n.remaining_minutes, reply_address=self.letters.reply_address(c),
                commands=self._commands(c, role),
            ))
        counts = SimpleNamespace(reminder=sum(n.kind == REMINDER for n in group),
                                 overdue=sum(n.kind == OVERDUE for n in group),
                                 escalated=sum(n.kind == ESCALATED for n in group))
        return self.letters.write(session, MailKind.DEADLINE_SUMMARY, to=role.members, now=now, role=named(role),
                                  items=items, counts=counts)

    @staticmethod
    def _holder_ctx(holder: Role | None, c: Complaint) -> SimpleNamespace:
        if holder is None:
            return SimpleNamespace(name=c.holder_role or "-", addresses="")
        return SimpleNamespace(name=holder.name, addresses=", ".join(holder.members))

    def _iso(self, moment: datetime | None) -> str:
        """For hop reasons: the office's local time, e.g. 2026-11-23T09:30+07:00."""
        if moment is None:
            return "-"
        return moment.astimezone(self.settings.office.tz).isoformat(timespec="minutes")
