"""Reading one mail (pure): raw RFC 5322 bytes -> :class:`InboundMail`.

:func:`parse_message` checks the bytes against the limits, builds and walks
the MIME tree (:mod:`mailflow.core.mail.mime`) and extracts the value: header
values, addresses, Message-ID and threading ids, the date, the best plain
text. Why this is done here rather than by mail-parser: the package docstring.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from types import MappingProxyType

from mailparser.utils import convert_mail_date

from mailflow.core.mail.addresses import recipients, sender
from mailflow.core.mail.decode import (
    decode_header_value,
    msgid_from_bytes,
    msgid_list,
    normalise_msgid,
    surrogate_str,
    unfold,
)
from mailflow.core.mail.head import repair_head
from mailflow.core.mail.html import html_to_text
from mailflow.core.mail.mime import (
    DEFAULT_LIMITS,
    ParseLimits,
    build_tree,
    check_tree,
    lazy_text_charset,
    precheck,
    walk,
)
from mailflow.core.mail.parts import part_text
from mailflow.core.mail.values import InboundMail, MessageParseError

__all__ = ["parse_message"]

# mail-parser logs a WARNING for every part type it does not "manage" (e.g.
# "Email content 'mixed' not handled" for each attached multipart) and an ERROR
# for every encoded word it cannot decode: noise at a line or more per ordinary
# mail, about extraction we do not use (we decode ourselves and list what was
# wrong in InboundMail.defects). Quieten it unless someone configured it.
_mp_log = logging.getLogger("mailparser")
if _mp_log.level == logging.NOTSET:
    _mp_log.setLevel(logging.CRITICAL)

_WS = re.compile(r"\s+")


# ----------------------------------------------------------------- dates
_COMMENT = re.compile(r"\([^()]*\)")


def _parse_date(raw: str | None) -> tuple[datetime | None, str | None]:
    """The Date header: the stdlib's parser keeps the sender's offset; what it
    cannot read, mail-parser's date parser (obsolete zones, broken syntax) may
    still recover, in UTC."""
    if not raw:
        return None, None
    value = surrogate_str(unfold(raw))
    for _ in range(3):
        if "(" not in value:
            break
        value = _COMMENT.sub(" ", value)
    try:
        return parsedate_to_datetime(value.strip()), None
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    try:
        recovered, _offset = convert_mail_date(surrogate_str(unfold(raw)).strip())
    except Exception:  # mail-parser cannot read it either
        return None, f"unparseable Date header {raw.strip()[:60]!r}"
    if recovered.tzinfo is None:
        recovered = recovered.replace(tzinfo=UTC)
    return recovered, f"Date header {raw.strip()[:60]!r} only understood by mail-parser (converted to UTC)"


# ----------------------------------------------------------------- parse
_SINGLE_HEADERS = ("subject", "date", "message-id", "content-type", "to", "in-reply-to")


def parse_message(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> InboundMail:
    """Parse raw RFC 5322 bytes. Raises MessageParseError only when there is
    no message to speak of, or it is beyond ``limits``; everything else is
    tolerated and noted in ``defects``."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise TypeError(f"parse_message needs bytes, not {type(raw).__name__}")
    if not raw.strip():
        raise MessageParseError("empty message")
    precheck(raw, limits)
    head, rest, defects = repair_head(raw)
    if defects:  # the stdlib parser would lose the headers: parse the repaired block
        raw = head + raw[rest:]
    msg = build_tree(raw)
    check_tree(msg, limits)
    try:
        return _extract(raw, msg, defects)
    except MessageParseError:
        raise
    except RecursionError:
        raise MessageParseError("MIME nesting too deep to parse") from None
    except Exception as exc:  # a bug here must not crash the daemon: quarantine
        raise MessageParseError(f"internal error while reading the message: {type(exc).__name__}: {exc}") from exc


def _extract(raw: bytes, msg: Message, defects: list[str]) -> InboundMail:
    raw_headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        if not isinstance(value, str):
            value = str(value)
        raw_headers.setdefault(name.strip().lower(), []).append(value)
    if not raw_headers:
        raise MessageParseError("no header fields: not an RFC 5322 message")

    if b"\n" not in raw and b"\r" in raw:
        defects.append("CR-only line endings")
    for name in _SINGLE_HEADERS:
        if len(raw_headers.get(name, ())) > 1:
            defects.append(f"duplicate {name} header; the first is used")

    # raw 8-bit header bytes that are not UTF-8 are in the mail's own charset
    charset = lazy_text_charset(msg)

    def charset_for(value: str) -> str | None:
        return None if value.isascii() else charset()

    headers = {name: tuple(decode_header_value(v, charset_for(v)) for v in values)
               for name, values in raw_headers.items()}

    def first(name: str) -> str | None:
        values = raw_headers.get(name)
        return values[0] if values else None

    mid_raw = first("message-id")
    # the same byte path as header_bytes_message_id, so that the two agree
    message_id = msgid_from_bytes(mid_raw.encode("ascii", "surrogateescape")) if mid_raw is not None else None
    irt = first("in-reply-to")
    in_reply_to = normalise_msgid(surrogate_str(irt)) if irt else None
    references: list[str] = []
    for value in raw_headers.get("references", ()):
        for ref in msgid_list(surrogate_str(value)):
            if ref not in references:
                references.append(ref)

    subject = _WS.sub(" ", headers.get("subject", ("",))[0]).strip()

    def texts(name: str) -> list[str]:
        return [surrogate_str(unfold(v), charset_for(v)) for v in raw_headers.get(name, ())]

    def sender_texts(name: str) -> list[str]:
        # decoding drops NUL (PostgreSQL cannot store it); in a sender field it
        # is a control character all the same, so it is kept for sender() to see
        return [("\x00" if "\x00" in v else "") + surrogate_str(unfold(v), charset_for(v))
                for v in raw_headers.get(name, ())]

    frm = sender(sender_texts("from"), "From")
    if frm.problem:
        defects.append(f"sender unclear: {frm.problem}")
    to_addrs = tuple(a for _, a in recipients(texts("to"), "To", defects))
    cc_addrs = tuple(a for _, a in recipients(texts("cc"), "Cc", defects))
    rt = sender(sender_texts("reply-to"), "Reply-To")
    reply_to = None if "reply-to" not in raw_headers else rt.addr
    if rt.problem:
        defects.append(f"Reply-To ignored: {rt.problem}")

    date, date_defect = _parse_date(first("date"))
    if date_defect:
        defects.append(date_defect)

    w = walk(msg, defects, charset)
    text = ""
    if w.plain:
        part, parent, parent_mixed = w.plain[0]
        bodies = [part_text(part, defects)]
        if parent_mixed:  # Apple Mail style: text, image, text under one multipart/mixed
            bodies += [part_text(p, defects) for p, par, _ in w.plain[1:] if par == parent]
        if len(bodies) > 1:
            text = "\n".join(t.rstrip("\n") for t in bodies if t.strip())
        else:
            text = bodies[0]
    html = part_text(w.html[0], defects) if w.html else None
    if not text.strip() and html:
        text = html_to_text(html)

    content_type = msg.get_content_type()
    return InboundMail(
        message_id=message_id,
        subject=subject,
        from_name=frm.name,
        from_addr=frm.addr,
        to_addrs=to_addrs,
        cc_addrs=cc_addrs,
        reply_to=reply_to,
        date=date,
        in_reply_to=in_reply_to,
        references=tuple(references),
        headers=MappingProxyType(headers),
        text=text,
        html=html,
        attachments=tuple(w.attachments),
        defects=tuple(dict.fromkeys(defects)),
        content_type=content_type,
        report_type=w.report_type,
        report_parts=tuple(w.reports),
        sender_problem=frm.problem or ("no From: field" if "from" not in raw_headers else ""),
    )
