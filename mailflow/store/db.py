"""Database edge: engine set-up, sessions, migrations and the schema check.

SQLite is the embedded default: one file in WAL mode, foreign keys on, and
every transaction opened with ``BEGIN IMMEDIATE`` so two writers queue on the
lock instead of failing half-way with "database is locked". PostgreSQL works
through the same code by URL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.paths import create_private
from mailflow.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; for SQLite with WAL, busy timeout and IMMEDIATE
    transactions. A database error it raises carries the URL (``describe_error``)."""
    engine = _make_engine(url, **kwargs)

    @event.listens_for(engine, "handle_error")
    def _name_the_database(context) -> None:  # pragma: no cover - trivial
        if context.sqlalchemy_exception is not None:
            context.sqlalchemy_exception.mailflow_url = url

    return engine


def _make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and path.parent.is_dir():
            # Owner-only before SQLite creates it; SQLite gives its -wal and -shm
            # files the database file's permissions.
            create_private(path)
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy's "begin" event below issue BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for an in-memory database or another database)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class WriteGate:
    """One writing transaction at a time within this process, on SQLite.

    SQLite allows one writer; a second one waits in SQLite's busy handler,
    which sleeps 1, 2, 5, 10 ... 100 ms between tries. With the daemon's
    intake and its sender thread both writing hundreds of short transactions
    a second, those sleeps were most of the wait. Threads of one process
    queue on this lock instead, and take turns at once. (Other processes
    still meet the busy handler.) On PostgreSQL it does nothing."""

    def __init__(self, engine: Engine):
        self._lock = threading.RLock() if engine.dialect.name == "sqlite" else None

    def __enter__(self) -> None:
        if self._lock is not None:
            self._lock.acquire()

    def __exit__(self, *_exc) -> None:
        if self._lock is not None:
            self._lock.release()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``. Hops recorded in a transaction are written when
    it commits, in one INSERT, and dropped when it rolls back (mailflow.store.hoplog)."""
    from mailflow.store import hoplog

    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_commit", hoplog.write_pending)
    event.listen(factory, "after_rollback", hoplog.discard_pending)
    return factory


def _alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None  # the migrations ship with mailflow
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``. Returns (revision before, revision after)."""
    before = current_revision(engine)
    with migrating(engine) as conn:
        command.upgrade(_alembic_config(conn), revision)
    return before, current_revision(engine)


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for schema changes. On SQLite, foreign
    key enforcement is off meanwhile (SQLite's documented procedure for
    rebuilding a table another one refers to; the pragma only takes effect
    outside a transaction), and the keys are checked before the commit."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaOutOfDate(f"the migration left rows pointing nowhere: {broken[:5]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def standing(current: str | None) -> str:
    """Where schema revision ``current`` stands against this mailflow: "none"
    (no mailflow schema), "current", "older" (``mailflow db upgrade`` brings
    it up) or "newer" (a later mailflow's: unknown here)."""
    if current is None:
        return "none"
    if current == head_revision():
        return "current"
    script = ScriptDirectory.from_config(_alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    return "older" if current in known else "newer"


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutOfDate, naming the fix, unless the schema is at this version's head."""
    head = head_revision()
    current = current_revision(engine)
    where = standing(current)
    if where == "current":
        return
    if where == "none":
        raise SchemaOutOfDate(
            "the database has no mailflow schema yet: run `mailflow db upgrade` (or `mailflow init`)"
        )
    if where == "newer":
        raise SchemaOutOfDate(
            f"the database schema ({current}) is newer than this mailflow ({head}): "
            "upgrade mailflow, or point it at another database"
        )
    raise SchemaOutOfDate(
        f"the database schema is at {current}, this mailflow needs {head}: run `mailflow db upgrade`"
    )


# What ``describe_error`` says, by case (English; ``mailflow.cli.messages``
# holds them with their Bahasa Indonesia beside, keyed "db.<case>").
DATABASE_PROBLEMS = {
    "readonly": ("the SQLite database {path} cannot be written ({detail}): give this user write access to it and "
                 "to its directory {directory} (SQLite writes its -wal and -shm files there)"),
    "corrupt": ("{path} is not a usable SQLite database ({detail}): restore it from a backup, or point "
                "database.url at another file"),
    "unopenable": ("the SQLite database {path} cannot be opened ({detail}): check that its directory "
                   "{directory} exists and this user may read and write it, or fix database.url"),
    "sqlite": "the SQLite database {path}: {detail}",
    "unreachable": ("cannot use the database {url} ({detail}): is the database server running and reachable "
                    "there, and are database.url's host, port, user and database right?"),
    "other": "the database {url}: {detail}",
}


def database_problem(exc: BaseException, url: str | None = None) -> tuple[str, dict[str, str]] | None:
    """Which of ``DATABASE_PROBLEMS`` a database failure is, and its fields
    (the file, or the URL without its password; the driver's first line);
    None if ``exc`` is not a database failure. The URL is ``url``, else the
    one an engine of ``make_engine`` put on the error."""
    from mailflow.config.settings import redact_url

    if not isinstance(exc, DBAPIError):
        return None
    url = url or getattr(exc, "mailflow_url", None)
    detail = str(exc.orig).splitlines()[0].strip() if exc.orig is not None else type(exc).__name__
    path = sqlite_path(url) if url else None
    if path is not None:
        fields = {"path": str(path), "directory": str(path.parent), "detail": detail}
        low = detail.lower()
        if "readonly" in low or "read-only" in low:
            return "readonly", fields
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return "corrupt", fields
        if "unable to open" in low:
            return "unopenable", fields
        return "sqlite", fields
    fields = {"url": redact_url(url) if url else "(database.url)", "detail": detail}
    return ("unreachable" if isinstance(exc, OperationalError) else "other"), fields


def describe_error(exc: BaseException, url: str | None = None) -> str | None:
    """What a user reads of a database failure: one line naming the database
    (the file, or the URL without its password) and the fix, in English; None
    if ``exc`` is not a database failure (see ``database_problem``)."""
    found = database_problem(exc, url)
    if found is None:
        return None
    case, fields = found
    return DATABASE_PROBLEMS[case].format(**fields)


def is_database_error(exc: BaseException) -> bool:
    """Is ``exc`` the database failing (unreachable, gone away), rather than a
    problem with one mail? Then nothing can be stored and nothing is moved."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
