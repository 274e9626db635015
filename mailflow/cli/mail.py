"""Inbound mail that did not become (or join) a complaint: ``mail list``,
``mail show ID`` and ``mail retry ID``.

Quarantined, rejected, ignored and bounced mail is archived in the
``messages`` table with its raw bytes, and its hops say why; these commands
read it there, and ``retry`` hands the archived copy to the daemon's own
handling of one mail (``Daemon.handle``: one transaction, the time budget,
quarantine on an exception). The IMAP mailbox is never touched.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from mailflow.cli.base import (
    ConfigOpt,
    JsonOpt,
    OfficeOpt,
    RevealOpt,
    app,
    chosen,
    deployment_from,
    desks,
    emit_json,
    lang,
    local,
    many,
    msg,
    say,
    table,
)
from mailflow.cli.privacy import record_reveal
from mailflow.core.identity import mask_ids_in_text
from mailflow.core.mail import MessageParseError, parse_message
from mailflow.core.text import shorten
from mailflow.core.vocabulary import HopKind
from mailflow.desk.delivery import Source
from mailflow.desk.intake import retry_refused, safe_headers
from mailflow.errors import ConfigError, MailflowError, NotFound
from mailflow.store import queries
from mailflow.store.models import Complaint, Message

mail_app = typer.Typer(help="Inbound mail that was quarantined, rejected, ignored or bounced: list, show, retry.",
                       no_args_is_help=True)
app.add_typer(mail_app, name="mail")

KINDS = (*queries.MAIL_OUTCOMES, "all")
# How `mail list` and `mail show` name an outcome (Bahasa Indonesia, as `show` names hops).
OUTCOME_WORDS = {HopKind.QUARANTINED: "dikarantina", HopKind.REJECTED: "format ditolak",
                 HopKind.IGNORED: "diabaikan", HopKind.BOUNCED: "laporan gagal kirim",
                 HopKind.REGISTERED: "terdaftar sebagai aduan", HopKind.REFUSED: "ditolak (tidak ada perubahan)",
                 "handled": "diproses pada aduan"}


def _masked(text: str, reveal: bool) -> str:
    return text if reveal else mask_ids_in_text(text)


def _desk_of(fleet, message: Message, deployment):
    """The desk of the office whose mail it is (an office the config no longer has: an error naming it)."""
    if message.office not in fleet.apps:
        raise ConfigError(f"message #{message.id} is mail of office {message.office!r}, which {deployment.path} "
                          f"does not have (offices: {', '.join(deployment.keys)}; see `mailflow office check`)")
    return fleet.apps[message.office]


def _inbound(ctx: typer.Context, session, fleet, deployment, message_id: int) -> tuple[Message, Any]:
    """The archived inbound mail ``message_id`` and its office's desk, or NotFound."""
    m = queries.inbound_message(session, message_id)
    if m is None:
        raise NotFound(msg(ctx, "mail.not_found", id=message_id))
    return m, _desk_of(fleet, m, deployment)


# --------------------------------------------------------------------------- list
@mail_app.command("list")
def mail_list(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option(help=f"Which outcome: {', '.join(KINDS)}.")] = "all",
    config: ConfigOpt = None,
    office: OfficeOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many mails.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List inbound mail that was quarantined, rejected (wrong format), ignored
    (auto-replies, bounces of nothing of ours, unclear senders ...) or bounced,
    the newest outcome first: its id (for `mail show` / `mail retry`), when it
    was received, the sender, the subject, why, and how often an admin
    retried it. A mail is listed under what became of it last: one retried
    into a complaint is no longer listed. NIK/KK in subjects and reasons are
    masked (`mail show ID --reveal` shows them)."""
    if kind not in KINDS:
        raise MailflowError(msg(ctx, "mail.bad_kind", kinds=", ".join(KINDS), kind=repr(kind)))
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment, chosen(deployment, office))
    column = many(deployment)
    try:
        with fleet.shared.factory() as session:
            outcomes = queries.MAIL_OUTCOMES if kind == "all" else (kind,)
            records = queries.inbound_by_outcome(session, outcomes, office=office, limit=limit)
            if as_json:
                say(json.dumps([_record_json(r) for r in records], ensure_ascii=False, indent=2))
                return
            if not records:
                say(msg(ctx, "mail.none_any") if kind == "all" else msg(ctx, "mail.none_kind", kind=kind))
                return
            rows = []
            for r in records:
                m, settings = r.message, fleet.apps.get(r.message.office, next(iter(fleet.apps.values()))).settings
                rows.append([
                    str(m.id),
                    *([m.office] if column else []),
                    local(m.created_at, settings),
                    *([r.outcome] if kind == "all" else []),
                    m.from_addr or "-",
                    shorten(mask_ids_in_text(m.subject or "-"), 40),
                    shorten(mask_ids_in_text(r.hop.reason), 70),
                    str(r.retried) if r.retried else "-",
                ])
            col = {c: msg(ctx, f"mail.col.{c}") for c in ("id", "office", "received", "outcome", "from", "subject",
                                                          "reason", "retried")}
            table([col["id"], *([col["office"]] if column else []), col["received"],
                   *([col["outcome"]] if kind == "all" else []), col["from"], col["subject"], col["reason"],
                   col["retried"]], rows, language=lang(ctx))
    finally:
        fleet.close()


def _record_json(r: queries.MailRecord) -> dict[str, Any]:
    m = r.message
    return {"id": m.id, "office": m.office, "outcome": r.outcome, "received_at": m.created_at.isoformat(),
            "outcome_at": r.hop.at.isoformat(), "from": m.from_addr, "subject": mask_ids_in_text(m.subject or ""),
            "message_id": m.message_id, "size": m.size, "reason": mask_ids_in_text(r.hop.reason),
            "retried": r.retried}


# --------------------------------------------------------------------------- show
@mail_app.command("show")
def mail_show(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID", help="The mail's id, as `mailflow mail list` shows it.")],
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (its whole text, not the first lines).")] = False,
    reveal: RevealOpt = False,
) -> None:
    """Show one archived inbound mail: the headers that matter, what became of
    it and why (its hops), and its text, NIK/KK masked unless --reveal."""
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment)
    try:
        with fleet.shared.factory() as session:
            m, desk = _inbound(ctx, session, fleet, deployment, message_id)
            settings = desk.settings
            hops = queries.hops_of_message(session, m)
            if reveal:
                number = session.get(Complaint, m.complaint_id).number if m.complaint_id is not None else None
                record_reveal(ctx, session, [number] if number else [], f"mail show {m.id} --reveal")
            outcome = queries.mail_outcome([h.kind for h in hops])
            raw = m.raw
            try:
                mail = parse_message(raw, desk.intake.parse_limits)
                head = {"from": " / ".join(mail.headers.get("from", ())), "subject": mail.subject}
                text, why_not = mail.text, ""
            except MessageParseError as exc:
                mail, head = None, safe_headers(raw)
                text, why_not = raw.decode("utf-8", "replace"), str(exc)
            if as_json:
                complaint = session.get(Complaint, m.complaint_id) if m.complaint_id is not None else None
                say(json.dumps({
                    "id": m.id, "office": m.office, "outcome": outcome, "received_at": m.created_at.isoformat(),
                    "from": head.get("from") or m.from_addr or None,
                    "to": list(mail.to_addrs) if mail else [], "cc": list(mail.cc_addrs) if mail else [],
                    **{name.replace("-", "_"): (mail.header(name) or None) if mail else None
                       for name in ("reply-to", "date", "auto-submitted")},
                    "subject": _masked(head.get("subject") or m.subject or "", reveal),
                    "message_id": m.message_id, "in_reply_to": m.in_reply_to, "size": m.size,
                    "archived_bytes": len(raw), "imap": {"mailbox": m.mailbox, "uid": m.uid,
                                                         "uidvalidity": m.uidvalidity} if m.uid is not None else None,
                    "complaint": complaint.number if complaint else m.complaint_id,
                    "hops": [{"at": h.at.isoformat(), "kind": h.kind, "actor": h.actor,
                              "reason": _masked(h.reason, reveal) if h.reason else None} for h in hops],
                    "unreadable": why_not or None, "text": _masked(text, reveal),
                    "attachments": [{"filename": a.filename, "size": a.size}
                                    for a in (mail.attachments if mail else ())],
                }, ensure_ascii=False, indent=2))
                return
            say(f"Surel #{m.id} — {OUTCOME_WORDS.get(outcome, outcome)}")
            if many(deployment):
                say(f"  Kantor      : {settings.office.name} ({m.office})")
            say(f"  Diterima    : {local(m.created_at, settings)}")
            say(f"  Dari        : {head.get('from') or m.from_addr or '-'}")
            if mail is not None:
                for label, value in (("Kepada", ", ".join(mail.to_addrs)), ("Cc", ", ".join(mail.cc_addrs)),
                                     ("Reply-To", mail.header("reply-to") or ""),
                                     ("Tanggal", mail.header("date") or ""),
                                     ("Auto-Submitted", mail.header("auto-submitted") or "")):
                    if value:
                        say(f"  {label:<12}: {value}")
            say(f"  Judul       : {_masked(head.get('subject') or m.subject or '(tanpa judul)', reveal)}")
            say(f"  Message-ID  : {'<' + m.message_id + '>' if m.message_id else '(tidak ada)'}")
            if m.in_reply_to:
                say(f"  In-Reply-To : <{m.in_reply_to}>")
            say(f"  Ukuran      : {m.size} byte" + (f" (hanya kepala surel yang diarsipkan: {len(raw)} byte)"
                                                    if m.size > len(raw) else ""))
            if m.uid is not None:
                say(f"  Asal IMAP   : {m.mailbox}, UID {m.uid} (UIDVALIDITY {m.uidvalidity})")
            if m.complaint_id is not None:
                complaint = session.get(Complaint, m.complaint_id)
                say(f"  Aduan       : {complaint.number if complaint else m.complaint_id}")
            say("")
            say("Riwayat (hop log):")
            for h in hops:
                label = HopKind(h.kind).label if h.kind in set(HopKind) else h.kind
                who = "" if h.actor == "mailflow" else f" oleh {h.actor}"
                say(f"  {local(h.at, settings)}  {label}{who}")
                if h.reason:
                    say(f"      {_masked(h.reason, reveal)}")
            say("")
            if why_not:
                say(f"Isi surel tidak dapat dibaca ({why_not}); awal surel apa adanya:")
                lines = text.splitlines()
                body = lines[:60] + ([f"… ({len(lines) - 60} baris lagi)"] if len(lines) > 60 else [])
            else:
                say("Isi surel:")
                body = text.splitlines()
            for line in body or ["(kosong)"]:
                say(f"    {_masked(line, reveal)}")
            if mail is not None and mail.attachments:
                say("Lampiran: " + ", ".join(f"{a.filename or '(tanpa nama)'} ({a.size} byte)"
                                             for a in mail.attachments))
    finally:
        fleet.close()


# --------------------------------------------------------------------------- retry
@mail_app.command("retry")
def mail_retry(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID", help="The mail's id, as `mailflow mail list` shows it.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Handle an archived inbound mail again, from its archived copy, as the
    daemon handles new mail (one transaction, the same time limit, quarantined
    again if it still fails): for a mail quarantined, rejected or ignored
    because of a problem since fixed (rules, limits, templates). A mail
    already on a complaint is never handled twice: a second retry of a mail
    that became a complaint says so and does nothing. The IMAP mail is NOT
    moved (it stays in the quarantine or processed folder); mail the retry
    queues (an acknowledgement, a forward) is sent by the running daemon or
    workers (or `mailflow poll --once`). A mail over the size limit was
    archived as its header only: it cannot be retried from here (move it
    back to INBOX after raising the limit). --json: {"id", "office",
    "action" (registered, duplicate, already_on_complaint, rejected,
    quarantined, ...), "complaint", "reason"}."""
    deployment = deployment_from(config)
    fleet = desks(ctx, deployment)
    try:
        with fleet.shared.factory() as session:
            m, desk = _inbound(ctx, session, fleet, deployment, message_id)
            key = desk.settings.office.key
            refused = retry_refused(m)
            if refused is not None and m.complaint_id is not None:
                complaint = session.get(Complaint, m.complaint_id)
                number = complaint.number if complaint else str(m.complaint_id)
                if as_json:
                    emit_json({"id": m.id, "office": key, "action": "already_on_complaint", "complaint": number,
                               "reason": None})
                else:
                    say(msg(ctx, "mail.already_on_complaint", id=m.id, complaint=number))
                return
            if refused is not None:
                raise MailflowError(refused)
            raw = m.raw
        outcome = fleet.daemon(key).handle(raw, Source(retried_by=_admin()))
        reason = mask_ids_in_text(outcome.reason) if outcome.reason else None
        if as_json:
            emit_json({"id": message_id, "office": key, "action": outcome.action,
                       "complaint": outcome.complaint_number or None, "reason": reason})
        elif outcome.action == "registered":
            say(msg(ctx, "mail.registered", id=message_id, complaint=outcome.complaint_number))
        elif outcome.action == "duplicate":
            say(msg(ctx, "mail.duplicate", id=message_id, reason=outcome.reason))
        else:
            what = f"{outcome.action} {outcome.complaint_number}" if outcome.complaint_number else outcome.action
            say(msg(ctx, "mail.outcome", id=message_id, what=what + (f": {reason}" if reason else "")))
    finally:
        fleet.close()


def _admin() -> str:
    """Who retried (the hop's actor): the login of the account that ran the command."""
    try:
        return f"admin ({getpass.getuser()})"
    except Exception:  # no login name (a container without a passwd entry)
        return "admin"
