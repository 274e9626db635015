"""Every office of one configuration in one process (``mailflow run`` and
``poll --once`` on SQLite or PostgreSQL): one engine, one desk per office.

``Fleet.run_once`` is one pass of every office in turn. ``Fleet.run`` runs
each office's daemon loop (IDLE on its own mailbox, its own sender thread)
in a thread of its own; this thread waits for SIGTERM/SIGINT and then stops
them all: an office in the middle of a mail has it rolled back at once (it
stays in INBOX, as with one office). For many processes on many machines,
``mailflow worker`` shares the offices through PostgreSQL instead.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailflow.config.settings import Deployment
from mailflow.runner.app import App, Shared, build
from mailflow.runner.daemon import Daemon, PassResult
from mailflow.store.models import utcnow

log = logging.getLogger("mailflow.daemon")


@dataclass
class Fleet:
    deployment: Deployment
    shared: Shared
    apps: dict[str, App]
    daemons: dict[str, Daemon] = field(default_factory=dict)

    @classmethod
    def build(cls, deployment: Deployment, *, clock: Callable[[], datetime] = utcnow,
              offices: tuple[str, ...] | None = None, check_schema: bool = True, **engine_options) -> Fleet:
        """The desks of ``offices`` (keys; default every office of the deployment)."""
        shared = Shared.open(deployment.database_url, check_schema, key=deployment.database_key, **engine_options)
        chosen = [deployment.office(k) for k in offices] if offices else list(deployment.offices)
        apps = {s.office.key: build(s, clock=clock, shared=shared) for s in chosen}
        return cls(deployment, shared, apps)

    def daemon(self, key: str) -> Daemon:
        if key not in self.daemons:
            self.daemons[key] = self.apps[key].daemon()
        return self.daemons[key]

    def run_once(self) -> dict[str, PassResult | BaseException]:
        """One pass of every office in turn; an office whose mail server failed
        does not keep the others from their pass (its error is in the result)."""
        results: dict[str, PassResult | BaseException] = {}
        for key in self.apps:
            try:
                results[key] = self.daemon(key).run_once()
            except Exception as exc:
                results[key] = exc
        return results

    def run(self) -> None:
        """Every office's daemon loop, each in its thread, until SIGTERM/SIGINT."""
        if len(self.apps) == 1:  # one office: its loop in this thread, exactly as before
            self.daemon(next(iter(self.apps))).run()
            return
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("received %s; stopping every office", signal.Signals(signum).name)
            stop.set()
            for d in self.daemons.values():
                d.interrupt()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        threads = [threading.Thread(target=self.daemon(key).run, kwargs={"install_signal_handlers": False},
                                    name=f"mailflow-office-{key}", daemon=True) for key in self.apps]
        for t in threads:
            t.start()
        log.info("mailflow running %d offices: %s", len(threads), ", ".join(self.apps))
        while not stop.is_set() and any(t.is_alive() for t in threads):
            stop.wait(1.0)
        for d in self.daemons.values():
            d.stop()
        for t in threads:
            t.join(60)

    def close(self) -> None:
        for key, d in self.daemons.items():
            d.mailbox.close()
            self.apps[key].close()
        for key, app in self.apps.items():
            if key not in self.daemons:
                app.close()
        self.shared.engine.dispose()
