"""The monthly report (laporan bulanan): figures of a hand-built month checked
against numbers computed by hand, on real SQLite and PostgreSQL; the four
formats parsed back; masking; the query plans; mailing it once (two
processes racing for the same month included).

The fixture month is November 2026 in Palangka Raya (WIB, civil-service hours,
no holiday in October-December before the 24th): 23 November is a Monday.
Rows are inserted directly, so every figure below is known in advance.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mailflow.config.rules import load_rules
from mailflow.config.settings import load_settings
from mailflow.core.render import PageRenderer, Renderer, TemplateError
from mailflow.report import formats
from mailflow.report.figures import Month, build_report, nearest_rank
from mailflow.report.monthly import AlreadySent, MonthNotEnded, NoRecipients, due_month, first_working_day
from mailflow.report.query import MonthNotBegun, load_month
from mailflow.runner.app import build
from mailflow.store import db
from mailflow.store.models import Complaint, Hop, OutboxItem, ReportRun, StepVisit
from support import REPO, TEST_ENV, Clock, mailflow_at, write_config

WIB = ZoneInfo("Asia/Jakarta")
NOVEMBER = Month(2026, 11)
RULES = REPO / "rules" / "palangkaraya-online.toml"
NIK = "3402014501900001"
KK = "3402011203150004"


def wib(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=WIB)


# Mailed on the first working day of December: the month has ended.
GENERATED = wib(12, 2, 12)
MONTH_END = wib(12, 1)


# ------------------------------------------------------------------ the fixture month
def add_complaint(session, seq: int, created: datetime, category: str, section: str, status: str, *,
                  channel: str = "email", closed: datetime | None = None, step: str | None = None,
                  category_name: str | None = None, **personal) -> Complaint:
    names = {"ktp-el": "KTP-el", "kk": "Kartu Keluarga", "akta-kelahiran": "Akta Kelahiran", "ikd": "IKD"}
    c = Complaint(
        number=f"ADU/2026/{seq:06d}", year=2026, seq=seq, status=status, channel=channel, category=category,
        category_name=category_name or names.get(category, category), section=section,
        complainant_name=personal.get("name", f"Warga {seq}"), complainant_email=f"warga{seq}@dukcapil.test",
        nik=personal.get("nik", "6271010101900001"), kk=personal.get("kk"), phone="081200000000",
        address=personal.get("address", "Jl. Tjilik Riwut"), description=personal.get("description", "Uraian."),
        step=step, holder_role=None, reply_token="t", created_at=created, updated_at=created, closed_at=closed,
    )
    session.add(c)
    session.flush()
    return c


def add_visit(session, complaint: Complaint, step: str, section: str, started: datetime, standard: int, *,
              minutes: int | None = None, ended: datetime | None = None, due: datetime | None = None,
              role: str = "petugas") -> None:
    """A visit; a closed one (``minutes`` given) ends two hours after it started unless ``ended`` says."""
    closed = minutes is not None
    session.add(StepVisit(
        complaint_id=complaint.id, step=step, role=role, section=section, started_at=started,
        standard_minutes=standard, due_at=due or started + timedelta(minutes=standard),
        ended_at=(ended or started + timedelta(hours=2)) if closed else None,
        working_minutes=minutes, within_standard=(minutes <= standard) if closed else None,
    ))


def add_hop(session, kind: str, at: datetime) -> None:
    session.add(Hop(kind=kind, at=at, actor="mailflow", reason="fixture"))


def fill_november(session) -> None:
    c = {}
    c[1] = add_complaint(session, 1, wib(11, 2, 9), "ktp-el", "identitas", "closed", closed=wib(11, 3, 10))
    c[2] = add_complaint(session, 2, wib(11, 5, 10), "ktp-el", "identitas", "closed", closed=wib(11, 20, 11))
    c[3] = add_complaint(session, 3, wib(11, 10, 9), "kk", "pindah", "closed", closed=wib(12, 2, 10))
    c[4] = add_complaint(session, 4, wib(11, 12, 9), "akta-kelahiran", "capil", "closed", closed=wib(11, 27, 14))
    c[5] = add_complaint(session, 5, wib(11, 20, 9), "ktp-el", "identitas", "in_progress", step="verifikasi")
    c[6] = add_complaint(session, 6, wib(11, 27, 9), "kk", "pindah", "waiting_citizen", step="telaah")
    c[7] = add_complaint(session, 7, wib(11, 30, 15), "ktp-el", "identitas", "registered", step="telaah",
                         channel="whatsapp")
    c[8] = add_complaint(session, 8, wib(10, 30, 9), "ktp-el", "identitas", "closed", closed=wib(11, 4, 9))
    c[9] = add_complaint(session, 9, wib(10, 15, 9), "kk", "pindah", "in_progress", step="verifikasi")
    c[10] = add_complaint(session, 10, wib(12, 1, 9), "ktp-el", "identitas", "registered", step="telaah")
    c[11] = add_complaint(session, 11, wib(11, 1), "ikd", "identitas", "closed", closed=wib(11, 2, 10))  # first instant
    c[12] = add_complaint(session, 12, wib(10, 31, 23, 59), "ktp-el", "identitas", "closed",
                          closed=wib(10, 31, 23, 59, 59))  # just before the month, closed before it too

    # telaah (120 min): 30 45 60 90 150
    add_visit(session, c[11], "telaah", "identitas", wib(11, 1), 120, minutes=30)  # the month's first instant
    add_visit(session, c[1], "telaah", "identitas", wib(11, 2, 9), 120, minutes=45)
    add_visit(session, c[2], "telaah", "identitas", wib(11, 5, 10), 120, minutes=60)
    add_visit(session, c[3], "telaah", "pindah", wib(11, 10, 9), 120, minutes=90)
    add_visit(session, c[4], "telaah", "capil", wib(11, 12, 9), 120, minutes=150)
    # verifikasi (180 min): 100 200 170 180
    add_visit(session, c[1], "verifikasi", "identitas", wib(11, 2, 11), 180, minutes=100, role="analis")
    add_visit(session, c[2], "verifikasi", "identitas", wib(11, 6, 9), 180, minutes=200, role="analis")
    add_visit(session, c[3], "verifikasi", "pindah", wib(11, 11, 9), 180, minutes=170, role="analis")
    add_visit(session, c[4], "verifikasi", "capil", wib(11, 13, 9), 180, minutes=180, role="analis")
    # kirim-jawaban (60 min): 5 5 10 10 10 20 30 40 60, and complaint 9's 1080
    for i, (complaint, section, minutes) in enumerate([(1, "identitas", 5), (2, "identitas", 5), (3, "pindah", 10),
                                                       (4, "capil", 10), (11, "identitas", 10), (1, "identitas", 20),
                                                       (2, "identitas", 30), (3, "pindah", 40), (4, "capil", 60)]):
        add_visit(session, c[complaint], "kirim-jawaban", section, wib(11, 16 + i % 5, 9), 60, minutes=minutes)
    # Mon 30 Nov 09:00, due 10:00, done Wed 2 Dec 10:00: 420 + 510 + 150 working minutes
    add_visit(session, c[9], "kirim-jawaban", "pindah", wib(11, 30, 9), 60, minutes=1080, ended=wib(12, 2, 10))
    # persetujuan (60 min): 20 70
    add_visit(session, c[6], "persetujuan", "pindah", wib(11, 27, 10), 60, minutes=20, role="analis")
    add_visit(session, c[5], "persetujuan", "identitas", wib(11, 23, 9), 60, minutes=70, role="analis")
    # running at the end of the month (and now): complaint 5 overdue since Thu 26 Nov 12:00; 7 due Tue 1 Dec 08:30
    add_visit(session, c[5], "verifikasi", "identitas", wib(11, 26, 9), 180, due=wib(11, 26, 12), role="analis")
    add_visit(session, c[7], "telaah", "identitas", wib(11, 30, 15), 120, due=wib(12, 1, 8, 30))
    # not of the month: started the evening before, started in December
    add_visit(session, c[8], "kirim-jawaban", "identitas", wib(10, 31, 23), 60, minutes=5, ended=wib(11, 4, 9))
    add_visit(session, c[10], "telaah", "identitas", wib(12, 1, 9), 120)
    add_visit(session, c[9], "verifikasi", "pindah", wib(12, 2, 10), 180, role="analis")

    for at in (wib(11, 3, 8), wib(11, 15, 20), wib(11, 30, 23, 59, 59)):
        add_hop(session, "rejected", at)
    for at in (wib(11, 10, 12), wib(11, 20, 1)):
        add_hop(session, "ignored", at)
    add_hop(session, "rejected", wib(10, 31, 23, 59, 59))
    add_hop(session, "ignored", wib(12, 1))  # the next month's first instant
    for day in range(1, 6):
        add_hop(session, "received", wib(11, day, 9))


@pytest.fixture
def rules():
    return load_rules(RULES)


@pytest.fixture
def november(db_url):
    """The fixture month in a fresh database (SQLite, or a PostgreSQL schema); yields the session factory."""
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as session:
        fill_november(session)
    yield factory
    engine.dispose()


def report_of(factory, rules, now=GENERATED, month=NOVEMBER, limit=100):
    with factory() as session:
        data = load_month(session, month, WIB, now=now, limit=limit)
    return build_report(data, rules, office="Disdukcapil Kota Palangka Raya")


# ------------------------------------------------------------------ the figures, computed by hand
def test_complaints_received_by_category_channel_and_current_status(november, rules):
    r = report_of(november, rules)
    assert (r.received, r.closed) == (8, 5)  # received: 1-7 and 11; closed in November: 1, 2, 4, 8, 11
    assert [(t.key, t.name, t.count) for t in r.by_category] == [
        ("ktp-el", "KTP-el", 4), ("kk", "Kartu Keluarga", 2), ("akta-kelahiran", "Akta Kelahiran", 1),
        ("ikd", "IKD", 1)]
    assert [(t.key, t.name, t.count) for t in r.by_channel] == [("email", "Surel", 7), ("whatsapp", "WhatsApp", 1)]
    assert [(t.key, t.name, t.count) for t in r.by_status] == [
        ("registered", "terdaftar", 1), ("in_progress", "diproses", 1), ("waiting_citizen", "menunggu pelapor", 1),
        ("closed", "selesai", 5)]


def test_per_step_count_median_p90_and_share_within_standard(november, rules):
    r = report_of(november, rules)
    got = {s.key: (s.count, s.median, s.p90, s.within, s.running, s.standard_minutes) for s in r.steps}
    assert [s.key for s in r.steps] == ["telaah", "verifikasi", "kirim-jawaban", "persetujuan"]
    # telaah: sorted 30 45 60 90 150; median = rank ceil(2.5) = 3rd; p90 = rank ceil(4.5) = 5th
    assert got["telaah"] == (5, 60, 150, 4, 1, 120)
    # verifikasi: sorted 100 170 180 200; median = rank 2; p90 = rank ceil(3.6) = 4th; 180 is within
    assert got["verifikasi"] == (4, 170, 200, 3, 1, 180)
    # kirim-jawaban: sorted 5 5 10 10 10 20 30 40 60 1080; median = rank 5; p90 = rank 9
    assert got["kirim-jawaban"] == (10, 10, 60, 9, 0, 60)
    # persetujuan: 20 70; median = rank 1; p90 = rank ceil(1.8) = 2nd
    assert got["persetujuan"] == (2, 20, 70, 1, 0, 60)
    step = {s.key: s for s in r.steps}
    assert step["telaah"].share == 0.8 and step["verifikasi"].share == 0.75
    assert step["telaah"].holder == "Petugas Pengaduan" and step["verifikasi"].holder == "Sesuai seksi aduan"
    assert step["persetujuan"].name == "Persetujuan jawaban" and step["telaah"].standard == "120 menit"


def test_compliance_overall_and_per_section(november, rules):
    r = report_of(november, rules)
    assert (r.compliance.count, r.compliance.within) == (21, 17)
    assert r.compliance.share == pytest.approx(17 / 21)
    assert [(c.key, c.count, c.within) for c in r.compliance_by_section] == [
        ("identitas", 11, 9), ("pindah", 6, 5), ("capil", 4, 3)]  # in the rules' [sections] order
    assert r.compliance_by_section[2].name == "Analis Kebijakan / Bidang Pelayanan Pencatatan Sipil"
    # identitas and pindah share their analyst's name in the rules: the key tells them apart
    assert r.compliance_by_section[0].name == "Analis Kebijakan / Bidang Pelayanan Pendaftaran Penduduk (identitas)"


def test_rejected_and_ignored_mail_of_the_month_only(november, rules):
    r = report_of(november, rules)
    assert (r.rejected, r.ignored) == (3, 2)


def test_open_and_overdue_at_the_end_of_a_past_month(november, rules):
    r = report_of(november, rules)
    assert r.as_of == MONTH_END and r.as_of_month_end
    assert r.open_total == 5
    assert [(o.number, o.received_at, o.category_name, o.status, o.step_name, o.closed_at) for o in r.open_items] == [
        ("ADU/2026/000009", wib(10, 15, 9), "Kartu Keluarga", "diproses", rules.step("verifikasi").name, None),
        ("ADU/2026/000003", wib(11, 10, 9), "Kartu Keluarga", "selesai", "-", wib(12, 2, 10)),
        ("ADU/2026/000005", wib(11, 20, 9), "KTP-el", "diproses", rules.step("verifikasi").name, None),
        ("ADU/2026/000006", wib(11, 27, 9), "Kartu Keluarga", "menunggu pelapor", rules.step("telaah").name, None),
        ("ADU/2026/000007", wib(11, 30, 15), "KTP-el", "terdaftar", rules.step("telaah").name, None),
    ]
    assert r.overdue_total == 2
    # 5: Thu 26 Nov 12:00-16:00 (240) + Fri 07:30-16:30 (540) + Mon 30 07:30-16:00 (510) = 1290
    # 9: Mon 30 Nov 10:00-16:00 = 360; it was done on 2 December. 7 (due 1 Dec 08:30) was not late yet.
    assert [(v.number, v.step_name, v.holder, v.due_at, v.late_minutes, v.done_at) for v in r.overdue_items] == [
        ("ADU/2026/000005", rules.step("verifikasi").name, "Analis Kebijakan / Bidang Teknis", wib(11, 26, 12), 1290, None),
        ("ADU/2026/000009", rules.step("kirim-jawaban").name, "Petugas Pengaduan", wib(11, 30, 10), 360, wib(12, 2, 10)),
    ]


def test_in_the_current_month_the_lists_are_as_of_now(november, rules):
    now = wib(11, 30, 15, 30)
    r = report_of(november, rules, now=now)
    assert r.as_of == now and not r.as_of_month_end and r.generated_at == now
    assert [o.number for o in r.open_items] == ["ADU/2026/000009", "ADU/2026/000003", "ADU/2026/000005",
                                                "ADU/2026/000006", "ADU/2026/000007"]
    # 5: 240 + 540 + Mon 07:30-15:30 (480) = 1260; 9: Mon 10:00-15:30 = 330
    assert [(v.number, v.late_minutes) for v in r.overdue_items] == [("ADU/2026/000005", 1260), ("ADU/2026/000009", 330)]


def test_lists_are_cut_to_the_limit_and_the_totals_still_count_all(november, rules):
    r = report_of(november, rules, limit=2)
    assert (r.open_total, [o.number for o in r.open_items]) == (5, ["ADU/2026/000009", "ADU/2026/000003"])
    assert (r.overdue_total, [v.number for v in r.overdue_items]) == (2, ["ADU/2026/000005", "ADU/2026/000009"])
    assert report_of(november, rules, limit=1).overdue_items[0].number == "ADU/2026/000005"


def test_a_month_without_complaints_has_empty_figures(november, rules):
    r = report_of(november, rules, month=Month(2026, 9))
    assert (r.received, r.closed, r.rejected, r.ignored, r.open_total, r.overdue_total) == (0, 0, 0, 0, 0, 0)
    assert all(s.count == 0 and s.median is None and s.share is None for s in r.steps)
    assert r.compliance.share is None and r.compliance_by_section == ()


def test_a_month_that_has_not_begun_is_refused(november, rules):
    with pytest.raises(MonthNotBegun, match="2027-01 has not begun"):
        report_of(november, rules, month=Month(2027, 1))


# ------------------------------------------------------------------ the pure core
@pytest.mark.parametrize(("values", "percent", "expected"), [
    ([7], 50, 7), ([7], 90, 7),
    ([1, 2], 50, 1), ([1, 2], 90, 2),  # even N: the lower middle value
    ([3, 1, 2], 50, 2),
    ([15, 20, 35, 40, 50], 50, 35), ([15, 20, 35, 40, 50], 90, 50),  # the textbook nearest-rank example
    (list(range(1, 11)), 90, 9), (list(range(1, 11)), 91, 10), (list(range(1, 101)), 90, 90),
    ([5, 5, 5, 100], 50, 5), ([5, 5, 5, 100], 75, 5), ([5, 5, 5, 100], 76, 100),
])
def test_nearest_rank(values, percent, expected):
    histogram = {}
    for v in values:
        histogram[v] = histogram.get(v, 0) + 1
    assert nearest_rank(histogram.items(), percent) == expected


def test_nearest_rank_of_nothing_is_none_and_the_percent_is_checked():
    assert nearest_rank([], 50) is None and nearest_rank([(3, 0)], 90) is None
    with pytest.raises(ValueError):
        nearest_rank([(1, 1)], 0)


def test_months():
    assert Month.parse("2026-11") == NOVEMBER and NOVEMBER.key == "2026-11" and NOVEMBER.label == "November 2026"
    assert Month(2026, 1).previous() == Month(2025, 12) and Month(2026, 12).following() == Month(2027, 1)
    start, end = NOVEMBER.bounds(WIB)
    assert (start, end) == (wib(11, 1), wib(12, 1))
    assert start.astimezone(ZoneInfo("UTC")).isoformat() == "2026-10-31T17:00:00+00:00"
    wita_start, _ = NOVEMBER.bounds(ZoneInfo("Asia/Makassar"))
    assert (start - wita_start) == timedelta(hours=1)
    for bad in ("2026-13", "2026-1", "26-11", "November", "2026-00"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(bad)


def test_the_report_is_due_from_the_opening_of_the_first_working_day(rules):
    cal = rules.calendar
    assert first_working_day(Month(2026, 12), cal) == wib(12, 1).date()  # a Tuesday
    assert first_working_day(Month(2027, 1), cal).isoformat() == "2027-01-04"  # 1 Jan holiday, then a weekend
    assert due_month(wib(12, 1, 7, 29), cal) is None
    assert due_month(wib(12, 1, 7, 30), cal) == NOVEMBER
    assert due_month(wib(12, 31, 23), cal) == NOVEMBER
    jan = ZoneInfo("Asia/Jakarta")
    assert due_month(datetime(2027, 1, 2, 10, tzinfo=jan), cal) is None
    assert due_month(datetime(2027, 1, 4, 7, 30, tzinfo=jan), cal) == Month(2026, 12)


# ------------------------------------------------------------------ the formats
@pytest.fixture
def pages() -> PageRenderer:
    return PageRenderer([REPO / "templates"])


@pytest.fixture
def figures(november, rules):
    return report_of(november, rules)


def test_text_report_in_bahasa_indonesia(figures):
    out = formats.to_text(figures)
    lines = out.splitlines()
    assert lines[0] == "LAPORAN BULANAN PENGADUAN: NOVEMBER 2026"
    assert "Periode      : 1–30 November 2026 (WIB)" in lines
    assert "Aduan terdaftar dalam bulan ini : 8" in lines and "Aduan selesai dalam bulan ini   : 5" in lines
    assert "    Selesai        : 5 kali; median 1 jam, P90 2 jam 30 menit" in lines
    assert "    Sesuai baku    : 4 dari 5 (80,0%)" in lines
    assert "Keseluruhan: 81,0% (17 dari 21 tahap selesai tepat waktu)" in lines
    assert "Ditolak karena format aduan tidak sesuai       : 3" in lines
    assert "6. Aduan belum selesai per akhir bulan (Selasa, 1 Desember 2026 00.00 WIB): 5" in lines
    assert "Definisi setiap angka: docs/REPORT.md (dokumentasi mailflow)." in lines  # the method is in the docs
    assert "nearest-rank" not in out
    [row] = [line for line in lines if line.startswith("  ADU/2026/000005") and "jam" in line]
    assert "21 jam 30 menit" in row and "belum selesai" in row
    assert all(line == line.rstrip() for line in lines)


def test_html_report_is_one_self_contained_printable_page(figures, pages, tmp_path):
    page = formats.to_html(figures, pages)
    path = tmp_path / "laporan.html"
    path.write_text(page, encoding="utf-8")  # open it in a browser to look at it
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.attrs += attrs

    parsed = Tags()
    parsed.feed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert not [a for a in parsed.attrs if a[0] in ("src", "href") or (a[0].startswith("on"))]
    assert "url(" not in page and "@import" not in page
    assert parsed.tags.count("svg") == 2  # bars per category, and per step against its standard
    assert parsed.tags.count("line") == 4  # the standard's marker of each step with visits
    assert "@page" in page and "@media print" in page
    assert "<h1>Laporan Bulanan Pengaduan: November 2026</h1>" in page
    assert "81,0%" in page and "21 jam 30 menit" in page and "ADU/2026/000009" in page
    # one bar per category, the widest for the largest
    widths = _bar_widths(page, "Aduan menurut jenis layanan")
    assert len(widths) == 4 and widths[0] == formats.CHART_SPAN and widths[0] > widths[1] > widths[2] == widths[3]


def _bar_widths(page: str, label: str) -> list[int]:
    """The widths of the bars of the chart labelled ``label``, top to bottom."""
    svg = page[page.index(f'aria-label="{label}"'):]
    svg = svg[:svg.index("</svg>")]
    return [int(w) for w in re.findall(r'<rect class="bar" [^>]*width="(\d+)"', svg)]


def test_csv_report_parses_back_as_one_table(figures):
    data = formats.to_csv(figures)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for spreadsheets
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["section", "key", "name", "metric", "value"]
    assert all(len(r) == 5 for r in rows)
    value = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    assert value[("received", "all", "count")] == "8" and value[("closed", "all", "count")] == "5"
    assert value[("category", "ktp-el", "count")] == "4" and value[("channel", "whatsapp", "count")] == "1"
    assert value[("status", "closed", "count")] == "5"
    assert (value[("step", "verifikasi", "median_minutes")], value[("step", "verifikasi", "p90_minutes")]) == ("170", "200")
    assert value[("step", "verifikasi", "percent_within_standard")] == "75.0"
    assert value[("compliance", "all", "percent_within_standard")] == "81.0"
    assert value[("compliance_section", "pindah", "visits")] == "6"
    assert (value[("mail", "rejected", "count")], value[("mail", "ignored", "count")]) == ("3", "2")
    assert value[("open", "all", "count")] == "5"
    assert value[("open_complaint", "ADU/2026/000003", "closed_at")] == "2026-12-02T10:00:00+07:00"
    assert value[("overdue_complaint", "ADU/2026/000005", "late_minutes")] == "1290"
    assert value[("report", "2026-11", "as_of")] == "2026-12-01T00:00:00+07:00"


def test_json_report_parses_back(figures):
    out = json.loads(formats.to_json(figures))
    assert (out["month"], out["as_of"], out["as_of_month_end"]) == ("2026-11", "2026-12-01T00:00:00+07:00", True)
    assert out["received"]["total"] == 8 and out["received"]["by_channel"][0] == {"key": "email", "name": "Surel", "count": 7}
    step = {s["key"]: s for s in out["steps"]}
    assert (step["kirim-jawaban"]["median_minutes"], step["kirim-jawaban"]["p90_minutes"]) == (10, 60)
    assert step["kirim-jawaban"]["share_within_standard"] == 0.9
    assert out["compliance"]["overall"]["share_within_standard"] == round(17 / 21, 4)
    assert out["mail"] == {"rejected": 3, "ignored": 2}
    assert [i["number"] for i in out["overdue"]["items"]] == ["ADU/2026/000005", "ADU/2026/000009"]
    assert out["overdue"]["items"][1]["done_at"] == "2026-12-02T10:00:00+07:00"
    assert out["definitions"]["percentile"] == "nearest-rank"


def test_no_format_shows_a_nik_or_kk_and_html_escapes_what_it_shows(db_url, rules, pages):
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    hostile = f"<script>alert(1)</script> KTP {NIK} KK {KK}"
    with factory.begin() as session:
        # A category the rules no longer have: its stored name (free text) is what the lists show.
        c = add_complaint(session, 1, wib(11, 20, 9), "kategori-lama", "identitas", "in_progress", step="telaah",
                          category_name=hostile, name=f"Warga {NIK}", nik=NIK, kk=KK, address=f"RT {KK}",
                          description=f"NIK saya {NIK}, KK {KK}")
        add_visit(session, c, "telaah", "identitas", wib(11, 20, 9), 120, due=wib(11, 20, 11))
        session.add(Hop(kind="rejected", at=wib(11, 21, 9), actor=f"{NIK}@warga.test", reason=f"NIK {NIK}"))
    with factory() as session:
        report = build_report(load_month(session, NOVEMBER, WIB, now=GENERATED), rules, office="Disdukcapil")
    engine.dispose()
    masked_nik, masked_kk = "340201******0001", "340201******0004"
    outputs = {fmt: formats.render(report, fmt, pages).decode("utf-8-sig") for fmt in formats.FORMATS}
    outputs["mail"] = Renderer([REPO / "templates"]).render(
        "staff/monthly-report", **mail_context(report)).body
    for fmt, out in outputs.items():
        assert NIK not in out and KK not in out, fmt
    for fmt in formats.FORMATS:
        assert masked_nik in outputs[fmt] and masked_kk in outputs[fmt], fmt  # the lists show the masked name
    assert "<script>" not in outputs["html"] and "&lt;script&gt;alert(1)&lt;/script&gt;" in outputs["html"]


# ------------------------------------------------------------------ the mail template
OFFICE = type("Office", (), dict(name="Dinas Kependudukan dan Pencatatan Sipil Kota Palangka Raya",
                                 complaint_address="aduan@dukcapil.test", timezone="Asia/Jakarta", website=""))


def mail_context(report, **over) -> dict:
    from types import SimpleNamespace as NS

    ctx = dict(office=OFFICE, now=GENERATED, report=report, period=formats.period(report),
               as_of=formats.as_of_words(report), headline=formats.headline_rows(report),
               previous_label=formats.previous_label(report),
               ikm=formats.ikm_words(report.satisfaction.overall if report.satisfaction else None),
               recipients=NS(names=["Kepala Bidang Pemanfaatan Data dan Inovasi Pelayanan", "Kepala Dinas"]),
               attachments=[NS(filename="laporan-pengaduan-2026-11.html", mime_type="text/html"),
                            NS(filename="laporan-pengaduan-2026-11.csv", mime_type="text/csv")], again=False)
    ctx.update(over)
    return ctx


def test_the_report_mail_is_a_short_summary(figures):
    out = Renderer([REPO / "templates"]).render("staff/monthly-report", **mail_context(figures))
    assert out.subject == "Laporan bulanan pengaduan November 2026"
    lines = out.body.splitlines()
    assert lines[0] == "Yth. Kepala Bidang Pemanfaatan Data dan Inovasi Pelayanan, Kepala Dinas,"
    [received] = [line for line in lines if line.startswith("Aduan diterima ")]
    assert received.split() == ["Aduan", "diterima", "8", "-"]  # November beside October (no data here)
    assert any(line.startswith("Tahap selesai sesuai baku waktu") and line.split()[-5:] == ["81,0%", "(17", "dari", "21)", "-"]
               for line in lines)
    assert any(line.startswith("Melewati batas waktu (akhir bulan)") and line.split()[-2:] == ["2", "-"]
               for line in lines)
    assert "Jenis layanan terbanyak: KTP-el (4), Kartu Keluarga (2), Akta Kelahiran (1)." in lines
    assert any(line.startswith("- laporan-pengaduan-2026-11.html: ") for line in lines)
    assert out.body.endswith("\n") and "\n\n\n" not in out.body and all(x == x.rstrip() or x == "-- " for x in lines)
    again = Renderer([REPO / "templates"]).render("staff/monthly-report", **mail_context(figures, again=True))
    assert again.subject == "Laporan bulanan pengaduan November 2026 (dikirim ulang)"


@pytest.mark.parametrize("var", ["office", "report", "period", "as_of", "recipients", "attachments", "again"])
def test_the_report_mail_names_a_missing_variable(figures, var):
    ctx = mail_context(figures)
    del ctx[var]
    with pytest.raises(TemplateError, match=rf"staff/monthly-report.*'{var}'"):
        Renderer([REPO / "templates"]).render("staff/monthly-report", **ctx)


# ------------------------------------------------------------------ the queries read their indexes
@pytest.mark.parametrize("office", [None, "default"])  # a roll-up of the database; one office's report
def test_every_report_query_reads_an_index_range_on_sqlite(tmp_path, rules, office):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    db.upgrade(engine)
    factory = db.session_factory(engine)
    with factory.begin() as session:
        fill_november(session)
    statements = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with factory() as session:
        load_month(session, NOVEMBER, WIB, now=GENERATED, office=office)
    event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 17  # 14, the survey's 2 (surveys sent, ratings), the waits for the citizen
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            plans.append(plan)
            # a join reads complaints by primary key; nothing reads a whole table
            assert "SCAN complaints" not in plan and "SCAN step_visits" not in plan and "SCAN hops" not in plan, plan
            # a range on created_at alone reads every complaint received before the moment
            assert "(created_at<?)" not in plan, plan
            # nor the office's whole register through its unique index (office=?)
            assert "complaints_2 (office=?)" not in plan and "complaints_1 (office=?)" not in plan, plan
    engine.dispose()
    joined = "\n".join(plans)
    for index in ("COVERING INDEX ix_complaints_month_counts", "COVERING INDEX ix_step_visits_month",
                  "COVERING INDEX ix_hops_kind_at", "COVERING INDEX ix_complaints_closings",
                  # the open ones (with the office, read from their rows)
                  "INDEX ix_complaints_status_created_at (status=? AND created_at<?)",
                  "INDEX ix_complaints_closings (closed_at>?)",
                  "ix_step_visits_open_due"):
        assert index in joined, (index, joined)


# ------------------------------------------------------------------ mailing it once
@pytest.fixture
def office_app(db_url, tmp_path):
    """The Palangka Raya desk's parts on the test database (no mail server needed to queue mail)."""
    def make(rules: str = "palangkaraya-online.toml", clock=lambda: GENERATED):
        where = tmp_path / f"app-{len(apps)}"
        where.mkdir()
        settings = load_settings(write_config(where, db_url=db_url, rules=rules), env=TEST_ENV)
        engine = db.make_engine(settings.database_url)
        db.upgrade(engine)
        engine.dispose()
        app = build(settings, clock=clock)
        apps.append(app)
        return app

    apps = []
    yield make
    for app in apps:
        app.close()


def outbox_reports(app) -> list[OutboxItem]:
    with app.factory() as s:
        return list(s.scalars(select(OutboxItem).where(OutboxItem.kind == "staff/monthly-report").order_by(OutboxItem.id)))


def test_send_queues_one_mail_to_the_report_roles_and_records_the_month(office_app):
    app = office_app()
    result = app.monthly_report.send(NOVEMBER)
    assert (result.sent, result.recipients) == (True, ("kabid@dukcapil.test", "kadis@dukcapil.test"))
    [item] = outbox_reports(app)
    assert item.recipients == "kabid@dukcapil.test,kadis@dukcapil.test" and item.complaint_id is None
    with app.factory() as s:
        assert s.get(ReportRun, ("default", "2026-11")).sent_at == GENERATED
    with pytest.raises(AlreadySent, match="already sent on Rabu, 2 Desember 2026 12.00 WIB; add --force"):
        app.monthly_report.send(NOVEMBER)
    assert len(outbox_reports(app)) == 1
    later = GENERATED + timedelta(hours=1)
    assert app.monthly_report.send(NOVEMBER, now=later, force=True).sent
    assert len(outbox_reports(app)) == 2
    with app.factory() as s:
        assert s.get(ReportRun, ("default", "2026-11")).sent_at == later


def test_an_unfinished_month_is_not_mailed(office_app):
    app = office_app()
    with pytest.raises(MonthNotEnded, match="2026-12 has not ended yet"):
        app.monthly_report.send(Month(2026, 12))
    assert outbox_reports(app) == []


def rules_without_report(folder) -> str:
    """Bantul's rules with an empty ``report_to`` (the shipped files all name the report's roles)."""
    folder.mkdir(exist_ok=True)
    text = (REPO / "rules" / "bantul-email.toml").read_text("utf-8")
    assert 'report_to = ["kabid", "kadis"]' in text
    (folder / "no-report.toml").write_text(text.replace('report_to = ["kabid", "kadis"]', "report_to = []"), "utf-8")
    (folder / "complaint-format.toml").write_text((REPO / "rules" / "complaint-format.toml").read_text("utf-8"), "utf-8")
    return str(folder / "no-report.toml")


def test_no_report_roles_sends_nothing_and_says_so(office_app, caplog, tmp_path):
    app = office_app(rules=rules_without_report(tmp_path / "rules"), clock=lambda: wib(12, 1, 9))
    with pytest.raises(NoRecipients, match=r"no-report.toml: key 'deadlines.report_to' is empty"):
        app.monthly_report.send(NOVEMBER)
    with caplog.at_level(logging.INFO, logger="mailflow.report"):
        first, second = app.monthly_report.run_once(), app.monthly_report.run_once()
    assert (first.skipped, second.skipped) == ("no recipients", "no recipients") and not first
    assert len([r for r in caplog.records if "report_to" in r.getMessage()]) == 1  # once a month, not every pass
    assert outbox_reports(app) == []
    with app.factory() as s:
        assert s.scalars(select(ReportRun)).all() == []


def test_a_second_process_sending_the_same_month_at_once_does_not_mail_it_again(office_app, db_url):
    """Process A has inserted the month's record and not committed yet; process B's
    send waits for it and then gives up (PostgreSQL: on the primary key; SQLite:
    on the write lock), so the month is mailed once."""
    app = office_app()
    engine = db.make_engine(db_url)
    outcome = {}
    conn = engine.connect()
    try:
        conn.begin()  # on SQLite, make_engine begins with BEGIN IMMEDIATE: the write lock
        with Session(bind=conn) as first:
            first.add(ReportRun(month="2026-11", sent_at=GENERATED))
            first.flush()

        def other():
            try:
                outcome["result"] = app.monthly_report.send(NOVEMBER)
            except AlreadySent as exc:
                outcome["refused"] = str(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(1.5)
        assert thread.is_alive()  # B waits for A
        conn.commit()
        thread.join(30)
    finally:
        conn.close()
        engine.dispose()
    assert "result" not in outcome and "already sent" in outcome["refused"]
    assert outbox_reports(app) == []


def test_the_daemon_pass_skips_a_month_that_ended_before_mailflow_handled_any_mail(office_app):
    app = office_app(clock=Clock(wib(12, 1, 9)))
    assert app.monthly_report.run_once().skipped == "mailflow was not in use yet"  # a fresh install
    with app.factory.begin() as s:
        add_hop(s, "received", wib(12, 1, 8, 59))  # the first mail came in December
    assert app.monthly_report.run_once().skipped == "mailflow was not in use yet"
    assert outbox_reports(app) == []


def test_the_daemon_pass_mails_a_due_month_once(office_app):
    clock = Clock(wib(12, 1, 7))
    app = office_app(clock=clock)
    with app.factory.begin() as s:
        add_hop(s, "received", wib(11, 30, 16))
    assert app.monthly_report.run_once().month is None  # not due before the office opens
    clock.now = wib(12, 1, 9)
    first = app.monthly_report.run_once()
    assert (first.sent, first.month, bool(first)) == (True, "2026-11", True)
    assert app.monthly_report.run_once().skipped == "already sent"
    clock.now = wib(12, 2, 9)
    assert app.monthly_report.run_once().skipped == "already sent"
    assert len(outbox_reports(app)) == 1


# ------------------------------------------------------------------ the command line
# As a user runs it (a subprocess) where "now" does not matter; in this process
# on a fake clock (support.mailflow_at) where it does: the fixture month is
# November 2026, and a subprocess would report it as of the real clock.
def mailflow(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLOW_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "mailflow", *args], capture_output=True, env=env, cwd=cwd,
                          timeout=60)


@pytest.fixture
def office_config(tmp_path):
    """A Palangka Raya mailflow.toml on an SQLite database holding the fixture month."""
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", rules="palangkaraya-online.toml")
    engine = db.make_engine(load_settings(path, env=TEST_ENV).database_url)
    db.upgrade(engine)
    with db.session_factory(engine).begin() as session:
        fill_november(session)
    engine.dispose()
    return str(path)


def at(now: datetime):
    """``mailflow ...`` in this process with ``now`` as its clock."""
    return lambda *args: mailflow_at(lambda: now, *args)


def test_report_prints_text_by_default_and_writes_each_format_to_a_file(office_config, tmp_path):
    mailflow = at(GENERATED)
    text = mailflow("report", "--month", "2026-11", "--config", office_config)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert out.startswith("LAPORAN BULANAN PENGADUAN: NOVEMBER 2026\n") and "Aduan terdaftar dalam bulan ini : 8" in out
    for fmt, name in (("html", "laporan.html"), ("csv", "laporan.csv"), ("json", "laporan.json")):
        r = mailflow("report", "-m", "2026-11", "--format", fmt, "--output", str(tmp_path / name), "--config", office_config)
        assert r.returncode == 0 and f"wrote {tmp_path / name} ({fmt}," in r.stdout, r.stderr
    assert (tmp_path / "laporan.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    rows = list(csv.reader(io.StringIO((tmp_path / "laporan.csv").read_text("utf-8-sig"), newline="")))
    assert ["received", "all", "Aduan diterima", "count", "8"] in rows
    assert json.loads((tmp_path / "laporan.json").read_text("utf-8"))["overdue"]["total"] == 2
    printed = mailflow("report", "-m", "2026-11", "-f", "json", "--limit", "1", "--config", office_config)
    got = json.loads(printed.stdout)
    assert (got["open"]["total"], len(got["open"]["items"]), got["open"]["limit"]) == (5, 1, 1)


def test_report_defaults_to_the_previous_month_in_office_time(office_config):
    now = wib(12, 1, 0, 30)  # in UTC still 30 November: the previous month there would be October
    r = at(now)("report", "--format", "json", "--config", office_config)
    assert r.returncode == 0, r.stderr
    today = now.astimezone(WIB).date()
    last_day_of_previous = today.replace(day=1) - timedelta(days=1)
    assert json.loads(r.stdout)["month"] == last_day_of_previous.strftime("%Y-%m") == "2026-11"


@pytest.mark.parametrize(("args", "message"), [
    (("--month", "2026-13"), "--month: expected a month as YYYY-MM"),
    (("--month", "2026-11", "--format", "pdf"), "--format must be one of text, html, csv, json"),
    (("--month", "2026-11", "--force"), "--force only goes with --send"),
    (("--month", "2999-01"), "2999-01 has not begun yet"),
    (("--month", "2999-01", "--send"), "2999-01 has not ended yet"),
])
def test_report_errors_are_one_line_naming_the_fix(office_config, args, message):
    r = at(GENERATED)("report", *args, "--config", office_config)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_report_send_without_report_roles_says_so_and_sends_nothing(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", rules=rules_without_report(tmp_path / "rules"))
    assert mailflow("db", "upgrade", "--config", str(path)).returncode == 0
    r = at(GENERATED)("report", "--month", "2026-11", "--send", "--config", str(path))
    assert r.returncode == 2 and "key 'deadlines.report_to' is empty" in r.stderr
    assert "queued" not in r.stdout


def test_report_send_queues_once_then_needs_force(office_config):
    mailflow = at(GENERATED)
    first = mailflow("report", "--month", "2026-11", "--send", "--config", office_config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("report for 2026-11 queued in the outbox for kabid@dukcapil.test, "
                                   "kadis@dukcapil.test")
    again = mailflow("report", "--month", "2026-11", "--send", "--config", office_config)
    assert again.returncode == 2 and "already sent on" in again.stderr and "--force" in again.stderr
    assert "already sent on Rabu, 2 Desember 2026 12.00 WIB" in again.stderr  # GENERATED, by the office clock
    outbox = mailflow("queue", "--outbox", "--json", "--config", office_config)
    assert [o["kind"] for o in json.loads(outbox.stdout)] == ["staff/monthly-report"]


def test_report_help_names_every_option():
    out = mailflow("report", "--help").stdout.decode()
    for option in ("--month", "--format", "--output", "--send", "--force", "--limit", "--config"):
        assert option in out
    assert "[deadlines]" in out  # not taken for markup by the help formatter
    assert "report" in mailflow("--help").stdout.decode()
