"""Authentication-Results (RFC 8601) as the test SMTP front stamps them.

The office's receiving server checks SPF, DKIM and DMARC and records what it
found in an ``Authentication-Results`` header field on top of every mail it
accepts, under its own ``authserv-id``; fields with that id that arrive from
outside are look-alikes and are deleted (RFC 8601 section 5).  The local
stack has no DNS and no signatures, so :func:`stamp` decides the results the
way a test needs them:

* the SMTP session logged in (AUTH) as the user whose address is the first
  ``From:`` address: ``pass`` for all three (a staff member sending from
  their own client);
* otherwise the per-domain ``policy`` for the ``From:`` domain (an exact,
  case-insensitive match; see :func:`effective_policy` for the defaults),
  ``none`` for a domain not in it.

Only the header section is touched: the look-alikes are cut out and one new
field goes on top; every other byte stays as it was.  The header section
ends where Python's email parser (what mailflow reads with) ends it: at the
first empty line or at the first line that is neither a header field nor
its continuation.

Pure (no IO); used by :mod:`devstack.smtprelay`, and by
:meth:`MailStack.set_auth_policy <devstack.mailstack.MailStack.set_auth_policy>`
to check a policy before the relay sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import getaddresses

DEFAULT_AUTHSERV_ID = "mx.dukcapil.test"
# Result values of RFC 8601 section 2.7 (DMARC adds none of its own).
RESULTS = frozenset({"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"})

# What Python's email feed parser accepts as a header line (its headerRE):
# a field name ended by a colon, an mbox "From " line, or a continuation.
_FIELD_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")
_SPECIALS = re.compile(r'[\s;()"\\\x00-\x1f\x7f]')


def effective_policy(own_domain: str, policy: Mapping[str, str] | None) -> dict[str, str]:
    """The results by (lower-case) ``From:`` domain for unauthenticated mail:
    ``own_domain`` (the office's) ``fail``, since mail claiming it without
    logging in is spoofed, overridden by ``policy``; a domain in neither gets
    ``none``.  Raises ValueError for a result that is not an RFC 8601 one."""
    out = {own_domain.lower(): "fail"}
    for domain, result in (policy or {}).items():
        value = str(result).strip().lower()
        if value not in RESULTS:
            raise ValueError(f"auth policy for {domain!r}: {result!r} is not one of {sorted(RESULTS)}")
        out[str(domain).strip().lower()] = value
    return out


def authserv_id_of(value: str) -> str:
    """The authserv-id of an ``Authentication-Results`` field body (folded or
    not): its first token, comments and white space skipped, a quoted-string
    unquoted (a version number after it does not matter); lower-case, ``""``
    if there is none."""
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch.isspace():
            i += 1
        elif ch == "(":  # a comment, possibly nested, with quoted-pairs
            depth = 0
            while i < n:
                if value[i] == "\\":
                    i += 1
                elif value[i] == "(":
                    depth += 1
                elif value[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
        elif ch == '"':
            out, i = [], i + 1
            while i < n and value[i] != '"':
                if value[i] == "\\":
                    i += 1
                out.append(value[i : i + 1])
                i += 1
            return "".join(out).lower()
        else:
            m = re.match(r'[^\s;()"]+', value[i:])
            return m.group(0).lower() if m else ""
    return ""


def header_fields(data: bytes) -> list[tuple[int, int, str, bytes]]:
    """The header fields of ``data`` as ``(start, end, name, body)``: the byte
    range of the field (``end`` past its last line's end of line), its name in
    lower case (``""`` for an mbox ``From`` line) and the bytes after the colon,
    continuation lines included."""
    fields: list[tuple[int, int, str, bytes]] = []
    pos, n = 0, len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        line = data[pos:end]
        if line in (b"\r\n", b"\n") or not _FIELD_LINE.match(line):
            break
        if line[:1] in (b" ", b"\t") and fields:
            start, _, name, body = fields[-1]
            fields[-1] = (start, end, name, body + line)
        elif line.startswith(b"From ") or line[:1] in (b" ", b"\t"):
            fields.append((pos, end, "", b""))
        else:
            raw_name, _, body = line.partition(b":")
            fields.append((pos, end, raw_name.decode("ascii", "replace").lower(), body))
        pos = end
    return fields


def _first_address(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    for _name, addr in getaddresses([text]):
        if "@" in addr:
            return addr
    return ""


def _safe(value: str) -> str:
    # A value that could end a resinfo early (";") or open a comment is left
    # out: a forged envelope sender or From: must not add results to our field.
    return "" if not value or _SPECIALS.search(value) else value


def stamp(data: bytes, *, authserv_id: str, mail_from: str, helo: str, login: str | None,
          results: Mapping[str, str]) -> bytes:
    """``data`` with our look-alikes removed and one new field on top::

        Authentication-Results: <authserv_id>; spf=<r> smtp.mailfrom=<mail_from>;
         dkim=<r> header.d=<From domain>; dmarc=<r> header.from=<From domain>

    (on one line).  ``login``: the address the SMTP session authenticated as,
    None if it did not; ``<r>`` is ``pass`` when it is the first ``From:``
    address, else ``results[From domain]`` (see :func:`effective_policy`),
    else ``none``.  With an empty envelope sender ``smtp.helo=<helo>`` is
    named instead (SPF checks the HELO name then).  Returns ``data`` itself
    when ``authserv_id`` is empty."""
    if not authserv_id:
        return data
    fields = header_fields(data)
    ours = authserv_id.lower()
    cut = [(s, e) for s, e, name, body in fields
           if name == "authentication-results" and authserv_id_of(body.decode("utf-8", "replace")) == ours]
    from_addr = next((_first_address(body) for _, _, name, body in fields if name == "from"), "")
    domain = _safe(from_addr.rpartition("@")[2].lower())
    if login and from_addr and login.lower() == from_addr.lower():
        result = "pass"
    else:
        result = results.get(domain, "none") if domain else "none"
    sender = _safe(mail_from) or _safe(mail_from.rpartition("@")[2])
    spf_prop = f" smtp.mailfrom={sender}" if sender else (f" smtp.helo={_safe(helo)}" if _safe(helo) else "")
    d_prop, from_prop = (f" header.d={domain}", f" header.from={domain}") if domain else ("", "")
    # SMTP DATA is CRLF lines, and so is the field.
    field = (f"Authentication-Results: {authserv_id}; spf={result}{spf_prop}; "
             f"dkim={result}{d_prop}; dmarc={result}{from_prop}\r\n").encode()
    parts, pos = [field], 0
    for s, e in cut:
        parts.append(data[pos:s])
        pos = e
    parts.append(data[pos:])
    return b"".join(parts)
