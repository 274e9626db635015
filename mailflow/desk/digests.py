"""The hourly digest of internal notices.

A notice an attacker can cause at will (a refused attempt on a complaint, a
quarantine alert, a mail with an unclear sender, an unverified note) goes out
at most ``limits.notices_per_hour`` times an hour to the same recipients
(``Letters.notice``); the rest are stored as ``held`` outbox rows. Once the
oldest held row of a recipient group is an hour old, ``Digests.run_once``
sends them ONE mail listing every held notice (``staff/notice-digest``) and
marks the rows ``digested``: nothing is lost, and nobody is flooded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy.orm import Session, sessionmaker

from mailflow.core.render import TemplateError
from mailflow.core.vocabulary import MailKind
from mailflow.desk.letters import Letters
from mailflow.store import hoplog, queries
from mailflow.store.models import utcnow

log = logging.getLogger("mailflow.digests")

WAIT = timedelta(hours=1)


class Digests:
    def __init__(self, letters: Letters, factory: sessionmaker[Session], *,
                 clock: Callable[[], datetime] = utcnow):
        self.letters = letters
        self.factory = factory
        self.clock = clock

    def run_once(self) -> int:
        """Send the digests that are due; returns how many. A template that
        cannot be rendered rolls back and is logged (tried again next pass)."""
        now = self.clock()
        try:
            with self.factory.begin() as session:
                return self._pass(session, now)
        except TemplateError as exc:
            log.error("notice digest rolled back: %s", exc)
            return 0

    def _pass(self, session: Session, now: datetime) -> int:
        groups: dict[str, list] = {}
        session.info[hoplog.OFFICE] = self.letters.settings.office.key
        for item, message in queries.held_notices(session, self.letters.settings.office.key):
            groups.setdefault(item.recipients, []).append((item, message))
        sent = 0
        for recipients, held in groups.items():
            if held[0][0].created_at > now - WAIT:
                continue  # the hour is not over: more may come
            items = [SimpleNamespace(kind=item.kind, subject=message.subject, at=item.created_at)
                     for item, message in held]
            self.letters.write(session, MailKind.NOTICE_DIGEST, to=recipients.split(","), now=now, items=items)
            for item, _ in held:
                item.state = "digested"
            sent += 1
            log.info("notice digest to %s: %d notice(s)", recipients, len(held))
        return sent
