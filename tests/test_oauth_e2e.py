"""OAuth2 mailboxes end to end, against the real local set-up: the stack's
OAuth2 server (devstack/oauthserver.py) issuing, expiring, refreshing and
revoking tokens; Dovecot's oauth2 passdb and the SMTP front checking them by
introspection. The daemon logs in with XOAUTH2 through a refresh, a token the
server expired early, and a revoked refresh token; `mailflow auth login`
runs as a subprocess through each of its three flows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from devstack.config import migrated_settings, write_config
from mailflow.core.vocabulary import MailKind
from mailflow.errors import MailServerError, TokenRefreshError
from mailflow.runner.app import build
from mailflow.store import tokens as token_store
from mailflow.store.models import OAuthToken, OutboxItem
from support import REPO, TEST_ENV, complaint_mail, mailflow_at

pytestmark = pytest.mark.integration

KEY = "hJb0nxTNH_3lJ5m6bnRkqYtR2bq0oXxW0S3rj1wVUn4="  # a Fernet key for the tests' token sets
TOKEN = re.compile(r"\b[ar]t-[A-Za-z0-9_-]{20,}")  # an access or refresh token of devstack/oauthserver.py
ENV = {**TEST_ENV, "TEST_TOKEN_KEY": KEY, "TEST_CLIENT_SECRET": "test-client-secret"}


def oauth_config(where: Path, stack, *, flow: str = "device", provider: str = "microsoft",
                 margin: float = 1, extra: str = "", db_url: str | None = None, key_file: Path | None = None) -> Path:
    """mailflow.toml for the office's mailbox logging in with XOAUTH2 on ``stack``."""
    where.mkdir(parents=True, exist_ok=True)
    if provider == "microsoft":
        endpoints = f'tenant = "test-tenant"\nauthority = "{stack.oauth_url}"\n'
    else:  # Google's shape: an authorization and a token endpoint, no tenant
        endpoints = (f'auth_url = "{stack.oauth_url}/o/oauth2/v2/auth"\n'
                     f'token_url = "{stack.oauth_url}/token"\nscopes = ["https://mail.google.com/"]\n')
    table = (f'\n[oauth2]\nprovider = "{provider}"\nclient_id = "mailflow-test"\nflow = "{flow}"\n{endpoints}'
             f'ca_file = "{stack.ca_file}"\n'
             + (f'key_file = "{key_file}"\n' if key_file else 'key_env = "TEST_TOKEN_KEY"\n')
             + f'refresh_margin = {margin}\n'
             'client_secret_env = "TEST_CLIENT_SECRET"\n' + extra)
    return write_config(where, db_url=db_url or f"sqlite:///{where / 'mailflow.db'}", imap_port=stack.imap_port,
                        smtp_port=stack.smtp_port, imap_extra='auth = "oauth2"', smtp_extra='auth = "oauth2"',
                        extra=table)


def cli(config: Path, *args: str, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, **ENV, "MAILFLOW_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "mailflow", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO, **popen)


# ---------------------------------------------------------------- mailflow auth login, as the admin runs it


def in_process(config: Path, *args: str) -> subprocess.CompletedProcess:
    """The commands around a sign-in, in this process (a subprocess costs seconds on a busy machine)."""
    return mailflow_at(lambda: datetime.now(ZoneInfo("UTC")), *args, "--config", str(config))


@pytest.fixture
def token_env(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def test_auth_login_device_flow_status_and_logout(oauth_mail, tmp_path, token_env):
    config = oauth_config(tmp_path / "desk", oauth_mail)
    migrated_settings(config, ENV)
    before = oauth_mail.oauth_control()

    done = cli(config, "auth", "login")
    assert done.returncode == 0, done.stderr
    assert "enter the code" in done.stdout  # the device flow's instructions, shown to the admin
    assert "stored the OAuth2 token of aduan" in done.stdout
    after = oauth_mail.oauth_control()
    assert after.get("device_codes", 0) == before.get("device_codes", 0) + 1

    status = in_process(config, "auth", "status", "--json")
    assert status.returncode == 0, status.stderr
    [row] = json.loads(status.stdout)["mailboxes"]
    assert row["stored"] and row["renewable"] and not row["expired"] and row["account"] == "aduan"
    assert "IMAP.AccessAsUser.All" in row["scopes"]
    for output in (done.stdout + done.stderr, status.stdout):
        assert not TOKEN.search(output)  # no token is ever printed

    # The stored token logs in to the real Dovecot (what `config check --connect` does).
    check = in_process(config, "config", "check", "--connect")
    assert check.returncode == 0, check.stdout + check.stderr

    out = in_process(config, "auth", "logout", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["removed"] is True
    again = in_process(config, "auth", "status")
    assert again.returncode == 1 and "no token stored" in again.stdout
    check = in_process(config, "config", "check")  # no token: the config check fails, naming the fix
    assert check.returncode == 1 and "no OAuth2 token is stored for aduan: run `mailflow auth login`" in check.stdout


def test_auth_login_client_credentials(oauth_mail, tmp_path, monkeypatch, token_env):
    config = oauth_config(tmp_path / "desk", oauth_mail, flow="client_credentials")
    settings = migrated_settings(config, ENV)
    done = cli(config, "auth", "login", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is the JSON alone
    assert result["flow"] == "client_credentials" and result["refresh_token"] is False
    assert result["scopes"] == "https://outlook.office365.com/.default"

    # App-only: no refresh token; renewed by asking again with the secret, and it logs in as the mailbox.
    app = build(settings)
    try:
        assert app.outbox.tokens is not None
        first = app.outbox.tokens.current()
        assert first is not None and first.refresh_token == "" and first.flow == "client_credentials"
        issued = oauth_mail.oauth_control()["issued"]
        renewed = app.outbox.tokens.access_token("IMAP", force=True)
        assert renewed != first.access_token and oauth_mail.oauth_control()["issued"] == issued + 1
    finally:
        app.close()
    monkeypatch.setenv("TEST_CLIENT_SECRET", "wrong")
    bad = in_process(config, "auth", "login")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("mailflow: error: the sign-in failed: invalid_client: bad client secret")


def test_auth_login_loopback_flow(oauth_mail, tmp_path):
    """Google's installed-app flow: the command prints the sign-in URL and
    listens on 127.0.0.1; the "browser" (here urllib) opens the URL, the
    server approves and redirects back to the listener with the code."""
    key_file = tmp_path / "token.key"
    config = oauth_config(tmp_path / "desk", oauth_mail, flow="loopback", provider="google", key_file=key_file)
    migrated_settings(config, ENV)
    env = {**os.environ, **ENV, "MAILFLOW_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "mailflow", "auth", "login", "--no-browser", "--timeout", "30"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        url = ""
        before = ""
        for line in proc.stdout:
            before += line
            if line.startswith("https://"):
                url = line.strip()
                break
        assert url.startswith(f"{oauth_mail.oauth_url}/o/oauth2/v2/auth?"), url
        assert "code_challenge_method=S256" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
        import ssl

        ctx = ssl.create_default_context(cafile=oauth_mail.ca_file)
        with urllib.request.urlopen(url, context=ctx, timeout=10) as page:  # follows the redirect to the listener
            assert b"sign-in complete" in page.read()
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stored the OAuth2 token of aduan" in rest and "with a refresh token" in rest
    assert f"wrote a new token key to {key_file}" in before  # none existed: made owner-only
    assert key_file.stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- the daemon on XOAUTH2


def test_daemon_logs_in_with_xoauth2_through_refresh_expiry_and_revocation(oauth_mail, tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)  # every library's debug log too (imapclient logs the IMAP exchange)
    stack = oauth_mail
    config = oauth_config(tmp_path / "desk", stack)
    settings = migrated_settings(config, ENV)
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))]
    app = build(settings, clock=lambda: now[0])
    daemon = app.daemon()
    tokens = app.outbox.tokens
    assert tokens is not None
    try:
        # The admin signed in (device flow, approved at once); renewal 1 s before expiry.
        from mailflow.edges.oauth_login import device_flow
        assert settings.oauth2 is not None and settings.oauth2.refresh_margin == 1
        first = device_flow(settings.oauth2, lambda _text: None)
        with app.factory.begin() as session:
            token_store.save(session, token_store.TokenCipher(KEY), "default", "aduan", "microsoft", first, now[0])
        with app.factory() as session:  # stored encrypted: neither token is in the row
            row = session.get(OAuthToken, ("default", "aduan"))
            assert row is not None and first.access_token.encode() not in row.secret
            assert first.refresh_token.encode() not in row.secret

        def complaint(n: int) -> None:
            stack.send(complaint_mail(sender=f"warga{n}@dukcapil.test", date=now[0]), f"warga{n}@dukcapil.test",
                       "aduan@dukcapil.test")

        def refreshed() -> int:
            return stack.oauth_control().get("refreshed", 0)

        # 1. With the token as stored: IMAP and SMTP both take it.
        complaint(1)
        counts = stack.oauth_control()
        result = daemon.run_once()
        assert len(result.outcomes) == 1 and result.drained.sent >= 1
        assert len(stack.wait_for("warga1", 1)) == 1
        assert stack.oauth_control()["introspected"] >= counts.get("introspected", 0) + 2  # Dovecot and SMTP
        assert refreshed() == 0

        # 2. A token living 3 s, 2.1 s later: still valid, but within the margin,
        #    so the daemon renews it before logging in (the new one lives 10 min,
        #    so a slow pass on a busy machine renews once, not twice).
        stack.oauth_control(lifetime=3)
        tokens.access_token("IMAP", force=True)
        stack.oauth_control(lifetime=600)
        daemon.mailbox.close()
        time.sleep(2.1)
        complaint(2)
        before = refreshed()
        result = daemon.run_once()
        assert len(result.outcomes) == 1 and len(stack.wait_for("warga2", 1)) == 1
        assert refreshed() == before + 1

        # 3. The server ends the access token early (our record says it is good
        #    for 10 min): the refused login renews it and tries again, once.
        daemon.mailbox.close()
        stack.oauth_control(expire=True)
        complaint(3)
        before = refreshed()
        result = daemon.run_once()
        assert len(result.outcomes) == 1 and len(stack.wait_for("warga3", 1)) == 1
        assert refreshed() == before + 1  # IMAP renewed it; SMTP used the renewed one

        # 4. The refresh token is revoked: one alert to the admin, however many
        #    passes and logins fail, and `mailflow status` says why and what to run.
        daemon.mailbox.close()
        stack.oauth_control(revoke=True)
        complaint(4)
        for _ in range(3):
            now[0] += timedelta(minutes=1)
            with pytest.raises(TokenRefreshError, match="OAuth2 token refresh failed"):
                daemon.run_once()
        with app.factory() as session:
            alerts = session.scalar(select(func.count()).select_from(OutboxItem)
                                    .where(OutboxItem.kind == MailKind.LOGIN_FAILED))
        assert alerts == 1
        status = mailflow_at(lambda: now[0], "status", "--json", "--config", str(config))
        report = json.loads(status.stdout)
        text = " ".join(report["reasons"])
        assert "OAuth2 token refresh failed: invalid_grant" in text and "mailflow auth login" in text
        assert not TOKEN.search(status.stdout)
        # No token in any log line, at any level (the server's tokens start with at-/rt-).
        assert "IMAP refused the OAuth2 token" in caplog.text  # the logs were captured
        # (msal's debug log shows its answers with the tokens masked as ********.)
        assert "auth=Bearer" not in caplog.text and not TOKEN.search(caplog.text)

        # 5. The admin signs in again: the waiting complaint is taken in, and the alert goes out.
        with app.factory.begin() as session:
            token_store.save(session, token_store.TokenCipher(KEY), "default", "aduan", "microsoft",
                             device_flow(settings.oauth2, lambda _text: None), now[0])
        result = daemon.run_once()
        assert len(result.outcomes) == 1 and len(stack.wait_for("warga4", 1)) == 1
        alerts_read = [m for m in stack.messages("admin") if b"X-Mailflow-Kind: admin/login-failed" in m]
        assert len(alerts_read) == 1 and b"mailflow auth login" in alerts_read[0]
    finally:
        daemon.mailbox.close()
        app.close()


def test_one_process_renews_while_the_others_wait(oauth_mail, tmp_path, db_url):
    """Four processes' token sources (own engines, own connections) find the
    token due at once: the row lock lets one renew it; the others wait and
    use what it stored. The server rotates refresh tokens, so a second
    renewal with the old refresh token would fail with invalid_grant."""
    import threading

    from mailflow.core.oauth import TokenSet
    from mailflow.edges.oauth import TokenSource
    from mailflow.store import db

    config = oauth_config(tmp_path / "desk", oauth_mail, db_url=db_url, margin=0)
    settings = migrated_settings(config, ENV)
    from mailflow.edges.oauth_login import device_flow

    assert settings.oauth2 is not None
    first = device_flow(settings.oauth2, lambda _text: None)
    engines = [db.make_engine(settings.database_url, pool_size=1, max_overflow=0) for _ in range(4)]
    try:
        factory = db.session_factory(engines[0])
        with factory.begin() as session:  # stored as already expired
            token_store.save(session, token_store.TokenCipher(KEY), "default", "aduan", "microsoft",
                             TokenSet(first.access_token, time.time() - 1, first.refresh_token, first.scope,
                                      "device"), datetime.now(ZoneInfo("UTC")))
        refreshed = oauth_mail.oauth_control().get("refreshed", 0)
        sources = [TokenSource(settings, db.session_factory(engine)) for engine in engines]
        barrier = threading.Barrier(len(sources))
        got: list[str] = []
        errors: list[BaseException] = []

        def renew(source: TokenSource) -> None:
            barrier.wait()
            try:
                got.append(source.access_token("IMAP"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=renew, args=(source,)) for source in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert len(got) == 4 and len(set(got)) == 1 and got[0] != first.access_token
        assert oauth_mail.oauth_control()["refreshed"] == refreshed + 1
    finally:
        for engine in engines:
            engine.dispose()


def test_smtp_answers_the_xoauth2_error_challenge_and_retries_with_a_renewed_token(oauth_mail, tmp_path):
    """A token the server no longer takes: the SMTP front answers AUTH XOAUTH2
    with a 334 challenge carrying the JSON error; the client must answer it
    with an empty line to get the 535, and can then try again on the same
    connection with a renewed token."""
    import asyncio

    from mailflow.edges.smtp import SmtpSender

    config = oauth_config(tmp_path / "desk", oauth_mail)
    settings = migrated_settings(config, ENV)
    app = build(settings)
    try:
        from mailflow.edges.oauth_login import device_flow

        assert settings.oauth2 is not None and app.outbox.tokens is not None
        with app.factory.begin() as session:
            token_store.save(session, token_store.TokenCipher(KEY), "default", "aduan", "microsoft",
                             device_flow(settings.oauth2, lambda _text: None), datetime.now(ZoneInfo("UTC")))
        oauth_mail.oauth_control(expire=True)
        before = oauth_mail.oauth_control().get("refreshed", 0)
        asyncio.run(SmtpSender(settings.smtp, app.outbox.tokens, "aduan").check())
        assert oauth_mail.oauth_control()["refreshed"] == before + 1

        # The provider is down (503): a server problem, retried, not a refusal the admin must fix.
        oauth_mail.oauth_control(expire=True, token_status=503)
        with pytest.raises(MailServerError, match="cannot renew the token now") as down:
            asyncio.run(SmtpSender(settings.smtp, app.outbox.tokens, "aduan").check())
        assert not isinstance(down.value, TokenRefreshError)
        oauth_mail.oauth_control(token_status=0)

        oauth_mail.oauth_control(revoke=True)  # now nothing works: a refusal naming the fix, not a hang
        with pytest.raises(TokenRefreshError, match="run `mailflow auth login`"):
            asyncio.run(SmtpSender(settings.smtp, app.outbox.tokens, "aduan").check())
    finally:
        app.close()
