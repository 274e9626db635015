"""The offices of a deployment: ``office list``, ``office check [KEY]`` and
``office add KEY`` (a new ``<deployment folder>/<KEY>.toml``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from mailflow.cli.base import ConfigOpt, JsonOpt, app, chosen, deployment_from, emit_json, lang, msg, say, table
from mailflow.config.paths import write_private
from mailflow.config.rules import load_rules
from mailflow.config.settings import ALL_OFFICES, OFFICE_KEY, Deployment, Settings, load_deployment
from mailflow.errors import ConfigError, MailflowError, RulesError, SchemaOutOfDate
from mailflow.store import db, queries

office_app = typer.Typer(help="The offices of the configuration: list, check, add.", no_args_is_help=True)
app.add_typer(office_app, name="office")

T = TypeVar("T")


def _from_database(deployment: Deployment, read: Callable[[Session], T]) -> tuple[T | None, str]:
    """``read`` run on the deployment's database, or (None, why not): a
    database that does not exist yet (never created by this command), has an
    old schema, or cannot be reached."""
    database = db.sqlite_path(deployment.database_url)
    if database is not None and not database.exists():
        return None, f"no database yet at {database} (run `mailflow db upgrade`)"
    engine = db.make_engine(deployment.database_url)
    try:
        db.check_schema(engine)
        with db.session_factory(engine)() as session:
            return read(session), ""
    except SchemaOutOfDate as exc:
        return None, str(exc)
    except Exception as exc:
        if not db.is_database_error(exc):
            raise
        cause = getattr(exc, "orig", None) or exc
        return None, f"the database cannot be read ({type(cause).__name__}: {str(cause).strip().splitlines()[0]})"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- list
@office_app.command("list")
def office_list(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List the offices of the config: key, name, complaint address, rules file,
    IMAP mailbox, and how many complaints each has open (if the database can be read)."""
    deployment = deployment_from(config)
    counts, why = _from_database(deployment, queries.open_by_office)
    if as_json:
        say(json.dumps([{
            "key": s.office.key, "name": s.office.name, "complaint_address": s.office.complaint_address,
            "rules": str(s.office.rules), "file": str(s.path),
            "imap": {"username": s.imap.username, "host": s.imap.host, "port": s.imap.port, "folder": s.imap.folder},
            "open": None if counts is None else counts.get(s.office.key, 0),
        } for s in deployment.offices], ensure_ascii=False, indent=2))
        return
    table([msg(ctx, f"office.col.{c}") for c in ("key", "name", "address", "rules", "imap", "open")],
          [[s.office.key, s.office.name, s.office.complaint_address, s.office.rules.name,
            f"{s.imap.username}@{s.imap.host}", "-" if counts is None else str(counts.get(s.office.key, 0))]
           for s in deployment.offices], language=lang(ctx))
    if counts is None:
        say(msg(ctx, "office.not_counted", why=why))


# --------------------------------------------------------------------------- check
@office_app.command("check")
def office_check(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(help="One office's key (default: every office).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate each office's settings and rules file, and look for rows in the
    database whose office key the config does not have (an office renamed or
    removed: no desk reads them any more). Exit code 2 for an invalid office,
    1 for such rows, else 0. --json: {"ok", "offices": [{"office", "ok",
    "error", "note", "file", "rules", "steps", "roles", "imap"}], "database":
    {"checked", "why_not", "unknown_offices" {key: {table: rows}}}}."""
    deployment = deployment_from(config)  # an invalid office file stops here, naming file and key
    broken = 0
    found_offices: list[dict] = []
    lines: list[str] = []
    for s in chosen(deployment, key):
        entry: dict = {"office": s.office.key, "ok": False, "error": None, "note": None, "file": str(s.path),
                       "rules": str(s.office.rules), "steps": None, "roles": None,
                       "imap": f"{s.imap.username}@{s.imap.host} {s.imap.folder}"}
        found_offices.append(entry)
        try:
            rules = load_rules(s.office.rules, default_timezone=s.office.timezone)
        except RulesError as exc:
            broken += 1
            entry["error"] = str(exc)
            lines.append(msg(ctx, "office.error", office=s.office.key, error=exc))
            continue
        if s.office.templates is not None and not s.office.templates.is_dir():
            broken += 1
            entry["error"] = (f"{s.path}: key 'office.templates': expected a folder, "
                              f"got {str(s.office.templates)!r}")
            lines.append(msg(ctx, "office.error", office=s.office.key, error=entry["error"]))
            continue
        entry.update(ok=True, steps=len(rules.steps), roles=len(rules.roles))
        lines.append(msg(ctx, "office.ok", office=s.office.key, name=s.office.name,
                         address=s.office.complaint_address, file=s.path, rules=s.office.rules,
                         steps=len(rules.steps), roles=len(rules.roles), imap=entry["imap"]))
        try:
            s.check_secrets()
        except ConfigError as exc:
            entry["note"] = str(exc)
            lines.append(msg(ctx, "office.note", note=exc))
    found, why = _from_database(deployment, queries.rows_by_office)
    strangers = {} if found is None else {k: v for k, v in found.items() if k not in deployment.keys}
    if found is None:
        lines.append(msg(ctx, "office.db_not_checked", why=why))
    elif not strangers:
        lines.append(msg(ctx, "office.db_ok"))
    for office, tables in sorted(strangers.items()):
        counts = ", ".join(f"{name} {n}" for name, n in sorted(tables.items()))
        lines.append(msg(ctx, "office.strangers", office=repr(office), config=deployment.path, counts=counts,
                         keys=", ".join(deployment.keys)))
    if as_json:
        emit_json({"ok": not broken and not strangers, "offices": found_offices,
                   "database": {"checked": found is not None, "why_not": why or None,
                                "unknown_offices": {k: dict(v) for k, v in sorted(strangers.items())}}})
    else:
        for line in lines:
            say(line)
    if broken:
        raise RulesError(f"{broken} office(s) of {deployment.path} have errors (above)")
    if strangers:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- add
def _toml(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


@office_app.command("add")
def office_add(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The new office's key: lower-case letters, digits and '-', e.g. sleman.")],
    name: Annotated[str, typer.Option("--name", help="The office's name as citizens see it in every mail.")],
    address: Annotated[str, typer.Option("--address", help="The complaint address citizens write to.")],
    imap_user: Annotated[str, typer.Option("--imap-user", help="The login of the office's complaint mailbox.")],
    rules: Annotated[str | None, typer.Option(
        "--rules", help="Its rules file (default: the first office's); a bare name is one of the shipped rules.")] = None,
    imap_host: Annotated[str | None, typer.Option(
        "--imap-host", help="Its IMAP server (default: the first office's, as are the port and TLS settings).")] = None,
    alert_address: Annotated[str | None, typer.Option(
        "--alert-address", help="Where its admin alerts go (default: the first office's).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a new office file, <deployment folder>/KEY.toml (owner-only), with
    every key commented; the config must have a \\[deployment] offices folder.
    Servers, time zone and rules are the first office's unless given: edit the
    file, then run `mailflow office check KEY`. The daemon takes the office on
    at its next start. The first office of an empty folder needs --imap-host
    and --rules (there is no office to take them from). --json: {"office",
    "file", "password_env"}."""
    deployment = load_deployment(config, allow_empty=True)
    folder = deployment.offices_folder
    if folder is None:
        raise ConfigError(f"{deployment.path} has no folder of office files: add the table [deployment] with "
                          'offices = "offices" to it and create that folder beside it, then run this again')
    if not OFFICE_KEY.fullmatch(key) or key == ALL_OFFICES:
        raise ConfigError(f"{key!r} is no office key: expected lower-case letters, digits and '-' "
                          f"(at most 64, not {ALL_OFFICES!r}), e.g. sleman")
    target = folder / f"{key}.toml"
    if key in deployment.keys or target.exists():
        where = deployment.office(key).path if key in deployment.keys else target
        raise ConfigError(f"the office {key!r} exists already ({where}); choose another key")
    taken = {s.office.complaint_address: s.office.key for s in deployment.offices}
    if address.strip().lower() in taken:
        raise ConfigError(f"{address} is office {taken[address.strip().lower()]!r}'s complaint address already; "
                          "every office has its own")
    first = deployment.offices[0] if deployment.offices else None
    if first is None and (imap_host is None or rules is None):
        raise ConfigError("the first office of a deployment needs --imap-host and --rules (later ones take the "
                          "first office's unless given)")
    host = imap_host or (first.imap.host if first is not None else "")
    for s in deployment.offices:
        if (s.imap.host.lower(), (s.imap.username or "").lower(), s.imap.folder) == (host.lower(), imap_user.lower(), "INBOX"):
            raise ConfigError(f"the mailbox {imap_user}@{host} is office {s.office.key!r}'s already; "
                              "one mailbox belongs to one office")
    if rules is None:
        assert first is not None
        rules_value = str(first.office.rules)
    else:
        rules_value = str(Path(rules).resolve()) if Path(rules).is_file() else rules
    write_office_file(target, key=key, name=name, address=address, imap_user=imap_user, rules=rules_value,
                      imap_host=host,
                      alert_address=alert_address or (first.office.alert_address if first else address.strip().lower()),
                      like=first)
    try:
        load_deployment(deployment.path)  # the new file must not break the configuration
    except MailflowError:
        target.unlink()
        raise
    if as_json:
        emit_json({"office": key, "file": str(target), "password_env": _password_env(key)})
        return
    say(msg(ctx, "office.added", file=target, office=key, password_env=_password_env(key)))


def _password_env(key: str) -> str:
    return f"MAILFLOW_{key.upper().replace('-', '_')}_IMAP_PASSWORD"


def write_office_file(target: Path, *, key: str, name: str, address: str, imap_user: str, rules: str,
                      imap_host: str, alert_address: str, like: Settings | None) -> None:
    """Write ``target``, owner-only (it names mailboxes and logins): the office
    ``key`` with every key commented; the servers' other settings as ``like``'s
    (None: the documented defaults, implicit TLS on ``imap_host`` for both)."""
    if like is None:
        timezone, pattern = "Asia/Jakarta", "ADU/{year}/{seq:06d}"
        i_port, i_sec, i_verify, i_ca = 993, "tls", True, None
        s_host, s_port, s_sec, s_verify, s_ca = imap_host, 465, "tls", True, None
    else:
        timezone, pattern = like.office.timezone, like.office.register_pattern
        i_port, i_sec, i_verify, i_ca = like.imap.port, like.imap.security, like.imap.verify_certificate, \
            like.imap.ca_file
        s = like.smtp
        s_host, s_port, s_sec, s_verify, s_ca = s.host, s.port, s.security, s.verify_certificate, s.ca_file
    ca = f"ca_file = {_toml(i_ca)}\n" if i_ca else ""
    smtp_ca = f"ca_file = {_toml(s_ca)}\n" if s_ca else ""
    text = f"""\
# Office {key!r} of this deployment: its own mailbox, servers and rules; the
# database and logging are mailflow.toml's. Every key is documented in the
# shipped mailflow.toml. Written by `mailflow office add`; validate with
# `mailflow office check {key}`.

[office]
# What its rows are stored under and --office names it by; keep it once
# complaints are stored (default: this file's name).
key = {_toml(key)}
# The office's name as citizens see it in every mail.
name = {_toml(name)}
# IANA time zone: Asia/Jakarta (WIB), Asia/Makassar (WITA), Asia/Jayapura (WIT).
timezone = {_toml(timezone)}
# The SOP as data; relative paths are relative to this file's folder.
rules = {_toml(rules)}
# The address citizens write to; its domain is used for our Message-IDs.
complaint_address = {_toml(address.strip().lower())}
# Where mailflow sends alerts for the admin.
alert_address = {_toml(alert_address)}
# Register numbers; a prefix of its own keeps them apart from other offices'
# (then `mailflow show NUMBER` needs no --office), e.g. "SLM/{{year}}/{{seq:06d}}".
register_pattern = {_toml(pattern)}

[imap]
host = {_toml(imap_host)}
port = {i_port}
# tls, starttls or none
security = {_toml(i_sec)}
verify_certificate = {str(i_verify).lower()}
{ca}username = {_toml(imap_user)}
# The environment variable holding the password (never the password here).
password_env = {_toml(_password_env(key))}

[smtp]
host = {_toml(s_host)}
port = {s_port}
security = {_toml(s_sec)}
verify_certificate = {str(s_verify).lower()}
{smtp_ca}# A login of its own, if the server needs one:
# username = {_toml(imap_user)}
# password_env = {_toml(f"MAILFLOW_{key.upper().replace('-', '_')}_SMTP_PASSWORD")}
"""
    write_private(target, text.encode("utf-8"))
