"""The desk as tables: ``Intake.process`` on a real SQLite file, without a
mail server. Each row is an ``.eml`` fixture in ``tests/fixtures/desk/``
named by its behaviour, and what handling it must do: the outcome, the hops
written, the mail queued (by kind) and where the complaint stands after.

Follow-ups run after ``valid_complaint.eml`` was registered; their fixtures
name the complaint's reply address, its register number and our mails'
Message-IDs with ``{placeholders}`` filled in from the database. The
integration tests (test_intake_e2e.py, test_ladder_e2e.py) prove the same
paths through Dovecot and the SMTP relay; these prove the decisions, fast.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mailflow.config.settings import load_settings
from mailflow.core.mail import MessageParseError
from mailflow.desk.delivery import Source
from mailflow.errors import MessageTooLarge
from mailflow.runner.app import build
from mailflow.store import db
from mailflow.store.models import Complaint, Hop, Message, OutboxItem
from support import TEST_ENV, write_config

FIXTURES = Path(__file__).parent / "fixtures" / "desk"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))  # a Monday, office open

REGISTERED = ("registered", "verifikasi-admin", "admin")
UNCHANGED = REGISTERED  # a follow-up that moves nothing leaves the complaint where registration put it

# fixture -> (outcome, hops of this mail, mail queued by kind, (status, step, holder) of the complaint or None)
NEW_MAIL = {
    "valid_complaint": ("registered", ["received", "parsed", "registered", "acknowledged", "forwarded"],
                        ["citizen/acknowledgement", "staff/forward"], REGISTERED),
    "hash_style_complaint": ("registered", ["received", "parsed", "registered", "acknowledged", "forwarded"],
                             ["citizen/acknowledgement", "staff/forward"], REGISTERED),
    "html_only_complaint": ("registered", ["received", "parsed", "registered", "acknowledged", "forwarded"],
                            ["citizen/acknowledgement", "staff/forward"], REGISTERED),
    "missing_nik": ("rejected", ["received", "rejected"], ["citizen/format-rejected"], None),
    "out_of_office": ("ignored", ["received", "ignored"], [], None),
    "mailing_list": ("ignored", ["received", "ignored"], [], None),
    "no_sender": ("ignored", ["received", "ignored"], [], None),
    "own_mail_came_back": ("ignored", ["received", "ignored"], [], None),
    "unknown_bounce": ("ignored", ["received", "ignored"], [], None),
    # docs/SECURITY.md: never an answer to a Reply-To, never a command or answer to an unclear sender
    "reply_to_elsewhere": ("registered", ["received", "parsed", "registered", "acknowledged", "forwarded"],
                           ["citizen/acknowledgement", "staff/forward"], REGISTERED),
    "display_name_holds_an_address": ("ignored", ["received", "ignored"], ["admin/sender-unclear"], None),
}

FOLLOW_UPS = {
    "staff_forwards_via_reply_address": ("attached", ["received", "forwarded"], ["staff/handover"],
                                         ("in_progress", "verifikasi-kasi", "kasi-identitas")),
    "staff_answers_below_min_rank": ("attached", ["received", "drafted"], ["staff/approval-request"],
                                     ("awaiting_approval", "persetujuan", "kasi-identitas")),
    "staff_command_without_token": ("refused", ["received", "refused"], ["staff/unauthorized-attempt"], UNCHANGED),
    "staff_unknown_command": ("refused", ["received", "refused"], ["staff/refused"], UNCHANGED),
    "stranger_via_reply_address": ("refused", ["received", "refused"], ["staff/unauthorized-attempt"], UNCHANGED),
    "citizen_follow_up": ("attached", ["received", "attached"], ["staff/citizen-follow-up"], UNCHANGED),
    "complainant_by_subject_only": ("noted", ["received", "noted"], ["staff/unverified-note"], UNCHANGED),
    "staff_out_of_office": ("ignored", ["received", "comment", "ignored"], ["staff/deputy-notice"], UNCHANGED),
    "bounce_of_the_acknowledgement": ("bounced", ["received", "bounced"], ["staff/bounce-notice"], UNCHANGED),
}


@pytest.fixture
def app(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'mailflow.db'}")
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    application = build(settings, clock=lambda: NOW)
    yield application
    application.close()


def handle(app, raw: bytes, uid: int = 1):
    """Handle one mail as the daemon does (one transaction); returns (outcome,
    hop kinds, outbox mail kinds) of what this mail did."""
    with app.factory() as s:
        last_hop = s.scalar(select(func.max(Hop.id))) or 0
        last_out = s.scalar(select(func.max(OutboxItem.id))) or 0
    with app.factory.begin() as s:
        outcome = app.intake.process(s, raw, Source("INBOX", 1, uid))
    with app.factory() as s:
        hops = list(s.scalars(select(Hop.kind).where(Hop.id > last_hop).order_by(Hop.id)))
        kinds = list(s.scalars(select(OutboxItem.kind).where(OutboxItem.id > last_out).order_by(OutboxItem.id)))
    return outcome, hops, kinds


def where(app) -> tuple[str, str, str] | None:
    with app.factory() as s:
        c = s.scalar(select(Complaint).order_by(Complaint.id.desc()).limit(1))
        return None if c is None else (c.status, c.step, c.holder_role)


def fixture(name: str, **values: str) -> bytes:
    text = (FIXTURES / f"{name}.eml").read_text("utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.replace("\n", "\r\n").encode("utf-8")


@pytest.mark.parametrize("name", list(NEW_MAIL))
def test_new_mail(app, name):
    action, hops, kinds, state = NEW_MAIL[name]
    outcome, written, queued = handle(app, fixture(name))
    assert (outcome.action, written, queued) == (action, hops, kinds)
    assert where(app) == state
    with app.factory() as s:  # archived, whatever happened to it
        assert s.get(Message, outcome.message_pk).raw == fixture(name)


def placeholders(app) -> dict[str, str]:
    """What a reply to the registered complaint's mails would carry."""
    with app.factory() as s:
        c = s.scalar(select(Complaint).order_by(Complaint.id.desc()).limit(1))
        ours = {m.classification: m for m in s.scalars(select(Message).where(Message.direction == "out"))}
        return dict(reply_address=app.letters.reply_address(c), number=c.number,
                    ack_id=ours["citizen/acknowledgement"].message_id, ack_subject=ours["citizen/acknowledgement"].subject,
                    forward_id=ours["staff/forward"].message_id, forward_subject=ours["staff/forward"].subject)


@pytest.mark.parametrize("name", list(FOLLOW_UPS))
def test_follow_up(app, name):
    action, hops, kinds, state = FOLLOW_UPS[name]
    assert handle(app, fixture("valid_complaint"))[0].action == "registered"
    outcome, written, queued = handle(app, fixture(name, **placeholders(app)), uid=2)
    assert (outcome.action, written, queued) == (action, hops, kinds)
    assert where(app) == state
    with app.factory() as s:  # filed on the complaint
        assert s.get(Message, outcome.message_pk).complaint_id is not None


def test_automatic_mail_goes_to_the_from_address_only_and_a_reply_to_is_kept_for_staff(app):
    handle(app, fixture("reply_to_elsewhere"))
    with app.factory() as s:
        ack = s.scalar(select(OutboxItem).where(OutboxItem.kind == "citizen/acknowledgement"))
        forward = s.scalar(select(Message.raw).where(Message.classification == "staff/forward"))
        complaint = s.scalar(select(Complaint))
    assert ack.recipients == "siti.aminah@warga.test"
    assert complaint.reply_to == "iklan@spam.test"
    assert b"iklan@spam.test" in forward and b"hanya membalas ke alamat pengirim" in forward


def test_the_same_mail_twice_is_handled_once(app):
    raw = fixture("valid_complaint")
    assert handle(app, raw)[0].action == "registered"
    outcome, hops, kinds = handle(app, raw, uid=2)
    assert (outcome.action, hops, kinds) == ("duplicate", ["ignored"], [])
    with app.factory() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1


def test_mail_it_cannot_handle_raises_for_the_quarantine(app):
    with app.factory.begin() as s, pytest.raises(MessageTooLarge):
        app.intake.process(s, fixture("valid_complaint"), Source("INBOX", 1, 1, size=10**9))
    deep = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(200))
    with app.factory.begin() as s, pytest.raises(MessageParseError):
        app.intake.process(s, b"From: a@warga.test\r\nMIME-Version: 1.0\r\n" + deep, Source("INBOX", 1, 2))
    with app.factory.begin() as s:
        outcome = app.intake.quarantine(s, b"From: a@warga.test\r\n\r\nrusak", Source("INBOX", 1, 3), "test")
    assert outcome.action == "quarantined"
    with app.factory() as s:
        assert [m.kind for m in s.scalars(select(OutboxItem))] == ["admin/quarantine-alert"]
