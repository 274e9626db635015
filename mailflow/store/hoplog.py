"""The hop log: one append-only row per hop, mirrored as one structured log line.

Hop kinds (``KINDS``) are the words ``mailflow show`` prints; reasons are short
and never carry a full NIK/KK (they are masked before storing).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from mailflow.core.identity import mask_ids_in_text
from mailflow.store.models import Complaint, Hop, Message

log = logging.getLogger("mailflow.hop")

KINDS = (
    "received",      # an inbound mail was archived
    "parsed",        # its complaint fields were read
    "rejected",      # the complaint format was wrong; the citizen was told why
    "registered",    # a complaint got its register number
    "acknowledged",  # the acknowledgement was queued for the citizen
    "forwarded",     # the complaint was queued for a role mailbox
    "attached",      # a later mail was added to an open complaint
    "sent",          # an outbound mail left through SMTP
    "failed",        # an outbound mail could not be sent
    "ignored",       # a mail was logged and not acted on (automatic, duplicate, ...)
    "quarantined",   # handling a mail raised; it went to the quarantine folder
    "resent",        # an admin put an outbound mail back in the outbox
    "comment",       # a staff comment (catatan)
    "returned",      # sent back down the ladder (#kembalikan), or a draft rejected (#tolak)
    "drafted",       # an answer was drafted and waits for its approver
    "approved",      # a draft was approved and goes to the role that sends it
    "answered",      # the answer was queued for the citizen
    "info-requested",  # the citizen was asked for more information (#info)
    "reopened",      # the citizen replied after the answer, within the reopen window
    "closed",        # the complaint was closed and archived
    "refused",       # a staff mail moved nothing (not allowed, not authorised); the sender or holder was told
    "reminded",      # the holder was reminded that a step's time standard (mutu baku) is nearly used up
    "overdue",       # a step's time standard passed; the rules' [deadlines] on_breach action was taken
    "bounced",       # a mail we sent came back undelivered (a delivery-status report); the holder was told
)
SYSTEM = "mailflow"


_PENDING = "mailflow.pending_hops"  # key in Session.info
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
) -> None:
    """Append one hop to the caller's transaction, and log it.

    The row is written when the transaction commits (``write_pending``, run
    by the session factory's ``before_commit``), all of the transaction's hops
    in one INSERT: a complaint's intake writes five, and through the ORM each
    was a statement of its own. The complaint and the mail may still be
    unflushed here; their ids are read at commit. Nothing reads hops back
    inside the transaction that writes them; a rollback drops them with the
    rest."""
    values = _values(kind, at, actor, from_state, to_state,
                     message_id or (message.message_id if message is not None else None), reason)
    session.info.setdefault(_PENDING, []).append((complaint, complaint_id, message, values))
    _log(values, complaint.number if complaint is not None else complaint_id)


def record_now(connection: Connection, kind: str, *, at: datetime, actor: str = SYSTEM,
               complaint_id: int | None = None, message_id: str | None = None, reason: str = "") -> None:
    """Append one hop at once on ``connection`` (Core, inside the caller's
    transaction), and log it: for a writer without an ORM session (the
    outbox recording what the SMTP server answered)."""
    values = _values(kind, at, actor, None, None, message_id, reason)
    connection.execute(_INSERT, [dict(values, complaint_id=complaint_id, message_pk=None)])
    _log(values, complaint_id)


def _values(kind, at, actor, from_state, to_state, message_id, reason) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown hop kind {kind!r}")
    return dict(at=at, kind=kind, actor=actor, from_state=from_state, to_state=to_state, message_id=message_id,
                reason=mask_ids_in_text(reason)[:2000])


def _log(values: dict, complaint) -> None:
    """The hop as one structured log line, beside its row."""
    log.info("hop %s", values["kind"], extra={"hop": {
        "kind": values["kind"], "complaint": complaint, "actor": values["actor"], "from": values["from_state"],
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


class JsonFormatter(logging.Formatter):
    """One JSON object per line; hop records carry their fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_ids_in_text(record.getMessage()),
        }
        hop = getattr(record, "hop", None)
        if hop:
            out["hop"] = hop
        if record.exc_info:
            out["error"] = mask_ids_in_text(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal; hop fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{datetime.fromtimestamp(record.created):%H:%M:%S} {record.levelname:<7} {mask_ids_in_text(record.getMessage())}"
        hop = getattr(record, "hop", None)
        if hop:
            line += " " + " ".join(f"{k}={v}" for k, v in hop.items() if v not in (None, "") and k != "kind")
        if record.exc_info:
            line += "\n" + mask_ids_in_text(self.formatException(record.exc_info))
        return line
