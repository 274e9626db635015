"""MIME composition: an ``Outgoing`` mail (what to send) becomes the RFC 5322
bytes that the outbox stores and sends unchanged (pure: no IO).

``compose`` writes the message out directly rather than through
``email.message.EmailMessage`` (which took most of the intake's time, two mails
per complaint): the headers are mailflow's own, so only values that need it are
encoded. ``tests/test_outbox_compose.py`` reads the result back with the stdlib
parser.
"""

from __future__ import annotations

import base64
import quopri
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, formataddr

from mailflow.config.settings import Settings
from mailflow.core.classify import OWN_MESSAGE_ID_PREFIX

OWN_HEADER = "X-Mailflow-Office"


@dataclass(frozen=True)
class Attachment:
    """A file attached to an outgoing mail (sent base64-encoded).

    ``mime_type`` is ``maintype/subtype`` without parameters (e.g. ``text/csv``);
    ``charset`` names the encoding of a text file's bytes (e.g. ``utf-8``) so the
    reader's client decodes it right, and is left out for binary files."""

    filename: str
    mime_type: str
    data: bytes
    charset: str | None = None

    def __post_init__(self) -> None:
        maintype, slash, subtype = self.mime_type.partition("/")
        if not slash or not maintype or not subtype or ";" in self.mime_type or maintype == "multipart":
            raise ValueError(f"mime_type must be maintype/subtype without parameters, got {self.mime_type!r}")


@dataclass(frozen=True)
class Outgoing:
    """A mail to send, before it has a Message-ID."""

    kind: str  # the template name, e.g. "citizen/acknowledgement"
    to: tuple[str, ...]
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    # RFC 3834: "auto-replied" for answers to a mail, "auto-generated" otherwise.
    auto_submitted: str = "auto-replied"
    attach_raw: bytes | None = None  # an original mail, attached as message/rfc822
    attach_name: str = "aduan-asli.eml"
    attachments: tuple[Attachment, ...] = ()  # files attached after the original mail, in order
    extra_headers: tuple[tuple[str, str], ...] = field(default=())


def new_message_id(domain: str) -> str:
    """A fresh Message-ID (without angle brackets) in our own domain."""
    return f"{OWN_MESSAGE_ID_PREFIX}{secrets.token_hex(12)}@{domain}"


def compose(settings: Settings, out: Outgoing, message_id: str, now: datetime, complaint_number: str | None) -> bytes:
    """Build the full RFC 5322 message bytes for ``out`` (CRLF line ends).

    Written out directly rather than through ``email.message.EmailMessage``,
    which took most of the intake's time (two mails per complaint): the headers
    are mailflow's own, so only values that need it are encoded (RFC 2047 for
    non-ASCII, folding for long lines); the text goes as 7bit when it is plain
    ASCII, else quoted-printable UTF-8; files go base64. tests/test_outbox_compose.py
    reads the result back with the stdlib parser."""
    headers = [
        ("From", formataddr((settings.smtp.from_name, settings.smtp.from_address), charset="utf-8")),
        ("To", ", ".join(out.to)),
        ("Subject", out.subject),
        ("Date", format_datetime(now.astimezone(settings.office.tz))),
        ("Message-ID", f"<{message_id}>"),
    ]
    if out.in_reply_to:
        headers.append(("In-Reply-To", f"<{out.in_reply_to}>"))
    refs = list(dict.fromkeys(r for r in out.references if r))
    if out.in_reply_to and out.in_reply_to not in refs:
        refs.append(out.in_reply_to)
    if refs:
        headers.append(("References", " ".join(f"<{r}>" for r in refs[-20:])))
    if out.reply_to:
        headers.append(("Reply-To", out.reply_to))
    headers += [
        ("Auto-Submitted", out.auto_submitted),
        # Ask Exchange not to send out-of-office or other automatic answers back.
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
        (OWN_HEADER, settings.office.domain),
        ("X-Mailflow-Kind", out.kind),
    ]
    if complaint_number:
        headers.append(("X-Mailflow-Complaint", complaint_number))
    headers += list(out.extra_headers)
    headers.append(("MIME-Version", "1.0"))

    text_headers, text_body = _text_part(out.body)
    files = []
    if out.attach_raw is not None:
        files.append(_original_part(out.attach_raw, out.attach_name))
    for item in out.attachments:
        files.append(_file_part(item.data, item.mime_type, item.filename, item.charset))
    head = b"".join(_header(name, value) for name, value in headers)
    if not files:
        return head + b"".join(_header(n, v) for n, v in text_headers) + b"\r\n" + text_body
    boundary = "=_mailflow_" + secrets.token_hex(12)
    out_parts = [head, _header("Content-Type", f'multipart/mixed; boundary="{boundary}"'), b"\r\n"]
    for part_headers, body in [(text_headers, text_body), *files]:
        out_parts += [b"--", boundary.encode(), b"\r\n", *(_header(n, v) for n, v in part_headers), b"\r\n", body,
                      b"" if body.endswith(b"\r\n") else b"\r\n"]
    out_parts += [b"--", boundary.encode(), b"--\r\n"]
    return b"".join(out_parts)


_LINE = 78  # RFC 5322's recommended line length


def _header(name: str, value: str) -> bytes:
    """One header field, folded: RFC 2047 encoded words for a non-ASCII value
    (the encoder folds them), whitespace folding for a long ASCII one. CR and
    LF in a value never start a new field (no header injection)."""
    if "\r" in value or "\n" in value:
        value = " ".join(value.split())
    if not value.isascii():
        encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=_LINE)
        return f"{name}: {encoded}\r\n".encode("ascii")
    line = f"{name}: {value}"
    if len(line) <= _LINE:
        return (line + "\r\n").encode("ascii")
    lines, current = [], f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > _LINE and current.strip() and current != f"{name}:":
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _crlf(data: bytes) -> bytes:
    """``data`` with CRLF line ends; returned as it is when it has them already
    (an original mail from IMAP: no copies of a large attachment)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _text_part(body: str) -> tuple[list[tuple[str, str]], bytes]:
    data = body.encode("utf-8")
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return [("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "7bit")], _crlf(data)
    encoded = quopri.encodestring(data.replace(b"\r\n", b"\n"), quotetabs=False)
    return ([("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable")],
            _crlf(encoded))


def _disposition(filename: str) -> str:
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*={encode_rfc2231(filename, 'utf-8')}"


def _file_part(data: bytes, mime_type: str, filename: str, charset: str | None) -> tuple[list[tuple[str, str]], bytes]:
    ctype = mime_type + (f'; charset="{charset}"' if charset else "")
    return ([("Content-Type", ctype), ("Content-Transfer-Encoding", "base64"),
             ("Content-Disposition", _disposition(filename))], _crlf(base64.encodebytes(data)))


def _original_part(raw: bytes, name: str) -> tuple[list[tuple[str, str]], bytes]:
    """Attach an original mail unchanged. message/rfc822 allows only 7bit/8bit/binary,
    so an original with 8-bit bytes or very long lines goes as an .eml file instead
    (base64), which every client opens the same way."""
    if raw.isascii() and all(len(line) <= 998 for line in raw.splitlines()):
        return [("Content-Type", "message/rfc822"), ("Content-Disposition", _disposition(name))], _crlf(raw)
    return _file_part(raw, "application/octet-stream", name, None)


