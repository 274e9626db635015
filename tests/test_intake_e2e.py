"""Intake end to end on the real local mail stack (Dovecot IMAP + SMTP relay
into Dovecot LMTP) and a real database: what a citizen and the staff see."""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from mailflow.store.models import Complaint, Hop, Message, OutboxItem
from support import INVALID_BODY, VALID_BODY, complaint_mail, corpus_dir, corpus_files

pytestmark = pytest.mark.integration


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def hops_of(app, kind: str) -> list[Hop]:
    with app.factory() as s:
        return list(s.scalars(select(Hop).where(Hop.kind == kind).order_by(Hop.id)))


def count(app, model, *where) -> int:
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_valid_complaint_is_registered_acknowledged_and_forwarded(desk):
    stack, app, daemon = desk
    raw = complaint_mail(sender="warga1@dukcapil.test", message_id="<aduan-1@warga.test>")
    stack.send(raw, "warga1@dukcapil.test", ["aduan@dukcapil.test"])

    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    number = result.outcomes[0].complaint_number
    assert number.startswith("ADU/") and number.endswith("/000001")
    assert result.drained.sent == 2 and result.drained.failed == 0

    # the citizen's acknowledgement, threaded to their own mail
    (ack_raw,) = stack.messages("warga1")
    ack = parsed(ack_raw)
    assert ack["In-Reply-To"] == "<aduan-1@warga.test>"
    assert "<aduan-1@warga.test>" in ack["References"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert number in ack["Subject"]
    body = ack.get_body(("plain",)).get_content()
    assert number in body and "340201******0001" in body and "3402014501900001" not in body

    # the forward to the first rung (Admin Email), with the original attached
    (fwd_raw,) = stack.messages("admin")
    fwd = parsed(fwd_raw)
    assert number in fwd["Subject"]
    assert fwd["Reply-To"].startswith("aduan+")
    attached = [p for p in fwd.iter_attachments()]
    assert attached and b"aduan-1@warga.test" in attached[0].as_bytes()

    # the mail left INBOX for the processed folder only after the commit
    assert stack.messages("aduan") == []
    assert len(stack.messages("aduan", "mailflow/processed")) == 1

    with app.factory() as s:
        c = s.scalars(select(Complaint)).one()
        assert (c.status, c.holder_role, c.complainant_name) == ("registered", "admin", "Siti Aminah")
        assert c.nik == "3402014501900001" and c.category_name
        kinds = [h.kind for h in s.scalars(select(Hop).order_by(Hop.id))]
    assert kinds[:5] == ["received", "parsed", "registered", "acknowledged", "forwarded"]
    assert kinds.count("sent") == 2


def test_invalid_complaint_gets_an_explanation_and_no_complaint(desk):
    stack, app, daemon = desk
    stack.send(complaint_mail(INVALID_BODY, sender="warga2@dukcapil.test", message_id="<bad-1@warga.test>"),
               "warga2@dukcapil.test", ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["rejected"]
    assert count(app, Complaint) == 0
    (reply_raw,) = stack.messages("warga2")
    reply = parsed(reply_raw)
    assert reply["In-Reply-To"] == "<bad-1@warga.test>"
    text = reply.get_body(("plain",)).get_content()
    for label in ("NIK", "Alamat", "Jenis Layanan"):
        assert label in text
    assert "16 digit" in text  # why the NIK is wrong, not just that it is
    (hop,) = hops_of(app, "rejected")
    assert "NIK" in hop.reason
    # the mail is kept: archived and moved to the processed folder
    assert count(app, Message, Message.direction == "in") == 1
    assert len(stack.messages("aduan", "mailflow/processed")) == 1


def test_same_message_fetched_twice_makes_one_complaint(desk):
    stack, app, daemon = desk
    raw = complaint_mail(sender="warga3@dukcapil.test", message_id="<twice@warga.test>")
    stack.deliver("aduan", raw)
    stack.deliver("aduan", raw)  # re-delivered
    first = daemon.run_once()
    assert sorted(o.action for o in first.outcomes) == ["duplicate", "registered"]
    # copied back into INBOX after it was processed
    stack.deliver("aduan", raw)
    second = daemon.run_once()
    assert [o.action for o in second.outcomes] == ["duplicate"]
    assert count(app, Complaint) == 1
    assert len(stack.messages("warga3")) == 1  # exactly one acknowledgement


def test_overlapping_pollers_make_one_complaint(desk, make_desk):
    """Two daemons on one mailbox and one database (an overlapping cron run)."""
    stack, app, daemon = desk
    _, _, other = make_desk(app.settings)
    raw = complaint_mail(sender="warga4@dukcapil.test", message_id="<overlap@warga.test>")
    stack.deliver("aduan", raw)
    daemon.intake_once()
    stack.deliver("aduan", raw)  # it reappears before the other poller looks
    other.intake_once()
    daemon.outbox.run_once()
    assert count(app, Complaint) == 1
    assert len(stack.messages("warga4")) == 1


def test_every_autoreply_and_bounce_in_the_corpus_is_logged_and_never_answered(desk):
    stack, app, daemon = desk
    files = corpus_files("autoreplies") + corpus_files("bounces")
    corpus_dir("autoreplies")
    for path in files:
        stack.deliver("aduan", path.read_bytes())
    result = daemon.run_once()
    assert len(result.outcomes) == len(files)
    assert {o.action for o in result.outcomes} <= {"ignored", "duplicate"}, [
        (f.name, o.action, o.reason) for f, o in zip(files, result.outcomes) if o.action not in ("ignored", "duplicate")
    ]
    assert count(app, OutboxItem) == 0
    assert count(app, Complaint) == 0
    assert len(hops_of(app, "ignored")) == len(files)
    assert stack.messages("aduan") == []


def test_every_mime_corpus_file_is_processed_or_quarantined_and_the_queue_goes_on(desk):
    stack, app, daemon = desk
    files = corpus_files("mime")
    corpus_dir("mime")
    for path in files:
        stack.deliver("aduan", path.read_bytes())
    stack.deliver("aduan", complaint_mail(sender="warga5@dukcapil.test", message_id="<after-mime@warga.test>"))
    result = daemon.run_once()
    assert len(result.outcomes) == len(files) + 1
    assert result.outcomes[-1].action == "registered"
    assert {o.action for o in result.outcomes} <= {"registered", "rejected", "ignored", "duplicate", "quarantined"}
    assert stack.messages("aduan") == []
    assert count(app, Message, Message.direction == "in") >= len(files) - sum(
        o.action == "duplicate" for o in result.outcomes)


@pytest.mark.parametrize("charset", ["windows-1252", "iso-8859-1"])
def test_8bit_legacy_charset_complaint_is_decoded(desk, charset):
    stack, app, daemon = desk
    body = VALID_BODY.replace("Siti Aminah", "Renée Wulandari").replace("Sewon, Bantul", "Sewon — “Bantul”" if charset == "windows-1252" else "Sewon, Bantul ½")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "warga6@dukcapil.test", "aduan@dukcapil.test", "Aduan"
    msg["Message-ID"] = make_msgid(domain="warga.test")
    msg.set_content(body, charset=charset, cte="8bit" if charset == "windows-1252" else "quoted-printable")
    raw = msg.as_bytes()
    assert "Renée".encode() not in raw  # really legacy-encoded on the wire
    stack.deliver("aduan", raw)
    assert [o.action for o in daemon.run_once().outcomes] == ["registered"]
    with app.factory() as s:
        c = s.scalars(select(Complaint)).one()
    assert c.complainant_name == "Renée Wulandari"
    assert ("“Bantul”" if charset == "windows-1252" else "½") in c.address


def test_html_only_complaint_is_parsed(desk):
    stack, app, daemon = desk
    html = (
        "<html><body><p>Selamat siang,</p><div><b>Nama:</b> Agus Prasetyo</div>"
        "<div><b>NIK:</b> 3402011708850002</div><div>Alamat: Jl. Bantul No. 12, Kasihan</div>"
        "<div>No. HP: 0813-2222-3333</div><div>Jenis Layanan: Akta Kelahiran</div>"
        "<div>Uraian: Nama ayah di akta kelahiran anak saya salah ketik.<br>Mohon dibetulkan.</div>"
        "</body></html>"
    )
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "warga7@dukcapil.test", "aduan@dukcapil.test", "Aduan akta"
    msg["Message-ID"] = make_msgid(domain="warga.test")
    msg.set_content(html, subtype="html")
    stack.deliver("aduan", msg.as_bytes())
    assert [o.action for o in daemon.run_once().outcomes] == ["registered"]
    with app.factory() as s:
        c = s.scalars(select(Complaint)).one()
    assert c.complainant_name == "Agus Prasetyo" and c.nik == "3402011708850002"
    assert "salah ketik" in c.description and "dibetulkan" in c.description


def test_a_message_that_cannot_be_handled_is_quarantined_and_the_admin_alerted(desk, make_desk):
    stack, app, _ = desk
    _, small_app, daemon = make_desk(app.settings, extra="[limits]\nmax_message_bytes = 4000\n")
    big = complaint_mail(VALID_BODY + "\n" + "Lampiran panjang. " * 400, sender="warga8@dukcapil.test")
    stack.deliver("aduan", big)
    stack.deliver("aduan", complaint_mail(sender="warga9@dukcapil.test"))
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["quarantined", "registered"]
    assert len(stack.messages("aduan", "mailflow/quarantine")) == 1
    assert len(stack.messages("aduan", "mailflow/processed")) == 1
    alerts = [parsed(r) for r in stack.messages("admin") if b"dikarantina" in r.lower()]
    assert len(alerts) == 1
    (hop,) = hops_of(small_app, "quarantined")
    assert "too large" in hop.reason
    with small_app.factory() as s:  # kept, never dropped
        assert s.scalar(select(func.count()).select_from(Message).where(Message.classification == "quarantined")) == 1


def test_citizen_follow_up_is_attached_even_when_the_client_drops_references(desk):
    stack, app, daemon = desk
    stack.send(complaint_mail(sender="warga1@dukcapil.test"), "warga1@dukcapil.test", ["aduan@dukcapil.test"])
    number = daemon.run_once().outcomes[0].complaint_number
    (ack,) = [parsed(r) for r in stack.messages("warga1")]
    # a client that keeps only the subject and the acknowledgement's Reply-To (no In-Reply-To, no References)
    follow = complaint_mail("Tambahan: saya lampirkan foto KTP lama.", sender="warga1@dukcapil.test",
                            to=str(ack["Reply-To"]), subject=f"Re: [{number}] Aduan Anda telah kami terima")
    stack.send(follow, "warga1@dukcapil.test", [str(ack["Reply-To"])])
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("attached", number)]
    assert count(app, Complaint) == 1
    admin_mail = [parsed(r)["Subject"] for r in stack.messages("admin")]
    assert any("Tambahan" in s for s in admin_mail)


def test_the_register_number_in_a_subject_alone_proves_nothing(desk):
    """docs/SECURITY.md: the number is guessable; From: can be forged. Such a mail
    is a note for the holder, never a change (issue 11: a forged complainant)."""
    stack, app, daemon = desk
    stack.send(complaint_mail(sender="warga1@dukcapil.test"), "warga1@dukcapil.test", ["aduan@dukcapil.test"])
    number = daemon.run_once().outcomes[0].complaint_number
    follow = complaint_mail("Tambahan: saya lampirkan foto KTP lama.", sender="warga1@dukcapil.test",
                            subject=f"Re: [{number}] Aduan Anda telah kami terima")
    stack.send(follow, "warga1@dukcapil.test", ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [(o.action, o.complaint_number) for o in result.outcomes] == [("noted", number)]
    notes = [parsed(r) for r in stack.messages("admin") if b"staff/unverified-note" in r]
    assert len(notes) == 1


def test_our_own_mail_coming_back_is_ignored(desk):
    stack, app, daemon = desk
    stack.send(complaint_mail(sender="warga2@dukcapil.test"), "warga2@dukcapil.test", ["aduan@dukcapil.test"])
    daemon.run_once()
    (ack,) = stack.messages("warga2")
    stack.deliver("aduan", ack)  # e.g. the citizen's server forwards everything back
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["duplicate"]
    assert "own" in result.outcomes[0].reason
    assert len(stack.messages("warga2")) == 1


def test_a_quarantined_mail_is_listed_shown_and_retried_into_one_complaint(make_desk):
    """Issue 13: a mail quarantined for a problem since fixed (a limit on MIME
    parts too tight for a complaint with scans attached) is listed, shown and
    retried from the command line, from its archived copy, and becomes one
    complaint with one acknowledgement, however often it is retried; the IMAP
    mail stays in the quarantine folder."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from support import mailflow_at

    now = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Asia/Jakarta"))
    stack, fixed_app, fixed = make_desk(clock=lambda: now)
    _, tight_app, tight = make_desk(fixed_app.settings, clock=lambda: now,
                                    extra="[limits]\nmax_mime_parts = 10\n")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "warga6@dukcapil.test", "aduan@dukcapil.test", "Aduan KTP-el dan lampiran"
    msg["Message-ID"], msg["Date"] = "<scans@warga.test>", "Mon, 23 Nov 2026 09:00:00 +0700"
    msg.set_content(VALID_BODY)
    for i in range(12):
        msg.add_attachment(b"scan %d" % i, maintype="application", subtype="pdf", filename=f"scan{i}.pdf")
    stack.send(msg.as_bytes(), "warga6@dukcapil.test", ["aduan@dukcapil.test"])
    assert [o.action for o in tight.run_once().outcomes] == ["quarantined"]
    assert len(stack.messages("aduan", "mailflow/quarantine")) == 1

    def cli(app, *args):
        r = mailflow_at(lambda: now, *args, "--config", str(app.settings.path))
        assert r.returncode == 0, r.stderr
        return r.stdout

    (row,) = json.loads(cli(tight_app, "mail", "list", "--kind", "quarantined", "--json"))
    assert row["from"] == "warga6@dukcapil.test" and "MIME parts" in row["reason"] and row["retried"] == 0
    shown = cli(tight_app, "mail", "show", str(row["id"]))
    assert "dikarantina" in shown and "Aduan KTP-el dan lampiran" in shown and "3402014501900001" not in shown
    (alert,) = [parsed(r) for r in stack.messages("admin") if b"dikarantina" in r.lower()]
    assert f"mailflow mail retry {row['id']}" in alert.get_body(("plain",)).get_content()

    assert "registered as ADU/2026/000001" in cli(fixed_app, "mail", "retry", str(row["id"]))
    assert "nothing done" in cli(fixed_app, "mail", "retry", str(row["id"]))
    fixed.run_once()  # the daemon sends what the retry queued
    assert json.loads(cli(fixed_app, "mail", "list", "--kind", "quarantined", "--json")) == []
    assert count(fixed_app, Complaint) == 1
    acks = [parsed(r) for r in stack.messages("warga6")]
    assert len(acks) == 1 and "ADU/2026/000001" in acks[0]["Subject"]
    assert acks[0]["In-Reply-To"] == "<scans@warga.test>"
    assert len(stack.messages("aduan", "mailflow/quarantine")) == 1  # the IMAP mail was not moved
    assert stack.messages("aduan") == []
