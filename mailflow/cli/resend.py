"""Putting mail back in the outbox (``resend``), and ``version``."""

from __future__ import annotations

from typing import Annotated

import typer

from mailflow import __version__
from mailflow.cli.base import (
    ConfigOpt,
    JsonOpt,
    OfficeOpt,
    app,
    chosen,
    clock,
    deployment_from,
    desks,
    emit_json,
    lang,
    msg,
    say,
)
from mailflow.cli.messages import text
from mailflow.desk.resend import Resent, office_of, resend_failed
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
    as_json: JsonOpt = False,
) -> None:
    """Put outbound mail back in the outbox: a failed one is retried as it was;
    a sent one goes again under a new Message-ID with Resent-* headers. The
    mail goes out as its own office's (that office's outbox, sender and
    domain); --office KEY is needed only for a register number two offices share.
    --json: {"resent": [{"office", "action" (queued_again, resent_copy,
    sending), "message_id", "kind", "to", "resent_message_id"}]}."""
    if (target is None) == (not failed):
        raise MailflowError(msg(ctx, "resend.usage"))
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        with fleet.shared.factory.begin() as session:
            if failed:
                lines: list[Resent] = []
                for key, application in fleet.apps.items():
                    try:
                        lines += resend_failed(session, application.settings, clock=clock(ctx), office=key)
                    except NotFound:
                        continue  # this office has none; others may
                if not lines:
                    raise NotFound(msg(ctx, "resend.nothing_failed"))
            else:
                assert target is not None
                key = office_of(session, target, office)
                if key not in fleet.apps:
                    raise ConfigError(f"{target} is mail of office {key!r}, which {deployment.path} does not have "
                                      f"(offices: {', '.join(deployment.keys)}; see `mailflow office check`)")
                lines = do_resend(session, fleet.apps[key].settings, target, clock=clock(ctx), office=key)
        if as_json:
            emit_json({"resent": [{"office": r.office, "action": r.action, "message_id": r.message_id,
                                   "kind": r.kind, "to": list(r.recipients),
                                   "resent_message_id": r.resent_message_id} for r in lines]})
            return
        for r in lines:
            say(said(lang(ctx), r))
    finally:
        fleet.close()


def said(language: str, r: Resent) -> str:
    """What was done with one mail, as a line in ``language``."""
    return text(language, f"resend.{r.action}", message_id=r.message_id, kind=r.kind, to=",".join(r.recipients),
                resent_message_id=r.resent_message_id)


@app.command()
def version(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Print mailflow's version (--json: {"version"})."""
    if as_json:
        emit_json({"version": __version__})
    else:
        say(msg(ctx, "version", version=__version__))
