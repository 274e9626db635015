"""The outbox: the only way mailflow sends mail.

``enqueue`` builds the complete message (headers, body, attachments) and stores
it as a ``messages`` row with its Message-ID fixed at that moment, plus an
``outbox`` row, inside the caller's transaction. ``Outbox.run_once`` drains due
rows through SMTP (aiosmtplib), one connection per drain:

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
import base64
import hashlib
import quopri
import logging
import os
import random
import secrets
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, formataddr

import aiosmtplib
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store import hoplog
from mailflow.core.classify import OWN_MESSAGE_ID_PREFIX
from mailflow.config.settings import Settings, SmtpConfig
from mailflow.store.db import WriteGate
from mailflow.errors import MailServerError, TLSRequiredError
from mailflow.store.models import Complaint, Message, OutboxItem, utcnow

log = logging.getLogger("mailflow.outbox")

OWN_HEADER = "X-Mailflow-Office"


@dataclass(frozen=True)
class Attachment:
    """A file attached to an outgoing mail (sent base64-encoded).

    ``mime_type`` is ``maintype/subtype`` without parameters (e.g. ``text/csv``);
    ``charset`` names the encoding of a text file's bytes (e.g. ``utf-8``) so the
    reader's client decodes it right, and is left out for binary files."""

    filename: str
    mime_type: str
    data: bytes
    charset: str | None = None

    def __post_init__(self) -> None:
        maintype, slash, subtype = self.mime_type.partition("/")
        if not slash or not maintype or not subtype or ";" in self.mime_type or maintype == "multipart":
            raise ValueError(f"mime_type must be maintype/subtype without parameters, got {self.mime_type!r}")


@dataclass(frozen=True)
class Outgoing:
    """A mail to send, before it has a Message-ID."""

    kind: str  # the template name, e.g. "citizen/acknowledgement"
    to: tuple[str, ...]
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    # RFC 3834: "auto-replied" for answers to a mail, "auto-generated" otherwise.
    auto_submitted: str = "auto-replied"
    attach_raw: bytes | None = None  # an original mail, attached as message/rfc822
    attach_name: str = "aduan-asli.eml"
    attachments: tuple[Attachment, ...] = ()  # files attached after the original mail, in order
    extra_headers: tuple[tuple[str, str], ...] = field(default=())


def new_message_id(domain: str) -> str:
    """A fresh Message-ID (without angle brackets) in our own domain."""
    return f"{OWN_MESSAGE_ID_PREFIX}{secrets.token_hex(12)}@{domain}"


def compose(settings: Settings, out: Outgoing, message_id: str, now: datetime, complaint_number: str | None) -> bytes:
    """Build the full RFC 5322 message bytes for ``out`` (CRLF line ends).

    Written out directly rather than through ``email.message.EmailMessage``,
    which took most of the intake's time (two mails per complaint): the headers
    are mailflow's own, so only values that need it are encoded (RFC 2047 for
    non-ASCII, folding for long lines); the text goes as 7bit when it is plain
    ASCII, else quoted-printable UTF-8; files go base64. tests/test_outbox_compose.py
    reads the result back with the stdlib parser."""
    headers = [
        ("From", formataddr((settings.smtp.from_name, settings.smtp.from_address), charset="utf-8")),
        ("To", ", ".join(out.to)),
        ("Subject", out.subject),
        ("Date", format_datetime(now.astimezone(settings.office.tz))),
        ("Message-ID", f"<{message_id}>"),
    ]
    if out.in_reply_to:
        headers.append(("In-Reply-To", f"<{out.in_reply_to}>"))
    refs = list(dict.fromkeys(r for r in out.references if r))
    if out.in_reply_to and out.in_reply_to not in refs:
        refs.append(out.in_reply_to)
    if refs:
        headers.append(("References", " ".join(f"<{r}>" for r in refs[-20:])))
    if out.reply_to:
        headers.append(("Reply-To", out.reply_to))
    headers += [
        ("Auto-Submitted", out.auto_submitted),
        # Ask Exchange not to send out-of-office or other automatic answers back.
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
        (OWN_HEADER, settings.office.domain),
        ("X-Mailflow-Kind", out.kind),
    ]
    if complaint_number:
        headers.append(("X-Mailflow-Complaint", complaint_number))
    headers += list(out.extra_headers)
    headers.append(("MIME-Version", "1.0"))

    text_headers, text_body = _text_part(out.body)
    files = []
    if out.attach_raw is not None:
        files.append(_original_part(out.attach_raw, out.attach_name))
    for item in out.attachments:
        files.append(_file_part(item.data, item.mime_type, item.filename, item.charset))
    head = b"".join(_header(name, value) for name, value in headers)
    if not files:
        return head + b"".join(_header(n, v) for n, v in text_headers) + b"\r\n" + text_body
    boundary = "=_mailflow_" + secrets.token_hex(12)
    out_parts = [head, _header("Content-Type", f'multipart/mixed; boundary="{boundary}"'), b"\r\n"]
    for part_headers, body in [(text_headers, text_body), *files]:
        out_parts += [b"--", boundary.encode(), b"\r\n", *(_header(n, v) for n, v in part_headers), b"\r\n", body,
                      b"" if body.endswith(b"\r\n") else b"\r\n"]
    out_parts += [b"--", boundary.encode(), b"--\r\n"]
    return b"".join(out_parts)


_LINE = 78  # RFC 5322's recommended line length


def _header(name: str, value: str) -> bytes:
    """One header field, folded: RFC 2047 encoded words for a non-ASCII value
    (the encoder folds them), whitespace folding for a long ASCII one. CR and
    LF in a value never start a new field (no header injection)."""
    if "\r" in value or "\n" in value:
        value = " ".join(value.split())
    if not value.isascii():
        encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=_LINE)
        return f"{name}: {encoded}\r\n".encode("ascii")
    line = f"{name}: {value}"
    if len(line) <= _LINE:
        return (line + "\r\n").encode("ascii")
    lines, current = [], f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > _LINE and current.strip() and current != f"{name}:":
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _crlf(data: bytes) -> bytes:
    """``data`` with CRLF line ends; returned as it is when it has them already
    (an original mail from IMAP: no copies of a large attachment)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _text_part(body: str) -> tuple[list[tuple[str, str]], bytes]:
    data = body.encode("utf-8")
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return [("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "7bit")], _crlf(data)
    encoded = quopri.encodestring(data.replace(b"\r\n", b"\n"), quotetabs=False)
    return ([("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable")],
            _crlf(encoded))


def _disposition(filename: str) -> str:
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*={encode_rfc2231(filename, 'utf-8')}"


def _file_part(data: bytes, mime_type: str, filename: str, charset: str | None) -> tuple[list[tuple[str, str]], bytes]:
    ctype = mime_type + (f'; charset="{charset}"' if charset else "")
    return ([("Content-Type", ctype), ("Content-Transfer-Encoding", "base64"),
             ("Content-Disposition", _disposition(filename))], _crlf(base64.encodebytes(data)))


def _original_part(raw: bytes, name: str) -> tuple[list[tuple[str, str]], bytes]:
    """Attach an original mail unchanged. message/rfc822 allows only 7bit/8bit/binary,
    so an original with 8-bit bytes or very long lines goes as an .eml file instead
    (base64), which every client opens the same way."""
    if raw.isascii() and all(len(line) <= 998 for line in raw.splitlines()):
        return [("Content-Type", "message/rfc822"), ("Content-Disposition", _disposition(name))], _crlf(raw)
    return _file_part(raw, "application/octet-stream", name, None)


def enqueue(
    session: Session,
    settings: Settings,
    out: Outgoing,
    *,
    now: datetime,
    complaint: Complaint | None = None,
) -> Message:
    """Store ``out`` as an outbound message and an outbox row. Returns the message row."""
    message_id = new_message_id(settings.office.domain)
    raw = compose(settings, out, message_id, now, complaint.number if complaint else None)
    message = Message(
        direction="out",
        message_id=message_id,
        dedupe_key=f"mid:{message_id}",
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        raw=raw,
        subject=out.subject,
        from_addr=settings.smtp.from_address,
        to_addrs=", ".join(out.to),
        in_reply_to=out.in_reply_to,
        classification=out.kind,
        complaint=complaint,
        created_at=now,
    )
    session.add(message)
    session.add(
        OutboxItem(
            # relationships, not ids: the complaint may be new, nothing needs flushing now
            message=message,
            complaint=complaint,
            kind=out.kind,
            envelope_from=settings.smtp.from_address,
            recipients=",".join(out.to),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return message


def backoff(attempts: int, *, base: float = 30.0, cap: float = 3600.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``attempts`` failures: capped exponential, with full jitter
    on the upper half so many rows failing together do not retry together."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + rng() * ceiling / 2


def tls_context(cfg: SmtpConfig | object) -> ssl.SSLContext:
    """A verifying TLS context (system CAs, or ``ca_file``); verification off only if configured."""
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not cfg.verify_certificate:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_failure(what: str, exc: ssl.SSLError) -> str:
    """A TLS error in words an admin can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        detail = getattr(exc, "verify_message", "") or exc.reason or "not trusted"
        return (f"TLS with {what} failed: the server's certificate could not be verified ({detail}); "
                "set ca_file to the CA that signed it (verify_certificate = false only for testing)")
    return f"TLS with {what} failed: {exc.reason or exc}"


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

    def __bool__(self) -> bool:
        return bool(self.sent or self.deferred or self.failed)


class SmtpSender:
    """One SMTP connection, opened lazily and reused across sends of a drain."""

    def __init__(self, cfg: SmtpConfig):
        self.cfg = cfg
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.cfg
        smtp = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.security == "tls",
            # False, not None: None would mean "STARTTLS if offered", a silent downgrade.
            start_tls=cfg.security == "starttls",
            tls_context=tls_context(cfg) if cfg.security != "none" else None,
            timeout=cfg.timeout,
        )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPException as exc:
            if cfg.security == "starttls" and "STARTTLS" in str(exc):
                raise TLSRequiredError(
                    f"SMTP server {cfg.host}:{cfg.port} does not offer STARTTLS; refusing to send in plaintext "
                    "(set smtp.security = \"none\" only for a trusted local relay)"
                ) from None
            raise
        except ssl.SSLError as exc:
            raise TLSRequiredError(tls_failure(f"SMTP server {cfg.host}:{cfg.port}", exc)) from None
        if cfg.username:
            await smtp.login(cfg.username, cfg.password.reveal() or "")
        return smtp

    async def send(self, sender: str, recipients: Sequence[str], raw: bytes) -> str:
        if self._smtp is None or not self._smtp.is_connected:
            self._smtp = await self._connect()
        errors, _response = await self._smtp.sendmail(sender, list(recipients), raw)
        # Some recipients refused, others accepted: the mail is sent; say who missed it.
        return "; ".join(f"refused {rcpt}: {resp.code} {resp.message}" for rcpt, resp in errors.items())

    async def close(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                self._smtp.close()
        self._smtp = None


def _smtp_reason(exc: Exception) -> tuple[int, str]:
    """(code, the server's words) of an SMTP refusal; for several refused
    recipients, the lowest code decides (a 4xx one is worth retrying)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusals = exc.recipients or []
        if refusals:
            code = min(r.code for r in refusals)
            return code, "; ".join(f"{r.code} {r.message}" for r in refusals)
        return 550, "all recipients refused"
    return exc.code, f"{exc.code} {exc.message}".strip()


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

    def recover_interrupted(self, probe: Callable[[list[str]], set[str]] | None = None) -> RecoveryResult:
        """Resolve rows left in ``sending`` by a process that is gone.

        ``probe(message_ids)`` returns the Message-IDs found in the Sent folder
        (the SMTP server accepted those: they are marked ``sent``); without a
        probe, or for the others, the row is queued again with the same
        Message-ID. A probe that raises (the IMAP server is down) leaves the
        rows as they are for the next pass. Cheap when nothing was interrupted:
        one indexed query.
        """
        result = RecoveryResult()
        now = self.clock()
        with self.write_gate, self.factory.begin() as session:
            stmt = (select(OutboxItem, Message.message_id).join(Message, Message.id == OutboxItem.message_pk)
                    .where(OutboxItem.state == "sending").order_by(OutboxItem.id))
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=OutboxItem)
            rows = [(item, mid) for item, mid in session.execute(stmt)
                    if self._abandoned(item.claimed_by, item.claimed_at, now)]
            if not rows:
                return result
            found = probe([mid for _, mid in rows]) if probe is not None else set()
            for item, mid in rows:
                if mid in found:
                    item.state, item.sent_at, item.claimed_by = "sent", now, None
                    item.last_error = "interrupted mid-send; found in the Sent folder"
                    hoplog.record(session, "sent", at=now, complaint_id=item.complaint_id, message_id=mid,
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
        network errors. ``stop`` set meanwhile: the mail being sent is finished,
        the rest of the claim handed back to ``pending``."""
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
                .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
                .order_by(OutboxItem.id)
                .limit(self.batch_size)
            )
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=OutboxItem)
            picked, total = [], 0
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
        sender = SmtpSender(self.settings.smtp)
        self._recording = self.engine.connect()  # one connection records every outcome of this drain
        try:
            for index, row in enumerate(claimed):
                if stop is not None and stop.is_set():
                    self._release(claimed[index:])
                    break
                try:
                    refused = await sender.send(row.env_from, row.rcpts, row.raw)
                except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
                    code, reason = _smtp_reason(exc)
                    if 400 <= code < 500:
                        self._defer(row, reason, result)
                    else:
                        self._fail(row, reason, result)
                except (aiosmtplib.SMTPException, OSError, MailServerError, asyncio.TimeoutError) as exc:
                    # The server is unreachable or dropped us: this row and the rest
                    # of the batch wait for the next drain.
                    reason = f"{type(exc).__name__}: {exc}"
                    log.warning("SMTP unavailable (%s); %d mail(s) wait for the next pass", reason, len(claimed) - index)
                    for rest in claimed[index:]:
                        self._defer(rest, reason, result)
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

    def _finish(self, row: _Claimed, values: dict, hop: str | None = None, reason: str = "") -> None:
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
                hoplog.record_now(conn, hop, at=now, complaint_id=row.complaint_id, message_id=row.message_id,
                                  reason=reason)

    def _release(self, rows: list[_Claimed]) -> None:
        """Hand claimed rows back unsent (the daemon is stopping): not an attempt."""
        with self.write_gate, self._recording.begin():
            self._recording.execute(update(OutboxItem).where(OutboxItem.id.in_([r.row_id for r in rows]))
                                    .values(state="pending", claimed_by=None, attempts=OutboxItem.attempts - 1))

    def _mark_sent(self, row: _Claimed, refused: str, result: DrainResult) -> None:
        self._finish(row, dict(state="sent", sent_at=self.clock(), last_error=refused or None), "sent",
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
        self._finish(row, dict(state="failed", last_error=reason[:2000]), "failed", reason)
        log.error("outbox row %s failed: %s", row.row_id, reason)
        result.failed += 1
