"""The roll-up of a month across every office of a deployment (``mailflow
report --office all``, e.g. for a province): one line per office and the
total, and the complaints received summed by category, channel and status.

Pure: each office's ``figures.Report`` (made with its own rules, calendar and
time zone) in, a ``Rollup`` and its four formats out. Only figures that sum
are rolled up: counts, and the share within standard recomputed from the
summed visits. Medians and P90s do not sum (and the offices' SOPs name
different steps), so they stay in each office's own report. The total is the
sum of the office lines by construction; rows of an office key the
configuration no longer has are in no line (``mailflow office check`` names
them).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mailflow.core.render import PageRenderer, localtime, number, percent
from mailflow.report.figures import Month, Report, Tally

HTML_TEMPLATE = "report/rollup"
TITLE = "Rekap Laporan Bulanan Pengaduan Semua Kantor"
CSV_COLUMNS = ("section", "key", "name", "metric", "value")


@dataclass(frozen=True)
class OfficeLine:
    """One office's month (or, as ``Rollup.total``, every office's)."""

    key: str
    name: str
    received: int
    closed: int
    visits: int  # counted step visits (docs/REPORT.md)
    within: int  # of those, done by their due time
    rejected: int
    ignored: int
    open_total: int
    overdue_total: int

    @property
    def share(self) -> float | None:
        return self.within / self.visits if self.visits else None


@dataclass(frozen=True)
class Rollup:
    month: Month
    generated_at: datetime
    timezone: str  # the first office's: what "generated at" is printed in
    offices: tuple[OfficeLine, ...]  # in the configuration's order
    total: OfficeLine
    by_category: tuple[Tally, ...]
    by_channel: tuple[Tally, ...]
    by_status: tuple[Tally, ...]


def office_line(key: str, report: Report) -> OfficeLine:
    c = report.compliance
    return OfficeLine(key=key, name=report.office, received=report.received, closed=report.closed, visits=c.count,
                      within=c.within, rejected=report.rejected, ignored=report.ignored,
                      open_total=report.open_total, overdue_total=report.overdue_total)


FIELDS = ("received", "closed", "visits", "within", "rejected", "ignored", "open_total", "overdue_total")


def _summed(tallies: Sequence[Sequence[Tally]], order: str) -> tuple[Tally, ...]:
    """Tallies of the same key added up (named as the first office that has it);
    ``order``: "count" (largest first) or "first" (as the first offices list them)."""
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    for items in tallies:
        for t in items:
            counts[t.key] = counts.get(t.key, 0) + t.count
            names.setdefault(t.key, t.name)
    out = [Tally(k, names[k], n) for k, n in counts.items()]
    return tuple(sorted(out, key=lambda t: (-t.count, t.name, t.key)) if order == "count" else out)


def build_rollup(reports: Sequence[tuple[str, Report]]) -> Rollup:
    """The roll-up of ``reports`` ((office key, that office's report of the same
    month), in the configuration's order; at least one)."""
    if not reports:
        raise ValueError("a roll-up needs the report of at least one office")
    lines = tuple(office_line(key, r) for key, r in reports)
    total = OfficeLine("all", "Semua kantor", **{f: sum(getattr(line, f) for line in lines) for f in FIELDS})
    first = reports[0][1]
    return Rollup(
        month=first.month, generated_at=first.generated_at, timezone=first.timezone, offices=lines, total=total,
        by_category=_summed([r.by_category for _, r in reports], "count"),
        by_channel=_summed([r.by_channel for _, r in reports], "count"),
        by_status=_summed([r.by_status for _, r in reports], "first"),
    )


# ---------------------------------------------------------------------- formats
COLUMNS = ("Kantor", "Diterima", "Selesai", "Tahap", "Tepat waktu", "Persentase", "Ditolak", "Diabaikan",
           "Belum selesai", "Terlambat")


def _cells(line: OfficeLine) -> list[str]:
    return [line.name, number(line.received), number(line.closed), number(line.visits), number(line.within),
            percent(line.share), number(line.rejected), number(line.ignored), number(line.open_total),
            number(line.overdue_total)]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(cells: Sequence[str]) -> str:
        return ("  " + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths)))).rstrip()

    return [line(headers), "  " + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def to_text(rollup: Rollup) -> str:
    """The roll-up for a terminal, Bahasa Indonesia."""
    out = [f"{TITLE.upper()}: {rollup.month.label.upper()}",
           f"{len(rollup.offices)} kantor; setiap kantor menurut zona waktu dan SOP-nya sendiri",
           f"Dibuat       : {localtime(rollup.generated_at, rollup.timezone)}",
           "", "Per kantor", "----------"]
    out += _table(COLUMNS, [*(_cells(line) for line in rollup.offices), _cells(rollup.total)],
                  right=range(1, len(COLUMNS)))
    for title, tallies, header in (("Menurut jenis layanan", rollup.by_category, "Jenis layanan"),
                                   ("Menurut saluran", rollup.by_channel, "Saluran"),
                                   ("Menurut status saat ini", rollup.by_status, "Status")):
        out += ["", title]
        if tallies:
            out += _table([header, "Jumlah"], [[t.name, number(t.count)] for t in tallies], right=(1,))
        else:
            out.append("  (tidak ada aduan)")
    out += ["", "Keterangan", "----------", *(f"- {note}" for note in NOTES)]
    return "\n".join(out) + "\n"


NOTES = (
    "Tahap dan tepat waktu: tahap staf yang dimulai dalam bulan ini dan sudah selesai; persentase dihitung "
    "dari jumlah seluruh kantor.",
    "Belum selesai dan terlambat: per akhir bulan (atau saat rekap dibuat, untuk bulan berjalan).",
    "Median dan P90 waktu per tahap ada di laporan masing-masing kantor (mailflow report --office KODE).",
)


def to_dict(rollup: Rollup) -> dict:
    def line(x: OfficeLine) -> dict:
        share = None if x.share is None else round(x.share, 4)
        return {"key": x.key, "name": x.name, "received": x.received, "closed_in_month": x.closed,
                "visits": x.visits, "within_standard": x.within, "share_within_standard": share,
                "rejected": x.rejected, "ignored": x.ignored, "open": x.open_total, "overdue": x.overdue_total}

    def tallies(items) -> list[dict]:
        return [{"key": t.key, "name": t.name, "count": t.count} for t in items]

    return {"report": "monthly-rollup", "month": rollup.month.key, "month_name": rollup.month.label,
            "generated_at": rollup.generated_at.isoformat(timespec="seconds"),
            "offices": [line(x) for x in rollup.offices], "total": line(rollup.total),
            "received": {"by_category": tallies(rollup.by_category), "by_channel": tallies(rollup.by_channel),
                         "by_status": tallies(rollup.by_status)}}


def to_csv(rollup: Rollup) -> bytes:
    """As ``formats.to_csv``: UTF-8 with a BOM, CRLF, one row per figure."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(("report", rollup.month.key, rollup.month.label, "offices", len(rollup.offices)))
    for x in (*rollup.offices, rollup.total):
        for metric in FIELDS:
            writer.writerow(("office", x.key, x.name, metric, getattr(x, metric)))
        writer.writerow(("office", x.key, x.name, "percent_within", "" if x.share is None else round(x.share * 100, 1)))
    for section, items in (("category", rollup.by_category), ("channel", rollup.by_channel),
                           ("status", rollup.by_status)):
        for t in items:
            writer.writerow((section, t.key, t.name, "count", t.count))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_html(rollup: Rollup, pages: PageRenderer) -> str:
    """One self-contained page (``report/rollup.html.j2``)."""
    return pages.render(HTML_TEMPLATE, rollup=rollup, title=TITLE, columns=COLUMNS, notes=NOTES)


def render(rollup: Rollup, fmt: str, pages: PageRenderer) -> bytes:
    if fmt == "text":
        return to_text(rollup).encode("utf-8")
    if fmt == "html":
        return to_html(rollup, pages).encode("utf-8")
    if fmt == "csv":
        return to_csv(rollup)
    if fmt == "json":
        return (json.dumps(to_dict(rollup), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    raise ValueError(f"format must be one of text, html, csv, json, got {fmt!r}")

