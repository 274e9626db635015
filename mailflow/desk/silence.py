"""Closing after silence (issue #15 point 4): a complaint waiting for the
citizen (after ``#info``) gets one reminder to them after the rules'
``[waiting] remind_days`` working days, and is closed after ``close_days``
(LAPOR!'s 5 and 10), with a mail telling the citizen how to reopen it.

The wait is timed by its own step visit (``WAITING_STEP``, opened by
``desk.state.apply_state``); ``Silence.pass_`` runs inside the deadline pass's
transaction (``Deadlines.run_once``, so ``Daemon.timers_once`` and a worker's
``office_timers`` job): the due waits are read locked (SKIP LOCKED on
PostgreSQL), the ladder decides (``DeadlineNear``/``DeadlinePassed`` on the
wait's visit: ``RemindCitizen``, ``CloseForSilence``), and the visit's
``reminded_at``/``breached_at`` are set in the same transaction as the mail
and the hop: each happens once, across restarts and processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.core import ladder
from mailflow.core.sop import WAITING_STEP
from mailflow.core.vocabulary import HopKind, MailKind
from mailflow.desk.letters import Letters
from mailflow.desk.state import apply_state, state_of
from mailflow.store import hoplog, queries
from mailflow.store.models import Complaint, StepVisit


@dataclass
class SilenceResult:
    reminded: int = 0  # citizens reminded
    closed: int = 0  # complaints closed after silence
    more: bool = False  # a batch was full


class Silence:
    def __init__(self, letters: Letters):
        self.letters = letters
        self.rules = letters.rules
        self.office = letters.settings.office.key

    def pass_(self, session: Session, now: datetime, limit: int) -> SilenceResult:
        """Remind and close what is due, up to ``limit`` of each, in the caller's transaction."""
        result = SilenceResult()
        closing = queries.waiting_due(session, self.office, "breach", now, limit)
        reminding = queries.waiting_due(session, self.office, "reminder", now, limit)
        result.more = len(closing) >= limit or len(reminding) >= limit
        for visit, c in closing:
            result.closed += self._close(session, visit, c, now)
        for visit, c in reminding:
            result.reminded += self._remind(session, visit, c, now)
        return result

    def _remind(self, session: Session, visit: StepVisit, c: Complaint, now: datetime) -> int:
        visit.reminded_at = now
        result = ladder.transition(state_of(c), ladder.DeadlineNear(WAITING_STEP), self.rules)
        if not any(isinstance(a, ladder.RemindCitizen) for a in result.actions):
            return 0
        mail = self.letters.to_citizen(session, c, MailKind.INFO_REMINDER, now, question=self._question(session, c),
                                       close_at=visit.due_at, close_days=self.rules.waiting.close_days)
        hoplog.record(session, HopKind.CITIZEN_REMINDED, at=now, complaint=c, message=mail,
                      from_state=c.status, to_state=c.status,
                      reason=f"no reply from the complainant for {self.rules.waiting.remind_days} working day(s) "
                             f"after #info; reminded; closed at {visit.due_at.isoformat() if visit.due_at else '-'} "
                             "without a reply")
        return 1

    def _close(self, session: Session, visit: StepVisit, c: Complaint, now: datetime) -> int:
        visit.breached_at = now
        if visit.reminded_at is None:
            visit.reminded_at = now  # past its closing already: no reminder after that
        result = ladder.transition(state_of(c), ladder.DeadlinePassed(WAITING_STEP), self.rules)
        if not any(isinstance(a, ladder.CloseForSilence) for a in result.actions):
            return 0
        before = c.step
        apply_state(session, c, result.state, self.rules, now)  # ends the wait's visit
        c.closed_at, c.closed_reason = now, "silence"
        mail = self.letters.to_citizen(session, c, MailKind.CLOSED_NO_REPLY, now,
                                       close_days=self.rules.waiting.close_days,
                                       reopen_days=self.rules.answer.reopen_days)
        hoplog.record(session, HopKind.CLOSED, at=now, complaint=c, message=mail, from_state=before,
                      to_state=ladder.CLOSED,
                      reason=f"no reply from the complainant for {self.rules.waiting.close_days} working day(s) "
                             f"after #info; closed; a reply within {self.rules.answer.reopen_days} day(s) reopens it")
        return 1

    @staticmethod
    def _question(session: Session, c: Complaint) -> str:
        """The last #info question asked (its hop's reason), for the reminder."""
        hops = [h for h in queries.hops_of(session, c) if h.kind == HopKind.INFO_REQUESTED]
        return hops[-1].reason if hops else ""
