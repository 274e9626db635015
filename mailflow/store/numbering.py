"""Gap-free sequence numbers: the register number (nomor register) per year.

The counter row is incremented (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) in the same
transaction that inserts the complaint. The row lock that statement takes makes
a second daemon on the same PostgreSQL database wait until the first commits
(or rolls back, freeing the number again), so numbers are never doubled and
never skipped. On SQLite every write transaction is ``BEGIN IMMEDIATE``, which
serialises writers the same way.
"""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailflow.store.models import Counter


def _upsert(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Counter).values(name=bindparam("name"), value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + 1})
    return stmt.returning(Counter.value)


# Built once per dialect (a statement is immutable; SQLAlchemy caches its compiled form).
_UPSERT = {name: _upsert(name) for name in ("sqlite", "postgresql")}


def next_value(session: Session, name: str) -> int:
    """Increment counter ``name`` (created at 1 if missing) and return its new value.

    One statement, ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: on
    PostgreSQL it takes the row lock a second daemon then waits on, as an
    UPDATE does; on SQLite the write transaction is already exclusive. Run on
    the session's connection: it needs nothing the session holds unflushed."""
    conn = session.connection()
    return conn.execute(_UPSERT[conn.dialect.name], {"name": name}).scalar_one()


def register_number(session: Session, office: str, pattern: str, year: int) -> tuple[int, str]:
    """Allocate the office's next register number of ``year`` (gap-free per
    office per year). Returns (seq, formatted number)."""
    seq = next_value(session, f"register:{office}:{year}")
    return seq, pattern.format(year=year, seq=seq)
