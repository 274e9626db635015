"""What reading a mail hands out: :class:`InboundMail` with its
:class:`Attachment` and :class:`ReportPart` values, or :class:`MessageParseError`
when there is no mail to read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mailflow.errors import MailflowError

__all__ = ["Attachment", "InboundMail", "MessageParseError", "ReportPart"]


class MessageParseError(MailflowError):
    """The bytes are not a mail we can read at all; the daemon quarantines it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str  # RFC 2047 / RFC 2231 decoded; '' when the part has none
    content_type: str  # lower-case type/subtype
    size: int  # decoded size in bytes


@dataclass(frozen=True)
class ReportPart:
    """A machine-readable part, for the classifier (bounces, ARF, MDN).

    ``content_type`` is one of message/delivery-status,
    message/global-delivery-status, message/disposition-notification,
    message/feedback-report, text/rfc822-headers, or message/rfc822 /
    message/global (for those: the header block of the enclosed message only).
    ``text`` holds ``Name: value`` lines (unfolded), blocks separated by a
    blank line.
    """

    content_type: str
    text: str


@dataclass(frozen=True)
class InboundMail:
    message_id: str | None  # without <>, stripped; None when absent/empty
    subject: str  # RFC 2047 decoded, whitespace folded, '' when absent
    from_name: str
    from_addr: str  # lower-cased; '' when absent or unclear (see sender_problem)
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    reply_to: str | None  # lower-cased; None when absent, '' when not exactly one clean address
    date: datetime | None  # tz-aware when the header has a zone (-0000: naive)
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: Mapping[str, tuple[str, ...]]  # lower-case name -> decoded values
    text: str  # best plain text (text/plain, else HTML converted), '\n' line ends
    html: str | None
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]
    # Structure, for mailflow.core.classify:
    content_type: str = "text/plain"  # top-level, lower-case type/subtype
    report_type: str | None = None  # report-type of the first multipart/report
    report_parts: tuple[ReportPart, ...] = field(default=())
    # '' when the sender is clear: exactly one From: field holding exactly one
    # address, its display name no address. Otherwise a short English reason
    # for the log ("no From: field", "two From: fields", "display name holds
    # an address", ...), and from_addr is '': the desk then treats the mail as
    # one without a sender (no staff command, no automatic mail).
    sender_problem: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None
