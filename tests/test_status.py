"""``mailflow status`` on SQLite, without a mail server: what a monitor reads
(the exit code and --json) for each state the database can record."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from devstack.system import free_port
from mailflow.config.settings import load_settings
from mailflow.desk.delivery import Source
from mailflow.errors import CredentialError
from mailflow.runner.app import build
from mailflow.runner.sender import Sender
from mailflow.store import db, mailboxes
from mailflow.store.models import OutboxItem
from support import TEST_ENV, complaint_mail, mailflow_at, write_config

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Bantul


def looked_at(app, when: datetime) -> None:
    """The daemon's successful look at the mailbox at ``when``."""
    with app.factory.begin() as s:
        mailboxes.checkpoint(s, app.settings.office.key, app.settings.imap.folder, 7, when, by="test:1")


def failed_outbox_row(app, when: datetime) -> None:
    app.intake.clock = lambda: when
    with app.factory.begin() as s:
        app.intake.process(s, complaint_mail(message_id="<c1@warga.test>"), Source("INBOX", 7, 1))
    with app.factory.begin() as s:
        s.execute(update(OutboxItem).where(OutboxItem.id == 1).values(state="failed", attempts=8))


def imap_login_refused(app, when: datetime) -> None:
    daemon = app.daemon()
    daemon.alerts.clock = lambda: when
    daemon.alerts.failed(CredentialError("IMAP login as 'aduan' on 127.0.0.1:143 was refused", "IMAP"))


def smtp_unreachable(app, when: datetime) -> None:
    daemon = app.daemon()
    daemon.alerts.clock = lambda: when
    daemon.alerts.unreachable("SMTP", ConnectionRefusedError(111, "Connection refused"))


def quarantined(app, when: datetime) -> None:
    app.intake.clock = lambda: when
    with app.factory.begin() as s:
        app.intake.quarantine(s, complaint_mail(message_id="<q1@warga.test>"), Source("INBOX", 7, 2), "boom")


# Each case: what happened (oldest first), the expected status, and a word of the reason.
CASES = {
    "healthy": ([(looked_at, -1)], "healthy", None),
    "failed outbox row": ([(failed_outbox_row, -30), (looked_at, -1)], "degraded", "outbox row(s) failed"),
    "login refused, mailbox still fresh": ([(looked_at, -3), (imap_login_refused, -2)], "degraded",
                                           "IMAP login failed since"),
    "login refused, then a successful look": ([(imap_login_refused, -3), (looked_at, -1)], "healthy", None),
    "mailbox not looked at for long": ([(looked_at, -30)], "degraded", "last looked at"),
    "not looked at while the login is refused": ([(looked_at, -30), (imap_login_refused, -29)], "down",
                                                  "while a mail-server problem is recorded"),
    "SMTP unreachable, mailbox still fresh": ([(looked_at, -3), (smtp_unreachable, -2)], "degraded",
                                              "SMTP unreachable since"),
    "not looked at while SMTP is unreachable": ([(looked_at, -30), (smtp_unreachable, -29)], "down",
                                                "while a mail-server problem is recorded"),
    "quarantine in the last 24 h": ([(quarantined, -60), (looked_at, -1)], "degraded", "quarantined in the last 24 h"),
    "quarantine two days ago": ([(quarantined, -2 * 24 * 60), (looked_at, -1)], "healthy", None),
}


@pytest.fixture
def office(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", poll_interval=60)
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    app = build(settings)
    yield path, app
    app.close()


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_status_says_the_state_with_its_exit_code(office, case):
    path, app = office
    events, expected, reason = CASES[case]
    for event, minutes in events:
        event(app, NOW + timedelta(minutes=minutes))
    r = mailflow_at(lambda: NOW, "status", "--json", "--config", str(path))
    report = json.loads(r.stdout)
    assert (report["status"], r.returncode) == (expected, {"healthy": 0, "degraded": 1, "down": 2}[expected]), r.stdout
    if reason is None:
        assert report["reasons"] == []
    else:
        assert any(reason in line for line in report["reasons"]), report["reasons"]
    (desk,) = report["offices"]
    assert desk["mailbox"]["stale_after_seconds"] == 300  # max(3 x 60 s, 5 min)
    text = mailflow_at(lambda: NOW, "status", "--config", str(path))
    assert text.returncode == r.returncode and f"status:   {expected.upper()}" in text.stdout


def test_status_counts_the_outbox_backlog_and_names_the_refused_login(office):
    path, app = office
    failed_outbox_row(app, NOW - timedelta(minutes=30))  # 3 rows: 1 failed, 2 pending
    with app.factory.begin() as s:
        s.execute(update(OutboxItem).where(OutboxItem.id == 2).values(attempts=1))
    looked_at(app, NOW - timedelta(minutes=3))
    imap_login_refused(app, NOW - timedelta(minutes=2))
    report = json.loads(mailflow_at(lambda: NOW, "status", "--json", "--config", str(path)).stdout)
    (desk,) = report["offices"]
    outbox = desk["outbox"]
    assert (outbox["pending"], outbox["deferred"], outbox["failed"]) == (2, 1, 1)
    assert outbox["oldest_pending"] == (NOW - timedelta(minutes=30)).isoformat()
    refused = desk["imap"]["login_failed"]
    assert refused["since"] == (NOW - timedelta(minutes=2)).isoformat() and "127.0.0.1:143" in refused["reason"]
    assert desk["smtp"]["login_failed"] is None
    assert desk["mailbox"]["checked_by"] == "test:1"


def test_status_is_down_on_an_old_schema(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine, "0009")
    engine.dispose()
    r = mailflow_at(lambda: NOW, "status", "--json", "--config", str(path))
    report = json.loads(r.stdout)
    assert r.returncode == 2 and report["status"] == "down"
    assert report["database"]["schema"] == "0009" and report["database"]["needed"] == db.head_revision()
    assert "mailflow db upgrade" in report["reasons"][0]


def test_status_is_down_when_the_database_cannot_be_reached(tmp_path):
    path = write_config(tmp_path, db_url="postgresql+psycopg://mailflow:sekret@127.0.0.1:1/mailflow")
    r = mailflow_at(lambda: NOW, "status", "--json", "--config", str(path))
    report = json.loads(r.stdout)
    assert r.returncode == 2 and report["status"] == "down" and not report["database"]["reachable"]
    assert "sekret" not in r.stdout and "127.0.0.1:1" in report["database"]["error"]


def test_runs_sender_thread_records_an_smtp_server_that_refuses_connections(tmp_path):
    """`mailflow run` drains the outbox in its sender thread: mail that cannot
    be sent because nothing listens on the SMTP port waits, and the outage is
    recorded once for `status`, as the IMAP one is."""
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", poll_interval=60,
                        smtp_port=free_port("127.0.0.1"))
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    app = build(settings, clock=lambda: NOW)
    try:
        with app.factory.begin() as s:
            app.intake.process(s, complaint_mail(message_id="<c1@warga.test>"), Source("INBOX", 7, 1))
        looked_at(app, NOW)
        daemon = app.daemon()
        stop = threading.Event()
        sender = Sender(app.outbox, stop, daemon._sent_probe, None, daemon.alerts)
        sender.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                report = json.loads(mailflow_at(lambda: NOW, "status", "--json", "--config", str(path)).stdout)
                if report["offices"][0]["smtp"]["unreachable"]:
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            sender.wake()
            sender.join(20)
        (desk,) = report["offices"]
        assert report["status"] == "degraded", report["reasons"]
        assert desk["smtp"]["unreachable"]["since"] == NOW.isoformat()
        assert "SMTPConnectError" in desk["smtp"]["unreachable"]["reason"]
        assert desk["outbox"]["pending"] == 2 and desk["outbox"]["failed"] == 0  # the mail waits
        with app.factory() as s:
            hops = s.execute(text("SELECT count(*) FROM hops WHERE kind = 'server-unreachable'")).scalar()
        assert hops == 1  # once per outage, however often the thread tried
    finally:
        app.close()
