"""``mailflow status``: the health of a deployment for monitoring, from the
database alone (no mail server is contacted), with an exit code a monitor
reads: 0 healthy, 1 degraded, 2 down.

Down: the database cannot be reached, its schema is not this mailflow's, or
an office's mailbox has not been looked at for longer than ``stale_after``
while a mail-server problem (a refused login, a server that cannot be
reached) is recorded for it. Degraded: failed outbox rows, a refused login
still recorded, a mailbox not looked at for that long, a server that could
not be reached at the last try, mail quarantined in the last 24 hours.

A problem counts as recorded until the server worked again after it: for
IMAP a successful look at the mailbox (``mailbox_state.checked_at``), for SMTP
a mail sent (a ``sent`` hop). Problems are recorded by the daemon, ``mailflow
run`` and the workers as hops (``runner/alerts.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from mailflow.cli import messages
from mailflow.cli.base import ConfigOpt, OfficeOpt, app, chosen, clock, deployment_from, lang, local, say, table
from mailflow.config.settings import Settings, redact_url
from mailflow.core.vocabulary import HopKind
from mailflow.errors import SchemaOutOfDate
from mailflow.store import db, queries

HEALTHY, DEGRADED, DOWN = "healthy", "degraded", "down"
CODES = {HEALTHY: 0, DEGRADED: 1, DOWN: 2}
QUARANTINE_WINDOW = timedelta(hours=24)


def stale_after(settings: Settings) -> timedelta:
    """How long a mailbox may go without a successful look: three poll intervals, at least 5 minutes."""
    return max(timedelta(seconds=3 * settings.imap.poll_interval), timedelta(minutes=5))


def _worst(levels: list[str]) -> str:
    return max(levels, key=CODES.__getitem__, default=HEALTHY)


@app.command()
def status(
    ctx: typer.Context,
    office: OfficeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for a monitor).")] = False,
    config: ConfigOpt = None,
) -> None:
    """The health of every office, from the database, for monitoring. Exit
    code 0 healthy, 1 degraded, 2 down.

    Down: the database cannot be reached; its schema is not at this
    mailflow's head; or a mailbox has not been looked at for more than
    max(3 x imap.poll_interval, 5 min) while a login or connection problem is
    recorded for the office. Degraded: failed outbox rows; a refused IMAP or
    SMTP login recorded and not followed by a successful one; a mailbox not
    looked at for that long; a server that could not be reached at the last
    try; mail quarantined in the last 24 hours. Healthy otherwise."""
    deployment = deployment_from(config)
    offices = chosen(deployment, office)
    now = clock(ctx)()
    # --json is the same in every language (its reasons in English)
    report = health(deployment.database_url, offices, now, messages.ENGLISH if as_json else lang(ctx))
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=_iso))
    else:
        _print(report, offices, lang(ctx))
    raise typer.Exit(CODES[report["status"]])


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))


def health(url: str, offices: tuple[Settings, ...], now: datetime,
           language: str = messages.ENGLISH) -> dict[str, Any]:
    """The status report (what ``--json`` prints), its reasons and the
    database's error in ``language``."""
    def t(key: str, **fields: object) -> str:
        return messages.text(language, key, **fields)

    database: dict[str, Any] = {"url": redact_url(url), "reachable": False, "schema": None,
                                "needed": db.head_revision(), "error": None}
    report: dict[str, Any] = {"status": DOWN, "reasons": [], "database": database, "offices": []}
    engine = db.make_engine(url)
    try:
        try:
            database["schema"] = db.current_revision(engine)
            database["reachable"] = True
        except SQLAlchemyError as exc:
            found = db.database_problem(exc, url)
            database["error"] = t(f"db.{found[0]}", **found[1]) if found else str(exc).splitlines()[0]
            report["reasons"].append(t("status.reason.database", error=database["error"]))
            return report
        if database["schema"] != database["needed"]:
            try:
                db.check_schema(engine)
            except SchemaOutOfDate as exc:  # it says the fix
                report["reasons"].append(str(exc))
            return report
        with db.session_factory(engine)() as session:
            checks = {(o, folder): (at, by) for o, folder, at, by in queries.mailbox_checks(session)}
            backlog = queries.outbox_backlog(session)
            problems = queries.server_problems(session, offices[0].office.key if len(offices) == 1 else None)
            recent = queries.quarantined_since(session, now - QUARANTINE_WINDOW)
            ever = queries.quarantined_since(session, None)
            reports = queries.last_reports(session)
            sent = {s.office.key: queries.last_sent_at(session, s.office.key) for s in offices}
    finally:
        engine.dispose()
    for s in offices:
        key = s.office.key
        checked_at, checked_by = checks.get((key, s.imap.folder), (None, None))
        report["offices"].append(_office(s, now, checked_at, checked_by, backlog.get(key, queries.empty_backlog()),
                                         [p for p in problems if p[0] == key], sent[key],
                                         recent.get(key, 0), ever.get(key, 0), reports.get(key), t))
    report["status"] = _worst([o["status"] for o in report["offices"]])
    report["reasons"] = [f"{o['office']}: {r}" for o in report["offices"] for r in o["reasons"]]
    return report


def _open_problem(problems: list[tuple[str, str, datetime, str]], server: str, kind: str,
                  worked_at: datetime | None) -> dict[str, Any] | None:
    """The outage of ``server`` of ``kind`` still recorded: the problems after
    the server last worked, with when the first began and the newest reason."""
    after = [p for p in problems if p[1] == kind and p[3].startswith(server + " ")
             and (worked_at is None or p[2] > worked_at)]
    if not after:
        return None
    return {"since": after[0][2], "last_seen": after[-1][2], "reason": after[-1][3]}


def _office(s: Settings, now: datetime, checked_at: datetime | None, checked_by: str | None,
            backlog: dict[str, Any], problems: list[tuple[str, str, datetime, str]], sent_at: datetime | None,
            quarantined_24h: int, quarantined: int, last_report: tuple[str, datetime] | None,
            t: Callable[..., str]) -> dict[str, Any]:
    limit = stale_after(s)
    stale = checked_at is None or now - checked_at > limit
    servers: dict[str, dict[str, Any]] = {}
    for server, worked_at, cfg in (("IMAP", checked_at, s.imap), ("SMTP", sent_at, s.smtp)):
        servers[server] = {
            "host": f"{cfg.host}:{cfg.port}", "worked_at": worked_at,
            "login_failed": _open_problem(problems, server, str(HopKind.LOGIN_REFUSED), worked_at),
            "unreachable": _open_problem(problems, server, str(HopKind.UNREACHABLE), worked_at)}
    reasons: list[tuple[str, str]] = []
    recorded = [t(f"status.reason.{what}", server=server, since=p["since"].isoformat(), reason=p["reason"])
                for server, v in servers.items() for what in ("login_failed", "unreachable")
                if (p := v[what]) is not None]
    if stale:
        seen = (t("status.reason.looked_at", folder=s.imap.folder, at=checked_at.isoformat(),
                  minutes=int(limit.total_seconds() // 60)) if checked_at
                else t("status.reason.never_looked_at", folder=s.imap.folder))
        reasons.append((DOWN if recorded else DEGRADED,
                        t("status.reason.stale_while_problem" if recorded else "status.reason.stale", seen=seen)))
    for line in recorded:
        reasons.append((DEGRADED, line))
    if backlog["failed"]:
        reasons.append((DEGRADED, t("status.reason.failed_rows", count=backlog["failed"])))
    if quarantined_24h:
        reasons.append((DEGRADED, t("status.reason.quarantined", count=quarantined_24h,
                                    folder=s.imap.quarantine_folder)))
    return {
        "office": s.office.key, "status": _worst([level for level, _ in reasons]),
        "reasons": [text for _, text in reasons],
        "mailbox": {"folder": s.imap.folder, "checked_at": checked_at, "checked_by": checked_by, "stale": stale,
                    "stale_after_seconds": int(limit.total_seconds())},
        "imap": servers["IMAP"], "smtp": servers["SMTP"],
        "outbox": backlog,
        "quarantined": {"last_24h": quarantined_24h, "total": quarantined},
        "last_report": {"month": last_report[0], "sent_at": last_report[1]} if last_report else None,
    }


def _print(report: dict[str, Any], offices: tuple[Settings, ...], language: str) -> None:
    """The report for a person, in ``language`` (its reasons stay as --json has them)."""
    def t(key: str, **fields: object) -> str:
        return messages.text(language, key, **fields)

    d = report["database"]
    say(t("status.line", status=t(f"status.{report['status']}")))
    say(t("status.database", url=d["url"], schema=d["schema"] or t("status.none"), needed=d["needed"])
        if d["reachable"] else t("status.database_unreachable", url=d["url"], error=d["error"]))
    by_key = {s.office.key: s for s in offices}
    if report["offices"]:
        say("")
        rows = []
        for o in report["offices"]:
            s = by_key[o["office"]]
            b = o["outbox"]
            servers = ", ".join(t(f"status.{what}", server=server) for server in ("IMAP", "SMTP")
                                for what in ("login_failed", "unreachable") if o[server.lower()][what]) or t("status.ok")
            rows.append([o["office"], t(f"status.{o['status']}").lower(), local(o["mailbox"]["checked_at"], s), servers,
                         t("status.pending", pending=b["pending"], deferred=b["deferred"]), str(b["failed"]),
                         local(b["oldest_pending"], s),
                         f"{o['quarantined']['last_24h']}/{o['quarantined']['total']}",
                         o["last_report"]["month"] if o["last_report"] else "-"])
        table([t(f"status.col.{c}") for c in ("office", "status", "last_look", "servers", "pending", "failed",
                                              "oldest", "quarantined", "report")], rows, language=language)
    if report["reasons"]:
        say("")
        for reason in report["reasons"]:
            say(f"- {reason}")
