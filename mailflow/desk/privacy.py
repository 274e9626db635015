"""Personal data on request and by schedule (issue 14, docs/PRIVACY.md):
the retention pass of one office, and what ``mailflow privacy`` does --
export (JSON and a readable Bahasa Indonesia document), erase (database and
the IMAP folders mailflow owns), the access log, breach support.

Rows are found and changed by ``store.privacy``; this module decides what
happens when, writes the hops (without personal data) and talks to IMAP.
"""

from __future__ import annotations

import base64
import getpass
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.paths import write_private
from mailflow.config.settings import Settings
from mailflow.core.identity import mask_id
from mailflow.core.sop import RETENTION_STAGES, Rules
from mailflow.core.vocabulary import STATUS_WORDS, HopKind
from mailflow.edges.mailbox import Mailbox
from mailflow.store import hoplog
from mailflow.store import privacy as store
from mailflow.store.models import Complaint, Hop, Message, OutboxItem, SurveyResponse, utcnow

log = logging.getLogger("mailflow.privacy")

# Hops that say what the privacy code did: their reasons hold no personal data and stay.
_OWN_KINDS = frozenset({HopKind.EXPIRED, HopKind.ERASED})
_BATCH = 500  # complaints (or mails, hops) per stage per pass: a long-stopped daemon catches up over passes
_INTERVAL = timedelta(hours=1)  # the pass runs at most this often (it is idempotent; this only saves queries)


def os_user() -> str:
    """Who runs this command: the OS login, and the sudo caller behind it."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo by {sudo})" if sudo and sudo != user else user


def mask_email(address: str) -> str:
    """``warga1@dukcapil.test`` -> ``w***@dukcapil.test`` (for the access log)."""
    local, at, domain = address.partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"


def describe_selector(*, email: str | None = None, nik: str | None = None, number: str | None = None,
                      office: str | None = None) -> str:
    """How a person was chosen, without naming them (the access log's detail)."""
    if number:
        return f"by number {number}" + (f" at office {office}" if office else "")
    if email:
        return f"by e-mail {mask_email(email)}"
    return f"by NIK {mask_id(nik or '')}"


def actor_pseudonym(rules: Rules, addresses: set[str]) -> Callable[[str], str]:
    """A hop actor's pseudonym: the system stays; a staff member becomes their
    role (``pseudonym:kasi-identitas``); an admin running a command
    ``pseudonym:admin``; anyone else (the citizen) ``pseudonym:pemohon``."""
    def pseudonym(actor: str) -> str:
        if actor == store.SYSTEM_ACTOR or actor.startswith(store.PSEUDONYM_PREFIX):
            return actor
        if actor.strip().lower() in addresses:
            return store.CITIZEN_PSEUDONYM
        if "@" not in actor:
            return store.PSEUDONYM_PREFIX + "admin"
        role = rules.member_role(actor)
        return store.PSEUDONYM_PREFIX + role.key if role is not None else store.CITIZEN_PSEUDONYM
    return pseudonym


# ------------------------------------------------------------------ retention
@dataclass
class RetentionResult:
    stages: dict[str, int] = field(default_factory=dict)  # stage -> complaints that had it
    loose_mails: int = 0
    loose_hops: int = 0

    def __bool__(self) -> bool:
        return bool(any(self.stages.values()) or self.loose_mails or self.loose_hops)

    def add(self, other: RetentionResult) -> None:
        for stage, n in other.stages.items():
            self.stages[stage] = self.stages.get(stage, 0) + n
        self.loose_mails += other.loose_mails
        self.loose_hops += other.loose_hops

    def summary(self) -> str:
        parts = [f"{stage} {n}" for stage, n in self.stages.items() if n]
        if self.loose_mails:
            parts.append(f"mail on no complaint {self.loose_mails}")
        if self.loose_hops:
            parts.append(f"hops on no complaint {self.loose_hops}")
        return "retention: " + ", ".join(parts)


class Retention:
    """The retention pass of one office (``run_once``): each stage's data of
    the complaints closed longer ago than its period (the rules' [privacy])
    goes, once, in stage order; each complaint gets one ``expired`` hop per
    stage, saying which stage and period and nothing personal. Mail on no
    complaint goes whole at the raw-mail period, hops on no complaint are
    pseudonymised at the hop-log period (one summary hop each). Idempotent:
    a complaint remembers its stage (``retention_stage``), mail its
    ``erased_at``, and the loose rows a watermark (``counters``)."""

    def __init__(self, rules: Rules, office: str, factory: sessionmaker[Session], *,
                 clock: Callable[[], datetime] = utcnow, write_gate=None, interval: timedelta = _INTERVAL):
        self.rules = rules
        self.office = office
        self.factory = factory
        self.clock = clock
        self.write_gate = write_gate
        self.interval = interval
        self._last: datetime | None = None

    def run_once(self) -> RetentionResult:
        """One pass (at most ``_BATCH`` rows per stage); nothing if the last
        one was less than ``interval`` ago and left nothing due."""
        now = self.clock()
        if self._last is not None and self._last <= now < self._last + self.interval:
            return RetentionResult()
        self._last = now
        from contextlib import nullcontext

        with self.write_gate or nullcontext(), self.factory.begin() as session:
            session.info[hoplog.OFFICE] = self.office
            store.secure_delete(session)
            result = self._pass(session, now)
        if result:
            log.info("%s", result.summary())
        return result

    def run_all(self) -> RetentionResult:
        """Passes until nothing is due (``mailflow privacy retention``)."""
        total = RetentionResult()
        while True:
            self._last = None
            result = self.run_once()
            total.add(result)
            if not result or self._last is not None:
                return total

    def _pass(self, session: Session, now: datetime) -> RetentionResult:
        result = RetentionResult()
        privacy = self.rules.privacy
        for index, stage in enumerate(RETENTION_STAGES):
            days = privacy.period(stage)
            due = store.complaints_due(session, index, now - timedelta(days=days), self.office, _BATCH)
            for c in due:
                self._stage(session, c, index, now)
                hoplog.record(session, HopKind.EXPIRED, at=now, complaint=c,
                              reason=f"retention: {stage} ({days} days after closing)")
            result.stages[stage] = len(due)
            if len(due) == _BATCH:
                self._last = None  # more is due: the next pass goes on at once (a long backlog after an upgrade)
        # mail on no complaint: all of it at the raw-mail period
        name = f"retention:mail:{self.office}"[:64]
        mails = store.loose_mail_due(session, self.office, store.watermark(session, name),
                                     now - timedelta(days=privacy.raw_mail_days), _BATCH)
        if mails:
            store.erase_mail_personal(mails, set(), now)
            store.erase_outbox(store.outbox_of(session, message_ids=[m.id for m in mails]), set())
            store.set_watermark(session, name, mails[-1].id)
            hoplog.record(session, HopKind.EXPIRED, at=now,
                          reason=f"retention: raw_mail of {len(mails)} mail(s) on no complaint "
                                 f"({privacy.raw_mail_days} days)")
            result.loose_mails = len(mails)
            if len(mails) == _BATCH:
                self._last = None
        name = f"retention:hops:{self.office}"[:64]
        hops = [h for h in store.loose_hops_due(session, self.office, store.watermark(session, name),
                                                now - timedelta(days=privacy.hop_log_days), _BATCH)]
        if hops:
            store.set_watermark(session, name, hops[-1].id)
            changed = store.pseudonymise_hops(session, [h for h in hops if h.kind not in _OWN_KINDS],
                                              actor=actor_pseudonym(self.rules, set()))
            if changed:
                hoplog.record(session, HopKind.EXPIRED, at=now,
                              reason=f"retention: hop_log of {changed} hop(s) on no complaint "
                                     f"({privacy.hop_log_days} days)")
            result.loose_hops = changed
            if len(hops) == _BATCH:
                self._last = None
        return result

    def _stage(self, session: Session, c: Complaint, index: int, now: datetime) -> None:
        stage = RETENTION_STAGES[index]
        addresses = {a.strip().lower() for a in (c.complainant_email, c.reply_to) if a}
        if stage == "raw_mail":
            store.erase_raw(store.mail_of(session, [c.id]))
        elif stage == "personal_data":
            store.erase_mail_personal(store.mail_of(session, [c.id]), addresses, now)
            store.erase_outbox(store.outbox_of(session, [c.id]), addresses)
            store.erase_complaint_personal(c, now)
        elif stage == "hop_log":
            mails = [m.id for m in store.mail_of(session, [c.id])]
            hops = [h for h in store.hops_of(session, [c.id], mails) if h.kind not in _OWN_KINDS]
            store.pseudonymise_hops(session, hops, actor=actor_pseudonym(self.rules, addresses))
        else:
            store.erase_complaint_record(c)
            store.erase_survey_comments(session, [c.id])
        c.retention_stage = index + 1


# ------------------------------------------------------------------ erasure on request
@dataclass
class ErasePlan:
    """What an erasure would change, counted, and the mail to delete from IMAP."""

    held: store.Held
    imap: dict[str, list[str]]  # office -> Message-IDs of inbound mail (in its processed/quarantine folders)

    def lines(self) -> list[str]:
        h = self.held
        return [f"aduan      : {len(h.complaints)} ({', '.join(h.numbers) or '-'})",
                f"surel      : {len(h.messages)} (isi arsip, judul dan alamat pelapor dihapus)",
                f"antrean    : {len(h.outbox)} (alamat penerima dan pesan galat dihapus)",
                f"riwayat    : {len(h.hops)} (pelaku dan keterangan diganti pseudonim)",
                f"IMAP       : {sum(len(v) for v in self.imap.values())} surel di folder processed/quarantine"]


def plan(session: Session, **selector: Any) -> ErasePlan:
    held = store.find(session, **selector)
    imap: dict[str, list[str]] = {}
    for m in held.messages:
        if m.direction == "in" and m.message_id:
            imap.setdefault(m.office, []).append(m.message_id)
    return ErasePlan(held, imap)


def open_complaints(held: store.Held) -> list[str]:
    return [c.number for c in held.complaints if c.closed_at is None or c.status != "closed"]


def delete_from_imap(settings: Settings, message_ids: list[str], mailbox: Mailbox | None = None) -> int:
    """Delete these mails from the office's processed and quarantine folders."""
    box = mailbox or Mailbox(settings.imap)
    try:
        return sum(box.delete_message_ids(folder, message_ids)
                   for folder in (settings.imap.processed_folder, settings.imap.quarantine_folder))
    finally:
        if mailbox is None:
            box.close()


def erase(session: Session, selector: dict[str, Any], *, now: datetime, user: str) -> dict[str, int]:
    """Erase the person's (or complaint's) data in the caller's transaction:
    rows found afresh, one ``erased`` hop per complaint (and one for mail on
    no complaint), the erasure in the access log."""
    store.secure_delete(session)
    held = store.find(session, **selector)
    counts = store.erase(session, held, now)
    actor = f"admin ({user})"
    for c in held.complaints:
        hoplog.record(session, HopKind.ERASED, at=now, complaint=c, actor=actor,
                      reason="personal data erased on request (UU 27/2022)")
    loose = sum(1 for m in held.messages if m.complaint_id is None)
    if loose:
        offices = sorted({m.office for m in held.messages if m.complaint_id is None})
        for office in offices:
            hoplog.record(session, HopKind.ERASED, at=now, actor=actor, office=office,
                          reason=f"personal data of {loose} mail(s) on no complaint erased on request")
    store.log_access(session, action="erase", at=now, os_user=user, complaints=held.numbers,
                     detail=describe_selector(**selector) + "; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


# ------------------------------------------------------------------ export
def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _raw_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def export_data(held: store.Held, *, now: datetime) -> dict[str, Any]:
    """Everything held about the person, as plain data (the JSON file)."""
    def complaint(c: Complaint) -> dict[str, Any]:
        return {"number": c.number, "office": c.office, "status": c.status, "received_at": _iso(c.created_at),
                "closed_at": _iso(c.closed_at), "category": c.category_name, "section": c.section,
                "name": c.complainant_name, "email": c.complainant_email, "reply_to": c.reply_to, "nik": c.nik,
                "kk": c.kk, "phone": c.phone, "address": c.address, "description": c.description,
                "draft_answer": c.draft, "step": c.step, "erased_at": _iso(c.erased_at)}

    def message(m: Message) -> dict[str, Any]:
        raw = m.raw or b""
        return {"id": m.id, "office": m.office, "direction": m.direction, "message_id": m.message_id,
                "at": _iso(m.created_at), "subject": m.subject, "from": m.from_addr, "to": m.to_addrs,
                "complaint": m.complaint.number if m.complaint is not None else None,
                "classification": m.classification, "size": m.size, "erased_at": _iso(m.erased_at),
                "raw_text": _raw_text(raw), "raw_base64": base64.b64encode(raw).decode()}

    def hop(h: Hop) -> dict[str, Any]:
        return {"id": h.id, "office": h.office, "at": _iso(h.at), "kind": h.kind, "actor": h.actor,
                "complaint": h.complaint.number if h.complaint is not None else None, "message": h.message_pk,
                "from_state": h.from_state, "to_state": h.to_state, "message_id": h.message_id, "reason": h.reason}

    def outbox(o: OutboxItem) -> dict[str, Any]:
        return {"id": o.id, "office": o.office, "message": o.message_pk, "kind": o.kind, "recipients": o.recipients,
                "state": o.state, "attempts": o.attempts, "created_at": _iso(o.created_at),
                "sent_at": _iso(o.sent_at), "last_error": o.last_error}

    numbers = {c.id: c.number for c in held.complaints}

    def survey(r: SurveyResponse) -> dict[str, Any]:
        return {"complaint": numbers.get(r.complaint_id), "asked_at": _iso(r.asked_at), "rated_at": _iso(r.rated_at),
                "overall": r.overall, "elements": [getattr(r, f"u{i}") for i in range(1, 10)],
                "comment": r.comment}

    return {"generated_at": now.isoformat(), "emails": sorted(held.emails), "niks": sorted(held.niks),
            "complaints": [complaint(c) for c in held.complaints], "messages": [message(m) for m in held.messages],
            "hops": [hop(h) for h in held.hops], "outbox": [outbox(o) for o in held.outbox],
            "surveys": [survey(r) for r in held.surveys]}


def export_text(data: dict[str, Any]) -> str:
    """The same, as a document a citizen can read (Bahasa Indonesia)."""
    out = ["SALINAN DATA PRIBADI",
           "Berdasarkan Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data Pribadi",
           f"Dibuat: {data['generated_at']}",
           f"Alamat surel: {', '.join(data['emails']) or '-'}",
           f"NIK: {', '.join(data['niks']) or '-'}", "",
           f"1. ADUAN ({len(data['complaints'])})"]
    for c in data["complaints"]:
        out += [f"  Nomor aduan   : {c['number']} ({STATUS_WORDS.get(c['status'], c['status'])})",
                f"  Diterima      : {c['received_at']}", f"  Selesai       : {c['closed_at'] or '-'}",
                f"  Jenis layanan : {c['category']}", f"  Nama          : {c['name']}",
                f"  Surel         : {c['email']}", f"  NIK           : {c['nik']}", f"  No. KK        : {c['kk'] or '-'}",
                f"  No. HP/WA     : {c['phone']}", f"  Alamat        : {c['address']}", "  Uraian        :",
                *(f"    {line}" for line in (c["description"] or "-").splitlines()),
                *([f"  Dihapus pada  : {c['erased_at']}"] if c["erased_at"] else []), ""]
    out.append(f"2. SUREL ({len(data['messages'])})")
    for m in data["messages"]:
        arah = "masuk" if m["direction"] == "in" else "keluar"
        out += [f"  Surel #{m['id']} ({arah}), {m['at']}", f"    Dari   : {m['from']}", f"    Kepada : {m['to']}",
                f"    Judul  : {m['subject']}", f"    Aduan  : {m['complaint'] or '-'}",
                f"    Isi arsip: {m['size']} byte" + (" (sudah dihapus)" if not m["raw_text"] else ""), ""]
    out.append(f"3. RIWAYAT PENANGANAN ({len(data['hops'])})")
    for h in data["hops"]:
        label = HopKind(h["kind"]).label if h["kind"] in set(HopKind) else h["kind"]
        out.append(f"  {h['at']}  {label} oleh {h['actor']}" + (f" (aduan {h['complaint']})" if h["complaint"] else ""))
        if h["reason"]:
            out.append(f"      {h['reason']}")
    out += ["", f"4. SUREL KELUAR DALAM ANTREAN ({len(data['outbox'])})"]
    for o in data["outbox"]:
        out.append(f"  #{o['id']} {o['kind']} kepada {o['recipients']}: {o['state']}, dikirim {o['sent_at'] or '-'}")
    surveys = data.get("surveys", [])
    out += ["", f"5. SURVEI KEPUASAN ({len(surveys)})"]
    for r in surveys:
        rated = f"dinilai {r['rated_at']}, nilai {r['overall'] or '-'}" if r["rated_at"] else "belum dinilai"
        out.append(f"  aduan {r['complaint']}: dikirim {r['asked_at']}, {rated}")
        if r["comment"]:
            out.append(f"      saran: {r['comment']}")
    out += ["", "Isi lengkap setiap surel ada di berkas JSON yang menyertai dokumen ini (raw_text)."]
    return "\n".join(out) + "\n"


def write_export(data: dict[str, Any], directory: Path, stem: str) -> tuple[Path, Path]:
    """The JSON file and the document, owner-only (they hold personal data)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / f"{stem}.json", directory / f"{stem}.txt"
    for path, content in zip(paths, (json.dumps(data, ensure_ascii=False, indent=2), export_text(data)), strict=True):
        write_private(path, content.encode("utf-8"))
    return paths
