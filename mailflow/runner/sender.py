"""The daemon's sender thread: the outbox drain, beside the intake loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mailflow.core.retry import backoff
from mailflow.edges.mailbox import NETWORK_ERRORS, Mailbox
from mailflow.edges.outbox import Outbox
from mailflow.errors import CredentialError, MailServerError, TLSRequiredError
from mailflow.runner.alerts import LoginAlerts
from mailflow.store.db import is_database_error

log = logging.getLogger("mailflow.daemon")

Probe = Callable[[list[str]], set[str]]


class Sender(threading.Thread):
    """The daemon's outbox drain, beside its intake: resolves sends a crash
    interrupted, then drains whatever is due, whenever woken (after each
    intake pass) and at least every second (for deferred mail coming due).
    SMTP and network errors are the outbox's to handle; database and IMAP
    (Sent folder) errors are logged and retried with backoff. On stop, the
    mail being sent is finished and the rest of the claim handed back."""

    def __init__(self, outbox: Outbox, stop: threading.Event,
                 probe_for: Callable[[Mailbox], Probe | None], mailbox: Mailbox | None, alerts: LoginAlerts):
        super().__init__(name="mailflow-sender", daemon=True)
        self.outbox = outbox
        self.stop_requested = stop
        self.mailbox = mailbox  # its own IMAP connection, for the Sent folder only
        self.probe = probe_for(mailbox) if mailbox is not None else None
        self._wake = threading.Event()
        self.alerts = alerts

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        failures = 0
        wait = 0.0
        while not self.stop_requested.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            try:
                recovered = self.outbox.recover_interrupted(self.probe)
                if recovered:
                    log.info("interrupted sends: %d confirmed, %d requeued", recovered.confirmed, recovered.requeued)
                while not self.stop_requested.is_set():
                    drained = self.outbox.run_once(stop=self.stop_requested)
                    if drained:
                        log.info("outbox: sent %d, deferred %d, failed %d", drained.sent, drained.deferred, drained.failed)
                    if drained.sent:
                        self.alerts.recovered("SMTP")
                    if drained.unreachable is not None:
                        # Recorded for `mailflow status` (once per outage); a database
                        # error doing so is this loop's to log and retry.
                        self.alerts.unreachable("SMTP", drained.unreachable)
                    if not drained.sent:
                        break  # nothing more due now
                failures, wait = 0, 1.0
            except CredentialError as exc:
                failures += 1
                wait = backoff(failures, base=2.0, cap=300.0)
                self.alerts.failed(exc)
                if self.mailbox is not None:
                    self.mailbox.close()
            except (MailServerError, TLSRequiredError, *NETWORK_ERRORS) as exc:
                failures += 1
                wait = backoff(failures, base=2.0, cap=300.0)
                log.warning("sender: mail server problem (%s); retrying in %.0fs", exc, wait)
                if self.mailbox is not None:
                    self.mailbox.close()
            except Exception as exc:
                failures += 1
                wait = backoff(failures, base=2.0, cap=300.0)
                if is_database_error(exc):
                    log.error("sender: database problem (%s); retrying in %.0fs", exc, wait)
                else:
                    log.exception("sender: unexpected error; retrying in %.0fs", wait)
        if self.mailbox is not None:
            self.mailbox.close()
