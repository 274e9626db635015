"""Asking by mail, end to end on the real mail servers (issue 15 points 1
and 6): a citizen's "#status" gets where their complaint stands, threaded to
their mail, only ever at the recorded address; staff's "#bantuan" and
"#riwayat" get the step's commands and the complaint's history. None of them
changes the complaint."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from mailflow.store.models import Complaint, Hop
from support import VALID_BODY, complaint_mail

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 WIB, the office open
MX = "mx.dukcapil.test"
SECURITY = f'\n[security]\nauthserv_ids = ["{MX}"]\n'
NIK, KK, PHONE = "3402014501900001", "3402011203150004", "081234567890"


class Clock:
    def __init__(self, now: datetime = MONDAY):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def inbox(stack, user: str, kind: str | None = None) -> list[EmailMessage]:
    found = [parsed(raw) for raw in stack.messages(user)]
    return [m for m in found if kind is None or m["X-Mailflow-Kind"] == kind]


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def outcomes(daemon) -> list[str]:
    return [o.action for o in daemon.run_once().outcomes]


def write(stack, frm: str, to: str, text: str, *, subject: str = "Re: aduan", parent: EmailMessage | None = None,
          login: bool = True, headers: dict[str, str] | None = None) -> str:
    """A mail as a client sends it (text on top, the quote below); returns its Message-ID."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = frm, to, subject
    msg["Message-ID"] = make_msgid(domain="dukcapil.test")
    if parent is not None:
        msg["In-Reply-To"] = parent["Message-ID"]
        msg["References"] = parent["Message-ID"]
    for k, v in (headers or {}).items():
        msg[k] = v
    quoted = "\n".join("> " + line for line in body(parent).splitlines()[:10]) if parent is not None else ""
    msg.set_content(f"{text}\n\n-- \nDikirim dari ponsel saya\n\n{quoted}\n")
    stack.send(msg.as_bytes(), frm.split("@")[0], [to], login=login)
    return str(msg["Message-ID"])


def state(app) -> tuple:
    with app.factory() as s:
        c = s.scalars(select(Complaint)).one()
        return c.status, c.step, c.holder_role, c.draft, c.updated_at, c.due_at


def register(stack, daemon) -> str:
    stack.send(complaint_mail(VALID_BODY, sender="warga1@dukcapil.test"), "warga1", ["aduan@dukcapil.test"],
               login=True)
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    return result.outcomes[0].complaint_number


# ------------------------------------------------------------------ point 1: status by mail
def test_status_by_reply_is_answered_threaded_and_changes_nothing(make_desk):
    clock = Clock()
    stack, app, daemon = make_desk(clock=clock)
    number = register(stack, daemon)
    ack = inbox(stack, "warga1", "citizen/acknowledgement")[-1]
    assert "#status" in body(ack)
    before = state(app)
    clock.now += timedelta(minutes=10)
    asked = write(stack, "warga1@dukcapil.test", str(ack["Reply-To"]), "#status", subject=f"Re: {ack['Subject']}",
                  parent=ack)
    assert outcomes(daemon) == ["informed"]
    [answer] = inbox(stack, "warga1", "citizen/status")
    assert answer["In-Reply-To"] == asked and asked in str(answer["References"])  # threaded to the citizen's mail
    assert str(answer["Reply-To"]) == str(ack["Reply-To"])  # further replies stay on the complaint
    text = " ".join(body(answer).split())
    assert number in answer["Subject"] and "diproses" not in answer["Subject"]  # registered: "terdaftar"
    assert "Verifikasi aduan oleh Admin Email" in text  # the step in the SOP's words
    assert "Ditangani oleh : Admin Email" in text  # the role, not a person
    assert "Standar waktu : 30 menit (jam kerja)" in text
    assert "Batas waktu : Senin, 23 November 2026 09.30 WIB" in text  # the step's due time, working time
    assert "Sisa waktu : 20 menit (jam kerja)" in text
    assert "Standar SOP : 160 menit (jam kerja)" in text  # the SOP's whole standard, and when it runs out
    assert "Target selesai : Senin, 23 November 2026 11.40 WIB" in text
    assert "Aduan didaftarkan" in text  # the history in short
    assert NIK not in text and PHONE not in text
    assert state(app) == before  # no follow-up, no move, not even a touch
    assert inbox(stack, "admin", "staff/citizen-follow-up") == []  # not taken as a mail for staff
    with app.factory() as s:
        assert s.scalars(select(Hop).where(Hop.kind == "informed")).one().actor == "warga1@dukcapil.test"


def test_status_by_register_number_to_the_complaint_address_is_never_a_new_complaint(make_desk):
    stack, app, daemon = make_desk(clock=Clock(), extra=SECURITY)
    number = register(stack, daemon)
    asked = write(stack, "warga1@dukcapil.test", "aduan@dukcapil.test", f"cek status {number}",
                  subject="Menanyakan aduan saya")  # logged in: the office's server stamps it a pass
    assert outcomes(daemon) == ["informed"]
    [answer] = inbox(stack, "warga1", "citizen/status")
    assert answer["In-Reply-To"] == asked
    assert "Admin Email" in body(answer)
    with app.factory() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1  # not registered as a complaint
    assert inbox(stack, "warga1", "citizen/format-rejected") == []


def test_a_forged_from_gets_nothing_personal(make_desk):
    stack, app, daemon = make_desk(clock=Clock(), extra=SECURITY)
    number = register(stack, daemon)
    # Another citizen asks about warga1's complaint by its (guessable) number.
    write(stack, "warga2@dukcapil.test", "aduan@dukcapil.test", f"#status {number}", subject="status")
    assert outcomes(daemon) == ["informed"]
    [unknown] = inbox(stack, "warga2")
    assert unknown["X-Mailflow-Kind"] == "citizen/status-unknown"
    text = body(unknown)
    assert "tidak menemukan aduan" in text
    for personal in ("Siti Aminah", NIK, KK, PHONE, "Verifikasi", "Admin Email", "KTP-el saya"):
        assert personal not in text, personal
    # warga2 writes From: warga1 (not logged in as them: the office's server finds it failing), Reply-To: warga2.
    write(stack, "warga1@dukcapil.test", "aduan@dukcapil.test", f"#status {number}", subject=f"Re: [{number}]",
          login=False, headers={"Reply-To": "warga2@dukcapil.test"})
    assert outcomes(daemon) == ["ignored"]
    assert len(inbox(stack, "warga2")) == 1  # nothing more for the forger
    assert inbox(stack, "warga1", "citizen/status") == []  # nor, unasked, for the complainant
    with app.factory() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1
        reasons = [h.reason for h in s.scalars(select(Hop).where(Hop.kind == "ignored"))]
    assert any("status request not answered" in r for r in reasons)


def test_status_answers_stop_at_the_daily_limit(make_desk):
    stack, app, daemon = make_desk(clock=Clock())
    register(stack, daemon)  # the acknowledgement is the first automatic mail of the day
    ack = inbox(stack, "warga1", "citizen/acknowledgement")[-1]
    for _ in range(3):
        write(stack, "warga1@dukcapil.test", str(ack["Reply-To"]), "status", parent=ack)
    assert outcomes(daemon) == ["informed", "informed", "ignored"]  # limits.auto_replies_per_address_per_day = 3
    assert len(inbox(stack, "warga1", "citizen/status")) == 2


# ------------------------------------------------------------------ point 6: #bantuan, #riwayat
def test_bantuan_and_riwayat_by_mail_to_whoever_holds_the_complaint(make_desk):
    clock = Clock()
    stack, app, daemon = make_desk(clock=clock)
    number = register(stack, daemon)
    fwd = inbox(stack, "admin", "staff/forward")[-1]
    before = state(app)
    asked = write(stack, "admin@dukcapil.test", str(fwd["Reply-To"]), "#bantuan", parent=fwd)
    assert outcomes(daemon) == ["attached"]
    [help_mail] = inbox(stack, "admin", "staff/help")
    assert help_mail["In-Reply-To"] == asked and number in help_mail["Subject"]
    text = body(help_mail)
    assert "#teruskan" in text and "Verifikasi aduan oleh Kepala Seksi" in text  # where #teruskan leads
    assert "Contoh balasan:" in text and "  #teruskan Mohon ditindaklanjuti; data SIAK sudah dicek." in text
    assert state(app) == before
    # The Admin forwards; the Kasi asks for the history.
    clock.now += timedelta(minutes=5)
    write(stack, "admin@dukcapil.test", str(fwd["Reply-To"]), f"#teruskan NIK {NIK} cocok di SIAK; HP {PHONE}.",
          parent=fwd)
    assert outcomes(daemon) == ["attached"]
    handover = inbox(stack, "kasi-identitas", "staff/handover")[-1]
    before = state(app)
    asked = write(stack, "kasi-identitas@dukcapil.test", str(handover["Reply-To"]), "#history", parent=handover)
    assert outcomes(daemon) == ["attached"]
    [history] = inbox(stack, "kasi-identitas", "staff/history")
    assert history["In-Reply-To"] == asked
    text = body(history)
    assert "Aduan didaftarkan" in text and "Diteruskan (oleh Admin Email)" in text
    assert "Verifikasi aduan oleh Kepala Seksi" in text
    assert "340201******0001" in text and NIK not in text and PHONE not in text  # personal data masked
    assert state(app) == before
    # The Admin no longer holds it: their #riwayat is refused, and no history goes to them.
    write(stack, "admin@dukcapil.test", str(fwd["Reply-To"]), "#riwayat", parent=fwd)
    assert outcomes(daemon) == ["refused"]
    assert inbox(stack, "admin", "staff/history") == []
    refused = inbox(stack, "admin", "staff/refused")[-1]
    assert "#teruskan" not in body(refused)  # no commands for someone who can use none
