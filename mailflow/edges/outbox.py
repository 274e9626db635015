"""The outbox drain: the only code that sends mail.

Mail enters the outbox as a ``messages`` row with its Message-ID fixed plus an
``outbox`` row (``store/outbox.py``, written by the desk's ``Letters`` inside
the transaction that caused the mail). ``Outbox.run_once`` drains due rows
through SMTP (``edges/smtp.py``), one connection per drain:

- the row is marked ``sending`` (committed) before the SMTP transaction and
  ``sent`` (committed, with a ``sent`` hop) after it;
- a 4xx answer or a network error puts the row back to ``pending`` with capped
  exponential backoff and jitter, until ``limits.outbox_max_attempts``; then
  ``failed``;
- a 5xx answer fails the row at once with the server's reason.

Each claimed row records which daemon process claimed it (``claimed_by`` =
``host:pid:token``) and when. A row found in ``sending`` whose claimer is gone
(a crash: SIGKILL, power loss) was interrupted mid-send: ``recover_interrupted``
looks for its Message-ID in the Sent folder, where the SMTP server files what
it accepted (Gmail, Exchange; ``imap.sent_folder``), and marks it ``sent`` if
it is there; otherwise it is queued again with the same Message-ID. See
docs/RELIABILITY.md for the exact guarantee.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.settings import Settings
from mailflow.core.retry import backoff
from mailflow.core.vocabulary import HopKind
from mailflow.edges.oauth import token_source
from mailflow.edges.smtp import SmtpSender, smtp_reason
from mailflow.errors import CredentialError, MailServerError
from mailflow.store import hoplog
from mailflow.store.db import WriteGate
from mailflow.store.models import Message, OutboxItem, utcnow

log = logging.getLogger("mailflow.outbox")

@dataclass
class RecoveryResult:
    requeued: int = 0  # interrupted rows queued again (same Message-ID)
    confirmed: int = 0  # interrupted rows found in the Sent folder: marked sent

    def __bool__(self) -> bool:
        return bool(self.requeued or self.confirmed)


# A row claimed by a live process on another host (or one we cannot check) is
# taken over only after this long: far longer than any one SMTP transaction.
CLAIM_LEASE = timedelta(minutes=15)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@dataclass(frozen=True)
class _Claimed:
    """An outbox row this process is sending."""

    row_id: int
    env_from: str
    rcpts: list[str]
    attempts: int  # including this one
    complaint_id: int | None
    message_id: str | None
    raw: bytes = field(repr=False)


_MARK_SENT = (update(OutboxItem).where(OutboxItem.id == bindparam("b_id"))
              .values(state="sent", sent_at=bindparam("b_at"), last_error=bindparam("b_err"), claimed_by=None))


@dataclass
class DrainResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    # The server could not be reached or dropped the connection (the rows wait):
    # what went wrong, for the caller to record (``LoginAlerts.unreachable``).
    unreachable: BaseException | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.sent or self.deferred or self.failed)



class Outbox:
    """Drains the outbox through SMTP. ``run_once`` is one drain pass."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 200,
        claim_bytes: int = 16 * 1024 * 1024,
        write_gate=None,
    ):
        self.settings = settings
        self.office = settings.office.key  # it drains this office's rows, through this office's SMTP account
        self.factory = factory
        self.clock = clock
        self.engine = factory.kw["bind"]
        self.write_gate = write_gate if write_gate is not None else WriteGate(self.engine)
        self.batch_size = batch_size
        self.claim_bytes = claim_bytes
        self._loop = asyncio.new_event_loop()
        self.host = socket.gethostname()
        # Who claims rows: this process, told apart from an earlier one with the
        # same pid (a restarted container's daemon is pid 1 every time).
        self.claimer = f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        # An OAuth2 mailbox's access tokens (None: the password logs in); the intake's Mailbox shares it.
        self.tokens = token_source(settings, factory, self.write_gate)

    def close(self) -> None:
        self._loop.close()

    def _abandoned(self, claimed_by: str | None, claimed_at: datetime | None, now: datetime) -> bool:
        """Was a row in ``sending`` left by a process that is gone? Call only
        between drains: this process never holds a row in ``sending`` then, so
        one claimed by itself was cut short (e.g. the database failed after the
        SMTP server accepted the mail)."""
        if not claimed_by or claimed_by == self.claimer:
            return True
        host, _, rest = claimed_by.partition(":")
        pid_text = rest.partition(":")[0]
        if host == self.host and pid_text.isdigit():
            pid = int(pid_text)
            if pid == os.getpid() or not _pid_alive(pid):
                return True
        return claimed_at is None or claimed_at < now - CLAIM_LEASE

    def recover_interrupted(self, probe: Callable[[list[str]], set[str]] | None = None, *,
                            every_claim: bool = False) -> RecoveryResult:
        """Resolve rows left in ``sending`` by a process that is gone.

        ``probe(message_ids)`` returns the Message-IDs found in the Sent folder
        (the SMTP server accepted those: they are marked ``sent``); without a
        probe, or for the others, the row is queued again with the same
        Message-ID. A probe that raises (the IMAP server is down) leaves the
        rows as they are for the next pass. Cheap when nothing was interrupted:
        one indexed query.

        ``every_claim``: the caller is this office's only sender (a worker's
        drain job holds the office's outbox lock), so every row in ``sending``
        was left by a process that is gone, wherever it ran.
        """
        result = RecoveryResult()
        now = self.clock()
        with self.write_gate, self.factory.begin() as session:
            stmt = (select(OutboxItem, Message.message_id).join(Message, Message.id == OutboxItem.message_pk)
                    .where(OutboxItem.state == "sending", OutboxItem.office == self.office).order_by(OutboxItem.id))
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=OutboxItem)
            rows = [(item, mid) for item, mid in session.execute(stmt)
                    if every_claim or self._abandoned(item.claimed_by, item.claimed_at, now)]
            if not rows:
                return result
            found = probe([mid for _, mid in rows if mid]) if probe is not None else set()
            for item, mid in rows:
                if mid in found:
                    item.state, item.sent_at, item.claimed_by = "sent", now, None
                    item.last_error = "interrupted mid-send; found in the Sent folder"
                    hoplog.record(session, HopKind.SENT, at=now, complaint_id=item.complaint_id, message_id=mid,
                                  office=self.office,
                                  reason=f"to {item.recipients.replace(',', ', ')} (the send was interrupted; "
                                         "the SMTP server's copy in the Sent folder shows it was accepted)")
                    result.confirmed += 1
                else:
                    item.state, item.next_attempt_at, item.claimed_by = "pending", now, None
                    item.last_error = ("interrupted mid-send" + (" and not in the Sent folder" if probe else "")
                                       + "; sent again with the same Message-ID")
                    result.requeued += 1
        log.warning("%d outbound mail(s) were interrupted mid-send: %d confirmed sent from the Sent folder, "
                    "%d queued again with the same Message-ID", len(rows), result.confirmed, result.requeued)
        return result

    def run_once(self, *, stop: threading.Event | None = None) -> DrainResult:
        """Send the due pending rows (one claim) once. Never raises for SMTP or
        network errors, but for ``CredentialError``: the server refused our
        login, the claim is handed back untouched (no attempt counted). A
        server that cannot be reached defers the claim and is named in the
        result's ``unreachable``.
        ``stop`` set meanwhile: the mail being sent is finished, the rest of
        the claim handed back to ``pending``."""
        return self._loop.run_until_complete(self._drain(stop))

    def _claim(self) -> list[_Claimed]:
        """Mark due rows ``sending`` for this process, oldest first: at most
        ``batch_size`` rows and about ``claim_bytes`` of mail (a large mail
        comes alone), so memory stays bounded whatever is queued."""
        now = self.clock()
        with self.write_gate, self.factory.begin() as session:
            conn = session.connection()
            stmt = (
                select(OutboxItem.id, OutboxItem.envelope_from, OutboxItem.recipients, OutboxItem.attempts,
                       OutboxItem.complaint_id, Message.message_id, Message.size)
                .join(Message, Message.id == OutboxItem.message_pk)
                .where(OutboxItem.state == "pending", OutboxItem.office == self.office, OutboxItem.next_attempt_at <= now)
                .order_by(OutboxItem.id)
                .limit(self.batch_size)
            )
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=OutboxItem)
            picked: list[Any] = []
            total = 0
            for row in conn.execute(stmt):
                if picked and total + row.size > self.claim_bytes:
                    break
                total += row.size
                picked.append(row)
            if not picked:
                return []
            raws = dict(conn.execute(select(OutboxItem.id, Message.raw).join(Message, Message.id == OutboxItem.message_pk)
                                     .where(OutboxItem.id.in_([r.id for r in picked]))).all())
            claimed = [_Claimed(r.id, r.envelope_from, r.recipients.split(","), r.attempts + 1, r.complaint_id,
                                r.message_id, raws[r.id]) for r in picked]
            if claimed:
                conn.execute(update(OutboxItem).where(OutboxItem.id.in_([c.row_id for c in claimed]))
                             .values(state="sending", claimed_by=self.claimer, claimed_at=now,
                                     attempts=OutboxItem.attempts + 1))
            return claimed

    async def _drain(self, stop: threading.Event | None = None) -> DrainResult:
        """Send the claimed rows on one connection, recording each outcome in a
        short transaction of its own as soon as the server has answered."""
        result = DrainResult()
        claimed = self._claim()
        if not claimed:
            return result
        sender = SmtpSender(self.settings.smtp, self.tokens, self.settings.imap.username or "")
        self._recording = self.engine.connect()  # one connection records every outcome of this drain
        try:
            for index, row in enumerate(claimed):
                if stop is not None and stop.is_set():
                    self._release(claimed[index:])
                    break
                try:
                    refused = await sender.send(row.env_from, row.rcpts, row.raw)
                except CredentialError:
                    # Our login was refused: no mail's fault and no attempt of any.
                    # Every claimed row goes back as it was; the caller alerts and backs off.
                    self._release(claimed[index:])
                    raise
                except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
                    code, reason = smtp_reason(exc)
                    if 400 <= code < 500:
                        self._defer(row, reason, result)
                    else:
                        self._fail(row, reason, result)
                except (TimeoutError, aiosmtplib.SMTPException, OSError, MailServerError) as exc:
                    # The server is unreachable or dropped us: this row and the rest
                    # of the batch wait for the next drain.
                    reason = f"{type(exc).__name__}: {exc}"
                    log.warning("SMTP unavailable (%s); %d mail(s) wait for the next pass", reason, len(claimed) - index)
                    for rest in claimed[index:]:
                        self._defer(rest, reason, result)
                    result.unreachable = exc
                    await sender.close()
                    break
                except UnicodeError as exc:
                    # e.g. a non-ASCII address: undeliverable without SMTPUTF8; fail this row only.
                    self._fail(row, f"cannot send to {', '.join(row.rcpts)}: {exc}", result)
                    await sender.close()
                else:
                    self._mark_sent(row, refused, result)
        finally:
            try:
                await sender.close()
            finally:
                self._recording.close()
        return result

    def _finish(self, row: _Claimed, values: dict, hop: HopKind | None = None, reason: str = "") -> None:
        """One short transaction, Core only (it runs once per mail sent): the
        row's new state, and its hop."""
        now = self.clock()
        conn = self._recording
        with self.write_gate, conn.begin():
            if values.get("state") == "sent":  # the common case, with a statement built once
                conn.execute(_MARK_SENT, {"b_id": row.row_id, "b_at": values["sent_at"], "b_err": values["last_error"]})
            else:
                conn.execute(update(OutboxItem).where(OutboxItem.id == row.row_id).values(claimed_by=None, **values))
            if hop:
                hoplog.record_now(conn, hop, at=now, office=self.office, complaint_id=row.complaint_id,
                                  message_id=row.message_id, reason=reason)

    def _release(self, rows: list[_Claimed]) -> None:
        """Hand claimed rows back unsent (the daemon is stopping): not an attempt."""
        with self.write_gate, self._recording.begin():
            self._recording.execute(update(OutboxItem).where(OutboxItem.id.in_([r.row_id for r in rows]))
                                    .values(state="pending", claimed_by=None, attempts=OutboxItem.attempts - 1))

    def _mark_sent(self, row: _Claimed, refused: str, result: DrainResult) -> None:
        self._finish(row, dict(state="sent", sent_at=self.clock(), last_error=refused or None), HopKind.SENT,
                     f"to {', '.join(row.rcpts)}" + (f" ({refused})" if refused else ""))
        result.sent += 1

    def _defer(self, row: _Claimed, reason: str, result: DrainResult) -> None:
        if row.attempts >= self.settings.limits.outbox_max_attempts:
            self._fail(row, f"gave up after {row.attempts} attempts: {reason}", result)
            return
        wait = backoff(row.attempts, base=self.settings.limits.outbox_retry_seconds)
        self._finish(row, dict(state="pending", last_error=reason[:2000],
                               next_attempt_at=self.clock() + timedelta(seconds=wait)))
        result.deferred += 1

    def _fail(self, row: _Claimed, reason: str, result: DrainResult) -> None:
        self._finish(row, dict(state="failed", last_error=reason[:2000]), HopKind.FAILED, reason)
        log.error("outbox row %s failed: %s", row.row_id, reason)
        result.failed += 1
