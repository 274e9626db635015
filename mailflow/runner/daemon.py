"""The daemon loop: intake pass, deadline pass, monthly report, outbox drain, over and over.

``Daemon.run_once`` is one pass (tests and ``mailflow poll --once`` call it);
``Daemon.run`` is the loop with the wait between passes, reconnects with
capped backoff on network errors (it never exits on one) and a clean stop on
SIGTERM/SIGINT after the message in hand.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.settings import Settings
from mailflow.core.retry import backoff
from mailflow.desk.deadlines import DeadlineResult, Deadlines
from mailflow.desk.delivery import Outcome, Source
from mailflow.desk.digests import Digests
from mailflow.desk.intake import Intake
from mailflow.desk.privacy import Retention, RetentionResult
from mailflow.edges.mailbox import NETWORK_ERRORS, Mailbox
from mailflow.edges.outbox import DrainResult, Outbox, RecoveryResult
from mailflow.errors import CredentialError, MailServerError, TLSRequiredError
from mailflow.report.monthly import MonthlyReport, ReportResult
from mailflow.runner.alerts import LoginAlerts
from mailflow.runner.budget import Interruptible, StopNow, TimeBudget
from mailflow.runner.sender import Probe, Sender
from mailflow.store import mailboxes
from mailflow.store.db import is_database_error
from mailflow.store.models import utcnow

log = logging.getLogger("mailflow.daemon")
PROCESS = f"{socket.gethostname()}:{os.getpid()}"  # who looked at a mailbox (mailbox_state.checked_by)

@dataclass
class PassResult:
    outcomes: list[Outcome] = field(default_factory=list)
    recovered: RecoveryResult = field(default_factory=RecoveryResult)
    deadlines: DeadlineResult = field(default_factory=DeadlineResult)
    report: ReportResult = field(default_factory=ReportResult)
    drained: DrainResult = field(default_factory=DrainResult)
    digests: int = 0  # hourly digests of held notices sent
    retention: RetentionResult = field(default_factory=RetentionResult)  # privacy (issue 14)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def summary(self) -> str:
        actions: dict[str, int] = {}
        for o in self.outcomes:
            actions[o.action] = actions.get(o.action, 0) + 1
        parts = [f"{n} {a}" for a, n in sorted(actions.items())] or ["no new mail"]
        if self.recovered:
            parts.append(f"interrupted sends: {self.recovered.confirmed} confirmed, {self.recovered.requeued} requeued")
        if self.deadlines:
            parts.append(f"deadlines: {self.deadlines.summary()}")
        if self.report:
            parts.append(self.report.summary())
        if self.digests:
            parts.append(f"{self.digests} notice digest(s)")
        if self.retention:
            parts.append(self.retention.summary())
        d = self.drained
        return ", ".join(parts) + f"; sent {d.sent}, deferred {d.deferred}, failed {d.failed}"


class Daemon:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        intake: Intake,
        outbox: Outbox,
        *,
        mailbox: Mailbox | None = None,
        deadlines: Deadlines | None = None,
        monthly_report: MonthlyReport | None = None,
        digests: Digests | None = None,
        retention: Retention | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.settings = settings
        self.factory = factory
        self.intake = intake
        self.outbox = outbox
        self.mailbox = mailbox or Mailbox(settings.imap, outbox.tokens)
        self.deadlines = deadlines
        # Its transactions and the sender thread's take turns (db.WriteGate).
        self.write_gate = outbox.write_gate
        self.monthly_report = monthly_report
        self.digests = digests
        self.retention = retention  # privacy (issue 14)
        self.clock = clock
        self.alerts = LoginAlerts(settings, intake.letters, factory, self.write_gate, clock)
        self.stop_requested = threading.Event()
        self.interruptible = Interruptible()  # a stop signal while a mail is handled raises StopNow
        self._full_scan = True  # after (re)connecting, look at everything left in the folder

    # ------------------------------------------------------------------ one pass
    def run_once(self, *, send: bool = True) -> PassResult:
        """One pass: resolve sends a crash interrupted, take in new mail, do the
        deadlines and the monthly report if it is due, drain the outbox (which
        sends their mail). A mail-server error in the IMAP part does not keep
        the outbox from draining (nor the reverse); it is raised at the end,
        for ``run`` to back off and reconnect. ``send=False``: leave the outbox
        alone (``run`` drains it from its sender thread)."""
        result = PassResult()
        error: BaseException | None = None
        try:
            if send:
                result.recovered = self.outbox.recover_interrupted(self._sent_probe(self.mailbox))
            result.outcomes = self.intake_once()
            self.alerts.recovered("IMAP")
        except CredentialError as exc:
            self.alerts.failed(exc)
            error = exc
        except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
            self._unreachable("IMAP", exc)
            error = exc
        self.timers_once(result)
        if send:
            try:
                result.drained = self.outbox.run_once()
                if result.drained.sent:
                    self.alerts.recovered("SMTP")
                if result.drained.unreachable is not None:
                    self._unreachable("SMTP", result.drained.unreachable)
            except CredentialError as exc:
                self.alerts.failed(exc)
                error = error or exc
        if error is not None:
            raise error
        return result

    def _unreachable(self, server: str, exc: BaseException) -> None:
        """Record that ``server`` cannot be reached (once per outage); a
        database that is down itself is not recorded in it."""
        try:
            self.alerts.unreachable(server, exc)
        except Exception as db_exc:  # the mail server's error is the one raised
            if not is_database_error(db_exc):
                raise
            log.warning("could not record that %s is unreachable: %s", server, db_exc)

    def timers_once(self, result: PassResult) -> None:
        """The deadline pass, the hourly notice digests, the monthly report
        when due and the retention pass (docs/PRIVACY.md), into ``result`` (a worker's office_timers job runs this too)."""
        if self.deadlines is not None:
            result.deadlines = self.deadlines.run_once()
        if self.digests is not None:
            result.digests = self.digests.run_once()
        if self.monthly_report is not None:
            result.report = self.monthly_report.run_once()
        if self.retention is not None:
            result.retention = self.retention.run_once()

    def _sent_probe(self, mailbox: Mailbox) -> Probe | None:
        """Where the SMTP server files what it accepted (imap.sent_folder), as a
        probe for Outbox.recover_interrupted, through ``mailbox``; None if not
        configured."""
        folder = self.settings.imap.sent_folder
        if not folder:
            return None
        return lambda message_ids: mailbox.find_message_ids(folder, message_ids)

    def intake_once(self) -> list[Outcome]:
        """Fetch new mail and handle each message in its own transaction."""
        cfg = self.settings.imap
        mailbox = self.mailbox
        uidvalidity = mailbox.select()
        with self.factory.begin() as session:
            checkpoint = mailboxes.checkpoint(session, self.settings.office.key, cfg.folder, uidvalidity, self.clock(),
                                              by=PROCESS)
        if checkpoint is None:
            self._full_scan = True
        last_uid = checkpoint or 0
        uids = mailbox.uids(0 if self._full_scan else last_uid)
        self._full_scan = False
        outcomes: list[Outcome] = []
        if not uids:
            return outcomes
        done: dict[str, list[int]] = {cfg.processed_folder: [], cfg.quarantine_folder: []}
        try:
            for fetched in mailbox.fetch(uids, max_bytes=self.settings.limits.max_message_bytes):
                source = Source(cfg.folder, uidvalidity, fetched.uid, fetched.size)
                outcome = self.handle(fetched.raw, source)
                outcomes.append(outcome)
                target = cfg.quarantine_folder if outcome.action == "quarantined" else cfg.processed_folder
                done[target].append(fetched.uid)
                if self.stop_requested.is_set():
                    break
        finally:
            # Committed work leaves INBOX even if the pass was cut short.
            for folder, moved in done.items():
                if moved:
                    mailbox.move(moved, folder)
        return outcomes

    def handle(self, raw: bytes, source: Source) -> Outcome:
        """One mail, in its own transaction, within its time budget; a mail
        that makes the handling raise is quarantined (in a second transaction)
        and the outcome says so. Used for each mail fetched from IMAP, and by
        ``mailflow mail retry`` for an archived copy (``source.retried_by``)."""
        try:
            # A mail gets limits.seconds_per_mail (then it is quarantined), and
            # a stop asked for meanwhile rolls it back at once (it stays in INBOX).
            with TimeBudget(self.settings.limits.seconds_per_mail), self.interruptible:
                try:
                    with self.write_gate, self.factory.begin() as session:
                        outcome = self.intake.process(session, raw, source)
                        self._advance(session, source)
                except IntegrityError:
                    # Another poller stored the same mail between our check and our
                    # insert; a second look finds it and records a duplicate.
                    with self.write_gate, self.factory.begin() as session:
                        outcome = self.intake.process(session, raw, source)
                        self._advance(session, source)
            return outcome
        except Exception as exc:
            if is_database_error(exc):
                raise  # the database is down: nothing can be stored, so nothing is moved
            reason = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("handling UID %s failed; quarantining it", source.uid)
            with self.write_gate, self.factory.begin() as session:
                outcome = self.intake.quarantine(session, raw, source, reason)
                self._advance(session, source)
            return outcome

    def _advance(self, session: Session, source: Source) -> None:
        """Raise the stored last UID to this mail's, in its transaction (one UPDATE)."""
        if source.uid is not None and source.mailbox is not None:
            mailboxes.advance(session, self.settings.office.key, source.mailbox, source.uid, self.clock())

    # ------------------------------------------------------------------ the loop
    def run(self, *, install_signal_handlers: bool = True) -> None:
        """Until SIGTERM/SIGINT: passes of intake, deadlines and the monthly
        report, waiting with IMAP IDLE (or polling) between them, while a
        sender thread drains the outbox as soon as there is mail in it, so
        taking mail in and sending the answers overlap. Network errors are
        logged and retried with backoff; the daemon never exits on one."""
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        failures = 0
        log.info("mailflow daemon started: %s on %s:%s, %s", self.settings.imap.folder, self.settings.imap.host,
                 self.settings.imap.port, f"re-checking every {self.settings.imap.poll_interval}s"
                 + (" (IMAP IDLE where offered)" if self.settings.imap.idle else ""))
        sender = Sender(self.outbox, self.stop_requested, self._sent_probe,
                        Mailbox(self.settings.imap, self.outbox.tokens) if self.settings.imap.sent_folder else None, self.alerts)
        sender.start()
        try:
            while not self.stop_requested.is_set():
                idle = False
                try:
                    result = self.run_once(send=False)
                    failures = 0
                    sender.wake()
                    if result.outcomes or result.deadlines or result.report:
                        log.info("pass: %s", result.summary())
                    if result.outcomes or result.deadlines.more:
                        continue  # more may have come meanwhile: look again before waiting
                    wait = self.settings.imap.poll_interval
                    idle = True
                except StopNow:
                    break
                except TLSRequiredError as exc:
                    failures += 1
                    log.error("%s", exc)
                    self._reset_connection()
                    wait = backoff(failures, base=2.0, cap=300.0)
                except (MailServerError, *NETWORK_ERRORS) as exc:
                    failures += 1
                    wait = backoff(failures, base=2.0, cap=300.0)
                    log.warning("mail server problem (%s); retrying in %.0fs", exc, wait)
                    self._reset_connection()
                except Exception as exc:
                    if not is_database_error(exc):
                        raise
                    failures += 1
                    wait = backoff(failures, base=2.0, cap=300.0)
                    log.error("database problem (%s); retrying in %.0fs", exc, wait)
                if idle:
                    self._wait_for_mail(wait)
                else:
                    self.stop_requested.wait(wait)
        finally:
            self.stop_requested.set()
            sender.join(60)
            self.mailbox.close()
        log.info("mailflow daemon stopped")

    def _wait_for_mail(self, timeout: float) -> None:
        """Until new mail is announced (IMAP IDLE), ``timeout`` passes or a stop
        is asked for. Without IDLE (or on any IMAP error) a plain wait; the
        error is left for the next pass to meet and report."""
        try:
            if self.mailbox.can_idle():
                if self.mailbox.wait_for_mail(timeout, self.stop_requested):
                    log.debug("new mail announced (IDLE)")
                return
        except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
            log.info("IDLE ended (%s); reconnecting at the next pass", exc)
            self._reset_connection()
            return
        self.stop_requested.wait(timeout)

    def stop(self) -> None:
        self.stop_requested.set()

    def interrupt(self) -> None:
        """Stop from another thread: now, rolling back a mail in hand (it stays in INBOX)."""
        self.stop_requested.set()
        self.interruptible.interrupt()

    def _on_signal(self, signum, _frame) -> None:
        self.stop_requested.set()
        if self.interruptible.inside:
            log.info("received %s; stopping now (the mail in hand is rolled back and stays in INBOX)",
                     signal.Signals(signum).name)
            raise StopNow
        log.info("received %s; stopping", signal.Signals(signum).name)

    def _reset_connection(self) -> None:
        self.mailbox.close()
        self._full_scan = True
