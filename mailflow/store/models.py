"""The database schema, as SQLAlchemy 2.0 typed models.

Changes to this file need a matching Alembic migration in
``mailflow/migrations/versions/`` (``mailflow db upgrade`` applies them).

Tables:
- ``complaints``: one row per registered complaint (the buku register).
- ``messages``: every inbound and outbound mail, raw bytes archived.
- ``hops``: the append-only hop log (database triggers refuse UPDATE/DELETE).
- ``outbox``: mail waiting to be sent; the message itself is a ``messages`` row,
  so its Message-ID is fixed when the row is written.
- ``mailbox_state``: UIDVALIDITY and the highest UID handled, per IMAP mailbox.
- ``counters``: gap-free sequence numbers (the register number per year).
- ``step_visits``: one row per stay of a complaint at a ladder step (deadlines, report).
- ``report_runs``: the monthly reports that were mailed, one row per office and month.
- ``oauth_tokens``: the encrypted OAuth2 token set of a mailbox, one row per office and account.
- ``access_log``: who revealed, exported or erased personal data, when, of which complaints (docs/PRIVACY.md).
- ``survey_responses``: the satisfaction survey of a complaint, asked once and rated once.

Every row belongs to an office (``office``, the key of its ``[office]`` in the
configuration; ``"default"`` for a deployment of one office): complaints,
mail, hops, outbox rows, visits, report runs and IMAP checkpoints. Register
numbers are gap-free per office per year (counter ``register:<office>:<year>``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

from mailflow.core.vocabulary import OPEN_STATUSES
from mailflow.store.sealing import SealedBytes, SealedText, keep_nik_hash


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The office of a deployment of one office, and of every row written before
# mailflow knew of offices (migration 0009).
DEFAULT_OFFICE = "default"


def _office() -> Mapped[str]:
    return mapped_column(String(64), default=DEFAULT_OFFICE, server_default=DEFAULT_OFFICE)


# The statuses of an open complaint, in the order the partial index
# ix_complaints_open_created_at names them: SQLite uses a partial index only
# for a query whose WHERE repeats the index's condition literally, so
# ``mailflow queue`` renders exactly this list as literals (store/queries.py).
_OPEN_SQL = "status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = _office()
    number: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32), default="email")
    category: Mapped[str] = mapped_column(String(64))
    category_name: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(64))
    complainant_name: Mapped[str] = mapped_column(SealedText(200))
    complainant_email: Mapped[str] = mapped_column(String(320), index=True)
    # A Reply-To the complaint mail asked for, when it differs from From: kept
    # and shown to staff, never used for automatic mail (docs/SECURITY.md).
    reply_to: Mapped[str | None] = mapped_column(SealedText(320))
    # What the office's mail server said of the From: domain: True (a DMARC or
    # aligned DKIM/SPF pass), False (DMARC failed), None (not checked / nothing conclusive).
    sender_verified: Mapped[bool | None] = mapped_column(Boolean)
    # Sealed when [database] key_env/key_file is set (store/sealing.py, docs/PRIVACY.md).
    nik: Mapped[str] = mapped_column(SealedText(16))
    # HMAC-SHA256 of the NIK under the database key: the NIK look-up while sealed (None without a key).
    nik_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    kk: Mapped[str | None] = mapped_column(SealedText(16))
    phone: Mapped[str] = mapped_column(SealedText(32))
    address: Mapped[str] = mapped_column(SealedText())
    description: Mapped[str] = mapped_column(SealedText())
    # The ladder position: which step, which role holds it, and since when.
    step: Mapped[str | None] = mapped_column(String(64))
    holder_role: Mapped[str | None] = mapped_column(String(64))
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The answer being drafted or approved (the ladder's state, see ladder.State).
    draft: Mapped[str | None] = mapped_column(SealedText())
    draft_role: Mapped[str | None] = mapped_column(String(64))
    draft_step: Mapped[str | None] = mapped_column(String(64))
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_step: Mapped[str | None] = mapped_column(String(64))
    answered_role: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The unguessable part of the per-complaint reply address.
    reply_token: Mapped[str] = mapped_column(String(64), index=True)  # matching a reply to its complaint
    # The citizen's original mail, for threading (In-Reply-To/References).
    # No foreign key: messages.complaint_id already points the other way, and a
    # cycle of constraints cannot be created on PostgreSQL in one pass.
    source_message_pk: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by whoever changes the row, on the caller's clock (no onupdate: a
    # test's fake clock and the wall clock must never mix in one row).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its personal fields were erased (on request or by retention; docs/PRIVACY.md).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many retention stages (core.sop.RETENTION_STAGES) were done to it; 4 after an erasure.
    retention_stage: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Merging and closing after silence (issue #15; migration 0014). Why it was
    # closed: "answered", "finished", "silence" (the citizen never answered an
    # #info question: reopen window from closed_at), "merged"; None before 0014.
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    # A merged duplicate (status "merged"): the complaint it was merged into,
    # where its later mail is filed. Never a merged one itself (no chains).
    # No foreign key, as source_message_pk: added to a live table on SQLite.
    merged_into_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # The retention pass reads, per stage, the complaints closed long enough ago
        # that have not had it yet: a range of this index, never the whole register.
        Index("ix_complaints_retention", "retention_stage", "closed_at"),
        # Numbers are the office's own: two offices may share a pattern.
        UniqueConstraint("office", "number", name="uq_complaints_office_number"),
        UniqueConstraint("office", "year", "seq", name="uq_complaints_office_year_seq"),
        # The open complaints in register order (queue; the report's open list).
        Index("ix_complaints_status_created_at", "status", "created_at"),
        # The monthly report counts a month's complaints by category, channel and
        # status from this index alone (a covering index: no table rows read).
        # It also serves every query by created_at.
        Index("ix_complaints_month_counts", "created_at", "category", "channel", "status", "office"),
        # The complaints closed in a month, and those closed after a moment that were
        # received before it (still open then), counted from the index alone.
        Index("ix_complaints_closings", "closed_at", "created_at", "status", "office"),
        # `mailflow queue` (open complaints, oldest first) reads only the open ones, in order,
        # however many closed complaints the register holds.
        Index("ix_complaints_open_created_at", "created_at", "id",
              sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL)),
    )

    hops: Mapped[list[Hop]] = relationship(back_populates="complaint", order_by="Hop.id")
    # The citizen's original mail, set as an object while both are new: the
    # complaint is inserted first, the mail (pointing to it) next, and this
    # column is filled by an UPDATE after (post_update: the two point at each other).
    source_message: Mapped[Message | None] = relationship(
        primaryjoin="Complaint.source_message_pk == Message.id", foreign_keys=[source_message_pk],
        post_update=True, viewonly=False)


keep_nik_hash(Complaint)

# `mailflow show NUMBER` and a register number in a subject match case-insensitively.
Index("ix_complaints_number_upper", func.upper(Complaint.number))


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = _office()
    direction: Mapped[str] = mapped_column(String(3))  # "in" or "out"
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    # "mid:<Message-ID>" or, for a mail without one, "sha256:<hash of the raw bytes>".
    # Unique across both directions, so our own mail coming back is recognised
    # too; per office, as one mail copied to two offices is a complaint at each.
    dedupe_key: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[bytes] = deferred(mapped_column(SealedBytes))  # sealed with a database key
    subject: Mapped[str] = mapped_column(SealedText(), default="")  # often names the citizen: sealed with a key
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    to_addrs: Mapped[str] = mapped_column(Text, default="")
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    mailbox: Mapped[str | None] = mapped_column(String(200))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    classification: Mapped[str | None] = mapped_column(String(32))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its raw bytes and addresses were erased (on request or by retention; docs/PRIVACY.md).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Set through these (not complaint_id) while the complaint is new: one flush
    # at commit then writes the complaint and everything pointing to it.
    complaint: Mapped[Complaint | None] = relationship(foreign_keys=[complaint_id])

    __table_args__ = (UniqueConstraint("office", "dedupe_key", name="uq_messages_office_dedupe_key"),)


class Hop(Base):
    __tablename__ = "hops"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = _office()
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(320))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998))
    reason: Mapped[str] = mapped_column(Text, default="")

    complaint: Mapped[Complaint | None] = relationship(back_populates="hops")
    # So that a hop can be written before its mail has been flushed (no id yet):
    # the unit of work inserts the mail first and fills message_pk.
    message: Mapped[Message | None] = relationship()

    __table_args__ = (
        Index("ix_hops_complaint_id_id", "complaint_id", "id"),
        Index("ix_hops_kind_at", "kind", "at", "office"),
        # `mailflow show`: the hops of a complaint's own mail recorded before it had a number.
        Index("ix_hops_message_pk", "message_pk"),
    )


class OutboxItem(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = _office()
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    envelope_from: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated envelope recipients
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # While "sending": the daemon process that claimed the row ("host:pid:token")
    # and when; a row whose claimer is gone was interrupted (docs/RELIABILITY.md).
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[Message] = relationship()
    complaint: Mapped[Complaint | None] = relationship()

    __table_args__ = (
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        # the per-address limit on automatic answers (intake.answers_budget_spent)
        Index("ix_outbox_recipients_created_at", "recipients", "created_at"),
    )


class MailboxState(Base):
    __tablename__ = "mailbox_state"

    office: Mapped[str] = mapped_column(String(64), primary_key=True, default=DEFAULT_OFFICE,
                                        server_default=DEFAULT_OFFICE)
    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # set by mailboxes.py
    # The last intake pass that reached the folder (daemon or worker): `mailflow workers`.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # host:pid of that process


class Counter(Base):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class StepVisit(Base):
    """One stay of a complaint at one ladder step: when it started and ended,
    its due time in working time, and whether the reminder and the breach
    action were done (each at most once per visit). The deadline checker reads
    the open visits by ``remind_at`` / ``due_at`` (indexed), never scanning
    every complaint; the monthly report reads the closed ones by ``started_at``
    (``ix_step_visits_month``). ``working_minutes`` and ``within_standard`` are
    set exactly when ``ended_at`` is."""

    __tablename__ = "step_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = _office()
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    step: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    standard_minutes: Mapped[int | None] = mapped_column(Integer)  # None for day-sized standards
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    working_minutes: Mapped[int | None] = mapped_column(Integer)  # time spent, in working minutes
    within_standard: Mapped[bool | None] = mapped_column(Boolean)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    complaint: Mapped[Complaint] = relationship()

    __table_args__ = (
        Index("ix_step_visits_open_remind", "ended_at", "reminded_at", "remind_at"),
        Index("ix_step_visits_open_due", "ended_at", "breached_at", "due_at"),
        # The monthly report's per-step durations and compliance, from the index
        # alone (covering): the visits started in a month, by step and section.
        Index("ix_step_visits_month", "started_at", "step", "working_minutes", "within_standard", "section",
              "office"),
    )


class ReportRun(Base):
    """A monthly report that was mailed (so the daemon sends each month once).

    The row is inserted in the same transaction as the report's outbox row; the
    primary key makes a second daemon's insert fail, so a month is mailed once
    (``mailflow report --send --force`` mails it again and moves ``sent_at``)."""

    __tablename__ = "report_runs"

    office: Mapped[str] = mapped_column(String(64), primary_key=True, default=DEFAULT_OFFICE,
                                        server_default=DEFAULT_OFFICE)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OAuthToken(Base):
    """The OAuth2 token set of one office's mailbox (OAuth2 mailboxes): the
    access and refresh tokens, Fernet-encrypted (``store/tokens.py``), never
    in clear. The row is what every process (daemon, workers, the CLI) on the
    database shares, and what a refresh locks, so that one process renews it."""

    __tablename__ = "oauth_tokens"

    office: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(320), primary_key=True)  # the mailbox login (imap.username)
    provider: Mapped[str] = mapped_column(String(32))
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token of the JSON token set
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the access token's, in clear for `auth status`
    scopes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessLog(Base):
    """One look at, export or erasure of personal data: who (the OS user),
    when, what (``action``: reveal, export, erase, erase-dry-run) and which
    complaints (register numbers, comma-separated). ``detail`` says how the
    person was chosen without naming them (the NIK or address masked)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    os_user: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    complaints: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class SurveyResponse(Base):
    """The satisfaction survey (SKM) of one complaint: asked once, rated once.

    The row is inserted with the survey mail, in its transaction; the unique
    complaint makes a second survey for the same complaint impossible (never
    asked twice). The citizen's first rating reply fills ``rated_at`` and the
    scores; later rating replies are logged, not recorded (the first counts,
    as one questionnaire per respondent in SKM practice). ``category`` and
    ``section`` are the complaint's when asked: the report's IKM per service
    and per section. The monthly report reads the month's ratings by
    ``rated_at`` (``ix_survey_responses_rated``)."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = _office()
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), unique=True)
    category: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overall: Mapped[int | None] = mapped_column(Integer)  # the single number 1-4, if given
    # The nine elements' scores (U1..U9 of Permenpan RB 14/2017): each element's
    # own line, else the single number; None where neither was given.
    u1: Mapped[int | None] = mapped_column(Integer)
    u2: Mapped[int | None] = mapped_column(Integer)
    u3: Mapped[int | None] = mapped_column(Integer)
    u4: Mapped[int | None] = mapped_column(Integer)
    u5: Mapped[int | None] = mapped_column(Integer)
    u6: Mapped[int | None] = mapped_column(Integer)
    u7: Mapped[int | None] = mapped_column(Integer)
    u8: Mapped[int | None] = mapped_column(Integer)
    u9: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)  # what the citizen wrote after the rating (saran)
    later_replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # rating replies not counted

    __table_args__ = (
        Index("ix_survey_responses_rated", "rated_at", "office"),
        Index("ix_survey_responses_asked", "asked_at", "office"),
    )


# The survey's nine element columns, U1..U9 in the regulation's order.
SURVEY_ELEMENTS = ("u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9")
