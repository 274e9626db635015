"""Intake: what happens to one inbound mail, inside one database transaction.

``Intake.process`` de-duplicates, archives the raw bytes, reads and classifies
the mail, then routes it: the first row of ``Intake.route`` whose test holds
handles it (a handler may pass, returning None). Every row writes its hops and
any outgoing mail (as outbox rows) in the caller's transaction. The caller
commits, and only then moves the mail out of the IMAP folder. If ``process``
raises, the caller rolls back and calls ``Intake.quarantine`` in a fresh
transaction, which keeps the raw bytes, logs the reason and alerts the admin.

Before the route (each can end the handling of the mail):
1. duplicate?  same Message-ID (or raw-bytes hash) already stored -> ignored
2. too large?  over ``limits.max_message_bytes`` -> raise (quarantine)
3. read        MessageParseError -> raise (quarantine)
4. archive     messages row + "received" hop

The route (``Intake.route``, in order):
- bounce                         -> recorded on its complaint, whoever can act told (desk/bounces.py)
- a staff out-of-office on a complaint -> logged, deputies told (desk/replies.py)
- any other automatic mail       -> "ignored" hop, no reply
- a sender that cannot be read unambiguously (two From:, an address in the
  display name, ...) -> "ignored" hop, the admin told; no answer, no command
- no From: at all                -> "ignored" hop
- a mail on an existing complaint -> a ladder event (desk/replies.py); may pass
  (a complainant's "#status" on it is answered by desk/status.py)
- a status request ("#status", "cek status") on no complaint -> desk/status.py:
  the number in its first line, or a short answer naming no complaint
- anything else: a new complaint -> registered, or rejected with an explanation (desk/registration.py)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from types import SimpleNamespace

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mailflow.config.settings import Settings
from mailflow.core.authres import sender_check
from mailflow.core.classify import Kind, classify
from mailflow.core.mail import InboundMail, ParseLimits, decode_rfc2047, header_bytes_message_id, parse_message
from mailflow.core.vocabulary import HopKind, MailKind
from mailflow.desk.bounces import Bounces
from mailflow.desk.delivery import Delivery, Match, Matcher, Outcome, Source
from mailflow.desk.letters import Letters, number_regex, number_slug
from mailflow.desk.registration import Registration
from mailflow.desk.replies import Replies
from mailflow.desk.status import StatusDesk
from mailflow.edges.compose import OWN_HEADER
from mailflow.errors import MailflowError, MessageTooLarge
from mailflow.store import hoplog, queries
from mailflow.store.models import Message, utcnow


def dedupe_key(raw: bytes) -> tuple[str, str | None, str]:
    """(dedupe key, Message-ID or None, sha256 hex) for raw mail bytes."""
    digest = hashlib.sha256(raw).hexdigest()
    message_id = header_bytes_message_id(raw)
    return (f"mid:{message_id}" if message_id else f"sha256:{digest}"), message_id, digest


@dataclass(frozen=True)
class Route:
    """One row of the route: a mail for which ``applies`` holds is handled by ``handle``."""

    name: str
    applies: Callable[[Delivery], bool]
    handle: Callable[[Delivery], Outcome | None]


class Intake:
    def __init__(self, settings: Settings, letters: Letters, *, clock: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.letters = letters
        self.rules = letters.rules
        self.clock = clock
        lim = settings.limits
        self.parse_limits = ParseLimits(lim.max_mime_parts, lim.max_mime_depth, lim.max_header_bytes)
        self.office = settings.office.key
        self.matcher = Matcher(self.office, settings.office.complaint_address,
                               number_regex(settings.office.register_pattern))
        self.registration = Registration(settings, letters)
        self.status = StatusDesk(settings, letters)
        self.replies = Replies(settings, letters, self.registration, self.status)
        self.bounces = Bounces(settings, letters)
        self.route: tuple[Route, ...] = (
            Route("bounce", lambda d: d.verdict.kind == Kind.BOUNCE, self.bounces.handle),
            Route("staff out-of-office on a complaint",
                  lambda d: d.verdict.kind == Kind.AUTO_REPLY and self.replies.is_staff_auto_reply(d),
                  self.replies.auto_reply),
            Route("automatic mail", lambda d: d.verdict.is_automatic, self._ignore_automatic),
            Route("sender unclear", lambda d: bool(d.mail.sender_problem and d.mail.headers.get("from")),
                  self._sender_unclear),
            Route("no sender", lambda d: not d.mail.from_addr, self._ignore_no_sender),
            Route("mail on a complaint", lambda d: d.match.complaint is not None, self.replies.follow_up),
            # A status request on no complaint its sender may ask about is never a new complaint.
            Route("status request", self.status.asks, self.status.unmatched),
            Route("new complaint", lambda _: True, self.registration.new_complaint),
        )

    # ------------------------------------------------------------------ entry
    def process(self, session: Session, raw: bytes, source: Source | None = None) -> Outcome:
        source = source or Source()
        now = self.clock()
        session.info[hoplog.OFFICE] = self.office
        key, message_id, digest = dedupe_key(raw)

        existing = queries.message_by_dedupe_key(session, self.office, key)
        admin = source.retried_by
        if existing is not None and existing.direction == "in" and (admin or existing.classification == "quarantined"):
            # To be handled again: hold the row (PostgreSQL: FOR UPDATE) and read
            # it afresh, so that two retries at once (an admin's and the
            # daemon's) cannot both register it: the second sees the first's result.
            existing = queries.message_by_dedupe_key(session, self.office, key, lock=True)
        refused = retry_refused(existing) if admin else None
        if admin and existing is None:
            raise MailflowError(f"no archived mail with the dedupe key {key!r} to retry")
        retry = existing is not None and existing.direction == "in" and (
            refused is None if admin else existing.classification == "quarantined")
        if existing is not None and not retry:
            own = existing.direction == "out"
            reason = ("our own outbound mail came back" if own else refused
                      or f"duplicate of message #{existing.id} (already handled)")
            hoplog.record(session, HopKind.IGNORED, at=now, complaint_id=existing.complaint_id, message_id=message_id,
                          reason=reason + source.where())
            return Outcome("duplicate", reason, message_pk=existing.id)

        limit = self.settings.limits.max_message_bytes
        size = max(len(raw), source.size or 0)
        if size > limit:
            raise MessageTooLarge(
                f"message too large: {size} bytes (limits.max_message_bytes = {limit})"
                + ("; only its header was fetched and is archived here, the whole mail is in the quarantine folder"
                   if size > len(raw) else "")
            )

        # Read it first: all of this is one transaction, so the mail is archived
        # with what was read from it in one INSERT. A MessageParseError propagates:
        # the caller rolls back and quarantines (archiving the raw bytes there).
        mail = parse_message(raw, self.parse_limits)
        verdict = classify(mail, own_domains=(self.settings.office.domain,), own_header=OWN_HEADER)
        read = dict(subject=mail.subject[:2000], from_addr=mail.from_addr[:320],
                    to_addrs=", ".join(mail.to_addrs + mail.cc_addrs)[:4000], in_reply_to=mail.in_reply_to,
                    classification=verdict.kind.value)
        if existing is not None:
            # An admin moved a quarantined mail back to INBOX, or retried its
            # archived copy (``mailflow mail retry``): handle it again.
            message = existing
            for name, value in read.items():
                setattr(message, name, value)
            if admin is None:  # a retry of the archived copy leaves the IMAP mail (and where it was) alone
                message.mailbox, message.uidvalidity, message.uid = source.mailbox, source.uidvalidity, source.uid
            else:
                hoplog.record(session, HopKind.RETRIED, at=now, message=message, actor=admin,
                              reason=RETRIED_REASON)
        else:
            message = Message(office=self.office, direction="in", message_id=message_id, dedupe_key=key,
                              sha256=digest, size=len(raw), raw=raw, mailbox=source.mailbox,
                              uidvalidity=source.uidvalidity, uid=source.uid, created_at=now, **read)
            session.add(message)
        hoplog.record(session, HopKind.RECEIVED, at=now, message=message,
                      reason=("" if not retry or admin else "retry of a quarantined mail; ") + f"{len(raw)} bytes"
                      + source.where())
        check = sender_check(mail.headers.get("authentication-results", ()), self.settings.security.authserv_ids,
                             mail.from_addr)
        delivery = Delivery(session, mail, verdict, message, now, source, check, self._match)
        outcome = self._route(delivery)
        # One flush for all the mail caused (rows inserted in batches, in the
        # order their references need); then the outcome can name the archived row.
        session.flush()
        complaint = message.complaint
        if complaint is not None and complaint.__dict__.get("source_message") is message:
            # The complaint and its mail point at each other: a reference cycle
            # that would keep the mail's bytes (megabytes, with an attachment)
            # alive until the next garbage collection. Written now; let it go.
            set_committed_value(complaint, "source_message", None)
        return outcome if outcome.message_pk is not None else replace(outcome, message_pk=message.id)

    def _route(self, d: Delivery) -> Outcome:
        for route in self.route:
            if route.applies(d):
                outcome = route.handle(d)
                if outcome is not None:
                    return outcome
        raise AssertionError("the last route handles every mail")  # pragma: no cover

    def _match(self, session: Session, mail: InboundMail) -> Match:
        return self.matcher.find(session, mail, number_slug)

    def _ignore_automatic(self, d: Delivery) -> Outcome:
        hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message, actor=d.mail.from_addr or hoplog.SYSTEM,
                      reason=f"{d.verdict.kind.value}: {d.verdict.reason}; no reply sent")
        return d.outcome("ignored", d.verdict.reason)

    def _sender_unclear(self, d: Delivery) -> Outcome:
        """Whoever this is, they get no automatic answer and give no command:
        logged, and the admin told (within the hourly limit on notices)."""
        problem = d.mail.sender_problem
        hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message,
                      reason=f"sender unclear ({problem}): no automatic answer, no command; the admin told")
        self.letters.to_admin(d.session, MailKind.SENDER_UNCLEAR, d.now, problem=problem,
                              mail=SimpleNamespace(from_header=" / ".join(d.mail.headers.get("from", ())),
                                                   subject=d.mail.subject, message_id=d.mail.message_id))
        return d.outcome("ignored", f"sender unclear: {problem}")

    def _ignore_no_sender(self, d: Delivery) -> Outcome:
        hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message,
                      reason="no usable From: address; cannot reply")
        return d.outcome("ignored", "no From address")

    # ------------------------------------------------------------------ quarantine
    def quarantine(self, session: Session, raw: bytes, source: Source, reason: str) -> Outcome:
        """Keep a mail that made handling raise: archive it (if not yet), log, alert the admin."""
        now = self.clock()
        session.info[hoplog.OFFICE] = self.office
        key, message_id, digest = dedupe_key(raw)
        message = queries.message_by_dedupe_key(session, self.office, key)
        if message is None:
            message = Message(office=self.office, direction="in", message_id=message_id, dedupe_key=key, sha256=digest,
                              size=max(len(raw), source.size or 0), raw=raw, mailbox=source.mailbox,
                              uidvalidity=source.uidvalidity, uid=source.uid, created_at=now)
            session.add(message)
            session.flush()
        message.classification = "quarantined"
        head = safe_headers(raw)
        if not message.from_addr and not message.subject:  # never read: what a listing can show of it
            message.from_addr = parseaddr(head.get("from", ""))[1].lower()[:320]
            message.subject = decode_rfc2047(head.get("subject", ""))[:2000]
        if source.retried_by is not None:
            # The admin who retried it sees this on their terminal: no alert,
            # and the IMAP mail was not touched.
            hoplog.record(session, HopKind.RETRIED, at=now, message=message, actor=source.retried_by,
                          reason=RETRIED_REASON)
            hoplog.record(session, HopKind.QUARANTINED, at=now, message=message,
                          reason=f"{reason}; the archived copy was retried, the IMAP mail left where it was")
            return Outcome("quarantined", reason, message_pk=message.id)
        hoplog.record(session, HopKind.QUARANTINED, at=now, message=message,
                      reason=f"{reason}; moved to {self.settings.imap.quarantine_folder}")
        self.letters.to_admin(
            session, MailKind.QUARANTINE_ALERT, now, reason=reason,
            mail=SimpleNamespace(from_addr=head.get("from", ""), subject=head.get("subject", ""),
                                 message_id=message_id, size=message.size, id=message.id,
                                 header_only=message.size > len(raw)),
            mailbox=source.mailbox or "", uid=source.uid or 0, quarantine_folder=self.settings.imap.quarantine_folder,
        )
        return Outcome("quarantined", reason, message_pk=message.id)


RETRIED_REASON = "handled again from its archived copy (mailflow mail retry); the IMAP mail was not moved"


def retry_refused(message: Message | None) -> str | None:
    """Why the archived inbound ``message`` cannot be handled again from its
    archived copy (``mailflow mail retry``), or None if it can. A mail on a
    complaint (registered from it, or filed on one) is never handled again:
    that is what makes a retry idempotent -- the retry that registers it
    files it on its complaint, and every later one is refused here."""
    if message is None:
        return "no such archived mail"
    if message.direction != "in":
        return f"message #{message.id} is outbound mail (see `mailflow resend`)"
    if message.complaint_id is not None:
        return f"message #{message.id} is already on a complaint (registered or filed on it): nothing to retry"
    if message.size > len(message.raw):
        return (f"only the header of message #{message.id} was archived ({len(message.raw)} of {message.size} "
                "bytes: it was over limits.max_message_bytes); the whole mail is in the IMAP quarantine "
                "folder: raise the limit and move it back to INBOX")
    return None


def safe_headers(raw: bytes) -> dict[str, str]:
    """From and Subject of a mail that failed to parse, decoded leniently."""
    out: dict[str, str] = {}
    try:
        head = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
        for name in ("from", "subject"):
            value = head.get(name)
            if value is not None:
                out[name] = str(value)[:300]
    except Exception:  # the alert must go out even for garbage
        pass
    return out
