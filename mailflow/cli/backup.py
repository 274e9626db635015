"""Backups: ``backup`` and ``restore`` (docs/UPGRADE.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, JsonOpt, app, emit_json, msg, settings_from
from mailflow.config.settings import redact_url
from mailflow.errors import MailflowError
from mailflow.store import backup as store_backup
from mailflow.store.db import sqlite_path


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The backup file to write.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file at PATH.")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Back the database up to PATH, owner-only, and check the copy.

    SQLite: a consistent copy through SQLite's online backup API (safe while
    the daemon and workers run; copying the .db file alone is not: the
    database is in WAL mode), then checked with PRAGMA integrity_check and
    its schema revision.

    PostgreSQL: nothing is dumped; the pg_dump command to run is printed
    (password shown as ***), and the exit code is 0.

    --json: {"database", "backup", "dumped" (false on PostgreSQL, with
    "command"), "size", "integrity", "schema"}.
    """
    settings = settings_from(config)
    url = settings.database_url
    source = sqlite_path(url)
    if source is None:
        if url.startswith("sqlite"):
            raise MailflowError("an in-memory SQLite database cannot be backed up")
        command = store_backup.pg_dump_command(url, path)
        if as_json:
            emit_json({"database": redact_url(url), "backup": str(path), "dumped": False, "command": command,
                       "size": None, "integrity": None, "schema": None})
            return
        typer.echo(msg(ctx, "backup.postgresql", command=command))
        return
    checked = store_backup.backup_sqlite(source, path, force=force)
    if as_json:
        emit_json({"database": str(source), "backup": str(checked.path), "dumped": True, "command": None,
                   "size": checked.size, "integrity": "ok", "schema": checked.revision})
        return
    typer.echo(msg(ctx, "backup.done", database=source, backup=checked.path, size=checked.size,
                   schema=checked.revision))


@app.command()
def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The backup file (from `mailflow backup`).")],
    force: Annotated[bool, typer.Option(
        help="Replace the existing database (stop the daemon and workers first).")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore the SQLite database from the backup at PATH (SQLite only).

    The backup is checked first (PRAGMA integrity_check, its schema revision);
    an existing database is replaced only with --force and only while nothing
    has it open. On PostgreSQL use pg_restore.

    --json: {"database", "backup", "integrity", "schema", "needs_upgrade"}.
    """
    settings = settings_from(config)
    target = sqlite_path(settings.database_url)
    if target is None:
        raise MailflowError("mailflow restore is for SQLite databases; on PostgreSQL use pg_restore "
                            "(see docs/UPGRADE.md)")
    checked = store_backup.restore_sqlite(path, target, force=force)
    if as_json:
        emit_json({"database": str(target), "backup": str(path), "integrity": "ok", "schema": checked.revision,
                   "needs_upgrade": checked.standing == "older"})
        return
    typer.echo(msg(ctx, "restore.done", database=target, backup=path, schema=checked.revision))
    if checked.standing == "older":
        typer.echo(msg(ctx, "restore.older"))
