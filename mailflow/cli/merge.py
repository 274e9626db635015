"""``mailflow merge DUPLICATE TARGET``: the admin merges a duplicate complaint
into another (issue #15 point 3), as a staff ``#gabung`` reply would, but
without being its holder: the ladder decides (``ladder.Merge``), the desk
applies it (``desk.merging``), in one transaction."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, JsonOpt, OfficeOpt, app, chosen, clock, deployment_from, desks, say
from mailflow.desk.merging import Merging
from mailflow.errors import ConfigError, MailflowError, NotFound
from mailflow.store import queries


@app.command()
def merge(
    ctx: typer.Context,
    duplicate: Annotated[str, typer.Argument(help="The duplicate's register number: it is closed as merged.")],
    target: Annotated[str, typer.Argument(help="The register number it is merged into (the one to follow).")],
    office: OfficeOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Merge the complaint DUPLICATE into TARGET: DUPLICATE is closed as
    merged, both hop logs say so, its citizen gets one mail naming TARGET to
    follow, and later mail on DUPLICATE is filed on TARGET. Refused (exit
    code 2; with --json the refusal is printed, exit code 1) when TARGET is not
    a complaint of the same office, is merged itself, or has another
    complainant (address and NIK differ), or DUPLICATE is closed already."""
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        with fleet.shared.factory.begin() as session:
            dup = queries.complaint_by_number(session, duplicate, office)  # AmbiguousNumber names the offices
            if dup is None:
                where = f" at office {office!r}" if office is not None else ""
                raise NotFound(f"no complaint numbered {duplicate!r}{where} (see `mailflow queue --all`)")
            application = fleet.apps.get(dup.office)
            if application is None:
                raise ConfigError(f"{duplicate} is a complaint of office {dup.office!r}, which {deployment.path} "
                                  f"does not have (offices: {', '.join(deployment.keys)})")
            done = Merging(application.letters).merge(session, dup, target, actor="admin (mailflow merge)",
                                                      now=clock(ctx)())
        out = {"office": dup.office, "duplicate": done.duplicate, "target": done.target, "merged": done.merged,
               "reason": done.reason or None}
        if as_json:
            say(json.dumps(out, ensure_ascii=False, indent=2))
            if not done.merged:
                raise typer.Exit(1)
            return
        if not done.merged:
            raise MailflowError(f"{done.duplicate} not merged into {done.target}: {done.reason}")
        say(f"{done.duplicate} digabung ke {done.target}; pelapor diberi tahu untuk mengikuti {done.target}.")
    finally:
        fleet.close()
