"""Shared test helpers: databases (SQLite, and PostgreSQL where
MAILFLOW_TEST_DATABASE_URL is set), settings written as a real mailflow.toml
(``write_config``, from :mod:`devstack.config`), and builders of complaint
mail. Imported by conftest.py."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from devstack.config import write_config  # noqa: F401  (the tests' config writer: a desk on the local stack)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
PG_URL = os.environ.get("MAILFLOW_TEST_DATABASE_URL", "")


def corpus_dir(name: str) -> Path:
    """A folder of ../shared/corpus, or skip: a user's own clone has no ../shared."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip("../shared/corpus not present (a user's own clone)")
    return path


def corpus_files(name: str) -> list[Path]:
    path = CORPUS / name
    return sorted(p for p in path.glob("*.eml")) if path.is_dir() else []


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL: an SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailflow.db'}"
        return
    if not PG_URL:
        pytest.skip("MAILFLOW_TEST_DATABASE_URL not set (CI sets it to the local PostgreSQL)")
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


TEST_ENV = {"TEST_IMAP_PASSWORD": "secret"}

VALID_BODY = """\
Selamat siang Bapak/Ibu,

Nama: Siti Aminah
NIK: 3402014501900001
No. KK: 3402011203150004
Alamat: Jl. Parangtritis Km 5, Sewon, Bantul
No. HP: 081234567890
Jenis Layanan: KTP-el
Uraian: KTP-el saya sudah direkam bulan Agustus
tetapi sampai sekarang belum dicetak.

Terima kasih.
"""

INVALID_BODY = """\
Selamat pagi,

Nama: Budi Santoso
NIK: 12345
Uraian: Akta kelahiran anak saya salah nama.
"""


def complaint_mail(body: str = VALID_BODY, *, sender: str = "warga1@dukcapil.test",
                   to: str = "aduan@dukcapil.test", subject: str = "Pengaduan KTP-el",
                   message_id: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A plain-text complaint mail as a citizen's client would send it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="warga.test")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes()
