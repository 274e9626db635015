"""The OAuth2 token sets of the mailboxes, encrypted at rest (``oauth_tokens``).

A token set is stored as a Fernet token (AES-128-CBC + HMAC-SHA256, from the
``cryptography`` package) of its JSON, with the key from ``[oauth2]``
(``key_env`` / ``key_file``): a copy of the database alone (a backup, a
dump) holds no usable token. The access token's expiry and scopes are kept
in clear beside it, for ``mailflow auth status``.

Renewal is serialised by the row: :func:`locked` reads it in a write
transaction that holds it until commit (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite every mailflow transaction starts with ``BEGIN
IMMEDIATE``, which holds the database's one write lock), so of the daemon,
workers on other machines and the CLI, one process refreshes; the others
wait and then read the token it stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailflow.core.oauth import TokenSet
from mailflow.errors import ConfigError
from mailflow.store.models import OAuthToken


def new_key() -> str:
    """A fresh key for ``oauth2.key_env`` / ``oauth2.key_file``."""
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Encrypts and decrypts token sets with one Fernet key."""

    def __init__(self, key: str, where: str = "the OAuth2 token key"):
        self.where = where
        try:
            self._fernet = Fernet(key.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(f"{where} is not a Fernet key (32 url-safe base64-encoded bytes; "
                              "`mailflow auth login` writes a new one to oauth2.key_file)") from None

    def seal(self, tokens: TokenSet) -> bytes:
        return self._fernet.encrypt(json.dumps(tokens.to_dict()).encode("utf-8"))

    def open(self, secret: bytes) -> TokenSet:
        try:
            return TokenSet.from_dict(json.loads(self._fernet.decrypt(secret)))
        except InvalidToken:
            raise ConfigError(f"the stored OAuth2 token cannot be decrypted with {self.where} (another key was "
                              "used: give the key it was stored with, or run `mailflow auth login` again)") from None


def read(session: Session, office: str, account: str) -> OAuthToken | None:
    return session.get(OAuthToken, (office, account.lower()))


def locked(session: Session, office: str, account: str) -> OAuthToken | None:
    """The row, held by this transaction until it ends (see the module doc)."""
    return session.execute(select(OAuthToken).where(OAuthToken.office == office,
                                                    OAuthToken.account == account.lower())
                           .with_for_update()).scalar_one_or_none()


def save(session: Session, cipher: TokenCipher, office: str, account: str, provider: str, tokens: TokenSet,
         now: datetime) -> None:
    row = locked(session, office, account)
    if row is None:
        row = OAuthToken(office=office, account=account.lower())
        session.add(row)
    row.provider = provider
    row.secret = cipher.seal(tokens)
    row.expires_at = datetime.fromtimestamp(tokens.expires_at, UTC)
    row.scopes = tokens.scope
    row.updated_at = now
    session.flush()


def forget(session: Session, office: str, account: str) -> bool:
    """Delete the token set; True if there was one."""
    result = session.execute(delete(OAuthToken).where(OAuthToken.office == office,
                                                      OAuthToken.account == account.lower()))
    return bool(getattr(result, "rowcount", 0))
