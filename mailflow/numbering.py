"""Gap-free sequence numbers: the register number (nomor register) per year.

The counter row is incremented with ``UPDATE ... RETURNING`` inside the same
transaction that inserts the complaint. The row lock taken by the UPDATE makes
a second daemon on the same PostgreSQL database wait until the first commits
(or rolls back, freeing the number again), so numbers are never doubled and
never skipped. On SQLite every write transaction is ``BEGIN IMMEDIATE``, which
serialises writers the same way.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailflow.models import Counter


def next_value(session: Session, name: str) -> int:
    """Increment counter ``name`` (created at 0 if missing) and return its new value."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"]))
    return session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one()


def register_number(session: Session, pattern: str, year: int) -> tuple[int, str]:
    """Allocate the next register number of ``year``. Returns (seq, formatted number)."""
    seq = next_value(session, f"register:{year}")
    return seq, pattern.format(year=year, seq=seq)
