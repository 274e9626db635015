"""The hop log: one append-only row per hop, mirrored as one structured log line.

Hop kinds are ``core.vocabulary.HopKind`` (with the words ``mailflow show``
prints); reasons are short and never carry a full NIK/KK (they are masked
before storing).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from mailflow.core.identity import mask_ids_in_text
from mailflow.core.vocabulary import HopKind
from mailflow.store.models import DEFAULT_OFFICE, Complaint, Hop, Message

log = logging.getLogger("mailflow.hop")

SYSTEM = "mailflow"


_KINDS = frozenset(HopKind)
_PENDING = "mailflow.pending_hops"  # key in Session.info
OFFICE = "mailflow.office"  # key in Session.info: the office a transaction works for
_INSERT = insert(Hop)  # built once: a statement is immutable, and building one costs more than running it


def record(
    session: Session,
    kind: str,
    *,
    at: datetime,
    actor: str = SYSTEM,
    complaint: Complaint | None = None,
    complaint_id: int | None = None,
    message: Message | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    message_id: str | None = None,
    reason: str = "",
    office: str | None = None,
) -> None:
    """Append one hop to the caller's transaction, and log it. Its office is
    ``office``, else its complaint's, else its mail's, else the office the
    session works for (``session.info["office"]``, set by whoever began it).

    The row is written when the transaction commits (``write_pending``, run
    by the session factory's ``before_commit``), all of the transaction's hops
    in one INSERT: a complaint's intake writes five, and through the ORM each
    was a statement of its own. The complaint and the mail may still be
    unflushed here; their ids are read at commit. Nothing reads hops back
    inside the transaction that writes them; a rollback drops them with the
    rest."""
    values = _values(kind, at, actor, from_state, to_state,
                     message_id or (message.message_id if message is not None else None), reason)
    office = (office or (complaint.office if complaint is not None else None)
              or (message.office if message is not None else None) or session.info.get(OFFICE) or DEFAULT_OFFICE)
    values["office"] = office
    session.info.setdefault(_PENDING, []).append((complaint, complaint_id, message, values))
    _log(values, complaint.number if complaint is not None else complaint_id)


def record_now(connection: Connection, kind: str, *, at: datetime, office: str, actor: str = SYSTEM,
               complaint_id: int | None = None, message_id: str | None = None, reason: str = "") -> None:
    """Append one hop at once on ``connection`` (Core, inside the caller's
    transaction), and log it: for a writer without an ORM session (the
    outbox recording what the SMTP server answered)."""
    values = _values(kind, at, actor, None, None, message_id, reason)
    values["office"] = office
    connection.execute(_INSERT, [dict(values, complaint_id=complaint_id, message_pk=None)])
    _log(values, complaint_id)


def _values(kind, at, actor, from_state, to_state, message_id, reason) -> dict:
    if kind not in _KINDS:
        raise ValueError(f"unknown hop kind {kind!r}")
    return dict(at=at, kind=kind, actor=actor, from_state=from_state, to_state=to_state, message_id=message_id,
                reason=mask_ids_in_text(reason)[:2000])


def _log(values: dict, complaint) -> None:
    """The hop as one structured log line, beside its row."""
    log.info("hop %s", values["kind"], extra={"hop": {
        "kind": values["kind"], "office": values.get("office"), "complaint": complaint, "actor": values["actor"], "from": values["from_state"],
        "to": values["to_state"], "message_id": values["message_id"], "reason": values["reason"]}})


def write_pending(session: Session) -> None:
    """Insert the hops recorded in this transaction (``before_commit``)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # the complaints and mails they point to get their ids
    rows = [dict(values, complaint_id=complaint.id if complaint is not None else complaint_id,
                 message_pk=message.id if message is not None else None)
            for complaint, complaint_id, message, values in pending]
    session.connection().execute(_INSERT, rows)


def discard_pending(session: Session, *_args) -> None:
    """A rolled-back transaction takes its hops with it (``after_rollback``)."""
    session.info.pop(_PENDING, None)
