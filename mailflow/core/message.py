"""Inbound mail parsing: raw RFC 5322 bytes -> :class:`InboundMail` (pure, no I/O).

The message tree is built as mail-parser builds it: the stdlib compat32
parser, with a guard against deep nesting. mail-parser's full parse
(``mailparser.parse_from_bytes``) is not run: it decodes every attachment and
reads every header again, which cost most of the intake's parse time and
about 20 times a large attachment's size in memory, for extraction mailflow
does not use because it is weak or wrong where mail is hard; mail-parser's
date parser is used where the stdlib's gives up. The tree is read directly,
so the mail is parsed once:

* header values: mail-parser returns a list for a repeated Subject, drops
  undecodable 8-bit bytes (``Formação`` -> ``Formao``) and leaves encoded words
  in quoted display names undecoded; we decode raw header values ourselves
  (8-bit: UTF-8, else windows-1252; RFC 2047 with per-charset fallbacks).
* addresses: mail-parser returns nothing for ``To: a@x b@y`` (no comma); we use
  ``email.utils.getaddresses`` and recover such lists by pattern.
* bodies: mail-parser returns ISO-2022-JP text undecoded (escape sequences),
  treats ``charset=big5`` UTF-8 bytes as a plain failure, and has no notion of
  "the first non-attachment text/plain part"; we walk the parts ourselves.
* attachment names: mail-parser turns RFC 2231 bytes it cannot decode into
  U+FFFD; we decode with the same charset fallback chain as bodies.
* date: mail-parser converts to UTC and keeps the zone only as a rounded float
  string; we use ``email.utils.parsedate_to_datetime`` (comments removed) so the
  sender's offset is kept, and fall back to mail-parser's ``convert_mail_date``.

Nothing here raises for a malformed message: problems that could be tolerated
are listed in ``InboundMail.defects``. :class:`MessageParseError` is raised only
when there is no message at all (empty input, no header fields, nesting too
deep); the daemon quarantines such mail.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape as _html_unescape
from html.parser import HTMLParser
from types import MappingProxyType

from mailparser.utils import convert_mail_date

from mailflow.errors import MailflowError

__all__ = [
    "Attachment",
    "InboundMail",
    "MessageParseError",
    "ParseLimits",
    "ReportPart",
    "header_bytes_message_id",
    "html_to_text",
    "parse_message",
]

# mail-parser logs a WARNING for every part type it does not "manage" (e.g.
# "Email content 'mixed' not handled" for each attached multipart) and an ERROR
# for every encoded word it cannot decode: noise at a line or more per ordinary
# mail, about extraction we do not use (we decode ourselves and list what was
# wrong in InboundMail.defects). Quieten it unless someone configured it.
_mp_log = logging.getLogger("mailparser")
if _mp_log.level == logging.NOTSET:
    _mp_log.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on what is parsed at all (``[limits]`` in mailflow.toml): a mail
    beyond them is refused with :class:`MessageParseError` (and quarantined)
    before it can cost much time or memory."""

    max_parts: int = 1000  # MIME parts, counting every multipart and leaf
    max_depth: int = 20  # multiparts and attached messages inside each other
    max_header_bytes: int = 256 * 1024  # the top-level header section


def _precheck(raw: bytes, limits: ParseLimits) -> None:
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


def _check_tree(msg: Message, limits: ParseLimits) -> None:
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
        payload = part._payload  # the parsed tree as stored; get_payload() may decode
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))


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
    from_addr: str  # lower-cased; '' when absent
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    reply_to: str | None  # first Reply-To address, lower-cased
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

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


# --------------------------------------------------------------------- charsets
# Labels mail clients use for a charset whose real repertoire is a superset
# (WHATWG Encoding Standard practice): decoding with the superset first avoids
# failures on the extra characters Outlook and friends actually send.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "iso8859-1": ("cp1252",),
    "ascii": ("cp1252",),
    "iso8859-9": ("cp1254",),
    "iso8859-11": ("cp874",),
    "tis-620": ("cp874",),
    "euc_kr": ("cp949",),
    "big5": ("cp950", "big5hkscs"),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "euc_jp": ("cp932", "euc_jis_2004"),
    "iso2022_jp": ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004"),
}
_EXTRA_ALIASES = {
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "x-gbk": "gbk",
    "x-euc-jp": "euc_jp",
    "ks_c_5601": "euc_kr",
    "ks_c_5601-1987": "euc_kr",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "ansi_x3.4-1968": "ascii",
    "x-user-defined": "cp1252",
}
# Encodings whose bytes are not ASCII-compatible: a UTF-8-looking payload says
# nothing about them.
_NOT_ASCII_COMPATIBLE = ("utf_16", "utf-16", "utf_32", "utf-32")
_codec_cache: dict[str, str | None] = {}


def _codec(label: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    try:
        return _codec_cache[key]
    except KeyError:
        pass
    name = _EXTRA_ALIASES.get(key, key)
    try:
        found: str | None = codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):
        found = None
    if len(_codec_cache) < 512:  # labels come off the wire: keep the cache bounded
        _codec_cache[key] = found
    return found


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode ``data`` declared as charset ``declared`` (NUL characters dropped:
    PostgreSQL text cannot store them).

    Order: UTF-8 when the bytes are non-ASCII valid UTF-8 (a legacy label on
    UTF-8 bytes is a common mislabel, while legacy text is almost never valid
    UTF-8); then the usual superset of the declared charset (windows-1252 for
    iso-8859-1, cp949 for ks_c_5601-1987, ...) and the declared charset
    itself; then UTF-8, windows-1252 and finally latin-1 (never fails).
    Returns (text, short defect description or None).
    """
    text, defect = _decode_bytes(data, declared)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text, defect


def _decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    codec = _codec(declared)
    if data.isascii() and codec in (None, "ascii", "utf-8", "iso8859-1", "cp1252"):
        return data.decode("ascii"), None
    if codec != "utf-8" and not data.isascii() and not (codec or "").startswith(_NOT_ASCII_COMPATIBLE):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if codec is None and not declared:
                return text, None
            return text, f"charset {declared!r} declared but the bytes are UTF-8; decoded as UTF-8"
    supersets = _SUPERSETS.get(codec, ()) if codec else ()
    candidates = [*supersets, codec] if codec else []
    for c in ("utf-8", "cp1252"):
        if c not in candidates:
            candidates.append(c)
    for c in candidates:
        try:
            text = data.decode(c)
        except Exception:  # the sender names the codec: "undefined", "zlib", "idna"... may raise anything
            continue
        if codec == "ascii":
            return text, f"8-bit bytes in a {declared!r} part; decoded as {c}"
        if c == codec or c in supersets:
            return text, None  # a superset is what the label means in practice
        if not declared:
            return text, None
        reason = "unknown charset" if codec is None else "bytes invalid in that charset"
        return text, f"charset {declared!r}: {reason}; decoded as {c}"
    return data.decode("latin-1"), f"charset {declared!r}: undecodable; decoded as latin-1"


def _surrogate_str(value: str) -> str:
    """A header/payload str from the stdlib bytes parser (8-bit bytes carried as
    surrogate escapes) -> proper text: UTF-8, else windows-1252."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value.replace("\x00", "")  # already real text (e.g. from a str parse)
    return decode_bytes(data, None)[0]


# ---------------------------------------------------------------- RFC 2047
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r\n|\r|\n")
_WS = re.compile(r"\s+")


def _ew_bytes(enc: str, payload: str) -> bytes | None:
    try:
        if enc in "bB":
            payload = payload.strip()
            payload += "=" * (-len(payload) % 4)
            return base64.b64decode(payload.encode("ascii", "surrogateescape"), validate=False)
        payload = payload.replace("_", " ")
        return binascii.a2b_qp(payload.encode("ascii", "surrogateescape"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_rfc2047(value: str) -> str:
    """Decode RFC 2047 encoded words anywhere in ``value`` (also inside quotes,
    as every mail client does). Whitespace between adjacent encoded words is
    dropped; adjacent words in one charset are joined before decoding, so a
    multi-byte character split across two words survives. Malformed words stay
    as they are."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # (charset, bytes) of adjacent words

    def flush() -> None:
        i = 0
        while i < len(pending):
            cs, data = pending[i]
            j = i + 1
            while j < len(pending) and pending[j][0] == cs:
                data += pending[j][1]
                j += 1
            out.append(decode_bytes(data, cs)[0])
            i = j
        pending.clear()

    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        between = value[pos : m.start()]
        data = _ew_bytes(m.group(2), m.group(3))
        if data is None:
            flush()
            out.append(between + m.group(0))
            pos = m.end()
            continue
        if pending and between.strip() == "":
            pass  # whitespace between encoded words is not displayed
        else:
            flush()
            out.append(between)
        charset = m.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        pending.append((charset.lower(), data))
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _unfold(value: str) -> str:
    return _FOLD.sub("", value) if ("\n" in value or "\r" in value) else value


def _decode_header_value(raw: str) -> str:
    """Raw (surrogate-escaped) header value -> text: unfolded, 8-bit decoded,
    RFC 2047 decoded, stripped."""
    return decode_rfc2047(_surrogate_str(_unfold(raw))).strip()


# ----------------------------------------------------------------- Message-ID
_ANGLE_ID = re.compile(r"<([^<>]*)>")


def _normalise_msgid(value: str | None) -> str | None:
    """'<a@b> (comment)' -> 'a@b'; 'a@b' -> 'a@b'; '' / '<>' -> None."""
    if not value:
        return None
    value = _unfold(value)
    for m in _ANGLE_ID.finditer(value):
        ident = m.group(1).strip()
        if ident:
            return _WS.sub("", ident)
    if "<" in value or ">" in value:
        value = value.replace("<", " ").replace(">", " ")
    parts = value.split()
    return parts[0] if parts else None


def _msgid_list(value: str) -> list[str]:
    found = [_WS.sub("", m.group(1).strip()) for m in _ANGLE_ID.finditer(_unfold(value))]
    found = [f for f in found if f]
    if not found:
        found = [t.strip(",;") for t in value.split() if t.strip(",;")]
    return found


def _raw_msgid_value(data: bytes) -> str | None:
    return _normalise_msgid(decode_bytes(data, None)[0])


# The stdlib feedparser's rules, on bytes: a header line starts with a field
# name and ':' (or 'From ', or whitespace for a continuation); lines split on
# CRLF, CR or LF; the first line that is not a header line ends the headers.
_HEADER_LINE = re.compile(rb"(From |[\x21-\x39\x3b-\x7e]*:|[\t ])")
_BLANK_LINE = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")


def header_bytes_message_id(raw: bytes) -> str | None:
    """The Message-ID from the header block only, without parsing the body.

    Follows the stdlib parser's header rules exactly (mbox 'From ' line,
    continuation lines, a non-header line ends the headers), so it agrees with
    ``parse_message(raw).message_id``. For de-duplication before full parsing.
    """
    if not raw or raw[:1] in (b"\r", b"\n"):
        return None
    m = _BLANK_LINE.search(raw)
    head = raw[: m.start() + 2] if m else raw
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
    return _raw_msgid_value(b"".join(value).rstrip(b"\r\n"))


# ----------------------------------------------------------------- HTML -> text
_BLOCK_TAGS = frozenset(
    "address article aside blockquote center dd details dialog div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody thead "
    "tfoot tr ul caption".split()
)
_SKIP_TAGS = frozenset(("script", "style", "head", "title", "template", "noscript", "xml", "object"))


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.line_start = True

    def _newline(self, n: int = 1) -> None:
        # collapse to at most n pending newlines (ignoring trailing spaces)
        tail = "".join(self.out[-3:]).rstrip(" ")
        have = len(tail) - len(tail.rstrip("\n"))
        if have < n:
            self.out.append("\n" * (n - have))
        self.line_start = True

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
            self.line_start = True
        elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol"):
            self._newline(2 if tag != "table" else 1)
        elif tag == "li":
            self._newline(1)
            self.out.append("- ")
        elif tag in ("td", "th"):
            # a tab between cells: "Nama<TAB>Sri" from a table still reads as
            # label and value (mailflow.core.complaint_format accepts a tab)
            if not self.line_start:
                self.out.append("\t")
        elif tag in _BLOCK_TAGS:
            self._newline(1)
        if tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.out.append("\n")
            self.line_start = True
        elif tag in ("hr", "p", "div"):
            self._newline(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol"):
            self._newline(2)
        elif tag in _BLOCK_TAGS:
            self._newline(1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            text = data.replace("\r\n", "\n").replace("\r", "\n")
        else:
            text = _WS.sub(" ", data)
            if self.line_start:
                text = text.lstrip(" ")
        if text:
            self.out.append(text)
            self.line_start = text.endswith("\n")


_SPACE_BEFORE_NL = re.compile(r"[ \t]+\n")
_TAB_RUNS = re.compile(r"[ \t]*\t[ \t]*")
_MANY_NL = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: scripts/styles/head dropped, entities
    decoded, block elements and <br> become line breaks (paragraphs are
    separated by a blank line), runs of spaces collapsed, <pre> kept."""
    if not html:
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.out)
    except Exception:  # HTMLParser is lenient, but never let HTML stop a mail
        text = _html_unescape(re.sub(r"<[^>]*>", " ", html))
    text = text.replace("\xa0", " ")
    text = _SPACE_BEFORE_NL.sub("\n", text)
    text = _TAB_RUNS.sub("\t", text)
    text = _MANY_NL.sub("\n\n", text)
    return text.strip()


# ----------------------------------------------------------------- bodies
def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed -> logical lines (soft line breaks joined)."""
    out: list[str] = []
    buf: list | None = None  # [quote depth, joined content]

    def emit(b: list) -> None:
        out.append((">" * b[0] + " " + b[1]) if b[0] else b[1])

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if buf is not None and buf[0] != depth:
            emit(buf)
            buf = None
        if buf is None:
            buf = [depth, ""]
        if body.endswith(" ") and body != "-- ":  # soft line break ("-- " is the signature mark)
            buf[1] += body[:-1] if delsp else body
        else:
            buf[1] += body
            emit(buf)
            buf = None
    if buf is not None:
        emit(buf)
    return "\n".join(out)


def _payload(part: Message):
    """The parsed payload as stored: a list of parts, or the undecoded str.

    Not ``get_payload()``: without decode=True, compat32 decodes 8-bit text
    with the declared charset parameter, which is lossy and raises TypeError
    when that parameter is RFC 2231-encoded (charset*=...)."""
    return part._payload


def _part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken CTE / payload: use the raw text
        payload = None
    if payload is None:
        raw = _payload(part)
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogateescape")
        return b""
    return payload if isinstance(payload, bytes) else bytes(payload)


def _newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _part_text(part: Message, defects: list[str]) -> str:
    data = _part_bytes(part)
    declared = part.get_param("charset")
    if isinstance(declared, tuple):  # RFC 2231 charset*=...: nonsense, but seen
        declared = declared[2]
    text, defect = decode_bytes(data, declared if isinstance(declared, str) else None)
    if defect:
        defects.append(f"{part.get_content_type()}: {defect}")
    text = _newlines(text)
    if part.get_content_type() == "text/plain":
        fmt = part.get_param("format")
        if isinstance(fmt, str) and fmt.lower() == "flowed":
            delsp = part.get_param("delsp")
            text = _unflow(text, isinstance(delsp, str) and delsp.lower() == "yes")
    return text


def _filename(part: Message) -> str:
    try:
        return _filename_unsafe(part)
    except Exception:  # a malformed parameter list must not stop the mail
        return ""


def _get_param(part: Message, param: str, header: str):
    for name, raw in part.raw_items():
        if name.strip().lower() == header:
            if isinstance(raw, str) and not raw.isascii():
                # 8-bit bytes in the header: compat32 would hand back U+FFFD for
                # them, so read the parameters from the decoded value instead
                tmp = Message()
                tmp[header] = _surrogate_str(raw)
                return tmp.get_param(param, None, header)
            break
    return part.get_param(param, None, header)


def _filename_unsafe(part: Message) -> str:
    value = _get_param(part, "filename", "content-disposition")
    if value is None:
        value = _get_param(part, "name", "content-type")
    if value is None:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        charset, _lang, text = value
        try:
            data = text.encode("latin-1", "surrogateescape") if isinstance(text, str) else b""
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogateescape")
        name = decode_bytes(data, charset or None)[0]
    else:
        name = _decode_header_value(str(value).strip('"'))
    return _WS.sub(" ", name).strip()


def _header_lines(msg: Message) -> str:
    """'Name: value' lines of a (sub)message, unfolded and decoded."""
    lines = []
    for name, value in msg.raw_items():
        if not isinstance(value, str):
            value = str(value)
        lines.append(f"{name.strip()}: {_surrogate_str(_unfold(value)).strip()}")
    return "\n".join(lines)


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
class _Walk:
    plain: list[tuple[Message, int | None, bool]] = field(default_factory=list)  # part, parent id, parent is mixed
    html: list[Message] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    reports: list[ReportPart] = field(default_factory=list)
    report_type: str | None = None


def _note_defects(part: Message, ctype: str, defects: list[str]) -> None:
    for d in getattr(part, "defects", ()):
        name = type(d).__name__
        defects.append(f"{ctype}: {_DEFECT_TEXT.get(name, name)}")


def _serialised_size(msg: Message) -> int:
    """Approximate size of a parsed (sub)message as it was on the wire: header
    lines plus payloads plus boundary lines. Re-serialising with as_bytes()
    would be exact-ish but costs more than parsing the whole mail."""
    total = 0
    stack = [msg]
    while stack:
        m = stack.pop()
        total += sum(len(n) + len(v) + 4 for n, v in m.raw_items() if isinstance(v, str)) + 2
        payload = _payload(m)
        if isinstance(payload, str):
            total += len(payload)
        elif isinstance(payload, list):
            boundary = m.get_boundary() or ""
            total += (len(boundary) + 6) * (len(payload) + 1)
            stack.extend(p for p in payload if isinstance(p, Message))
    return total


def _attachment_size(part: Message, ctype: str) -> int:
    payload = _payload(part)
    if ctype.startswith("message/") and isinstance(payload, list):
        return sum(_serialised_size(m) for m in payload if isinstance(m, Message))
    if isinstance(payload, str) and part.get("content-transfer-encoding", "").strip().lower() == "base64":
        return _base64_size(payload)
    return len(_part_bytes(part))


def _base64_size(text: str) -> int:
    """The decoded size of a base64 payload, counted without decoding it (a
    large attachment would otherwise be copied just to be measured)."""
    whitespace = text.count("\n") + text.count("\r") + text.count(" ") + text.count("\t")
    stripped = text.rstrip()
    padding = len(stripped) - len(stripped.rstrip("="))
    return max(0, (len(text) - whitespace) * 3 // 4 - min(padding, 2))


def _walk(root: Message, defects: list[str]) -> _Walk:
    """Classify every part: body candidates, attachments, report parts.

    Iterative (no recursion limit). message/* parts are leaves: an attached
    mail's own text is not this mail's text.
    """
    w = _Walk()
    # stack items: (part, inside_attachment, parent id, parent is multipart/mixed)
    stack: list[tuple[Message, bool, int | None, bool]] = [(root, False, None, False)]
    while stack:
        part, in_att, parent, parent_mixed = stack.pop()
        ctype = part.get_content_type()
        _note_defects(part, ctype, defects)
        disposition = (part.get_content_disposition() or "").lower()
        payload = _payload(part)
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
                    block = _header_lines(sub)
                    body = _payload(sub)
                    if isinstance(body, str) and body.strip():
                        block = (block + "\n" if block else "") + _newlines(_surrogate_str(body)).strip()
                    blocks.append(block)
                text = "\n\n".join(blocks)
            else:
                text = _newlines(_part_text(part, defects))
            w.reports.append(ReportPart(ctype, text))
            continue
        if ctype in ("message/rfc822", "message/global"):
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                w.reports.append(ReportPart(ctype, _header_lines(payload[0])))
            w.attachments.append(Attachment(_filename(part), ctype, _attachment_size(part, ctype)))
            continue
        filename = _filename(part)
        if ctype in ("text/plain", "text/html") and not in_att and disposition != "attachment":
            if not filename or disposition == "inline":
                if ctype == "text/plain":
                    w.plain.append((part, parent, parent_mixed))
                else:
                    w.html.append(part)
                continue
        w.attachments.append(Attachment(filename, ctype, _attachment_size(part, ctype)))
    return w


# ----------------------------------------------------------------- addresses
_ADDR_PATTERN = re.compile(r"[^\s<>(),;:\"\[\]@]+@[^\s<>(),;:\"\[\]@]+\.[^\s<>(),;:\"\[\]@]*[^\s<>(),;:\"\[\]@.]")
_ADDR_OK = re.compile(r"^[^\s@]+@[^\s@]+$")


def _addresses(values: list[str], what: str, defects: list[str]) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    for raw in values:
        text = _surrogate_str(_unfold(raw))
        try:
            pairs = getaddresses([text])
        except Exception:
            pairs = [("", "?")]
        good = []
        broken = False
        for name, addr in pairs:
            addr = addr.strip()
            if not addr and not name:
                continue
            if _ADDR_OK.match(addr):
                good.append((decode_rfc2047(name).strip(), addr.lower()))
            else:
                broken = True
        if broken:
            recovered = [("", a.lower()) for a in _ADDR_PATTERN.findall(decode_rfc2047(text))]
            if len(recovered) > len(good):
                defects.append(f"{what}: malformed address list; addresses recovered by pattern")
                good = recovered
            elif not good:
                defects.append(f"{what}: no usable address")
        result.extend(good)
    seen: set[str] = set()
    unique = []
    for name, addr in result:
        if addr not in seen:
            seen.add(addr)
            unique.append((name, addr))
    return unique


# ----------------------------------------------------------------- dates
_COMMENT = re.compile(r"\([^()]*\)")


def _parse_date(raw: str | None) -> tuple[datetime | None, str | None]:
    """The Date header: the stdlib's parser keeps the sender's offset; what it
    cannot read, mail-parser's date parser (obsolete zones, broken syntax) may
    still recover, in UTC."""
    if not raw:
        return None, None
    value = _surrogate_str(_unfold(raw))
    for _ in range(3):
        if "(" not in value:
            break
        value = _COMMENT.sub(" ", value)
    try:
        return parsedate_to_datetime(value.strip()), None
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    try:
        recovered, _offset = convert_mail_date(_surrogate_str(_unfold(raw)).strip())
    except Exception:  # mail-parser cannot read it either
        return None, f"unparseable Date header {raw.strip()[:60]!r}"
    if recovered.tzinfo is None:
        recovered = recovered.replace(tzinfo=timezone.utc)
    return recovered, f"Date header {raw.strip()[:60]!r} only understood by mail-parser (converted to UTC)"


# ----------------------------------------------------------------- parse
_SINGLE_HEADERS = ("from", "subject", "date", "message-id", "content-type", "to", "in-reply-to")


def _build(raw: bytes) -> Message:
    """The message tree, built as mail-parser builds it (the stdlib parser,
    compat32), with mail-parser's guard against deep nesting. mail-parser's
    own full parse is not run: it decodes every attachment and reads every
    header again (a 5 MB attachment cost ~100 MB and most of the parse time),
    and mailflow reads the tree itself (see the module docstring)."""
    try:
        return message_from_bytes(raw)
    except RecursionError:
        raise MessageParseError("MIME nesting too deep to parse") from None
    except Exception as exc:
        raise MessageParseError(f"unparseable message: {type(exc).__name__}") from None


def parse_message(raw: bytes, limits: ParseLimits = ParseLimits()) -> InboundMail:
    """Parse raw RFC 5322 bytes. Raises MessageParseError only when there is
    no message to speak of, or it is beyond ``limits``; everything else is
    tolerated and noted in ``defects``."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise TypeError(f"parse_message needs bytes, not {type(raw).__name__}")
    if not raw.strip():
        raise MessageParseError("empty message")
    _precheck(raw, limits)
    msg = _build(raw)
    _check_tree(msg, limits)
    try:
        return _extract(raw, msg, [])
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

    headers = {name: tuple(_decode_header_value(v) for v in values) for name, values in raw_headers.items()}

    def first(name: str) -> str | None:
        values = raw_headers.get(name)
        return values[0] if values else None

    mid_raw = first("message-id")
    # the same byte path as header_bytes_message_id, so that the two agree
    message_id = _raw_msgid_value(mid_raw.encode("ascii", "surrogateescape")) if mid_raw is not None else None
    irt = first("in-reply-to")
    in_reply_to = _normalise_msgid(_surrogate_str(irt)) if irt else None
    references: list[str] = []
    for value in raw_headers.get("references", ()):
        for ref in _msgid_list(_surrogate_str(value)):
            if ref not in references:
                references.append(ref)

    subject = _WS.sub(" ", headers.get("subject", ("",))[0]).strip()

    frm = _addresses(raw_headers.get("from", [])[:1], "From", defects)
    from_name, from_addr = frm[0] if frm else ("", "")
    if from_name.lower() == from_addr:
        from_name = ""
    to_addrs = tuple(a for _, a in _addresses(raw_headers.get("to", []), "To", defects))
    cc_addrs = tuple(a for _, a in _addresses(raw_headers.get("cc", []), "Cc", defects))
    rt = _addresses(raw_headers.get("reply-to", [])[:1], "Reply-To", defects)
    reply_to = rt[0][1] if rt else None

    date, date_defect = _parse_date(first("date"))
    if date_defect:
        defects.append(date_defect)

    w = _walk(msg, defects)
    text = ""
    if w.plain:
        part, parent, parent_mixed = w.plain[0]
        texts = [_part_text(part, defects)]
        if parent_mixed:  # Apple Mail style: text, image, text under one multipart/mixed
            texts += [_part_text(p, defects) for p, par, _ in w.plain[1:] if par == parent]
        if len(texts) > 1:
            text = "\n".join(t.rstrip("\n") for t in texts if t.strip())
        else:
            text = texts[0]
    html = _part_text(w.html[0], defects) if w.html else None
    if not text.strip() and html:
        text = html_to_text(html)

    content_type = msg.get_content_type()
    return InboundMail(
        message_id=message_id,
        subject=subject,
        from_name=from_name,
        from_addr=from_addr,
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
    )
