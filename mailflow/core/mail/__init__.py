"""Inbound mail reading: raw RFC 5322 bytes -> :class:`InboundMail` (pure, no I/O).

The modules, each one idea, lower ones first:

* ``decode``: charsets, RFC 2047 encoded words, header values, Message-IDs.
* ``head``: the header block on bytes: lost folds and junk before the first
  field repaired; the Message-ID from the header bytes alone, before parsing
  (``header_bytes_message_id``).
* ``html``: HTML -> readable plain text.
* ``values``: what reading hands out (``InboundMail``, ``Attachment``,
  ``ReportPart``) and ``MessageParseError``.
* ``parts``: what one MIME part holds: text, file name, size, header lines.
* ``mime``: the tree: ``ParseLimits``, building and checking it, the walk
  that sorts its parts into body, attachments and report parts.
* ``addresses``: the sender (From, Reply-To) read strictly, recipient lists
  (To, Cc) leniently, both in linear time.
* ``read``: ``parse_message``: header values, addresses, ids, date, body.

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
* addresses: mail-parser returns nothing for ``To: a@x b@y`` (no comma), and
  it and ``email.utils.getaddresses`` read ``From: admin@office <x@elsewhere>``
  as the office; we read the sender strictly (one mailbox or "sender unclear",
  ``InboundMail.sender_problem``) and recover only recipient lists, keeping
  only addresses exactly as written.
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
deep) or it is beyond the ``ParseLimits``; the daemon quarantines such mail.
"""

from __future__ import annotations

from mailflow.core.mail.decode import decode_bytes, decode_rfc2047
from mailflow.core.mail.head import header_bytes_message_id
from mailflow.core.mail.html import html_to_text
from mailflow.core.mail.mime import ParseLimits
from mailflow.core.mail.read import parse_message
from mailflow.core.mail.values import Attachment, InboundMail, MessageParseError, ReportPart

__all__ = [
    "Attachment",
    "InboundMail",
    "MessageParseError",
    "ParseLimits",
    "ReportPart",
    "decode_bytes",
    "decode_rfc2047",
    "header_bytes_message_id",
    "html_to_text",
    "parse_message",
]
