"""Outbox rows: an outbound mail stored with its Message-ID fixed, and the row
the drain (``edges/outbox.py``) sends it from.

``add`` is the only way a mail enters the outbox; the desk's ``Letters``
composes it first (``edges/compose.py``) and ``mailflow resend`` re-adds the
bytes of a mail already sent. Both write inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.store.models import Complaint, Message, OutboxItem


def add(
    session: Session,
    *,
    office: str,
    raw: bytes,
    message_id: str,
    kind: str,
    subject: str,
    from_addr: str,
    to: Sequence[str],
    now: datetime,
    in_reply_to: str | None = None,
    complaint: Complaint | None = None,
    complaint_id: int | None = None,
    dedupe_key: str | None = None,
    envelope_from: str | None = None,
    state: str = "pending",
) -> Message:
    """Store ``raw`` as an outbound ``messages`` row and queue it (an ``outbox``
    row, due now). Returns the message row. ``complaint`` may be new (not yet
    flushed): the rows point at it through relationships, written at flush;
    ``complaint_id`` names a stored one instead. ``dedupe_key`` (default
    ``mid:<Message-ID>``) and ``envelope_from`` (default ``from_addr``) differ
    only for a resent copy. ``state``: "pending" (due now), or "held" for
    the hourly digest of notices (``desk/digests.py``), which sends none of them
    itself."""
    owner = {"complaint": complaint} if complaint is not None else {"complaint_id": complaint_id}
    message = Message(
        office=office,
        direction="out",
        message_id=message_id,
        dedupe_key=dedupe_key or f"mid:{message_id}",
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        raw=raw,
        subject=subject,
        from_addr=from_addr,
        to_addrs=", ".join(to),
        in_reply_to=in_reply_to,
        classification=kind,
        created_at=now,
        **owner,
    )
    session.add(message)
    session.add(
        OutboxItem(
            # relationships, not ids: the complaint may be new, nothing needs flushing now
            message=message,
            office=office,
            kind=kind,
            envelope_from=envelope_from or from_addr,
            recipients=",".join(to),
            state=state,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            **owner,
        )
    )
    return message
