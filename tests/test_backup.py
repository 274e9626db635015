"""mailflow backup / restore on SQLite (real databases filled through the real
intake, no mail server, a fixed clock), and the pg_dump command said for
PostgreSQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from mailflow.config.settings import load_settings
from mailflow.desk.delivery import Source
from mailflow.runner.app import build
from mailflow.store import db
from support import TEST_ENV, VALID_BODY, complaint_mail, mailflow_at, write_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))  # a Monday, office open


def clock() -> datetime:
    return NOW


def mail(n: int) -> bytes:
    """Complaint ``n``: its own citizen (NIK) and message."""
    body = VALID_BODY.replace("3402014501900001", f"34020145019000{n:02d}")
    return complaint_mail(body, sender=f"warga{n}@dukcapil.test", message_id=f"<c{n}@warga.test>", date=NOW)


def office(directory, name: str = "m.db"):
    directory.mkdir(parents=True, exist_ok=True)
    path = write_config(directory, db_url=f"sqlite:///{directory / name}")
    return path, load_settings(path, env=TEST_ENV)


def complaints_in(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM complaints").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def filled(tmp_path):
    """An office whose database holds two complaints, made by the real intake."""
    path, settings = office(tmp_path / "live")
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    app = build(settings, clock=clock)
    for n in (1, 2):
        with app.factory.begin() as s:
            app.intake.process(s, mail(n), Source("INBOX", 1, n))
    app.close()
    return path, settings


def queue(config) -> list[dict]:
    r = mailflow_at(clock, "queue", "--json", "--reveal", "--config", str(config))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_backup_is_one_consistent_snapshot_while_the_database_is_written(filled, tmp_path):
    config, settings = filled
    live = db.sqlite_path(settings.database_url)
    assert live is not None
    # A connection kept open throughout, so closing the others does not checkpoint the WAL.
    keeper = sqlite3.connect(live)
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # complaints 1-2 now in the .db file itself
    app = build(settings, clock=clock)
    try:
        with app.factory.begin() as s:  # complaint 3: committed, but only in the WAL
            app.intake.process(s, mail(3), Source("INBOX", 1, 3))
        plain_copy = tmp_path / "plain-copy.db"
        shutil.copyfile(live, plain_copy)  # what copying the .db file alone would keep
        assert complaints_in(plain_copy) == 2

        # Complaint 4: a write transaction left open, its rows uncommitted.
        writer = app.factory()
        writer.begin()
        app.intake.process(writer, mail(4), Source("INBOX", 1, 4))
        writer.flush()
        assert writer.execute(text("SELECT count(*) FROM complaints")).scalar() == 4
        try:
            target = tmp_path / "backups" / "mailflow.bak"
            target.parent.mkdir()
            r = mailflow_at(clock, "backup", str(target), "--config", str(config))
            assert r.returncode == 0, r.stderr
            assert "integrity ok" in r.stdout and db.head_revision() in r.stdout
        finally:
            writer.rollback()
            writer.close()
    finally:
        app.close()
        keeper.close()
    assert complaints_in(target) == 3
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["mailflow.bak"]  # no -wal, no partial file


def test_backup_refuses_to_overwrite_unless_forced(filled, tmp_path):
    config, _ = filled
    target = tmp_path / "b.db"
    target.write_bytes(b"keep me")
    r = mailflow_at(clock, "backup", str(target), "--config", str(config))
    assert r.returncode == 2 and "--force" in r.stderr and "Traceback" not in r.stderr
    assert target.read_bytes() == b"keep me"
    target.chmod(0o644)
    forced = mailflow_at(clock, "backup", str(target), "--force", "--config", str(config))
    assert forced.returncode == 0, forced.stderr
    assert complaints_in(target) == 2 and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_restore_into_a_fresh_place_gives_the_same_queue(filled, tmp_path):
    config, _ = filled
    target = tmp_path / "b.db"
    assert mailflow_at(clock, "backup", str(target), "--config", str(config)).returncode == 0
    fresh, fresh_settings = office(tmp_path / "elsewhere")
    r = mailflow_at(clock, "restore", str(target), "--config", str(fresh))
    assert r.returncode == 0, r.stderr
    assert "db upgrade" not in r.stdout
    restored = db.sqlite_path(fresh_settings.database_url)
    assert restored is not None and stat.S_IMODE(restored.stat().st_mode) == 0o600
    before = queue(config)
    assert len(before) == 2 and queue(fresh) == before
    with sqlite3.connect(restored) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_restore_replaces_a_database_only_when_forced_and_not_in_use(filled, tmp_path):
    config, settings = filled
    target = tmp_path / "b.db"
    assert mailflow_at(clock, "backup", str(target), "--config", str(config)).returncode == 0
    app = build(settings, clock=clock)
    with app.factory.begin() as s:  # a complaint after the backup: the restore takes it away
        app.intake.process(s, mail(3), Source("INBOX", 1, 3))
    try:
        r = mailflow_at(clock, "restore", str(target), "--config", str(config))
        assert r.returncode == 2 and "--force" in r.stderr
        with app.engine.connect():  # the daemon has it open
            busy = mailflow_at(clock, "restore", str(target), "--force", "--config", str(config))
        assert busy.returncode == 2 and "in use" in busy.stderr, busy.stderr
        assert len(queue(config)) == 3
    finally:
        app.close()
    r = mailflow_at(clock, "restore", str(target), "--force", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert len(queue(config)) == 2


def test_restore_refuses_a_corrupt_backup_in_one_line(filled, tmp_path):
    config, settings = filled
    good = tmp_path / "b.db"
    assert mailflow_at(clock, "backup", str(good), "--config", str(config)).returncode == 0
    bad = tmp_path / "bad.db"
    data = bytearray(good.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree (the schema table) destroyed
    bad.write_bytes(bytes(data))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 300)
    live = db.sqlite_path(settings.database_url)
    assert live is not None
    before = live.read_bytes()
    for broken in (bad, garbage, tmp_path / "missing.db"):
        r = mailflow_at(clock, "restore", str(broken), "--force", "--config", str(config))
        assert r.returncode == 2, r
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mailflow: error: ") and str(broken) in lines[0], r.stderr
    assert live.read_bytes() == before


def test_restore_of_an_older_schema_says_to_upgrade(filled, tmp_path):
    config, _ = filled
    target = tmp_path / "b.db"
    assert mailflow_at(clock, "backup", str(target), "--config", str(config)).returncode == 0
    with sqlite3.connect(target) as conn:  # as if taken by the previous release
        previous = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        script = db.ScriptDirectory.from_config(db._alembic_config())
        down = script.get_revision(previous).down_revision
        conn.execute("UPDATE alembic_version SET version_num = ?", (down,))
    fresh, _ = office(tmp_path / "elsewhere")
    r = mailflow_at(clock, "restore", str(target), "--config", str(fresh))
    assert r.returncode == 0, r.stderr
    assert "mailflow db upgrade" in r.stdout


def test_postgresql_backup_prints_pg_dump_without_the_password(tmp_path):
    url = "postgresql+psycopg://mailflow:s3cret-pw@db.example.test:5432/mailflow"
    path = write_config(tmp_path, db_url=url)
    r = mailflow_at(clock, "backup", str(tmp_path / "m.dump"), "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert "s3cret-pw" not in r.stdout + r.stderr
    assert (f"pg_dump --format=custom --file={tmp_path / 'm.dump'} "
            "'postgresql://mailflow:***@db.example.test:5432/mailflow'") in r.stdout
    assert not (tmp_path / "m.dump").exists()
    help_text = mailflow_at(clock, "backup", "--help").stdout
    assert "pg_dump" in help_text
    refused = mailflow_at(clock, "restore", str(tmp_path / "m.dump"), "--config", str(path))
    assert refused.returncode == 2 and "pg_restore" in refused.stderr
