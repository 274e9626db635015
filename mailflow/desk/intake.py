"""Intake: what happens to one inbound mail, inside one database transaction.

``Intake.process`` archives the raw bytes, parses, classifies, acts, writes the
hop log and any outgoing mail (as outbox rows). The caller commits, and only
then moves the mail out of the IMAP folder. If ``process`` raises, the caller
rolls back and calls ``Intake.quarantine`` in a fresh transaction, which keeps
the raw bytes, logs the reason and alerts the admin.

The steps, in order (each one can end the handling of the mail):
1. duplicate?      same Message-ID (or raw-bytes hash) already stored -> ignored
2. archive         messages row + "received" hop
3. parse           mail-parser; MessageParseError -> raise (quarantine)
4. classify        bounce / auto-reply / list / our own mail -> "ignored" hop, no reply
5. follow-up?      a reply on an existing complaint -> attached / comment
6. complaint       parse the format: valid -> register, acknowledge, forward;
                   invalid -> "rejected" hop and an explanatory reply
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mailflow.store import hoplog, numbering
from mailflow.core.classify import Kind, classify
from mailflow.core.commands import MEANINGS
from mailflow.core.ladder import allowed_words, initial_state
from mailflow.core.complaint_format import parse_complaint
from mailflow.config.settings import Settings
from mailflow.errors import MessageTooLarge
from mailflow.core.identity import mask_id, mask_ids_in_text
from mailflow.core.message import InboundMail, ParseLimits, header_bytes_message_id, parse_message
from mailflow.store.models import Complaint, Message, OutboxItem, utcnow
from mailflow.edges.outbox import OWN_HEADER, Outgoing, enqueue
from mailflow.core.render import Renderer
from mailflow.core.sop import Rules
from mailflow.store.visits import open_visit

STATUS_REGISTERED = "registered"
# The window of the per-address limit on automatic answers (answers_budget_spent).
_DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Source:
    """Where a mail came from (for the archive and the hop log)."""

    mailbox: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    size: int | None = None  # the full size on the server, when only the header was fetched


@dataclass(frozen=True)
class Outcome:
    action: str  # registered | rejected | ignored | duplicate | attached | quarantined
    reason: str = ""
    complaint_number: str | None = None
    message_pk: int | None = None


def dedupe_key(raw: bytes) -> tuple[str, str | None, str]:
    """(dedupe key, Message-ID or None, sha256 hex) for raw mail bytes."""
    digest = hashlib.sha256(raw).hexdigest()
    message_id = header_bytes_message_id(raw)
    return (f"mid:{message_id}" if message_id else f"sha256:{digest}"), message_id, digest


def _token() -> str:
    """80 random bits, lower-case base32: safe in an address local part."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def number_regex(pattern: str) -> re.Pattern[str]:
    """A regex finding register numbers made by ``pattern`` (e.g. ADU/{year}/{seq:06d})."""
    parts = []
    for literal, field, _spec, _conv in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field == "year":
            parts.append(r"\d{4}")
        elif field == "seq":
            parts.append(r"\d+")
    return re.compile("".join(parts), re.I)


def number_slug(number: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", number).strip("-").lower()


class Intake:
    def __init__(self, settings: Settings, rules: Rules, renderer: Renderer, *, clock: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.rules = rules
        self.renderer = renderer
        self.clock = clock
        office = settings.office
        self.office_ctx = SimpleNamespace(
            name=office.name, complaint_address=office.complaint_address, timezone=office.timezone, website=office.website
        )
        self._number_in_subject = number_regex(office.register_pattern)
        lim = settings.limits
        self.parse_limits = ParseLimits(lim.max_mime_parts, lim.max_mime_depth, lim.max_header_bytes)
        from mailflow.desk.replies import Workflow  # the ladder's IO edge uses this class's helpers

        self.workflow = Workflow(self)

    # ------------------------------------------------------------------ entry
    def process(self, session: Session, raw: bytes, source: Source = Source()) -> Outcome:
        now = self.clock()
        key, message_id, digest = dedupe_key(raw)

        existing = session.scalar(select(Message).where(Message.dedupe_key == key))
        retry = existing is not None and existing.direction == "in" and existing.classification == "quarantined"
        if existing is not None and not retry:
            own = existing.direction == "out"
            reason = "our own outbound mail came back" if own else f"duplicate of message #{existing.id} (already handled)"
            hoplog.record(session, "ignored", at=now, complaint_id=existing.complaint_id, message_id=message_id,
                          reason=reason + _where(source))
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
        if retry:
            # An admin moved a quarantined mail back to INBOX: handle it again.
            message = existing
            for name, value in read.items():
                setattr(message, name, value)
            message.mailbox, message.uidvalidity, message.uid = source.mailbox, source.uidvalidity, source.uid
        else:
            message = Message(direction="in", message_id=message_id, dedupe_key=key, sha256=digest, size=len(raw),
                              raw=raw, mailbox=source.mailbox, uidvalidity=source.uidvalidity, uid=source.uid,
                              created_at=now, **read)
            session.add(message)
        hoplog.record(session, "received", at=now, message=message,
                      reason=("retry of a quarantined mail; " if retry else "") + f"{len(raw)} bytes" + _where(source))
        outcome = self._act(session, mail, verdict, message, now)
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

    def _act(self, session: Session, mail: InboundMail, verdict, message: Message, now: datetime) -> Outcome:
        """What the mail is and what to do about it (the steps 4-6 of the module doc)."""
        if verdict.is_automatic:
            if verdict.kind == Kind.BOUNCE:
                return self._bounce(session, mail, message, verdict, now)
            if verdict.kind == Kind.AUTO_REPLY:
                # A staff member's out-of-office on a complaint: logged, deputies told,
                # never an action and never forwarded to the citizen.
                complaint, _ = self._find_complaint(session, mail)
                role = self.rules.member_role(mail.from_addr) if complaint is not None else None
                if complaint is not None and role is not None:
                    message.complaint_id = complaint.id
                    return self.workflow.auto_reply(session, mail, message, complaint, role, now)
            hoplog.record(session, "ignored", at=now, message=message, actor=mail.from_addr or hoplog.SYSTEM,
                          reason=f"{verdict.kind.value}: {verdict.reason}; no reply sent")
            return Outcome("ignored", verdict.reason, message_pk=message.id)

        if not mail.from_addr:
            hoplog.record(session, "ignored", at=now, message=message, reason="no usable From: address; cannot reply")
            return Outcome("ignored", "no From address", message_pk=message.id)

        complaint, via_token = self._find_complaint(session, mail)
        if complaint is not None:
            outcome = self.workflow.follow_up(session, mail, message, complaint, via_token, now)
            if outcome is not None:
                return outcome

        return self._new_complaint(session, mail, message, now)

    # ------------------------------------------------------------------ bounces
    def _bounce(self, session: Session, mail: InboundMail, message: Message, verdict, now: datetime) -> Outcome:
        """A delivery-status report: never answered. If it is about a mail we
        sent on a complaint, it is recorded on that complaint (a ``bounced``
        hop) and, for a final failure, whoever can act is told: the holder when
        the citizen's address failed, the admin alert address when a staff
        address did. A bounce of such a notice is only logged (no loops)."""
        ours = None
        if verdict.bounced_message_id:
            ours = session.scalar(select(Message).where(Message.direction == "out",
                                                        Message.message_id == verdict.bounced_message_id).limit(1))
        failed = ", ".join(verdict.failed_recipients) or "address not stated"
        what = ("delay warning (not final)" if verdict.delayed else f"delivery failed for {failed}")
        if ours is None or ours.complaint_id is None:
            hoplog.record(session, "ignored", at=now, message=message, actor=mail.from_addr or hoplog.SYSTEM,
                          reason=f"bounce: {verdict.reason}; {what}"
                                 + (f"; of our <{ours.message_id}>, which is on no complaint" if ours is not None
                                    else f"; no mail of ours matches <{verdict.bounced_message_id or '?'}>")
                                 + "; no reply sent")
            return Outcome("ignored", verdict.reason, message_pk=message.id)
        complaint = session.get(Complaint, ours.complaint_id)
        message.complaint_id = complaint.id
        hoplog.record(session, "bounced", at=now, message=message, complaint=complaint,
                      actor=mail.from_addr or hoplog.SYSTEM,
                      reason=f"our {ours.classification or 'mail'} <{ours.message_id}> to {ours.to_addrs}: {what}")
        if verdict.delayed or (ours.classification or "") == "staff/bounce-notice":
            return Outcome("bounced", what, complaint.number, message.id)
        to_citizen = (ours.classification or "").startswith("citizen/")
        if to_citizen:
            role = self.rules.roles.get(complaint.holder_role or "")
            recipients = role.members if role is not None else (self.settings.office.alert_address,)
            role_name = role.name if role is not None else "Administrator"
        else:
            recipients, role_name = (self.settings.office.alert_address,), "Administrator"
        if self.settings.office.alert_address in verdict.failed_recipients:
            recipients = tuple(r for r in recipients if r != self.settings.office.alert_address)
        if recipients:
            rendered = self.renderer.render(
                "staff/bounce-notice", office=self.office_ctx, now=now, complaint=self._complaint_ctx(complaint),
                role=SimpleNamespace(name=role_name), failed=list(verdict.failed_recipients),
                bounced_kind=ours.classification or "", bounced_subject=ours.subject or "",
                bounced_at=ours.created_at, to_citizen=to_citizen, diagnostic=_diagnostic(mail),
                reply_address=self.reply_address(complaint))
            enqueue(session, self.settings, Outgoing(
                kind="staff/bounce-notice", to=tuple(recipients), subject=rendered.subject, body=rendered.body,
                reply_to=self.reply_address(complaint), auto_submitted="auto-generated",
            ), now=now, complaint=complaint)
        return Outcome("bounced", what, complaint.number, message.id)

    # ------------------------------------------------------------------ matching
    def _find_complaint(self, session: Session, mail: InboundMail) -> tuple[Complaint | None, bool]:
        """The complaint a mail answers, and whether it came through the complaint's
        own reply address (with its secret token): that address first, then
        In-Reply-To/References, then a register number in the subject."""
        local = self.settings.office.complaint_address.partition("@")[0]
        for addr in mail.to_addrs + mail.cc_addrs:
            m = re.match(rf"^{re.escape(local)}\+([a-z0-9-]+)\.([a-z2-7]+)@", addr, re.I)
            if m:
                found = session.scalar(select(Complaint).where(Complaint.reply_token == m.group(2).lower()))
                if found is not None and number_slug(found.number) == m.group(1).lower():
                    return found, True
        refs = [r for r in (mail.in_reply_to, *mail.references) if r]
        if refs:
            found = session.scalar(
                select(Complaint)
                .join(Message, Message.complaint_id == Complaint.id)
                .where(Message.message_id.in_(refs))
                .order_by(Complaint.id.desc())
                .limit(1)
            )
            if found is not None:
                return found, False
        m = self._number_in_subject.search(mail.subject)
        if m:
            return session.scalar(select(Complaint).where(func.upper(Complaint.number) == m.group(0).upper())), False
        return None, False

    # ------------------------------------------------------------------ new
    def _new_complaint(self, session: Session, mail: InboundMail, message: Message, now: datetime) -> Outcome:
        fmt = self.rules.format
        local_today = now.astimezone(self.settings.office.tz).date()
        parsed = parse_complaint(mail.text, fmt, today=local_today)
        if not parsed.ok:
            problems = "; ".join(f"{e.label}: {e.problem}" for e in parsed.errors)
            hoplog.record(session, "rejected", at=now, message=message, actor=mail.from_addr,
                          reason=f"complaint format: {problems}")
            if self._auto_reply_budget_spent(session, mail.from_addr, now):
                hoplog.record(session, "ignored", at=now, message=message,
                              reason=f"no reply: {mail.from_addr} already got "
                                     f"{self.settings.limits.auto_replies_per_sender_per_day} automatic replies in 24 hours")
                return Outcome("rejected", problems, message_pk=message.id)
            found = [
                SimpleNamespace(label=fmt.field(k).label, value=_shown_value(fmt.field(k).kind, v))
                for k, v in parsed.fields.items()
            ]
            rendered = self.renderer.render(
                "citizen/format-rejected",
                office=self.office_ctx,
                now=now,
                errors=list(parsed.errors),
                found=found,
                blank_form=fmt.blank_form(),
                example_form=fmt.example_form(),
                original_subject=mail.subject,
            )
            enqueue(session, self.settings, self._reply(mail, "citizen/format-rejected", rendered), now=now)
            return Outcome("rejected", problems, message_pk=message.id)

        f = parsed.fields
        category = parsed.category
        return self.register(
            session, mail, message, now,
            category_key=category.key if category else "lainnya",
            category_name=category.name if category else f.get("jenis_layanan", "Lainnya"),
            section=category.section if category else "lainnya",
            name=f["nama"], nik=f["nik"], kk=f.get("no_kk") or None, phone=f["no_hp"], address=f["alamat"],
            description=f["uraian"],
            reason=f"all required fields present; category {category.name if category else 'Lainnya'}",
        )

    def register(self, session: Session, mail: InboundMail, message: Message, now: datetime, *, category_key: str,
                 category_name: str, section: str, name: str, nik: str, kk: str | None, phone: str, address: str,
                 description: str, reason: str, parent: Complaint | None = None) -> Outcome:
        """Give a complaint its number, acknowledge it and forward it to the first rung."""
        seq, number = numbering.register_number(session, self.settings.office.register_pattern,
                                                now.astimezone(self.settings.office.tz).year)
        step = self.rules.first_staff_step
        holder = self.rules.role_for(step, section)
        complaint = Complaint(
            number=number,
            year=now.astimezone(self.settings.office.tz).year,
            seq=seq,
            status=STATUS_REGISTERED,
            channel="email",
            category=category_key,
            category_name=category_name,
            section=section,
            complainant_name=name,
            complainant_email=mail.from_addr,
            nik=nik,
            kk=kk,
            phone=phone,
            address=address,
            description=description,
            parent_id=parent.id if parent is not None else None,
            step=step.key,
            holder_role=holder.key if holder else None,
            step_started_at=now,
            reply_token=_token(),
            source_message=message,
            created_at=now,
            updated_at=now,
        )
        session.add(complaint)
        message.complaint = complaint
        visit = open_visit(session, complaint, self.rules, now)
        complaint.due_at = visit.due_at if visit is not None else None
        hoplog.record(session, "parsed", at=now, message=message, complaint=complaint, actor=mail.from_addr,
                      reason=reason)
        hoplog.record(session, "registered", at=now, message=message, complaint=complaint, actor=hoplog.SYSTEM,
                      from_state=None, to_state=STATUS_REGISTERED,
                      reason=f"register number {number}" + (f", follows {parent.number}" if parent else ""))

        ctx = self._complaint_ctx(complaint)
        total = self.rules.total_standard
        rendered = self.renderer.render(
            "citizen/acknowledgement",
            office=self.office_ctx,
            now=now,
            complaint=ctx,
            first_step=SimpleNamespace(name=step.name, role_name=holder.name if holder else "",
                                       standard_minutes=step.standard.minutes),
            total_standard_minutes=total.minutes if total else 0,
            original_subject=mail.subject,
        )
        ack = enqueue(session, self.settings, self._reply(mail, "citizen/acknowledgement", rendered),
                      now=now, complaint=complaint)
        hoplog.record(session, "acknowledged", at=now, complaint=complaint, message=ack,
                      reason=f"acknowledgement queued for {mail.from_addr}")

        if holder is not None:
            rendered = self.renderer.render(
                "staff/forward",
                office=self.office_ctx,
                now=now,
                complaint=ctx,
                role=SimpleNamespace(name=holder.name),
                step=SimpleNamespace(name=step.name, standard_minutes=step.standard.minutes),
                due_at=complaint.due_at,
                reply_address=self.reply_address(complaint),
                commands=command_help(initial_state(self.rules, section), self.rules),
            )
            fwd = enqueue(session, self.settings, Outgoing(
                kind="staff/forward", to=holder.members, subject=rendered.subject, body=rendered.body,
                reply_to=self.reply_address(complaint), auto_submitted="auto-generated", attach_raw=message.raw,
            ), now=now, complaint=complaint)
            hoplog.record(session, "forwarded", at=now, complaint=complaint, message=fwd, actor=hoplog.SYSTEM,
                          from_state=STATUS_REGISTERED, to_state=step.key,
                          reason=f"to {holder.name} ({', '.join(holder.members)}) for step '{step.name}'")
        return Outcome("registered", "", number, message.id)

    # ------------------------------------------------------------------ quarantine
    def quarantine(self, session: Session, raw: bytes, source: Source, reason: str) -> Outcome:
        """Keep a mail that made handling raise: archive it (if not yet), log, alert the admin."""
        now = self.clock()
        key, message_id, digest = dedupe_key(raw)
        message = session.scalar(select(Message).where(Message.dedupe_key == key))
        if message is None:
            message = Message(direction="in", message_id=message_id, dedupe_key=key, sha256=digest,
                              size=max(len(raw), source.size or 0), raw=raw, mailbox=source.mailbox,
                              uidvalidity=source.uidvalidity, uid=source.uid, created_at=now)
            session.add(message)
            session.flush()
        message.classification = "quarantined"
        hoplog.record(session, "quarantined", at=now, message=message,
                      reason=f"{reason}; moved to {self.settings.imap.quarantine_folder}")
        head = _safe_headers(raw)
        rendered = self.renderer.render(
            "admin/quarantine-alert",
            office=self.office_ctx,
            now=now,
            reason=reason,
            mail=SimpleNamespace(from_addr=head.get("from", ""), subject=head.get("subject", ""),
                                 message_id=message_id, size=len(raw)),
            mailbox=source.mailbox or "",
            uid=source.uid or 0,
            quarantine_folder=self.settings.imap.quarantine_folder,
        )
        enqueue(session, self.settings, Outgoing(
            kind="admin/quarantine-alert", to=(self.settings.office.alert_address,), subject=rendered.subject,
            body=rendered.body, auto_submitted="auto-generated",
        ), now=now)
        return Outcome("quarantined", reason, message_pk=message.id)

    # ------------------------------------------------------------------ helpers
    def reply_address(self, complaint: Complaint) -> str:
        local, _, domain = self.settings.office.complaint_address.partition("@")
        return self.settings.office.reply_address_pattern.format(
            local=local, number=number_slug(complaint.number), token=complaint.reply_token, domain=domain
        )

    def _reply(self, mail: InboundMail, kind: str, rendered) -> Outgoing:
        """An answer to the citizen's mail, threaded to it."""
        return Outgoing(
            kind=kind,
            to=(mail.reply_to or mail.from_addr,),
            subject=rendered.subject,
            body=rendered.body,
            in_reply_to=mail.message_id,
            references=mail.references,
            auto_submitted="auto-replied",
        )

    def _complaint_ctx(self, c: Complaint) -> SimpleNamespace:
        return SimpleNamespace(
            number=c.number, name=c.complainant_name, email=c.complainant_email, nik=c.nik, kk=c.kk or "",
            phone=c.phone, address=c.address, category_name=c.category_name,
            section=self.rules.section_names.get(c.section, c.section), description=c.description,
            created_at=c.created_at,
        )

    def _auto_reply_budget_spent(self, session: Session, address: str, now: datetime) -> bool:
        return answers_budget_spent(session, self.settings, address, now)


# The mails mailflow writes in answer to a mail it received (not those a staff
# action causes): what an auto-responder that hides what it is would loop on.
ANSWER_KINDS = ("citizen/format-rejected", "staff/refused")


def answers_budget_spent(session: Session, settings: Settings, address: str, now: datetime) -> bool:
    """Has ``address`` had ``limits.auto_replies_per_sender_per_day`` answers in
    the last 24 hours? Then the next mail from it is handled and logged but not
    answered: that is where a loop with an auto-responder stops."""
    limit = settings.limits.auto_replies_per_sender_per_day
    count = session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .where(OutboxItem.recipients == address.lower(), OutboxItem.kind.in_(ANSWER_KINDS),
               OutboxItem.created_at >= now - _DAY)
    )
    return (count or 0) >= limit


def command_help(state, rules: Rules) -> list[SimpleNamespace]:
    """The commands the holder may reply with now, with their meaning (for staff mail)."""
    out = [SimpleNamespace(word=f"#{w}", meaning=MEANINGS[w]) for w in allowed_words(state, rules)]
    confirm = rules.step(state.step).confirm if state.step and state.status != "closed" else ""
    if confirm:
        out.append(SimpleNamespace(word=f'"{confirm}"', meaning="wajib ditulis di balasan untuk melanjutkan "
                                   "dari tahap ini (konfirmasi)"))
    return out


def _diagnostic(mail: InboundMail) -> str:
    """The reporting server's own words from a delivery-status report
    (Diagnostic-Code, else Status), for the bounce notice."""
    for part in mail.report_parts:
        for line in part.text.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "diagnostic-code" and value.strip():
                return value.strip()[:300]
    for part in mail.report_parts:
        for line in part.text.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "status" and value.strip():
                return "Status " + value.strip()[:50]
    return ""


def _shown_value(kind: str, value: str) -> str:
    return mask_id(value) if kind in ("nik", "kk") else mask_ids_in_text(value)


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _where(source: Source) -> str:
    if source.uid is None:
        return ""
    return f" (IMAP {source.mailbox} UID {source.uid}, UIDVALIDITY {source.uidvalidity})"


def _safe_headers(raw: bytes) -> dict[str, str]:
    """From and Subject of a mail that failed to parse, decoded leniently."""
    from email.parser import BytesHeaderParser
    from email.policy import compat32

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
