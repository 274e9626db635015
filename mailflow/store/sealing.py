"""Encryption at rest of personal data (issue 14, docs/PRIVACY.md), optional:
on when ``[database] key_env`` or ``key_file`` names a key.

The complaint's personal fields (name, NIK, No. KK, phone, address,
Reply-To, description, draft answer) and every archived mail's bytes are
stored sealed with Fernet (AES-128-CBC and HMAC-SHA256, from the
``cryptography`` package): ``enc1:<token>`` in a text column, ``b"enc1:" +
token`` in ``messages.raw``. The NIK is looked up through a keyed hash
(``complaints.nik_hash``, HMAC-SHA256 under a key derived from the first
key), never by its sealed value (each sealing is different).

The key is a Fernet key (32 url-safe base64 bytes: ``mailflow privacy
new-key`` prints one). Several keys, comma- or newline-separated: the first
seals, every one opens (rotation: put the new key first, run ``mailflow
privacy rotate-key``, drop the old one, run ``rotate-key`` once more). The
keyed NIK hash uses the LAST key, so that it stays the same while the old key
is still listed; the second ``rotate-key`` recomputes it (docs/PRIVACY.md).

The cipher belongs to one engine (``attach``): the column types find it on
the engine's dialect, so nothing is global and an engine without a key reads
and writes plain values as before. A sealed value read without the key is an
error naming the fix, never the token passed off as data.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, LargeBinary, String, Text, TypeDecorator, event

from mailflow.errors import ConfigError

PREFIX = "enc1:"
_BPREFIX = PREFIX.encode()
_ATTR = "mailflow_cipher"


class Cipher:
    """Seal and open values under the configured keys; the keyed NIK hash."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ConfigError("the database key is empty")
        try:
            fernets = [Fernet(k.strip().encode()) for k in keys]
        except (ValueError, TypeError):
            raise ConfigError("the database key is not a Fernet key (32 url-safe base64 bytes; "
                              "`mailflow privacy new-key` prints one)") from None
        self._multi = MultiFernet(fernets)
        self._hash_key = hashlib.sha256(b"mailflow nik hash\0" + keys[-1].strip().encode()).digest()

    @classmethod
    def from_text(cls, text: str) -> Cipher:
        return cls([k for k in text.replace(",", "\n").splitlines() if k.strip()])

    def seal(self, data: bytes) -> bytes:
        return self._multi.encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._multi.decrypt(token)
        except InvalidToken:
            raise ConfigError("a sealed value does not open with the configured database key(s): "
                              "is an old key missing from [database] key_env / key_file?") from None

    def rotate(self, token: bytes) -> bytes:
        return self._multi.rotate(token)

    def nik_hash(self, nik: str) -> str:
        return hmac.new(self._hash_key, nik.encode(), hashlib.sha256).hexdigest()


def new_key() -> str:
    return Fernet.generate_key().decode()


def attach(engine: Engine, cipher: Cipher | None) -> None:
    """Seal personal data on ``engine`` with ``cipher`` (None: plain)."""
    setattr(engine.dialect, _ATTR, cipher)


def cipher_of(dialect_or_engine: Any) -> Cipher | None:
    dialect = getattr(dialect_or_engine, "dialect", dialect_or_engine)
    return getattr(dialect, _ATTR, None)


def _missing_key() -> ConfigError:
    return ConfigError("the database holds sealed personal data, but no key is configured: set "
                       "[database] key_env or key_file in mailflow.toml (docs/PRIVACY.md)")


class SealedText(TypeDecorator):
    """A text column sealed when the engine has a cipher. ``length``: the
    column's declared length on SQLite (which does not enforce it); on
    PostgreSQL the column is TEXT, as a sealed value is longer (migration 0011)."""

    impl = Text
    cache_ok = True

    def __init__(self, length: int | None = None):
        super().__init__()
        self.length = length

    def load_dialect_impl(self, dialect):
        if self.length is not None and dialect.name == "sqlite":
            return String(self.length)
        return Text()

    def process_bind_param(self, value, dialect):
        cipher = cipher_of(dialect)
        if cipher is None or not value:
            return value
        return PREFIX + cipher.seal(value.encode("utf-8")).decode("ascii")

    def process_result_value(self, value, dialect):
        if not value or not value.startswith(PREFIX):
            return value
        cipher = cipher_of(dialect)
        if cipher is None:
            raise _missing_key()
        return cipher.open(value[len(PREFIX):].encode("ascii")).decode("utf-8")


class SealedBytes(TypeDecorator):
    """A binary column (``messages.raw``) sealed when the engine has a cipher."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        cipher = cipher_of(dialect)
        if cipher is None or not value:
            return value
        return _BPREFIX + cipher.seal(bytes(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        value = bytes(value)
        if not value.startswith(_BPREFIX):
            return value
        cipher = cipher_of(dialect)
        if cipher is None:
            raise _missing_key()
        return cipher.open(value[len(_BPREFIX):])


def keep_nik_hash(complaint_class) -> None:
    """Set ``nik_hash`` from ``nik`` on every insert and update of a complaint
    when the engine has a cipher (NULL otherwise; an erased NIK has none)."""
    def _set(_mapper, connection, target) -> None:
        cipher = cipher_of(connection)
        target.nik_hash = cipher.nik_hash(target.nik) if cipher is not None and target.nik else None

    event.listen(complaint_class, "before_insert", _set)
    event.listen(complaint_class, "before_update", _set)
