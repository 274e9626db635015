"""Letters: the one place a mail is rendered and put in the outbox.

Every mail mailflow writes -- to a citizen, a staff role, the admin -- goes
through ``Letters.write``: the template named by its ``MailKind`` is rendered
with the office and the moment (and the complaint, where there is one), the
result is composed into MIME with a fixed Message-ID (``edges/compose.py``) and
stored as an outbox row (``store/outbox.py``) inside the caller's transaction.
The helpers below it only say who a mail goes to and how it is threaded:

- ``answer``: to the sender of an inbound mail, threaded to it (RFC 3834 auto-replied);
- ``to_citizen``: to a complaint's recorded complainant, threaded to their complaint;
- ``to_staff`` / ``to_role``: to staff, with the complaint's own reply address;
- ``to_admin``: to the office's alert address.

It also builds the template context every mail shares (``complaint``, the
reply address, the command help) and keeps the per-address limit on
automatic answers (``budget_spent``).
"""

from __future__ import annotations

import base64
import re
import secrets
import string
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from mailflow.config.settings import Settings
from mailflow.core import guide, ladder
from mailflow.core.identity import mask_id
from mailflow.core.mail import InboundMail
from mailflow.core.render import Renderer
from mailflow.core.sop import Role, Rules
from mailflow.core.text import shorten
from mailflow.core.vocabulary import AUTOMATIC_KINDS, NOTICE_KINDS, MailKind, Status
from mailflow.edges.compose import Attachment, Outgoing, compose, new_message_id
from mailflow.store import outbox, queries
from mailflow.store.models import Complaint, Message

# The windows of the per-address limits on automatic mail and on notices.
_DAY = timedelta(hours=24)
_HOUR = timedelta(hours=1)


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
    """A register number as it appears in a reply address: ``adu-2026-000123``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", number).strip("-").lower()


def new_reply_token() -> str:
    """80 random bits, lower-case base32: safe in an address local part."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def named(role: Role | None, fallback: str = "-") -> SimpleNamespace:
    """A role as templates see it (``role.name``)."""
    return SimpleNamespace(name=role.name if role is not None else fallback)


class Letters:
    """Renders and enqueues every mail of one office (see the module doc)."""

    def __init__(self, settings: Settings, rules: Rules, renderer: Renderer):
        self.settings = settings
        self.rules = rules
        self.renderer = renderer
        office = settings.office
        self.office = SimpleNamespace(name=office.name, complaint_address=office.complaint_address,
                                      timezone=office.timezone, website=office.website)

    # ------------------------------------------------------------------ context
    def complaint(self, c: Complaint) -> SimpleNamespace:
        """A complaint as templates see it. NIK and No. KK are masked here
        already when the rules' ``[privacy] staff_nik = "masked"`` (staff mail
        shows them in full otherwise; citizen mail masks them in its template)."""
        nik, kk = c.nik, c.kk or ""
        if self.rules.privacy.staff_nik == "masked":
            nik, kk = mask_id(nik), (mask_id(kk) if kk else "")
        return SimpleNamespace(
            number=c.number, name=c.complainant_name, email=c.complainant_email, nik=nik, kk=kk,
            phone=c.phone, address=c.address, category_name=c.category_name,
            section=self.rules.section_names.get(c.section, c.section), description=c.description,
            created_at=c.created_at,
        )

    def reply_address(self, c: Complaint) -> str:
        """The complaint's own reply address, with its secret token."""
        local, _, domain = self.settings.office.complaint_address.partition("@")
        return self.settings.office.reply_address_pattern.format(
            local=local, number=number_slug(c.number), token=c.reply_token, domain=domain
        )

    def command_help(self, state: ladder.State) -> list[SimpleNamespace]:
        """The commands the holder may reply with now, with what each does at
        this step in the SOP's terms (``core/guide``), for staff mail."""
        out = [SimpleNamespace(word=g.word, meaning=g.meaning) for g in guide.command_guide(state, self.rules)]
        confirm = self.rules.step(state.step).confirm if state.step and state.status != Status.CLOSED else ""
        if confirm:
            out.append(SimpleNamespace(word=f'"{confirm}"', meaning="wajib ditulis di balasan untuk melanjutkan "
                                       "dari tahap ini (konfirmasi)"))
        return out

    def step_context(self, c: Complaint, state: ladder.State, now: datetime | None = None) -> dict[str, Any]:
        """Where a complaint stands, as the help, history and status mails show it:
        ``status`` (word, label), ``step`` (name, output, standard; None once
        closed), ``holder`` (the role's name), ``due_at`` and, given ``now``,
        ``remaining_minutes`` (working time; negative when late)."""
        step = None
        if state.step and state.status != Status.CLOSED:
            try:
                s = self.rules.step(state.step)
                step = SimpleNamespace(name=s.name, output=s.output, standard=str(s.standard),
                                       standard_minutes=s.standard.minutes)
            except KeyError:  # the rules file changed since: say what is known
                step = SimpleNamespace(name=state.step, output="", standard="", standard_minutes=0)
        holder = self.rules.roles.get(state.holder or "") if state.status != Status.CLOSED else None
        due = c.due_at if step is not None and state.status != Status.WAITING_CITIZEN else None
        remaining = None
        if due is not None and now is not None:
            cal = self.rules.calendar
            remaining = (cal.working_minutes_between(now, due) if now <= due
                         else -cal.working_minutes_between(due, now))
        return dict(status=SimpleNamespace(word=str(state.status), label=Status(state.status).label),
                    step=step, holder=named(holder), due_at=due, remaining_minutes=remaining)

    def examples(self, state: ladder.State) -> list[str]:
        """Example replies the holder could send now, each one the ladder accepts (``core/guide``)."""
        return list(guide.example_replies(state, self.rules))

    def budget_spent(self, session: Session, address: str, now: datetime) -> bool:
        """Has ``address`` had ``limits.auto_replies_per_address_per_day``
        automatic mails (acknowledgements, format explanations, refusals, info
        requests) in the last 24 hours? Then no more goes to it: the mail that
        would cause one is handled and logged, and staff see what was not sent.
        Counted by recipient, so a forged From: or Reply-To, from however many
        senders, cannot make the office mail one address more than that."""
        limit = self.settings.limits.auto_replies_per_address_per_day
        return queries.answers_since(session, address, AUTOMATIC_KINDS, now - _DAY) >= limit

    # ------------------------------------------------------------------ writing
    def write(self, session: Session, kind: MailKind, *, to: Iterable[str], now: datetime,
              row: Complaint | None = None, reply_to: str | None = None, in_reply_to: str | None = None,
              references: Sequence[str] = (), auto_submitted: str = "auto-generated",
              attach_raw: bytes | None = None, files: tuple[Attachment, ...] = (), held: bool = False,
              **context: Any) -> Message:
        """Render template ``kind`` with ``office``, ``now`` and ``context`` and
        queue the mail in the caller's transaction, with the original mail
        ``attach_raw`` and the ``files`` attached, on the complaint ``row`` if
        given (its number goes in a header). ``held``: stored, but kept for the
        hourly digest instead of sent (``notice``). Returns the mail's message row."""
        rendered = self.renderer.render(kind, office=self.office, now=now, **context)
        out = Outgoing(kind=kind, to=tuple(to), subject=rendered.subject, body=rendered.body,
                       in_reply_to=in_reply_to, references=tuple(references), reply_to=reply_to,
                       auto_submitted=auto_submitted, attach_raw=attach_raw, attachments=files)
        message_id = new_message_id(self.settings.office.domain)
        raw = compose(self.settings, out, message_id, now, row.number if row is not None else None)
        return outbox.add(session, office=self.settings.office.key, raw=raw, message_id=message_id, kind=kind,
                          subject=out.subject,
                          from_addr=self.settings.smtp.from_address, to=out.to, in_reply_to=out.in_reply_to,
                          complaint=row, now=now, state="held" if held else "pending")

    def notice(self, session: Session, kind: MailKind, *, to: Iterable[str], now: datetime,
               row: Complaint | None = None, **context: Any) -> Message:
        """An internal notice (one of ``NOTICE_KINDS``: refused attempts,
        quarantine alerts, unclear senders, unverified notes), which an
        attacker can cause at will: after ``limits.notices_per_hour`` to the
        same recipients in an hour, the rest are kept for one digest an hour
        (``desk/digests.py``), never lost and never a flood."""
        assert kind in NOTICE_KINDS
        recipients = tuple(to)
        sent = queries.notices_since(session, ",".join(recipients), NOTICE_KINDS, now - _HOUR)
        held = sent >= self.settings.limits.notices_per_hour
        if row is not None:  # about a complaint: its context, and replies to its reply address
            context.update(self._about(row))
        return self.write(session, kind, to=recipients, now=now, row=row, held=held,
                          reply_to=self.reply_address(row) if row is not None else None, **context)

    def answer(self, session: Session, mail: InboundMail, kind: MailKind, now: datetime, *,
               complaint: Complaint | None = None, **context: Any) -> Message:
        """An automatic answer to the sender of ``mail`` -- the address in its
        From:, never a Reply-To (docs/SECURITY.md) -- threaded to it. About
        ``complaint``, when it registered one: then replies go to the
        complaint's own reply address."""
        reply_to = None
        if complaint is not None:
            context["complaint"] = self.complaint(complaint)
            reply_to = self.reply_address(complaint)
        return self.write(session, kind, to=(mail.from_addr,), now=now, row=complaint, reply_to=reply_to,
                          in_reply_to=mail.message_id, references=mail.references, auto_submitted="auto-replied",
                          original_subject=shorten(mail.subject), **context)

    def to_citizen(self, session: Session, c: Complaint, kind: MailKind, now: datetime, **context: Any) -> Message:
        """To the complaint's recorded complainant (only ever them), threaded to
        their original complaint mail; replies go to the complaint's reply address."""
        source = session.get(Message, c.source_message_pk) if c.source_message_pk else None
        parent_id = source.message_id if source is not None else None
        return self.write(session, kind, to=(c.complainant_email,), now=now, row=c, in_reply_to=parent_id,
                          references=(parent_id,) if parent_id else (), auto_submitted="auto-replied",
                          reply_to=self.reply_address(c),
                          original_subject=shorten(source.subject) if source is not None else "",
                          **self._about(c), **context)

    def to_requester(self, session: Session, c: Complaint, request: InboundMail, kind: MailKind, now: datetime,
                     **context: Any) -> Message:
        """To the complaint's recorded complainant (only ever them, whatever the
        request's From: or Reply-To said), threaded to their ``request`` mail;
        replies go to the complaint's reply address."""
        refs = tuple(r for r in (*request.references, request.message_id) if r)
        return self.write(session, kind, to=(c.complainant_email,), now=now, row=c, in_reply_to=request.message_id,
                          references=refs, auto_submitted="auto-replied", reply_to=self.reply_address(c),
                          original_subject=shorten(request.subject), **self._about(c), **context)

    def to_staff(self, session: Session, c: Complaint, to: Iterable[str], kind: MailKind, now: datetime, *,
                 attach_raw: bytes | None = None, **context: Any) -> Message:
        """To staff addresses about a complaint; their reply goes to its reply address."""
        return self.write(session, kind, to=to, now=now, row=c, reply_to=self.reply_address(c),
                          attach_raw=attach_raw, **self._about(c), **context)

    def to_role(self, session: Session, c: Complaint, role: Role, kind: MailKind, now: datetime, *,
                attach_raw: bytes | None = None, **context: Any) -> Message:
        """To every member of ``role`` about a complaint (``role`` in the context too)."""
        return self.to_staff(session, c, role.members, kind, now, attach_raw=attach_raw, role=named(role),
                             **context)

    def to_person(self, session: Session, c: Complaint, address: str, kind: MailKind, now: datetime, *,
                  in_reply_to: InboundMail, **context: Any) -> Message:
        """To one staff member, answering their mail (threaded; RFC 3834 auto-replied)."""
        return self.write(session, kind, to=(address,), now=now, row=c, reply_to=self.reply_address(c),
                          in_reply_to=in_reply_to.message_id, references=in_reply_to.references,
                          auto_submitted="auto-replied", **self._about(c), **context)

    def to_admin(self, session: Session, kind: MailKind, now: datetime, **context: Any) -> Message:
        """To the office's alert address (whoever runs mailflow); a notice kind
        goes through ``notice`` (its hourly limit)."""
        to = (self.settings.office.alert_address,)
        if kind in NOTICE_KINDS:
            return self.notice(session, kind, to=to, now=now, **context)
        return self.write(session, kind, to=to, now=now, **context)

    def _about(self, c: Complaint) -> dict[str, Any]:
        return dict(complaint=self.complaint(c), reply_address=self.reply_address(c))
