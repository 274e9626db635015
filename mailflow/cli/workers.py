"""Workers on PostgreSQL (``worker``) and the state of the fleet (``workers``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from mailflow.cli.base import ConfigOpt, JsonOpt, app, clock, deployment_from, lang, msg, say, table
from mailflow.cli.messages import text
from mailflow.runner.logs import bound_memory, setup_logging
from mailflow.store import db, queries


@app.command()
def worker(
    ctx: typer.Context,
    concurrency: Annotated[int, typer.Option(
        min=1, max=500, help="Jobs at once in this process: mailboxes watched, outboxes drained. With N workers, "
                             "N x concurrency at or above the number of offices watches every mailbox at once; "
                             "below it, mailboxes are taken in turns (each for --hold seconds).")] = 8,
    hold: Annotated[float, typer.Option(
        min=5, help="Seconds a worker keeps a mailbox before handing it back to the queue (so work spreads).")] = 60,
    config: ConfigOpt = None,
    log_format: Annotated[str | None, typer.Option(help="text or json (default: text on a terminal, else json).")] = None,
) -> None:
    """Run a worker (PostgreSQL only): with any number of others, on any number
    of machines, pointed at the same database, it shares every office's
    mailbox, outbox, deadlines and monthly report. A worker that dies hands
    its work to the others within about 20 s; SIGTERM hands it back at once.
    Scheduling is procrastinate's (see docs/SCALE.md)."""
    from mailflow.runner.worker import WorkerRuntime, procrastinate_conninfo, run_worker

    deployment = deployment_from(config)
    procrastinate_conninfo(deployment.database_url)  # refuses SQLite with the fix
    for s in deployment.offices:
        s.check_secrets()
    setup_logging(deployment.log_level, log_format)
    bound_memory()
    run_worker(WorkerRuntime(deployment, clock=clock(ctx), hold=hold, concurrency=concurrency))


def _ago(language: str, then: datetime | None, now: datetime) -> str:
    if then is None:
        return text(language, "workers.never")
    seconds = max(0, int((now - then).total_seconds()))
    return (text(language, "workers.seconds_ago", seconds=seconds) if seconds < 120
            else text(language, "workers.minutes_ago", minutes=seconds // 60))


@app.command()
def workers(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """The state of the fleet: workers and their last heartbeat, which mailbox
    each watches now, the last successful look at each office's mailbox, the
    outbox backlog per office, and jobs on workers that stopped answering."""
    from mailflow.runner.worker import STALLED_AFTER

    deployment = deployment_from(config)
    engine = db.make_engine(deployment.database_url)
    now = clock(ctx)()
    try:
        db.check_schema(engine)
        with db.session_factory(engine)() as session:
            workers_, jobs = (queries.workers_and_jobs(session, STALLED_AFTER)
                              if queries.queue_tables_present(session) else ([], []))
            checks = queries.mailbox_checks(session)
            backlog = queries.outbox_backlog(session)
    finally:
        engine.dispose()
    names = {w["id"]: f"#{w['id']}" for w in workers_}
    stalled_ids = {w["id"] for w in workers_ if w["stalled"]}
    holder: dict[str, str] = {}
    for j in jobs:
        if j["task_name"] == "mailflow.watch_mailbox":
            holder[j["args"].get("office", "")] = names.get(j["worker_id"], "?")
    stalled_jobs = [j for j in jobs if j["worker_id"] is None or j["worker_id"] in stalled_ids]
    folder_of = {s.office.key: s.imap.folder for s in deployment.offices}
    mailboxes: list[dict[str, Any]] = []
    for key in deployment.keys:
        seen = [c for c in checks if c[0] == key and c[1] == folder_of[key]]
        checked, by = (seen[0][2], seen[0][3]) if seen else (None, None)
        b = backlog.get(key, queries.empty_backlog())
        mailboxes.append({"office": key, "watched_by": holder.get(key), "checked_at": checked, "checked_by": by,
                          "outbox_pending": b["pending"], "outbox_sending": b["sending"], "outbox_failed": b["failed"]})
    if as_json:
        def iso(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v
        typer.echo(json.dumps({
            "workers": [{"id": w["id"], "last_heartbeat": iso(w["last_heartbeat"]), "stalled": w["stalled"],
                         "jobs": [{"task": j["task_name"], "office": j["args"].get("office")}
                                  for j in jobs if j["worker_id"] == w["id"]]} for w in workers_],
            "offices": [{k: iso(v) for k, v in m.items()} for m in mailboxes],
            "stalled_jobs": [{"id": j["id"], "task": j["task_name"], "office": j["args"].get("office")}
                             for j in stalled_jobs]}, indent=2))
        return
    language = lang(ctx)
    if workers_:
        say(msg(ctx, "workers.count", count=len(workers_)))
        table([msg(ctx, f"workers.col.{c}") for c in ("worker", "heartbeat", "jobs")],
              [[f"#{w['id']}" + (msg(ctx, "workers.stalled") if w["stalled"] else ""),
                _ago(language, w["last_heartbeat"], now),
                ", ".join(f"{j['task_name'].removeprefix('mailflow.')} {j['args'].get('office', '')}".strip()
                          for j in jobs if j["worker_id"] == w["id"]) or "-"] for w in workers_],
              language=language)
    else:
        say(msg(ctx, "workers.none"))
    say("")
    table([msg(ctx, f"workers.col.{c}") for c in ("office", "watched_by", "last_look", "by_process", "pending",
                                                  "sending", "failed")],
          [[m["office"], m["watched_by"] or "-", _ago(language, m["checked_at"], now), m["checked_by"] or "-",
            str(m["outbox_pending"]),
            str(m["outbox_sending"]), str(m["outbox_failed"])] for m in mailboxes], language=language)
    if stalled_jobs:
        say("")
        say(msg(ctx, "workers.stalled_jobs", count=len(stalled_jobs), seconds=int(STALLED_AFTER) + 5))
        for j in stalled_jobs:
            say(f"  job {j['id']}: {j['task_name']} {j['args'].get('office', '')}")
