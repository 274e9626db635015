"""Personal data (issue 14, docs/PRIVACY.md) on the real mail stack, SQLite
and PostgreSQL: erasure everywhere (database bytes, IMAP folders) with the
monthly report unchanged; export of every row that mentions the person; the
retention pass with the clock moved past each period; the access log."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from mailflow.desk.privacy import Retention
from mailflow.report.figures import Month, build_report
from mailflow.report.formats import to_json
from mailflow.report.query import load_month
from mailflow.store import privacy as store
from mailflow.store.models import AccessLog, Complaint, Hop, Message, OutboxItem, SurveyResponse
from support import MAIL_DATE, VALID_BODY, Clock, complaint_mail, mailflow_at, private_pg_schema

pytestmark = pytest.mark.integration

# The person erased (VALID_BODY's citizen) and another one who must stay.
SITI = {"name": "Siti Aminah", "nik": "3402014501900001", "kk": "3402011203150004", "phone": "081234567890",
        "email": "warga1@dukcapil.test"}
BUDI_BODY = (VALID_BODY.replace("Siti Aminah", "Budi Raharjo").replace("3402014501900001", "3402011708850003")
             .replace("3402011203150004", "3402010101100007").replace("081234567890", "081399988877"))
BUDI = {"name": "Budi Raharjo", "nik": "3402011708850003", "phone": "081399988877", "email": "warga2@dukcapil.test"}
INVALID_FROM_SITI = f"Nama: Siti Aminah\nNIK: {SITI['nik']}\nUraian: KTP saya belum jadi.\n"
NOVEMBER = Month(2026, 11)


@pytest.fixture(params=["sqlite", "postgresql"])
def stocked(request, make_desk):
    """A desk on a fixed clock with two citizens' complaints (Siti's, Budi's)
    and a mail from Siti in the wrong format, all handled and sent."""
    clock = Clock(MAIL_DATE + timedelta(minutes=5))
    if request.param == "postgresql":
        with private_pg_schema("t_privacy_") as url:
            yield _stock(make_desk(SimpleNamespace(database_url=url), clock=clock), clock)
        return
    yield _stock(make_desk(clock=clock), clock)


def _stock(made, clock):
    stack, app, daemon = made
    stack.deliver("aduan", complaint_mail(sender=SITI["email"], message_id="<siti-1@warga.test>"))
    stack.deliver("aduan", complaint_mail(BUDI_BODY, sender=BUDI["email"], message_id="<budi-1@warga.test>"))
    stack.deliver("aduan", complaint_mail(INVALID_FROM_SITI, sender=SITI["email"], message_id="<siti-2@warga.test>"))
    result = daemon.run_once()
    assert sorted(o.action for o in result.outcomes) == ["registered", "registered", "rejected"]
    # Siti's rating of the survey, with a suggestion in her own words (the survey's path is
    # tested in test_survey_e2e.py; here only that its free text is personal data).
    with app.factory.begin() as session:
        siti = session.scalars(select(Complaint).where(Complaint.complainant_email == SITI["email"])).one()
        session.add(SurveyResponse(office=siti.office, complaint_id=siti.id, category=siti.category,
                                   section=siti.section, asked_at=clock(), rated_at=clock(), overall=4, u1=4,
                                   comment=f"Terima kasih. {SITI['name']}, {SITI['phone']}"))
    return stack, app, daemon, clock


def cli(app, clock, *args):
    r = mailflow_at(clock, *args, "--config", str(app.settings.path))
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def report_json(app, clock) -> str:
    with app.factory() as session:
        data = load_month(session, NOVEMBER, app.settings.office.tz, now=clock(), office=app.settings.office.key)
    return to_json(build_report(data, app.rules, office=app.settings.office.name))


def every_row(app) -> list[tuple[str, int, str]]:
    """(table, id, text of the whole row) of every row of every table holding people's data."""
    out = []
    with app.factory() as session:
        for table in ("complaints", "messages", "hops", "outbox", "access_log", "survey_responses"):
            for row in session.execute(text(f"SELECT * FROM {table}")).mappings():
                values = [bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v)
                          for v in row.values()]
                out.append((table, row["id"], " ".join(values)))
    return out


def mentions(row_text: str, person: dict) -> bool:
    return any(value.lower() in row_text.lower() for value in person.values())


def test_export_returns_every_row_that_mentions_the_person(stocked, tmp_path):
    _stack, app, _daemon, clock = stocked
    out = cli(app, clock, "privacy", "export", "--email", SITI["email"], "--out", str(tmp_path))
    assert "2 complaint(s)" not in out  # Siti has one complaint (and one rejected mail)
    (json_file,) = tmp_path.glob("data-pribadi-*.json")
    (text_file,) = tmp_path.glob("data-pribadi-*.txt")
    assert oct(json_file.stat().st_mode & 0o777) == "0o600" and oct(text_file.stat().st_mode & 0o777) == "0o600"
    data = json.loads(json_file.read_text())
    exported = {("complaints", c) for c in [None]}  # filled below
    with app.factory() as session:
        numbers = {c["number"] for c in data["complaints"]}
        exported = {("complaints", c.id) for c in session.scalars(select(Complaint).where(Complaint.number.in_(numbers)))}
    exported |= {("messages", m["id"]) for m in data["messages"]}
    exported |= {("hops", h["id"]) for h in data["hops"]}
    exported |= {("outbox", o["id"]) for o in data["outbox"]}
    with app.factory() as session:
        exported |= {("survey_responses", r.id) for r in session.scalars(
            select(SurveyResponse).join(Complaint, Complaint.id == SurveyResponse.complaint_id)
            .where(Complaint.number.in_({r["complaint"] for r in data["surveys"]})))}
    mentioning = {(table, pk) for table, pk, row in every_row(app) if table != "access_log" and mentions(row, SITI)}
    assert mentioning, "the test must see Siti's rows"
    assert mentioning <= exported, f"rows mentioning the person left out: {sorted(mentioning - exported)}"
    # and nothing of Budi's complaint
    assert all(c["name"] == SITI["name"] for c in data["complaints"])
    document = text_file.read_text()
    assert "SALINAN DATA PRIBADI" in document and SITI["nik"] in document and "Uraian" in document
    # by NIK: the same complaint
    out_nik = tmp_path / "nik"
    cli(app, clock, "privacy", "export", "--nik", SITI["nik"], "--out", str(out_nik))
    by_nik = json.loads(next(out_nik.glob("*.json")).read_text())
    assert {c["number"] for c in by_nik["complaints"]} == numbers
    assert {m["id"] for m in by_nik["messages"]} >= {m["id"] for m in data["messages"] if m["complaint"]}
    # logged: who, when, which complaint; the person's address is not in the log
    log = json.loads(cli(app, clock, "privacy", "log", "--json"))
    assert [r["action"] for r in log] == ["export", "export"]
    assert log[0]["complaints"] == sorted(numbers) and log[0]["user"]
    assert SITI["email"] not in json.dumps(log) and SITI["nik"] not in json.dumps(log)


@pytest.mark.parametrize("by", ["--email", "--nik"])
def test_erase_leaves_no_trace_in_the_database_or_imap_and_the_report_unchanged(stocked, by):
    stack, app, _daemon, clock = stocked
    who = SITI["email"] if by == "--email" else SITI["nik"]
    report_before = report_json(app, clock)
    assert len(stack.messages("aduan", "mailflow/processed")) == 3
    dry = cli(app, clock, "privacy", "erase", by, who, "--dry-run")
    assert "--dry-run" in dry
    assert any(mentions(row, SITI) for *_, row in every_row(app))  # nothing changed yet

    refused = mailflow_at(clock, "privacy", "erase", by, who, "--yes", "--config", str(app.settings.path))
    assert refused.returncode == 2 and "still open" in refused.stderr  # an open complaint needs --include-open
    cli(app, clock, "privacy", "erase", by, who, "--yes", "--include-open")

    # IMAP: Siti's two mails left the processed folder, Budi's stays
    left = stack.messages("aduan", "mailflow/processed")
    assert len(left) == 1 and b"budi-1@warga.test" in left[0]
    # the tables: nothing of Siti, Budi intact
    rows = every_row(app)
    assert not [(t, pk) for t, pk, row in rows if mentions(row, SITI)]
    assert any(mentions(row, BUDI) for *_, row in rows)
    if app.settings.database_url.startswith("sqlite"):
        path = app.settings.database_url.removeprefix("sqlite:///")
        data = b"".join(open(p, "rb").read() for p in (path, path + "-wal") if os.path.exists(p))
        for value in SITI.values():
            assert value.encode() not in data, f"{value!r} still in the database file"
        assert BUDI["nik"].encode() in data  # the check can see what is there
    # the facts stay: the register number, the service, the report of the month
    assert report_json(app, clock) == report_before
    with app.factory() as session:
        erased = session.scalars(select(Complaint).where(Complaint.erased_at.is_not(None))).one()
        assert erased.number and erased.category == "ktp-el" and erased.complainant_name == ""
        assert session.scalars(select(Hop).where(Hop.kind == "erased")).all()
        (entry,) = session.scalars(select(AccessLog).where(AccessLog.action == "erase"))
        assert entry.complaints == erased.number and entry.os_user
        # the hop log kept every hop, their actors now pseudonyms
        actors = {h.actor for h in session.scalars(select(Hop).where(Hop.complaint_id == erased.id))}
        assert SITI["email"] not in actors
    # a second erasure finds nothing left to erase
    r = mailflow_at(clock, "privacy", "erase", by, who, "--yes", "--config", str(app.settings.path))
    assert r.returncode == 2 and "nothing is held" in r.stderr


def test_erase_by_number_erases_that_complaint_only(stocked):
    stack, app, _daemon, clock = stocked
    with app.factory() as session:
        number = session.scalars(select(Complaint.number).where(Complaint.complainant_name == SITI["name"])).one()
    cli(app, clock, "privacy", "erase", number, "--yes", "--include-open")
    with app.factory() as session:
        c = session.scalars(select(Complaint).where(Complaint.number == number)).one()
        assert (c.complainant_name, c.nik, c.erased_at is not None) == ("", "", True)
        mails = session.scalars(select(Message).where(Message.complaint_id == c.id)).all()
        assert mails and all(m.raw == b"" and m.subject == "" for m in mails)
        # Siti's other mail (the rejected one, on no complaint) is not this complaint's: it stays
        loose = session.scalars(select(Message).where(Message.complaint_id.is_(None), Message.direction == "in")).one()
        assert loose.from_addr == SITI["email"] and loose.raw
    left = stack.messages("aduan", "mailflow/processed")
    assert len(left) == 2 and not any(b"siti-1@warga.test" in raw for raw in left)


def test_the_hop_log_refuses_any_change_but_a_pseudonym(stocked):
    _stack, app, _daemon, _clock = stocked
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE hops SET kind = 'closed'", "UPDATE hops SET actor = 'someone-else'",
                      "UPDATE hops SET reason = 'rewritten'", "DELETE FROM hops"):
        with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as conn:
            conn.execute(text(statement))
    with app.engine.begin() as conn:  # the one change allowed (store/privacy.py)
        conn.execute(text("UPDATE hops SET actor = 'pseudonym:pemohon', reason = '[pseudonymised]' "
                          "WHERE actor = :a"), {"a": SITI["email"]})


def test_retention_removes_each_stage_once_when_its_period_has_passed(stocked):
    _stack, app, daemon, clock = stocked
    closed = clock() + timedelta(hours=1)
    with app.factory.begin() as session:
        c = session.scalars(select(Complaint).where(Complaint.complainant_name == SITI["name"])).one()
        c.status, c.closed_at = "closed", closed
        number = c.number

    def state():
        with app.factory() as session:
            c = session.scalars(select(Complaint).where(Complaint.number == number)).one()
            mails = session.scalars(select(Message).where(Message.complaint_id == c.id)).all()
            hops = session.scalars(select(Hop).where(Hop.complaint_id == c.id)).all()
            expired = [h for h in session.scalars(select(Hop).where(Hop.kind == "expired"))]
            outbox = session.scalars(select(OutboxItem).where(OutboxItem.complaint_id == c.id)).all()
            return SimpleNamespace(c=c, raws=[m.raw for m in mails], mails=mails, hops=hops, expired=expired,
                                   outbox=outbox)

    clock.now = closed + timedelta(days=364)
    assert not daemon.run_once().retention  # nothing is due before the first period
    assert all(state().raws)

    clock.now = closed + timedelta(days=366)  # past raw_mail_days (365)
    assert daemon.run_once().retention  # the daemon's timers run the pass
    s = state()
    assert not any(s.raws) and s.c.complainant_name == SITI["name"] and s.c.nik == SITI["nik"]
    assert [h.reason for h in s.expired if h.complaint_id == s.c.id] == ["retention: raw_mail (365 days after closing)"]
    # the mail on no complaint (Siti's rejected mail) went whole
    with app.factory() as session:
        loose = session.scalars(select(Message).where(Message.complaint_id.is_(None), Message.direction == "in")).all()
        assert loose and all(m.raw == b"" and m.from_addr == "" and m.erased_at for m in loose)

    again = Retention(app.rules, app.settings.office.key, app.factory, clock=clock)  # a fresh process, same time
    assert not again.run_once()
    assert len(state().expired) == len(s.expired)  # idempotent: no new hop either

    clock.now = closed + timedelta(days=731)  # past personal_data_days (730)
    Retention(app.rules, app.settings.office.key, app.factory, clock=clock).run_once()
    s = state()
    assert (s.c.complainant_name, s.c.nik, s.c.phone, s.c.address, s.c.complainant_email) == ("", "", "", "", "")
    assert s.c.description  # the complaint record stays longer
    assert all(SITI["email"] not in o.recipients for o in s.outbox)
    assert all(SITI["email"] not in (m.from_addr + m.to_addrs) for m in s.mails)
    assert any(h.actor == SITI["email"] for h in s.hops)  # the hop log too

    clock.now = closed + timedelta(days=1826)  # past hop_log_days and complaint_record_days (1825)
    Retention(app.rules, app.settings.office.key, app.factory, clock=clock).run_once()
    s = state()
    assert s.c.description == "" and s.c.retention_stage == 4
    assert not any(h.actor == SITI["email"] for h in s.hops)
    assert any(h.actor == store.CITIZEN_PSEUDONYM for h in s.hops)
    assert [h.kind for h in s.hops][:2] == ["parsed", "registered"]  # what happened stays
    for h in s.expired:  # the retention hops hold nothing personal
        assert not mentions(h.reason + h.actor, SITI)
    # the command runs the same pass: nothing is left to do
    assert "nothing expired" in cli(app, clock, "privacy", "retention")
    # nothing of Siti is left in any row, Budi's open complaint is untouched
    assert not [(t, pk) for t, pk, row in every_row(app) if mentions(row, SITI)]
    assert any(mentions(row, BUDI) for *_, row in every_row(app))


def test_reveal_is_logged_and_affected_lists_the_people_of_a_period(stocked):
    _stack, app, _daemon, clock = stocked
    cli(app, clock, "queue")
    assert json.loads(cli(app, clock, "privacy", "log", "--json")) == []  # masked listings are not logged
    cli(app, clock, "queue", "--reveal")
    with app.factory() as session:
        number = session.scalars(select(Complaint.number).where(Complaint.complainant_name == SITI["name"])).one()
    cli(app, clock, "show", number, "--reveal")
    (rejected,) = json.loads(cli(app, clock, "mail", "list", "--kind", "rejected", "--json"))
    cli(app, clock, "mail", "show", str(rejected["id"]))
    cli(app, clock, "mail", "show", str(rejected["id"]), "--reveal")
    log = json.loads(cli(app, clock, "privacy", "log", "--json"))
    assert [r["action"] for r in log] == ["reveal", "reveal", "reveal"]
    assert log[0]["detail"] == f"mail show {rejected['id']} --reveal" and log[0]["complaints"] == []
    assert log[1]["complaints"] == [number] and "show" in log[1]["detail"] and len(log[2]["complaints"]) == 2
    assert all(r["user"] for r in log)

    people = json.loads(cli(app, clock, "privacy", "affected", "--since", "2026-11-23", "--json"))
    by_email = {p["email"]: p for p in people}
    assert by_email[SITI["email"]]["complaints"] == [number] and by_email[SITI["email"]]["names"] == [SITI["name"]]
    assert BUDI["email"] in by_email
    assert json.loads(cli(app, clock, "privacy", "affected", "--since", "2026-11-24", "--json")) == []


# ------------------------------------------------------------------ encryption at rest
def _with_key(app, clock, key_file):  # the database file and its WAL are read as they are, no VACUUM
    """A second desk on the same config and database, with [database] key_file set."""
    from devstack.config import migrated_settings
    from mailflow.runner.app import build
    from support import TEST_ENV

    path = app.settings.path
    path.write_text(path.read_text().replace("[database]\n", f"[database]\nkey_file = {str(key_file)!r}\n", 1))
    sealed = build(migrated_settings(path, TEST_ENV), clock=clock)
    return sealed, sealed.daemon()


def test_with_a_database_key_no_nik_name_or_phone_is_in_the_file_and_everything_still_works(make_desk, tmp_path):
    from mailflow.store.sealing import new_key

    clock = Clock(MAIL_DATE + timedelta(minutes=5))
    stack, plain, _ = make_desk(clock=clock)
    old, new = new_key(), new_key()
    key_file = tmp_path / "data.key"
    key_file.write_text(old + "\n")
    app, daemon = _with_key(plain, clock, key_file)
    try:
        stack.deliver("aduan", complaint_mail(sender=SITI["email"], message_id="<siti-1@warga.test>"))
        stack.deliver("aduan", complaint_mail(BUDI_BODY, sender=BUDI["email"], message_id="<budi-1@warga.test>"))
        assert [o.action for o in daemon.run_once().outcomes] == ["registered", "registered"]
        # the forward to staff still carries the NIK (sealed at rest, not in use)
        assert any(SITI["nik"].encode() in raw for raw in stack.messages("admin"))

        path = app.settings.database_url.removeprefix("sqlite:///")
        data = b"".join(open(p, "rb").read() for p in (path, path + "-wal") if os.path.exists(p))
        for value in (SITI["nik"], SITI["kk"], SITI["name"], SITI["phone"], BUDI["nik"], "Parangtritis"):
            assert value.encode() not in data, f"{value!r} is in the database file {path}"
        assert b"ADU/2026/000001" in data  # the check can see what is there

        number = "ADU/2026/000001"
        assert SITI["nik"] in cli(app, clock, "show", number, "--reveal")
        assert SITI["name"] in cli(app, clock, "queue")
        out = tmp_path / "export"
        cli(app, clock, "privacy", "export", "--nik", SITI["nik"], "--out", str(out))  # found by its keyed hash
        exported = json.loads(next(out.glob("*.json")).read_text())
        assert [c["nik"] for c in exported["complaints"]] == [SITI["nik"]]
        assert any(SITI["nik"] in m["raw_text"] for m in exported["messages"])

        # rotation: the new key in front, seal again, drop the old key, seal again
        key_file.write_text(new + "\n" + old + "\n")
        cli(app, clock, "privacy", "rotate-key")
        key_file.write_text(new + "\n")
        cli(app, clock, "privacy", "rotate-key")
        assert SITI["nik"] in cli(app, clock, "show", number, "--reveal")
        out2 = tmp_path / "export2"
        cli(app, clock, "privacy", "export", "--nik", SITI["nik"], "--out", str(out2))
        assert [c["number"] for c in json.loads(next(out2.glob("*.json")).read_text())["complaints"]] == [number]
        # without the key the data cannot be read, and says why
        key_file.write_text(old + "\n")
        r = mailflow_at(clock, "show", number, "--config", str(app.settings.path))
        assert r.returncode == 2 and "database key" in r.stderr
    finally:
        daemon.mailbox.close()
        app.close()
