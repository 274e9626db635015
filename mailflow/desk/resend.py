"""Put outbound mail back in the outbox (``mailflow resend``).

- a failed (or still pending) row is retried as it is: same bytes, same
  Message-ID, attempts reset;
- a sent mail is sent again as a *resent* copy (RFC 5322 section 3.6.6):
  the original bytes with ``Resent-Date``, ``Resent-From`` and a new
  ``Resent-Message-ID`` on top, so threading is unchanged and the copy is
  still distinguishable in the archive.
Every resend is a ``resent`` hop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import partial

from sqlalchemy.orm import Session

from mailflow.config.settings import Settings
from mailflow.core.vocabulary import HopKind
from mailflow.edges.compose import new_message_id
from mailflow.errors import NotFound
from mailflow.store import hoplog, outbox, queries
from mailflow.store.models import Message, OutboxItem, utcnow


def office_of(session: Session, target: str, office: str | None = None) -> str:
    """The office whose outbound mail ``target`` (a Message-ID or a register
    number) is, so that it is resent with that office's settings. Raises
    ``NotFound``, or ``AmbiguousNumber`` for a number two offices share."""
    message = queries.outbound_by_message_id(session, target.strip().strip("<>"), office)
    if message is not None:
        return message.office
    complaint = queries.complaint_by_number(session, target, office)
    if complaint is None:
        raise NotFound(f"{target!r} is neither a register number nor the Message-ID of an outbound mail"
                       + (f" of office {office!r}" if office is not None else ""))
    return complaint.office


@dataclass(frozen=True)
class Resent:
    """What was done with one outbound mail: ``action`` is ``queued_again`` (a
    failed or pending row, as it was), ``resent_copy`` (a sent one, again as
    ``resent_message_id``) or ``sending`` (being sent right now: nothing done).
    The CLI says it (mailflow/cli/messages.py, "resend.<action>")."""

    action: str
    office: str
    message_id: str
    kind: str
    recipients: tuple[str, ...]
    resent_message_id: str | None = None


def resend(session: Session, settings: Settings, target: str, *, actor: str = "admin (mailflow resend)",
           clock: Callable[[], datetime] = utcnow, office: str | None = None) -> list[Resent]:
    """Resend by register number or Message-ID. Returns what was done, per mail."""
    now = clock()
    mid = target.strip().strip("<>")
    message = queries.outbound_by_message_id(session, mid, office)
    if message is not None:
        item = queries.outbox_item_of(session, message)
        if item is None:
            raise NotFound(f"<{mid}> is not an outbound mail of mailflow's")
        return [_resend_item(session, settings, item, message, actor, now)]

    complaint = queries.complaint_by_number(session, target, office)
    if complaint is None:
        raise NotFound(f"{target!r} is neither a register number nor the Message-ID of an outbound mail")
    items = queries.outbox_of_complaint(session, complaint)
    failed = [(i, m) for i, m in items if i.state == "failed"]
    if failed:
        return [_resend_item(session, settings, i, m, actor, now) for i, m in failed]
    to_citizen = [(i, m) for i, m in items if i.kind.startswith("citizen/")]
    if not to_citizen:
        raise NotFound(f"{complaint.number} has no outbound mail to resend")
    item, message = to_citizen[-1]
    return [_resend_item(session, settings, item, message, actor, now)]


def resend_failed(session: Session, settings: Settings, *, actor: str = "admin (mailflow resend --failed)",
                  clock: Callable[[], datetime] = utcnow, office: str | None = None) -> list[Resent]:
    """Every failed outbound mail queued again as it was (same bytes and
    Message-ID, attempts reset). Returns what was done, per mail."""
    now = clock()
    failed = queries.failed_outbox(session, office)
    if not failed:
        raise NotFound("no outbound mail has failed: nothing to resend")
    return [_resend_item(session, settings, item, message, actor, now) for item, message in failed]


def _resend_item(session: Session, settings: Settings, item: OutboxItem, message: Message, actor: str,
                 now: datetime) -> Resent:
    assert message.message_id is not None  # every mail of ours has one
    done = partial(Resent, office=item.office, message_id=message.message_id, kind=item.kind,
                   recipients=tuple(item.recipients.split(",")))
    if item.state in ("failed", "pending"):
        item.state, item.attempts, item.next_attempt_at, item.last_error = "pending", 0, now, None
        hoplog.record(session, HopKind.RESENT, at=now, actor=actor, complaint_id=item.complaint_id, office=item.office,
                      message_id=message.message_id, reason=f"{item.kind} to {item.recipients} queued again")
        return done("queued_again")
    if item.state == "sending":
        return done("sending")
    resent_id = new_message_id(settings.office.domain)
    head = (
        f"Resent-Date: {format_datetime(now.astimezone(settings.office.tz))}\r\n"
        f"Resent-From: {settings.smtp.from_address}\r\n"
        f"Resent-Message-ID: <{resent_id}>\r\n"
    ).encode()
    outbox.add(session, office=item.office, raw=head + message.raw, message_id=message.message_id, dedupe_key=f"resent:{resent_id}",
               kind=item.kind, subject=message.subject, from_addr=message.from_addr, envelope_from=item.envelope_from,
               to=item.recipients.split(","), in_reply_to=message.in_reply_to, complaint_id=item.complaint_id, now=now)
    hoplog.record(session, HopKind.RESENT, at=now, actor=actor, complaint_id=item.complaint_id, office=item.office,
                  message_id=message.message_id,
                  reason=f"{item.kind} to {item.recipients} sent again as <{resent_id}>")
    return done("resent_copy", resent_message_id=resent_id)
