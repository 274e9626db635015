"""Status by mail (issue 15 point 1): a citizen writes ``#status`` (or
``status``, ``cek status``) at the start of a mail and gets an automatic
answer: where the complaint stands in plain words, which role holds it, the
step's time standard and when it is due in working time, the SOP's whole
standard, and the history in short.

Who gets what (docs/SECURITY.md):
- the answer goes only to the complaint's **recorded** complainant address,
  never to a Reply-To, and only when the request came From: that address --
  through the complaint's reply address (its token), or to the complaint
  address naming the register number (in the subject or the first line)
  with a From: the office's mail server did not find failing (and verified,
  under ``[security] require_authentication``);
- within ``limits.auto_replies_per_address_per_day`` (the status mails are
  automatic kinds);
- anyone else who asks (another address, a forged From: failing DMARC) gets
  nothing personal: at most the ``citizen/status-unknown`` mail, which names
  no complaint, or nothing at all;
- a status request never changes the complaint (no follow-up, no reopen) and
  is never registered as a new complaint.
"""

from __future__ import annotations

from datetime import datetime

from mailflow.config.settings import Settings
from mailflow.core.commands import status_request
from mailflow.core.reply_text import reply_of
from mailflow.core.vocabulary import HopKind, MailKind
from mailflow.desk import history
from mailflow.desk.delivery import Delivery, Outcome
from mailflow.desk.letters import Letters, number_regex
from mailflow.desk.state import state_of
from mailflow.store import hoplog, queries
from mailflow.store.models import Complaint


class StatusDesk:
    def __init__(self, settings: Settings, letters: Letters):
        self.settings = settings
        self.letters = letters
        self.rules = letters.rules
        self.number = number_regex(settings.office.register_pattern)

    # ------------------------------------------------------------------ deciding
    def asks(self, d: Delivery) -> bool:
        """Does the mail ask for a complaint's status (its new text starts with a status word)?"""
        return status_request(self._text(d), self.number) is not None

    @staticmethod
    def _text(d: Delivery) -> str:
        return reply_of(d.mail).strip() or d.mail.text.strip()

    def _why_not(self, d: Delivery, complaint: Complaint, via_token: bool) -> str | None:
        """Why this request gets no status answer (None: it does)."""
        if d.mail.from_addr != complaint.complainant_email:
            return "the sender is not the complaint's recorded complainant"
        if via_token:
            return None
        if d.check.failed:
            return f"the From: domain fails DMARC ({d.check.reason})"
        if self.settings.security.require_authentication and not d.check.passed:
            return f"sender not verified ({d.check.reason}) and not through the complaint's reply address"
        return None

    # ------------------------------------------------------------------ acting
    def answer(self, d: Delivery, complaint: Complaint, via_token: bool) -> Outcome:
        """A status request on ``complaint``: the status mail to its recorded
        complainant, threaded to the request, or (when it may not have one) a
        hop saying why not. Nothing on the complaint changes."""
        d.on(complaint)
        problem = self._why_not(d, complaint, via_token)
        address = complaint.complainant_email
        if problem is None and self.letters.budget_spent(d.session, address, d.now):
            problem = (f"{address} already got {self.settings.limits.auto_replies_per_address_per_day} "
                       "automatic mails in 24 hours")
        if problem is not None:
            hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message, complaint=complaint,
                          actor=d.mail.from_addr, reason=f"status request not answered: {problem}")
            return d.outcome("ignored", f"status request: {problem}", complaint.number)
        self.letters.to_requester(d.session, complaint, d.mail, MailKind.STATUS, d.now,
                                  **self.context(d, complaint, d.now))
        hoplog.record(d.session, HopKind.INFORMED, at=d.now, message=d.message, complaint=complaint,
                      actor=d.mail.from_addr, reason="status request: the status mailed to the complainant")
        return d.outcome("informed", "status", complaint.number)

    def unmatched(self, d: Delivery) -> Outcome:
        """A status request the route found on no complaint the sender may ask
        about: the register number in its first line may name one (then as
        ``answer``, without a token); otherwise the short ``status-unknown``
        mail to the sender, naming no complaint (within the daily limit, and
        not to a From: failing DMARC). Never a new complaint."""
        number = status_request(self._text(d), self.number) or self._in_subject(d)
        complaint = queries.complaint_by_number(d.session, number, self.settings.office.key) if number else None
        if complaint is not None and complaint.complainant_email == d.mail.from_addr:
            return self.answer(d, complaint, via_token=False)
        why = ("no register number" if not number else
               "no complaint of this sender with that register number")
        if d.check.failed or self.letters.budget_spent(d.session, d.mail.from_addr, d.now):
            reason = "From: fails DMARC" if d.check.failed else "the daily limit of automatic mail is reached"
            hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message, actor=d.mail.from_addr,
                          reason=f"status request ({why}): nothing sent, {reason}")
            return d.outcome("ignored", f"status request: {why}")
        year = d.now.astimezone(self.settings.office.tz).year
        example = self.settings.office.register_pattern.format(year=year, seq=123)
        self.letters.answer(d.session, d.mail, MailKind.STATUS_UNKNOWN, d.now, number=number or "",
                            example_number=example)
        hoplog.record(d.session, HopKind.INFORMED, at=d.now, message=d.message, actor=d.mail.from_addr,
                      reason=f"status request ({why}): told how to ask, nothing about any complaint")
        return d.outcome("informed", f"status request: {why}")

    def _in_subject(self, d: Delivery) -> str:
        m = self.number.search(d.mail.subject)
        return m.group(0) if m else ""

    def context(self, d: Delivery, c: Complaint, now: datetime) -> dict:
        """What the status mail shows: where it stands, the SOP's whole standard and the history."""
        state = state_of(c)
        total = self.rules.total_standard
        total_due = None
        if total is not None and c.closed_at is None:
            total_due = self.rules.calendar.due(c.created_at, total.amount, total.unit)
        return dict(self.letters.step_context(c, state, now), sop=self.rules.sop,
                    total_standard=str(total) if total is not None else "", total_due_at=total_due,
                    answers_by_mail=answers_by_mail(self.rules), closed_at=c.closed_at, answered_at=c.answered_at,
                    events=history.for_citizen(d.session, c, self.rules))


def answers_by_mail(rules) -> bool:
    """Whether the SOP ends with an answer mailed to the citizen (Bima's innovation SOP does not)."""
    return any(target == "@answer" for step in rules.steps for target in step.actions.values())
