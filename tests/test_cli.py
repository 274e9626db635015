"""The mailflow command line, run as a user runs it (a subprocess), on a real
SQLite database filled through the real intake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from mailflow.cli.base import remaining
from mailflow.config.settings import load_settings
from mailflow.core.calendar import OfficeCalendar
from mailflow.core.vocabulary import Status
from mailflow.desk.delivery import Source
from mailflow.runner.app import build
from mailflow.store import db
from mailflow.store.models import OutboxItem
from support import INVALID_BODY, MAIL_DATE, REPO, TEST_ENV, VALID_BODY, complaint_mail, mailflow_at, write_config


def mailflow(*args: str, cwd=None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLOW_CONFIG", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "mailflow", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)


@pytest.fixture
def filled(tmp_path):
    """A config + database holding one registered complaint and one rejection."""
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    app = build(settings)
    with app.factory.begin() as s:
        app.intake.process(s, complaint_mail(message_id="<c1@warga.test>"), Source("INBOX", 1, 1))
    with app.factory.begin() as s:
        app.intake.process(s, complaint_mail(INVALID_BODY, sender="warga2@dukcapil.test"), Source("INBOX", 1, 2))
    app.close()
    return path, settings


def test_help_lists_every_command():
    out = mailflow("--help").stdout
    for cmd in ("init", "db", "run", "poll", "queue", "show", "report", "resend", "rules", "config", "backup", "restore"):
        assert cmd in out


def test_init_writes_a_config_and_a_database(tmp_path):
    r = mailflow("init", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mailflow.toml").is_file() and (tmp_path / "rules" / "bantul-email.toml").is_file()
    assert (tmp_path / "mailflow.db").is_file()
    again = mailflow("init", str(tmp_path))
    assert again.returncode == 2 and "--force" in again.stderr
    status = mailflow("db", "status", "--config", str(tmp_path / "mailflow.toml"))
    assert status.returncode == 0 and "needed" in status.stdout and "none" not in status.stdout


def test_run_on_an_old_schema_refuses_and_names_the_fix(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    r = mailflow("run", "--config", str(path))
    assert r.returncode == 2
    assert "mailflow db upgrade" in r.stderr
    up = mailflow("db", "upgrade", "--config", str(path))
    assert up.returncode == 0 and "upgraded" in up.stdout


def test_config_errors_are_one_line_with_file_and_key(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///m.db")
    path.write_text(path.read_text().replace('security = "none"', 'security = "maybe"', 1))
    r = mailflow("queue", "--config", str(path))
    assert r.returncode == 2
    assert "imap.security" in r.stderr and str(path) in r.stderr and "Traceback" not in r.stderr


def test_config_path_from_environment(filled):
    path, _ = filled
    r = mailflow("queue", env_extra={"MAILFLOW_CONFIG": str(path)})
    assert r.returncode == 0 and "ADU/" in r.stdout


def test_queue_masks_nik_unless_revealed(filled):
    path, _ = filled
    r = mailflow("queue", "--config", str(path), env_extra={"COLUMNS": "200"})  # wide enough for a masked NIK
    assert r.returncode == 0, r.stderr
    assert "Siti Aminah" in r.stdout and "340201******0001" in r.stdout and "3402014501900001" not in r.stdout
    revealed = mailflow("queue", "--reveal", "--config", str(path)).stdout
    assert "3402014501900001" in revealed
    rows = json.loads(mailflow("queue", "--json", "--config", str(path)).stdout)
    assert [r["status"] for r in rows] == ["registered"]
    assert rows[0]["complainant"]["nik"] == "340201******0001"
    assert "no complaints" in mailflow("queue", "--status", "closed", "--config", str(path)).stdout


@pytest.mark.parametrize(("words", "listed"), [
    (("registered",), True), (("terdaftar",), True), (("Terdaftar",), True), (("in_progress", "terdaftar"), True),
    (("diproses",), False), (("menunggu pelapor",), False), (("waiting-citizen",), False), (("selesai",), False),
    (("closed",), False), (("menunggu persetujuan", "registered"), True),
])
def test_queue_status_in_english_or_bahasa_indonesia(filled, words, listed):
    path, _ = filled
    args = [a for w in words for a in ("--status", w)]
    r = mailflow_at(lambda: MAIL_DATE, "queue", *args, "--json", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert [c["status"] for c in json.loads(r.stdout)] == (["registered"] if listed else [])


@pytest.mark.parametrize("word", ["terdaftarr", "open", "dijawab", "answered", ""])
def test_queue_unknown_status_is_one_error_naming_both_languages(filled, word):
    path, _ = filled
    r = mailflow_at(lambda: MAIL_DATE, "queue", "--status", word, "--config", str(path))
    assert r.returncode == 2 and r.stdout == ""
    [line] = r.stderr.splitlines()
    assert line.startswith(f"mailflow: error: --status {word!r}")
    for status in Status:
        assert status.value in line and status.label in line


def test_show_tells_the_path_in_order(filled):
    path, _ = filled
    number = json.loads(mailflow("queue", "--json", "--config", str(path)).stdout)[0]["number"]
    r = mailflow("show", number, "--config", str(path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    order = [out.index(w) for w in ("Surel diterima", "Aduan didaftarkan", "Tanda terima", "Diteruskan")]
    assert order == sorted(order)
    assert "3402014501900001" not in out and "Admin Email" in out
    data = json.loads(mailflow("show", number, "--json", "--config", str(path)).stdout)
    assert [h["kind"] for h in data["hops"]][:5] == ["received", "parsed", "registered", "acknowledged", "forwarded"]
    missing = mailflow("show", "ADU/1999/000009", "--config", str(path))
    assert missing.returncode == 2 and "no complaint" in missing.stderr


def test_outbox_listing_and_resend(filled):
    path, settings = filled
    out = mailflow("queue", "--outbox", "--config", str(path)).stdout
    assert "citizen/acknowledgement" in out and "staff/forward" in out and "pending" in out
    engine = db.make_engine(settings.database_url)
    with engine.begin() as conn:  # as if SMTP had refused it for good
        conn.execute(text("UPDATE outbox SET state = 'failed', last_error = '550 no such user' WHERE kind = 'staff/forward'"))
    number = json.loads(mailflow("queue", "--json", "--config", str(path)).stdout)[0]["number"]
    r = mailflow("resend", number, "--config", str(path))
    assert r.returncode == 0 and "queued again" in r.stdout
    with engine.connect() as conn:
        states = dict(conn.execute(select(OutboxItem.kind, OutboxItem.state)).all())
        resent_id = conn.execute(text("SELECT message_id FROM messages WHERE direction='out' AND classification='citizen/acknowledgement'")).scalar()
        conn.execute(text("SELECT 1"))
    assert states["staff/forward"] == "pending"
    # a sent mail goes again as a Resent- copy with the same Message-ID
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET state = 'sent' WHERE kind = 'citizen/acknowledgement'"))
    r = mailflow("resend", f"<{resent_id}>", "--config", str(path))
    assert r.returncode == 0 and "Resent-Message-ID" in r.stdout
    with engine.connect() as conn:
        raws = conn.execute(text("SELECT raw FROM messages WHERE dedupe_key LIKE 'resent:%'")).scalars().all()
        hops = conn.execute(text("SELECT count(*) FROM hops WHERE kind = 'resent'")).scalar()
    engine.dispose()
    assert len(raws) == 1 and raws[0].startswith(b"Resent-Date:") and resent_id.encode() in raws[0]
    assert hops == 2


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "rules").glob("*.toml") if p.name != "complaint-format.toml"))
def test_rules_check_passes_on_each_shipped_file(name):
    r = mailflow("rules", "check", str(REPO / "rules" / name))
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_rules_check_json_is_the_ladder_as_data():
    r = mailflow("rules", "check", str(REPO / "rules" / "bantul-email.toml"), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["steps"][0]["held_by"] == "Pemohon (warga)"
    assert data["steps"][1] == {"key": "terima", "name": "Admin menerima pengaduan via email", "role": "admin",
                                "held_by": "Admin Email", "standard": {"amount": 10, "unit": "minutes",
                                                                       "text": "10 menit"},
                                "auto": data["steps"][1]["auto"], "actions": data["steps"][1]["actions"],
                                "confirm": None}
    assert {role["key"] for role in data["roles"]} >= {"admin"} and data["answer"]["reopen_days"] == 7


def test_rules_check_names_a_typod_role(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO / "rules" / "bantul-email.toml").read_text().replace('role = "kabid"', 'role = "kabidd"'))
    (tmp_path / "complaint-format.toml").write_text((REPO / "rules" / "complaint-format.toml").read_text())
    r = mailflow("rules", "check", str(bad))
    assert r.returncode == 2
    assert "steps[5].role" in r.stderr and "kabidd" in r.stderr


def test_queue_overdue_and_sorted_by_due_time(tmp_path, monkeypatch):
    """One complaint registered a week ago (its 30-minute step long overdue) and one
    registered now: --overdue lists only the first, --sort due puts it first, and
    the 'left' column counts working time. "Now" is a fake clock, for the desk
    and the command line alike (run in this process)."""
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
    now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # a week later, Monday 09:00 WIB
    fresh = build(settings, clock=lambda: now)
    with fresh.factory.begin() as s:
        fresh.intake.process(s, complaint_mail(message_id="<new@warga.test>", sender="warga2@dukcapil.test", date=now),
                             Source("INBOX", 1, 2))
    fresh.close()
    old = build(settings, clock=lambda: monday)
    with old.factory.begin() as s:
        old.intake.process(s, complaint_mail(message_id="<old@warga.test>", date=monday), Source("INBOX", 1, 1))
    old.close()

    def mailflow(*args: str):
        return mailflow_at(lambda: now, *args)

    listed = json.loads(mailflow("queue", "--json", "--config", str(path)).stdout)
    assert [r["overdue"] for r in listed] == [True, False]  # received order: the old one first
    overdue = json.loads(mailflow("queue", "--overdue", "--json", "--config", str(path)).stdout)
    assert [r["complainant"]["email"] for r in overdue] == ["warga1@dukcapil.test"]
    monkeypatch.setenv("COLUMNS", "200")  # a terminal wide enough for the due column
    table = mailflow("queue", "--overdue", "--config", str(path)).stdout
    assert "2026-11-23 09:30" in table and "terlambat " in table and "warga2" not in table
    # Mon 23 Nov 09:30 + 4 working days = Fri 27 Nov 09:30; then Fri 09:30-16:30 and Mon 07:30-09:00
    assert "terlambat 4 hari 8 jam" in table
    number = listed[0]["number"]
    assert "Batas waktu  : 2026-11-23 09:30 (terlambat 4 hari 8 jam, dihitung pada jam kerja)" in mailflow(
        "show", number, "--config", str(path)).stdout
    by_due = json.loads(mailflow("queue", "--sort", "due", "--json", "--config", str(path)).stdout)
    assert [r["complainant"]["email"] for r in by_due] == ["warga1@dukcapil.test", "warga2@dukcapil.test"]
    bad = mailflow("queue", "--sort", "sideways", "--config", str(path))
    assert bad.returncode == 2 and "--sort" in bad.stderr


WIB = ZoneInfo("Asia/Jakarta")
# Mon-Thu 07:30-16:00, Fri 07:30-16:30; Wednesday 25 November closed (an office's own closed day)
CALENDAR = OfficeCalendar("Asia/Jakarta", extra_closed={date(2026, 11, 25)})
PLAIN = OfficeCalendar("Asia/Jakarta")  # no public holiday in November 2026
# A short-day office: 08:00-12:00 Monday to Friday (a working day is 4 hours here)
SHORT = OfficeCalendar("Asia/Jakarta", hours={d: [(time(8), time(12))] for d in range(5)})


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


@pytest.mark.parametrize(("calendar", "due", "now", "said"), [
    (CALENDAR, wib(23, 9, 30), wib(23, 9), "sisa 30 menit"),
    (CALENDAR, wib(23, 10, 5), wib(23, 9), "sisa 1 jam 5 menit"),
    (CALENDAR, wib(23, 9), wib(23, 9), "sisa 0 menit"),
    (CALENDAR, wib(23, 15, 59), wib(23, 7, 30), "sisa 8 jam 29 menit"),  # not yet a day: Monday is 8.5 h
    (CALENDAR, wib(24, 11, 15), wib(23, 9), "sisa 1 hari 2 jam"),
    (CALENDAR, wib(24, 16), wib(23, 20), "sisa 1 hari"),  # evening: the next working day whole
    (CALENDAR, wib(26, 10), wib(24, 9), "sisa 1 hari 1 jam"),  # Wednesday closed
    (CALENDAR, wib(23, 9), wib(23, 9, 20), "terlambat 20 menit"),
    (CALENDAR, wib(23, 9), wib(24, 12, 10), "terlambat 1 hari 3 jam"),
    (PLAIN, wib(23, 9, 30), wib(30, 9), "terlambat 4 hari 8 jam"),  # Fri 09:30-16:30 + Mon 07:30-09:00
    (CALENDAR, wib(23, 9, 30), wib(30, 9), "terlambat 3 hari 8 jam"),  # ... and Wednesday closed
    (CALENDAR, wib(27, 16, 30), wib(30, 8, 30), "terlambat 1 jam"),  # a weekend is no working time
    (PLAIN, wib(23, 9), wib(30, 20), "terlambat 5 hari 7 jam"),  # after hours counts to the closing
    (SHORT, wib(23, 9), wib(24, 11, 30), "terlambat 1 hari 2 jam"),  # 24 h would say 26 h
    (SHORT, wib(23, 8), wib(30, 12), "terlambat 6 hari"),  # from the opening: Mon 23 to Mon 30 whole
    (SHORT, wib(2, 8), wib(30, 12), "terlambat 21 hari"),
    (CALENDAR, None, wib(23, 9), "-"),
])
def test_remaining_counts_working_days_and_hours_of_the_office_calendar(calendar, due, now, said):
    assert remaining(due, now, calendar) == said


# ------------------------------------------------------------------ files only the service reads (docs/SECURITY.md)
def mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_init_writes_owner_only_files_and_the_database_stays_so(tmp_path):
    os.umask(0o022)  # a usual umask: files would be world-readable
    r = mailflow("init", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert mode(tmp_path / "mailflow.toml") == 0o600
    assert mode(tmp_path / "rules" / "bantul-email.toml") == 0o600
    assert mode(tmp_path / "mailflow.db") == 0o600
    # the WAL and SHM files SQLite makes beside it take the database's mode
    engine = db.make_engine(f"sqlite:///{tmp_path / 'mailflow.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        wal = [p for p in tmp_path.iterdir() if p.name.startswith("mailflow.db-")]
        assert wal and all(mode(p) == 0o600 for p in wal)
    engine.dispose()


def test_init_with_a_data_folder_puts_the_database_there_owner_only(tmp_path):
    """Configuration in /etc, data in /var/lib: the service unit may write only the latter."""
    os.umask(0o022)
    conf, data = tmp_path / "etc", tmp_path / "var" / "lib" / "mailflow"
    r = mailflow("init", str(conf), "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert not (conf / "mailflow.db").exists()
    assert mode(data) == 0o700 and mode(data / "mailflow.db") == 0o600 and mode(conf / "mailflow.toml") == 0o600
    settings = load_settings(conf / "mailflow.toml", env=TEST_ENV)
    assert settings.database_url == f"sqlite:///{data / 'mailflow.db'}"


def test_config_check_warns_about_a_database_others_can_read(filled):
    path, settings = filled
    database = db.sqlite_path(settings.database_url)
    database.chmod(0o644)
    r = mailflow("config", "check", "--config", str(path))
    assert f"warning:   database {database} can be read by other users" in r.stdout
    assert f"chmod 600 {database}" in r.stdout
    database.chmod(0o600)
    assert "warning:   database" not in mailflow("config", "check", "--config", str(path)).stdout


def test_show_prints_no_terminal_escapes_or_bidi_overrides(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    app = build(settings)
    hostile = VALID_BODY.replace("Uraian: KTP-el saya", "Uraian: \x1b]0;pwned\x07\x1b[2J\u202eKTP-el saya")
    with app.factory.begin() as s:
        number = app.intake.process(s, complaint_mail(hostile), Source("INBOX", 1, 1)).complaint_number
    app.close()
    out = mailflow("show", number, "--config", str(path)).stdout
    assert "KTP-el saya" in out
    assert not any(c in out for c in "\x1b\x07\u202e")


def test_resend_failed_requeues_every_failed_mail(filled):
    path, settings = filled
    engine = db.make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET state = 'failed', attempts = 8, last_error = '550 no such user'"))
    engine.dispose()
    r = mailflow("resend", "--failed", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("queued again") == 3  # the acknowledgement, the forward, the format explanation
    engine = db.make_engine(settings.database_url)
    with engine.connect() as conn:
        assert {tuple(row) for row in conn.execute(text("SELECT state, attempts FROM outbox"))} == {("pending", 0)}
    engine.dispose()
    again = mailflow("resend", "--failed", "--config", str(path))
    assert again.returncode == 2 and "no outbound mail has failed" in again.stderr
    both = mailflow("resend", "ADU/2026/000001", "--failed", "--config", str(path))
    assert both.returncode == 2 and "one of them" in both.stderr
