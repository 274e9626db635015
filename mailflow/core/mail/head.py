"""The header block on bytes (pure), before the stdlib parser reads it: two
ways real mail breaks it repaired, and the Message-ID read from it alone.

The stdlib parser ends the header block at the first line that is not a header
line, and reads everything after it as the body. Two kinds of broken mail then
lose their headers (and are ignored as having no From, or quarantined as
having no header at all):

* a folded line that lost its leading whitespace (``Subject: Pengaduan KTP
  yang`` / ``belum jadi`` / ``From: ...``): when a known header field follows,
  such a line is taken as a continuation, as mail clients do;
* junk before the first header field (an mbox ``From sender date`` line and a
  stray line, a blank line): when a known header field follows within a few
  lines, the junk is skipped.

Both are noted as defects. :func:`header_bytes_message_id` reads the repaired
block with the stdlib's own rules, so the de-duplication key agrees with
``parse_message(raw).message_id``. Every step is one pass over the block.
"""

from __future__ import annotations

import re

from mailflow.core.mail.decode import msgid_from_bytes

__all__ = ["header_bytes_message_id", "repair_head"]

# The stdlib feedparser's rules, on bytes: a header line starts with a field
# name and ':' (or 'From ', or whitespace for a continuation); lines split on
# CRLF, CR or LF; the first line that is not a header line ends the headers.
_HEADER_LINE = re.compile(rb"(From |[\x21-\x39\x3b-\x7e]*:|[\t ])")
_BLANK_LINE = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
_LINE_BREAK = re.compile(rb"\r\n?|\n")
# A line the stdlib parser would not read as a header line, after the first
# (the lookahead reads one line's field name at most: linear).
_NOT_A_HEADER_LINE = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?!From |[\x21-\x39\x3b-\x7e]*:|[\t ])")

# A field name a repair may rely on: one a mail client or server writes.
_FIELD_NAME = re.compile(rb"([A-Za-z][A-Za-z0-9-]{0,76}):")
_KNOWN_FIELDS = frozenset(
    b"""from sender reply-to to cc bcc subject date message-id in-reply-to references comments keywords
    mime-version received return-path delivered-to envelope-to authentication-results received-spf
    dkim-signature domainkey-signature precedence auto-submitted importance priority sensitivity
    thread-topic thread-index user-agent organization errors-to disposition-notification-to
    return-receipt-to feedback-id accept-language""".split()
)
_KNOWN_PREFIXES = (b"x-", b"content-", b"list-", b"arc-", b"resent-")
MAX_JUNK_LINES = 5  # lines skipped before the first header field, at most
MAX_JUNK_BYTES = 2048
MAX_LOST_FOLD_LINES = 3  # lines taken as continuations in a row, at most


def _known_field(line: bytes) -> bool:
    m = _FIELD_NAME.match(line)
    if m is None:
        return False
    name = m.group(1).lower()
    return name in _KNOWN_FIELDS or name.startswith(_KNOWN_PREFIXES)


def _junk_end(raw: bytes) -> tuple[int, int]:
    """(index where the header fields begin, lines skipped): (0, 0) unless
    the mail opens with at most MAX_JUNK_LINES lines that cannot start a
    header field (no field name, a blank or indented line, an mbox 'From '
    line) followed by a known field. A lone mbox 'From ' line is left to the
    stdlib parser, which skips it itself; a first line the stdlib reads as a
    field, even an odd one, is never skipped."""
    pos = 0
    for skipped in range(MAX_JUNK_LINES + 1):
        line = raw[pos : pos + 80]
        if _HEADER_LINE.match(line) and line[:1] not in (b" ", b"\t") and not line.startswith(b"From "):
            if skipped and _known_field(line) and not (skipped == 1 and raw.startswith(b"From ")):
                return pos, skipped
            return 0, 0
        brk = _LINE_BREAK.search(raw, pos, MAX_JUNK_BYTES)
        if brk is None:
            return 0, 0
        pos = brk.end()
    return 0, 0


def repair_head(raw: bytes) -> tuple[bytes, int, list[str]]:
    """The header block of ``raw`` with the two repairs above: (the block,
    header lines each with its line break, up to the blank line; the index in
    ``raw`` where the rest begins; defect notes). ``head + raw[rest:]`` is the
    mail to parse; it is ``raw`` itself when nothing was repaired."""
    defects: list[str] = []
    start, skipped = _junk_end(raw)
    if skipped:
        brk = _LINE_BREAK.search(raw)
        first = raw[: min(60, brk.start() if brk else len(raw))].decode("ascii", "backslashreplace")
        defects.append(f"{skipped} line(s) before the first header field skipped, the first: {first!r}")
    blank = _BLANK_LINE.search(raw, start)
    if blank is None:
        end = len(raw)
    else:
        end = blank.start() + (2 if raw.startswith(b"\r\n", blank.start()) else 1)
    last_break = blank.start() if blank is not None else len(raw)  # the last header line's break
    if skipped == 0 and _NOT_A_HEADER_LINE.search(raw, 0, last_break) is None:
        return raw[:end], end, defects  # the usual case: nothing to repair
    lines = raw[start:end].splitlines(keepends=True)
    out: list[bytes] = []
    folded = 0
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if i == 0 or _HEADER_LINE.match(line):
            out.append(line)
            i += 1
            continue
        # The stdlib would end the headers here. A short run of such lines
        # followed by a known field is a fold that lost its whitespace.
        j = i
        while j < n and j - i <= MAX_LOST_FOLD_LINES and not _HEADER_LINE.match(lines[j]):
            j += 1
        if j < n and j - i <= MAX_LOST_FOLD_LINES and _known_field(lines[j]):
            out.extend(b" " + continuation for continuation in lines[i:j])
            folded += j - i
            i = j
            continue
        out.extend(lines[i:])
        break
    if folded:
        defects.append(f"{folded} header line(s) without a field name taken as continuation(s)")
    return b"".join(out), end, defects


def header_bytes_message_id(raw: bytes) -> str | None:
    """The Message-ID from the header block only, without parsing the body.

    Reads the block as :func:`parse_message` does (repaired by
    :func:`repair_head`, then the stdlib parser's rules: mbox 'From ' line,
    continuation lines, a non-header line ends the headers), so the two agree.
    For de-duplication before full parsing.
    """
    if not raw:
        return None
    head, _rest, _defects = repair_head(raw)
    if not head or head[:1] in (b"\r", b"\n"):
        return None
    lines = []
    for line in head.splitlines(keepends=True):
        if not _HEADER_LINE.match(line):
            break
        lines.append(line)
    value: list[bytes] | None = None
    last = len(lines) - 1
    for lineno, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if value is not None:
                value.append(line)
            continue
        if value is not None:
            break  # the Message-ID header (and its continuation lines) is complete
        if line.startswith(b"From "):
            if lineno == last:
                break  # the stdlib pushes it back as the first body line
            continue
        name, _, rest = line.partition(b":")
        if name.strip().lower() == b"message-id":
            value = [rest.lstrip(b" \t")]
    if value is None:
        return None
    return msgid_from_bytes(b"".join(value).rstrip(b"\r\n"))
