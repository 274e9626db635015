"""``--json`` on every command that prints a result, and the command line in
English or Bahasa Indonesia (``mailflow/cli/messages.py``).

The CLI runs in this process on a fixed clock, as its console script runs it
(``mailflow.cli.main``), on a real SQLite database filled through the real
intake; no mail server is contacted (``poll --once`` meets a closed port)."""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, datetime

import pytest
import typer.main
from sqlalchemy import text

from devstack.system import free_port
from mailflow import __version__
from mailflow.cli import CliContext, app, main
from mailflow.cli.messages import LANGUAGES, MESSAGES, language, language_named
from mailflow.config.settings import load_settings
from mailflow.desk.delivery import Source
from mailflow.runner.app import build
from mailflow.store import db
from support import INVALID_BODY, REPO, TEST_ENV, complaint_mail, write_config

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, 10:00 in Bantul

# Commands that print no result, so have no --json: they run until stopped and log.
WITHOUT_JSON = {
    "run": "the daemon: logs (--log-format json), prints no result",
    "worker": "a worker process: logs (--log-format json), prints no result",
}


def commands(command=None, path=()):
    """(name, click command) of every leaf command of the Typer app."""
    command = command or typer.main.get_command(app)
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            yield from commands(command.get_command(ctx, name), (*path, name))
    else:
        yield " ".join(path), command


def takes_json(command) -> bool:
    return any("--json" in getattr(p, "opts", ()) for p in command.params)


def test_every_command_that_prints_a_result_takes_json():
    found = dict(commands())
    assert len(found) >= 20 and set(WITHOUT_JSON) <= set(found), sorted(found)
    missing = [name for name, command in found.items() if name not in WITHOUT_JSON and not takes_json(command)]
    assert missing == []
    # The exclusions are real: a command that gains --json leaves the list.
    assert [name for name in WITHOUT_JSON if takes_json(found[name])] == []


def run(*args: str, env: dict | None = None) -> tuple[int, str, str]:
    """``mailflow ARGS`` in this process: (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    with CliRunner().isolation(env={**TEST_ENV, "MAILFLOW_CONFIG": None, "MAILFLOW_LANG": None,
                                    **(env or {})}) as (out, err, _):
        try:
            main(list(args), obj=CliContext(clock=lambda: NOW))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue().decode(), err.getvalue().decode()


def as_json(*args: str, code: int = 0) -> dict | list:
    """The one JSON document ``mailflow ARGS --json`` prints (and its exit code is ``code``)."""
    got, out, err = run(*args, "--json")
    assert got == code, (out, err)
    return json.loads(out)


@pytest.fixture
def filled(tmp_path):
    """A config + database holding one registered complaint (NIK 3402011201900001)
    and one rejected mail."""
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", imap_port=free_port("127.0.0.1"),
                        smtp_port=free_port("127.0.0.1"))
    settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    desk = build(settings, clock=lambda: NOW)
    with desk.factory.begin() as s:
        desk.intake.process(s, complaint_mail(message_id="<c1@warga.test>"), Source("INBOX", 1, 1))
    with desk.factory.begin() as s:
        desk.intake.process(s, complaint_mail(INVALID_BODY, sender="warga2@dukcapil.test"), Source("INBOX", 1, 2))
    desk.close()
    return path, settings


def sql(settings, statement: str) -> list[tuple]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- --json, command by command
def test_init_and_db_upgrade_json(tmp_path):
    out = as_json("init", str(tmp_path / "office"))
    assert out == {"config": str(tmp_path / "office" / "mailflow.toml"), "rules": str(tmp_path / "office" / "rules"),
                   "database": f"sqlite:///{tmp_path / 'office' / 'mailflow.db'}", "schema": db.head_revision()}
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'new.db'}")
    assert as_json("db", "upgrade", "--config", str(path)) == {
        "database": f"sqlite:///{tmp_path / 'new.db'}", "before": None, "after": db.head_revision(), "upgraded": True}
    again = as_json("db", "upgrade", "--config", str(path))
    assert (again["before"], again["upgraded"]) == (db.head_revision(), False)


def test_backup_and_restore_json(filled, tmp_path):
    path, settings = filled
    out = as_json("backup", str(tmp_path / "copy.db"), "--config", str(path))
    assert out["dumped"] is True and out["backup"] == str(tmp_path / "copy.db") and out["integrity"] == "ok"
    assert out["schema"] == db.head_revision() and out["size"] == (tmp_path / "copy.db").stat().st_size
    back = as_json("restore", str(tmp_path / "copy.db"), "--force", "--config", str(path))
    assert back == {"database": str(tmp_path / "m.db"), "backup": str(tmp_path / "copy.db"), "integrity": "ok",
                    "schema": db.head_revision(), "needs_upgrade": False}


def test_backup_json_on_postgresql_is_the_command_without_the_password(tmp_path):
    path = write_config(tmp_path, db_url="postgresql+psycopg://mailflow:sekret@db.example:5432/mailflow")
    code, out, err = run("backup", str(tmp_path / "x.dump"), "--config", str(path), "--json")
    assert code == 0 and "sekret" not in out
    doc = json.loads(out)
    assert doc["dumped"] is False and doc["command"].startswith("pg_dump") and "***" in doc["database"]


def test_resend_json_says_what_was_done_per_mail(filled):
    path, settings = filled
    sql(settings, "UPDATE outbox SET state = 'failed', attempts = 8, last_error = '550 no such user'")
    out = as_json("resend", "--failed", "--config", str(path))
    assert [r["action"] for r in out["resent"]] == ["queued_again"] * 3
    assert {r["kind"] for r in out["resent"]} >= {"citizen/acknowledgement"}
    assert all(r["message_id"] and isinstance(r["to"], list) and r["resent_message_id"] is None
               for r in out["resent"])
    sent = as_json("resend", "ADU/2026/000001", "--config", str(path))["resent"]
    # pending again, so "queued again" once more (every failed-or-pending mail of it)
    assert {r["action"] for r in sent} <= {"queued_again", "resent_copy"} and sent
    sql(settings, "UPDATE outbox SET state = 'sent'")
    copy = as_json("resend", "ADU/2026/000001", "--config", str(path))["resent"]
    assert [r["action"] for r in copy] == ["resent_copy"] and copy[0]["resent_message_id"]


def test_an_error_with_json_is_one_line_on_stderr_and_nothing_on_stdout(filled):
    path, _ = filled
    code, out, err = run("resend", "--failed", "--config", str(path), "--json")
    assert (code, out) == (2, "") and err.count("\n") == 1 and err.startswith("mailflow: error: no outbound mail")
    code, out, err = run("show", "ADU/2026/999999", "--config", str(path), "--json")
    assert (code, out) == (2, "") and err.startswith("mailflow: error: no complaint numbered")


def test_mail_retry_json(filled):
    path, settings = filled
    (rejected,) = as_json("mail", "list", "--kind", "rejected", "--config", str(path))
    out = as_json("mail", "retry", str(rejected["id"]), "--config", str(path))
    assert out["id"] == rejected["id"] and out["office"] == "default" and out["action"] == "rejected"
    assert "3402011201900001" not in json.dumps(out)
    ((registered,),) = sql(settings, "SELECT id FROM messages WHERE complaint_id IS NOT NULL AND direction = 'in'")
    again = as_json("mail", "retry", str(registered), "--config", str(path))
    assert again == {"id": registered, "office": "default", "action": "already_on_complaint",
                     "complaint": "ADU/2026/000001", "reason": None}


def test_office_check_and_add_json(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}",
                        extra='\n[deployment]\noffices = "offices"\n')
    (tmp_path / "offices").mkdir()
    out = as_json("office", "check", "--config", str(path))
    assert out["ok"] is True and [o["office"] for o in out["offices"]] == ["default"]
    assert out["offices"][0]["steps"] > 0 and out["database"]["checked"] is False  # no database yet
    added = as_json("office", "add", "sleman", "--name", "Disdukcapil Sleman", "--address", "aduan@sleman.test",
                    "--imap-user", "aduan-sleman", "--config", str(path))
    assert added == {"office": "sleman", "file": str(tmp_path / "offices" / "sleman.toml"),
                     "password_env": "MAILFLOW_SLEMAN_IMAP_PASSWORD"}
    both = as_json("office", "check", "--config", str(path))
    assert [o["office"] for o in both["offices"]] == ["default", "sleman"]
    assert both["offices"][1]["note"] and "MAILFLOW_SLEMAN_IMAP_PASSWORD" in both["offices"][1]["note"]


def test_report_json(filled, tmp_path):
    path, _ = filled
    report = as_json("report", "--month", "2026-03", "--config", str(path))
    assert report == json.loads(run("report", "--month", "2026-03", "--format", "json", "--config", str(path))[1])
    done = as_json("report", "--month", "2026-03", "--format", "csv", "--output", str(tmp_path / "r.csv"),
                   "--config", str(path))
    assert done == {"month": "2026-03", "office": "default", "queued_for": None,
                    "output": {"path": str(tmp_path / "r.csv"), "format": "csv",
                               "bytes": (tmp_path / "r.csv").stat().st_size}}
    (tmp_path / "p").mkdir()  # an office whose rules name who receives the report
    mailing = write_config(tmp_path / "p", db_url=f"sqlite:///{tmp_path / 'p' / 'm.db'}",
                           rules="palangkaraya-online.toml")
    assert run("db", "upgrade", "--config", str(mailing))[0] == 0
    sent = as_json("report", "--month", "2026-02", "--send", "--config", str(mailing))
    assert sent["month"] == "2026-02" and sent["output"] is None and sent["office"] == "default"
    assert sent["queued_for"] and all("@" in address for address in sent["queued_for"]), sent
    code, out, err = run("report", "--month", "2026-03", "--format", "html", "--json", "--config", str(path))
    assert (code, out) == (2, "") and "--output" in err


def test_poll_json_names_the_server_that_failed(filled):
    path, _ = filled
    code, out, err = run("poll", "--once", "--config", str(path), "--json")
    assert code == 1 and "mail server problem" in err
    (office,) = json.loads(out)["offices"]
    assert office["office"] == "default" and office["ok"] is False and office["error"]


def test_version_and_workers_json(filled):
    path, _ = filled
    assert as_json("version") == {"version": __version__}
    fleet = as_json("workers", "--config", str(path))
    assert fleet["workers"] == [] and [o["office"] for o in fleet["offices"]] == ["default"]


# --------------------------------------------------------------------------- languages
PLACEHOLDERS = string.Formatter()


def fields(line: str) -> set[str]:
    return {name for _, name, _, _ in PLACEHOLDERS.parse(line) if name is not None}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_and_the_same_placeholders(key):
    said = MESSAGES[key]
    assert set(said) == set(LANGUAGES), said
    assert all(said[lang].strip() for lang in LANGUAGES)
    assert fields(said["en"]) == fields(said["id"]), said


@pytest.mark.parametrize(("value", "chosen"), [
    ("id", "id"), ("ID", "id"), ("id_ID.UTF-8", "id"), ("in", "id"), ("en", "en"), ("en_US.UTF-8", "en"),
    ("fr", None), ("", None),
])
def test_language_named(value, chosen):
    assert language_named(value) == chosen


def test_language_from_the_environment_then_the_config(tmp_path):
    config = tmp_path / "mailflow.toml"
    config.write_text('[office]\ncli_language = "id"\n')
    assert language({}, config) == "id"
    assert language({"MAILFLOW_LANG": "en"}, config) == "en"  # the environment wins
    assert language({"MAILFLOW_CONFIG": str(config)}) == "id"
    assert language({}, tmp_path / "missing.toml") == "en"
    config.write_text('[office]\ncli_language = "fr"\n')  # invalid: loading the config says so
    assert language({}, config) == "en"


def office_in(tmp_path, cli_language: str | None):
    extra = f'cli_language = "{cli_language}"\n' if cli_language else ""
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    path.write_text(path.read_text().replace("[office]\n", "[office]\n" + extra, 1))
    settings = load_settings(path, env=TEST_ENV)
    assert settings.office.cli_language == (cli_language or "en")
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    desk = build(settings, clock=lambda: NOW)
    with desk.factory.begin() as s:
        desk.intake.process(s, complaint_mail(message_id="<c1@warga.test>"), Source("INBOX", 1, 1))
    desk.close()
    return path


@pytest.mark.parametrize(("cli_language", "env", "said"), [
    (None, {}, {"status": "status:   DEGRADED", "reason": "mailbox INBOX never looked at", "queue": "number", "outbox": "attempts",
                "mail": "no inbound mail quarantined", "check": "FAILED",
                "templates": r"^templates: +\d+ found$"}),
    ("id", {}, {"status": "status:   TERGANGGU", "reason": "kotak surat INBOX belum pernah dicek", "queue": "nomor", "outbox": "percobaan",
                "mail": "tidak ada surel masuk", "check": "GAGAL",
                "templates": r"^templat: +\d+ ditemukan$"}),
    (None, {"MAILFLOW_LANG": "id"}, {"status": "status:   TERGANGGU", "reason": "apakah daemon", "queue": "pelapor", "outbox": "kepada",
                                     "mail": "tidak ada surel masuk", "check": "GAGAL", "templates": r"^templat: +\d+ ditemukan$"}),
    ("id", {"MAILFLOW_LANG": "en"}, {"status": "status:   DEGRADED", "reason": "is the daemon", "queue": "complainant", "outbox": "to",
                                     "mail": "no inbound mail", "check": "FAILED", "templates": r"^templates: +\d+ found$"}),
])
def test_commands_speak_the_configured_language(tmp_path, cli_language, env, said):
    path = office_in(tmp_path, cli_language)
    config = ("--config", str(path))
    code, out, _ = run("status", *config, env=env)
    assert code == 1 and said["status"] in out and said["reason"] in out  # never looked at the mailbox: degraded
    assert said["queue"] in run("queue", *config, env=env)[1].splitlines()[0].split()
    assert said["outbox"] in run("queue", "--outbox", *config, env=env)[1].splitlines()[0].split()
    assert said["mail"] in run("mail", "list", *config, env=env)[1]
    code, out, _ = run("config", "check", *config, env={"TEST_IMAP_PASSWORD": None, **env})
    assert code == 1 and said["check"] in out and re.search(said["templates"], out, re.MULTILINE), out
    # --json is the same in every language
    report = json.loads(run("status", *config, "--json", env=env)[1])
    assert report["status"] == "degraded" and report["reasons"] == [
        "default: mailbox INBOX never looked at: is the daemon or a worker running?"]


def test_more_commands_in_bahasa_indonesia(filled, tmp_path):
    path, _ = filled
    indonesian = {"MAILFLOW_LANG": "id"}
    code, out, _ = run("db", "status", "--config", str(path), env=indonesian)
    assert code == 0 and out.startswith("basis data: sqlite:///") and "dibutuhkan: " in out
    code, out, _ = run("backup", str(tmp_path / "b.db"), "--config", str(path), env=indonesian)
    assert code == 0 and "dicadangkan ke" in out and "integritas baik" in out
    code, out, _ = run("office", "check", "--config", str(path), env=indonesian)
    assert code == 0 and out.startswith("kantor default: baik: ") and "setiap baris milik kantor" in out
    code, out, _ = run("office", "list", "--config", str(path), env=indonesian)
    assert out.split()[:3] == ["kunci", "nama", "alamat"]
    code, out, _ = run("workers", "--config", str(path), env=indonesian)
    assert code == 0 and out.startswith("tidak ada worker") and "belum pernah" in out
    code, out, _ = run("rules", "check", str(REPO / "rules" / "bantul-email.toml"), env=indonesian)
    assert code == 0 and "\nperan:\n" in out and "standar seluruhnya:" in out and "pangkat 1" in out
    code, _, err = run("queue", "--status", "tutup", "--config", str(path), env=indonesian)
    assert code == 2 and "status itu tidak ada" in err
    code, _, err = run("mail", "show", "999", "--config", str(path), env=indonesian)
    assert code == 2 and err == "mailflow: galat: tidak ada surel masuk #999 (lihat `mailflow mail list`)\n"


def test_one_line_errors_in_bahasa_indonesia(tmp_path):
    missing = tmp_path / "nowhere" / "mailflow.toml"
    code, out, err = run("queue", "--config", str(missing), env={"MAILFLOW_LANG": "id"})
    assert code == 2 and err.startswith("mailflow: galat: ") and err.count("\n") == 1
    code, out, err = run("queue", "--config", str(missing))
    assert code == 2 and err.startswith("mailflow: error: ")
    # a database that cannot be opened: the line of store/db.py's case, in Indonesian
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'm.db'}")
    code, out, err = run("queue", "--config", str(path), env={"MAILFLOW_LANG": "id"})
    assert code == 2 and err.startswith("mailflow: galat: basis data SQLite") and "tidak dapat dibuka" in err, err
    code, out, err = run("resend", "--config", str(path), env={"MAILFLOW_LANG": "id"})
    assert code == 2 and "salah satu saja" in err


@pytest.mark.integration
def test_config_check_connect_in_json_and_in_bahasa_indonesia(make_desk):
    """`config check --connect` on the real mail stack: --json names each server
    logged in to (in English whatever the language), the text says it in the
    admin's language."""
    _, desk, _ = make_desk()
    config = ("--config", str(desk.settings.path))
    out = as_json("config", "check", "--connect", *config)
    servers = {c["check"]: c for c in out["checks"] if c["check"] in ("imap", "smtp")}
    assert out["ok"] is True and set(servers) == {"imap", "smtp"}
    assert servers["imap"]["detail"].endswith(": logged in, folder INBOX selected")
    assert servers["smtp"]["detail"].endswith(": logged in")
    code, said, _ = run("config", "check", "--connect", *config, env={"MAILFLOW_LANG": "id"})
    assert code == 0 and "berhasil masuk, folder INBOX dipilih" in said and "rahasia:" in said
    same = json.loads(run("config", "check", "--connect", *config, "--json", env={"MAILFLOW_LANG": "id"})[1])
    assert same == out
