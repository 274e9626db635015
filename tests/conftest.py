"""Shared pytest fixtures."""

from __future__ import annotations

import email
import os
import re
from email import policy

import pytest

# pytest-xdist (scripts/test runs the tests that need no mail server on both
# cores) gives its workers COLUMNS=80; the command line fits its tables to
# COLUMNS, so a test sees the width of a plain run (no terminal: 100) unless
# it sets COLUMNS itself.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["COLUMNS"] = "100"


def pytest_addoption(parser):
    parser.addoption("--chaos-long", action="store_true",
                     help="run the long chaos test (N = 2000 complaints, K = 50 SIGKILLs; see tests/test_chaos.py)")

# --------------------------------------------------------------------------
# Local real mail servers (devstack/mailstack.py, scripts/mailstack).
#
#   mailstack  session-scoped: Dovecot (IMAP/IMAPS/LMTP) + the aiosmtpd SMTP
#              front, started once per test session (per xdist worker) in a
#              tmp dir on free loopback ports, stopped at the end.
#   mail       function-scoped: the same stack after reset() -- every mailbox
#              of every user empty, created folders gone.
#
# Tests that use them are marked @pytest.mark.integration.  If Dovecot can't
# be installed or started the tests fail (with the reason), never skip.
# --------------------------------------------------------------------------
_mailstack_failure: str | None = None


@pytest.fixture(scope="session")
def mailstack(tmp_path_factory):
    global _mailstack_failure
    from devstack.mailstack import MailStack, MailStackError

    if _mailstack_failure is not None:  # don't retry the install for every test
        pytest.fail(_mailstack_failure, pytrace=False)
    stack = MailStack()
    try:
        stack.start(tmp_path_factory.mktemp("mailstack"))
    except (MailStackError, OSError) as exc:
        _mailstack_failure = f"the local mail stack (Dovecot + SMTP relay) could not start: {exc}"
        stack.stop()
        pytest.fail(_mailstack_failure, pytrace=False)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def oauthstack(tmp_path_factory):
    """A second stack, with the OAuth2 server (devstack/oauthserver.py): its
    Dovecot and SMTP front also take XOAUTH2 tokens the server issued
    (checked by introspection); passwords work as on ``mailstack``."""
    from devstack.mailstack import MailStack, MailStackError

    stack = MailStack(oauth=True)
    try:
        stack.start(tmp_path_factory.mktemp("oauthstack"))
    except (MailStackError, OSError) as exc:
        stack.stop()
        pytest.fail(f"the local mail stack with its OAuth2 server could not start: {exc}", pytrace=False)
    yield stack
    stack.stop()


@pytest.fixture
def oauth_mail(oauthstack):
    """``oauthstack`` with empty mailboxes and its OAuth2 server back to its
    defaults (tokens live an hour, sign-ins approved at once)."""
    oauthstack.reset()
    oauthstack.oauth_control(lifetime=3600, auto_approve=True, token_status=0)
    yield oauthstack


@pytest.fixture
def mail(mailstack):
    mailstack.reset()
    yield mailstack
    quoted_mail_to_citizens(mailstack)


# What no citizen may ever read in a mail mailflow sent them (docs/SECURITY.md,
# promise 9): an attribution line of a quoted mail, or quoted lines.
_ATTRIBUTION = re.compile(r"(?:menulis|wrote|schrieb|a écrit)\s*:\s*$", re.I)


def quoted_mail_to_citizens(stack) -> None:
    """After every test on the mail stack: every mail to a citizen is free of quoted mail."""
    for user in stack.users:
        if not user.startswith("warga"):
            continue
        for raw in stack.messages(user):
            msg = email.message_from_bytes(raw, policy=policy.default)
            if not str(msg.get("X-Mailflow-Kind", "")).startswith("citizen/"):
                continue
            body = msg.get_body(("plain",)).get_content()
            bad = [line for line in body.splitlines() if _ATTRIBUTION.search(line) or line.startswith(">")]
            assert not bad, f"{user} received quoted mail in {msg['X-Mailflow-Kind']}: {bad}"


# --------------------------------------------------------------------------
# mailflow on the stack: `desk` = (stack, app, daemon) on a fresh SQLite
# database; `make_desk(settings=None, extra="")` builds another one (sharing
# a database when given the settings of an existing desk; `clock=` a callable
# returning an aware datetime, to run the desk at a chosen, movable time).
# --------------------------------------------------------------------------
from support import TEST_ENV, db_url, write_config  # noqa: E402,F401  (db_url is a fixture)


@pytest.fixture
def make_desk(mail, tmp_path):
    from devstack.config import migrated_settings
    from mailflow.runner.app import build

    apps = []

    def make(settings=None, extra: str = "", clock=None, **config):
        where = tmp_path / f"desk{len(apps)}"
        where.mkdir()
        url = settings.database_url if settings is not None else f"sqlite:///{where / 'mailflow.db'}"
        config.setdefault("imap_port", mail.imap_port)
        config.setdefault("smtp_port", mail.smtp_port)
        new = migrated_settings(write_config(where, db_url=url, extra=extra, **config), TEST_ENV)
        app = build(new) if clock is None else build(new, clock=clock)  # clock: an injected "now"
        daemon = app.daemon()
        apps.append((app, daemon))
        return mail, app, daemon

    yield make
    for app, daemon in apps:
        daemon.mailbox.close()
        app.close()


@pytest.fixture
def desk(make_desk):
    return make_desk()
