"""Mailing the monthly report (laporan bulanan): the daemon's pass and ``mailflow report --send``.

The report of a month goes, through the outbox only, to the members of the
roles in the rules' ``[deadlines] report_to`` (the shipped rules: the Kepala
Bidang and the Kepala Dinas), as one mail: a short Bahasa Indonesia text
(``staff/monthly-report``) with the report attached as an HTML page, the same
page as a PDF (report/pdf.py; left out, and logged, where WeasyPrint cannot
run) and a CSV file holding every open and overdue complaint (the page shows
the first ``formats.PAGE_ROWS``). Replies go to ``office.alert_address``
(whoever runs mailflow).

``MonthlyReport.run_once`` (every daemon pass) mails the previous month's
report once the office has opened on the first working day of a month (office
calendar), or on the first pass after that within the month if the daemon was
down then; a month that ended before mailflow handled its first mail (a fresh
install) is skipped (``mailflow report --send`` mails it by hand). A month is mailed once: a ``report_runs`` row is inserted in the
same transaction as the outbox row, and its primary key stops a second daemon
(PostgreSQL: the second INSERT waits for the first transaction and then fails;
SQLite: transactions are serialised by ``BEGIN IMMEDIATE``).

An empty ``report_to`` means the office's SOP has no monthly report: nothing is
sent and nothing recorded (the daemon logs a warning once a month; ``mailflow
report --send`` refuses, naming the key). It never falls back to another
address: a report holds every complaint of the month, and who reads it is the
SOP's decision, not a default's.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.core.calendar import OfficeCalendar
from mailflow.core.render import PageRenderer, TemplateError, localtime
from mailflow.core.vocabulary import MailKind
from mailflow.desk.letters import Letters
from mailflow.edges.compose import Attachment
from mailflow.errors import MailflowError
from mailflow.report import formats
from mailflow.report.figures import Letterhead, Month, Report, build_report
from mailflow.report.pdf import PdfUnavailable, html_to_pdf
from mailflow.report.query import DEFAULT_LIMIT, load_month
from mailflow.store import hoplog, queries
from mailflow.store.models import ReportRun, utcnow

log = logging.getLogger("mailflow.report")

# The mailed report's lists (open, overdue) are read whole, up to this many, for
# its CSV; the page shows the first formats.PAGE_ROWS of each.
MAIL_LIST_LIMIT = 5000
_LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

class AlreadySent(MailflowError):
    """The month's report was mailed before (``--force`` mails it again)."""


class NoRecipients(MailflowError):
    """``[deadlines] report_to`` names no role: nobody to mail the report to."""


class MonthNotEnded(MailflowError):
    """Only a whole month is mailed (a partial one would stand in for the full report)."""


@dataclass
class ReportResult:
    month: str | None = None  # the month the pass looked at (None: no report due)
    sent: bool = False  # queued in the outbox
    recipients: tuple[str, ...] = ()
    skipped: str = ""  # why nothing was queued: "already sent", "no recipients", "mailflow was not in use yet"
    error: str | None = None  # rolled back (a template could not be rendered); retried next pass

    def __bool__(self) -> bool:
        return self.sent or bool(self.error)

    def summary(self) -> str:
        if self.error:
            return f"monthly report {self.month} failed: {self.error}"
        if self.sent:
            return f"monthly report {self.month} queued for {', '.join(self.recipients)}"
        return f"monthly report {self.month}: {self.skipped}" if self.month else "no monthly report due"


def first_working_day(month: Month, calendar: OfficeCalendar) -> date | None:
    """The first day of ``month`` the office opens (None if it never does)."""
    day = month.first_day()
    while day.month == month.month:
        if calendar.is_working_day(day):
            return day
        day += timedelta(days=1)
    return None


def due_month(now: datetime, calendar: OfficeCalendar) -> Month | None:
    """The month whose report is due at ``now``: the previous month, from the
    first opening of this month's first working day to the month's end."""
    local = now.astimezone(calendar.zone)
    this = Month.containing(local.date())
    first = first_working_day(this, calendar)
    if first is None:
        return None
    opening = calendar.working_intervals(first)[0][0]
    return this.previous() if now >= opening else None


class MonthlyReport:
    """Builds and mails the monthly report. ``run_once`` is the daemon's pass."""

    def __init__(self, letters: Letters, factory: sessionmaker[Session], pages: PageRenderer, *,
                 clock: Callable[[], datetime] = utcnow, limit: int = DEFAULT_LIMIT,
                 mail_limit: int = MAIL_LIST_LIMIT):
        self.letters = letters
        self.settings = letters.settings
        self.rules = letters.rules
        self.factory = factory
        self.pages = pages
        self.clock = clock
        self.limit = limit
        self.mail_limit = mail_limit
        self._warned_month: str | None = None  # the month whose "no recipients" warning was logged

    # ------------------------------------------------------------------ figures
    def build(self, session: Session, month: Month, now: datetime, limit: int | None = None) -> Report:
        """The report of ``month`` as of ``now`` (reads only). Raises ``query.MonthNotBegun``."""
        zone, office = self.rules.calendar.zone, self.settings.office.key
        data = load_month(session, month, zone, now=now, limit=self.limit if limit is None else limit, office=office)
        # The month before, for the column beside every headline figure (its lists are not read).
        previous = load_month(session, month.previous(), zone, now=now, limit=0, office=office)
        report = build_report(data, self.rules, office=self.settings.office.name, previous=previous)
        return replace(report, letterhead=self.letterhead())

    def letterhead(self) -> Letterhead:
        """The kop surat and the signature block from the office's config; a logo
        file that cannot be read is left out (and logged), never an error."""
        o = self.settings.office
        logo = ""
        if o.logo is not None:
            kind = _LOGO_TYPES.get(o.logo.suffix.lower())
            try:
                if kind is None:
                    raise ValueError(f"expected a .png, .jpg or .svg file, got {o.logo.name!r}")
                logo = f"data:{kind};base64," + base64.b64encode(o.logo.read_bytes()).decode("ascii")
            except (OSError, ValueError) as exc:
                log.warning("report letterhead without the logo %s: %s", o.logo, exc)
        return Letterhead(name=o.name, address=o.address, city=o.city, logo_uri=logo, head_title=o.head_title,
                          head_name=o.head_name, head_nip=o.head_nip)

    def recipients(self) -> tuple[str, ...]:
        """The members of the ``report_to`` roles, in order, each once."""
        found: dict[str, None] = {}
        for key in self.rules.deadlines.report_to:
            for member in self.rules.roles[key].members:
                found.setdefault(member, None)
        return tuple(found)

    # ------------------------------------------------------------------ the daemon's pass
    def run_once(self) -> ReportResult:
        """Mail the previous month's report if it is due and not mailed yet.
        A template that cannot be rendered rolls back and is logged (retried
        next pass); database errors propagate to the caller."""
        now = self.clock()
        month = due_month(now, self.rules.calendar)
        if month is None:
            return ReportResult()
        if not self.rules.deadlines.report_to:
            if self._warned_month != month.key:
                # Not every SOP has a monthly report (Bantul's has none): said once a
                # month, at INFO; `mailflow report` still makes it by hand.
                log.info("monthly report %s not mailed: %s has no [deadlines] report_to", month, self.rules.path)
                self._warned_month = month.key
            return ReportResult(month=month.key, skipped="no recipients")
        with self.factory() as session:
            office = self.settings.office.key
            if session.get(ReportRun, (office, month.key)) is not None:
                return ReportResult(month=month.key, skipped="already sent")
            # The oldest hop (by primary key: no scan) says since when mailflow runs here.
            first = queries.first_hop_at(session, office)
            if first is None or first >= month.bounds(self.rules.calendar.zone)[1]:
                return ReportResult(month=month.key, skipped="mailflow was not in use yet")
        try:
            result = self.send(month, now=now)
        except AlreadySent:  # another daemon mailed it between our look and our insert
            return ReportResult(month=month.key, skipped="already sent")
        except TemplateError as exc:
            log.error("monthly report %s rolled back: %s", month, exc)
            return ReportResult(month=month.key, error=str(exc))
        log.info("%s", result.summary())
        return result

    # ------------------------------------------------------------------ mailing
    def send(self, month: Month, *, now: datetime | None = None, force: bool = False,
             limit: int | None = None) -> ReportResult:
        """Queue the report of ``month`` for the ``report_to`` roles and record it,
        in one transaction (the figures and files are made just before it).
        Raises ``NoRecipients``, ``MonthNotEnded``, or
        ``AlreadySent`` (unless ``force``: then it is mailed again and the
        record's ``sent_at`` moves). ``limit``: list length in the CSV
        (default ``self.mail_limit``; the page shows ``formats.PAGE_ROWS``)."""
        recipients = self.recipients()
        if not recipients:
            raise NoRecipients(
                f"{self.rules.path}: key 'deadlines.report_to' is empty, so nobody receives the monthly report; "
                "name the roles that do, e.g. report_to = [\"kabid\", \"kadis\"]")
        now = self.clock() if now is None else now
        _, end = month.bounds(self.rules.calendar.zone)
        if now < end:
            raise MonthNotEnded(
                f"{month} has not ended yet: its report is mailed on the first working day of {month.following()} "
                "(run `mailflow report` without --send to see it so far)")
        office = self.settings.office.key
        # The figures and the files (the PDF takes seconds) are made before the
        # write transaction, so the intake is not held up meanwhile; the month's
        # row decides in the transaction whether it is mailed.
        with self.factory() as session:
            if not force and (done := session.get(ReportRun, (office, month.key))) is not None:
                raise self._already(month, done)
            report = self.build(session, month, now, self.mail_limit if limit is None else limit)
        files = self._files(report)
        try:
            with self.factory.begin() as session:
                session.info[hoplog.OFFICE] = office
                run = session.get(ReportRun, (office, month.key))
                if run is not None and not force:
                    raise self._already(month, run)
                if run is None:
                    # The primary key decides a race: a second daemon's INSERT waits for
                    # this transaction and then fails, so it never mails the month too.
                    session.add(ReportRun(office=office, month=month.key, sent_at=now))
                    session.flush()
                else:
                    run.sent_at = now
                self._mail(session, report, files, recipients, now, again=run is not None)
        except IntegrityError:
            raise AlreadySent(f"the report for {month} was already sent just now by another mailflow process") from None
        return ReportResult(month=month.key, sent=True, recipients=recipients)

    def _already(self, month: Month, run: ReportRun) -> AlreadySent:
        return AlreadySent(
            f"the report for {month} was already sent on {localtime(run.sent_at, self.settings.office.timezone)}; "
            "add --force to send it again")

    def _files(self, report: Report) -> tuple[Attachment, ...]:
        """The attachments: the page (HTML), the same page as a PDF (left out, and
        logged, where WeasyPrint cannot run), and the CSV."""
        page = formats.to_html(report, self.pages)
        files = [Attachment(formats.filename(report, "html"), "text/html", page.encode("utf-8"), charset="utf-8")]
        try:
            files.append(Attachment(formats.filename(report, "pdf"), "application/pdf", html_to_pdf(page)))
        except PdfUnavailable as exc:
            log.warning("monthly report %s mailed without its PDF: %s", report.month, exc)
        files.append(Attachment(formats.filename(report, "csv"), "text/csv", formats.to_csv(report), charset="utf-8"))
        return tuple(files)

    def _mail(self, session: Session, report: Report, files: tuple[Attachment, ...], recipients: tuple[str, ...],
              now: datetime, *, again: bool) -> None:
        roles = [self.rules.roles[key].name for key in self.rules.deadlines.report_to]
        self.letters.write(
            session, MailKind.MONTHLY_REPORT, to=recipients, now=now, reply_to=self.settings.office.alert_address,
            files=files, report=report, period=formats.period(report), as_of=formats.as_of_words(report),
            ikm=formats.ikm_words(report.satisfaction.overall if report.satisfaction else None),
            headline=formats.headline_rows(report), previous_label=formats.previous_label(report),
            recipients=SimpleNamespace(names=roles),
            attachments=[SimpleNamespace(filename=f.filename, mime_type=f.mime_type) for f in files], again=again,
        )
