"""Addresses in header fields (pure): the sender strictly, recipients leniently.

Any internet sender can write any ``From:``; mailflow answers it and checks
staff commands against it, so the sender is read strictly (RFC 5322 §3.4, by
hand: Python 3.11.7 has no ``getaddresses(strict=True)``, and the stdlib's
address parsers are slow or lenient on hostile input). A sender is clear only
when the field occurs once and holds exactly one mailbox, ``addr@domain`` or
``Display Name <addr@domain>`` (comments allowed), whose display name and
comments hold no other address. Everything else (two fields, two addresses,
``admin@office <x@elsewhere>``, ``<a@office>@elsewhere``, group syntax,
control characters, unbalanced quotes) is *unclear*: no address at all, never a
guessed one.

Recipient lists (To, Cc) are only used to find a complaint's own reply
address, so a list the parser cannot read is recovered: only runs of text that
are complete addresses exactly as written are kept.

Everything here runs in time linear in the field's length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from mailflow.core.mail.decode import decode_rfc2047

__all__ = ["Sender", "recipients", "sender"]


@dataclass(frozen=True)
class Sender:
    """The reading of a From/Reply-To/Sender field: ``addr`` (lower-case) and
    ``name`` when clear; ``problem`` (a short English reason) otherwise, with
    ``addr`` and ``name`` empty."""

    name: str
    addr: str
    problem: str = ""


# C0 controls (tab aside; the line breaks of folding are gone by now), DEL and
# the C1 controls: no mail client writes them in an address field.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# One token per match: blanks, a quoted string, an atom (RFC 5322 atext, plus
# any non-ASCII: RFC 6532), or one special character. Possessive: a quoted
# string that never closes fails after one scan and is then reported malformed.
_TOKEN = re.compile(r'[ \t]++|"(?:[^"\\]|\\.)*+"|[^ \t"(),.:;<>@\[\]\\]++|.', re.S)
_COMMENT_PART = re.compile(r"[^()\\]++|\\.|[()]|\\", re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
# A run that could be an address, for recovering recipient lists.
_CANDIDATE = re.compile(r'[^\s<>(),;:"\[\]\\]++')
_SEPARATORS = re.compile(r"[\s<>()\[\],;:\"']++")
_MAX_LOCAL, _MAX_DOMAIN = 64, 255  # RFC 5321 §4.5.3.1
# A sender field longer than this is not a mail client's: unclear at once.
_MAX_SENDER_FIELD = 2000


# The forms nearly every mail has, "Name <addr>", "<addr>" and "addr" in plain
# ASCII without quotes, comments or encoded words, are read by one match; the
# tokenizer below costs about 15 us a field. Where this applies, it gives what
# the full reader gives (tests/test_mail_addresses.py checks it).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_PLAIN_ADDR = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*(?:(?:([A-Za-z0-9][A-Za-z0-9 \t.'_-]{{0,200}}?)[ \t]*)?<({_PLAIN_ADDR})>|({_PLAIN_ADDR}))[ \t]*"
)


def _simple_mailbox(value: str) -> tuple[str, str] | None:
    """(name, lower-case address) of a field in one of the plain forms, else None."""
    m = _SIMPLE_MAILBOX.fullmatch(value)
    if m is None:
        return None
    addr = m.group(2) or m.group(3)
    local, _, domain = addr.partition("@")
    if "=?" in addr or len(local) > _MAX_LOCAL or len(domain) > _MAX_DOMAIN:
        return None
    return (" ".join(m.group(1).split()) if m.group(1) else ""), addr.lower()


class _Malformed(Exception):
    pass


class _Tok(NamedTuple):
    kind: str  # "atom", "quoted", "comment", or the special character itself
    text: str  # atom text, quoted or comment content (unescaped)
    space_before: bool  # blanks or a comment before it


def _comment_end(value: str, pos: int) -> tuple[str, int]:
    """The comment opening at ``value[pos] == "("``: (its text, the index after
    it). Nested comments are counted; raises _Malformed when it never closes."""
    depth = 0
    parts: list[str] = []
    for m in _COMMENT_PART.finditer(value, pos):
        piece = m.group()
        if piece == "(":
            depth += 1
            if depth > 1:
                parts.append(piece)
        elif piece == ")":
            depth -= 1
            if depth == 0:
                return "".join(parts), m.end()
            parts.append(piece)
        elif piece == "\\":
            break  # a backslash at the very end
        else:
            parts.append(piece[1:] if piece.startswith("\\") else piece)
    raise _Malformed("unclosed comment")


def _tokens(value: str) -> list[_Tok]:
    """The tokens of a header value; raises _Malformed for an unclosed quote or
    comment or a stray backslash or ')'."""
    out: list[_Tok] = []
    space = False
    if "(" not in value:  # no comments (the usual case): no jumps
        # finditer, not findall: the scan must stop at the first unclosed quote
        # (else each '"' of '"\\"\\"...' rescans the rest: quadratic)
        for token in _TOKEN.finditer(value):
            space = _add_token(out, token.group(), space)
        return out
    pos, n = 0, len(value)
    while pos < n:
        if value[pos] == "(":
            text, pos = _comment_end(value, pos)
            out.append(_Tok("comment", text, space))
            space = True
            continue
        m = _TOKEN.match(value, pos)
        assert m is not None  # the last alternative matches any character
        pos = m.end()
        space = _add_token(out, m.group(), space)
    return out


def _add_token(out: list[_Tok], piece: str, space: bool) -> bool:
    """Append the token ``piece`` (a match of _TOKEN) to ``out``; returns
    whether blanks come before the next one."""
    first = piece[0]
    if first in " \t":
        return True
    if first == '"':
        if len(piece) == 1:
            raise _Malformed("unclosed quote")
        out.append(_Tok("quoted", _QUOTED_PAIR.sub(r"\1", piece[1:-1]) if "\\" in piece else piece[1:-1], space))
    elif len(piece) > 1:
        out.append(_Tok("atom", piece, space))
    elif piece in ".,:;<>@[]":
        out.append(_Tok(piece, piece, space))
    elif piece in "\\)":
        raise _Malformed("stray backslash" if piece == "\\" else "stray ')'")
    else:
        out.append(_Tok("atom", piece, space))
    return False


def _dot_atom(toks: list[_Tok]) -> str | None:
    """``atom ("." atom)*`` written without blanks, as text; else None."""
    if not toks or len(toks) % 2 == 0:
        return None
    for i, t in enumerate(toks):
        if (t.kind != "atom") if i % 2 == 0 else (t.kind != "."):
            return None
        if i and t.space_before:
            return None
    return "".join(t.text for t in toks)


def _addr_spec(toks: list[_Tok]) -> str:
    """``local@domain`` from the tokens between the angle brackets (or of the
    whole field); raises _Malformed with the reason."""
    ats = [i for i, t in enumerate(toks) if t.kind == "@"]
    if not ats:
        raise _Malformed("no address")
    if len(ats) > 1:
        raise _Malformed("malformed address")
    at = ats[0]
    local_toks, domain_toks = toks[:at], toks[at + 1 :]
    if local_toks and local_toks[0].kind == "quoted":
        raise _Malformed("quoted local part")
    if domain_toks and domain_toks[0].kind == "[":
        raise _Malformed("domain literal")
    if toks[at].space_before or (domain_toks and domain_toks[0].space_before):
        raise _Malformed("malformed address")
    local, domain = _dot_atom(local_toks), _dot_atom(domain_toks)
    if local is None or domain is None:
        raise _Malformed("malformed address")
    if len(local) > _MAX_LOCAL or len(domain) > _MAX_DOMAIN:
        raise _Malformed("address too long")
    addr = f"{local}@{domain}"
    if not addr.isprintable():
        raise _Malformed("invisible characters in the address")
    # what a reader might take for another address: an encoded word (RFC 2047
    # forbids them here; decoded, "=?utf-8?q?admin?=" reads "admin"), or
    # characters that fold to others ("admin＠office.test@evil.test")
    if "=?" in addr or (not addr.isascii() and unicodedata.normalize("NFKC", addr) != addr):
        raise _Malformed("look-alike characters in the address")
    return addr.lower()


def _phrase(toks: list[_Tok]) -> str:
    """A display name (atoms, quoted strings, dots) as text, RFC 2047 decoded."""
    words: list[str] = []
    for t in toks:
        if t.kind not in ("atom", "quoted", "."):
            raise _Malformed("malformed display name")
        if words and t.space_before:
            words.append(" ")
        words.append(t.text)
    return decode_rfc2047("".join(words)).strip()


def _address_like(text: str) -> list[str]:
    """Words of ``text`` that read as an address once normalised (a full-width
    ＠ counts: a reader sees an address), lower-cased."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    if "@" not in text:
        return []
    found = []
    for word in _SEPARATORS.split(text):
        head, at, tail = word.partition("@")
        if at and head.strip(".") and tail.strip("."):
            found.append(word.strip(".").lower())
    return found


def _mailbox(toks: list[_Tok], *, strict_name: bool = True) -> tuple[str, str]:
    """(name, address) of tokens holding exactly one mailbox; raises _Malformed.
    ``strict_name``: a display name or comment holding another address makes it
    malformed."""
    comments = [t.text for t in toks if t.kind == "comment"]
    toks = [t for t in toks if t.kind != "comment"]
    kinds = [t.kind for t in toks]
    if "<" in kinds:
        lt = kinds.index("<")
        if "," in kinds[:lt]:
            raise _Malformed("more than one address")
        if ":" in kinds[:lt]:
            raise _Malformed("group syntax")
        if "@" in kinds[:lt]:
            raise _Malformed("display name holds an address" if strict_name else "malformed display name")
        if kinds.count("<") > 1 or kinds.count(">") != 1:
            raise _Malformed("malformed address")
        gt = kinds.index(">")
        if gt < lt:
            raise _Malformed("malformed address")
        if gt != len(toks) - 1:
            raise _Malformed("more than one address" if "," in kinds[gt:] else "text after the address")
        name = _phrase(toks[:lt])
        addr = _addr_spec(toks[lt + 1 : gt])
    else:
        if ":" in kinds:
            raise _Malformed("group syntax")
        if "," in kinds or kinds.count("@") > 1:
            raise _Malformed("more than one address")
        if ">" in kinds:
            raise _Malformed("malformed address")
        addr = _addr_spec(toks)
        name = ""
    if not name and comments:
        name = decode_rfc2047(" ".join(c.strip() for c in comments)).strip()
    for text in (name, *comments) if strict_name else ():
        if any(other != addr for other in _address_like(text)):
            raise _Malformed("display name holds an address")
    return name, addr


def sender(values: list[str], field: str) -> Sender:
    """Read a From / Reply-To / Sender field strictly. ``values``: every
    occurrence of the field, unfolded and decoded to text (8-bit bytes), RFC
    2047 words not yet decoded. No occurrence gives ``Sender("", "", "")``."""
    if not values:
        return Sender("", "")
    if len(values) > 1:
        count = "two" if len(values) == 2 else str(len(values))
        return Sender("", "", f"{count} {field}: fields")
    value = values[0]
    if len(value) > _MAX_SENDER_FIELD:
        return Sender("", "", f"{field}: field too long")
    if _CONTROL.search(value):
        return Sender("", "", f"control characters in {field}:")
    if not value.strip():
        return Sender("", "", f"empty {field}:")
    simple = _simple_mailbox(value)
    if simple is not None:
        return Sender(*simple)
    try:
        name, addr = _mailbox(_tokens(value))
    except _Malformed as exc:
        reason = str(exc)
        return Sender("", "", reason if reason == "display name holds an address" else f"{reason} in {field}:")
    if name.lower() == addr:
        name = ""
    return Sender(name, addr)


def _split_list(toks: list[_Tok]) -> list[list[_Tok]]:
    """The mailboxes of an address list: split at top-level commas; a group's
    name (up to ':') and its closing ';' are dropped."""
    items: list[list[_Tok]] = [[]]
    in_angle = False
    for t in toks:
        if t.kind == "<":
            in_angle = True
        elif t.kind == ">":
            in_angle = False
        if not in_angle and t.kind in (",", ";"):
            items.append([])
        elif not in_angle and t.kind == ":":
            items[-1] = []  # what came before was the group's name
        else:
            items[-1].append(t)
    return [item for item in items if item]


def _recover(text: str) -> list[str]:
    """Complete addresses exactly as written in ``text`` (a sentence's final
    '.' aside), for a list the parser cannot read: a run without separators
    holding one '@', a local part and a dotted domain. Never part of a run: in
    ``a@b@c.example`` nothing is found, not ``b@c.example``."""
    found = []
    for m in _CANDIDATE.finditer(text):
        word = m.group().rstrip(".")
        local, at, domain = word.partition("@")
        if not at or "@" in domain or not local or local.startswith(".") or "." not in domain:
            continue
        if domain.startswith(".") or ".." in domain or len(local) > _MAX_LOCAL or len(domain) > _MAX_DOMAIN:
            continue
        if word.isprintable():
            found.append(word.lower())
    return found


def recipients(values: list[str], field: str, defects: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs of a To / Cc field, once each.
    ``values``: every occurrence, unfolded and decoded to text. A list the
    parser cannot read is recovered by :func:`_recover` (noted in ``defects``
    under ``field``)."""
    result: list[tuple[str, str]] = []
    for value in values:
        if not any(c in value for c in '"(:;\\'):  # no quotes, comments, groups: maybe all plain
            plain = [_simple_mailbox(item) for item in value.split(",")]
            if all(plain):
                result.extend(p for p in plain if p is not None)
                continue
        good: list[tuple[str, str]] = []
        broken = False
        try:
            items = _split_list(_tokens(value))
        except _Malformed:
            items, broken = [], True
        for item in items:
            try:
                good.append(_mailbox(item, strict_name=False))
            except _Malformed:
                broken = True
        if broken:
            recovered = [("", a) for a in _recover(value)]
            if len(recovered) > len(good):
                defects.append(f"{field}: malformed address list; addresses recovered as written")
                good = recovered
            elif not good:
                defects.append(f"{field}: no usable address")
        result.extend(good)
    seen: set[str] = set()
    unique = []
    for name, addr in result:
        if addr not in seen:
            seen.add(addr)
            unique.append((name, addr))
    return unique
