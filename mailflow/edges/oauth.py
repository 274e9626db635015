"""OAuth2 tokens for the mailbox logins (XOAUTH2): read the stored token set,
renew it before it expires, once across every process on the database.

:class:`TokenSource` is what the IMAP and SMTP edges ask for an access
token. A token that expires within ``oauth2.refresh_margin`` seconds is
renewed first: with the refresh token (RFC 6749 section 6), or for client
credentials by asking again with the app's secret. The renewal locks the
token set's row (``store/tokens.py``), so that of several processes one
asks the provider and the others use what it stored. A renewal the provider
refuses (``invalid_grant``: revoked, expired, password changed) raises
:class:`~mailflow.errors.TokenRefreshError`: the admin is alerted and must
run ``mailflow auth login``. Tokens are never logged.

Token expiry is the provider's clock: seconds since the epoch (``time.time``),
not the desk's (possibly fake) clock.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.settings import OAuth2Config, Settings
from mailflow.core.oauth import TokenSet, needs_refresh
from mailflow.errors import ConfigError, MailServerError, TokenRefreshError
from mailflow.store import tokens as store

log = logging.getLogger("mailflow.oauth")

LOGIN_AGAIN = "run `mailflow auth login`"


class TokenEndpointError(Exception):
    """The token endpoint answered with an OAuth2 error (``error``: its code)."""

    def __init__(self, error: str, description: str, status: int):
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.status = status


def cipher(cfg: OAuth2Config) -> store.TokenCipher:
    where = (f"oauth2.key_file {cfg.key.source_file}" if cfg.key.source_file
             else f"the environment variable {cfg.key.source_env} (oauth2.key_env)")
    return store.TokenCipher(cfg.key.reveal() or "", where)


def tls_context(cfg: OAuth2Config) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)


def token_request(cfg: OAuth2Config, form: dict[str, str], url: str | None = None) -> dict:
    """POST ``form`` to the token endpoint; its JSON answer (with an
    access_token). Raises TokenEndpointError for an OAuth2 error answer,
    OSError for the network or an answer that is no token."""
    data = urllib.parse.urlencode(form).encode("ascii")
    req = urllib.request.Request(url or cfg.token_url, data=data, method="POST",
                                 headers={"Accept": "application/json",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout, context=tls_context(cfg)) as resp:
            answer = json.loads(resp.read())
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise OSError("token endpoint answered without an access_token")
        return answer
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict) and body.get("error"):
            # error_description may be long (Microsoft adds trace ids); the first line says it.
            description = str(body.get("error_description") or "").splitlines()[0:1]
            raise TokenEndpointError(str(body["error"]), description[0] if description else "", exc.code) from None
        raise OSError(f"token endpoint answered HTTP {exc.code}") from None
    except ValueError as exc:  # not JSON
        raise OSError(f"token endpoint answered no JSON ({exc})") from None


def renew(cfg: OAuth2Config, old: TokenSet, now: float) -> TokenSet:
    """A new token set for ``old``: the refresh grant, or client credentials again."""
    if old.flow == "client_credentials" or not old.refresh_token:
        form = {"grant_type": "client_credentials", "client_id": cfg.client_id,
                "client_secret": cfg.client_secret.reveal() or "", "scope": " ".join(cfg.scopes)}
    else:
        form = {"grant_type": "refresh_token", "client_id": cfg.client_id, "refresh_token": old.refresh_token,
                "scope": " ".join(cfg.scopes)}
        secret = cfg.client_secret.reveal() if cfg.client_secret else None
        if secret:  # Google's Desktop-app clients send theirs
            form["client_secret"] = secret
    return TokenSet.from_response(token_request(cfg, form), now, old.flow, old)


class TokenSource:
    """Access tokens for one office's mailbox (``imap.username``), renewed in time."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session],
                 gate: AbstractContextManager | None = None, now: Callable[[], float] = time.time):
        assert settings.oauth2 is not None
        self.cfg = settings.oauth2
        self.office = settings.office.key
        self.account = (settings.imap.username or "").lower()
        self.factory = factory
        self.gate = gate or nullcontext()
        self.now = now
        self._cipher: store.TokenCipher | None = None

    def _open(self, secret: bytes) -> TokenSet:
        if self._cipher is None:
            self._cipher = cipher(self.cfg)
        return self._cipher.open(secret)

    def current(self) -> TokenSet | None:
        """The stored token set, as it is (``mailflow auth status``)."""
        with self.factory() as session:
            row = store.read(session, self.office, self.account)
            return self._open(row.secret) if row is not None else None

    def access_token(self, server: str, force: bool = False) -> str:
        """An access token valid for at least the refresh margin. ``force``:
        renew even so (the server refused the one we had), unless another
        process renewed it meanwhile. ``server`` ("IMAP"/"SMTP") is named by
        a TokenRefreshError."""
        with self.factory() as session:
            row = store.read(session, self.office, self.account)
        if row is None:
            raise TokenRefreshError(f"no OAuth2 token is stored for {self.account} (office {self.office}): "
                                    f"{LOGIN_AGAIN}", server)
        tokens = self._open(row.secret)
        if not force and not needs_refresh(tokens.expires_at, self.now(), self.cfg.refresh_margin):
            return tokens.access_token
        stale = tokens.access_token
        with self.gate, self.factory.begin() as session:
            row = store.locked(session, self.office, self.account)  # one process renews; the others wait here
            if row is None:
                raise TokenRefreshError(f"the OAuth2 token of {self.account} was removed (`mailflow auth logout`): "
                                        f"{LOGIN_AGAIN}", server)
            tokens = self._open(row.secret)
            fresh = not needs_refresh(tokens.expires_at, self.now(), self.cfg.refresh_margin)
            if fresh and (not force or tokens.access_token != stale):
                return tokens.access_token  # another process renewed it while we waited
            try:
                new = renew(self.cfg, tokens, self.now())
            except TokenEndpointError as exc:
                if exc.status >= 500 or exc.error in ("temporarily_unavailable", "server_error"):
                    raise MailServerError(f"OAuth2 token endpoint {self.cfg.token_url} cannot renew the token now "
                                          f"({exc}); retrying") from None
                raise TokenRefreshError(f"OAuth2 token refresh failed: {exc} ({self.cfg.provider} token endpoint "
                                        f"{self.cfg.token_url}, account {self.account}); {LOGIN_AGAIN}",
                                        server) from None
            except ConfigError as exc:  # the client secret's variable is unset
                raise TokenRefreshError(f"OAuth2 token refresh failed: {exc}; {LOGIN_AGAIN}", server) from None
            except OSError as exc:
                raise MailServerError(f"cannot reach the OAuth2 token endpoint {self.cfg.token_url}: {exc}") from None
            assert self._cipher is not None
            store.save(session, self._cipher, self.office, self.account, self.cfg.provider, new,
                       datetime.now(UTC))
        log.info("OAuth2 token of %s renewed; it expires at %s", self.account,
                 datetime.fromtimestamp(new.expires_at, UTC).isoformat(timespec="seconds"))
        return new.access_token


def token_source(settings: Settings, factory: sessionmaker[Session],
                 gate: AbstractContextManager | None = None) -> TokenSource | None:
    """The office's TokenSource, or None when its mailbox logs in with a password."""
    if settings.oauth2 is None or not settings.uses_oauth2:
        return None
    return TokenSource(settings, factory, gate)
