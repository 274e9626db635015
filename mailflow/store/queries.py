"""The queries the desk, the runner and the CLI ask of the database, in one
place: each reads through an index named beside it (docs/PERFORMANCE.md
measures them at a million complaints). Writes live with their tables
(``outbox.add``, ``hoplog.record``, ``visits``, ``numbering``, ``mailboxes``).

``office``: the desk asks about its own office only; the CLI may ask across
offices (``None``). Limits that protect a recipient (automatic mail, notices)
count across every office of the deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, text
from sqlalchemy.orm import Session

from mailflow.core.sop import WAITING_STEP
from mailflow.core.vocabulary import OPEN_STATUSES, RUNNING_STATUSES, HopKind, MailKind, Status
from mailflow.errors import MailflowError
from mailflow.store.models import (
    Complaint,
    Hop,
    MailboxState,
    Message,
    OutboxItem,
    ReportRun,
    StepVisit,
)


# ------------------------------------------------------------------ mail
def _of(column, office: str | None) -> tuple:
    """The WHERE clause limiting ``column``'s table to ``office`` (none for None: every office)."""
    return () if office is None else (column == office,)


def message_by_dedupe_key(session: Session, office: str, key: str, *, lock: bool = False) -> Message | None:
    """The office's archived mail (either direction) with this dedupe key
    (unique index). ``lock``: read afresh and hold the row until the
    transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN
    IMMEDIATE`` already holds the whole database)."""
    stmt = select(Message).where(Message.office == office, Message.dedupe_key == key)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def outbound_by_message_id(session: Session, message_id: str, office: str | None = None) -> Message | None:
    """One outbound mail of ours with this Message-ID (ix_messages_message_id)."""
    return session.scalar(select(Message).where(Message.direction == "out", Message.message_id == message_id,
                                                *_of(Message.office, office)).limit(1))


def answers_since(session: Session, address: str, kinds: Sequence[str], since: datetime) -> int:
    """How many mails of ``kinds`` were queued for ``address`` alone since
    ``since`` (ix_outbox_recipients_created_at)."""
    count = session.scalar(
        select(func.count()).select_from(OutboxItem)
        .where(OutboxItem.recipients == address.lower(), OutboxItem.kind.in_(list(kinds)),
               OutboxItem.created_at >= since)
    )
    return count or 0


def notices_since(session: Session, recipients: str, kinds: Sequence[str], since: datetime) -> int:
    """How many mails of ``kinds`` were written for exactly ``recipients`` (as
    stored, comma-joined) since ``since``, held ones included."""
    count = session.scalar(
        select(func.count()).select_from(OutboxItem)
        .where(OutboxItem.recipients == recipients.lower(), OutboxItem.kind.in_(list(kinds)),
               OutboxItem.created_at >= since)
    )
    return count or 0


def outbox_item_of(session: Session, message: Message) -> OutboxItem | None:
    """The outbox row that sends ``message`` (unique on message_pk)."""
    return session.scalar(select(OutboxItem).where(OutboxItem.message_pk == message.id))


def outbox_of_complaint(session: Session, complaint: Complaint) -> list[tuple[OutboxItem, Message]]:
    """Every outbound mail of a complaint with its row, oldest first (ix_outbox_complaint_id)."""
    return [(item, message) for item, message in session.execute(
        select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.complaint_id == complaint.id).order_by(OutboxItem.id)
    )]


def failed_outbox(session: Session, office: str | None = None) -> list[tuple[OutboxItem, Message]]:
    """Outbound mail that failed, oldest first (ix_outbox_state_next_attempt_at)."""
    return [(item, message) for item, message in session.execute(
        select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.state == "failed", *_of(OutboxItem.office, office)).order_by(OutboxItem.id)
    )]


def held_notices(session: Session, office: str) -> list[tuple[OutboxItem, Message]]:
    """The office's notices kept for the hourly digest, oldest first (ix_outbox_state_next_attempt_at)."""
    return [(item, message) for item, message in session.execute(
        select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.state == "held", OutboxItem.office == office).order_by(OutboxItem.id)
    )]


def unsent_outbox(session: Session, limit: int, office: str | None = None) -> list[tuple[OutboxItem, Message]]:
    """Outbound mail not yet sent (pending, sending, failed, held for a
    digest), oldest first; a held notice that went out in a digest is done."""
    return [(item, message) for item, message in session.execute(
        select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.state.not_in(("sent", "digested")), *_of(OutboxItem.office, office))
        .order_by(OutboxItem.id).limit(limit)
    )]


# ------------------------------------------------------------------ inbound mail by outcome (mailflow mail)
# The outcomes of an inbound mail that ``mailflow mail list`` lists, each
# the hop kind that records it.
MAIL_OUTCOMES: tuple[str, ...] = (HopKind.QUARANTINED, HopKind.REJECTED, HopKind.IGNORED, HopKind.BOUNCED)
# Which hop of a mail's last attempt says what became of it, first found first.
_OUTCOME_ORDER = (HopKind.QUARANTINED, HopKind.REGISTERED, HopKind.REJECTED, HopKind.BOUNCED, HopKind.REFUSED,
                  HopKind.IGNORED)


def mail_outcome(kinds: Sequence[str]) -> str:
    """What became of an inbound mail, from the kinds of its hops in the order
    written: the outcome of its last attempt. An attempt starts with a
    ``received`` hop (a quarantined one's was rolled back: its ``quarantined``
    hop stands alone); a rejected mail that got no reply also has an
    ``ignored`` hop, so the outcome is the first of ``_OUTCOME_ORDER`` found,
    else "handled" (attached, noted, ... on a complaint)."""
    starts = [i for i, kind in enumerate(kinds) if kind in (HopKind.RECEIVED, HopKind.QUARANTINED)]
    last = set(kinds[starts[-1]:] if starts else kinds)
    return next((str(kind) for kind in _OUTCOME_ORDER if kind in last), "handled")


@dataclass(frozen=True)
class MailRecord:
    """An archived inbound mail with what became of it: ``hop`` is the hop
    that records its outcome (its reason says why), ``retried`` how many
    times an admin retried it (``mailflow mail retry``)."""

    message: Message
    outcome: str
    hop: Hop
    retried: int


def inbound_by_outcome(session: Session, outcomes: Sequence[str], *, office: str | None = None,
                       limit: int = 50) -> list[MailRecord]:
    """Inbound mail whose outcome now is one of ``outcomes`` (``MAIL_OUTCOMES``),
    the newest outcome first, at most ``limit``. Each outcome's hops are read
    newest first (ix_hops_kind_at), and each mail's own hops
    (ix_hops_message_pk) tell whether that is still its outcome: a mail
    quarantined and since retried into a complaint is not listed as quarantined."""
    found = [record for kind in outcomes for record in _newest_of(session, kind, office, limit)]
    found.sort(key=lambda r: (r.hop.at, r.hop.id), reverse=True)
    return found[:limit]


def _newest_of(session: Session, kind: str, office: str | None, limit: int) -> list[MailRecord]:
    found: list[MailRecord] = []
    seen: set[int] = set()
    batch, offset = max(2 * limit, 64), 0
    while len(found) < limit:
        hops = list(session.scalars(
            select(Hop).where(Hop.kind == kind, Hop.message_pk.is_not(None), *_of(Hop.office, office))
            .order_by(Hop.at.desc(), Hop.id.desc()).offset(offset).limit(batch)))
        offset += batch
        fresh = {h.message_pk for h in hops if h.message_pk is not None} - seen
        seen |= fresh
        if fresh:
            history: dict[int | None, list[str]] = {}
            for pk, hop_kind in session.execute(select(Hop.message_pk, Hop.kind)
                                                .where(Hop.message_pk.in_(fresh)).order_by(Hop.id)):
                history.setdefault(pk, []).append(hop_kind)
            messages = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(fresh),
                                                                              Message.direction == "in"))}
            for h in hops:  # a mail's newest hop of this kind comes first: it belongs to its last attempt
                pk = h.message_pk
                if pk in fresh and pk in messages and mail_outcome(history[pk]) == kind:
                    fresh.discard(pk)
                    found.append(MailRecord(messages[pk], kind, h, history[pk].count(HopKind.RETRIED)))
        if len(hops) < batch:
            break
    return found[:limit]


def inbound_message(session: Session, pk: int, office: str | None = None) -> Message | None:
    """One archived inbound mail by its id (primary key)."""
    return session.scalar(select(Message).where(Message.id == pk, Message.direction == "in",
                                                *_of(Message.office, office)))


def hops_of_message(session: Session, message: Message) -> list[Hop]:
    """Every hop of one archived mail, in the order written (ix_hops_message_pk)."""
    return list(session.scalars(select(Hop).where(Hop.message_pk == message.id).order_by(Hop.id)))


# ------------------------------------------------------------------ complaints
def complaint_by_number(session: Session, number: str, office: str | None = None) -> Complaint | None:
    """By register number, any case (ix_complaints_number_upper). Across
    offices (``office`` None), a number two offices share raises ``AmbiguousNumber``."""
    found = list(session.scalars(select(Complaint).where(func.upper(Complaint.number) == number.upper(),
                                                         *_of(Complaint.office, office)).limit(2)))
    if len(found) > 1:
        raise AmbiguousNumber(number, sorted(c.office for c in found))
    return found[0] if found else None


class AmbiguousNumber(MailflowError):
    """Two offices have a complaint of this number: say which office (the CLI
    prints it as one "mailflow: error: ..." line)."""

    def __init__(self, number: str, offices: list[str]):
        super().__init__(f"{number} is a complaint of more than one office ({', '.join(offices)}); "
                         "name the office with --office")
        self.offices = offices


def complaint_by_reply_token(session: Session, office: str, token: str) -> Complaint | None:
    """The office's complaint with the secret token of its reply address (ix_complaints_reply_token)."""
    return session.scalar(select(Complaint).where(Complaint.reply_token == token.lower(),
                                                  Complaint.office == office))


def complaint_by_references(session: Session, office: str, message_ids: Sequence[str]) -> Complaint | None:
    """The office's newest complaint one of ``message_ids`` (In-Reply-To,
    References) belongs to (ix_messages_message_id)."""
    return session.scalar(
        select(Complaint)
        .join(Message, Message.complaint_id == Complaint.id)
        .where(Message.message_id.in_(list(message_ids)), Complaint.office == office)
        .order_by(Complaint.id.desc())
        .limit(1)
    )


def complaints_since(session: Session, office: str, since: datetime) -> int:
    """How many complaints the office registered since ``since`` (ix_complaints_month_counts)."""
    return session.scalar(select(func.count()).select_from(Complaint)
                          .where(Complaint.created_at >= since, Complaint.office == office)) or 0


def mail_since(session: Session, office: str, kind: str, since: datetime) -> int:
    """How many mails of ``kind`` the office queued since ``since``."""
    count = session.scalar(select(func.count()).select_from(OutboxItem)
                           .where(OutboxItem.kind == kind, OutboxItem.created_at >= since, OutboxItem.office == office))
    return count or 0


def login_alerts_since(session: Session, office: str, server: str, since: datetime) -> int:
    """How many alerts of a refused login to the office's ``server`` ("IMAP"/"SMTP") were queued since ``since``."""
    # The subjects are compared here, not in SQL: with a database key they are
    # sealed (store/sealing.py). Login alerts are few (one per outage).
    subjects = session.scalars(
        select(Message.subject).select_from(OutboxItem).join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.kind == MailKind.LOGIN_FAILED, OutboxItem.created_at >= since,
               OutboxItem.office == office))
    return sum(1 for subject in subjects if f"server {server} " in subject)


def complaints(session: Session, *, statuses: Sequence[str] = (), include_closed: bool = False,
               overdue_at: datetime | None = None, by_due: bool = False, limit: int = 200,
               office: str | None = None) -> list[Complaint]:
    """The register for ``mailflow queue``: open complaints in register order
    (ix_complaints_open_created_at), or those of ``statuses``, or all;
    ``overdue_at``: only those past their step's due time then, soonest due
    first (ix_complaints_due_at); ``by_due``: soonest due first."""
    order = (Complaint.due_at, Complaint.id) if by_due or overdue_at is not None else (Complaint.created_at, Complaint.id)
    stmt = select(Complaint).where(*_of(Complaint.office, office)).order_by(*order).limit(limit)
    if overdue_at is not None:
        # closed complaints have no due time
        stmt = stmt.where(Complaint.due_at.is_not(None), Complaint.due_at < overdue_at)
    if statuses:
        stmt = stmt.where(Complaint.status.in_(list(statuses)))
    elif not include_closed:
        # As literals, so that the partial index of open complaints
        # (ix_complaints_open_created_at) is usable on SQLite too.
        stmt = stmt.where(Complaint.status.in_(
            bindparam("open_statuses", [str(s) for s in OPEN_STATUSES], expanding=True, literal_execute=True)))
    return list(session.scalars(stmt))


def open_by_office(session: Session) -> dict[str, int]:
    """How many complaints each office has open (``mailflow office list``;
    the open statuses as literals, so ix_complaints_open_created_at is usable)."""
    rows = session.execute(
        select(Complaint.office, func.count()).where(Complaint.status.in_(
            bindparam("open_statuses", [str(s) for s in OPEN_STATUSES], expanding=True, literal_execute=True)))
        .group_by(Complaint.office))
    return {office: count for office, count in rows}


# Every table whose rows carry an office key.
OFFICE_TABLES = (Complaint, Message, Hop, OutboxItem, StepVisit, MailboxState, ReportRun)


def rows_by_office(session: Session) -> dict[str, dict[str, int]]:
    """How many rows of each table (by table name) each office key holds, for
    ``mailflow office check``: a key the configuration no longer has (an office
    renamed) leaves rows no desk reads. One ``GROUP BY office`` per table: no
    index leads with the office, so this reads every table once (a check an
    admin runs, not a daemon pass)."""
    found: dict[str, dict[str, int]] = {}
    for model in OFFICE_TABLES:
        for office, count in session.execute(select(model.office, func.count()).group_by(model.office)):
            found.setdefault(office, {})[model.__tablename__] = count
    return found


def hops_of(session: Session, complaint: Complaint) -> list[Hop]:
    """A complaint's whole hop log in time order, with the hops of its own
    inbound mail recorded before it had a number."""
    hops = list(session.scalars(select(Hop).where(Hop.complaint_id == complaint.id).order_by(Hop.at, Hop.id)))
    # Found through ix_hops_message_pk; "no complaint yet" is checked here, not in
    # SQL, where the planner could pick the complaint_id index for "IS NULL" and
    # walk every such hop in the log.
    early = [h for h in session.scalars(
        select(Hop).where(Hop.message_pk.in_(select(Message.id).where(Message.complaint_id == complaint.id)))
    ) if h.complaint_id is None]
    return sorted([*hops, *early], key=lambda h: (h.at, h.id))


def first_hop_at(session: Session, office: str) -> datetime | None:
    """When mailflow logged the office's first hop (by primary key: the first rows are read, not all)."""
    return session.scalar(select(Hop.at).where(Hop.office == office).order_by(Hop.id).limit(1))


# ------------------------------------------------------------------ deadlines
def _due(which: str, now: datetime) -> tuple[tuple[Any, ...], Any]:
    """(conditions, order) of the open visits whose breach (``which="breach"``)
    or reminder (``which="reminder"``) is due at ``now``. A visit already past
    due gets the breach instead of the reminder (the breach query finds it)."""
    if which == "breach":
        return (StepVisit.ended_at.is_(None), StepVisit.breached_at.is_(None), StepVisit.due_at <= now), \
            StepVisit.due_at
    if which == "reminder":
        return (StepVisit.ended_at.is_(None), StepVisit.reminded_at.is_(None), StepVisit.remind_at <= now,
                StepVisit.breached_at.is_(None), StepVisit.due_at > now), StepVisit.remind_at
    raise ValueError(f"which must be 'breach' or 'reminder', got {which!r}")


def due_visits(which: str, now: datetime, limit: int, *, lock: bool = False, office: str | None = None) -> Select:
    """The query of open visits whose breach (``which="breach"``) or reminder
    (``which="reminder"``) is due at ``now``, with their running complaint,
    oldest first, at most ``limit``. Each reads its own index
    (``ix_step_visits_open_due`` / ``ix_step_visits_open_remind``).
    ``lock`` (PostgreSQL): ``FOR UPDATE SKIP LOCKED`` of both rows, so two
    daemons never act on the same visit, and a complaint whose mail is being
    handled right now waits for the next pass."""
    where, order = _due(which, now)
    stmt = (
        select(StepVisit, Complaint)
        .join(Complaint, Complaint.id == StepVisit.complaint_id)
        .where(*where, Complaint.status.in_([str(s) for s in RUNNING_STATUSES]), *_of(StepVisit.office, office))
        .order_by(order, StepVisit.id)
        .limit(limit)
    )
    return stmt.with_for_update(skip_locked=True, of=(StepVisit, Complaint)) if lock else stmt


def visits_due(session: Session, office: str, which: str, now: datetime,
               limit: int) -> list[tuple[StepVisit, Complaint]]:
    """``due_visits`` of the office, run: locked (SKIP LOCKED) on PostgreSQL;
    on SQLite ``BEGIN IMMEDIATE`` already serialises writers."""
    lock = session.get_bind().dialect.name == "postgresql"
    return [(v, c) for v, c in session.execute(due_visits(which, now, limit, lock=lock, office=office))]


def waiting_due(session: Session, office: str, which: str, now: datetime,
                limit: int) -> list[tuple[StepVisit, Complaint]]:
    """Closing after silence: the open waits for the citizen (visits of
    ``WAITING_STEP`` of complaints still waiting) whose reminder
    (``which="reminder"``) or closing (``which="breach"``) is due at ``now``,
    oldest first, at most ``limit``; through the same indexes as ``due_visits``,
    locked (SKIP LOCKED) on PostgreSQL so two processes never act on one."""
    where, order = _due(which, now)
    stmt = (
        select(StepVisit, Complaint)
        .join(Complaint, Complaint.id == StepVisit.complaint_id)
        .where(*where, StepVisit.step == WAITING_STEP, Complaint.status == str(Status.WAITING_CITIZEN),
               StepVisit.office == office)
        .order_by(order, StepVisit.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=(StepVisit, Complaint))
    return [(v, c) for v, c in session.execute(stmt)]


def possible_duplicates(session: Session, complaint: Complaint, since: datetime, limit: int = 3) -> list[Complaint]:
    """The office's other complaints registered since ``since`` of the same
    service (category) and the same complainant (address or NIK), not merged
    themselves, newest first (merging: the hint in the staff forward). Reads
    the range of ix_complaints_month_counts from ``since``."""
    return list(session.scalars(
        select(Complaint).where(
            Complaint.created_at >= since, Complaint.office == complaint.office,
            Complaint.category == complaint.category, Complaint.id != complaint.id,
            Complaint.status != str(Status.MERGED),
            (Complaint.complainant_email == complaint.complainant_email) | (Complaint.nik == complaint.nik))
        .order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(limit)))


# ------------------------------------------------------------------ the fleet (mailflow workers)
def mailbox_checks(session: Session) -> list[tuple[str, str, datetime | None, str | None]]:
    """(office, folder, last successful look, by which process) of every mailbox (mailbox_state's key)."""
    from mailflow.store.models import MailboxState

    rows = session.execute(select(MailboxState.office, MailboxState.mailbox, MailboxState.checked_at,
                                  MailboxState.checked_by).order_by(MailboxState.office, MailboxState.mailbox))
    return [(o, m, at, by) for o, m, at, by in rows]


def outbox_backlog(session: Session) -> dict[str, dict[str, Any]]:
    """Per office, how many outbox rows are pending (of them ``deferred``: tried
    and put back for a later attempt), sending and failed, and when the oldest
    pending row was queued (``oldest_pending``, None if none)
    (ix_outbox_state_next_attempt_at)."""
    backlog: dict[str, dict[str, Any]] = {}
    deferred = func.sum(case((OutboxItem.attempts > 0, 1), else_=0))
    rows = session.execute(select(OutboxItem.office, OutboxItem.state, func.count(), deferred,
                                  func.min(OutboxItem.created_at))
                           .where(OutboxItem.state.in_(("pending", "sending", "failed")))
                           .group_by(OutboxItem.office, OutboxItem.state))
    for office, state, n, tried, oldest in rows:
        b = backlog.setdefault(office, empty_backlog())
        b[state] = n
        if state == "pending":
            b["deferred"], b["oldest_pending"] = tried or 0, oldest
    return backlog


def empty_backlog() -> dict[str, Any]:
    """An office's ``outbox_backlog`` when it has no unsent mail."""
    return {"pending": 0, "deferred": 0, "sending": 0, "failed": 0, "oldest_pending": None}


# ------------------------------------------------------------------ health (mailflow status)
def server_problems(session: Session, office: str | None = None) -> list[tuple[str, str, datetime, str]]:
    """(office, hop kind, at, reason) of every recorded start of a mail-server
    outage -- a refused login (``login-refused``) or a server that could not be
    reached (``server-unreachable``), the reason starting with "IMAP" or "SMTP"
    -- oldest first (ix_hops_kind_at; one per outage and process: few rows)."""
    rows = session.execute(select(Hop.office, Hop.kind, Hop.at, Hop.reason)
                           .where(Hop.kind.in_([str(HopKind.LOGIN_REFUSED), str(HopKind.UNREACHABLE)]),
                                  *_of(Hop.office, office))
                           .order_by(Hop.at, Hop.id))
    return [(o, k, at, reason) for o, k, at, reason in rows]


def last_sent_at(session: Session, office: str) -> datetime | None:
    """When the office's last mail left through SMTP (its newest ``sent`` hop;
    ix_hops_kind_at, read from the newest end)."""
    return session.scalar(select(Hop.at).where(Hop.kind == str(HopKind.SENT), Hop.office == office)
                          .order_by(Hop.at.desc()).limit(1))


def quarantined_since(session: Session, since: datetime | None) -> dict[str, int]:
    """Per office, how many mails were quarantined since ``since`` (None: ever) (ix_hops_kind_at)."""
    where = (Hop.kind == str(HopKind.QUARANTINED),) + (() if since is None else (Hop.at >= since,))
    return {o: n for o, n in session.execute(select(Hop.office, func.count()).where(*where).group_by(Hop.office))}


def last_reports(session: Session) -> dict[str, tuple[str, datetime]]:
    """Per office, the newest month whose report was mailed, and when (report_runs' primary key)."""
    found: dict[str, tuple[str, datetime]] = {}
    for office, month, sent_at in session.execute(select(ReportRun.office, ReportRun.month, ReportRun.sent_at)
                                                  .order_by(ReportRun.office, ReportRun.month)):
        found[office] = (month, sent_at)
    return found


def offices_with_due_mail(session: Session, now: datetime) -> list[str]:
    """The offices with outbox mail due to be sent or a send to resolve
    (ix_outbox_state_next_attempt_at)."""
    return list(session.scalars(select(OutboxItem.office).distinct()
                                .where(OutboxItem.state.in_(("pending", "sending")),
                                       OutboxItem.next_attempt_at <= now)))


def queue_tables_present(session: Session) -> bool:
    """Has the database procrastinate's tables (a worker ever started on it)?"""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return session.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar_one()


def workers_and_jobs(session: Session, stalled_after: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """procrastinate's workers (with their last heartbeat and whether they count
    as stalled) and the jobs running now (with the worker they run on)."""
    workers = [dict(r._mapping) for r in session.execute(text(
        "SELECT id, last_heartbeat, "
        "last_heartbeat < now() - make_interval(secs => :s) AS stalled "
        "FROM procrastinate_workers ORDER BY id"), {"s": stalled_after})]
    jobs = [dict(r._mapping) for r in session.execute(text(
        "SELECT id, task_name, args, lock, worker_id, "
        "(SELECT min(at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started') AS started_at "
        "FROM procrastinate_jobs j WHERE status = 'doing' ORDER BY id"))]
    return workers, jobs
