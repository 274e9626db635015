"""The monthly report in four formats: text (a terminal, a mail body), HTML (one
printable self-contained page), CSV (a spreadsheet) and JSON (programs).

Pure: a ``figures.Report`` in, text or bytes out (HTML through the
``render.PageRenderer`` template ``report/monthly.html.j2``). What staff read
is Bahasa Indonesia; the CSV and JSON keys are stable English identifiers.
Every format carries the same figures; none holds a NIK or No. KK (the report
has no personal fields, and free text from the database is masked when read).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mailflow.core.render import MONTHS, PageRenderer, duration, localtime, number, percent, zone_label
from mailflow.core.survey import grade
from mailflow.report.figures import Headline, Report, SatisfactionFigure

FORMATS = ("text", "html", "csv", "json")
HTML_TEMPLATE = "report/monthly"
CSV_COLUMNS = ("section", "key", "name", "metric", "value")
# How the figures are defined is in docs/REPORT.md (the reader of the page does
# not need the method); the page and the text say where.
DEFINITIONS_NOTE = "Definisi setiap angka: docs/REPORT.md (dokumentasi mailflow)."
# The open and overdue complaints shown on the page (HTML, PDF); the CSV holds
# every one the report read, and `mailflow queue` the current list.
PAGE_ROWS = 10


def filename(report: Report, fmt: str) -> str:
    """``laporan-pengaduan-2026-11.html`` etc."""
    extension = {"text": "txt"}.get(fmt, fmt)
    return f"laporan-pengaduan-{report.month.key}.{extension}"


# ---------------------------------------------------------------------- shared wording
def _zone(report: Report) -> ZoneInfo:
    return ZoneInfo(report.timezone)


def iso(moment: datetime | None, report: Report) -> str | None:
    """ISO 8601 to the second, with the office's UTC offset (``2026-12-01T00:00:00+07:00``)."""
    return moment.astimezone(_zone(report)).isoformat(timespec="seconds") if moment else None


def short_time(moment: datetime | None, report: Report) -> str:
    """``2026-11-23 14.05`` in the office's time zone; ``-`` for none."""
    if moment is None:
        return "-"
    return moment.astimezone(_zone(report)).strftime("%Y-%m-%d %H.%M")


def period(report: Report) -> str:
    """``1–30 November 2026``."""
    last = (report.end.astimezone(_zone(report)) - timedelta(days=1)).day
    return f"1–{last} {report.month.label}"


def as_of_words(report: Report) -> str:
    """Which moment the open and overdue lists describe, in words."""
    when = localtime(report.as_of, report.timezone)
    return f"akhir bulan ({when})" if report.as_of_month_end else f"saat laporan dibuat ({when})"


def minutes(value: int | None) -> str:
    return "-" if value is None else duration(value)


def standard_words(standard: str) -> str:
    """``baku 30 menit``, ``baku 1 hari kerja``; ``-`` for none (a step the rules no longer have)."""
    return "-" if standard in ("", "-") else f"baku {standard}"


def decimal(value: float | None) -> str:
    """``91,67``; ``-`` for none."""
    return "-" if value is None else f"{value:.2f}".replace(".", ",")


def ikm_words(figure: SatisfactionFigure | None) -> str:
    """``91,67 (A, Sangat Baik; 12 responden)``, or ``- (belum ada penilaian)``."""
    if figure is None or figure.ikm is None:
        return "- (belum ada penilaian)"
    return f"{decimal(figure.ikm)} ({figure.grade}, {figure.grade_words}; {number(figure.responses)} responden)"


@dataclass(frozen=True)
class HeadlineRow:
    """One headline figure: this month beside the previous one."""

    key: str
    label: str
    now: str
    before: str


def headline_rows(report: Report) -> list[HeadlineRow]:
    """Every headline figure of ``report`` with the previous month's beside it."""
    b: Headline | None = report.previous
    sat = report.satisfaction
    overall = sat.overall if sat else None

    def share(within: int, count: int) -> str:
        return f"{percent(within / count if count else None)} ({number(within)} dari {number(count)})"

    def ikm_now() -> str:
        if overall is None or overall.ikm is None:
            return "-"
        return f"{decimal(overall.ikm)} ({overall.grade})"

    def ikm_then(h: Headline) -> str:
        found = grade(h.ikm)
        return "-" if h.ikm is None or found is None else f"{decimal(h.ikm)} ({found[0]})"

    rows: list[tuple[str, str, str, Callable[[Headline], str]]] = [
        ("received", "Aduan diterima", number(report.received), lambda h: number(h.received)),
        ("closed", "Aduan selesai dalam bulan", number(report.closed), lambda h: number(h.closed)),
        ("within_standard", "Tahap selesai sesuai baku waktu",
         share(report.compliance.within, report.compliance.count), lambda h: share(h.within, h.visits)),
        ("open", "Aduan belum selesai (akhir bulan)", number(report.open_total), lambda h: number(h.open_total)),
        ("overdue", "Melewati batas waktu (akhir bulan)", number(report.overdue_total),
         lambda h: number(h.overdue_total)),
        ("ikm", "Indeks Kepuasan Masyarakat (IKM)", ikm_now(), ikm_then),
        ("responses", "Responden survei kepuasan", number(overall.responses if overall else 0),
         lambda h: number(h.responses)),
        ("rejected", "Surel ditolak (format)", number(report.rejected), lambda h: number(h.rejected)),
        ("ignored", "Surel diabaikan", number(report.ignored), lambda h: number(h.ignored)),
    ]
    return [HeadlineRow(key, label, now, "-" if b is None else then(b)) for key, label, now, then in rows]


def previous_label(report: Report) -> str:
    return report.month.previous().label


# ---------------------------------------------------------------------- text
def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = (), indent: str = "  ") -> list[str]:
    """A plain-text table; columns whose index is in ``right`` are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return (indent + "  ".join(parts)).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _shown(shown: int, total: int) -> list[str]:
    return [f"  (ditampilkan {shown} dari {number(total)}; daftar lengkap: mailflow queue)"] if shown < total else []


def to_text(report: Report) -> str:
    """The report for a terminal or a plain-text mail, Bahasa Indonesia."""
    out = [f"LAPORAN BULANAN PENGADUAN: {report.month.label.upper()}", report.office]
    if report.sop:
        out.append(f"SOP {report.sop}")
    out += [f"Periode      : {period(report)} ({_zone_label(report)})",
            f"Dibuat       : {localtime(report.generated_at, report.timezone)}"]

    out += _heading("Ringkasan")
    out += _table(["Angka", report.month.label, previous_label(report)],
                  [[h.label, h.now, h.before] for h in headline_rows(report)], right=(1, 2))

    out += _heading("1. Aduan diterima")
    out += [f"Aduan terdaftar dalam bulan ini : {number(report.received)}",
            f"Aduan selesai dalam bulan ini   : {number(report.closed)}"]
    if report.merged:
        out.append(f"Duplikat digabung (tidak dihitung): {number(report.merged)}")
    for title, tallies, header in (("Menurut jenis layanan", report.by_category, "Jenis layanan"),
                                   ("Menurut saluran", report.by_channel, "Saluran"),
                                   ("Menurut status saat ini", report.by_status, "Status")):
        out += ["", title]
        if tallies:
            out += _table([header, "Jumlah"], [[t.name, number(t.count)] for t in tallies], right=(1,))
        else:
            out.append("  (tidak ada aduan)")

    out += _heading("2. Waktu per tahap (menit jam kerja)")
    for i, s in enumerate(report.steps, 1):
        out += ["", f"2.{i} {s.name}",
                f"    Pemegang       : {s.holder}",
                f"    Baku waktu     : {s.standard}" + (" (jam kerja)" if s.standard_minutes else "")]
        if s.count:
            out += [f"    Selesai        : {number(s.count)} kali; median {minutes(s.median)}, P90 {minutes(s.p90)}",
                    f"    Sesuai baku    : {number(s.within)} dari {number(s.count)} ({percent(s.share)})"]
        else:
            out.append("    Selesai        : tidak ada dalam bulan ini")
        if s.running:
            out.append(f"    Masih berjalan : {number(s.running)}")
    w = report.waiting
    out += ["", "Menunggu pelapor (di luar waktu kantor: menunggu balasan pelapor atas permintaan keterangan)",
            f"    Selesai        : {number(w.count)} kali; median {minutes(w.median)}, P90 {minutes(w.p90)}"
            if w.count else "    Selesai        : tidak ada dalam bulan ini"]
    if w.running:
        out.append(f"    Masih menunggu : {number(w.running)}")

    out += _heading("3. Kepatuhan baku waktu")
    c = report.compliance
    if c.count:
        out.append(f"Keseluruhan: {percent(c.share)} ({number(c.within)} dari {number(c.count)} tahap selesai tepat waktu)")
    else:
        out.append("Keseluruhan: - (tidak ada tahap yang selesai dalam bulan ini)")
    if report.compliance_by_section:
        out += ["", "Menurut seksi"]
        out += _table(["Seksi", "Tahap", "Tepat waktu", "Persentase"],
                      [[s.name, number(s.count), number(s.within), percent(s.share)] for s in report.compliance_by_section],
                      right=(1, 2, 3))

    out += _heading("4. Survei kepuasan masyarakat (IKM)")
    out += _satisfaction_text(report)

    out += _heading("5. Surel yang tidak didaftarkan")
    out += [f"Ditolak karena format aduan tidak sesuai       : {number(report.rejected)}",
            f"Diabaikan (balasan otomatis, pantulan, duplikat): {number(report.ignored)}"]

    out += _heading(f"6. Aduan belum selesai per {as_of_words(report)}: {number(report.open_total)}")
    if report.open_items:
        out += _table(["Nomor", "Diterima", "Jenis layanan", "Status kini", "Tahap kini"],
                      [[o.number, short_time(o.received_at, report), o.category_name, o.status,
                        o.step_name if o.closed_at is None else f"selesai {short_time(o.closed_at, report)}"]
                       for o in report.open_items])
        out += _shown(len(report.open_items), report.open_total)
    else:
        out.append("  (tidak ada)")

    out += _heading(f"7. Aduan melewati batas waktu per {as_of_words(report)}: {number(report.overdue_total)}")
    if report.overdue_items:
        out += _table(["Nomor", "Tahap", "Pemegang", "Batas waktu", "Terlambat", "Kemudian"],
                      [[v.number, v.step_name, v.holder, short_time(v.due_at, report),
                        duration(v.late_minutes),
                        "belum selesai" if v.done_at is None else f"selesai {short_time(v.done_at, report)}"]
                       for v in report.overdue_items], right=(4,))
        out += _shown(len(report.overdue_items), report.overdue_total)
    else:
        out.append("  (tidak ada)")

    out += ["", DEFINITIONS_NOTE]
    return "\n".join(out) + "\n"


def _satisfaction_text(report: Report) -> list[str]:
    sat = report.satisfaction
    if sat is None:
        return ["(tidak ada data survei)"]
    out = [f"IKM keseluruhan : {ikm_words(sat.overall)}",
           f"Survei dikirim  : {number(sat.asked)} dalam bulan ini"]
    for title, figures, header in (("Menurut jenis layanan", sat.by_category, "Jenis layanan"),
                                   ("Menurut seksi", sat.by_section, "Seksi")):
        if figures:
            out += ["", title]
            out += _table([header, "Responden", "IKM", "Mutu"],
                          [[f.name, number(f.responses), decimal(f.ikm), f"{f.grade} {f.grade_words}".strip()]
                           for f in figures], right=(1, 2))
    return out


def _zone_label(report: Report) -> str:
    return zone_label(_zone(report), report.start)


# ---------------------------------------------------------------------- CSV
def csv_rows(report: Report) -> Iterator[tuple[str, str, str, str, object]]:
    """The report as (section, key, name, metric, value) rows; see docs/REPORT.md."""
    m = report.month
    for metric, value in (("office", report.office), ("sop", report.sop), ("timezone", report.timezone),
                          ("period_start", iso(report.start, report)), ("period_end", iso(report.end, report)),
                          ("as_of", iso(report.as_of, report)),
                          ("as_of_month_end", str(report.as_of_month_end).lower()),
                          ("generated_at", iso(report.generated_at, report))):
        yield "report", m.key, m.label, metric, value
    yield "received", "all", "Aduan diterima", "count", report.received
    yield "closed", "all", "Aduan selesai dalam bulan ini", "count", report.closed
    for section, tallies in (("category", report.by_category), ("channel", report.by_channel),
                             ("status", report.by_status)):
        for t in tallies:
            yield section, t.key, t.name, "count", t.count
    for s in report.steps:
        yield "step", s.key, s.name, "holder", s.holder
        yield "step", s.key, s.name, "standard", s.standard
        yield "step", s.key, s.name, "standard_minutes", _blank(s.standard_minutes)
        yield "step", s.key, s.name, "visits", s.count
        yield "step", s.key, s.name, "median_minutes", _blank(s.median)
        yield "step", s.key, s.name, "p90_minutes", _blank(s.p90)
        yield "step", s.key, s.name, "within_standard", s.within
        yield "step", s.key, s.name, "percent_within_standard", _pct(s.share)
        yield "step", s.key, s.name, "running", s.running
    for section, items in (("compliance", (report.compliance,)), ("compliance_section", report.compliance_by_section)):
        for c in items:
            yield section, c.key, c.name, "visits", c.count
            yield section, c.key, c.name, "within_standard", c.within
            yield section, c.key, c.name, "percent_within_standard", _pct(c.share)
    sat = report.satisfaction
    if sat is not None:
        yield "satisfaction", "all", "Survei dikirim", "asked", sat.asked
        for part, figures in (("satisfaction", (sat.overall,)), ("satisfaction_category", sat.by_category),
                              ("satisfaction_section", sat.by_section)):
            for f in figures:
                yield part, f.key, f.name, "responses", f.responses
                yield part, f.key, f.name, "ikm", "" if f.ikm is None else f.ikm
                yield part, f.key, f.name, "grade", f.grade
    if report.previous is not None:
        b = report.previous
        before: tuple[tuple[str, object], ...] = (
            ("received", b.received), ("closed", b.closed), ("visits", b.visits), ("within_standard", b.within),
            ("percent_within_standard", _pct(b.share)), ("open", b.open_total), ("overdue", b.overdue_total),
            ("rejected", b.rejected), ("ignored", b.ignored), ("ikm", "" if b.ikm is None else b.ikm),
            ("responses", b.responses))
        for metric, figure_then in before:
            yield "previous", b.month.key, b.month.label, metric, figure_then
    w = report.waiting
    waiting: tuple[tuple[str, object], ...] = (
        ("visits", w.count), ("median_minutes", _blank(w.median)), ("p90_minutes", _blank(w.p90)),
        ("total_minutes", w.total), ("running", w.running))
    for metric, figure in waiting:
        yield "waiting", "citizen", "Menunggu pelapor", metric, figure
    yield "merged", "all", "Duplikat digabung", "count", report.merged
    yield "mail", "rejected", "Ditolak karena format aduan tidak sesuai", "count", report.rejected
    yield "mail", "ignored", "Diabaikan (balasan otomatis, pantulan, duplikat)", "count", report.ignored
    yield "open", "all", "Aduan belum selesai", "count", report.open_total
    yield "open", "all", "Aduan belum selesai", "listed", len(report.open_items)
    for o in report.open_items:
        for metric, value in (("received_at", iso(o.received_at, report)),
                              ("category", o.category_name), ("section", o.section_name), ("status", o.status),
                              ("step", o.step_name),
                              ("closed_at", iso(o.closed_at, report) or "")):
            yield "open_complaint", o.number, "", metric, value
    yield "overdue", "all", "Aduan melewati batas waktu", "count", report.overdue_total
    yield "overdue", "all", "Aduan melewati batas waktu", "listed", len(report.overdue_items)
    for v in report.overdue_items:
        overdue: tuple[tuple[str, str | int | None], ...] = (
            ("category", v.category_name), ("section", v.section_name), ("step", v.step_name), ("holder", v.holder),
            ("due_at", iso(v.due_at, report)), ("late_minutes", v.late_minutes),
            ("done_at", iso(v.done_at, report) or ""))
        for metric, figure in overdue:
            yield "overdue_complaint", v.number, "", metric, figure


def _blank(value: int | None) -> object:
    return "" if value is None else value


def _pct(share: float | None) -> object:
    return "" if share is None else round(share * 100, 1)


def to_csv(report: Report) -> bytes:
    """UTF-8 with a byte-order mark (so spreadsheet programs detect the encoding),
    comma-separated, ``.`` as the decimal point, CRLF line ends; one header row
    then one row per figure (columns ``CSV_COLUMNS``)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---------------------------------------------------------------------- JSON
def to_dict(report: Report) -> dict:
    """The report as JSON-ready values: times in ISO 8601 with the office's offset,
    durations in working minutes, shares as fractions 0..1 (``null`` without data)."""
    def when(moment: datetime | None) -> str | None:
        return iso(moment, report)

    def share(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    def tallies(items) -> list[dict]:
        return [{"key": t.key, "name": t.name, "count": t.count} for t in items]

    def compliance(c) -> dict:
        return {"key": c.key, "name": c.name, "visits": c.count, "within_standard": c.within,
                "share_within_standard": share(c.share)}

    return {
        "report": "monthly",
        "month": report.month.key,
        "month_name": report.month.label,
        "office": report.office,
        "sop": report.sop,
        "timezone": report.timezone,
        "period": {"start": when(report.start), "end": when(report.end)},
        "as_of": when(report.as_of),
        "as_of_month_end": report.as_of_month_end,
        "generated_at": when(report.generated_at),
        "received": {"total": report.received, "closed_in_month": report.closed,
                     "by_category": tallies(report.by_category), "by_channel": tallies(report.by_channel),
                     "by_status": tallies(report.by_status)},
        "steps": [{"key": s.key, "name": s.name, "holder": s.holder, "standard": s.standard,
                   "standard_minutes": s.standard_minutes, "visits": s.count, "median_minutes": s.median,
                   "p90_minutes": s.p90, "within_standard": s.within, "share_within_standard": share(s.share),
                   "running": s.running} for s in report.steps],
        "waiting_citizen": {"name": "Menunggu pelapor", "visits": report.waiting.count,
                            "median_minutes": report.waiting.median, "p90_minutes": report.waiting.p90,
                            "total_minutes": report.waiting.total, "running": report.waiting.running},
        "merged": report.merged,
        "compliance": {"overall": compliance(report.compliance),
                       "by_section": [compliance(c) for c in report.compliance_by_section]},
        "mail": {"rejected": report.rejected, "ignored": report.ignored},
        "open": {"total": report.open_total, "limit": report.limit, "items": [
            {"number": o.number, "received_at": when(o.received_at), "category": o.category_name,
             "section": o.section_name, "status": o.status, "step": o.step_name, "closed_at": when(o.closed_at)}
            for o in report.open_items]},
        "overdue": {"total": report.overdue_total, "limit": report.limit, "items": [
            {"number": v.number, "category": v.category_name, "section": v.section_name, "step": v.step_name,
             "holder": v.holder, "due_at": when(v.due_at), "late_minutes": v.late_minutes, "done_at": when(v.done_at)}
            for v in report.overdue_items]},
        "satisfaction": _satisfaction_dict(report),
        "previous": _previous_dict(report),
        "definitions": {"percentile": "nearest-rank", "durations": "working minutes of the office calendar",
                        "visits_counted": "closed step visits whose started_at is in the month",
                        "ikm": "Permenpan RB 14/2017: mean of the nine elements' mean scores (1-4) x 25",
                        "within_standard": "working minutes <= the standard (standards in minutes); "
                                           "done by the due time (standards in working days)"},
    }


def _satisfaction_dict(report: Report) -> dict | None:
    sat = report.satisfaction
    if sat is None:
        return None

    def figure(f: SatisfactionFigure) -> dict:
        return {"key": f.key, "name": f.name, "responses": f.responses, "ikm": f.ikm, "grade": f.grade or None,
                "grade_name": f.grade_words or None,
                "element_means": [None if m is None else round(m, 4) for m in f.means]}

    return {"asked": sat.asked, "overall": figure(sat.overall),
            "by_category": [figure(f) for f in sat.by_category], "by_section": [figure(f) for f in sat.by_section]}


def _previous_dict(report: Report) -> dict | None:
    b = report.previous
    if b is None:
        return None
    return {"month": b.month.key, "month_name": b.month.label, "received": b.received, "closed_in_month": b.closed,
            "visits": b.visits, "within_standard": b.within,
            "share_within_standard": None if b.share is None else round(b.share, 4),
            "open": b.open_total, "overdue": b.overdue_total, "rejected": b.rejected, "ignored": b.ignored,
            "ikm": b.ikm, "responses": b.responses}


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------------- HTML
@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart (SVG user units)."""

    label: str
    value: str  # shown at the end of the bar
    y: int
    width: int


@dataclass(frozen=True)
class StepBars:
    label: str
    y: int
    median: str
    median_width: int
    p90: str
    p90_width: int
    standard: str
    standard_x: int | None  # the standard's marker; None for a standard in working days
    value_x: int  # where the "median / P90" text starts, right of the bars and the marker


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int  # x where bars start
    span: int  # the bar area's width
    rows: tuple


CHART_WIDTH = 640
CHART_LEFT = 8
CHART_SPAN = 400
STEP_SPAN = 300  # the step chart's bars: the words "median .., P90 ..; baku .." fit right of them
ROW = 34  # a label line above each bar (the step chart)
CATEGORY_ROW = 18  # the category chart: the label left of its bar, one line a category
CATEGORY_LABEL = 230  # the category chart's label column


def category_chart(report: Report) -> Chart:
    """Complaints per category, largest first: one line each, the name left of its bar."""
    top = max((t.count for t in report.by_category), default=0)
    rows = tuple(Bar(t.name, number(t.count), 4 + i * CATEGORY_ROW, _scale(t.count, top))
                 for i, t in enumerate(report.by_category))
    return Chart(CATEGORY_LABEL + CHART_SPAN + 60, 8 + len(rows) * CATEGORY_ROW, CATEGORY_LABEL, CHART_SPAN, rows)


def step_chart(report: Report) -> Chart:
    """Per step with visits: the median and P90 bars against a marker at the standard."""
    steps = [s for s in report.steps if s.count]
    top = max([s.p90 or 0 for s in steps] + [s.standard_minutes or 0 for s in steps], default=0)
    rows = []
    for i, s in enumerate(steps):
        p90_width = _scale(s.p90 or 0, top, STEP_SPAN)
        standard_x = CHART_LEFT + _scale(s.standard_minutes, top, STEP_SPAN) if s.standard_minutes else None
        rows.append(StepBars(
            label=s.name, y=14 + i * (ROW + 12), median=minutes(s.median),
            median_width=_scale(s.median or 0, top, STEP_SPAN),
            p90=minutes(s.p90), p90_width=p90_width, standard=standard_words(s.standard),
            standard_x=standard_x, value_x=max(CHART_LEFT + p90_width, standard_x or 0) + 8,
        ))
    return Chart(CHART_WIDTH, 14 + len(rows) * (ROW + 12), CHART_LEFT, STEP_SPAN, tuple(rows))


def _scale(value: int, top: int, span: int = CHART_SPAN) -> int:
    if top <= 0 or value <= 0:
        return 0
    return max(1, round(span * value / top))


def html_context(report: Report) -> dict:
    """What ``report/monthly.html.j2`` is given (see templates/README.md)."""
    return dict(report=report, period=period(report), as_of=as_of_words(report),
                zone_label=_zone_label(report), category_chart=category_chart(report), step_chart=step_chart(report),
                definitions=DEFINITIONS_NOTE, short_time=lambda t: short_time(t, report),
                minutes=minutes, standard_words=standard_words, headline=headline_rows(report),
                previous_label=previous_label(report), decimal=decimal, ikm_words=ikm_words,
                page_rows=PAGE_ROWS, signed_on=localdate(report))


def localdate(report: Report) -> str:
    """``1 Desember 2026``: the day the report was made, in the office's time zone."""
    day = report.generated_at.astimezone(_zone(report))
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def to_html(report: Report, pages: PageRenderer) -> str:
    """One self-contained page: inline CSS and SVG, no script, no outside resource."""
    return pages.render(HTML_TEMPLATE, **html_context(report))


def render(report: Report, fmt: str, pages: PageRenderer) -> bytes:
    """The report in ``fmt`` (one of ``FORMATS``) as the bytes of a file."""
    if fmt == "text":
        return to_text(report).encode("utf-8")
    if fmt == "html":
        return to_html(report, pages).encode("utf-8")
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report).encode("utf-8")
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
