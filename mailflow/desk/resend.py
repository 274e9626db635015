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

import hashlib
from datetime import datetime
from email.utils import format_datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.store import hoplog
from mailflow.config.settings import Settings
from mailflow.errors import NotFound
from mailflow.store.models import Complaint, Message, OutboxItem, utcnow
from mailflow.edges.outbox import new_message_id


def resend(session: Session, settings: Settings, target: str, *, actor: str = "admin (mailflow resend)",
           now: datetime | None = None) -> list[str]:
    """Resend by register number or Message-ID, at ``now`` (default: the real
    clock; the time of the hop, the Resent-Date and the retry). Returns lines
    describing what was done."""
    now = now or utcnow()
    mid = target.strip().strip("<>")
    message = session.scalar(select(Message).where(Message.direction == "out", Message.message_id == mid).limit(1))
    if message is not None:
        item = session.scalar(select(OutboxItem).where(OutboxItem.message_pk == message.id))
        if item is None:
            raise NotFound(f"<{mid}> is not an outbound mail of mailflow's")
        return [_resend_item(session, settings, item, message, actor, now)]

    complaint = session.scalar(select(Complaint).where(func.upper(Complaint.number) == target.upper()))
    if complaint is None:
        raise NotFound(f"{target!r} is neither a register number nor the Message-ID of an outbound mail")
    items = session.execute(
        select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.complaint_id == complaint.id).order_by(OutboxItem.id)
    ).all()
    failed = [(i, m) for i, m in items if i.state == "failed"]
    if failed:
        return [_resend_item(session, settings, i, m, actor, now) for i, m in failed]
    to_citizen = [(i, m) for i, m in items if i.kind.startswith("citizen/")]
    if not to_citizen:
        raise NotFound(f"{complaint.number} has no outbound mail to resend")
    item, message = to_citizen[-1]
    return [_resend_item(session, settings, item, message, actor, now)]


def _resend_item(session: Session, settings: Settings, item: OutboxItem, message: Message, actor: str,
                 now: datetime) -> str:
    if item.state in ("failed", "pending"):
        item.state, item.attempts, item.next_attempt_at, item.last_error = "pending", 0, now, None
        hoplog.record(session, "resent", at=now, actor=actor, complaint_id=item.complaint_id,
                      message_id=message.message_id, reason=f"{item.kind} to {item.recipients} queued again")
        return f"queued again: <{message.message_id}> ({item.kind} to {item.recipients})"
    if item.state == "sending":
        return f"<{message.message_id}> is being sent right now; nothing to do"
    resent_id = new_message_id(settings.office.domain)
    head = (
        f"Resent-Date: {format_datetime(now.astimezone(settings.office.tz))}\r\n"
        f"Resent-From: {settings.smtp.from_address}\r\n"
        f"Resent-Message-ID: <{resent_id}>\r\n"
    ).encode()
    raw = head + message.raw
    copy = Message(
        direction="out", message_id=message.message_id, dedupe_key=f"resent:{resent_id}",
        sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), raw=raw, subject=message.subject,
        from_addr=message.from_addr, to_addrs=message.to_addrs, in_reply_to=message.in_reply_to,
        classification=message.classification, complaint_id=message.complaint_id, created_at=now,
    )
    session.add(copy)
    session.flush()
    session.add(OutboxItem(
        message_pk=copy.id, complaint_id=item.complaint_id, kind=item.kind, envelope_from=item.envelope_from,
        recipients=item.recipients, state="pending", attempts=0, next_attempt_at=now, created_at=now,
    ))
    hoplog.record(session, "resent", at=now, actor=actor, complaint_id=item.complaint_id, message_id=message.message_id,
                  reason=f"{item.kind} to {item.recipients} sent again as <{resent_id}>")
    return f"resent copy queued: <{message.message_id}> as Resent-Message-ID <{resent_id}> to {item.recipients}"
