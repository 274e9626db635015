"""OAuth2 mailboxes, the pure parts as tables: when a token is renewed, the
XOAUTH2 string, PKCE, token answers, the [oauth2] schema, the cipher."""

from __future__ import annotations

import base64
import hashlib

import pytest

from mailflow.config.settings import load_settings
from mailflow.core.oauth import TokenSet, needs_refresh, pkce_challenge, pkce_pair, xoauth2_base64, xoauth2_string
from mailflow.errors import ConfigError
from support import TEST_ENV, write_config

KEY = "hJb0nxTNH_3lJ5m6bnRkqYtR2bq0oXxW0S3rj1wVUn4="


@pytest.mark.parametrize(("expires_at", "now", "margin", "due"), [
    (1000.0, 0.0, 300.0, False),     # long before
    (1000.0, 699.0, 300.0, False),   # just outside the margin
    (1000.0, 700.0, 300.0, True),    # at the margin
    (1000.0, 999.0, 300.0, True),    # inside the margin, still valid
    (1000.0, 1000.0, 0.0, True),     # expired this second, no margin
    (1000.0, 5000.0, 300.0, True),   # long expired
    (1000.0, 999.9, 0.0, False),     # no margin: valid until the last moment
])
def test_when_a_token_is_renewed(expires_at, now, margin, due):
    assert needs_refresh(expires_at, now, margin) is due


@pytest.mark.parametrize(("user", "token", "expected"), [
    ("aduan@dukcapil.go.id", "ya29.abc", "user=aduan@dukcapil.go.id\x01auth=Bearer ya29.abc\x01\x01"),
    ("aduan", "t", "user=aduan\x01auth=Bearer t\x01\x01"),
])
def test_xoauth2_string(user, token, expected):
    assert xoauth2_string(user, token) == expected
    assert base64.b64decode(xoauth2_base64(user, token)).decode() == expected


def test_xoauth2_agrees_with_aiosmtplib():
    """An independent encoder: aiosmtplib's, which mailflow's SMTP login uses."""
    from aiosmtplib.auth import auth_xoauth2_encode

    assert xoauth2_base64("aduan@dukcapil.go.id", "ya29.token").encode() == auth_xoauth2_encode(
        "aduan@dukcapil.go.id", "ya29.token")


@pytest.mark.parametrize(("user", "token"), [("a\x01b", "t"), ("a", "t\x01")])
def test_xoauth2_refuses_separator_in_values(user, token):
    with pytest.raises(ValueError):
        xoauth2_string(user, token)


def test_pkce_s256():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    # RFC 7636 appendix B's example
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(("answer", "old", "expected"), [
    ({"access_token": "a", "expires_in": 3599, "refresh_token": "r", "scope": "s1 s2"}, None,
     TokenSet("a", 1000 + 3599, "r", "s1 s2", "device")),
    # Google's refresh answer has no new refresh token: the old one is kept.
    ({"access_token": "a2", "expires_in": 3599}, TokenSet("a", 0, "r-old", "s", "device"),
     TokenSet("a2", 1000 + 3599, "r-old", "s", "device")),
    # No expires_in: an hour is assumed.
    ({"access_token": "a", "scope": ["x", "y"]}, None, TokenSet("a", 1000 + 3600, "", "x y", "device")),
])
def test_token_answers(answer, old, expected):
    assert TokenSet.from_response(answer, 1000.0, "device", old) == expected


def test_token_set_never_prints_a_token():
    tokens = TokenSet("at-secret", 1.0, "rt-secret", "scope", "device")
    assert "secret" not in repr(tokens) and "secret" not in str(tokens)


def test_cipher_round_trip_and_wrong_key():
    from mailflow.store.tokens import TokenCipher, new_key

    tokens = TokenSet("at-secret", 12.5, "rt-secret", "s", "loopback")
    sealed = TokenCipher(KEY).seal(tokens)
    assert b"secret" not in sealed
    assert TokenCipher(KEY).open(sealed) == tokens
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        TokenCipher(new_key()).open(sealed)
    with pytest.raises(ConfigError, match="not a Fernet key"):
        TokenCipher("not-a-key")


# ---------------------------------------------------------------- the oauth2 table of mailflow.toml

MS = '[oauth2]\nprovider = "microsoft"\nclient_id = "app"\ntenant = "dukcapil.go.id"\n'
GOOGLE = '[oauth2]\nprovider = "google"\nclient_id = "app.apps.googleusercontent.com"\n'


def _load(tmp_path, table: str, *, imap_auth: str = "oauth2", smtp_auth: str = "oauth2", env=None):
    path = write_config(tmp_path, db_url="sqlite:///x.db", imap_extra=f'auth = "{imap_auth}"',
                        smtp_extra=f'auth = "{smtp_auth}"', extra="\n" + table)
    return load_settings(path, env={**TEST_ENV, "MAILFLOW_TOKEN_KEY": KEY, **(env or {})})


@pytest.mark.parametrize(("table", "field", "expected"), [
    (MS, "token_url", "https://login.microsoftonline.com/dukcapil.go.id/oauth2/v2.0/token"),
    (MS, "scopes", ("https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send",
                    "offline_access")),
    (MS, "flow", "device"),
    (MS, "refresh_margin", 300.0),
    (MS + 'flow = "client_credentials"\nclient_secret_env = "S"\n', "scopes",
     ("https://outlook.office365.com/.default",)),
    (MS + 'authority = "https://127.0.0.1:8443"\n', "authority", "https://127.0.0.1:8443/dukcapil.go.id"),
    (GOOGLE, "token_url", "https://oauth2.googleapis.com/token"),
    (GOOGLE, "auth_url", "https://accounts.google.com/o/oauth2/v2/auth"),
    (GOOGLE, "scopes", ("https://mail.google.com/",)),
    (GOOGLE, "flow", "loopback"),
    (GOOGLE + 'scopes = ["https://mail.google.com/", "email"]\n', "scopes", ("https://mail.google.com/", "email")),
    ('[oauth2]\nprovider = "generic"\nclient_id = "c"\ntoken_url = "https://sso.example/token"\n'
     'auth_url = "https://sso.example/auth"\nscopes = ["mail"]\n', "token_url", "https://sso.example/token"),
])
def test_oauth2_defaults(tmp_path, table, field, expected):
    settings = _load(tmp_path, table, env={"S": "x"})
    assert settings.oauth2 is not None and getattr(settings.oauth2, field) == expected
    assert settings.imap.auth == "oauth2" and settings.uses_oauth2


@pytest.mark.parametrize(("table", "imap_auth", "smtp_auth", "message"), [
    ("", "oauth2", "oauth2", r"key 'oauth2': is missing: expected a table \[oauth2\]"),
    (MS, "password", "oauth2", r"key 'smtp.auth': expected \"password\" while imap.auth is \"password\""),
    (MS.replace("microsoft", "yahoo"), "oauth2", "oauth2", r"key 'oauth2.provider': expected one of microsoft"),
    (MS + 'flow = "client_credentials"\n', "oauth2", "oauth2", r"key 'oauth2.client_secret_env': is missing"),
    (GOOGLE + 'flow = "device"\n', "oauth2", "oauth2", r"key 'oauth2.flow': expected loopback or client_credentials"),
    (GOOGLE + 'flow = "client_credentials"\nclient_secret_env = "S"\n', "oauth2", "oauth2",
     r"key 'oauth2.flow': expected loopback: Google gives no app-only"),
    ('[oauth2]\nprovider = "generic"\nclient_id = "c"\n', "oauth2", "oauth2", r"key 'oauth2.token_url': is missing"),
    (MS + 'token_url = "http://sso.example/token"\n', "oauth2", "oauth2",
     r"key 'oauth2.token_url': expected an https:// URL"),
    (MS + 'client_secret = "hunter2"\n', "oauth2", "oauth2", r"key 'oauth2.client_secret': is not allowed"),
    (MS + 'refresh_margin = -1\n', "oauth2", "oauth2", r"key 'oauth2.refresh_margin': expected seconds"),
    (MS + 'scope = ["x"]\n', "oauth2", "oauth2", r"key 'oauth2.scope': unknown key"),
    (MS, "oauth", "oauth2", r"key 'imap.auth': expected one of password, oauth2"),
])
def test_oauth2_mistakes_name_the_key(tmp_path, table, imap_auth, smtp_auth, message):
    with pytest.raises(ConfigError, match=message) as err:
        _load(tmp_path, table, imap_auth=imap_auth, smtp_auth=smtp_auth)
    assert "hunter2" not in str(err.value)


def test_password_mailbox_needs_no_oauth2(tmp_path):
    settings = _load(tmp_path, "", imap_auth="password", smtp_auth="password")
    assert settings.oauth2 is None and not settings.uses_oauth2


def test_missing_token_key_is_named_when_used(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///x.db", imap_extra='auth = "oauth2"', extra="\n" + MS)
    settings = load_settings(path, env=TEST_ENV)  # commands that log in to nothing still work
    with pytest.raises(ConfigError, match="MAILFLOW_TOKEN_KEY, which is not set"):
        settings.check_secrets()
    key_file = tmp_path / "token.key"
    settings = _load(tmp_path, MS + f'key_file = "{key_file}"\n')
    with pytest.raises(ConfigError, match=r"oauth2.key_file.*does not exist \(`mailflow auth login` writes"):
        settings.check_secrets()


def test_each_office_file_has_its_own_oauth2(tmp_path):
    """A deployment: one office on Microsoft 365, one on its own server with a password."""
    from devstack.config import write_office
    from mailflow.config.settings import load_deployment

    (tmp_path / "mailflow.toml").write_text('[deployment]\noffices = "offices"\n\n[database]\nurl = "sqlite:///x.db"\n')
    write_office(tmp_path / "offices", "bantul", username="aduan", imap_extra='auth = "oauth2"',
                 extra="\n" + MS.replace("app", "bantul-app"))
    write_office(tmp_path / "offices", "sleman", username="aduan-sleman")
    deployment = load_deployment(tmp_path / "mailflow.toml", env={**TEST_ENV, "MAILFLOW_TOKEN_KEY": KEY})
    bantul, sleman = deployment.office("bantul"), deployment.office("sleman")
    assert bantul.oauth2 is not None and bantul.oauth2.client_id == "bantul-app" and bantul.uses_oauth2
    assert sleman.oauth2 is None and not sleman.uses_oauth2
