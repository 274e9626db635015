"""``mailflow status --json`` on the real mail stack (Dovecot + the SMTP relay):
a refused IMAP login, a dead IMAP server, a dead SMTP server and a mail the
relay refuses for good, each recorded by a real pass of the daemon and
reported as such."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devstack.config import migrated_settings
from devstack.system import free_port
from mailflow.errors import CredentialError, MailServerError
from mailflow.runner.app import build
from support import Clock, complaint_mail, mailflow_at, write_config

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Bantul


def status(clock: Clock, path) -> tuple[int, dict]:
    r = mailflow_at(clock, "status", "--json", "--config", str(path))
    return r.returncode, json.loads(r.stdout)


def broken_desk(tmp_path, stack, url: str, clock: Clock, name: str, env: dict, **config):
    """The same office on the same database, but with a broken IMAP set-up."""
    where = tmp_path / name
    where.mkdir()
    settings = migrated_settings(write_config(where, db_url=url, imap_port=config.pop("imap_port", stack.imap_port),
                                              smtp_port=config.pop("smtp_port", stack.smtp_port), **config), env)
    return build(settings, clock=clock)


def test_status_reports_a_wrong_password_a_dead_server_and_a_refused_mail(make_desk, tmp_path):
    clock = Clock(T0)
    stack, app, daemon = make_desk(clock=clock)
    path = app.settings.path
    url = app.settings.database_url

    # A good pass: healthy.
    daemon.run_once()
    code, report = status(clock, path)
    assert (code, report["status"]) == (0, "healthy"), report["reasons"]

    # 1. A wrong IMAP password (the variable the config names holds the wrong one): the pass records it.
    clock.now = T0 + timedelta(minutes=1)
    wrong = broken_desk(tmp_path, stack, url, clock, "wrong", {"MAILFLOW_WRONG_PW": "not-the-password"},
                        password_env="MAILFLOW_WRONG_PW")
    with pytest.raises(CredentialError):
        wrong.daemon().run_once(send=False)
    wrong.close()
    code, report = status(clock, path)
    (desk,) = report["offices"]
    assert (code, report["status"]) == (1, "degraded"), report["reasons"]
    assert desk["imap"]["login_failed"]["since"] == clock.now.isoformat()
    assert desk["imap"]["unreachable"] is None and desk["smtp"]["login_failed"] is None
    # Not looked at for longer than max(3 x poll_interval, 5 min) while the login is refused: down.
    clock.now = T0 + timedelta(minutes=7)
    code, report = status(clock, path)
    assert (code, report["status"]) == (2, "down"), report["reasons"]
    # The right password again: a good pass clears it.
    daemon.run_once()
    code, report = status(clock, path)
    assert (code, report["status"]) == (0, "healthy"), report["reasons"]

    # 2. A dead IMAP server (nothing listens on the port): recorded as unreachable.
    clock.now = T0 + timedelta(minutes=8)
    dead = broken_desk(tmp_path, stack, url, clock, "dead", {"TEST_IMAP_PASSWORD": "secret"},
                       imap_port=free_port("127.0.0.1"))
    with pytest.raises(MailServerError):
        dead.daemon().run_once(send=False)
    dead.close()
    code, report = status(clock, path)
    (desk,) = report["offices"]
    assert (code, report["status"]) == (1, "degraded"), report["reasons"]
    assert desk["imap"]["unreachable"]["since"] == clock.now.isoformat()
    assert "ConnectionRefusedError" in desk["imap"]["unreachable"]["reason"] or "refused" in \
        desk["imap"]["unreachable"]["reason"].lower()
    assert desk["imap"]["login_failed"] is None
    clock.now = T0 + timedelta(minutes=20)
    code, report = status(clock, path)
    assert (code, report["status"]) == (2, "down"), report["reasons"]
    daemon.run_once()
    assert status(clock, path)[0] == 0

    # 3. A dead SMTP server (nothing listens on its port): the mail of a complaint taken in
    # waits in the outbox, and the server is recorded as unreachable, like the IMAP one.
    stack.send(complaint_mail(sender="warga2@dukcapil.test", message_id="<status-2@warga.test>"),
               "warga2@dukcapil.test", ["aduan@dukcapil.test"])
    clock.now = T0 + timedelta(minutes=21)
    no_smtp = broken_desk(tmp_path, stack, url, clock, "nosmtp", {"TEST_IMAP_PASSWORD": "secret"},
                          smtp_port=free_port("127.0.0.1"))
    drained = no_smtp.daemon().run_once().drained
    no_smtp.close()
    assert drained.sent == 0 and drained.deferred >= 2 and drained.unreachable is not None
    code, report = status(clock, path)
    (desk,) = report["offices"]
    assert (code, report["status"]) == (1, "degraded"), report["reasons"]
    assert desk["smtp"]["unreachable"]["since"] == clock.now.isoformat()
    reason = desk["smtp"]["unreachable"]["reason"]
    assert reason.startswith("SMTP 127.0.0.1:") and "SMTPConnectError" in reason and "111" in reason, reason
    assert desk["smtp"]["login_failed"] is None and desk["imap"]["unreachable"] is None
    assert any("SMTP unreachable since" in r for r in report["reasons"]), report["reasons"]
    text = mailflow_at(clock, "status", "--config", str(path))
    assert "SMTP unreachable" in text.stdout, text.stdout
    # The server back: once the deferred mail comes due and goes out, the problem is over.
    clock.now = T0 + timedelta(minutes=40)
    assert daemon.run_once().drained.sent >= 2
    code, report = status(clock, path)
    assert (code, report["status"]) == (0, "healthy"), report["reasons"]

    # 4. The relay refuses the citizen's address for good: the acknowledgement fails, the rest goes out.
    stack.send(complaint_mail(sender="warga1@dukcapil.test", message_id="<status-1@warga.test>"),
               "warga1@dukcapil.test", ["aduan@dukcapil.test"])
    stack.relay_control(faults=[{"stage": "rcpt", "reply": "550 5.1.1 no such user", "match": "warga1@"}])
    clock.now = T0 + timedelta(minutes=41)
    result = daemon.run_once()
    assert result.drained.failed == 1 and result.drained.sent >= 1
    code, report = status(clock, path)
    (desk,) = report["offices"]
    assert (code, report["status"]) == (1, "degraded"), report["reasons"]
    assert desk["outbox"]["failed"] == 1 and desk["outbox"]["pending"] == 0
    assert any("outbox row(s) failed" in r for r in report["reasons"])
    assert desk["smtp"]["worked_at"] == clock.now.isoformat()
