"""Running the desk: ``run`` (the daemon) and ``poll --once`` (one pass)."""

from __future__ import annotations

from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, app, build, settings_from
from mailflow.edges.mailbox import NETWORK_ERRORS
from mailflow.errors import MailflowError, MailServerError, TLSRequiredError
from mailflow.runner.logs import bound_memory, setup_logging


@app.command()
def run(
    ctx: typer.Context,
    config: ConfigOpt = None,
    log_format: Annotated[str | None, typer.Option(help="text or json (default: text on a terminal, else json).")] = None,
) -> None:
    """Run the daemon: poll the complaint mailbox and drain the outbox until SIGTERM/Ctrl-C."""
    settings = settings_from(config)
    settings.check_secrets()
    setup_logging(settings.log_level, log_format)
    bound_memory()
    application = build(ctx, settings)
    try:
        application.daemon().run()
    finally:
        application.close()


@app.command()
def poll(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass (interrupted sends, intake, deadlines, outbox), then exit.")] = False,
    config: ConfigOpt = None,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
) -> None:
    """One pass of the daemon, then exit (for cron or a manual check): sends a
    crash interrupted are resolved, new mail is taken in, deadlines are done,
    the outbox is drained. Exit code 1 if a mail server could not be reached
    (what could be done was done)."""
    if not once:
        raise MailflowError("`mailflow poll` needs --once (use `mailflow run` for the daemon)")
    settings = settings_from(config)
    settings.check_secrets()
    setup_logging(settings.log_level, log_format)
    bound_memory()
    application = build(ctx, settings)
    daemon = application.daemon()
    try:
        try:
            result = daemon.run_once()
        except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
            typer.echo(f"mailflow: mail server problem: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(result.summary())
    finally:
        daemon.mailbox.close()
        application.close()
