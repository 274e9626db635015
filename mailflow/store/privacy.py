"""Personal data in the database (issue 14, docs/PRIVACY.md): finding every
row that mentions a person, erasing personal data while keeping the
non-personal facts, pseudonymising the hop log, the access log, and the rows
the retention pass works on.

What stays after an erasure is what the monthly report and the register
need: that a complaint of this service and section existed, its number, its
status and step, when it came, moved and closed (``complaints`` without its
personal fields, ``step_visits``, ``hops`` without actor or reason). What
goes: names, NIK, No. KK, phone, address, e-mail addresses, the description
and draft answer, every archived mail's raw bytes and subject, outbox
recipients and errors, and the person's address as a hop's actor.

The hop log stays append-only for what happened: the database refuses every
DELETE and every UPDATE except one that replaces ``actor`` by a pseudonym
(``pseudonym:...``) and ``reason`` by a text marked ``[pseudonymised]``
(triggers of migration 0011). This module is the one writer of those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select, text, update
from sqlalchemy.orm import Session

from mailflow.core.identity import normalise_id
from mailflow.store import hoplog, sealing
from mailflow.store.models import AccessLog, Complaint, Counter, Hop, Message, OutboxItem, SurveyResponse

PSEUDONYM_PREFIX = "pseudonym:"
CITIZEN_PSEUDONYM = PSEUDONYM_PREFIX + "pemohon"
PSEUDONYMISED = "[pseudonymised]"
SYSTEM_ACTOR = hoplog.SYSTEM  # the system is no person
ERASED_STAGE = 4  # retention_stage of a complaint whose every stage is done (core.sop.RETENTION_STAGES)


@dataclass
class Held:
    """Every row that mentions one person (or one complaint)."""

    complaints: list[Complaint] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)
    surveys: list[SurveyResponse] = field(default_factory=list)  # the complaints' surveys (a comment is free text)
    emails: set[str] = field(default_factory=set)
    niks: set[str] = field(default_factory=set)

    @property
    def numbers(self) -> list[str]:
        return [c.number for c in self.complaints]

    def __bool__(self) -> bool:
        return bool(self.complaints or self.messages or self.hops or self.outbox)


def _lower(value: str | None) -> str:
    return (value or "").strip().lower()


def find(session: Session, *, email: str | None = None, nik: str | None = None, number: str | None = None,
         office: str | None = None) -> Held:
    """Every row that mentions the person with ``email`` or ``nik``, or the
    complaint numbered ``number`` (its rows only). A person's complaints are
    those of their address or NIK, and then of every address and NIK those
    complaints name; their mail is the mail of those complaints, from or to
    those addresses, and any archived mail whose bytes hold one of them (a
    scan of the archive: an erasure or an export is rare, its answer must be
    whole). Reads only."""
    held = Held()
    mine = () if office is None else (Complaint.office == office,)
    if number is not None:
        held.complaints = list(session.scalars(select(Complaint).where(
            func.upper(Complaint.number) == number.strip().upper(), *mine)))
    else:
        if email:
            held.emails.add(_lower(email))
        if nik:
            held.niks.add(normalise_id(nik) or nik.strip())
        seen: dict[int, Complaint] = {}
        for _round in range(2):  # the person's complaints, then those of the addresses/NIKs they name
            emails, niks = held.emails - {""}, held.niks - {""}
            by: list[Any] = []
            if emails:
                by += [func.lower(Complaint.complainant_email).in_(emails), func.lower(Complaint.reply_to).in_(emails)]
            if niks:
                cipher = sealing.cipher_of(session.get_bind())
                # sealed NIKs are found by their keyed hash (each sealing differs); plain ones as they are
                by.append(Complaint.nik_hash.in_({cipher.nik_hash(n) for n in niks}) if cipher is not None
                          else Complaint.nik.in_(niks))
            if not by:
                break
            found = session.scalars(select(Complaint).where(or_(*by), *mine))
            for c in found:
                seen.setdefault(c.id, c)
            for c in seen.values():
                held.emails |= {_lower(a) for a in (c.complainant_email, c.reply_to) if a}
                if c.nik:
                    held.niks.add(c.nik)
        held.complaints = sorted(seen.values(), key=lambda c: c.id)
    for c in held.complaints:
        if number is not None:
            held.emails |= {_lower(a) for a in (c.complainant_email, c.reply_to) if a}
            if c.nik:
                held.niks.add(c.nik)
    ids = [c.id for c in held.complaints]
    if ids:
        held.surveys = list(session.scalars(select(SurveyResponse).where(SurveyResponse.complaint_id.in_(ids))
                                            .order_by(SurveyResponse.id)))
    msg_mine = () if office is None else (Message.office == office,)
    conditions: list[Any] = [Message.complaint_id.in_(ids)] if ids else []
    if number is None:
        for address in held.emails:
            conditions += [func.lower(Message.from_addr) == address,
                           func.lower(Message.to_addrs).like(f"%{address}%"),
                           Message.raw.op("LIKE")(b"%" + address.encode() + b"%")]
        for value in held.niks:
            conditions.append(Message.raw.op("LIKE")(b"%" + value.encode() + b"%"))
    if conditions:
        held.messages = list(session.scalars(select(Message).where(or_(*conditions), *msg_mine)
                                             .order_by(Message.id)))
    message_ids = [m.id for m in held.messages]
    hop_conditions: list[Any] = []
    if ids:
        hop_conditions.append(Hop.complaint_id.in_(ids))
    if message_ids:
        hop_conditions.append(Hop.message_pk.in_(message_ids))
    mids = [m.message_id for m in held.messages if m.message_id]
    if mids:  # the outbox's own hops (sent, failed) name the mail by Message-ID only
        hop_conditions.append(Hop.message_id.in_(mids))
    if held.emails and number is None:
        hop_conditions.append(func.lower(Hop.actor).in_(held.emails))
        hop_conditions += [func.lower(Hop.reason).like(f"%{a}%") for a in held.emails]
    if hop_conditions:
        held.hops = list(session.scalars(select(Hop).where(
            or_(*hop_conditions), *(() if office is None else (Hop.office == office,))).order_by(Hop.id)))
    out_conditions: list[Any] = []
    if ids:
        out_conditions.append(OutboxItem.complaint_id.in_(ids))
    if message_ids:
        out_conditions.append(OutboxItem.message_pk.in_(message_ids))
    if number is None:
        out_conditions += [func.lower(OutboxItem.recipients).like(f"%{a}%") for a in held.emails]
    if out_conditions:
        held.outbox = list(session.scalars(select(OutboxItem).where(
            or_(*out_conditions), *(() if office is None else (OutboxItem.office == office,)))
            .order_by(OutboxItem.id)))
    return held


# ------------------------------------------------------------------ erasing, stage by stage
def erase_raw(messages: Iterable[Message]) -> int:
    """The archived copies' bytes (the whole mail, attachments and all) go."""
    n = 0
    for m in messages:
        if m.sha256 != "":
            m.raw, m.sha256 = b"", ""
            n += 1
    return n


def erase_mail_personal(messages: Iterable[Message], addresses: set[str], now: datetime) -> int:
    """Each mail's subject and the person's addresses in its From/To go (and
    its bytes, if still there); staff and office addresses stay."""
    n = 0
    for m in messages:
        erase_raw((m,))
        m.subject = ""
        if _lower(m.from_addr) in addresses or not addresses:
            m.from_addr = ""
        m.to_addrs = _without(m.to_addrs, addresses)
        if m.erased_at is None:
            m.erased_at = now
            n += 1
    return n


def _without(listed: str, addresses: set[str]) -> str:
    if not addresses:
        return ""
    return ", ".join(a.strip() for a in listed.split(",") if a.strip() and _lower(a) not in addresses
                     and not any(x in _lower(a) for x in addresses))


def erase_outbox(items: Iterable[OutboxItem], addresses: set[str]) -> None:
    for item in items:
        item.recipients = _without(item.recipients, addresses)
        item.last_error = None


def erase_complaint_personal(c: Complaint, now: datetime) -> None:
    """Name, e-mail, Reply-To, NIK, No. KK, phone and address go; the register facts stay."""
    c.complainant_name = ""
    c.complainant_email = ""
    c.reply_to = None
    c.nik = ""
    c.kk = None
    c.phone = ""
    c.address = ""
    c.erased_at = c.erased_at or now
    c.updated_at = now


def erase_complaint_record(c: Complaint) -> None:
    """What the complaint was about, in the citizen's and staff's words."""
    c.description = ""
    c.draft = None


def erase_survey_comments(session: Session, complaint_ids: Sequence[int]) -> None:
    """The citizen's own words after a rating (the scores stay: the IKM of
    that month must not change)."""
    if complaint_ids:
        session.execute(update(SurveyResponse).where(SurveyResponse.complaint_id.in_(complaint_ids))
                        .values(comment=None))


def pseudonymise_hops(session: Session, hops: Sequence[Hop], *, actor: Callable[[str], str],
                      drop_reasons: bool = True) -> int:
    """Replace each hop's actor by ``actor(old)`` when that differs (a
    pseudonym) and its reason by the marker: the only UPDATE the hop log
    allows. Kind, time, states, complaint and mail stay. Returns how many changed."""
    rows = []
    for h in hops:
        new_actor = actor(h.actor)
        if new_actor != h.actor and not new_actor.startswith(PSEUDONYM_PREFIX):
            raise ValueError(f"a hop's actor may only become a pseudonym, not {new_actor!r}")
        new_reason = PSEUDONYMISED if drop_reasons and h.reason and not h.reason.startswith(PSEUDONYMISED) \
            else h.reason
        if (new_actor, new_reason) != (h.actor, h.reason):
            rows.append({"id": h.id, "actor": new_actor, "reason": new_reason})
    if rows:
        session.execute(update(Hop), rows)
        for h in hops:  # the objects in hand say what the rows say
            session.expire(h, ["actor", "reason"])
    return len(rows)


def citizen_pseudonym(addresses: set[str]) -> Callable[[str], str]:
    """Actors among ``addresses`` become ``pseudonym:pemohon``; others stay."""
    return lambda old: CITIZEN_PSEUDONYM if _lower(old) in addresses else old


def erase(session: Session, held: Held, now: datetime) -> dict[str, int]:
    """Erase everything ``held`` names (in the caller's transaction). Returns counts."""
    addresses = set(held.emails)
    for c in held.complaints:
        erase_complaint_personal(c, now)
        erase_complaint_record(c)
        c.retention_stage = ERASED_STAGE
    mails = erase_mail_personal(held.messages, addresses, now)
    erase_outbox(held.outbox, addresses)
    erase_survey_comments(session, [c.id for c in held.complaints])
    hops = pseudonymise_hops(session, held.hops, actor=citizen_pseudonym(addresses))
    return {"complaints": len(held.complaints), "messages": mails, "outbox": len(held.outbox), "hops": hops}


def scrub_freed_space(engine: Engine) -> None:
    """Make sure erased bytes are gone from the file, not only unreachable:
    SQLite keeps freed pages (and the WAL keeps old ones) until overwritten,
    so checkpoint, VACUUM (a fresh copy of the live rows only) and checkpoint
    again, truncating the WAL. PostgreSQL keeps dead row versions until
    VACUUM; a plain VACUUM makes their space reusable (VACUUM FULL, which
    rewrites the tables, is for a maintenance window: docs/PRIVACY.md)."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name == "sqlite":
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            for table in ("complaints", "messages", "outbox", "hops"):
                conn.execute(text(f"VACUUM {table}"))


def secure_delete(session: Session) -> None:
    """SQLite overwrites what this transaction frees with zeros (the pragma
    holds for the connection; harmless to leave on)."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")


# ------------------------------------------------------------------ the access log
def log_access(session: Session, *, action: str, at: datetime, os_user: str, complaints: Iterable[str] = (),
               detail: str = "", office: str | None = None) -> None:
    session.add(AccessLog(office=office, at=at, os_user=os_user[:200], action=action,
                          complaints=", ".join(complaints), detail=detail))


def access_log(session: Session, *, since: datetime | None = None, until: datetime | None = None,
               limit: int = 1000) -> list[AccessLog]:
    """The access log, newest first (ix_access_log_at)."""
    where = [*(() if since is None else (AccessLog.at >= since,)), *(() if until is None else (AccessLog.at < until,))]
    return list(session.scalars(select(AccessLog).where(*where).order_by(AccessLog.at.desc(), AccessLog.id.desc())
                                .limit(limit)))


# ------------------------------------------------------------------ breach support
@dataclass
class Affected:
    """One person whose data mail of a period held."""

    email: str
    names: set[str] = field(default_factory=set)
    complaints: set[str] = field(default_factory=set)
    mails: int = 0


def affected(session: Session, since: datetime, until: datetime, office: str | None = None) -> list[Affected]:
    """Whose personal data the mail archived in [since, until) held: each
    complaint's complainant, and the sender (inbound) or recipients
    (outbound) of mail on no complaint. Mail already erased holds nothing."""
    rows = session.execute(
        select(Message.direction, Message.from_addr, Message.to_addrs, Complaint.number, Complaint.complainant_email,
               Complaint.complainant_name)
        .outerjoin(Complaint, Complaint.id == Message.complaint_id)
        .where(Message.created_at >= since, Message.created_at < until, Message.erased_at.is_(None),
               *(() if office is None else (Message.office == office,))))
    people: dict[str, Affected] = {}
    for direction, from_addr, to_addrs, number, email, name in rows:
        if number is not None:
            if not email:
                continue
            who = people.setdefault(_lower(email), Affected(_lower(email)))
            who.complaints.add(number)
            if name:
                who.names.add(name)
            who.mails += 1
            continue
        addresses = [from_addr] if direction == "in" else to_addrs.split(",")
        for address in filter(None, (_lower(a) for a in addresses)):
            people.setdefault(address, Affected(address)).mails += 1
    return sorted(people.values(), key=lambda a: a.email)


# ------------------------------------------------------------------ the retention pass's rows
def complaints_due(session: Session, stage: int, cutoff: datetime, office: str, limit: int) -> list[Complaint]:
    """Closed complaints of ``office`` that have not had retention stage
    ``stage`` (0-based) and were closed before ``cutoff``, oldest first: one
    index range per earlier stage (ix_complaints_retention)."""
    # Two workers' passes at once (PostgreSQL): each takes rows the other has not
    # locked, so no stage is done twice (SQLite has one writer at a time anyway).
    return list(session.scalars(select(Complaint).where(
        Complaint.retention_stage.in_(range(stage + 1)), Complaint.closed_at < cutoff,
        Complaint.status == "closed", Complaint.office == office).order_by(Complaint.closed_at).limit(limit)
        .with_for_update(skip_locked=True)))


def mail_of(session: Session, complaint_ids: Sequence[int]) -> list[Message]:
    if not complaint_ids:
        return []
    return list(session.scalars(select(Message).where(Message.complaint_id.in_(complaint_ids))))


def hops_of(session: Session, complaint_ids: Sequence[int], message_ids: Sequence[int]) -> list[Hop]:
    conditions = [Hop.complaint_id.in_(complaint_ids)] if complaint_ids else []
    if message_ids:
        conditions.append(Hop.message_pk.in_(message_ids))
    return list(session.scalars(select(Hop).where(or_(*conditions)))) if conditions else []


def outbox_of(session: Session, complaint_ids: Sequence[int] = (), message_ids: Sequence[int] = ()) -> list[OutboxItem]:
    """The outbox rows of these complaints, or of these mails (its unique message_pk)."""
    if complaint_ids:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.complaint_id.in_(complaint_ids))))
    if message_ids:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.message_pk.in_(message_ids))))
    return []


def watermark(session: Session, name: str) -> int:
    """Where the retention pass stopped (a ``counters`` row), locked until the
    transaction ends, so a second pass at once waits and then reads it anew."""
    row = session.get(Counter, name, with_for_update=True, populate_existing=True)
    return row.value if row is not None else 0


def set_watermark(session: Session, name: str, value: int) -> None:
    row = session.get(Counter, name)
    if row is None:
        session.add(Counter(name=name, value=value))
    else:
        row.value = value


def loose_mail_due(session: Session, office: str, after_id: int, cutoff: datetime, limit: int) -> list[Message]:
    """Mail of ``office`` on no complaint (rejected, ignored, quarantined, the
    office's notices) with an id above ``after_id``, in id order, up to the
    first that came after ``cutoff`` (ix_messages_complaint_id: the mail on no
    complaint, by id)."""
    rows = session.scalars(select(Message).where(
        Message.complaint_id.is_(None), Message.id > after_id, Message.office == office)
        .order_by(Message.id).limit(limit))
    out = []
    for m in rows:
        if m.created_at >= cutoff:
            break
        out.append(m)
    return out


def loose_hops_due(session: Session, office: str, after_id: int, cutoff: datetime, limit: int) -> list[Hop]:
    """Hops of ``office`` on no complaint above ``after_id``, in id order, up to
    the first after ``cutoff`` (ix_hops_complaint_id_id)."""
    rows = session.scalars(select(Hop).where(Hop.complaint_id.is_(None), Hop.id > after_id, Hop.office == office)
                           .order_by(Hop.id).limit(limit))
    out = []
    for h in rows:
        if h.at >= cutoff:
            break
        out.append(h)
    return out


# ------------------------------------------------------------------ sealing: a new key
def reseal(session: Session, batch: int = 1000) -> dict[str, int]:
    """Write every complaint's personal fields and every mail's bytes again:
    sealed under the first key (a rotation, or the first sealing of data
    stored plain before a key was set), and every NIK hash recomputed.
    Commits every ``batch`` rows. Returns how many rows were written."""
    from sqlalchemy.orm import attributes, undefer

    counts = {"complaints": 0, "messages": 0}
    last = 0
    while True:
        rows = list(session.scalars(select(Complaint).where(Complaint.id > last).order_by(Complaint.id).limit(batch)))
        if not rows:
            break
        for c in rows:
            for name in ("complainant_name", "reply_to", "nik", "kk", "phone", "address", "description", "draft"):
                attributes.flag_modified(c, name)
        last = rows[-1].id
        counts["complaints"] += len(rows)
        session.commit()
    last = 0
    while True:
        mails = list(session.scalars(select(Message).options(undefer(Message.raw)).where(Message.id > last)
                                     .order_by(Message.id).limit(batch)))
        if not mails:
            break
        for m in mails:
            m.raw = bytes(m.raw or b"")
            attributes.flag_modified(m, "raw")
            attributes.flag_modified(m, "subject")
        last = mails[-1].id
        counts["messages"] += len(mails)
        session.commit()
    return counts
