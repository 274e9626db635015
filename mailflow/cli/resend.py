"""Putting mail back in the outbox (``resend``), and ``version``."""

from __future__ import annotations

from typing import Annotated

import typer

from mailflow import __version__
from mailflow.cli.base import ConfigOpt, OfficeOpt, app, chosen, clock, deployment_from, desks
from mailflow.desk.resend import office_of, resend_failed
from mailflow.desk.resend import resend as do_resend
from mailflow.errors import ConfigError, MailflowError, NotFound


@app.command()
def resend(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(
        help="A register number (all its outbound mail that failed, or its last mail) or a Message-ID.")] = None,
    failed: Annotated[bool, typer.Option(
        "--failed", help="Every outbound mail that failed, at once (e.g. after a wrong SMTP password was fixed).")] = False,
    office: OfficeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Put outbound mail back in the outbox: a failed one is retried as it was;
    a sent one goes again under a new Message-ID with Resent-* headers. The
    mail goes out as its own office's (that office's outbox, sender and
    domain); --office KEY is needed only for a register number two offices share."""
    if (target is None) == (not failed):
        raise MailflowError("give a register number or Message-ID, or --failed (one of them)")
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        with fleet.shared.factory.begin() as session:
            if failed:
                lines = []
                for key, application in fleet.apps.items():
                    try:
                        lines += resend_failed(session, application.settings, clock=clock(ctx), office=key)
                    except NotFound:
                        continue  # this office has none; others may
                if not lines:
                    raise NotFound("no outbound mail has failed: nothing to resend")
            else:
                assert target is not None
                key = office_of(session, target, office)
                if key not in fleet.apps:
                    raise ConfigError(f"{target} is mail of office {key!r}, which {deployment.path} does not have "
                                      f"(offices: {', '.join(deployment.keys)}; see `mailflow office check`)")
                lines = do_resend(session, fleet.apps[key].settings, target, clock=clock(ctx), office=key)
        for line in lines:
            typer.echo(line)
    finally:
        fleet.close()


@app.command()
def version() -> None:
    """Print mailflow's version."""
    typer.echo(f"mailflow {__version__}")
