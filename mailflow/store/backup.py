"""Backing the database up and restoring it (``mailflow backup`` / ``restore``).

SQLite: the database runs in WAL mode, so committed transactions may sit in
the ``-wal`` file for a while; copying the ``.db`` file alone (or the two
files one after the other while the daemon writes) can give a copy that lacks
them or is torn. SQLite's online backup API copies one consistent snapshot
-- every committed transaction, none in progress -- through SQLite itself, and
works while the daemon runs. The copy is written owner-only (it holds NIK
numbers), to a temporary file beside the target that is renamed into place
only after it has been checked: ``PRAGMA integrity_check`` and its schema
revision. The copy is a single self-contained file (rollback-journal mode);
a restored database goes back to WAL.

PostgreSQL: mailflow does not dump; ``pg_dump_command`` says the command to run.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from mailflow.config.paths import PRIVATE_MODE, create_private
from mailflow.config.settings import redact_url
from mailflow.errors import MailflowError
from mailflow.store import db


@dataclass(frozen=True)
class Checked:
    """What checking an SQLite database file found: its size, and its schema
    revision with where that stands against this mailflow (``db.standing``)."""

    path: Path
    size: int
    revision: str | None
    standing: str


def _connect(path: Path, *, timeout: float = 60.0) -> sqlite3.Connection:
    # mode=rw: never create a database where none is (a typo would "back up" an empty file).
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return conn


def check(path: Path, what: str = "database") -> Checked:
    """Open ``path``, run ``PRAGMA integrity_check`` and read its schema
    revision. Raise MailflowError (one line) if it is not a sound SQLite
    database with a mailflow schema."""
    if not path.is_file():
        raise MailflowError(f"{path}: no such file: check the path")
    try:
        conn = _connect(path)
        try:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise MailflowError(f"{path} is not a usable SQLite {what} ({exc})") from None
    if found != ["ok"]:
        raise MailflowError(f"{path} failed SQLite's integrity check ({'; '.join(found[:3])}): "
                            f"it is not a usable {what}")
    engine = create_engine(f"sqlite:///{path}")  # not make_engine: that would switch the file to WAL
    try:
        revision = db.current_revision(engine)
    finally:
        engine.dispose()
    return Checked(path, path.stat().st_size, revision, db.standing(revision))


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> Checked:
    """Copy the SQLite database ``source`` to ``target`` (owner-only) through
    the online backup API, and check the copy. Safe while the daemon runs."""
    if target.exists() and not force:
        raise MailflowError(f"{target} exists already (use --force to overwrite it)")
    if not source.is_file():
        raise MailflowError(f"there is no SQLite database at {source}: check database.url")
    if target.resolve() == source.resolve():
        raise MailflowError(f"{target} is the database itself: back it up to another file")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    create_private(partial)
    try:
        try:
            src = _connect(source)
            try:
                dst = sqlite3.connect(partial, isolation_level=None)
                try:
                    src.backup(dst)  # every page in one step: one consistent snapshot
                    # One self-contained file: no -wal beside it to forget.
                    dst.execute("PRAGMA journal_mode=DELETE")
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.DatabaseError as exc:
            raise MailflowError(f"cannot back up {source} ({exc})") from None
        os.chmod(partial, PRIVATE_MODE)
        checked = check(partial, "backup")
        if checked.standing == "none":
            raise MailflowError(f"{source} holds no mailflow schema: nothing to back up")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Checked(target, checked.size, checked.revision, checked.standing)


def restore_sqlite(backup: Path, target: Path, *, force: bool = False) -> Checked:
    """Put the backup ``backup`` in place as the SQLite database ``target``.

    The backup is checked first (integrity, a mailflow schema no newer than
    this mailflow's). An existing database is replaced only with ``force``,
    and only if nothing has it open (the daemon and workers stopped): mailflow
    takes it out of WAL mode first, which SQLite allows only to a connection
    that is alone with the database. The copy goes through the backup API, so
    a failure half-way leaves the old database as it was."""
    checked = check(backup, "backup")
    if checked.standing == "none":
        raise MailflowError(f"{backup} holds no mailflow schema: it is not a mailflow backup")
    if checked.standing == "newer":
        raise MailflowError(f"{backup} is from a newer mailflow (schema {checked.revision}): "
                            "upgrade mailflow before restoring it")
    if target.exists():
        if not force:
            raise MailflowError(f"the database {target} exists already: stop the daemon and workers, "
                                "then use --force to replace it")
    else:
        create_private(target)
    os.chmod(target, PRIVATE_MODE)
    try:
        dst = _connect(target, timeout=0)
        try:
            try:
                mode = dst.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            except sqlite3.OperationalError:
                mode = None
            if mode != "delete":
                raise MailflowError(f"the database {target} is in use: stop the daemon and workers "
                                    "(`mailflow run`, `mailflow worker`), then restore again")
            src = _connect(backup)
            try:
                src.backup(dst)
            finally:
                src.close()
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        raise MailflowError(f"cannot restore into {target} ({exc})") from None
    return check(target)


def pg_dump_command(url: str, target: Path) -> str:
    """The ``pg_dump`` command that backs up the PostgreSQL database of ``url``
    (a SQLAlchemy URL) to ``target``, the password shown as ***."""
    from sqlalchemy.engine import make_url

    libpq = make_url(url).set(drivername="postgresql")  # pg_dump knows no "+psycopg"
    shown = redact_url(libpq.render_as_string(hide_password=False))
    return f"pg_dump --format=custom --file={shlex.quote(str(target))} {shlex.quote(shown)}"
