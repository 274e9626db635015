"""Merging and closing after silence end to end on the real mail servers
(Dovecot + the SMTP relay), the whole desk on an injected, movable clock:

- a duplicate merged by a staff ``#gabung`` reply, and by ``mailflow merge``:
  the hint in the forward, both hop logs, one mail to the citizen, and later
  mail on the duplicate (a reply to its thread, its number in a subject)
  landing on the surviving complaint; another complainant's complaint refused;
- a complaint waiting for the citizen (``#info``): one reminder after 5
  working days, closed after 10 with the mail saying how to reopen, each once
  (also from a second deadline checker, as after a restart or in a second
  process), reopened by a reply; the wait shown apart in the monthly report.
"""

from __future__ import annotations

import email
import json
import threading
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailflow.core.sop import WAITING_STEP
from mailflow.desk.deadlines import Deadlines
from mailflow.report.figures import Month, build_report
from mailflow.report.formats import to_dict, to_html, to_text
from mailflow.report.query import load_month
from mailflow.store.models import Complaint, Hop, StepVisit
from support import VALID_BODY, Clock, complaint_mail, mailflow_at, reply
from support import received as mails

pytestmark = pytest.mark.integration

WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 23, tzinfo=WIB)  # a Monday without a holiday; Bantul's default hours
OTHER_PERSON = VALID_BODY.replace("Siti Aminah", "Budi Santoso").replace("3402014501900001", "3402011203850002")


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    """Monday 23 November 2026 (plus ``day`` days) at hour:minute WIB."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@pytest.fixture
def clock() -> Clock:
    return Clock(at(9))


# ------------------------------------------------------------------ helpers
def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def register(stack, daemon, clock: Clock, sender: str = "warga1", text: str = VALID_BODY) -> str:
    stack.send(complaint_mail(text, sender=f"{sender}@dukcapil.test", date=clock.now), sender,
               ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    return result.outcomes[0].complaint_number


def row(app, number: str) -> Complaint:
    with app.factory() as s:
        return s.scalar(select(Complaint).where(Complaint.number == number))


def hops_of(app, number: str) -> list[Hop]:
    with app.factory() as s:
        c = s.scalar(select(Complaint).where(Complaint.number == number))
        return list(s.scalars(select(Hop).where(Hop.complaint_id == c.id).order_by(Hop.id)))


def kinds_of(app, number: str) -> list[str]:
    return [h.kind for h in hops_of(app, number)]


def open_visits(app, number: str) -> list[StepVisit]:
    with app.factory() as s:
        c = s.scalar(select(Complaint).where(Complaint.number == number))
        return list(s.scalars(select(StepVisit).where(StepVisit.complaint_id == c.id, StepVisit.ended_at.is_(None))))


# ------------------------------------------------------------------ merging by mail
def test_a_duplicate_merged_by_a_gabung_reply_and_its_later_mail_lands_on_the_survivor(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    first = register(stack, daemon, clock)
    assert "Kemungkinan duplikat" not in body(mails(stack, "admin", "staff/forward")[0])
    clock.now = at(9, 5)
    second = register(stack, daemon, clock)  # the citizen sent it again, as a new mail

    # the forward of the second names the first, with the reply that merges it
    forward = mails(stack, "admin", "staff/forward")[-1]
    assert second in forward["Subject"]
    assert f"Kemungkinan duplikat: aduan {first}" in body(forward) and f"#gabung {first}" in body(forward)

    clock.now = at(9, 10)
    reply(stack, "admin", forward, f"#gabung {first}")
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("attached", second)]
    dup, survivor = row(app, second), row(app, first)
    assert (dup.status, dup.merged_into_id, dup.closed_reason, dup.closed_at) == ("merged", survivor.id, "merged",
                                                                                  at(9, 10))
    assert survivor.status == "registered" and survivor.merged_into_id is None
    assert open_visits(app, second) == []  # the duplicate's clock stopped
    [on_dup] = [h for h in hops_of(app, second) if h.kind == "merged"]
    [on_survivor] = [h for h in hops_of(app, first) if h.kind == "merged"]
    assert first in on_dup.reason and second in on_survivor.reason
    assert on_dup.actor == on_survivor.actor == "admin@dukcapil.test"

    # the citizen: one mail, on the duplicate's thread, naming the number to follow
    [notice] = mails(stack, "warga1", "citizen/merged")
    ack = mails(stack, "warga1", "citizen/acknowledgement")[-1]
    assert second in notice["Subject"] and first in notice["Subject"]
    assert f"Mohon ikuti nomor register {first}" in body(notice)
    assert notice["In-Reply-To"] == ack["In-Reply-To"]  # threaded to the citizen's second complaint mail
    assert str(notice["To"]) == "warga1@dukcapil.test"

    # a reply on the duplicate's thread lands on the survivor: its holder gets it with the survivor's number
    clock.now = at(9, 20)
    reply(stack, "warga1", notice, "Tambahan: foto KTP-el lama saya lampirkan.")
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("attached", first)]
    follow = mails(stack, "admin", "staff/citizen-follow-up")[-1]
    assert first in follow["Subject"] and "foto KTP-el lama" in body(follow)
    assert "attached" in kinds_of(app, first) and "attached" not in kinds_of(app, second)

    # a new mail with the duplicate's number in its subject: the survivor's too (a note, as unverified)
    clock.now = at(9, 30)
    stack.send(complaint_mail("Mohon kabar aduan saya.", sender="warga1@dukcapil.test", date=clock.now,
                              subject=f"Tanya {second}"), "warga1", ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("noted", first)]
    assert len(mails(stack, "warga1", "citizen/merged")) == 1  # told once


def test_a_complaint_of_another_complainant_is_never_merged(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    first = register(stack, daemon, clock)
    clock.now = at(9, 5)
    other = register(stack, daemon, clock, sender="warga2", text=OTHER_PERSON)
    forward = mails(stack, "admin", "staff/forward")[-1]
    assert other in forward["Subject"] and "Kemungkinan duplikat" not in body(forward)  # another person: no hint

    reply(stack, "admin", forward, f"#gabung {first}")
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("refused", other)]
    assert (row(app, other).status, row(app, other).merged_into_id) == ("registered", None)
    refused = mails(stack, "admin", "staff/refused")[-1]
    assert "data pribadi" in " ".join(body(refused).split())
    assert mails(stack, "warga2", "citizen/merged") == [] and mails(stack, "warga1", "citizen/merged") == []
    assert "merged" not in kinds_of(app, first) + kinds_of(app, other)

    # only the holder may merge: the Kasi (not holding it) is refused too
    reply(stack, "kasi-identitas", forward, f"#gabung {first}")
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["refused"]
    assert row(app, other).status == "registered"


# ------------------------------------------------------------------ merging by the CLI
def test_mailflow_merge_merges_and_later_mail_on_the_duplicate_lands_on_the_survivor(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    first = register(stack, daemon, clock)
    clock.now = at(10)
    second = register(stack, daemon, clock)
    config = str(app.settings.path)

    clock.now = at(10, 30)
    r = mailflow_at(clock, "merge", second, first, "--json", "--config", config)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"office": "default", "duplicate": second, "target": first, "merged": True,
                                    "reason": None}
    assert (row(app, second).status, row(app, second).merged_into_id) == ("merged", row(app, first).id)
    assert [h.actor for h in hops_of(app, second) if h.kind == "merged"] == ["admin (mailflow merge)"]
    assert "merged" in kinds_of(app, first)
    shown = mailflow_at(clock, "show", second, "--config", config).stdout
    assert f"Aduan {second} — digabung" in shown and f"ke {first}" in shown
    daemon.run_once()  # the outbox drains
    [notice] = mails(stack, "warga1", "citizen/merged")
    assert first in body(notice)

    # a reply to the duplicate's acknowledgement (its thread, its reply address) lands on the survivor
    ack = [m for m in mails(stack, "warga1", "citizen/acknowledgement") if second in m["Subject"]][0]
    clock.now = at(11)
    reply(stack, "warga1", ack, "Saya tambahkan nomor antrean: A-17.")
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("attached", first)]

    # refused: a chain (into the merged one), itself, a number the office does not have; nothing changes
    for args, why in (((first, second), "sudah digabung ke aduan lain"), ((first, first), "dirinya sendiri"),
                      ((first, "ADU/2026/999999"), "tidak ditemukan")):
        r = mailflow_at(clock, "merge", *args, "--json", "--config", config)
        out = json.loads(r.stdout)
        assert (r.returncode, out["merged"]) == (1, False) and why in out["reason"], (args, r.stdout)
    r = mailflow_at(clock, "merge", first, second, "--config", config)
    assert r.returncode == 2 and r.stderr.startswith("mailflow: error:") and "sudah digabung" in r.stderr
    assert row(app, first).status == "registered"
    r = mailflow_at(clock, "merge", "ADU/2026/999999", first, "--config", config)
    assert r.returncode == 2 and "no complaint numbered" in r.stderr

    # the monthly report counts the merged duplicate once, apart
    with app.factory() as s:
        data = load_month(s, Month(2026, 11), WIB, now=at(9, day=10))
    report = build_report(data, app.rules, office="Bantul")
    assert (report.received, report.merged) == (1, 1)
    assert to_dict(report)["merged"] == 1 and "Duplikat digabung (tidak dihitung): 1" in to_text(report)
    assert "Duplikat yang digabung ke aduan lain tidak dihitung: 1" in to_html(report, app.monthly_report.pages)


# ------------------------------------------------------------------ closing after silence
def test_a_complaint_waiting_for_the_citizen_is_reminded_once_then_closed_then_reopened(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    number = register(stack, daemon, clock)
    clock.now = at(9, 10)
    reply(stack, "admin", mails(stack, "admin", "staff/forward")[0], "#info Mohon kirimkan foto bukti perekaman KTP-el.")
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["attached"]
    assert row(app, number).status == "waiting_citizen"

    cal = app.rules.calendar
    [wait] = open_visits(app, number)
    remind_at, close_at = cal.due(at(9, 10), 5, "working_days"), cal.due(at(9, 10), 10, "working_days")
    assert (wait.step, wait.remind_at, wait.due_at) == (WAITING_STEP, remind_at, close_at)
    assert remind_at > at(9, 10, day=6)  # working days: the weekend does not count

    # nothing before the fifth working day
    clock.now = remind_at - timedelta(minutes=1)
    assert not daemon.run_once().deadlines
    assert mails(stack, "warga1", "citizen/info-reminder") == []

    # the reminder, once (the daemon's pass, a second pass, and a second checker as after a restart)
    clock.now = remind_at
    assert daemon.run_once().deadlines.citizens_reminded == 1
    clock.now = remind_at + timedelta(hours=2)
    assert not daemon.run_once().deadlines
    assert not Deadlines(app.letters, app.factory, clock=clock).run_once()
    [reminder] = mails(stack, "warga1", "citizen/info-reminder")
    assert number in reminder["Subject"] and "foto bukti perekaman KTP-el" in body(reminder)
    assert row(app, number).status == "waiting_citizen"
    assert kinds_of(app, number).count("citizen-reminded") == 1

    # closed on the tenth working day, with the way to reopen; once
    clock.now = close_at
    assert daemon.run_once().deadlines.closed_silent == 1
    clock.now = close_at + timedelta(days=1)
    assert not daemon.run_once().deadlines
    assert not Deadlines(app.letters, app.factory, clock=clock).run_once()
    c = row(app, number)
    assert (c.status, c.closed_reason, c.closed_at, c.due_at) == ("closed", "silence", close_at, None)
    [closing] = mails(stack, "warga1", "citizen/closed-no-reply")
    assert number in closing["Subject"] and "balas surel ini" in body(closing)
    assert len(mails(stack, "warga1", "citizen/info-reminder")) == 1
    assert open_visits(app, number) == []
    [closed_hop] = [h for h in hops_of(app, number) if h.kind == "closed"]
    assert "no reply from the complainant" in closed_hop.reason
    shown = mailflow_at(clock, "show", number, "--config", str(app.settings.path)).stdout
    assert "ditutup: pelapor tidak membalas" in shown and "dijawab pada tahap" not in shown

    # the monthly report shows the wait apart from the office's own time
    with app.factory() as s:
        data = load_month(s, Month(2026, 11), WIB, now=close_at + timedelta(days=40))
    report = build_report(data, app.rules, office="Bantul")
    minutes_waited = cal.working_minutes_between(at(9, 10), close_at)
    assert (report.waiting.count, report.waiting.median, report.waiting.running) == (1, minutes_waited, 0)
    assert WAITING_STEP not in [s.key for s in report.steps]
    assert report.compliance.count == 1  # the Admin's 10 minutes, not the citizen's days
    assert to_dict(report)["waiting_citizen"]["visits"] == 1 and "Menunggu pelapor" in to_text(report)
    assert "Menunggu pelapor (di luar waktu kantor): 1 kali" in to_html(report, app.monthly_report.pages)

    # a reply within the reopen window reopens it at the step that asked, with the Admin's clock running
    clock.now = close_at + timedelta(days=2)
    reply(stack, "warga1", closing, "Maaf terlambat, fotonya saya lampirkan.")
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("attached", number)]
    c = row(app, number)
    assert (c.status, c.step, c.holder_role) == ("in_progress", "verifikasi-admin", "admin")
    assert "reopened" in kinds_of(app, number)
    assert "Maaf terlambat" in body(mails(stack, "admin", "staff/citizen-follow-up")[-1])


def test_a_reply_before_the_reminder_stops_the_silence_clock(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    number = register(stack, daemon, clock)
    clock.now = at(9, 10)
    reply(stack, "admin", mails(stack, "admin", "staff/forward")[0], "#info Mohon kirimkan foto KK.")
    daemon.run_once()
    clock.now = at(10, day=1)
    reply(stack, "warga1", mails(stack, "warga1", "citizen/info-request")[0], "Foto KK terlampir.")
    daemon.run_once()
    assert row(app, number).status == "in_progress"
    for days in (8, 20):  # past the reminder and the closing of the wait that ended
        clock.now = at(10, day=days)
        daemon.run_once()
    assert mails(stack, "warga1", "citizen/info-reminder") == []
    assert mails(stack, "warga1", "citizen/closed-no-reply") == []
    assert row(app, number).closed_reason is None


def _check_at_once(deadlines: Deadlines, barrier: threading.Barrier, results: list) -> None:
    barrier.wait()
    results.append(deadlines.run_once())


def test_two_checkers_at_once_remind_and_close_once(make_desk, clock, db_url):
    """Two processes' deadline passes at the same moment (threads on their own
    connections; SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite): one
    reminder, one closing."""
    stack, app, daemon = make_desk(clock=clock, settings=NS(database_url=db_url))
    number = register(stack, daemon, clock)
    clock.now = at(9, 10)
    reply(stack, "admin", mails(stack, "admin", "staff/forward")[0], "#info Mohon kirimkan foto KK.")
    daemon.run_once()
    [wait] = open_visits(app, number)
    for moment, kind in ((wait.remind_at, "citizen-reminded"), (wait.due_at, "closed")):
        clock.now = moment
        checkers = [Deadlines(app.letters, app.factory, clock=clock) for _ in range(3)]
        barrier = threading.Barrier(len(checkers))
        results = []

        threads = [threading.Thread(target=_check_at_once, args=(d, barrier, results)) for d in checkers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 3 and not any(r.error for r in results)
        assert sum(r.citizens_reminded + r.closed_silent for r in results) == 1
        assert kinds_of(app, number).count(kind) == 1
    daemon.run_once()
    assert len(mails(stack, "warga1", "citizen/info-reminder")) == 1
    assert len(mails(stack, "warga1", "citizen/closed-no-reply")) == 1


def test_merging_the_survivor_later_moves_its_duplicates_along_no_chain(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    one = register(stack, daemon, clock)
    clock.now = at(9, 5)
    two = register(stack, daemon, clock)
    clock.now = at(9, 10)
    three = register(stack, daemon, clock)
    config = str(app.settings.path)
    assert mailflow_at(clock, "merge", two, one, "--config", config).returncode == 0
    assert mailflow_at(clock, "merge", one, three, "--config", config).returncode == 0
    assert row(app, two).merged_into_id == row(app, one).merged_into_id == row(app, three).id
    daemon.run_once()
    ack_two = [m for m in mails(stack, "warga1", "citizen/acknowledgement") if two in m["Subject"]][0]
    clock.now = at(10)
    reply(stack, "warga1", ack_two, "Masih menunggu kabar.")
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("attached", three)]
