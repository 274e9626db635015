"""Running the desk: ``run`` (the daemon) and ``poll --once`` (one pass)."""

from __future__ import annotations

from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, JsonOpt, app, clock, deployment_from, emit_json, msg
from mailflow.edges.mailbox import NETWORK_ERRORS
from mailflow.errors import MailflowError, MailServerError, TLSRequiredError
from mailflow.runner.fleet import Fleet
from mailflow.runner.logs import bound_memory, setup_logging


@app.command()
def run(
    ctx: typer.Context,
    config: ConfigOpt = None,
    log_format: Annotated[str | None, typer.Option(help="text or json (default: text on a terminal, else json).")] = None,
) -> None:
    """Run the daemon: watch every office's complaint mailbox and drain its outbox until SIGTERM/Ctrl-C."""
    deployment = deployment_from(config)
    for s in deployment.offices:
        s.check_secrets()
    setup_logging(deployment.log_level, log_format)
    bound_memory()
    fleet = Fleet.build(deployment, clock=clock(ctx))
    try:
        fleet.run()
    finally:
        fleet.close()


@app.command()
def poll(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass (interrupted sends, intake, deadlines, outbox), then exit.")] = False,
    config: ConfigOpt = None,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One pass of the daemon, then exit (for cron or a manual check): sends a
    crash interrupted are resolved, new mail is taken in, deadlines are done,
    the outbox is drained, for every office. Exit code 1 if a mail server
    could not be reached or refused mailflow's login (what could be done was
    done; said on stderr). --json: {"offices": [{"office", "ok", "error",
    "mail" (action -> count), "outbox" {"sent", "deferred", "failed"},
    "summary"}]}."""
    if not once:
        raise MailflowError("`mailflow poll` needs --once (use `mailflow run` for the daemon)")
    deployment = deployment_from(config)
    for s in deployment.offices:
        s.check_secrets()
    setup_logging(deployment.log_level, log_format)
    bound_memory()
    fleet = Fleet.build(deployment, clock=clock(ctx))
    failed = False
    passes = []
    try:
        many = len(fleet.apps) > 1
        for key, result in fleet.run_once().items():
            prefix = f"{key}: " if many else ""
            if isinstance(result, (MailServerError, TLSRequiredError, *NETWORK_ERRORS)):
                typer.echo(msg(ctx, "poll.server_problem", prefix=prefix, error=result), err=True)
                failed = True
                passes.append({"office": key, "ok": False, "error": str(result), "mail": {}, "outbox": None,
                               "summary": None})
            elif isinstance(result, BaseException):
                raise result
            else:
                mail: dict[str, int] = {}
                for o in result.outcomes:
                    mail[o.action] = mail.get(o.action, 0) + 1
                d = result.drained
                passes.append({"office": key, "ok": True, "error": None, "mail": mail,
                               "outbox": {"sent": d.sent, "deferred": d.deferred, "failed": d.failed},
                               "summary": result.summary()})
                if not as_json:
                    typer.echo(prefix + result.summary())
    finally:
        fleet.close()
    if as_json:
        emit_json({"offices": passes})
    if failed:
        raise typer.Exit(1)
