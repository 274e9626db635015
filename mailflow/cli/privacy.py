"""``mailflow privacy``: the data-protection officer's commands (UU 27/2022,
docs/PRIVACY.md) -- export, erase, log, affected, retention -- and the record
of every ``--reveal`` (``record_reveal``, called by the listings)."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, JsonOpt, OfficeOpt, app, chosen, clock, deployment_from, desks, say, table
from mailflow.desk import privacy as desk
from mailflow.errors import MailflowError, NotFound
from mailflow.store import privacy as store

privacy_app = typer.Typer(help="Personal data (UU 27/2022): export, erase, the access log, breach support, "
                               "retention (docs/PRIVACY.md).", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

EmailOpt = Annotated[str | None, typer.Option("--email", help="The person's e-mail address.")]
NikOpt = Annotated[str | None, typer.Option("--nik", help="The person's NIK.")]


def record_reveal(ctx: typer.Context, session, numbers: list[str], what: str) -> None:
    """Log a ``--reveal`` (who, when, which complaints) in the access log, in
    the listing's own session (committed at once: on SQLite a second
    transaction would wait for this one's lock)."""
    store.log_access(session, action="reveal", at=clock(ctx)(), os_user=desk.os_user(), complaints=numbers,
                     detail=what)
    session.commit()


def _selector(number: str | None, email: str | None, nik: str | None) -> dict:
    given = [x for x in (number, email, nik) if x]
    if len(given) != 1:
        raise MailflowError("give exactly one of: a register number, --email ADDRESS or --nik NIK")
    return {"number": number, "email": email, "nik": nik}


@privacy_app.command()
def export(
    ctx: typer.Context,
    email: EmailOpt = None,
    nik: NikOpt = None,
    out: Annotated[Path, typer.Option("--out", help="The folder to write the two files to.")] = Path("."),
    config: ConfigOpt = None,
    office: OfficeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything held about one person (their complaints, mail, hop log and
    outbox rows) as JSON and as a readable document in Bahasa Indonesia, both
    owner-only: the answer to a request for access (within 3x24 hours)."""
    selector = _selector(None, email, nik)
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        now = clock(ctx)()
        with fleet.shared.gate, fleet.shared.factory.begin() as session:
            held = store.find(session, office=office, **selector)
            data = desk.export_data(held, now=now)
            store.log_access(session, action="export", at=now, os_user=desk.os_user(), complaints=held.numbers,
                             detail=desk.describe_selector(**selector)
                             + f"; {len(held.messages)} mails, {len(held.hops)} hops")
        stem = "data-pribadi-" + now.strftime("%Y%m%dT%H%M%SZ")
        json_path, text_path = desk.write_export(data, out, stem)
        if as_json:
            say(json.dumps({"complaints": len(data["complaints"]), "messages": len(data["messages"]),
                            "hops": len(data["hops"]), "outbox": len(data["outbox"]),
                            "json": str(json_path), "document": str(text_path)}))
            return
        say(f"{len(data['complaints'])} complaint(s), {len(data['messages'])} mail(s), {len(data['hops'])} hop(s), "
            f"{len(data['outbox'])} outbox row(s)")
        say(f"written (owner-only): {json_path} and {text_path}")
    finally:
        fleet.close()


@privacy_app.command()
def erase(
    ctx: typer.Context,
    number: Annotated[str | None, typer.Argument(help="A register number (that complaint only).")] = None,
    email: EmailOpt = None,
    nik: NikOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be erased.")] = False,
    include_open: Annotated[bool, typer.Option(
        "--include-open", help="Also erase complaints still open (the office can no longer answer them).")] = False,
    no_imap: Annotated[bool, typer.Option(
        "--no-imap", help="Leave the IMAP folders alone (the mail server is unreachable; delete the mail there "
                          "by hand, see docs/PRIVACY.md).")] = False,
    config: ConfigOpt = None,
    office: OfficeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a person's personal data everywhere mailflow keeps it: the
    complaints' personal fields and description, every archived mail's bytes,
    subject and their addresses (inbound and outbound), outbox recipients,
    their address as a hop's actor and the hops' reasons (pseudonymised), and
    their mail in the processed and quarantine IMAP folders; then the
    database's freed space is scrubbed (SQLite VACUUM). Register numbers,
    services, dates and step times stay, so the monthly reports stay right."""
    selector = _selector(number, email, nik)
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    user = desk.os_user()
    try:
        now = clock(ctx)()
        with fleet.shared.factory() as session:
            plan = desk.plan(session, office=office, **selector)
        if not plan.held:
            raise NotFound("nothing is held about " + desk.describe_selector(**selector).removeprefix("by "))
        still_open = desk.open_complaints(plan.held)
        result: dict = {"dry_run": dry_run, "complaints": sorted(plan.held.numbers), "plan": plan.lines()}
        if not as_json:
            say("Akan dihapus:" if not dry_run else "Yang akan dihapus (--dry-run: tidak ada yang diubah):")
            for line in plan.lines():
                say("  " + line)
        if dry_run:
            with fleet.shared.gate, fleet.shared.factory.begin() as session:
                store.log_access(session, action="erase-dry-run", at=now, os_user=user,
                                 complaints=plan.held.numbers, detail=desk.describe_selector(**selector))
            if as_json:
                say(json.dumps(result))
            return
        if still_open and not include_open:
            raise MailflowError(f"complaint(s) still open: {', '.join(still_open)}; close them first, or pass "
                                "--include-open")
        # With --json the question goes to stderr: stdout holds only the result.
        if not yes and not typer.confirm("Hapus data pribadi ini? Tidak dapat dibatalkan", default=False,
                                         err=as_json):
            raise typer.Exit(1)
        result["imap_deleted"] = {}
        if not no_imap:
            for key, message_ids in plan.imap.items():
                if key in fleet.apps:
                    deleted = desk.delete_from_imap(fleet.apps[key].settings, message_ids)
                    result["imap_deleted"][key] = deleted
                    if not as_json:
                        say(f"IMAP ({key}): {deleted} mail(s) deleted from the processed and quarantine folders")
        with fleet.shared.gate, fleet.shared.factory.begin() as session:
            counts = desk.erase(session, {**selector, "office": office}, now=now, user=user)
        store.scrub_freed_space(fleet.shared.engine)
        if as_json:
            say(json.dumps({**result, "erased": counts}))
            return
        say("erased: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    finally:
        fleet.close()


def _day(text: str, settings) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise MailflowError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(0), tzinfo=settings.office.tz)


@privacy_app.command("log")
def log_(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD, office time).")] = None,
    until: Annotated[str | None, typer.Option(help="Before the end of this day.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 1000,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Who saw what: every --reveal, export and erasure (OS user, time,
    complaints), newest first."""
    deployment = deployment_from(config)
    settings = deployment.offices[0]
    fleet = desks(ctx, deployment)
    try:
        with fleet.shared.factory() as session:
            rows = store.access_log(session, since=_day(since, settings) if since else None,
                                    until=_day(until, settings) + timedelta(days=1) if until else None, limit=limit)
        if as_json:
            say(json.dumps([{"at": r.at.isoformat(), "user": r.os_user, "action": r.action,
                             "complaints": [n for n in r.complaints.split(", ") if n], "detail": r.detail}
                            for r in rows], ensure_ascii=False, indent=2))
            return
        if not rows:
            say("the access log is empty")
            return
        table(["at", "user", "action", "complaints", "detail"],
              [[r.at.astimezone(settings.office.tz).strftime("%Y-%m-%d %H:%M:%S"), r.os_user, r.action,
                r.complaints or "-", r.detail] for r in rows])
    finally:
        fleet.close()


@privacy_app.command()
def affected(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="From this day (YYYY-MM-DD, office time).")],
    until: Annotated[str | None, typer.Option(help="Up to the end of this day (default: today).")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    office: OfficeOpt = None,
) -> None:
    """Whose personal data the mail of a period held (for the 3x24-hour breach
    notice): each person's address, names and complaints. Logged in the access log."""
    deployment = deployment_from(config)
    settings = chosen(deployment, office)[0]
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        now = clock(ctx)()
        start = _day(since, settings)
        end = _day(until, settings) + timedelta(days=1) if until else now + timedelta(seconds=1)  # now included
        with fleet.shared.gate, fleet.shared.factory.begin() as session:
            people = store.affected(session, start, end, office)
            numbers = sorted({n for p in people for n in p.complaints})
            store.log_access(session, action="affected", at=now, os_user=desk.os_user(), complaints=numbers,
                             detail=f"{since} .. {until or 'now'}: {len(people)} person(s)")
        if as_json:
            say(json.dumps([{"email": p.email, "names": sorted(p.names), "complaints": sorted(p.complaints),
                             "mails": p.mails} for p in people], ensure_ascii=False, indent=2))
            return
        say(f"{len(people)} person(s) whose data the mail of {since} .. {until or 'now'} held")
        if people:
            table(["e-mail", "name", "complaints", "mails"],
                  [[p.email, ", ".join(sorted(p.names)) or "-", ", ".join(sorted(p.complaints)) or "-", str(p.mails)]
                   for p in people])
    finally:
        fleet.close()


@privacy_app.command()
def retention(
    ctx: typer.Context,
    config: ConfigOpt = None,
    office: OfficeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the retention pass now (the daemon and the workers run it by
    themselves, hourly): the periods of each office's rules file (its
    privacy table; docs/PRIVACY.md)."""
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        done: dict[str, str] = {}
        for key, application in fleet.apps.items():
            assert application.retention is not None
            result = application.retention.run_all()
            done[key] = result.summary() if result else ""
            if not as_json:
                say(f"{key}: {done[key] or 'nothing expired'}")
        store.scrub_freed_space(fleet.shared.engine)
        if as_json:
            say(json.dumps({"offices": done}))
    finally:
        fleet.close()


@privacy_app.command("new-key")
def new_key(as_json: JsonOpt = False) -> None:
    """Print a new database key (for [database] key_env / key_file: encryption at rest, docs/PRIVACY.md)."""
    from mailflow.store.sealing import new_key as make

    key = make()
    say(json.dumps({"key": key}) if as_json else key)


@privacy_app.command("rotate-key")
def rotate_key(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Seal every complaint's personal fields and every archived mail again
    under the first configured key (after adding a new key in front of the
    old one; also seals data stored before a key was set), and recompute the
    NIK hashes; then scrub the freed space. Stop the daemon first."""
    deployment = deployment_from(config)
    if deployment.database_key is None:
        raise MailflowError("no database key is configured ([database] key_env or key_file): nothing to seal with")
    fleet = desks(ctx, deployment)
    try:
        with fleet.shared.gate, fleet.shared.factory() as session:
            counts = store.reseal(session)
        store.scrub_freed_space(fleet.shared.engine)
        if as_json:
            say(json.dumps({"sealed_again": counts}))
            return
        say(f"sealed again: {counts['complaints']} complaint(s), {counts['messages']} mail(s)")
    finally:
        fleet.close()
