"""Shared test helpers: databases (SQLite, and PostgreSQL where
MAILFLOW_TEST_DATABASE_URL is set), settings written as a real mailflow.toml
(``write_config``, from :mod:`devstack.config`), and builders of complaint
mail. Imported by conftest.py."""

from __future__ import annotations

import email
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

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


def pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def private_pg_schema(prefix: str = "t_", why: str = "") -> Iterator[str]:
    """A PostgreSQL URL whose search path is a new, empty schema, dropped
    afterwards; skips (saying ``why`` it needs PostgreSQL) where
    MAILFLOW_TEST_DATABASE_URL is not set."""
    if not PG_URL:
        pytest.skip("MAILFLOW_TEST_DATABASE_URL not set (CI sets it to the local PostgreSQL)" + why)
    schema = prefix + secrets.token_hex(6)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_schema_url(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL: an SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailflow.db'}"
        return
    with private_pg_schema() as url:
        yield url


TEST_ENV = {"TEST_IMAP_PASSWORD": "secret"}

# The Date a test mail carries unless the test gives its own (its clock's now):
# a fixed Monday morning in Bantul, so no test mail depends on the wall clock.
MAIL_DATE = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


def mailflow_at(clock: Callable[[], datetime], *args: str) -> subprocess.CompletedProcess:
    """Run the ``mailflow`` command line in this process, on ``clock`` (a callable
    returning an aware "now"), as its console script runs it: ``mailflow.cli.main``,
    so a user error is one "mailflow: error: ..." line on stderr and exit code 2.
    The environment is the tests' (TEST_ENV, no MAILFLOW_CONFIG); stdout and stderr
    are captured as text. For commands whose result depends on "now": a subprocess
    would run on the real clock."""
    from typer.testing import CliRunner

    from mailflow.cli import CliContext, main

    with CliRunner().isolation(env={**TEST_ENV, "MAILFLOW_CONFIG": None}) as (out, err, _):
        try:
            main(list(args), obj=CliContext(clock=clock))
            code = 0  # not reached: main ends with SystemExit
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        stdout, stderr = out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")
    return subprocess.CompletedProcess(["mailflow", *args], code, stdout, stderr)

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
                   message_id: str | None = None, headers: dict[str, str] | None = None,
                   date: datetime = MAIL_DATE) -> bytes:
    """A plain-text complaint mail as a citizen's client would send it, dated
    ``date`` (a test on a fake clock passes its now)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id or make_msgid(domain="warga.test")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes()


# ------------------------------------------------------------------ the end-to-end tests' hands
class Clock:
    """A movable "now", passed to everything of a desk (intake, outbox, deadlines, the CLI)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def received(stack, user: str, kind: str | None = None) -> list[EmailMessage]:
    """The mail ``user`` received on the local stack (of ``kind``, by mailflow's X-Mailflow-Kind header), oldest first."""
    found = [email.message_from_bytes(raw, policy=policy.default) for raw in stack.messages(user)]
    return [m for m in found if kind is None or m["X-Mailflow-Kind"] == kind]


def reply(stack, user: str, to_msg: EmailMessage, text: str) -> None:
    """Reply as a mail client would, logged in as ``user``: text on top, a signature, then
    the attribution line and the start of the original quoted; to its Reply-To (else its
    From), threaded."""
    sender = f"{user}@dukcapil.test"
    target = str(to_msg["Reply-To"] or to_msg["From"].addresses[0].addr_spec)
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, target
    msg["Subject"] = "Re: " + str(to_msg["Subject"])
    msg["Message-ID"] = make_msgid(domain="dukcapil.test")
    msg["In-Reply-To"] = msg["References"] = to_msg["Message-ID"]
    original = to_msg.get_body(("plain",)).get_content()
    quoted = "\n".join("> " + line for line in original.splitlines()[:10])
    msg.set_content(f"{text}\n\n-- \n{user}\n\nPada {to_msg['Date']}, {to_msg['From']} menulis:\n{quoted}\n")
    stack.send(msg.as_bytes(), user, [target], login=True)
