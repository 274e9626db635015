"""Telling the admin that a mail server refuses mailflow's login: once per
outage, not once per retry (docs/SECURITY.md, promise 7).

Each process also records the start of an outage it meets as a hop of no
complaint (``login-refused``, or ``server-unreachable`` for a server that
cannot be reached), the reason starting with the server ("IMAP"/"SMTP"):
``mailflow status`` reads from them, with the last successful look at the
mailbox and the last mail sent, which problem is still there and since when."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.settings import Settings
from mailflow.core.vocabulary import HopKind, MailKind
from mailflow.desk.letters import Letters
from mailflow.errors import CredentialError, TokenRefreshError
from mailflow.store import hoplog, queries
from mailflow.store.db import WriteGate

log = logging.getLogger("mailflow.daemon")

# Across processes an outage is known from the alert itself: a refusal within
# this long of the last alert for that server is the same outage.
REMIND_AFTER = timedelta(hours=24)


class LoginAlerts:
    """Remembers which servers refuse the login now. The first refusal of an
    outage is logged at ERROR and mailed to the admin (through the outbox: an
    SMTP refusal's alert goes once the login works again, and the log has
    said it at once); later ones are logged at WARNING only, until a login
    succeeds. Another process's alert of the last 24 hours counts too, so a
    cron job of ``poll --once`` does not alert every run. Shared by the intake
    loop and the sender thread."""

    def __init__(self, settings: Settings, letters: Letters, factory: sessionmaker[Session], gate: WriteGate,
                 clock: Callable[[], datetime]):
        self.settings = settings
        self.letters = letters
        self.factory = factory
        self.gate = gate
        self.clock = clock
        self._down: set[str] = set()
        self._unreachable: set[str] = set()
        self._token_down = False  # an OAuth2 token renewal failed and the admin was told (this process)
        self._lock = threading.Lock()

    def failed(self, exc: CredentialError) -> None:
        server = exc.server
        cfg = self.settings.smtp if server == "SMTP" else self.settings.imap
        # A token that cannot be renewed fails IMAP and SMTP alike: one alert for both.
        token = isinstance(exc, TokenRefreshError)
        with self._lock:
            first = server not in self._down
            self._down.add(server)
            told_of_token = token and self._token_down
            self._token_down = self._token_down or token
        if not first:
            log.warning("%s login still refused: %s", server, exc)
            return
        now = self.clock()
        with self.gate, self.factory.begin() as session:
            hoplog.record(session, HopKind.LOGIN_REFUSED, at=now, office=self.settings.office.key,
                          reason=f"{server} {cfg.host}:{cfg.port} user {cfg.username or '-'}: {exc}")
            servers = ("IMAP", "SMTP") if token else (server,)
            if told_of_token or any(queries.login_alerts_since(session, self.settings.office.key, name,
                                                                now - REMIND_AFTER) for name in servers):
                # Another process (a cron `poll --once`, a restart) told the admin of this outage.
                log.error("%s login refused: %s; mail stays queued (the admin was alerted already)", server, exc)
                return
            log.error("%s login refused: %s; mail stays queued, the admin is alerted", server, exc)
            self.letters.to_admin(session, MailKind.LOGIN_FAILED, now, server=server, host=cfg.host,
                                  username=cfg.username or "", error=str(exc))

    def unreachable(self, server: str, exc: BaseException) -> None:
        """``server`` could not be reached (refused, timed out, TLS failed): the
        first time in an outage, recorded as a hop (the caller logs it)."""
        cfg = self.settings.smtp if server == "SMTP" else self.settings.imap
        with self._lock:
            if server in self._unreachable:
                return
            self._unreachable.add(server)
        with self.gate, self.factory.begin() as session:
            hoplog.record(session, HopKind.UNREACHABLE, at=self.clock(), office=self.settings.office.key,
                          reason=f"{server} {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}")

    def recovered(self, server: str) -> None:
        with self._lock:
            self._unreachable.discard(server)
            self._token_down = False
            if server not in self._down:
                return
            self._down.discard(server)
        log.info("%s login works again", server)

    def down(self) -> set[str]:
        with self._lock:
            return set(self._down)
