"""Looking at the register: ``queue`` (open complaints, or unsent mail) and
``show`` (one complaint and its hop log). Reads only, through ``store.queries``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from mailflow.cli import messages
from mailflow.cli.base import (
    ConfigOpt,
    JsonOpt,
    OfficeOpt,
    RevealOpt,
    app,
    chosen,
    clock,
    deployment_from,
    desks,
    lang,
    local,
    many,
    msg,
    remaining,
    say,
    table,
    terminal_width,
)
from mailflow.cli.privacy import record_reveal
from mailflow.core.identity import mask_id, mask_ids_in_text
from mailflow.core.vocabulary import STATUS_WORDS, HopKind, Status, status_named
from mailflow.errors import MailflowError, NotFound
from mailflow.store import queries
from mailflow.store.models import Complaint


@app.command()
def queue(
    ctx: typer.Context,
    config: ConfigOpt = None,
    office: OfficeOpt = None,
    status: Annotated[list[str] | None, typer.Option("--status", "-s", help=(
        "Only these statuses (repeatable), in English or Bahasa Indonesia: "
        + ", ".join(f"{s.value} / {s.label!r}" if " " in s.label else f"{s.value} / {s.label}" for s in Status)
        + "; default: all open ones."))] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include closed complaints.")] = False,
    outbox: Annotated[bool, typer.Option("--outbox", help="List outbound mail not yet sent (pending, sending, failed) instead.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only complaints past the due time of their step.")] = False,
    sort: Annotated[str, typer.Option(help="Order by 'received' (oldest first) or 'due' (soonest first).")] = "received",
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    as_json: JsonOpt = False,
    reveal: RevealOpt = False,
) -> None:
    """List open complaints: number, status, step, holder, due time and the working
    time left (or how late it is), complainant. Every office of the config by
    default, with an office column when it has several; --office KEY lists one."""
    statuses = statuses_named(status or (), lang(ctx))
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    column = many(deployment)
    try:
        with fleet.shared.factory() as session:
            if outbox:
                _print_outbox(ctx, session, fleet, office, column, limit, as_json)
                return
            if sort not in ("received", "due"):
                raise MailflowError(msg(ctx, "queue.bad_sort"))
            now = clock(ctx)()
            complaints = queries.complaints(session, statuses=statuses, include_closed=all_,
                                            overdue_at=now if overdue else None, by_due=sort == "due", limit=limit,
                                            office=office)
            if reveal:
                record_reveal(ctx, session, [c.number for c in complaints], "queue --reveal")
            if as_json:
                say(json.dumps([_complaint_json(c, reveal, now) for c in complaints], ensure_ascii=False,
                                      indent=2))
                return
            if not complaints:
                say(msg(ctx, "queue.none" if all_ or status else "queue.none_open"))
                return
            rows = []
            # on a terminal narrower than the whole table, the day received is enough
            received = local if terminal_width() >= WHOLE_TABLE else _day
            for c in complaints:
                application = _desk_of(fleet, c.office)
                settings, roles = application.settings, application.rules.roles
                rows.append([
                    *([c.office] if column else []),
                    c.number,
                    received(c.created_at, settings),
                    STATUS_WORDS.get(c.status, c.status),
                    c.step or "-",
                    roles[c.holder_role].name if c.holder_role in roles else (c.holder_role or "-"),
                    local(c.due_at, settings),
                    remaining(c.due_at, now, application.rules.calendar),
                    c.category_name,
                    c.complainant_name,
                    c.nik if reveal else mask_id(c.nik),
                ])
            # Fitting a terminal: names are cut first, then step, category, the masked NIK
            # (never a revealed one), due and received are left out (show and --json have them).
            col = {c: msg(ctx, f"queue.col.{c}") for c in ("office", "number", "received", "status", "step", "holder",
                                                           "due", "left", "category", "complainant", "nik")}
            table([*([col["office"]] if column else []), *(col[c] for c in ("number", "received", "status", "step",
                                                                           "holder", "due", "left", "category",
                                                                           "complainant", "nik"))],
                  rows, fit=True, shrink={col["holder"]: 8, col["category"]: 12, col["complainant"]: 10},
                  optional=tuple(col[c] for c in ("step", "category", *(() if reveal else ("nik",)), "due",
                                                  "received")),
                  language=lang(ctx))
    finally:
        fleet.close()


def statuses_named(words: Sequence[str], language: str = messages.ENGLISH) -> tuple[Status, ...]:
    """The statuses a user typed (``--status``), in English or Bahasa Indonesia;
    an unknown word is an error listing the accepted words in both languages
    (never an empty listing)."""
    statuses = []
    for word in words:
        status = status_named(word)
        if status is None:
            accepted = ", ".join(f"{s.value} ({s.label})" for s in Status)
            raise MailflowError(messages.text(language, "queue.bad_status", word=repr(word), accepted=accepted))
        statuses.append(status)
    return tuple(dict.fromkeys(statuses))


WHOLE_TABLE = 160  # columns a queue table of long names needs whole


def _day(dt, settings) -> str:
    return local(dt, settings)[:10]


def _desk_of(fleet, office: str):
    """The desk that shows a row of ``office``: its own; a row of an office the
    config no longer has (see `mailflow office check`) is shown with the first
    office's time zone and rules."""
    return fleet.apps.get(office) or next(iter(fleet.apps.values()))


def _print_outbox(ctx: typer.Context, session, fleet, office: str | None, column: bool, limit: int,
                  as_json: bool) -> None:
    rows = queries.unsent_outbox(session, limit, office)
    if as_json:
        say(json.dumps([
            {"id": o.id, "office": o.office, "state": o.state, "kind": o.kind, "to": o.recipients,
             "message_id": m.message_id, "attempts": o.attempts, "last_error": o.last_error,
             "next_attempt_at": o.next_attempt_at.isoformat()}
            for o, m in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        say(msg(ctx, "queue.outbox_empty"))
        return
    col = {c: msg(ctx, f"queue.col.{c}") for c in ("office", "id", "state", "kind", "to", "attempts", "next_try",
                                                   "last_error")}
    table([*([col["office"]] if column else []),
           *(col[c] for c in ("id", "state", "kind", "to", "attempts", "next_try", "last_error"))],
          [[*([o.office] if column else []), str(o.id), o.state, o.kind, o.recipients, str(o.attempts),
            local(o.next_attempt_at, _desk_of(fleet, o.office).settings), o.last_error or ""]
           for o, m in rows], fit=True, shrink={col["to"]: 16, col["last_error"]: 16}, optional=(col["next_try"],),
          language=lang(ctx))


def _complaint_json(c: Complaint, reveal: bool, now) -> dict[str, Any]:
    return {
        "office": c.office, "number": c.number, "status": c.status, "step": c.step, "holder_role": c.holder_role,
        "category": c.category, "category_name": c.category_name, "section": c.section, "channel": c.channel,
        "complainant": {
            "name": c.complainant_name, "email": c.complainant_email,
            "nik": c.nik if reveal else mask_id(c.nik),
            "kk": (c.kk if reveal else mask_id(c.kk)) if c.kk else None,
            "phone": c.phone, "address": c.address,
        },
        "description": c.description if reveal else mask_ids_in_text(c.description),
        "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
        "due_at": c.due_at.isoformat() if c.due_at else None,
        "overdue": bool(c.due_at and c.due_at < now),
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
        "closed_reason": c.closed_reason,  # merging and closing after silence: answered|finished|silence|merged
    }


@app.command()
def show(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The register number, e.g. ADU/2026/000123.")],
    config: ConfigOpt = None,
    office: Annotated[str | None, typer.Option(
        "--office", help="The office whose complaint it is (its key); needed only when two offices of the "
                         "config have a complaint of this number.")] = None,
    as_json: JsonOpt = False,
    reveal: RevealOpt = False,
) -> None:
    """Show one complaint and its whole hop log, in time order. The complaint
    is looked for in every office of the config (or --office KEY's)."""
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    try:
        with fleet.shared.factory() as session:
            c = queries.complaint_by_number(session, number, office)  # AmbiguousNumber names the offices
            if c is None:
                raise NotFound(msg(ctx, "show.not_found_at" if office is not None else "show.not_found",
                                   number=repr(number), office=repr(office)))
            application = _desk_of(fleet, c.office)
            settings = application.settings
            hops = queries.hops_of(session, c)
            if reveal:
                record_reveal(ctx, session, [c.number], "show --reveal")
            now = clock(ctx)()
            if as_json:
                out = _complaint_json(c, reveal, now)
                out["hops"] = [
                    {"at": h.at.isoformat(), "kind": h.kind, "actor": h.actor, "from_state": h.from_state,
                     "to_state": h.to_state, "message_id": h.message_id, "reason": h.reason}
                    for h in hops
                ]
                say(json.dumps(out, ensure_ascii=False, indent=2))
                return
            roles = application.rules.roles
            holder = roles[c.holder_role].name if c.holder_role in roles else (c.holder_role or "-")
            nik = c.nik if reveal else mask_id(c.nik)
            kk = (c.kk if reveal else mask_id(c.kk)) if c.kk else "-"
            say(f"Aduan {c.number} — {STATUS_WORDS.get(c.status, c.status)}")
            if many(deployment):
                say(f"  Kantor       : {settings.office.name} ({c.office})")
            say(f"  Diterima     : {local(c.created_at, settings)}")
            say(f"  Pelapor      : {c.complainant_name} <{c.complainant_email}>, HP {c.phone}")
            say(f"  NIK / No. KK : {nik} / {kk}")
            say(f"  Alamat       : {c.address}")
            say(f"  Jenis layanan: {c.category_name} ({application.rules.section_names.get(c.section, c.section)})")
            if c.status == Status.MERGED:  # merging
                survivor = session.get(Complaint, c.merged_into_id) if c.merged_into_id else None
                say(f"  Tahap kini   : digabung {local(c.closed_at, settings)} ke "
                    f"{survivor.number if survivor else '-'} (surel berikutnya dicatat di sana)")
            elif c.status == Status.CLOSED and c.closed_reason == "silence":  # closing after silence
                say(f"  Tahap kini   : selesai {local(c.closed_at, settings)} (ditutup: pelapor tidak membalas "
                    "permintaan keterangan)")
            elif c.status == Status.CLOSED:
                say(f"  Tahap kini   : selesai {local(c.closed_at, settings)}"
                           + (f" (dijawab pada tahap {c.answered_step})" if c.answered_step else ""))
            else:
                step_name = application.rules.step(c.step).name if c.step else "-"
                say(f"  Tahap kini   : {step_name} ({c.step}), dipegang {holder}")
            if c.due_at and c.status != Status.CLOSED:
                left = remaining(c.due_at, now, application.rules.calendar)
                say(f"  Batas waktu  : {local(c.due_at, settings)} ({left}, dihitung pada jam kerja)")
            say("  Uraian       :")
            for line in (c.description if reveal else mask_ids_in_text(c.description)).splitlines() or [""]:
                say(f"    {line}")
            say("")
            say("Riwayat (hop log):")
            for h in hops:
                states = f" [{h.from_state or '-'} → {h.to_state}]" if h.to_state else ""
                who = "" if h.actor == "mailflow" else f" oleh {h.actor}"
                label = HopKind(h.kind).label if h.kind in set(HopKind) else h.kind
                say(f"  {local(h.at, settings)}  {label}{who}{states}")
                if h.reason:
                    say(f"      {h.reason if reveal else mask_ids_in_text(h.reason)}")
                if h.message_id:
                    say(f"      Message-ID <{h.message_id}>")
    finally:
        fleet.close()
