"""The attacks of docs/SECURITY.md, end to end on the real mail servers: each
one broke mailflow before the security work (issue 11) and is held off now.

The stack's SMTP front plays the office's receiving server: with
``authserv_id`` it stamps ``Authentication-Results: mx.dukcapil.test; ...``
(pass for a user who logged in as the From: address, fail for unauthenticated
mail claiming the office's domain) and removes look-alikes sent from outside.
"""

from __future__ import annotations

import email
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from mailflow.store.models import Complaint, Hop, OutboxItem
from support import INVALID_BODY, VALID_BODY, complaint_mail, mailflow_at

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 WIB
MX = "mx.dukcapil.test"
SECURITY = f'\n[security]\nauthserv_ids = ["{MX}"]\n'


class Clock:
    def __init__(self, now: datetime = MONDAY):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def inbox(stack, user: str, kind: str | None = None) -> list[EmailMessage]:
    found = [parsed(raw) for raw in stack.messages(user)]
    return [m for m in found if kind is None or m["X-Mailflow-Kind"] == kind]


def actions(daemon) -> list[str]:
    return [o.action for o in daemon.run_once().outcomes]


def hops(app, kind: str) -> list[Hop]:
    with app.factory() as s:
        return list(s.scalars(select(Hop).where(Hop.kind == kind).order_by(Hop.id)))


def complaints(app) -> list[Complaint]:
    with app.factory() as s:
        return list(s.scalars(select(Complaint).order_by(Complaint.id)))


def staff_mail(frm: str, to: str, text: str, *, subject: str = "Re: aduan", in_reply_to: str | None = None,
               headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = frm, to, subject
    msg["Message-ID"] = make_msgid(domain="elsewhere.test")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(text)
    return msg.as_bytes()


def register(stack, daemon, sender: str = "warga1") -> EmailMessage:
    """A complaint from ``sender``; returns its forward to the Admin."""
    stack.send(complaint_mail(VALID_BODY, sender=f"{sender}@dukcapil.test"), sender, ["aduan@dukcapil.test"])
    assert actions(daemon) == ["registered"]
    return inbox(stack, "admin", "staff/forward")[-1]


# ------------------------------------------------------------------ 1. backscatter
def test_backscatter_by_a_forged_from_stops_at_the_daily_limit(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    for i in range(5):  # five valid complaints, all "from" the victim
        stack.send(complaint_mail(VALID_BODY, sender="warga9@dukcapil.test", subject=f"Iklan murah {i}"),
                   "warga5", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["registered"] * 5
    assert len(inbox(stack, "warga9", "citizen/acknowledgement")) == 3  # limits.auto_replies_per_address_per_day
    told = [f for f in inbox(stack, "admin", "staff/forward")
            if "Tanda terima tidak dikirim" in f.get_body(("plain",)).get_content()]
    assert len(told) == 2  # staff see which complaints got no acknowledgement
    assert len([h for h in hops(app, "ignored") if "no acknowledgement" in h.reason]) == 2


def test_backscatter_by_reply_to_reaches_nobody_but_the_senders(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    for i in range(2, 7):  # five invalid mails from five addresses, each asking for replies to the victim
        stack.send(complaint_mail(INVALID_BODY, sender=f"warga{i}@dukcapil.test",
                                  headers={"Reply-To": "warga9@dukcapil.test"}), f"warga{i}", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["rejected"] * 5
    assert inbox(stack, "warga9") == []  # the victim gets nothing
    assert [len(inbox(stack, f"warga{i}", "citizen/format-rejected")) for i in range(2, 7)] == [1] * 5


def test_a_flood_raises_one_alert_not_one_per_mail(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock, extra="[limits]\ncomplaints_per_hour_alert = 3\n")
    for i in range(1, 7):
        stack.send(complaint_mail(VALID_BODY, sender=f"warga{i}@dukcapil.test"), f"warga{i}", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["registered"] * 6
    assert len(inbox(stack, "admin", "admin/flood-alert")) == 1


# ------------------------------------------------------------------ 2. a forged complainant
def answered(stack, daemon, clock) -> None:
    """The Admin answers (Bantul: the Kasi approves; it goes out at once)."""
    fwd = register(stack, daemon)
    clock.now += timedelta(minutes=5)
    stack.send(staff_mail("admin@dukcapil.test", str(fwd["Reply-To"]), "#jawab KTP-el Ibu sudah dicetak.",
                          in_reply_to=fwd["Message-ID"]), "admin", [str(fwd["Reply-To"])])
    assert actions(daemon) == ["attached"]
    approval = inbox(stack, "kasi-identitas", "staff/approval-request")[-1]
    stack.send(staff_mail("kasi-identitas@dukcapil.test", str(approval["Reply-To"]), "#setuju"),
               "kasi-identitas", [str(approval["Reply-To"])])
    assert actions(daemon) == ["attached"]
    assert len(inbox(stack, "warga1", "citizen/answer")) == 1


def test_a_forged_complainant_with_the_number_in_the_subject_only_leaves_a_note(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    answered(stack, daemon, clock)
    number = complaints(app)[0].number
    before = len(stack.messages("warga1"))
    stack.send(staff_mail("warga1@dukcapil.test", "aduan@dukcapil.test", "Saya belum puas, buka lagi.",
                          subject=f"Re: [{number}] Jawaban aduan"), "warga8", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["noted"]
    [c] = complaints(app)
    assert c.status == "closed"  # not reopened
    assert len(stack.messages("warga1")) == before  # nothing mailed to the complainant
    holder = app.rules.roles[c.holder_role].members[0].split("@")[0]
    [note] = inbox(stack, holder, "staff/unverified-note")  # the holder hears of it, as a note
    assert number in note["Subject"]


def test_past_the_reopen_window_a_forged_reply_never_copies_the_complainants_data(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    answered(stack, daemon, clock)
    number = complaints(app)[0].number
    clock.now += timedelta(days=30)  # past answer.reopen_days
    stack.send(staff_mail("warga1@dukcapil.test", "aduan@dukcapil.test", "Masalah baru.",
                          subject=f"Re: [{number}] Jawaban aduan", headers={"Reply-To": "warga8@dukcapil.test"}),
               "warga8", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["noted"]
    assert len(complaints(app)) == 1  # no linked complaint
    assert inbox(stack, "warga8") == []  # the attacker received nothing


def test_the_real_complainant_replies_through_the_reply_address(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    answered(stack, daemon, clock)
    answer = inbox(stack, "warga1", "citizen/answer")[-1]
    assert str(answer["Reply-To"]).startswith("aduan+")  # the complaint's own address, with its token
    stack.send(staff_mail("warga1@dukcapil.test", str(answer["Reply-To"]), "KTP-el belum ada di kantor kapanewon.",
                          in_reply_to=answer["Message-ID"]), "warga1", [str(answer["Reply-To"])])
    assert actions(daemon) == ["attached"]
    assert complaints(app)[0].status == "in_progress"  # reopened


# ------------------------------------------------------------------ 3. poison mail
def test_a_reply_with_a_huge_line_cannot_stall_the_daemon(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    fwd = register(stack, daemon)
    # 23 KB on one line, the shape that made the old attribution pattern backtrack for minutes
    poison = "#catatan Mohon dicek.\n" + "a" + "@a" * 11_500 + ":\n> kutipan"
    stack.send(staff_mail("admin@dukcapil.test", str(fwd["Reply-To"]), poison), "admin", [str(fwd["Reply-To"])])
    stack.send(complaint_mail(VALID_BODY, sender="warga2@dukcapil.test"), "warga2", ["aduan@dukcapil.test"])
    started = time.monotonic()
    outcomes = actions(daemon)
    took = time.monotonic() - started
    assert outcomes == ["attached", "registered"]  # handled, and the next citizen not kept waiting
    assert took < 30, f"two mails took {took:.0f} s"  # was about two minutes, quadratic


def test_a_malformed_from_is_read_at_once_and_answered_never(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    junk = "<" * 30_000 + "warga2@dukcapil.test" + ">" * 30_000  # 60 KB, folded into lines an MTA accepts
    folded = "\n ".join(junk[i:i + 900] for i in range(0, len(junk), 900))
    raw = complaint_mail(VALID_BODY).replace(b"From: warga1@dukcapil.test", b"From: " + folded.encode())
    stack.send(raw, "warga3", ["aduan@dukcapil.test"])
    started = time.monotonic()
    assert actions(daemon) == ["ignored"]
    assert time.monotonic() - started < 30
    assert inbox(stack, "warga2") == [] and inbox(stack, "warga1") == []  # no address guessed, none answered
    assert len(inbox(stack, "admin", "admin/sender-unclear")) == 1


# ------------------------------------------------------------------ 4. staff commands
def test_an_address_in_the_display_name_gives_no_command(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    fwd = register(stack, daemon)
    forged = staff_mail("admin@dukcapil.test <orang@elsewhere.test>", str(fwd["Reply-To"]), "#teruskan ok")
    stack.send(forged, "warga7", [str(fwd["Reply-To"])])
    assert actions(daemon) == ["ignored"]
    assert complaints(app)[0].step == "verifikasi-admin"  # nothing moved


def test_an_attackers_authentication_results_are_not_believed(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock, extra=SECURITY)
    fwd = register(stack, daemon)
    target = str(fwd["Reply-To"])  # say a forwarded copy leaked the token
    for forged_header in (f"{MX}; dmarc=pass header.from=dukcapil.test",
                          "evil.test; dmarc=pass header.from=dukcapil.test"):
        stack.send(staff_mail("admin@dukcapil.test", target, "#teruskan ok",
                              headers={"Authentication-Results": forged_header}), "warga7", [target])
        assert actions(daemon) == ["refused"]
    assert complaints(app)[0].step == "verifikasi-admin"
    # the Admin's own mail, from a logged-in session: the server's pass is believed
    stack.send(staff_mail("admin@dukcapil.test", target, "#teruskan Mohon dicek."), "admin", [target], login=True)
    assert actions(daemon) == ["attached"]
    assert complaints(app)[0].step == "verifikasi-kasi"


def test_no_acknowledgement_to_a_from_whose_domain_fails_dmarc(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock, extra=SECURITY)
    # unauthenticated mail claiming the office's own domain: the server stamps dmarc=fail
    stack.send(complaint_mail(VALID_BODY, sender="kadis@dukcapil.test"), "warga4", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["registered"]
    [c] = complaints(app)
    assert c.sender_verified is False
    assert inbox(stack, "kadis", "citizen/acknowledgement") == []
    assert "Pengirim TIDAK terverifikasi" in inbox(stack, "admin", "staff/forward")[-1].get_body(("plain",)).get_content()


def test_forged_staff_mail_floods_no_one(make_desk, clock):
    stack, app, daemon = make_desk(clock=clock)
    fwd = register(stack, daemon)
    for _ in range(15):  # no token: the holder is told, within the hourly limit
        stack.send(staff_mail("admin@dukcapil.test", "aduan@dukcapil.test", "#teruskan",
                              in_reply_to=fwd["Message-ID"]), "warga7", ["aduan@dukcapil.test"])
    assert actions(daemon) == ["refused"] * 15
    assert len(inbox(stack, "admin", "staff/unauthorized-attempt")) == 3  # limits.notices_per_hour
    clock.now += timedelta(hours=1, minutes=1)
    result = daemon.run_once()
    assert result.digests == 1
    [digest] = inbox(stack, "admin", "staff/notice-digest")
    assert "12 pemberitahuan" in digest["Subject"]
    clock.now += timedelta(hours=2)
    assert daemon.run_once().digests == 0  # once


# ------------------------------------------------------------------ 5. credentials
def test_a_refused_smtp_login_leaves_the_mail_queued_and_says_so(make_desk, clock, monkeypatch):
    wrong = "\n".join(["[smtp]", "username = \"aduan\"", "password_env = \"TEST_SMTP_PASSWORD\""])
    stack, app, daemon = make_desk(clock=clock)
    path = app.settings.path
    text = path.read_text("utf-8").replace("[smtp]\n", wrong + "\n", 1)
    path.write_text(text, "utf-8")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "salah")
    stack.send(complaint_mail(VALID_BODY, sender="warga1@dukcapil.test"), "warga1", ["aduan@dukcapil.test"])
    for _ in range(2):  # the intake works; every send is refused at the login, twice
        run = mailflow_at(clock, "poll", "--once", "--config", str(path))
        assert run.returncode != 0 and "SMTP login" in run.stderr
    with app.factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "failed")) == 0
        rows = list(s.scalars(select(OutboxItem)))
    assert {r.state for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}
    assert len([r for r in rows if r.kind == "admin/login-failed"]) == 1  # once per outage, across the two runs
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "secret")
    run = mailflow_at(clock, "poll", "--once", "--config", str(path))
    assert run.returncode == 0, run.stderr
    assert len(inbox(stack, "warga1", "citizen/acknowledgement")) == 1
