"""The monthly report end to end on the real mail servers: a Palangka Raya desk
runs November 2026 on an injected clock (complaints, staff replies, a rejected
mail, an out-of-office), and its daemon pass on the first working day of
December mails the November report once to the Kepala Bidang and the Kepala
Dinas; ``mailflow report --send`` (run in this process on the same clock) then
refuses to mail it again without ``--force``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailflow.store.models import ReportRun
from support import INVALID_BODY, VALID_BODY, Clock, complaint_mail, mailflow_at, reply
from support import received as mails

WIB = ZoneInfo("Asia/Jakarta")


def wib(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def handled(daemon) -> list[str]:
    return [o.action for o in daemon.run_once().outcomes]


def report_rows(msg: EmailMessage) -> dict[tuple[str, str, str], str]:
    [attachment] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/csv"]
    rows = list(csv.reader(io.StringIO(attachment.get_payload(decode=True).decode("utf-8-sig"), newline="")))
    return {(r[0], r[1], r[3]): r[4] for r in rows[1:]}


@pytest.mark.integration
def test_the_first_working_day_of_december_mails_the_november_report_once(make_desk):
    clock = Clock(wib(11, 23, 9))  # Monday
    stack, app, daemon = make_desk(clock=clock, rules="palangkaraya-online.toml")

    # November: one complaint answered within every standard, one left at the review step
    stack.send(complaint_mail(VALID_BODY, sender="warga1@dukcapil.test", date=clock.now), "warga1", ["aduan@dukcapil.test"])
    assert handled(daemon) == ["registered"]
    clock.now = wib(11, 23, 9, 30)
    reply(stack, "admin", mails(stack, "admin", "staff/forward")[0], "#teruskan Mohon diverifikasi.")
    assert handled(daemon) == ["attached"]
    clock.now = wib(11, 23, 10)
    reply(stack, "analis", mails(stack, "analis", "staff/handover")[0], "#jawab KTP-el Ibu sudah dicetak.")
    assert handled(daemon) == ["attached"]
    clock.now = wib(11, 23, 10, 20)
    reply(stack, "admin", mails(stack, "admin", "staff/send-confirmation")[0], "#setuju")
    assert handled(daemon) == ["attached"]
    assert len(mails(stack, "warga1", "citizen/answer")) == 1

    clock.now = wib(11, 23, 11)
    stack.send(complaint_mail(VALID_BODY, sender="warga2@dukcapil.test", date=clock.now), "warga2", ["aduan@dukcapil.test"])
    stack.send(complaint_mail(INVALID_BODY, sender="warga3@dukcapil.test", date=clock.now), "warga3", ["aduan@dukcapil.test"])
    stack.send(complaint_mail("Saya sedang cuti sampai 30 November.", sender="warga4@dukcapil.test",
                              subject="Out of office", headers={"Auto-Submitted": "auto-replied"}, date=clock.now),
               "warga4", ["aduan@dukcapil.test"])
    assert sorted(handled(daemon)) == ["ignored", "registered", "rejected"]

    # 1 December (Tuesday), before the office opens: not yet
    clock.now = wib(12, 1, 6)
    assert not daemon.run_once().report
    assert mails(stack, "kabid", "staff/monthly-report") == []

    clock.now = wib(12, 1, 8)
    result = daemon.run_once()
    assert result.report.sent and result.report.month == "2026-11"
    assert "monthly report 2026-11 queued for kabid@dukcapil.test, kadis@dukcapil.test" in result.summary()
    [to_kabid] = mails(stack, "kabid", "staff/monthly-report")
    [to_kadis] = mails(stack, "kadis", "staff/monthly-report")
    assert to_kabid["Message-ID"] == to_kadis["Message-ID"]  # one mail to both
    assert to_kabid["Subject"] == "Laporan bulanan pengaduan November 2026"
    assert str(to_kabid["Reply-To"]) == "admin@dukcapil.test" and to_kabid["Auto-Submitted"] == "auto-generated"
    text = to_kabid.get_body(("plain",)).get_content()
    assert text.startswith("Yth. Kepala Bidang Pemanfaatan Data dan Inovasi Pelayanan, Kepala Dinas,")
    [received] = [line for line in text.splitlines() if line.startswith("Aduan diterima ")]
    assert received.split() == ["Aduan", "diterima", "2", "0"]  # November beside October
    files = {p.get_filename(): p for p in to_kabid.iter_attachments()}
    assert set(files) == {"laporan-pengaduan-2026-11.html", "laporan-pengaduan-2026-11.pdf",
                          "laporan-pengaduan-2026-11.csv"}
    pdf = files["laporan-pengaduan-2026-11.pdf"]
    assert pdf.get_content_type() == "application/pdf" and pdf.get_payload(decode=True).startswith(b"%PDF-")
    page = files["laporan-pengaduan-2026-11.html"].get_payload(decode=True).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Laporan Bulanan Pengaduan: November 2026" in page

    figures = report_rows(to_kabid)
    assert figures[("received", "all", "count")] == "2"
    assert figures[("status", "closed", "count")] == "1" and figures[("status", "registered", "count")] == "1"
    assert (figures[("mail", "rejected", "count")], figures[("mail", "ignored", "count")]) == ("1", "1")
    # the answered complaint: review 09:00-09:30, verification 09:30-10:00, sending 10:00-10:20
    assert [figures[("step", key, "median_minutes")] for key in ("telaah", "verifikasi", "kirim-jawaban")] == [
        "30", "30", "20"]
    assert figures[("step", "telaah", "running")] == "1"
    assert figures[("compliance", "all", "percent_within_standard")] == "100.0"
    # the second complaint, due Mon 23 Nov 13:00, open at the month's end: 180 + 3 x 510 + 540 + 510 minutes late
    assert (figures[("open", "all", "count")], figures[("overdue", "all", "count")]) == ("1", "1")
    [late] = [v for (section, _, metric), v in figures.items() if section == "overdue_complaint" and metric == "late_minutes"]
    assert late == "2760"

    # once: the next pass, the next working day, and a restart (a new desk on the same database)
    clock.now = wib(12, 1, 8, 1)
    assert not daemon.run_once().report
    clock.now = wib(12, 2, 8)
    assert not daemon.run_once().report
    _, _, restarted = make_desk(settings=app.settings, clock=clock, rules="palangkaraya-online.toml")
    assert restarted.run_once().report.skipped == "already sent"
    assert len(mails(stack, "kabid", "staff/monthly-report")) == 1
    assert len(mails(stack, "kadis", "staff/monthly-report")) == 1
    with app.factory() as s:
        assert [(r.month, r.sent_at) for r in s.scalars(select(ReportRun))] == [("2026-11", wib(12, 1, 8))]

    # by hand: refused without --force, mailed again with it
    config = str(app.settings.path)
    again = mailflow_at(clock, "report", "--month", "2026-11", "--send", "--config", config)
    assert again.returncode == 2
    assert "already sent on Selasa, 1 Desember 2026 08.00 WIB" in again.stderr and "--force" in again.stderr
    forced = mailflow_at(clock, "report", "--month", "2026-11", "--send", "--force", "--config", config)
    assert forced.returncode == 0, forced.stderr
    assert "queued in the outbox for kabid@dukcapil.test, kadis@dukcapil.test" in forced.stdout
    clock.now = wib(12, 2, 9)
    assert daemon.run_once().drained.sent == 1
    assert [m["Subject"] for m in mails(stack, "kadis", "staff/monthly-report")] == [
        "Laporan bulanan pengaduan November 2026", "Laporan bulanan pengaduan November 2026 (dikirim ulang)"]
