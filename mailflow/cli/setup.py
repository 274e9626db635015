"""Setting an office up: ``init``, ``db upgrade|status``, ``config check``, ``rules check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, app, build, config_app, db_app, rules_app, settings_from, table
from mailflow.config.paths import readable_by_others, shipped, write_private
from mailflow.config.rules import load_rules
from mailflow.config.settings import load_settings, redact_url
from mailflow.core.sop import CITIZEN, SECTION_ROLE
from mailflow.errors import MailflowError
from mailflow.store import db


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write mailflow.toml, rules/ and the database.")] = Path("."),
    data: Annotated[Path | None, typer.Option(
        help="Put the SQLite database in this folder instead (created owner-only), e.g. /var/lib/mailflow: "
             "configuration in /etc, data where the service may write.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing mailflow.toml.")] = False,
) -> None:
    """Write a starter mailflow.toml and rules/ here, and create the database."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "mailflow.toml"
    if target.exists() and not force:
        raise MailflowError(f"{target} exists already (use --force to overwrite it)")
    text = shipped("mailflow.toml").read_bytes()
    if data is not None:
        data = data.resolve()
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        data.chmod(0o700)  # it holds personal data (NIK, No. KK)
        default_url = b'url = "sqlite:///mailflow.db"'
        assert default_url in text, "the shipped mailflow.toml's database.url changed"
        text = text.replace(default_url, b'url = "sqlite:///' + str(data / "mailflow.db").encode() + b'"')
    # Owner-only, like everything mailflow writes (docs/SECURITY.md).
    write_private(target, text)
    rules_dir = directory / "rules"
    rules_dir.mkdir(exist_ok=True)
    for src in sorted(shipped("rules").glob("*.toml")):
        dest = rules_dir / src.name
        if not dest.exists():
            write_private(dest, src.read_bytes())
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
    settings = settings_from(config)
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
    settings = settings_from(config)
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
    settings = settings_from(config)
    application = build(ctx, settings, check_schema=False)
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
    for what, path in _private_files(settings):
        if readable_by_others(path):
            typer.echo(f"warning:   {what} {path} can be read by other users of this machine; "
                       f"run `chmod 600 {path}` (it holds {'personal data' if what == 'database' else 'secrets'})")
    application.close()


def _private_files(settings) -> list[tuple[str, Path]]:
    """The files others must not read: the SQLite database and its WAL, the
    config, and the password files it names."""
    found = [("config", settings.path)]
    database = db.sqlite_path(settings.database_url)
    if database is not None:
        found += [("database", p) for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]
    for section, server in (("imap", settings.imap), ("smtp", settings.smtp)):
        source = server.password.source_file
        if source is not None:
            found.append((f"{section}.password_file", source))
    return found


@rules_app.command("check")
def rules_check(
    file: Annotated[Path | None, typer.Argument(help="A rules file (default: the one mailflow.toml names).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate a rules file and print its ladder as a table."""
    path = file if file is not None else settings_from(config).office.rules
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
    table(["#", "step", "held by", "standard", "replies", "what happens"], rows)
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
