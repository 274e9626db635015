"""``mailflow mail list|show|retry``: inbound mail that did not become a
complaint, seen and retried from the command line. A desk on a real SQLite
file, mail handled through ``Daemon.handle`` (the daemon's own handling of one
mail: transaction, time budget, quarantine) without a mail server; the CLI
runs in this process on a fake clock (``support.mailflow_at``). The same story
on the real mail stack is in test_intake_e2e.py."""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mailflow.config.settings import load_settings
from mailflow.desk.delivery import Source
from mailflow.runner.app import build
from mailflow.store import db, queries
from mailflow.store.models import Complaint, Hop, Message, OutboxItem
from support import INVALID_BODY, MAIL_DATE, TEST_ENV, VALID_BODY, complaint_mail, mailflow_at, write_config

FIXTURES = Path(__file__).parent / "fixtures" / "desk"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Asia/Jakarta"))  # a Monday, office open
TIGHT = "[limits]\nmax_mime_parts = 10\n"  # the "bug" a retry happens after: a limit too tight for real mail


def mime_heavy(message_id: str, sender: str = "warga5@dukcapil.test") -> bytes:
    """A valid complaint with twelve attachments: over a limit of ten MIME parts."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "aduan@dukcapil.test", "Aduan KTP-el \x1b[31m3402014501900001"
    msg["Date"], msg["Message-ID"] = "Mon, 23 Nov 2026 09:00:00 +0700", message_id
    msg.set_content(VALID_BODY)
    for i in range(12):
        msg.add_attachment(b"%%PDF-1.4 scan %d" % i, maintype="application", subtype="pdf", filename=f"scan{i}.pdf")
    return msg.as_bytes()


def cli(*args: str):
    return mailflow_at(lambda: NOW, *args)


@pytest.fixture
def desk(tmp_path):
    """A config whose limits were too tight (``tight``), the config as fixed
    (``fixed``), one database, and mail of every outcome handled under the tight one."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    (tmp_path / "tight").mkdir()
    (tmp_path / "fixed").mkdir()
    tight = write_config(tmp_path / "tight", db_url=url, extra=TIGHT)
    fixed = write_config(tmp_path / "fixed", db_url=url)
    settings = load_settings(tight, env=TEST_ENV)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    app = build(settings, clock=lambda: NOW)
    daemon = app.daemon()
    outcomes = {}
    for name, raw in (
        ("registered", complaint_mail(message_id="<ok@warga.test>", date=MAIL_DATE)),
        ("rejected", complaint_mail(INVALID_BODY, sender="warga2@dukcapil.test", message_id="<bad@warga.test>")),
        ("ignored", (FIXTURES / "out_of_office.eml").read_bytes()),
        ("quarantined", mime_heavy("<heavy@warga.test>")),
    ):
        outcomes[name] = daemon.handle(raw, Source("INBOX", 1, len(outcomes) + 1))
    assert {k: o.action for k, o in outcomes.items()} == {k: k for k in outcomes}
    ids = {k: o.message_pk for k, o in outcomes.items()}
    yield app, tight, fixed, ids
    app.close()


def listed(config: Path, *args: str) -> list[dict]:
    r = cli("mail", "list", "--json", "--config", str(config), *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def count(app, model, *where) -> int:
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("kind, expected", [
    ("quarantined", ["quarantined"]),
    ("rejected", ["rejected"]),
    ("ignored", ["ignored"]),
    ("bounced", []),
    ("all", ["quarantined", "ignored", "rejected"]),  # newest outcome first; the registered one is not listed
])
def test_list_by_kind(desk, kind, expected):
    app, tight, _, ids = desk
    rows = listed(tight, "--kind", kind)
    assert [r["outcome"] for r in rows] == expected
    assert [r["id"] for r in rows] == [ids[k] for k in expected]


def test_list_table_masks_and_cleans_and_names_the_reason(desk):
    _, tight, _, ids = desk
    out = cli("mail", "list", "--kind", "quarantined", "--config", str(tight)).stdout
    assert str(ids["quarantined"]) in out and "warga5@dukcapil.test" in out and "2026-11-23 09:30" in out
    assert "MIME" in out or "parts" in out  # the reason, from the quarantined hop
    assert "3402014501900001" not in out and "340201******0001" in out and "\x1b" not in out
    assert "office" not in out.splitlines()[0]  # one office: no office column, as in `queue`
    bad = cli("mail", "list", "--kind", "lost", "--config", str(tight))
    assert bad.returncode == 2 and "--kind" in bad.stderr
    assert cli("mail", "list", "--kind", "bounced", "--config", str(tight)).stdout.startswith("no inbound mail")


def test_show_masks_unless_revealed_and_prints_no_control_characters(desk):
    _, tight, _, ids = desk
    r = cli("mail", "show", str(ids["rejected"]), "--config", str(tight))
    assert r.returncode == 0, r.stderr
    assert "format ditolak" in r.stdout and "Budi Santoso" in r.stdout and "warga2@dukcapil.test" in r.stdout
    assert "Format aduan ditolak" in r.stdout  # the hop log
    heavy = cli("mail", "show", str(ids["quarantined"]), "--config", str(tight)).stdout
    assert "dikarantina" in heavy and "\x1b" not in heavy
    assert "3402014501900001" not in heavy and "340201******0001" in heavy
    assert "Isi surel tidak dapat dibaca" in heavy  # over the MIME limit: shown as it is, cleaned
    revealed = cli("mail", "show", str(ids["quarantined"]), "--reveal", "--config", str(tight)).stdout
    assert "3402014501900001" in revealed and "\x1b" not in revealed
    fixed_view = cli("mail", "show", str(ids["quarantined"]), "--config", str(desk[2])).stdout
    assert "Lampiran: scan0.pdf" in fixed_view and "Siti Aminah" in fixed_view
    missing = cli("mail", "show", "999", "--config", str(tight))
    assert missing.returncode == 2 and "no inbound mail #999" in missing.stderr


def test_show_json_is_the_whole_mail_masked_unless_revealed(desk):
    _, tight, _, ids = desk
    r = cli("mail", "show", str(ids["quarantined"]), "--json", "--config", str(tight))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["id"] == ids["quarantined"] and data["outcome"] == "quarantined" and data["unreadable"]
    assert data["from"] and "warga5@dukcapil.test" in data["from"] and "quarantined" in [h["kind"] for h in data["hops"]]
    assert "3402014501900001" not in r.stdout and "340201******0001" in data["text"] and "\x1b" not in r.stdout
    assert "3402014501900001" in cli("mail", "show", str(ids["quarantined"]), "--json", "--reveal", "--config",
                                     str(tight)).stdout
    fixed = json.loads(cli("mail", "show", str(ids["quarantined"]), "--json", "--config", str(desk[2])).stdout)
    assert fixed["unreadable"] is None and "scan0.pdf" in [a["filename"] for a in fixed["attachments"]]


def test_retry_after_the_fix_registers_once(desk):
    app, tight, fixed, ids = desk
    pk = ids["quarantined"]
    r = cli("mail", "retry", str(pk), "--config", str(fixed))
    assert r.returncode == 0, r.stderr
    assert "registered as ADU/2026/000002" in r.stdout
    assert listed(fixed, "--kind", "quarantined") == []
    assert pk not in [row["id"] for row in listed(fixed)]
    again = cli("mail", "retry", str(pk), "--config", str(fixed))
    assert again.returncode == 0 and "already on complaint ADU/2026/000002: nothing done" in again.stdout
    assert count(app, Complaint) == 2
    with app.factory() as s:
        acks = s.scalar(select(func.count()).select_from(OutboxItem).join(Complaint)
                        .where(OutboxItem.kind == "citizen/acknowledgement", Complaint.number == "ADU/2026/000002"))
        kinds = [h.kind for h in s.scalars(select(Hop).where(Hop.message_pk == pk).order_by(Hop.id))]
        message = s.get(Message, pk)
        assert (message.mailbox, message.uid) == ("INBOX", 4)  # where the IMAP mail was: untouched
    assert acks == 1
    assert kinds[:4] == ["quarantined", "retried", "received", "parsed"] and "registered" in kinds
    shown = cli("mail", "show", str(pk), "--config", str(fixed)).stdout
    assert "Diproses ulang oleh admin" in shown and "ADU/2026/000002" in shown


def test_retry_that_still_fails_is_quarantined_again_without_an_alert(desk):
    app, tight, _, ids = desk
    pk = ids["quarantined"]
    alerts = count(app, OutboxItem, OutboxItem.kind == "admin/quarantine-alert")
    r = cli("mail", "retry", str(pk), "--config", str(tight))
    assert r.returncode == 0, r.stderr
    assert f"mail #{pk}: quarantined" in r.stdout
    assert count(app, OutboxItem, OutboxItem.kind == "admin/quarantine-alert") == alerts  # they are at the terminal
    (row,) = listed(tight, "--kind", "quarantined")
    assert (row["id"], row["retried"]) == (pk, 1) and "IMAP mail left where it was" in row["reason"]
    assert count(app, Complaint) == 1


def test_retry_of_rejected_and_ignored_mail_is_handled_again(desk):
    app, _, fixed, ids = desk
    rejections = count(app, OutboxItem, OutboxItem.kind == "citizen/format-rejected")
    r = cli("mail", "retry", str(ids["rejected"]), "--config", str(fixed))
    assert r.returncode == 0 and "rejected" in r.stdout, r.stdout + r.stderr
    assert count(app, OutboxItem, OutboxItem.kind == "citizen/format-rejected") == rejections + 1
    assert [row["retried"] for row in listed(fixed, "--kind", "rejected")] == [1]
    ignored = cli("mail", "retry", str(ids["ignored"]), "--config", str(fixed))
    assert ignored.returncode == 0 and "ignored" in ignored.stdout
    assert count(app, Complaint) == 1


def test_retry_refuses_what_it_cannot_retry(desk):
    app, _, fixed, ids = desk
    registered = cli("mail", "retry", str(ids["registered"]), "--config", str(fixed))
    assert registered.returncode == 0 and "already on complaint ADU/2026/000001: nothing done" in registered.stdout
    with app.factory() as s:
        outbound = s.scalar(select(Message.id).where(Message.direction == "out").limit(1))
    assert "no inbound mail" in cli("mail", "retry", str(outbound), "--config", str(fixed)).stderr
    # over the size limit: only its header was archived, so it cannot be handled from the archive
    big = complaint_mail(message_id="<big@warga.test>", sender="warga7@dukcapil.test")
    head = big.split(b"\n\n", 1)[0] + b"\n\n"
    outcome = app.daemon().handle(head, Source("INBOX", 1, 9, size=app.settings.limits.max_message_bytes + 1))
    assert outcome.action == "quarantined"
    r = cli("mail", "retry", str(outcome.message_pk), "--config", str(fixed))
    assert r.returncode == 2 and "only the header" in r.stderr and "INBOX" in r.stderr
    assert count(app, Complaint) == 1


@pytest.mark.parametrize("kinds, outcome", [
    (["received", "parsed", "registered", "acknowledged", "forwarded"], "registered"),
    (["received", "rejected"], "rejected"),
    (["received", "rejected", "ignored"], "rejected"),  # a rejection that got no reply is a rejection
    (["received", "ignored"], "ignored"),
    (["received", "bounced"], "bounced"),
    (["received", "refused", "ignored"], "refused"),
    (["received", "attached"], "handled"),
    (["quarantined"], "quarantined"),
    (["quarantined", "retried", "quarantined"], "quarantined"),
    (["quarantined", "retried", "received", "parsed", "registered"], "registered"),
    (["received", "rejected", "retried", "received", "parsed", "registered"], "registered"),
    (["received", "ignored", "quarantined"], "quarantined"),
])
def test_the_outcome_of_a_mail_is_its_last_attempts(kinds, outcome):
    assert queries.mail_outcome(kinds) == outcome


def test_retries_at_once_register_the_mail_once(db_url, tmp_path):
    """Four admins (or an admin and the daemon) retrying the same quarantined
    mail at the same moment, each on its own engine: one registers it, the
    others find it on its complaint (the row is read again under FOR UPDATE)."""
    import threading

    (tmp_path / "tight").mkdir()
    (tmp_path / "fixed").mkdir()
    tight = load_settings(write_config(tmp_path / "tight", db_url=db_url, extra=TIGHT), env=TEST_ENV)
    fixed = load_settings(write_config(tmp_path / "fixed", db_url=db_url), env=TEST_ENV)
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    engine.dispose()
    raw = mime_heavy("<race@warga.test>")
    first = build(tight, clock=lambda: NOW)
    assert first.daemon().handle(raw, Source("INBOX", 1, 1)).action == "quarantined"
    apps = [build(fixed, clock=lambda: NOW) for _ in range(4)]
    start, actions = threading.Barrier(len(apps)), []

    def retry(app):
        start.wait()
        actions.append(app.daemon().handle(raw, Source(retried_by="admin (test)")).action)

    threads = [threading.Thread(target=retry, args=(app,)) for app in apps]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(actions) == ["duplicate"] * 3 + ["registered"]
        assert count(first, Complaint) == 1
        assert count(first, OutboxItem, OutboxItem.kind == "citizen/acknowledgement") == 1
    finally:
        for app in (first, *apps):
            app.close()
