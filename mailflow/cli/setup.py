"""Setting an office up: ``init``, ``db upgrade|status``, ``config check``, ``rules check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mailflow.cli import messages
from mailflow.cli.base import (
    ConfigOpt,
    JsonOpt,
    app,
    clock,
    config_app,
    db_app,
    deployment_from,
    emit_json,
    lang,
    many,
    msg,
    rules_app,
    settings_from,
    table,
)
from mailflow.config.paths import readable_by_others, shipped, write_private
from mailflow.config.rules import load_rules
from mailflow.config.settings import load_settings, redact_url
from mailflow.core.sop import CITIZEN, SECTION_ROLE
from mailflow.errors import MailflowError
from mailflow.store import db


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to write mailflow.toml, rules/ and the database.")] = Path("."),
    data: Annotated[Path | None, typer.Option(
        help="Put the SQLite database in this folder instead (created owner-only), e.g. /var/lib/mailflow: "
             "configuration in /etc, data where the service may write.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing mailflow.toml.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a starter mailflow.toml and rules/ here, and create the database.
    --json: {"config", "rules", "database" (URL without password), "schema"}."""
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
    if not as_json:
        typer.echo(msg(ctx, "init.wrote", config=target, rules=f"{rules_dir}/"))
    settings = load_settings(target)
    engine = db.make_engine(settings.database_url)
    before, after = db.upgrade(engine)
    engine.dispose()
    if as_json:
        emit_json({"config": str(target), "rules": str(rules_dir), "database": redact_url(settings.database_url),
                   "schema": after})
        return
    typer.echo(msg(ctx, "init.database", database=redact_url(settings.database_url), schema=after))
    typer.echo(msg(ctx, "init.next"))


# --------------------------------------------------------------------------- db
@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Create the schema or bring it up to this version of mailflow.
    --json: {"database", "before" (null: empty), "after", "upgraded"}."""
    settings = settings_from(config)
    engine = db.make_engine(settings.database_url)
    before, after = db.upgrade(engine)
    engine.dispose()
    if as_json:
        emit_json({"database": redact_url(settings.database_url), "before": before, "after": after,
                   "upgraded": before != after})
    elif before == after:
        typer.echo(msg(ctx, "db.already", schema=after))
    else:
        typer.echo(msg(ctx, "db.upgraded", before=before or msg(ctx, "db.empty"), after=after))


@db_app.command("status")
def db_status(ctx: typer.Context, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show the schema version of the database and the one this mailflow
    needs. Exit code 1 if they differ."""
    settings = settings_from(config)
    engine = db.make_engine(settings.database_url)
    try:
        current, head = db.current_revision(engine), db.head_revision()
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"database": redact_url(settings.database_url), "schema": current, "needed": head,
                               "up_to_date": current == head}, indent=2))
    else:
        typer.echo(msg(ctx, "db.status", database=redact_url(settings.database_url),
                       schema=current or msg(ctx, "status.none"), needed=head))
    if current != head:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- config / rules
@config_app.command("check")
def config_check(
    ctx: typer.Context,
    connect: Annotated[bool, typer.Option(
        "--connect", help="Also log in to every office's IMAP server (and select its folder) and SMTP server "
                          "(EHLO, and login if smtp.username is set), and say what failed and how to fix it.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Validate mailflow.toml (every office), its rules files and templates,
    the secrets (password_env / password_file) and the database schema; with
    --connect, the mail servers too. Exit code 1 if a secret is missing, the
    schema is not at this mailflow's head, or (--connect) a login failed;
    warnings (files others can read) do not fail it."""
    from sqlalchemy.exc import SQLAlchemyError

    from mailflow.runner.fleet import Fleet

    deployment = deployment_from(config)
    checks: list[dict[str, Any]] = []
    language = messages.ENGLISH if as_json else lang(ctx)  # --json is the same in every language

    def t(key: str, **fields: object) -> str:
        return messages.text(language, key, **fields)

    def add(check: str, ok: bool, detail: str, office: str | None = None, level: str | None = None) -> None:
        checks.append({"office": office, "check": check, "ok": ok,
                       "level": level or ("ok" if ok else "error"), "detail": detail})

    add("config", True, t("check.ok", path=deployment.path))
    fleet = Fleet.build(deployment, clock=clock(ctx), check_schema=False)
    try:
        try:
            db.check_schema(fleet.shared.engine)
            add("database", True, t("check.up_to_date", database=redact_url(deployment.database_url)))
        except MailflowError as exc:
            add("database", False, f"{redact_url(deployment.database_url)}: {exc}")
        except SQLAlchemyError as exc:
            found = db.database_problem(exc, deployment.database_url)
            add("database", False, t(f"db.{found[0]}", **found[1]) if found else str(exc).splitlines()[0])
        for key, application in fleet.apps.items():
            office = key if many(deployment) else None
            settings = application.settings
            add("rules", True, t("check.rules_ok", path=application.rules.path, steps=len(application.rules.steps),
                                 roles=len(application.rules.roles)), office)
            add("templates", True, t("check.templates_found", count=len(application.renderer.names())), office)
            try:
                settings.check_secrets()
                add("secrets", True, t("check.secrets_found"), office)
            except MailflowError as exc:
                add("secrets", False, str(exc), office)
            tokens = application.outbox.tokens
            if tokens is not None:  # an OAuth2 mailbox: is its token stored, and can it be read?
                try:
                    stored = tokens.current()
                    if stored is None:
                        add("oauth2", False, t("check.token_missing", account=tokens.account), office)
                    else:
                        renewable = bool(stored.refresh_token) or stored.flow == "client_credentials"
                        add("oauth2", renewable, t("check.token_renewable" if renewable else "check.token_not_renewable",
                                                   account=tokens.account, flow=stored.flow), office)
                except (MailflowError, SQLAlchemyError) as exc:
                    add("oauth2", False, str(exc).splitlines()[0], office)
            for what, path in _private_files(settings):
                if readable_by_others(path):
                    add("permissions", True, t("check.readable_database" if what == "database"
                                               else "check.readable_secrets", what=what, path=path),
                        office, level="warning")
            if connect:
                for server, problem in (("imap", _try_imap(settings, tokens)), ("smtp", _try_smtp(settings, tokens))):
                    cfg = settings.imap if server == "imap" else settings.smtp
                    done = (t("check.logged_in_imap", where=f"{cfg.host}:{cfg.port}", folder=settings.imap.folder)
                            if server == "imap" else t("check.logged_in_smtp", where=f"{cfg.host}:{cfg.port}"))
                    add(server, problem is None, problem or done, office)
    finally:
        fleet.close()
    failed = [c for c in checks if not c["ok"]]
    if as_json:
        typer.echo(json.dumps({"ok": not failed, "checks": checks}, indent=2))
    else:
        labels = [msg(ctx, "check.warning") if c["level"] == "warning" else msg(ctx, f"check.{c['check']}")
                  for c in checks]
        pad = max(10, *(len(label) + 1 for label in labels))
        for c, label in zip(checks, labels, strict=True):
            where = f"[{c['office']}] " if c["office"] else ""
            mark = "" if c["ok"] else msg(ctx, "check.failed")
            typer.echo(f"{label + ':':<{pad}} {where}{mark}{c['detail']}")
    if failed:
        raise typer.Exit(1)


def _secret_fix(section: str, cfg) -> str:
    """Where the password of ``section`` comes from, as the fix to name."""
    if cfg.password.source_env:
        return f"set the environment variable {cfg.password.source_env} ({section}.password_env) to the right password"
    if cfg.password.source_file:
        return f"put the right password in {cfg.password.source_file} ({section}.password_file)"
    return f"set {section}.password_env or {section}.password_file"


def _server_problem(section: str, cfg, exc: BaseException) -> str:
    """One line of what went wrong logging in to ``cfg``'s server, and the fix."""
    from mailflow.errors import CredentialError, TLSRequiredError, TokenRefreshError

    where = f"{cfg.host}:{cfg.port}"
    if isinstance(exc, TokenRefreshError) or (isinstance(exc, CredentialError) and cfg.auth == "oauth2"):
        return f"{where}: {exc}"
    if isinstance(exc, CredentialError):
        return (f"{where}: login as {cfg.username!r} refused (wrong user name or password): "
                f"check {section}.username, and {_secret_fix(section, cfg)}")
    if isinstance(exc, TLSRequiredError):
        return str(exc)
    if isinstance(exc, MailflowError) and "not set" in str(exc):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.split(f"{where}: ", 1)[-1]  # the edge's "cannot connect to IMAP server host:port: ..."
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower() or "connect" in text.lower():
        return (f"cannot connect to {where} ({text}): is the server running there? "
                f"Check {section}.host and {section}.port (and {section}.security)")
    return f"{where}: {type(exc).__name__}: {text}"


def _try_imap(settings, tokens=None) -> str | None:
    """Log in to the office's IMAP server and select its folder: None, or what failed and the fix."""
    from mailflow.edges.mailbox import Mailbox

    box = Mailbox(settings.imap, tokens)
    try:
        box.select()
    except Exception as exc:  # every failure is said, with its fix
        return _server_problem("imap", settings.imap, exc)
    finally:
        box.close()
    return None


def _try_smtp(settings, tokens=None) -> str | None:
    """EHLO (and log in, if configured) at the office's SMTP server: None, or what failed and the fix."""
    import asyncio

    from mailflow.edges.smtp import SmtpSender

    try:
        asyncio.run(SmtpSender(settings.smtp, tokens, settings.imap.username or "").check())
    except Exception as exc:  # every failure is said, with its fix
        return _server_problem("smtp", settings.smtp, exc)
    return None


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
    if settings.oauth2 is not None:  # the token key and the app's secret (OAuth2 mailboxes)
        for key, secret in (("oauth2.key_file", settings.oauth2.key), ("oauth2.client_secret_file",
                                                                        settings.oauth2.client_secret)):
            if secret.source_file is not None and secret.source_file.exists():
                found.append((key, secret.source_file))
    return found


@rules_app.command("check")
def rules_check(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="A rules file (default: the one mailflow.toml names).")] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checked ladder as JSON.")] = False,
) -> None:
    """Validate a rules file and print its ladder as a table (--json: the
    ladder, the answer rules and the roles as data)."""
    path = file if file is not None else settings_from(config).office.rules
    rules = load_rules(path)
    if as_json:
        typer.echo(json.dumps(_rules_json(path, rules), ensure_ascii=False, indent=2))
        return
    typer.echo(msg(ctx, "rules.ok", path=path, office=rules.office) + (f" ({rules.sop})" if rules.sop else ""))
    typer.echo("")
    rows = []
    for i, step in enumerate(rules.steps, 1):
        who = _held_by(step.role, rules)
        replies = "(otomatis)" if step.auto else ", ".join(f"#{w} → {t}" for w, t in step.actions.items())
        if step.confirm:
            replies += f'; perlu konfirmasi "{step.confirm}"'
        rows.append([str(i), step.key, who, str(step.standard), replies, step.name])
    table(["#", *(msg(ctx, f"rules.col.{c}") for c in ("step", "held_by", "standard", "replies", "what"))], rows,
          language=lang(ctx))
    total = rules.total_standard
    if total:
        typer.echo("\n" + msg(ctx, "rules.total", total=total))
    a = rules.answer
    approver = "Kepala Seksi sesuai seksi aduan" if a.approver in ("", SECTION_ROLE) else rules.roles[a.approver].name
    sent = msg(ctx, "rules.sent_at", step=a.send_step) if a.send_step else msg(ctx, "rules.sent_at_once")
    typer.echo("\n" + msg(ctx, "rules.answers", rank=a.min_rank, approver=approver, standard=a.approval_standard,
                          sent=sent, days=a.reopen_days))
    typer.echo("\n" + msg(ctx, "rules.roles"))
    for role in rules.roles.values():
        deputies = msg(ctx, "rules.deputies", deputies=", ".join(role.deputies)) if role.deputies else ""
        typer.echo(f"  {role.key:<16} " + msg(ctx, "rules.rank", rank=role.rank)
                   + f"  {role.name} <{', '.join(role.members)}>{deputies}")


def _rules_json(path: Path, rules) -> dict[str, Any]:
    """What `rules check` prints, as data: the ladder, the answer rules and the roles."""
    def standard(value) -> dict[str, Any]:
        return {"amount": value.amount, "unit": value.unit, "text": str(value)}

    a = rules.answer
    return {
        "file": str(path), "ok": True, "office": rules.office, "sop": rules.sop,
        "steps": [{"key": step.key, "name": step.name, "role": step.role,
                   "held_by": _held_by(step.role, rules),
                   "standard": standard(step.standard), "auto": step.auto, "actions": dict(step.actions),
                   "confirm": step.confirm or None}
                  for step in rules.steps],
        "total_standard": str(rules.total_standard) if rules.total_standard else None,
        "answer": {"min_rank": a.min_rank, "approver": a.approver or SECTION_ROLE, "send_step": a.send_step or None,
                   "reopen_days": a.reopen_days, "approval_standard": standard(a.approval_standard)},
        "roles": [{"key": r.key, "name": r.name, "rank": r.rank, "members": list(r.members),
                   "deputies": list(r.deputies)} for r in rules.roles.values()],
    }


def _held_by(role: str, rules) -> str:
    """Who holds a step, as people read it."""
    if role == CITIZEN:
        return "Pemohon (warga)"
    if role == SECTION_ROLE:
        return "Kepala Seksi sesuai seksi aduan"
    return rules.roles[role].name
