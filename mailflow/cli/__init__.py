"""The ``mailflow`` command line (Typer).

Every command takes ``--config PATH`` (default ``./mailflow.toml``, or the
``MAILFLOW_CONFIG`` environment variable). Errors a user can fix are printed
as one line naming the fix, with exit code 2; NIK/KK are masked unless
``--reveal`` is given.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from sqlalchemy import bindparam, func, select

from mailflow import __version__

from mailflow.store import db
from mailflow.config.settings import Settings, load_settings, redact_url
from mailflow.errors import MailflowError
from mailflow.core.identity import mask_id, mask_ids_in_text
from mailflow.core.ladder import STATUS_WORDS
from mailflow.store.models import OPEN_STATUSES, Complaint, Hop, Message, OutboxItem, utcnow
from mailflow.config.paths import shipped

app = typer.Typer(
    help="mailflow: an email-driven complaint desk for Disdukcapil offices.\n\n"
    "Citizens e-mail complaints (aduan); mailflow fetches them over IMAP, checks the "
    "required format, registers them, acknowledges them, forwards them to the SOP's "
    "role mailboxes, and logs every hop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
rules_app = typer.Typer(help="Rules (SOP ladder) commands.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(config_app, name="config")

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Path to mailflow.toml (default ./mailflow.toml, or $MAILFLOW_CONFIG).",
                 envvar="MAILFLOW_CONFIG", show_envvar=True),
]
RevealOpt = Annotated[bool, typer.Option("--reveal", help="Show NIK/KK numbers in full (personal data, UU 27/2022).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

OPEN = OPEN_STATUSES


@dataclass(frozen=True)
class CliContext:
    """What a caller may hand the commands as Click's context object (``obj``):
    the clock every command reads "now" from (an aware datetime). The console
    script hands none, so the commands run on the real clock; tests hand a
    fake one, ``main(args, obj=CliContext(clock=...))``."""

    clock: Callable[[], datetime] = utcnow


def main(args: list[str] | None = None, *, obj: CliContext | None = None) -> None:
    """Console-script entry point: user-fixable errors become one line and exit 2.
    ``args`` default to the command line; ``obj`` goes to the commands as Click's
    context object. Always ends with SystemExit (Click's standalone mode)."""
    try:
        app(args=args, obj=obj)
    except MailflowError as exc:
        typer.echo(f"mailflow: error: {exc}", err=True)
        sys.exit(2)


def _clock(ctx: typer.Context) -> Callable[[], datetime]:
    """The clock of this invocation: the caller's ``CliContext``, else the real one."""
    return ctx.obj.clock if isinstance(ctx.obj, CliContext) else utcnow


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _setup_logging(settings: Settings | None, fmt: str | None = None) -> None:
    from mailflow.store.hoplog import JsonFormatter, TextFormatter

    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt is None and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level if settings else "INFO")
    # Libraries' own chatter (imapclient logs every command at DEBUG, credentials
    # included) stays out unless asked for.
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _bound_memory() -> None:
    """Keep glibc from holding on to freed large buffers (a mail with a 5 MB
    attachment passes through several): by default its mmap threshold rises
    to the largest block freed, after which such blocks come from the heap
    and its high-water mark stays, so the daemon's RSS crept up mail by mail
    (+70 MB over 30 such mails, measured). A fixed threshold sends them to
    mmap and back to the system when freed. No-op where there is no glibc."""
    import ctypes
    import ctypes.util

    M_MMAP_THRESHOLD = -3
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 256 * 1024)
    except (OSError, AttributeError):
        pass


def _build(ctx: typer.Context, settings: Settings, check_schema: bool = True):
    from mailflow.runner.app import build

    return build(settings, clock=_clock(ctx), check_schema=check_schema)


# --------------------------------------------------------------------------- init
@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write mailflow.toml, rules/ and the database.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing mailflow.toml.")] = False,
) -> None:
    """Write a starter mailflow.toml and rules/ here, and create the database."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "mailflow.toml"
    if target.exists() and not force:
        raise MailflowError(f"{target} exists already (use --force to overwrite it)")
    shutil.copyfile(shipped("mailflow.toml"), target)
    rules_dir = directory / "rules"
    rules_dir.mkdir(exist_ok=True)
    for src in sorted(shipped("rules").glob("*.toml")):
        dest = rules_dir / src.name
        if not dest.exists():
            shutil.copyfile(src, dest)
    typer.echo(f"wrote {target} and {rules_dir}/")
    settings = load_settings(target)
    engine = db.make_engine(settings.database_url)
    before, after = db.upgrade(engine)
    engine.dispose()
    typer.echo(f"database {redact_url(settings.database_url)} at schema {after}")
    typer.echo("next: edit mailflow.toml (servers, addresses) and rules/, then run `mailflow config check`")


# --------------------------------------------------------------------------- db
@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create the schema or bring it up to this version of mailflow."""
    settings = _settings(config)
    engine = db.make_engine(settings.database_url)
    before, after = db.upgrade(engine)
    engine.dispose()
    if before == after:
        typer.echo(f"database already at schema {after}")
    else:
        typer.echo(f"database upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status(config: ConfigOpt = None) -> None:
    """Show the schema version of the database and the one this mailflow needs."""
    settings = _settings(config)
    engine = db.make_engine(settings.database_url)
    current, head = db.current_revision(engine), db.head_revision()
    engine.dispose()
    typer.echo(f"database: {redact_url(settings.database_url)}\nschema:   {current or 'none'}\nneeded:   {head}")
    if current != head:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- config / rules
@config_app.command("check")
def config_check(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Validate mailflow.toml, its rules file and templates, and the database schema."""
    settings = _settings(config)
    application = _build(ctx, settings, check_schema=False)
    try:
        db.check_schema(application.engine)
        schema = "up to date"
    except MailflowError as exc:
        schema = str(exc)
    typer.echo(f"config:    {settings.path} OK")
    typer.echo(f"rules:     {application.rules.path} OK ({len(application.rules.steps)} steps, {len(application.rules.roles)} roles)")
    typer.echo(f"templates: {len(application.renderer.names())} found")
    typer.echo(f"database:  {redact_url(settings.database_url)}: {schema}")
    try:
        settings.check_secrets()
        typer.echo("secrets:   found (not shown)")
    except MailflowError as exc:
        typer.echo(f"secrets:   {exc}")
    application.close()


@rules_app.command("check")
def rules_check(
    file: Annotated[Optional[Path], typer.Argument(help="A rules file (default: the one mailflow.toml names).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate a rules file and print its ladder as a table."""
    from mailflow.config.rules import CITIZEN, SECTION_ROLE, load_rules

    path = file if file is not None else _settings(config).office.rules
    rules = load_rules(path)
    typer.echo(f"{path}: OK — {rules.office}" + (f" ({rules.sop})" if rules.sop else ""))
    typer.echo("")
    rows = []
    for i, step in enumerate(rules.steps, 1):
        if step.role == CITIZEN:
            who = "Pemohon (warga)"
        elif step.role == SECTION_ROLE:
            who = "Kepala Seksi sesuai seksi aduan"
        else:
            who = rules.roles[step.role].name
        replies = "(otomatis)" if step.auto else ", ".join(f"#{w} → {t}" for w, t in step.actions.items())
        if step.confirm:
            replies += f'; perlu konfirmasi "{step.confirm}"'
        rows.append([str(i), step.key, who, str(step.standard), replies, step.name])
    _table(["#", "step", "held by", "standard", "replies", "what happens"], rows)
    total = rules.total_standard
    if total:
        typer.echo(f"\ntotal standard: {total}")
    a = rules.answer
    approver = "Kepala Seksi sesuai seksi aduan" if a.approver in ("", SECTION_ROLE) else rules.roles[a.approver].name
    typer.echo(f"\nanswers: a draft from a role below rank {a.min_rank} is approved by {approver} "
               f"(standard {a.approval_standard})"
               + (f"; approved answers are sent at step {a.send_step}" if a.send_step else "; approved answers go out at once")
               + f"; the citizen may reopen within {a.reopen_days} day(s)")
    typer.echo("\nroles:")
    for role in rules.roles.values():
        deputies = f", deputies {', '.join(role.deputies)}" if role.deputies else ""
        typer.echo(f"  {role.key:<16} rank {role.rank}  {role.name} <{', '.join(role.members)}>{deputies}")


# --------------------------------------------------------------------------- daemon
@app.command()
def run(
    ctx: typer.Context,
    config: ConfigOpt = None,
    log_format: Annotated[Optional[str], typer.Option(help="text or json (default: text on a terminal, else json).")] = None,
) -> None:
    """Run the daemon: poll the complaint mailbox and drain the outbox until SIGTERM/Ctrl-C."""
    settings = _settings(config)
    settings.check_secrets()
    _setup_logging(settings, log_format)
    _bound_memory()
    application = _build(ctx, settings)
    try:
        application.daemon().run()
    finally:
        application.close()


@app.command()
def poll(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass (interrupted sends, intake, deadlines, outbox), then exit.")] = False,
    config: ConfigOpt = None,
    log_format: Annotated[Optional[str], typer.Option(help="text or json.")] = None,
) -> None:
    """One pass of the daemon, then exit (for cron or a manual check): sends a
    crash interrupted are resolved, new mail is taken in, deadlines are done,
    the outbox is drained. Exit code 1 if a mail server could not be reached
    (what could be done was done)."""
    if not once:
        raise MailflowError("`mailflow poll` needs --once (use `mailflow run` for the daemon)")
    settings = _settings(config)
    settings.check_secrets()
    _setup_logging(settings, log_format)
    _bound_memory()
    application = _build(ctx, settings)
    daemon = application.daemon()
    from mailflow.errors import MailServerError, TLSRequiredError
    from mailflow.edges.mailbox import NETWORK_ERRORS

    try:
        try:
            result = daemon.run_once()
        except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
            typer.echo(f"mailflow: mail server problem: {exc}", err=True)
            raise typer.Exit(1)
        typer.echo(result.summary())
    finally:
        daemon.mailbox.close()
        application.close()


# --------------------------------------------------------------------------- queue / show
def _local(dt: datetime | None, settings: Settings) -> str:
    return dt.astimezone(settings.office.tz).strftime("%Y-%m-%d %H:%M") if dt else "-"


def _remaining(due: datetime | None, now: datetime, calendar) -> str:
    """Working time left until ``due`` ("1h05m"), or how much working time it is
    overdue ("late 0h20m"), by the office calendar (SOP minutes are working time)."""
    if due is None:
        return "-"
    if due >= now:
        return _hm(calendar.working_minutes_between(now, due))
    return "late " + _hm(calendar.working_minutes_between(due, now))


def _hm(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    return f"{hours}h{mins:02d}m"


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    typer.echo(line.rstrip())
    typer.echo("  ".join("-" * w for w in widths))
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


@app.command()
def queue(
    ctx: typer.Context,
    config: ConfigOpt = None,
    status: Annotated[Optional[list[str]], typer.Option("--status", "-s", help="Only these statuses (repeatable); default: all open ones.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include closed complaints.")] = False,
    outbox: Annotated[bool, typer.Option("--outbox", help="List outbound mail not yet sent (pending, sending, failed) instead.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only complaints past the due time of their step.")] = False,
    sort: Annotated[str, typer.Option(help="Order by 'received' (oldest first) or 'due' (soonest first).")] = "received",
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    as_json: JsonOpt = False,
    reveal: RevealOpt = False,
) -> None:
    """List open complaints: number, status, step, holder, due time and the working
    time left (or how late it is), complainant."""
    settings = _settings(config)
    application = _build(ctx, settings)
    try:
        with application.factory() as session:
            if outbox:
                _print_outbox(session, settings, limit, as_json)
                return
            if sort not in ("received", "due"):
                raise MailflowError("--sort must be 'received' or 'due'")
            now = _clock(ctx)()
            order = (Complaint.due_at, Complaint.id) if sort == "due" or overdue else (Complaint.created_at, Complaint.id)
            stmt = select(Complaint).order_by(*order).limit(limit)
            if overdue:
                # uses the index on due_at; closed complaints have no due time
                stmt = stmt.where(Complaint.due_at.is_not(None), Complaint.due_at < now)
            if status:
                stmt = stmt.where(Complaint.status.in_(status))
            elif not all_:
                # As literals, so that the partial index of open complaints
                # (ix_complaints_open_created_at) is usable on SQLite too.
                stmt = stmt.where(Complaint.status.in_(
                    bindparam("open_statuses", list(OPEN), expanding=True, literal_execute=True)))
            complaints = session.scalars(stmt).all()
            roles = application.rules.roles
            if as_json:
                typer.echo(json.dumps([_complaint_json(c, reveal, now) for c in complaints], ensure_ascii=False, indent=2))
                return
            if not complaints:
                typer.echo("no complaints" + ("" if all_ or status else " open"))
                return
            rows = [
                [
                    c.number,
                    _local(c.created_at, settings),
                    STATUS_WORDS.get(c.status, c.status),
                    c.step or "-",
                    roles[c.holder_role].name if c.holder_role in roles else (c.holder_role or "-"),
                    _local(c.due_at, settings),
                    _remaining(c.due_at, now, application.rules.calendar),
                    c.category_name,
                    c.complainant_name,
                    c.nik if reveal else mask_id(c.nik),
                ]
                for c in complaints
            ]
            _table(["number", "received", "status", "step", "holder", "due", "left (working)", "category", "complainant", "NIK"], rows)
    finally:
        application.close()


def _print_outbox(session, settings: Settings, limit: int, as_json: bool) -> None:
    rows = session.execute(
        select(OutboxItem, Message)
        .join(Message, Message.id == OutboxItem.message_pk)
        .where(OutboxItem.state != "sent")
        .order_by(OutboxItem.id)
        .limit(limit)
    ).all()
    if as_json:
        typer.echo(json.dumps([
            {"id": o.id, "state": o.state, "kind": o.kind, "to": o.recipients, "message_id": m.message_id,
             "attempts": o.attempts, "last_error": o.last_error, "next_attempt_at": o.next_attempt_at.isoformat()}
            for o, m in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("outbox empty: every mail has been sent")
        return
    _table(["id", "state", "kind", "to", "attempts", "next try", "last error"],
           [[str(o.id), o.state, o.kind, o.recipients, str(o.attempts), _local(o.next_attempt_at, settings),
             (o.last_error or "")[:60]] for o, m in rows])


def _complaint_json(c: Complaint, reveal: bool, now: datetime) -> dict:
    return {
        "number": c.number, "status": c.status, "step": c.step, "holder_role": c.holder_role,
        "category": c.category, "category_name": c.category_name, "section": c.section, "channel": c.channel,
        "complainant": {
            "name": c.complainant_name, "email": c.complainant_email,
            "nik": c.nik if reveal else mask_id(c.nik),
            "kk": (c.kk if reveal else mask_id(c.kk)) if c.kk else None,
            "phone": c.phone, "address": c.address,
        },
        "description": c.description if reveal else mask_ids_in_text(c.description),
        "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
        "due_at": c.due_at.isoformat() if c.due_at else None,
        "overdue": bool(c.due_at and c.due_at < now),
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
    }


HOP_WORDS = {
    "received": "Surel diterima",
    "parsed": "Isi aduan dibaca",
    "rejected": "Format aduan ditolak",
    "registered": "Aduan didaftarkan",
    "acknowledged": "Tanda terima disiapkan untuk pelapor",
    "forwarded": "Diteruskan",
    "attached": "Surel tambahan dari pelapor",
    "sent": "Surel terkirim",
    "failed": "Surel gagal terkirim",
    "ignored": "Diabaikan",
    "quarantined": "Dikarantina",
    "resent": "Dikirim ulang",
    "comment": "Catatan",
    "returned": "Dikembalikan",
    "drafted": "Draf jawaban dibuat",
    "approved": "Jawaban disetujui",
    "answered": "Jawaban dikirim kepada pelapor",
    "info-requested": "Pelapor dimintai keterangan",
    "reopened": "Dibuka kembali oleh pelapor",
    "closed": "Selesai dan diarsipkan",
    "refused": "Ditolak (tidak ada perubahan)",
    "bounced": "Surel tidak sampai (dikembalikan server penerima)",
    "reminded": "Pengingat batas waktu",
    "overdue": "Melewati batas waktu",
}


@app.command()
def show(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The register number, e.g. ADU/2026/000123.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    reveal: RevealOpt = False,
) -> None:
    """Show one complaint and its whole hop log, in time order."""
    settings = _settings(config)
    application = _build(ctx, settings)
    now = _clock(ctx)()
    try:
        with application.factory() as session:
            c = session.scalar(select(Complaint).where(func.upper(Complaint.number) == number.upper()))
            if c is None:
                from mailflow.errors import NotFound

                raise NotFound(f"no complaint numbered {number!r} (see `mailflow queue --all`)")
            hops = session.scalars(select(Hop).where(Hop.complaint_id == c.id).order_by(Hop.at, Hop.id)).all()
            # Hops of the complaint's own inbound mail recorded before it had a number.
            # Found through ix_hops_message_pk; "no complaint yet" is checked here, not in
            # SQL, where the planner could pick the complaint_id index for "IS NULL" and
            # walk every such hop in the log.
            early = [h for h in session.scalars(
                select(Hop).where(Hop.message_pk.in_(select(Message.id).where(Message.complaint_id == c.id)))
            ) if h.complaint_id is None]
            hops = sorted([*hops, *early], key=lambda h: (h.at, h.id))
            if as_json:
                out = _complaint_json(c, reveal, now)
                out["hops"] = [
                    {"at": h.at.isoformat(), "kind": h.kind, "actor": h.actor, "from_state": h.from_state,
                     "to_state": h.to_state, "message_id": h.message_id, "reason": h.reason}
                    for h in hops
                ]
                typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
                return
            roles = application.rules.roles
            holder = roles[c.holder_role].name if c.holder_role in roles else (c.holder_role or "-")
            nik = c.nik if reveal else mask_id(c.nik)
            kk = (c.kk if reveal else mask_id(c.kk)) if c.kk else "-"
            typer.echo(f"Aduan {c.number} — {STATUS_WORDS.get(c.status, c.status)}")
            typer.echo(f"  Diterima     : {_local(c.created_at, settings)}")
            typer.echo(f"  Pelapor      : {c.complainant_name} <{c.complainant_email}>, HP {c.phone}")
            typer.echo(f"  NIK / No. KK : {nik} / {kk}")
            typer.echo(f"  Alamat       : {c.address}")
            typer.echo(f"  Jenis layanan: {c.category_name} ({application.rules.section_names.get(c.section, c.section)})")
            if c.status == "closed":
                typer.echo(f"  Tahap kini   : selesai {_local(c.closed_at, settings)}"
                           + (f" (dijawab pada tahap {c.answered_step})" if c.answered_step else ""))
            else:
                step_name = application.rules.step(c.step).name if c.step else "-"
                typer.echo(f"  Tahap kini   : {step_name} ({c.step}), dipegang {holder}")
            if c.due_at and c.status != "closed":
                left = _remaining(c.due_at, now, application.rules.calendar)
                typer.echo(f"  Batas waktu  : {_local(c.due_at, settings)} "
                           f"({'terlambat ' + left[5:] if left.startswith('late') else 'sisa ' + left} jam kerja)")
            typer.echo("  Uraian       :")
            for line in (c.description if reveal else mask_ids_in_text(c.description)).splitlines() or [""]:
                typer.echo(f"    {line}")
            typer.echo("")
            typer.echo("Riwayat (hop log):")
            for h in hops:
                states = f" [{h.from_state or '-'} → {h.to_state}]" if h.to_state else ""
                who = "" if h.actor == "mailflow" else f" oleh {h.actor}"
                typer.echo(f"  {_local(h.at, settings)}  {HOP_WORDS.get(h.kind, h.kind)}{who}{states}")
                if h.reason:
                    typer.echo(f"      {h.reason if reveal else mask_ids_in_text(h.reason)}")
                if h.message_id:
                    typer.echo(f"      Message-ID <{h.message_id}>")
    finally:
        application.close()


# --------------------------------------------------------------------------- report
@app.command()
def report(
    ctx: typer.Context,
    month: Annotated[Optional[str], typer.Option(
        "--month", "-m", help="The calendar month, YYYY-MM (default: the previous month, in the office's time zone).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, html (one printable page), csv or json.")] = "text",
    output: Annotated[Optional[Path], typer.Option(
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
    from mailflow.report import formats
    from mailflow.report.figures import Month
    from mailflow.report.query import MonthNotBegun

    if fmt not in formats.FORMATS:
        raise MailflowError(f"--format must be one of {', '.join(formats.FORMATS)}, got {fmt!r}")
    if force and not send:
        raise MailflowError("--force only goes with --send (it mails a month that was mailed already)")
    if limit < 0:
        raise MailflowError("--limit must be 0 or more")
    settings = _settings(config)
    application = _build(ctx, settings)
    try:
        now = _clock(ctx)()
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
            output.write_bytes(content)
            typer.echo(f"wrote {output} ({fmt}, {len(content)} bytes)")
    finally:
        application.close()


# --------------------------------------------------------------------------- resend
@app.command()
def resend(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A register number (all its outbound mail that failed, or its last mail) or a Message-ID.")],
    config: ConfigOpt = None,
) -> None:
    """Put outbound mail back in the outbox: a failed one is retried as it was;
    a sent one goes again under a new Message-ID with Resent-* headers."""
    from mailflow.desk.resend import resend as do_resend

    settings = _settings(config)
    application = _build(ctx, settings)
    try:
        with application.factory.begin() as session:
            lines = do_resend(session, settings, target, now=_clock(ctx)())
        for line in lines:
            typer.echo(line)
    finally:
        application.close()


@app.command()
def version() -> None:
    """Print mailflow's version."""
    typer.echo(f"mailflow {__version__}")
