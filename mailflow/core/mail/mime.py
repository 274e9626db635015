"""The MIME tree of a mail (pure): the bounds on what is parsed at all
(:class:`ParseLimits`), building the tree, and the walk that sorts its parts
into body candidates, attachments and machine-readable report parts.

The tree is built as mail-parser builds it (the stdlib parser, compat32, with
a guard against deep nesting), without mail-parser's own full parse: see the
package docstring. What one part holds (its text, name, size) is
:mod:`mailflow.core.mail.parts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from mailflow.core.mail.decode import header_charset, surrogate_str
from mailflow.core.mail.parts import (
    attachment_size,
    declared_charset,
    header_lines,
    part_filename,
    part_text,
    stored_payload,
    unify_newlines,
)
from mailflow.core.mail.values import Attachment, MessageParseError, ReportPart

__all__ = ["DEFAULT_LIMITS", "ParseLimits", "Walk", "build_tree", "check_tree", "lazy_text_charset", "precheck", "text_charset", "walk"]


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on what is parsed at all (``[limits]`` in mailflow.toml): a mail
    beyond them is refused with :class:`MessageParseError` (and quarantined)
    before it can cost much time or memory."""

    max_parts: int = 1000  # MIME parts, counting every multipart and leaf
    max_depth: int = 20  # multiparts and attached messages inside each other
    max_header_bytes: int = 256 * 1024  # the top-level header section


DEFAULT_LIMITS = ParseLimits()


def precheck(raw: bytes, limits: ParseLimits) -> None:
    """Cheap byte-level checks before the parser builds anything."""
    window = raw[: limits.max_header_bytes + 4]
    ends = [i for i in (window.find(b"\r\n\r\n"), window.find(b"\n\n"), window.find(b"\r\r")) if i >= 0]
    end = min(ends) if ends else len(raw)
    if end > limits.max_header_bytes:
        raise MessageParseError(
            f"header section larger than {limits.max_header_bytes} bytes (limits.max_header_bytes)")
    # Every MIME part starts with a "--boundary" line; a count far above the
    # part limit is a MIME bomb, refused without building thousands of objects.
    dashes = raw.count(b"\n--") + raw.count(b"\r--")
    if dashes > 2 * limits.max_parts + 10:
        raise MessageParseError(
            f"{dashes} MIME boundary lines, far more than {limits.max_parts} parts (limits.max_mime_parts)")
    _check_param_fields(raw)


# The stdlib reads the parameters of Content-Type and Content-Disposition
# (email.message._parseparam, run for every multipart boundary while the tree
# is built, and for every charset and file name) in time proportional to the
# number of ';' times the field's length: 240 KB of ';' in a quoted value took
# minutes. A real field has a few parameters (an RFC 2231 file name split in
# pieces: a few dozen) and well under a kilobyte, so a field beyond these bounds
# is hostile and the mail is refused before the parser sees it.
MAX_PARAM_FIELD_BYTES = 8 * 1024
MAX_PARAM_FIELD_SEMICOLONS = 64
_LINE_BREAK = re.compile(rb"\r\n?|\n")


def _check_param_fields(raw: bytes) -> None:
    """Refuse a Content-Type / Content-Disposition field (top level or in any
    part, continuation lines included) beyond the bounds above. One pass over
    the bytes; fields do not overlap, so each byte is read a bounded number of
    times."""
    if len(raw) <= MAX_PARAM_FIELD_BYTES and raw.count(b";") <= MAX_PARAM_FIELD_SEMICOLONS:
        return  # no field in it can be beyond the bounds
    low = raw.lower()
    pos = 0
    while True:
        hit = low.find(b"content-", pos)
        if hit < 0:
            return
        pos = hit + 8
        if hit and low[hit - 1 : hit] not in (b"\n", b"\r"):
            continue
        name_end = hit + 8
        if low.startswith(b"type", name_end):
            name_end += 4
        elif low.startswith(b"disposition", name_end):
            name_end += 11
        else:
            continue
        if low[name_end : name_end + 1] not in (b":", b" ", b"\t"):
            continue
        end = _field_end(raw, name_end)
        size = end - hit
        semicolons = raw.count(b";", hit, end)
        if size > MAX_PARAM_FIELD_BYTES or semicolons > MAX_PARAM_FIELD_SEMICOLONS:
            name = raw[hit:name_end].decode("ascii", "replace")
            raise MessageParseError(
                f"a {name} field of {size} bytes with {semicolons} ';' (more than {MAX_PARAM_FIELD_BYTES} bytes "
                f"or {MAX_PARAM_FIELD_SEMICOLONS} parameters): refused, it would stall the parser")
        pos = end


def _field_end(raw: bytes, pos: int) -> int:
    """The end of the header field whose name ends at ``pos``: the line break
    before the next line that does not start with a space or tab."""
    while True:
        brk = _LINE_BREAK.search(raw, pos)
        if brk is None:
            return len(raw)
        if raw[brk.end() : brk.end() + 1] not in (b" ", b"\t"):
            return brk.start()
        pos = brk.end()


def build_tree(raw: bytes) -> Message:
    """The message tree, built as mail-parser builds it (the stdlib parser,
    compat32), with mail-parser's guard against deep nesting. mail-parser's
    own full parse is not run: it decodes every attachment and reads every
    header again (a 5 MB attachment cost ~100 MB and most of the parse time),
    and mailflow reads the tree itself (see the package docstring)."""
    try:
        return message_from_bytes(raw)
    except RecursionError:
        raise MessageParseError("MIME nesting too deep to parse") from None
    except Exception as exc:
        raise MessageParseError(f"unparseable message: {type(exc).__name__}") from None


def check_tree(msg: Message, limits: ParseLimits) -> None:
    """Count the parts and the nesting depth of the built tree (iteratively)."""
    count = 0
    stack: list[tuple[Message, int]] = [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > limits.max_parts:
            raise MessageParseError(f"more than {limits.max_parts} MIME parts (limits.max_mime_parts)")
        if depth > limits.max_depth:
            raise MessageParseError(f"MIME parts nested deeper than {limits.max_depth} (limits.max_mime_depth)")
        payload = stored_payload(part)  # the parsed tree as stored; get_payload() may decode
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))


_REPORT_TYPES = frozenset(
    (
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
        "message/global-headers",
    )
)
_DEFECT_TEXT = {
    "StartBoundaryNotFoundDefect": "the multipart start boundary was never found",
    "CloseBoundaryNotFoundDefect": "the multipart close boundary was not found",
    "MultipartInvariantViolationDefect": "declared multipart but has no parts",
    "NoBoundaryInMultipartDefect": "multipart without a boundary parameter",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation",
    "MisplacedEnvelopeHeaderDefect": "misplaced 'From ' envelope line in the headers",
    "MissingHeaderBodySeparatorDefect": "no blank line between headers and body",
    "InvalidBase64PaddingDefect": "invalid base64 padding",
    "InvalidBase64CharactersDefect": "invalid characters in base64",
    "InvalidBase64LengthDefect": "invalid base64 length",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with a non-7bit transfer encoding",
    "InvalidHeaderDefect": "invalid header line",
}


@dataclass
class Walk:
    """The parts of one mail, sorted by :func:`walk` (in tree order)."""

    plain: list[tuple[Message, int | None, bool]] = field(default_factory=list)  # part, parent id, parent is mixed
    html: list[Message] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    reports: list[ReportPart] = field(default_factory=list)
    report_type: str | None = None


def _note_defects(part: Message, ctype: str, defects: list[str]) -> None:
    for d in getattr(part, "defects", ()):
        name = type(d).__name__
        defects.append(f"{ctype}: {_DEFECT_TEXT.get(name, name)}")


def text_charset(root: Message) -> str | None:
    """The charset the mail declares for its text, to read raw 8-bit header
    bytes with: that of the first text part (in tree order, attached mails
    aside) naming one, else of the top-level Content-Type; None when that is
    none, UTF-8 or ASCII, or cannot hold 8-bit bytes (see header_charset)."""
    stack = [root]
    while stack:
        part = stack.pop()
        payload = stored_payload(part)
        if isinstance(payload, list):
            if part.get_content_maintype() == "multipart":
                stack.extend(reversed([c for c in payload if isinstance(c, Message)]))
            continue
        if part.get_content_maintype() == "text":
            declared = declared_charset(part)
            if declared:
                return header_charset(declared)
    return header_charset(declared_charset(root))


def lazy_text_charset(root: Message) -> Callable[[], str | None]:
    """:func:`text_charset` of ``root``, worked out on the first call only:
    most mail has no 8-bit header bytes and never needs it (reading every
    part's charset parameter costs about a tenth of a parse)."""
    found: list[str | None] = []

    def charset() -> str | None:
        if not found:
            found.append(text_charset(root))
        return found[0]

    return charset


def walk(root: Message, defects: list[str], charset: Callable[[], str | None] | None = None) -> Walk:
    """Classify every part: body candidates, attachments, report parts.
    ``charset``: asked for raw 8-bit bytes in file names (lazy_text_charset).

    Iterative (no recursion limit). message/* parts are leaves: an attached
    mail's own text is not this mail's text.
    """
    w = Walk()
    charset = charset or lazy_text_charset(root)
    # stack items: (part, inside_attachment, parent id, parent is multipart/mixed)
    stack: list[tuple[Message, bool, int | None, bool]] = [(root, False, None, False)]
    while stack:
        part, in_att, parent, parent_mixed = stack.pop()
        ctype = part.get_content_type()
        _note_defects(part, ctype, defects)
        disposition = (part.get_content_disposition() or "").lower()
        payload = stored_payload(part)
        if part.is_multipart() and ctype.startswith("multipart/"):
            if ctype == "multipart/report" and w.report_type is None and not in_att:
                rt = part.get_param("report-type")
                w.report_type = rt.strip().lower() if isinstance(rt, str) else ""
            child_att = in_att or disposition == "attachment"
            children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else []
            for child in reversed(children):
                stack.append((child, child_att, id(part), ctype == "multipart/mixed"))
            continue
        if ctype.startswith("multipart/"):
            # declared multipart but no parts were found (missing body, no
            # boundary): whatever text there is, is the body
            if not in_att and isinstance(payload, str) and payload.strip():
                w.plain.append((part, parent, parent_mixed))
            continue
        if ctype in _REPORT_TYPES:
            if isinstance(payload, list):
                blocks = []
                for sub in payload:
                    if not isinstance(sub, Message):
                        continue
                    block = header_lines(sub)
                    body = stored_payload(sub)
                    if isinstance(body, str) and body.strip():
                        block = (block + "\n" if block else "") + unify_newlines(surrogate_str(body)).strip()
                    blocks.append(block)
                text = "\n\n".join(blocks)
            else:
                text = unify_newlines(part_text(part, defects))
            w.reports.append(ReportPart(ctype, text))
            continue
        if ctype in ("message/rfc822", "message/global"):
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                w.reports.append(ReportPart(ctype, header_lines(payload[0])))
            w.attachments.append(Attachment(part_filename(part, charset), ctype, attachment_size(part, ctype)))
            continue
        filename = part_filename(part, charset)
        if ctype in ("text/plain", "text/html") and not in_att and disposition != "attachment":
            if not filename or disposition == "inline":
                if ctype == "text/plain":
                    w.plain.append((part, parent, parent_mixed))
                else:
                    w.html.append(part)
                continue
        w.attachments.append(Attachment(filename, ctype, attachment_size(part, ctype)))
    return w
