"""The command line across the offices of one deployment: listings with an
office column, --office, a register number two offices share, the report of
one office and the roll-up of all, and ``mailflow office list|check|add``.

Three offices on one database (SQLite, and PostgreSQL where the db_url
fixture gives it), their complaints registered through the real intake; the
CLI runs in this process on a fake clock (``support.mailflow_at``)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from devstack.config import write_office
from mailflow.config.settings import load_deployment
from mailflow.desk.delivery import Source
from mailflow.runner.app import build
from mailflow.store import db
from mailflow.store.models import Message, OutboxItem
from support import INVALID_BODY, MAIL_DATE, REPO, TEST_ENV, complaint_mail, mailflow_at, write_config

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=WIB)  # November 2026 has ended: its report is whole
DEPLOYMENT = '\n[deployment]\noffices = "offices"\n'


def mailflow(*args: str):
    return mailflow_at(lambda: NOW, *args)


def register(settings, mails: list[bytes]) -> list[str]:
    """Each mail through the office's real intake at MAIL_DATE; the outcomes' register numbers."""
    app = build(settings, clock=lambda: MAIL_DATE)
    numbers = []
    try:
        for uid, raw in enumerate(mails, 1):
            with app.factory.begin() as s:
                numbers.append(app.intake.process(s, raw, Source("INBOX", 1, uid)).complaint_number)
    finally:
        app.close()
    return numbers


@pytest.fixture
def offices(tmp_path, db_url):
    """mailflow.toml (the office "default", Bantul, ADU/ numbers) and two office
    files: sleman (SLM/ numbers) and kulon-progo (ADU/ numbers, like default's).
    default has two complaints, sleman one and a rejected mail, kulon-progo one."""
    path = write_config(tmp_path, db_url=db_url, extra=DEPLOYMENT)
    write_office(tmp_path / "offices", "sleman", username="aduan-sleman", register_pattern="SLM/{year}/{seq:06d}",
                 name="Disdukcapil Kabupaten Sleman")
    write_office(tmp_path / "offices", "kulon-progo", username="aduan-kp", name="Disdukcapil Kabupaten Kulon Progo")
    deployment = load_deployment(path, env=TEST_ENV)
    engine = db.make_engine(deployment.database_url)
    db.upgrade(engine)
    engine.dispose()
    numbers = {
        "default": register(deployment.office("default"), [
            complaint_mail(message_id="<d1@warga.test>"),
            complaint_mail(message_id="<d2@warga.test>", sender="warga2@dukcapil.test")]),
        "sleman": register(deployment.office("sleman"), [
            complaint_mail(message_id="<s1@warga.test>", sender="warga3@dukcapil.test", to="aduan-sleman@dukcapil.test"),
            complaint_mail(INVALID_BODY, message_id="<s2@warga.test>", sender="warga4@dukcapil.test",
                           to="aduan-sleman@dukcapil.test")]),
        "kulon-progo": register(deployment.office("kulon-progo"), [
            complaint_mail(message_id="<k1@warga.test>", sender="warga5@dukcapil.test", to="aduan-kp@dukcapil.test")]),
    }
    assert numbers == {"default": ["ADU/2026/000001", "ADU/2026/000002"], "sleman": ["SLM/2026/000001", None],
                       "kulon-progo": ["ADU/2026/000001"]}
    return str(path), deployment


def run_sql(deployment, sql: str, **params):
    engine = db.make_engine(deployment.database_url)
    with engine.begin() as conn:
        result = conn.execute(text(sql), params)
        rows = result.all() if result.returns_rows else None
    engine.dispose()
    return rows


# ------------------------------------------------------------------ queue
@pytest.mark.parametrize(("args", "expected"), [
    ((), [("default", "ADU/2026/000001"), ("default", "ADU/2026/000002"), ("sleman", "SLM/2026/000001"),
          ("kulon-progo", "ADU/2026/000001")]),
    (("--office", "sleman"), [("sleman", "SLM/2026/000001")]),
    (("--office", "kulon-progo"), [("kulon-progo", "ADU/2026/000001")]),
])
def test_queue_lists_every_office_or_one(offices, args, expected):
    path, _ = offices
    r = mailflow("queue", "--json", *args, "--config", path)
    assert r.returncode == 0, r.stderr
    assert [(c["office"], c["number"]) for c in json.loads(r.stdout)] == expected
    listed = mailflow("queue", *args, "--config", path).stdout.splitlines()
    assert listed[0].split()[:2] == ["office", "number"]
    assert [tuple(line.split()[:2]) for line in listed[2:]] == expected


def test_queue_outbox_has_an_office_column_and_filter(offices):
    path, _ = offices
    rows = json.loads(mailflow("queue", "--outbox", "--json", "--config", path).stdout)
    assert {o["office"] for o in rows} == {"default", "sleman", "kulon-progo"}
    sleman = json.loads(mailflow("queue", "--outbox", "--json", "--office", "sleman", "--config", path).stdout)
    assert sleman and {o["office"] for o in sleman} == {"sleman"}
    assert mailflow("queue", "--outbox", "--config", path).stdout.split()[:2] == ["office", "id"]


@pytest.mark.parametrize("command", [
    ("queue", "--office"), ("show", "SLM/2026/000001", "--office"), ("resend", "SLM/2026/000001", "--office"),
    ("report", "--month", "2026-11", "--office"), ("office", "check"),
])
def test_an_unknown_office_is_one_error_listing_the_keys(offices, command):
    path, _ = offices
    r = mailflow(*command, "gunungkidul", "--config", path)
    assert r.returncode == 2, r.stdout
    assert "no office 'gunungkidul' (offices: default, kulon-progo, sleman" in r.stderr
    assert r.stderr.startswith("mailflow: error: ") and "Traceback" not in r.stderr


def test_one_office_output_has_no_office_column(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    deployment = load_deployment(path, env=TEST_ENV)
    engine = db.make_engine(deployment.database_url)
    db.upgrade(engine)
    engine.dispose()
    [number] = register(deployment.offices[0], [complaint_mail()])
    listed = mailflow("queue", "--config", str(path)).stdout.splitlines()
    assert listed[0].split()[:2] == ["number", "received"] and listed[2].startswith(number)
    assert mailflow("queue", "--outbox", "--config", str(path)).stdout.split()[:2] == ["id", "state"]
    assert "Kantor" not in mailflow("show", number, "--config", str(path)).stdout
    assert json.loads(mailflow("queue", "--json", "--config", str(path)).stdout)[0]["office"] == "default"


# ------------------------------------------------------------------ show
@pytest.mark.parametrize(("number", "office", "expected"), [
    ("SLM/2026/000001", None, "sleman"),  # one office has the number: found without --office
    ("slm/2026/000001", None, "sleman"),
    ("ADU/2026/000002", None, "default"),
    ("ADU/2026/000001", "kulon-progo", "kulon-progo"),
    ("ADU/2026/000001", "default", "default"),
])
def test_show_finds_a_complaint_across_offices(offices, number, office, expected):
    path, deployment = offices
    r = mailflow("show", number, *(("--office", office) if office else ()), "--config", path)
    assert r.returncode == 0, r.stderr
    assert f"Kantor       : {deployment.office(expected).office.name} ({expected})" in r.stdout
    shown = json.loads(mailflow("show", number, "--json", *(("--office", office) if office else ()),
                                "--config", path).stdout)
    assert shown["office"] == expected and shown["number"] == number.upper()


def test_show_a_number_two_offices_share_needs_the_office(offices):
    path, _ = offices
    r = mailflow("show", "ADU/2026/000001", "--config", path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == ("mailflow: error: ADU/2026/000001 is a complaint of more than one office "
                                "(default, kulon-progo); name the office with --office")
    missing = mailflow("show", "ADU/2026/000002", "--office", "sleman", "--config", path)
    assert missing.returncode == 2 and "no complaint numbered 'ADU/2026/000002' at office 'sleman'" in missing.stderr


# ------------------------------------------------------------------ resend
def test_resend_goes_out_as_the_complaints_office(offices):
    path, deployment = offices
    run_sql(deployment, "UPDATE outbox SET state = 'failed', last_error = '550 no' WHERE office = 'kulon-progo'")
    shared = mailflow("resend", "ADU/2026/000001", "--config", path)
    assert shared.returncode == 2 and "more than one office (default, kulon-progo)" in shared.stderr
    r = mailflow("resend", "ADU/2026/000001", "--office", "kulon-progo", "--config", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("queued again") == 2  # its acknowledgement and its forward
    assert run_sql(deployment, "SELECT DISTINCT state FROM outbox WHERE office = 'kulon-progo'") == [("pending",)]
    # a sent mail, by Message-ID alone: the resent copy is the office's (its outbox row, its From)
    engine = db.make_engine(deployment.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET state = 'sent' WHERE office = 'kulon-progo'"))
        ack = conn.execute(select(Message.message_id).join(OutboxItem, OutboxItem.message_pk == Message.id)
                           .where(OutboxItem.office == "kulon-progo", OutboxItem.kind == "citizen/acknowledgement")
                           ).scalar_one()
    engine.dispose()
    again = mailflow("resend", f"<{ack}>", "--config", path)
    assert again.returncode == 0 and "Resent-Message-ID" in again.stdout, again.stderr
    [(office, raw)] = run_sql(deployment, "SELECT o.office, m.raw FROM outbox o JOIN messages m ON m.id = o.message_pk "
                                          "WHERE m.dedupe_key LIKE 'resent:%'")
    assert office == "kulon-progo"
    assert b"Resent-From: aduan-kp@dukcapil.test" in bytes(raw)


def test_resend_failed_covers_every_office_or_one(offices):
    path, deployment = offices
    run_sql(deployment, "UPDATE outbox SET state = 'failed' WHERE office IN ('sleman', 'kulon-progo')")
    one = mailflow("resend", "--failed", "--office", "sleman", "--config", path)
    assert one.returncode == 0 and one.stdout.count("queued again") == 3  # ack, forward, format explanation
    rest = mailflow("resend", "--failed", "--config", path)
    assert rest.returncode == 0 and rest.stdout.count("queued again") == 2
    none = mailflow("resend", "--failed", "--config", path)
    assert none.returncode == 2 and "no outbound mail has failed" in none.stderr


# ------------------------------------------------------------------ report
FIGURES = ("received", "closed", "rejected", "ignored", "open", "overdue")


def office_figures(report: dict) -> dict:
    return {"received": report["received"]["total"], "closed": report["received"]["closed_in_month"],
            "rejected": report["mail"]["rejected"], "ignored": report["mail"]["ignored"],
            "open": report["open"]["total"], "overdue": report["overdue"]["total"],
            "visits": report["compliance"]["overall"]["visits"],
            "within": report["compliance"]["overall"]["within_standard"]}


def test_report_of_one_office_and_the_roll_up_of_all(offices):
    path, deployment = offices
    each = {}
    for key in deployment.keys:
        r = mailflow("report", "--month", "2026-11", "--office", key, "--format", "json", "--config", path)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["office"] == deployment.office(key).office.name
        each[key] = office_figures(report)
    assert {k: v["received"] for k, v in each.items()} == {"default": 2, "kulon-progo": 1, "sleman": 1}
    assert each["sleman"]["rejected"] == 1 and each["default"]["rejected"] == 0
    r = mailflow("report", "--month", "2026-11", "--office", "all", "--format", "json", "--config", path)
    assert r.returncode == 0, r.stderr
    rollup = json.loads(r.stdout)
    assert rollup["report"] == "monthly-rollup" and rollup["month"] == "2026-11"
    names = {"received": "received", "closed": "closed_in_month", "rejected": "rejected", "ignored": "ignored",
             "open": "open", "overdue": "overdue", "visits": "visits", "within": "within_standard"}
    by_key = {line["key"]: line for line in rollup["offices"]}
    assert list(by_key) == list(deployment.keys)
    for key, figures in each.items():  # each office's line is its own report's figures
        assert {f: by_key[key][names[f]] for f in figures} == figures
    for f, name in names.items():  # and the total is their sum
        assert rollup["total"][name] == sum(figures[f] for figures in each.values()), f
    assert sum(t["count"] for t in rollup["received"]["by_category"]) == rollup["total"]["received"] == 4


def test_the_roll_up_as_text_html_and_csv(offices, tmp_path):
    path, _ = offices
    text_ = mailflow("report", "-m", "2026-11", "--office", "all", "--config", path)
    assert text_.returncode == 0, text_.stderr
    out = text_.stdout
    assert out.startswith("REKAP LAPORAN BULANAN PENGADUAN SEMUA KANTOR: NOVEMBER 2026\n3 kantor")
    total = next(line for line in out.splitlines() if line.strip().startswith("Semua kantor"))
    assert total.split()[2:4] == ["4", "0"]  # received, closed
    for name in ("Disdukcapil Kabupaten Sleman", "Disdukcapil Kabupaten Kulon Progo"):
        assert name in out
    page = tmp_path / "rekap.html"
    r = mailflow("report", "-m", "2026-11", "--office", "all", "-f", "html", "-o", str(page), "--config", path)
    assert r.returncode == 0, r.stderr
    html = page.read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Rekap Laporan Bulanan Pengaduan Semua Kantor" in html
    assert "<script" not in html and "Disdukcapil Kabupaten Sleman" in html
    assert page.stat().st_mode & 0o777 == 0o600
    csv_ = mailflow("report", "-m", "2026-11", "--office", "all", "-f", "csv", "--config", path).stdout
    assert "office,all,Semua kantor,received,4" in csv_


@pytest.mark.parametrize(("args", "message"), [
    ((), "has 3 offices (default, kulon-progo, sleman): name one with --office KEY, or give --office all"),
    (("--office", "all", "--send"), "the roll-up (--office all) is not mailed"),
])
def test_report_of_many_offices_needs_the_office(offices, args, message):
    path, _ = offices
    r = mailflow("report", "--month", "2026-11", *args, "--config", path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ office list / check / add
def test_office_list(offices):
    path, _ = offices
    listed = json.loads(mailflow("office", "list", "--json", "--config", path).stdout)
    assert [(o["key"], o["open"]) for o in listed] == [("default", 2), ("kulon-progo", 1), ("sleman", 1)]
    assert listed[2]["complaint_address"] == "aduan-sleman@dukcapil.test"
    assert listed[2]["imap"]["username"] == "aduan-sleman" and listed[2]["rules"].endswith("bantul-email.toml")
    out = mailflow("office", "list", "--config", path).stdout
    assert out.split()[:6] == ["key", "name", "complaint", "address", "rules", "IMAP"]
    assert "aduan-kp@127.0.0.1" in out and "bantul-email.toml" in out


def test_office_list_without_a_database_creates_none(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'none.db'}", extra=DEPLOYMENT)
    write_office(tmp_path / "offices", "sleman", username="aduan-sleman")
    r = mailflow("office", "list", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert "(open complaints not counted: no database yet at" in r.stdout
    assert [o["open"] for o in json.loads(mailflow("office", "list", "--json", "--config", str(path)).stdout)] \
        == [None, None]
    assert not (tmp_path / "none.db").exists()


def test_office_check_warns_of_rows_of_an_office_the_config_lacks(offices, tmp_path):
    path, _ = offices
    ok = mailflow("office", "check", "--config", path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(": OK: ") == 3 and "every row belongs to an office of the config" in ok.stdout
    one = mailflow("office", "check", "sleman", "--config", path)
    assert one.returncode == 0 and one.stdout.count(": OK: ") == 1
    # someone renames the office (its key is the file name): its rows stay under the old key
    (tmp_path / "offices" / "kulon-progo.toml").rename(tmp_path / "offices" / "kp.toml")
    renamed = mailflow("office", "check", "--config", path)
    assert renamed.returncode == 1
    assert "warning: the database holds rows of office 'kulon-progo', which" in renamed.stdout
    assert "complaints 1" in renamed.stdout and "hops " in renamed.stdout
    assert "set its office.key back to 'kulon-progo' (offices: default, kp, sleman)" in renamed.stdout


def test_office_check_names_a_broken_rules_file(offices, tmp_path):
    path, _ = offices
    folder = tmp_path / "bad-rules"
    folder.mkdir()
    (folder / "gk.toml").write_text((REPO / "rules" / "bantul-email.toml").read_text()
                                    .replace('role = "kabid"', 'role = "kabidd"'))
    (folder / "complaint-format.toml").write_text((REPO / "rules" / "complaint-format.toml").read_text())
    write_office(tmp_path / "offices", "gunungkidul", username="aduan-gk", rules=str(folder / "gk.toml"))
    r = mailflow("office", "check", "--config", path)
    assert r.returncode == 2
    assert "office gunungkidul: error:" in r.stdout and "kabidd" in r.stdout
    assert r.stdout.count(": OK: ") == 3 and "1 office(s)" in r.stderr


def test_office_add_writes_an_owner_only_office_file(offices, tmp_path):
    path, _ = offices
    r = mailflow("office", "add", "gunungkidul", "--name", "Disdukcapil Kabupaten Gunungkidul",
                 "--address", "aduan-gk@dukcapil.test", "--imap-user", "aduan-gk", "--rules", "kulonprogo-website.toml",
                 "--config", path)
    assert r.returncode == 0, r.stderr
    written = tmp_path / "offices" / "gunungkidul.toml"
    assert f"wrote {written}" in r.stdout and "MAILFLOW_GUNUNGKIDUL_IMAP_PASSWORD" in r.stdout
    assert written.stat().st_mode & 0o777 == 0o600
    assert written.read_text().count("\n#") >= 5  # commented
    office = load_deployment(path, env=TEST_ENV).office("gunungkidul")
    assert (office.office.name, office.office.complaint_address, office.imap.username, office.office.rules.name) == \
        ("Disdukcapil Kabupaten Gunungkidul", "aduan-gk@dukcapil.test", "aduan-gk", "kulonprogo-website.toml")
    assert office.imap.host == "127.0.0.1" and not office.imap.password  # its own password, not yet set
    assert mailflow("office", "check", "gunungkidul", "--config", path).returncode == 0
    listed = json.loads(mailflow("office", "list", "--json", "--config", path).stdout)
    assert ("gunungkidul", 0) in [(o["key"], o["open"]) for o in listed]


@pytest.mark.parametrize(("key", "address", "imap_user", "message"), [
    ("sleman", "new@dukcapil.test", "new", "the office 'sleman' exists already"),
    ("default", "new@dukcapil.test", "new", "the office 'default' exists already"),
    ("gunungkidul", "aduan-kp@dukcapil.test", "new", "is office 'kulon-progo''s complaint address already"),
    ("Gunung_Kidul", "new@dukcapil.test", "new", "'Gunung_Kidul' is no office key"),
    ("all", "new@dukcapil.test", "new", "'all' is no office key"),
    ("gunungkidul", "new@dukcapil.test", "aduan-sleman", "the mailbox aduan-sleman@127.0.0.1 is office 'sleman''s already"),
])
def test_office_add_refuses(offices, tmp_path, key, address, imap_user, message):
    path, _ = offices
    before = sorted(p.name for p in (tmp_path / "offices").iterdir())
    r = mailflow("office", "add", key, "--name", "Baru", "--address", address, "--imap-user", imap_user,
                 "--config", path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert sorted(p.name for p in (tmp_path / "offices").iterdir()) == before  # nothing left behind


def test_office_add_needs_a_folder_of_office_files(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    r = mailflow("office", "add", "sleman", "--name", "S", "--address", "s@dukcapil.test", "--imap-user", "s",
                 "--config", str(path))
    assert r.returncode == 2 and "has no folder of office files" in r.stderr and '[deployment]' in r.stderr


def test_office_add_writes_the_first_office_of_an_empty_deployment(tmp_path):
    """docs/DEPLOY.md starts from a mailflow.toml holding only what offices
    share: the first office needs its server and rules, later ones take them."""
    config = tmp_path / "mailflow.toml"
    config.write_text('[deployment]\noffices = "offices"\n\n[database]\nurl = "sqlite:///m.db"\n')
    (tmp_path / "offices").mkdir()
    base = ["office", "add", "bantul", "--name", "Disdukcapil Bantul", "--address", "aduan@bantul.example",
            "--imap-user", "aduan@bantul.example", "--config", str(config)]
    refused = mailflow(*base)
    assert refused.returncode == 2 and "needs --imap-host and --rules" in refused.stderr
    first = mailflow(*base, "--imap-host", "mail.bantul.example", "--rules", "bantul-email.toml")
    assert first.returncode == 0, first.stderr
    second = mailflow("office", "add", "sleman", "--name", "Disdukcapil Sleman", "--address",
                         "aduan@sleman.example", "--imap-user", "aduan@sleman.example", "--imap-host",
                         "mail.sleman.example", "--config", str(config))
    assert second.returncode == 0, second.stderr
    from mailflow.config.settings import load_deployment

    deployment = load_deployment(config, env={})
    assert deployment.keys == ("bantul", "sleman")
    bantul, sleman = deployment.offices
    assert (bantul.imap.host, bantul.imap.port, bantul.imap.security) == ("mail.bantul.example", 993, "tls")
    assert sleman.office.rules == bantul.office.rules and sleman.imap.host == "mail.sleman.example"


# ------------------------------------------------------------------ a terminal of 100 columns
LONG_NAME = "Raden Ajeng Sri Wahyuningsih Kusumawardhani Hadiningrat binti Prawirodirjo"
LONG_CATEGORY = "Perubahan data Kartu Keluarga karena pindah datang antar kabupaten/kota dalam satu provinsi"


@pytest.mark.parametrize("columns", [100, 120])
def test_queue_rows_fit_the_terminal_and_json_stays_whole(offices, monkeypatch, columns):
    """A realistic desk: long names and service names, a long status, a long
    bounce reason; every line of `queue` and `queue --outbox` fits COLUMNS,
    the number and the office stay whole, and --json is never cut."""
    path, deployment = offices
    run_sql(deployment, "UPDATE complaints SET complainant_name = :name, category_name = :category",
            name=LONG_NAME, category=LONG_CATEGORY)
    run_sql(deployment, "UPDATE complaints SET status = 'awaiting_approval' WHERE office = 'sleman'")
    run_sql(deployment, "UPDATE outbox SET state = 'failed', last_error = :error",
            error="550 5.1.1 <warga3@dukcapil.test>: Recipient address rejected: User unknown in virtual mailbox table")
    monkeypatch.setenv("COLUMNS", str(columns))
    for args in ((), ("--outbox",)):
        r = mailflow("queue", *args, "--config", path)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert len(lines) > 2 and max(map(len, lines)) <= columns, "\n" + r.stdout
        assert all("\t" not in line for line in lines)
    listed = mailflow("queue", "--config", path).stdout.splitlines()
    assert [tuple(line.split()[:2]) for line in listed[2:]] == [
        ("default", "ADU/2026/000001"), ("default", "ADU/2026/000002"), ("sleman", "SLM/2026/000001"),
        ("kulon-progo", "ADU/2026/000001")]
    assert "menunggu persetujuan" in listed[4] and "…" in listed[2]  # a status whole, a long name cut
    whole = json.loads(mailflow("queue", "--json", "--config", path).stdout)
    assert {c["complainant"]["name"] for c in whole} == {LONG_NAME} and {c["category_name"] for c in whole} == {
        LONG_CATEGORY}
    outbox = json.loads(mailflow("queue", "--outbox", "--json", "--config", path).stdout)
    assert all(o["last_error"].endswith("virtual mailbox table") for o in outbox)
