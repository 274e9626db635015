"""Workers: any number of processes, on any number of machines, sharing every
office's work through PostgreSQL, scheduled by procrastinate.

Nothing here is a cluster protocol of mailflow's own: which process runs what,
one-at-a-time per mailbox, and taking over from a dead worker are
procrastinate's (``lock``, ``queueing_lock``, worker heartbeats and its
stalled-job query). The business code is the daemon's, unchanged:
``Daemon.intake_once``, ``Outbox.run_once``, ``Deadlines``, ``Digests``,
``MonthlyReport``. Only the scheduling differs (see docs/SCALE.md).

The jobs, per office (``<key>`` its key):

- ``watch_mailbox``: lock ``mailbox:<key>`` (one reader per mailbox, across
  every worker), queueing lock the same (at most one waiting). Takes mail in,
  waits for more with IMAP IDLE, and after ``hold`` seconds defers itself
  again and ends, so mailboxes spread over the workers and a new worker gets
  its share. A stop hands the mailbox back at once (the same re-defer).
- ``drain_outbox``: lock ``outbox:<key>``: the office's only sender while it
  runs, so a row it finds in ``sending`` was left by a dead worker and is
  resolved as in the daemon (the Sent-folder check, else sent again with the
  same Message-ID). Deferred by the intake when it queued mail, and by the
  tick while mail is due (retries).
- ``office_timers``: lock ``timers:<key>``: the deadline pass, the hourly
  notice digests, the monthly report when due.

And one periodic task, ``tick``, every ``TICK`` seconds on whichever worker
is free: defers the jobs above where missing (the queueing locks make that a
no-op when they are queued) and hands the jobs of stalled workers (no
heartbeat for ``STALLED_AFTER`` s: killed, frozen, cut off) back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import make_url

from mailflow.config.settings import Deployment
from mailflow.core.retry import backoff
from mailflow.edges.mailbox import NETWORK_ERRORS, Mailbox
from mailflow.errors import ConfigError, CredentialError, MailServerError, TLSRequiredError
from mailflow.runner.budget import StopNow
from mailflow.runner.daemon import PassResult
from mailflow.runner.fleet import Fleet
from mailflow.store import queries
from mailflow.store.models import utcnow

log = logging.getLogger("mailflow.worker")

TICK = 5  # seconds between ticks (a six-field cron: croniter takes the seconds last)
HEARTBEAT = 2.0  # seconds between a worker's heartbeats
STALLED_AFTER = 10.0  # no heartbeat for this long: the worker is gone, its jobs go back to the queue
HOLD = 60.0  # seconds a watch job keeps its mailbox before handing it back to the queue
# Three queues, each with its own slots in every worker process: watching
# mailboxes (long jobs, one per office at a time: --concurrency of them); the
# short work -- sending, timers -- that must never wait for a watch to end;
# and the tick, which must never wait for a busy drain (it is what hands a
# dead worker's mailboxes on).
WATCH_QUEUE, WORK_QUEUE, TICK_QUEUE = "mailflow-watch", "mailflow", "mailflow-tick"
WORK_SLOTS = 4
# A free slot goes to an unwatched mailbox first (the worst state: mail waits
# unseen), then to the timers, then to sending. A watch that used up its hold
# queues its successor a second later, so that with fewer slots than mailboxes
# the waiting drains get their turn while the mailboxes take theirs.
# The tick, short, before all: it is what hands a dead worker's jobs on.
TICK_PRIORITY, WATCH_PRIORITY, TIMERS_PRIORITY, DRAIN_PRIORITY = 30, 20, 10, 5
WATCH, DRAIN, TIMERS, TICK_TASK = "mailflow.watch_mailbox", "mailflow.drain_outbox", "mailflow.office_timers", \
    "mailflow.tick"


def procrastinate_conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (procrastinate
    connects with psycopg itself)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError("`mailflow worker` needs PostgreSQL (database.url or MAILFLOW_DATABASE_URL): workers "
                          "share the offices through it. On SQLite use `mailflow run`, one process for every "
                          "office of its config.")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class WorkerRuntime:
    """What one worker process keeps between jobs: the offices' desks (built
    once), and the stop every job looks at."""

    deployment: Deployment
    clock: Callable[[], datetime] = utcnow
    hold: float = HOLD
    concurrency: int = 8
    fleet: Fleet | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _probes: dict[str, Mailbox] = field(default_factory=dict)

    def desks(self) -> Fleet:
        with self._lock:
            if self.fleet is None:
                # A connection for each job in a transaction at once, and the
                # tick's; at most 8 kept open between bursts (watches waiting
                # in IDLE hold none), so many workers fit PostgreSQL's
                # max_connections.
                slots = self.concurrency + WORK_SLOTS + 1
                self.fleet = Fleet.build(self.deployment, clock=self.clock, pool_size=min(slots, 8),
                                         max_overflow=max(slots - 8, 0) + 2)
            return self.fleet

    def known(self, office: str) -> Fleet:
        """The desks, which must include ``office``: every worker of a database
        runs the same configuration (a job goes to whichever worker is free)."""
        fleet = self.desks()
        if office not in fleet.apps:
            raise ConfigError(f"a job for office {office!r}, which this worker's configuration "
                              f"({self.deployment.path}) does not have: every worker of one database must run the "
                              "same configuration (the same offices)")
        return fleet

    def stop(self) -> None:
        """Every job ends at its next step (a mail in hand is finished first)."""
        self.stopping.set()
        if self.fleet is not None:
            for d in list(self.fleet.daemons.values()):
                d.stop()

    def close(self) -> None:
        for box in self._probes.values():
            box.close()
        if self.fleet is not None:
            self.fleet.close()

    # ------------------------------------------------------------------ the jobs' bodies
    def watch(self, office: str) -> float:
        """Take the office's mail in, wait for more (IDLE), for ``hold`` seconds
        at most. Returns the seconds before the next watch should start: 0 on
        a stop (another worker takes over at once), 1 after the hold, a
        backoff after a mail-server error."""
        fleet = self.known(office)
        daemon = fleet.daemon(office)
        until = time.monotonic() + self.hold
        retry_in = 0.0
        try:
            while not self.stopping.is_set():
                outcomes = daemon.intake_once()
                daemon.alerts.recovered("IMAP")
                if outcomes:
                    self.after_intake(office)
                    continue  # more may have come meanwhile
                left = until - time.monotonic()
                if left <= 0:
                    retry_in = 1.0
                    break
                # IDLE (or a plain wait) until mail, the wait or a stop (stop() sets the daemon's too).
                daemon._wait_for_mail(min(left, daemon.settings.imap.poll_interval))
        except StopNow:
            pass
        except CredentialError as exc:
            daemon.alerts.failed(exc)
            daemon._reset_connection()
            retry_in = 60.0
        except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
            log.warning("office %s: mail server problem (%s); its mailbox is watched again shortly", office, exc)
            daemon._unreachable("IMAP", exc)
            daemon._reset_connection()
            retry_in = backoff(2, base=2.0, cap=60.0)
        return retry_in

    # Set by make_app: defer a drain of the office's outbox.
    after_intake: Callable[[str], None] = lambda _office: None

    def drain(self, office: str) -> int:
        """Resolve sends a dead worker left, then send the office's due mail.
        Returns how many were sent."""
        fleet = self.known(office)
        app = fleet.apps[office]
        daemon = fleet.daemon(office)
        probe = None
        if app.settings.imap.sent_folder:
            box = self._probes.setdefault(office, Mailbox(app.settings.imap, app.outbox.tokens))
            probe = daemon._sent_probe(box)
        try:
            app.outbox.recover_interrupted(probe, every_claim=True)
        except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
            log.warning("office %s: the Sent folder could not be checked (%s); trying again later", office, exc)
        try:
            result = app.outbox.run_once(stop=self.stopping)
        except CredentialError as exc:
            daemon.alerts.failed(exc)
            return 0
        if result.sent:
            daemon.alerts.recovered("SMTP")
        if result.unreachable is not None:
            daemon._unreachable("SMTP", result.unreachable)
        return result.sent

    def timers(self, office: str) -> None:
        self.known(office).daemon(office).timers_once(PassResult())

    def offices_with_due_mail(self) -> list[str]:
        fleet = self.desks()
        with fleet.shared.factory() as session:
            return [key for key in queries.offices_with_due_mail(session, self.clock()) if key in fleet.apps]


def make_app(runtime: WorkerRuntime):
    """The procrastinate application of this deployment, its tasks bound to
    ``runtime``."""
    import procrastinate
    from procrastinate import exceptions as pexc

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=procrastinate_conninfo(runtime.deployment.database_url), min_size=2, max_size=10))

    def defer(task, office: str, *, lock: str, priority: int, schedule_in: float = 0) -> None:
        kwargs: dict = {"lock": lock, "queueing_lock": lock, "priority": priority}
        if schedule_in:
            kwargs["schedule_in"] = {"seconds": schedule_in}
        try:
            task.configure(**kwargs).defer(office=office)
        except pexc.AlreadyEnqueued:
            pass  # one is waiting already: that one will do it

    @app.task(name=WATCH, queue=WATCH_QUEUE)
    def watch_mailbox(office: str) -> None:
        retry_in = 0.0
        try:
            retry_in = runtime.watch(office)
        finally:
            # Handed back: to this or another worker, at once (or after a backoff).
            defer(watch_mailbox, office, lock=f"mailbox:{office}", priority=WATCH_PRIORITY, schedule_in=retry_in)

    @app.task(name=DRAIN, queue=WORK_QUEUE)
    def drain_outbox(office: str) -> None:
        runtime.drain(office)

    @app.task(name=TIMERS, queue=WORK_QUEUE)
    def office_timers(office: str) -> None:
        runtime.timers(office)

    def defer_drain(office: str) -> None:
        defer(drain_outbox, office, lock=f"outbox:{office}", priority=DRAIN_PRIORITY)

    runtime.after_intake = defer_drain

    async def defer_async(task, office: str, *, lock: str, priority: int) -> None:
        try:
            await task.configure(lock=lock, queueing_lock=lock, priority=priority).defer_async(office=office)
        except pexc.AlreadyEnqueued:
            pass

    @app.periodic(cron=f"* * * * * */{TICK}", periodic_id="tick", priority=TICK_PRIORITY)
    @app.task(name=TICK_TASK, queue=TICK_QUEUE, queueing_lock="mailflow.tick", pass_context=True)
    async def tick(context, timestamp: int) -> None:
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
            log.warning("job %s (%s %s) was on a worker that stopped answering; handing it to another",
                        job.id, job.task_name, job.task_kwargs)
            try:
                await manager.retry_job(job)
            except pexc.ConnectorException:
                # The same job is queued already (its queueing lock): end the stalled one.
                await manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=False)
        minute = timestamp % 60 < TICK
        due = set(await asyncio.to_thread(runtime.offices_with_due_mail))
        for key in runtime.deployment.keys:
            await defer_async(watch_mailbox, key, lock=f"mailbox:{key}", priority=WATCH_PRIORITY)
            if key in due:
                await defer_async(drain_outbox, key, lock=f"outbox:{key}", priority=DRAIN_PRIORITY)
            if minute:
                await defer_async(office_timers, key, lock=f"timers:{key}", priority=TIMERS_PRIORITY)

    @app.periodic(cron="17 3 * * *", periodic_id="cleanup", priority=TIMERS_PRIORITY)
    @app.task(name="mailflow.queue_cleanup", queue=TICK_QUEUE, queueing_lock="mailflow.queue_cleanup",
              pass_context=True)
    async def queue_cleanup(context, timestamp: int) -> None:  # noqa: ARG001 - periodic tasks get it
        """Daily: the queue's own record of ended jobs (succeeded ones are
        deleted at once; failed and cancelled ones kept a week to look at)."""
        await context.app.job_manager.delete_old_jobs(nb_hours=24 * 7, include_failed=True, include_cancelled=True,
                                                      include_aborted=True)

    return app


def ensure_schema(app, engine) -> None:
    """procrastinate's tables, created once if the database has none yet (in
    one transaction under an advisory lock: workers starting together do not
    race)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(734120)")
        if conn.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is None:
            # As one script, without parameters (its text holds '%' signs).
            with conn.connection.dbapi_connection.cursor() as cursor:
                cursor.execute(app.schema_manager.get_schema())
            log.info("created procrastinate's tables (its job queue)")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(runtime: WorkerRuntime) -> None:
    """Run one worker until SIGTERM/SIGINT: then every job ends at its next step
    and hands its mailbox back, and the worker waits for them."""
    app = make_app(runtime)
    ensure_schema(app, runtime.desks().shared.engine)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # procrastinate runs a sync job in the loop's default executor, which
        # asyncio sizes by CPU count (6 threads on 2 cores): with more jobs at
        # once the rest would wait, started but not running. One thread per
        # slot, and a few for the tick and deferring from the jobs.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=runtime.concurrency + WORK_SLOTS + 5,
                                                     thread_name_prefix="mailflow-job"))
        runs: list[asyncio.Future] = []

        def on_signal(signum: int) -> None:
            log.info("received %s; handing the mailboxes back", signal.Signals(signum).name)
            runtime.stop()
            for run in runs:
                run.cancel()  # procrastinate stops taking jobs and waits for the running ones

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        log.info("mailflow worker %s started: %d offices, %d jobs at a time", worker_name(),
                 len(runtime.deployment.offices), runtime.concurrency)
        async with app.open_async():
            common = dict(install_signal_handlers=False, update_heartbeat_interval=HEARTBEAT,
                          stalled_worker_timeout=STALLED_AFTER, listen_notify=True, fetch_job_polling_interval=1.0,
                          delete_jobs="successful")
            runs.extend(asyncio.ensure_future(run) for run in (
                app.run_worker_async(queues=[WATCH_QUEUE], concurrency=runtime.concurrency,
                                     name=f"{worker_name()}:watch", **common),
                app.run_worker_async(queues=[WORK_QUEUE], concurrency=WORK_SLOTS, name=f"{worker_name()}:work",
                                     **common),
                app.run_worker_async(queues=[TICK_QUEUE], concurrency=1, name=f"{worker_name()}:tick", **common)))
            try:
                await asyncio.gather(*runs)  # a crash of any of them ends the process
            except asyncio.CancelledError:
                # A stop. gather ends as soon as the first one is done (the
                # work slots, idle, usually): wait for the others to finish their
                # jobs too, or they would be cut off with the app closed under
                # them, left 'doing' (holding their locks until the stalled-job
                # check) and their mailboxes not handed back.
                await asyncio.gather(*runs, return_exceptions=True)

    try:
        asyncio.run(main())
    finally:
        runtime.close()
    log.info("mailflow worker stopped")
