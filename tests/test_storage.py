"""Storage on real SQLite and (where configured) PostgreSQL: migrations, the
schema check, the append-only hop log, and gap-free register numbers under
two concurrent intakes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from mailflow.errors import SchemaOutOfDate
from mailflow.store import db, hoplog, numbering
from mailflow.store.models import Complaint, Hop


def test_schema_check_names_the_fix_then_passes_after_upgrade(db_url):
    engine = db.make_engine(db_url)
    with pytest.raises(SchemaOutOfDate, match="mailflow db upgrade"):
        db.check_schema(engine)
    before, after = db.upgrade(engine)
    assert before is None and after == db.head_revision()
    db.check_schema(engine)
    assert db.upgrade(engine) == (after, after)  # idempotent
    engine.dispose()


def test_the_migrations_build_exactly_the_schema_of_the_models(db_url):
    """models.py and migrations/ describe the same tables, columns and indexes
    (an index added to one and forgotten in the other shows up here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mailflow.store.models import Base

    engine = db.make_engine(db_url)
    db.upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert differences == []


def test_the_report_migration_downgrades_and_upgrades_again(db_url):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    engine = db.make_engine(db_url)
    db.upgrade(engine)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(db.MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert "ix_complaints_status" in {i["name"] for i in inspect(engine).get_indexes("complaints")}
    assert db.upgrade(engine) == ("0004", db.head_revision())
    names = {i["name"] for i in inspect(engine).get_indexes("complaints")}
    assert {"ix_complaints_month_counts", "ix_complaints_status_created_at", "ix_complaints_closings"} <= names
    assert "ix_complaints_status" not in names
    engine.dispose()


def test_old_schema_is_refused(db_url):
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
    with pytest.raises(SchemaOutOfDate, match="newer than this mailflow"):
        db.check_schema(engine)
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_hop_log_is_append_only(db_url):
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as session:
        hoplog.record(session, "ignored", at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC), reason="NIK 3402014501900001 in a reason is masked")
    with factory() as session:
        hop = session.scalars(select(Hop)).one()
        assert "3402014501900001" not in hop.reason and "340201******0001" in hop.reason
    for statement in ("UPDATE hops SET reason = 'x'", "DELETE FROM hops"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    engine.dispose()


def test_register_numbers_follow_the_pattern_per_year(db_url):
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as session:
        got = [numbering.register_number(session, "default", "ADU/{year}/{seq:06d}", 2026)[1] for _ in range(3)]
        got.append(numbering.register_number(session, "default", "ADU/{year}/{seq:06d}", 2027)[1])
    assert got == ["ADU/2026/000001", "ADU/2026/000002", "ADU/2026/000003", "ADU/2027/000001"]
    # another office has its own sequence, from 1, beside the first one's
    with factory.begin() as session:
        other = [numbering.register_number(session, "sleman", "SLM/{year}/{seq:04d}", 2026)[1] for _ in range(2)]
    assert other == ["SLM/2026/0001", "SLM/2026/0002"]
    # a rolled-back allocation gives its number back: no gap
    with pytest.raises(RuntimeError):
        with factory.begin() as session:
            numbering.register_number(session, "default", "ADU/{year}/{seq:06d}", 2026)
            raise RuntimeError("crash before commit")
    with factory.begin() as session:
        assert numbering.register_number(session, "default", "ADU/{year}/{seq:06d}", 2026)[1] == "ADU/2026/000004"
    engine.dispose()


def test_two_concurrent_intakes_never_double_or_skip_a_number(db_url, tmp_path):
    """Two daemons (each with its own engine and connections) register complaints
    at the same time on one database: the numbers are exactly 1..N. On a fixed
    clock: on the real one, a run across New Year's midnight would number some of
    them in the new year, from 1 again."""
    from mailflow.config.settings import load_settings
    from mailflow.desk.delivery import Source
    from mailflow.runner.app import build
    from support import TEST_ENV, complaint_mail, write_config

    engine = db.make_engine(db_url)
    db.upgrade(engine)
    engine.dispose()
    settings = load_settings(write_config(tmp_path, db_url=db_url), env=TEST_ENV)
    per_worker = 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    monday = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 WIB

    def worker(n: int) -> None:
        app = build(settings, clock=lambda: monday)
        try:
            barrier.wait()
            for i in range(per_worker):
                raw = complaint_mail(sender=f"warga{n}@dukcapil.test", message_id=f"<w{n}-{i}@warga.test>", date=monday)
                with app.factory.begin() as session:
                    outcome = app.intake.process(session, raw, Source("INBOX", 1, i + 1))
                assert outcome.action == "registered", outcome
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            app.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    engine = db.make_engine(db_url)
    with engine.connect() as conn:
        seqs = sorted(conn.execute(select(Complaint.seq)).scalars())
        numbers = set(conn.execute(select(Complaint.number)).scalars())
    engine.dispose()
    assert seqs == list(range(1, 2 * per_worker + 1))
    assert len(numbers) == 2 * per_worker


def test_a_reply_is_matched_to_its_complaint_through_the_token_index(tmp_path):
    """Intake._find_complaint looks the reply token up first, on every staff
    reply and citizen follow-up: an index lookup, not a scan of the register."""
    from mailflow.store.models import Complaint as C

    engine = db.make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    db.upgrade(engine)
    stmt = select(C).where(C.reply_token == "abc")
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    engine.dispose()
    assert "ix_complaints_reply_token" in plan, plan


def test_a_database_from_before_offices_migrates_with_its_numbers_intact(db_url):
    """Migration 0009 on a database of one office (revision 0008, with rows):
    every row becomes the office 'default' (what a mailflow.toml without
    office.key is), the register counter goes on from where it was, and the
    checkpoint and report run keep their values."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from mailflow.store.models import Complaint, MailboxState, ReportRun

    engine = db.make_engine(db_url)
    db.upgrade(engine, "0008")
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for seq in (1, 2):
            conn.execute(text(
                "INSERT INTO complaints (number, year, seq, status, channel, category, category_name, section, "
                "complainant_name, complainant_email, nik, phone, address, description, reply_token, created_at, "
                "updated_at) VALUES (:n, 2026, :s, 'registered', 'email', 'ktp-el', 'KTP-el', 'identitas', 'Siti', "
                "'warga1@dukcapil.test', '3402014501900001', '081234567890', 'Bantul', 'x', :t, :at, :at)"),
                {"n": f"ADU/2026/{seq:06d}", "s": seq, "t": f"tok{seq}", "at": at})
        conn.execute(text("INSERT INTO counters (name, value) VALUES ('register:2026', 2)"))
        conn.execute(text("INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at) "
                          "VALUES ('INBOX', 7, 41, :at)"), {"at": at})
        conn.execute(text("INSERT INTO report_runs (month, sent_at) VALUES ('2026-10', :at)"), {"at": at})
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as session:
        assert [(c.office, c.number) for c in session.query(Complaint).order_by(Complaint.seq)] == \
            [("default", "ADU/2026/000001"), ("default", "ADU/2026/000002")]
        assert numbering.register_number(session, "default", "ADU/{year}/{seq:06d}", 2026)[1] == "ADU/2026/000003"
        state = session.get(MailboxState, ("default", "INBOX"))
        assert (state.uidvalidity, state.last_uid) == (7, 41)
        assert session.get(ReportRun, ("default", "2026-10")) is not None
    engine.dispose()
