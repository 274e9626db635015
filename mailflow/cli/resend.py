"""Putting mail back in the outbox (``resend``), and ``version``."""

from __future__ import annotations

from typing import Annotated

import typer

from mailflow import __version__
from mailflow.cli.base import ConfigOpt, app, build, clock, settings_from
from mailflow.desk.resend import resend as do_resend
from mailflow.desk.resend import resend_failed
from mailflow.errors import MailflowError


@app.command()
def resend(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(
        help="A register number (all its outbound mail that failed, or its last mail) or a Message-ID.")] = None,
    failed: Annotated[bool, typer.Option(
        "--failed", help="Every outbound mail that failed, at once (e.g. after a wrong SMTP password was fixed).")] = False,
    config: ConfigOpt = None,
) -> None:
    """Put outbound mail back in the outbox: a failed one is retried as it was;
    a sent one goes again under a new Message-ID with Resent-* headers."""
    if (target is None) == (not failed):
        raise MailflowError("give a register number or Message-ID, or --failed (one of them)")
    settings = settings_from(config)
    application = build(ctx, settings)
    try:
        with application.factory.begin() as session:
            if failed:
                lines = resend_failed(session, settings, clock=clock(ctx))
            else:
                assert target is not None
                lines = do_resend(session, settings, target, clock=clock(ctx))
        for line in lines:
            typer.echo(line)
    finally:
        application.close()


@app.command()
def version() -> None:
    """Print mailflow's version."""
    typer.echo(f"mailflow {__version__}")
