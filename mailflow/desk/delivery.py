"""The values the desk passes around while it handles one inbound mail.

``Source``: where the mail came from; ``Delivery``: the mail as read, its
archived row, the moment, and (looked up once, when a step asks) the complaint
it belongs to; ``Outcome``: what was done with it, for the runner and the log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.core.authres import SenderCheck
from mailflow.core.classify import Classification
from mailflow.core.mail import InboundMail
from mailflow.store import queries
from mailflow.store.models import Complaint, Message


@dataclass(frozen=True)
class Source:
    """Where a mail came from (for the archive and the hop log)."""

    mailbox: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    size: int | None = None  # the full size on the server, when only the header was fetched
    # Who asked for this mail to be handled again from its archived copy
    # (``mailflow mail retry``); None for mail fetched from IMAP.
    retried_by: str | None = None

    def where(self) -> str:
        """`` (IMAP INBOX UID 7, UIDVALIDITY 1)`` for hop reasons; empty without a UID."""
        if self.retried_by is not None:
            return f" (the archived copy, retried by {self.retried_by})"
        if self.uid is None:
            return ""
        return f" (IMAP {self.mailbox} UID {self.uid}, UIDVALIDITY {self.uidvalidity})"


@dataclass(frozen=True)
class Outcome:
    action: str  # registered | rejected | ignored | duplicate | attached | refused | bounced | quarantined
    reason: str = ""
    complaint_number: str | None = None
    message_pk: int | None = None


@dataclass(frozen=True)
class Match:
    """The complaint a mail belongs to, and whether it came through the
    complaint's own reply address (with its secret token)."""

    complaint: Complaint | None
    via_token: bool = False
    how: str = ""  # what found it, for staff: "the reply address", "In-Reply-To/References", "the subject"


class Matcher:
    """Finds the complaint a mail answers: its reply address (token) first,
    then In-Reply-To/References, then a register number in the subject."""

    def __init__(self, office: str, complaint_address: str, number_pattern: re.Pattern[str]):
        self.office = office
        local = complaint_address.partition("@")[0]
        self._reply_address = re.compile(rf"^{re.escape(local)}\+([a-z0-9-]+)\.([a-z2-7]+)@", re.I)
        self._number = number_pattern

    def find(self, session: Session, mail: InboundMail, slug: Callable[[str], str]) -> Match:
        """The complaint ``mail`` belongs to; a merged duplicate's mail is the
        complaint it was merged into (merging: always one step, never a chain)."""
        match = self._find(session, mail, slug)
        c = match.complaint
        if c is not None and c.merged_into_id is not None:
            survivor = session.get(Complaint, c.merged_into_id)
            if survivor is not None:
                return Match(survivor, match.via_token, match.how)
        return match

    def _find(self, session: Session, mail: InboundMail, slug: Callable[[str], str]) -> Match:
        for addr in mail.to_addrs + mail.cc_addrs:
            m = self._reply_address.match(addr)
            if m:
                found = queries.complaint_by_reply_token(session, self.office, m.group(2))
                if found is not None and slug(found.number) == m.group(1).lower():
                    return Match(found, via_token=True, how="the complaint's reply address")
        refs = [r for r in (mail.in_reply_to, *mail.references) if r]
        if refs:
            found = queries.complaint_by_references(session, self.office, refs)
            if found is not None:
                return Match(found, how="In-Reply-To/References")
        m = self._number.search(mail.subject)
        if m:
            return Match(queries.complaint_by_number(session, m.group(0), self.office),
                         how="the register number in the subject")
        return Match(None)


@dataclass
class Delivery:
    """One inbound mail being handled, inside its transaction."""

    session: Session
    mail: InboundMail
    verdict: Classification
    message: Message  # its archived row
    now: datetime
    source: Source
    check: SenderCheck  # what the office's mail server verified of the From: domain
    lookup: Callable[[Session, InboundMail], Match] = field(repr=False)
    _match: Match | None = field(default=None, repr=False)

    @property
    def match(self) -> Match:
        """The complaint this mail belongs to (looked up once)."""
        if self._match is None:
            self._match = self.lookup(self.session, self.mail)
        return self._match

    def on(self, complaint: Complaint) -> None:
        """File the archived mail on ``complaint``."""
        self.message.complaint_id = complaint.id

    def outcome(self, action: str, reason: str = "", number: str | None = None) -> Outcome:
        return Outcome(action, reason, number, self.message.id)
