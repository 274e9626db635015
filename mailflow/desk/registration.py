"""A new complaint: check its format, then reject it with an explanation, or
register it (a gap-free number), acknowledge it to the citizen and forward it
to the first rung of the ladder -- all inside the intake's transaction.

What the desk knows of the sender travels with the complaint (docs/SECURITY.md):
the acknowledgement goes to the From: address only, never to a Reply-To (which
is kept and shown to staff), and not at all when the office's mail server says
the From: domain fails DMARC or the address has had its automatic mail for the
day; staff see every such reason in the forward. More complaints in an hour
than ``limits.complaints_per_hour_alert`` raise one alert to the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from mailflow.config.settings import Settings
from mailflow.core import ladder
from mailflow.core.complaint_format import parse_complaint
from mailflow.core.identity import mask_id, mask_ids_in_text
from mailflow.core.vocabulary import HopKind, MailKind, Status
from mailflow.desk.delivery import Delivery, Outcome
from mailflow.desk.letters import Letters, new_reply_token
from mailflow.desk.merging import Merging
from mailflow.desk.status import answers_by_mail
from mailflow.store import hoplog, numbering, queries
from mailflow.store.models import Complaint
from mailflow.store.visits import open_visit


@dataclass(frozen=True)
class Person:
    """Who a complaint is from and what it is about, as registered."""

    name: str
    nik: str
    kk: str | None
    phone: str
    address: str
    description: str
    category_key: str
    category_name: str
    section: str


class Registration:
    def __init__(self, settings: Settings, letters: Letters):
        self.settings = settings
        self.letters = letters
        self.rules = letters.rules

    def new_complaint(self, d: Delivery, parent: Complaint | None = None) -> Outcome:
        """Read the complaint format: register a valid complaint, explain an
        invalid one. ``parent``: an earlier complaint this one follows; nothing
        is taken from it but its number (a complaint holds only what its own
        mail says)."""
        fmt = self.rules.format
        local_today = d.now.astimezone(self.settings.office.tz).date()
        parsed = parse_complaint(d.mail.text, fmt, today=local_today)
        if not parsed.ok:
            return self._reject(d, parsed)
        f = parsed.fields
        category = parsed.category
        person = Person(
            name=f["nama"], nik=f["nik"], kk=f.get("no_kk") or None, phone=f["no_hp"], address=f["alamat"],
            description=f["uraian"], category_key=category.key if category else "lainnya",
            category_name=category.name if category else f.get("jenis_layanan", "Lainnya"),
            section=category.section if category else "lainnya",
        )
        reason = f"all required fields present; category {category.name if category else 'Lainnya'}"
        if parent is not None:
            reason += f"; a reply after the reopen window of {parent.number}, registered as a new complaint"
        return self.register(d, person, reason=reason, parent=parent)

    def _reject(self, d: Delivery, parsed) -> Outcome:
        fmt = self.rules.format
        problems = "; ".join(f"{e.label}: {e.problem}" for e in parsed.errors)
        hoplog.record(d.session, HopKind.REJECTED, at=d.now, message=d.message, actor=d.mail.from_addr,
                      reason=f"complaint format: {problems}")
        if self.letters.budget_spent(d.session, d.mail.from_addr, d.now):
            hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message,
                          reason=f"no reply: {d.mail.from_addr} already got "
                                 f"{self.settings.limits.auto_replies_per_address_per_day} automatic replies in 24 hours")
            return d.outcome("rejected", problems)
        found = [SimpleNamespace(label=fmt.field(k).label, value=_shown_value(fmt.field(k).kind, v))
                 for k, v in parsed.fields.items()]
        self.letters.answer(d.session, d.mail, MailKind.FORMAT_REJECTED, d.now, errors=list(parsed.errors),
                            found=found, blank_form=fmt.blank_form(), example_form=fmt.example_form())
        return d.outcome("rejected", problems)

    def register(self, d: Delivery, person: Person, *, reason: str, parent: Complaint | None = None) -> Outcome:
        """Give a complaint its number, acknowledge it and forward it to the first rung."""
        session, now, mail, message = d.session, d.now, d.mail, d.message
        year = now.astimezone(self.settings.office.tz).year
        office = self.settings.office.key
        seq, number = numbering.register_number(session, office, self.settings.office.register_pattern, year)
        state = ladder.initial_state(self.rules, person.section)
        step = self.rules.step(state.step)
        holder = self.rules.roles.get(state.holder or "")
        complaint = Complaint(
            office=office, number=number, year=year, seq=seq, status=state.status, channel="email",
            category=person.category_key, category_name=person.category_name, section=person.section,
            complainant_name=person.name, complainant_email=mail.from_addr, nik=person.nik, kk=person.kk,
            phone=person.phone, address=person.address, description=person.description,
            parent_id=parent.id if parent is not None else None, step=state.step, holder_role=state.holder,
            step_started_at=now, reply_token=new_reply_token(), source_message=message, created_at=now,
            updated_at=now, reply_to=mail.reply_to if mail.reply_to and mail.reply_to != mail.from_addr else None,
            sender_verified=True if d.check.passed else False if d.check.failed else None,
        )
        session.add(complaint)
        message.complaint = complaint
        visit = open_visit(session, complaint, self.rules, now)
        complaint.due_at = visit.due_at if visit is not None else None
        hoplog.record(session, HopKind.PARSED, at=now, message=message, complaint=complaint, actor=mail.from_addr,
                      reason=reason)
        hoplog.record(session, HopKind.REGISTERED, at=now, message=message, complaint=complaint,
                      actor=hoplog.SYSTEM, from_state=None, to_state=Status.REGISTERED,
                      reason=f"register number {number}" + (f", follows {parent.number}" if parent else ""))

        warnings = self._acknowledge(d, complaint, step, holder)
        if complaint.reply_to:
            warnings.append(f"Surel aduan meminta balasan dikirim ke alamat lain ({complaint.reply_to}); "
                            "mailflow hanya membalas ke alamat pengirim.")

        if holder is not None:
            warnings += Merging(self.letters).duplicate_hints(session, complaint, now)  # merging: the hint
            fwd = self.letters.to_role(
                session, complaint, holder, MailKind.FORWARD, now, attach_raw=message.raw,
                step=SimpleNamespace(name=step.name, standard_minutes=step.standard.minutes),
                due_at=complaint.due_at, commands=self.letters.command_help(state), warnings=warnings,
            )
            hoplog.record(session, HopKind.FORWARDED, at=now, complaint=complaint, message=fwd,
                          actor=hoplog.SYSTEM, from_state=Status.REGISTERED, to_state=step.key,
                          reason=f"to {holder.name} ({', '.join(holder.members)}) for step '{step.name}'")
        self._flood_alert(d)
        return Outcome("registered", "", number, message.id)

    def _acknowledge(self, d: Delivery, complaint: Complaint, step, holder) -> list[str]:
        """Queue the acknowledgement, unless the sender's domain fails DMARC or
        the address has had its automatic mail for the day. Returns what staff
        should know about the sender (Bahasa Indonesia), for the forward."""
        session, now, mail = d.session, d.now, d.mail
        warnings = []
        if d.check.failed:
            hoplog.record(session, HopKind.IGNORED, at=now, complaint=complaint,
                          reason=f"no acknowledgement: the From: domain fails DMARC ({d.check.reason}); "
                                 "sender not verified")
            warnings.append("Pengirim TIDAK terverifikasi: server surel kantor menyatakan alamat pengirim gagal "
                            "pemeriksaan keaslian (DMARC). Tanda terima tidak dikirim; alamat pengirim mungkin "
                            "dipalsukan.")
            return warnings
        if self.letters.budget_spent(session, mail.from_addr, now):
            limit = self.settings.limits.auto_replies_per_address_per_day
            hoplog.record(session, HopKind.IGNORED, at=now, complaint=complaint,
                          reason=f"no acknowledgement: {mail.from_addr} already got {limit} automatic mails "
                                 "in 24 hours")
            warnings.append(f"Tanda terima tidak dikirim: alamat pengirim sudah menerima {limit} surel otomatis "
                            "dalam 24 jam terakhir (batas pengiriman otomatis).")
            return warnings
        total = self.rules.total_standard
        ack = self.letters.answer(
            session, mail, MailKind.ACKNOWLEDGEMENT, now, complaint=complaint,
            first_step=SimpleNamespace(name=step.name, role_name=holder.name if holder else "",
                                       standard_minutes=step.standard.minutes),
            total_standard_minutes=total.minutes if total else 0, total_standard=str(total) if total else "",
            next_roles=[n for n in self._next_roles(step, complaint.section) if holder is None or n != holder.name],
            answers_by_mail=answers_by_mail(self.rules),
        )
        hoplog.record(session, HopKind.ACKNOWLEDGED, at=now, complaint=complaint, message=ack,
                      reason=f"acknowledgement queued for {mail.from_addr}")
        return warnings

    def _next_roles(self, first, section: str) -> list[str]:
        """The names of the roles holding the steps after ``first``, in SOP order, each once."""
        keys = [s.key for s in self.rules.steps]
        names: list[str] = []
        start = keys.index(first.key) + 1 if first.key in keys else 0
        for step in self.rules.steps[start:]:
            if step.auto:
                continue
            role = self.rules.role_for(step, section)
            if role is not None and role.name not in names:
                names.append(role.name)
        return names

    def _flood_alert(self, d: Delivery) -> None:
        """More complaints in the last hour than the limit: one alert to the admin an hour."""
        limit = self.settings.limits.complaints_per_hour_alert
        since = d.now - timedelta(hours=1)
        office = self.settings.office.key
        count = queries.complaints_since(d.session, office, since)
        if count <= limit or queries.mail_since(d.session, office, MailKind.FLOOD_ALERT, since):
            return
        self.letters.to_admin(d.session, MailKind.FLOOD_ALERT, d.now, limit=limit, count=count)


def _shown_value(kind: str, value: str) -> str:
    return mask_id(value) if kind in ("nik", "kk") else mask_ids_in_text(value)
