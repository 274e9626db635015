"""What one MIME part holds (pure): its payload bytes, its text (charset
decoded, line ends unified, format=flowed joined), its file name, its size,
and a (sub)message's header lines."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message

from mailflow.core.mail.decode import decode_bytes, decode_header_value, surrogate_str, unfold

__all__ = [
    "attachment_size",
    "declared_charset",
    "header_lines",
    "part_filename",
    "part_text",
    "stored_payload",
    "unify_newlines",
]

_WS = re.compile(r"\s+")


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed -> logical lines (soft line breaks joined)."""
    out: list[str] = []
    depth_now: int | None = None  # quote depth of the logical line being joined
    pieces: list[str] = []  # its content so far (joined once: linear in its length)

    def emit() -> None:
        line = "".join(pieces)
        out.append((">" * depth_now + " " + line) if depth_now else line)

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if depth_now is not None and depth_now != depth:
            emit()
            depth_now = None
        if depth_now is None:
            depth_now, pieces = depth, []
        if body.endswith(" ") and body != "-- ":  # soft line break ("-- " is the signature mark)
            pieces.append(body[:-1] if delsp else body)
        else:
            pieces.append(body)
            emit()
            depth_now = None
    if depth_now is not None:
        emit()
    return "\n".join(out)


def stored_payload(part: Message):
    """The parsed payload as stored: a list of parts, or the undecoded str.

    Not ``get_payload()``: without decode=True, compat32 decodes 8-bit text
    with the declared charset parameter, which is lossy and raises TypeError
    when that parameter is RFC 2231-encoded (charset*=...)."""
    return part._payload  # type: ignore[attr-defined]  # the stdlib's own attribute: no public reader returns it undecoded


def _part_bytes(part: Message) -> bytes:
    """The transfer-decoded payload; the raw text when it cannot be decoded."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken CTE / payload: use the raw text
        payload = None
    if payload is None:
        raw = stored_payload(part)
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogateescape")
        return b""
    return payload if isinstance(payload, bytes) else bytes(payload)


def unify_newlines(text: str) -> str:
    """CRLF and lone CR line ends -> LF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def declared_charset(part: Message) -> str | None:
    """The part's charset parameter, or None."""
    declared = part.get_param("charset")
    if isinstance(declared, tuple):  # RFC 2231 charset*=...: nonsense, but seen
        declared = declared[2]
    return declared if isinstance(declared, str) else None


def part_text(part: Message, defects: list[str]) -> str:
    """The text of a leaf part: transfer-decoded, charset-decoded (a fallback
    is noted in ``defects``), LF line ends, format=flowed joined."""
    data = _part_bytes(part)
    text, defect = decode_bytes(data, declared_charset(part))
    if defect:
        defects.append(f"{part.get_content_type()}: {defect}")
    text = unify_newlines(text)
    if part.get_content_type() == "text/plain":
        fmt = part.get_param("format")
        if isinstance(fmt, str) and fmt.lower() == "flowed":
            delsp = part.get_param("delsp")
            text = _unflow(text, isinstance(delsp, str) and delsp.lower() == "yes")
    return text


def _no_charset() -> str | None:
    return None


def part_filename(part: Message, charset: Callable[[], str | None] = _no_charset) -> str:
    """The part's file name (Content-Disposition filename, else Content-Type
    name; RFC 2231 / RFC 2047 decoded, whitespace folded), or ''. Raw 8-bit
    bytes in the name are read as UTF-8, else as ``charset()`` (the mail's text
    charset, asked for only then), else windows-1252."""
    try:
        return _filename_unsafe(part, charset)
    except Exception:  # a malformed parameter list must not stop the mail
        return ""


def _get_param(part: Message, param: str, header: str, charset: Callable[[], str | None]):
    for name, raw in part.raw_items():
        if name.strip().lower() == header:
            if isinstance(raw, str) and not raw.isascii():
                # 8-bit bytes in the header: compat32 would hand back U+FFFD for
                # them, so read the parameters from the decoded value instead
                tmp = Message()
                tmp[header] = surrogate_str(raw, charset())
                return tmp.get_param(param, None, header)
            break
    return part.get_param(param, None, header)


def _filename_unsafe(part: Message, charset: Callable[[], str | None]) -> str:
    value = _get_param(part, "filename", "content-disposition", charset)
    if value is None:
        value = _get_param(part, "name", "content-type", charset)
    if value is None:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        declared, _lang, text = value
        try:
            data = text.encode("latin-1", "surrogateescape") if isinstance(text, str) else b""
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogateescape")
        name = decode_bytes(data, declared or None)[0]
    else:
        name = decode_header_value(str(value).strip('"'))
    return _WS.sub(" ", name).strip()


def header_lines(msg: Message) -> str:
    """'Name: value' lines of a (sub)message, unfolded and decoded."""
    lines = []
    for name, value in msg.raw_items():
        if not isinstance(value, str):
            value = str(value)
        lines.append(f"{name.strip()}: {surrogate_str(unfold(value)).strip()}")
    return "\n".join(lines)


def _serialised_size(msg: Message) -> int:
    """Approximate size of a parsed (sub)message as it was on the wire: header
    lines plus payloads plus boundary lines. Re-serialising with as_bytes()
    would be exact-ish but costs more than parsing the whole mail."""
    total = 0
    stack = [msg]
    while stack:
        m = stack.pop()
        total += sum(len(n) + len(v) + 4 for n, v in m.raw_items() if isinstance(v, str)) + 2
        payload = stored_payload(m)
        if isinstance(payload, str):
            total += len(payload)
        elif isinstance(payload, list):
            boundary = m.get_boundary() or ""
            total += (len(boundary) + 6) * (len(payload) + 1)
            stack.extend(p for p in payload if isinstance(p, Message))
    return total


def attachment_size(part: Message, ctype: str) -> int:
    """The decoded size in bytes of a leaf part (of type ``ctype``); for an
    attached message, its approximate size on the wire."""
    payload = stored_payload(part)
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

