"""The monthly report by hand: ``report`` (see docs/REPORT.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, app, build, clock, settings_from
from mailflow.config.paths import write_private
from mailflow.errors import MailflowError
from mailflow.report import formats
from mailflow.report.figures import Month
from mailflow.report.query import MonthNotBegun


@app.command()
def report(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(
        "--month", "-m", help="The calendar month, YYYY-MM (default: the previous month, in the office's time zone).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, html (one printable page), csv or json.")] = "text",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the report (in --format) to this file instead of printing it "
                               "(with --send: as well as mailing it).")] = None,
    send: Annotated[bool, typer.Option(
        "--send", help="Mail the report to the members of the rules' \\[deadlines] report_to roles, through the "
                       "outbox: a short text with the HTML and CSV attached. Only a month that has ended; a month "
                       "already mailed (by the daemon or by hand) needs --force.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --send: mail a month that was mailed already again.")] = False,
    limit: Annotated[int, typer.Option(
        help="At most this many complaints in each list (open, overdue); the totals always count all.")] = 100,
    config: ConfigOpt = None,
) -> None:
    """The monthly report (laporan bulanan) of one calendar month: complaints by
    category, channel and status; working time per ladder step (median, P90)
    against its standard; compliance per section; rejected and ignored mail; the
    open and overdue complaints at the month's end. See docs/REPORT.md."""
    if fmt not in formats.FORMATS:
        raise MailflowError(f"--format must be one of {', '.join(formats.FORMATS)}, got {fmt!r}")
    if force and not send:
        raise MailflowError("--force only goes with --send (it mails a month that was mailed already)")
    if limit < 0:
        raise MailflowError("--limit must be 0 or more")
    settings = settings_from(config)
    application = build(ctx, settings)
    try:
        now = clock(ctx)()
        if month is None:
            chosen = Month.containing(now.astimezone(application.rules.calendar.zone).date()).previous()
        else:
            try:
                chosen = Month.parse(month)
            except ValueError as exc:
                raise MailflowError(f"--month: {exc}") from None
        if send:
            result = application.monthly_report.send(chosen, now=now, force=force, limit=limit)
            typer.echo(f"report for {chosen} queued in the outbox for {', '.join(result.recipients)} "
                       "(mailflow run sends it; see mailflow queue --outbox)")
            if output is None:
                return
        monthly = application.monthly_report
        with application.factory() as session:
            try:
                figures = monthly.build(session, chosen, now, limit)
            except MonthNotBegun as exc:
                raise MailflowError(str(exc)) from None
        content = formats.render(figures, fmt, monthly.pages)
        if output is None:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
        else:
            write_private(output, content)  # the report names complaints: owner-only
            typer.echo(f"wrote {output} ({fmt}, {len(content)} bytes)")
    finally:
        application.close()
