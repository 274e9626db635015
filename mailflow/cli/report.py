"""The monthly report by hand: ``report`` (see docs/REPORT.md), of one office
or (``--office all``) rolled up across every office of the configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, app, chosen, clock, deployment_from, desks, emit_json, many, msg
from mailflow.config.paths import write_private
from mailflow.errors import MailflowError
from mailflow.report import formats, rollup
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
                       "outbox: a short text with the HTML page, its PDF and the CSV attached. Only a month that "
                       "has ended; a month "
                       "already mailed (by the daemon or by hand) needs --force.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --send: mail a month that was mailed already again.")] = False,
    limit: Annotated[int, typer.Option(
        help="At most this many complaints in each list (open, overdue); the totals always count all.")] = 100,
    office: Annotated[str | None, typer.Option(
        "--office", help="KEY: that office's report (its rules, templates and time zone). 'all': the roll-up of "
                         "every office of the config, one line per office and the total (not mailed: --send "
                         "refuses it). Needed when the config has several offices.")] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: the report itself (as --format json), or, with --send or --output, what was "
                       'done: {"month", "office", "queued_for", "output" {"path", "format", "bytes"}}.')] = False,
) -> None:
    """The monthly report (laporan bulanan) of one calendar month: complaints by
    category, channel and status; working time per ladder step (median, P90)
    against its standard; compliance per section; rejected and ignored mail; the
    open and overdue complaints at the month's end. See docs/REPORT.md.

    With several offices, --office KEY makes one office's report and --office
    all the roll-up (rekap) of every office: per office the complaints
    received and closed, steps within standard, rejected and ignored mail,
    open and overdue complaints, and the sum."""
    if fmt not in formats.FORMATS:
        raise MailflowError(f"--format must be one of {', '.join(formats.FORMATS)}, got {fmt!r}")
    if force and not send:
        raise MailflowError("--force only goes with --send (it mails a month that was mailed already)")
    if limit < 0:
        raise MailflowError("--limit must be 0 or more")
    if as_json and not (send or output) and fmt not in ("text", "json"):
        raise MailflowError(f"--json prints the report as JSON: --format {fmt} goes with --output FILE")
    if as_json and not (send or output):
        fmt = "json"
    deployment = deployment_from(config)
    done: dict = {"month": None, "office": office or deployment.keys[0], "queued_for": None, "output": None}
    if office is None and many(deployment):
        raise MailflowError(f"{deployment.path} has {len(deployment.offices)} offices "
                            f"({', '.join(deployment.keys)}): name one with --office KEY, or give --office all "
                            "for the roll-up of every office")
    every = office == "all"
    if every and send:
        raise MailflowError("--send mails one office's report to its report_to roles: give --office KEY; "
                            "the roll-up (--office all) is not mailed (write it with --output)")
    fleet = desks(ctx, deployment, deployment.offices if every else chosen(deployment, office))
    try:
        now = clock(ctx)()
        # One month for every office; each office's report is of that month in its own time zone.
        first = next(iter(fleet.apps.values()))
        if month is None:
            the_month = Month.containing(now.astimezone(first.rules.calendar.zone).date()).previous()
        else:
            try:
                the_month = Month.parse(month)
            except ValueError as exc:
                raise MailflowError(f"--month: {exc}") from None
        done["month"] = str(the_month)
        if send:
            result = first.monthly_report.send(the_month, now=now, force=force, limit=limit)
            done["queued_for"] = list(result.recipients)
            if not as_json:
                typer.echo(msg(ctx, "report.queued", month=the_month, recipients=", ".join(result.recipients)))
            if output is None:
                if as_json:
                    emit_json(done)
                return
        with fleet.shared.factory() as session:
            try:
                # The roll-up lists no complaints: its lists are not read (limit 0), their totals are.
                reports = [(key, application.monthly_report.build(session, the_month, now, 0 if every else limit))
                           for key, application in fleet.apps.items()]
            except MonthNotBegun as exc:
                raise MailflowError(str(exc)) from None
        pages = first.monthly_report.pages
        if every:
            content = rollup.render(rollup.build_rollup(reports), fmt, pages)
        else:
            content = formats.render(reports[0][1], fmt, pages)
        if output is None:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
        else:
            write_private(output, content)  # the report names complaints: owner-only
            done["output"] = {"path": str(output), "format": fmt, "bytes": len(content)}
            if as_json:
                emit_json(done)
            else:
                typer.echo(msg(ctx, "report.wrote", path=output, format=fmt, bytes=len(content)))
    finally:
        fleet.close()
