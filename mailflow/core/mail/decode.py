"""Text out of mail bytes (pure): charsets, RFC 2047 encoded words, header
values and Message-IDs.

Everything here takes bytes or surrogate-escaped str (what the stdlib bytes
parser hands out for 8-bit header bytes) and returns text; nothing raises for
bad input. The charset fallback chain (:func:`decode_bytes`) is the one every
body, header and attachment name goes through.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

__all__ = [
    "decode_bytes",
    "decode_header_value",
    "decode_rfc2047",
    "header_charset",
    "msgid_from_bytes",
    "msgid_list",
    "normalise_msgid",
    "surrogate_str",
    "unfold",
]


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
# Encodings of 7-bit bytes only: an 8-bit byte means the label is wrong.
_SEVEN_BIT = ("iso2022", "utf_7", "utf-7", "hz")
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
    itself; then the declared charset replacing what it cannot decode with
    U+FFFD, when that is a few characters (see _decode_replacing); then UTF-8,
    windows-1252 and finally latin-1 (never fails).
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
    declared_codecs = [*supersets, codec] if codec else []
    for c in declared_codecs:
        try:
            text = data.decode(c)
        except Exception:  # the sender names the codec: "undefined", "zlib", "idna"... may raise anything
            continue
        if codec == "ascii":
            return text, f"8-bit bytes in a {declared!r} part; decoded as {c}"
        return text, None  # a superset is what the label means in practice
    if codec and codec != "ascii" and not codec.startswith(_NOT_ASCII_COMPATIBLE) and (
        data.isascii() or not codec.startswith(_SEVEN_BIT)
    ):
        # The declared charset with a few characters it cannot decode (an NEC
        # "①" in ISO-2022-JP from Outlook, one corrupted byte): one U+FFFD per
        # bad character, the rest intact, rather than the whole text read in a
        # fallback charset (for ISO-2022-JP: escape sequences in windows-1252).
        # Not when the label itself must be wrong: 8-bit bytes under a 7-bit
        # charset, or UTF-16/32 (which read any bytes as some text).
        replaced = _decode_replacing(data, declared_codecs)
        if replaced is not None:
            text, bad = replaced
            return text, f"charset {declared!r}: {bad} undecodable character(s) replaced with U+FFFD"
    for c in ("utf-8", "cp1252"):
        if c in declared_codecs:
            continue
        try:
            text = data.decode(c)
        except UnicodeDecodeError:
            continue
        if not declared:
            return text, None
        reason = "unknown charset" if codec is None else "bytes invalid in that charset"
        return text, f"charset {declared!r}: {reason}; decoded as {c}"
    return data.decode("latin-1"), f"charset {declared!r}: undecodable; decoded as latin-1"


def _decode_replacing(data: bytes, codecs_: list[str]) -> tuple[str, int] | None:
    """The best of ``codecs_`` decoding ``data`` with replacement, when few
    characters (at most 1 in 50, and at least one allowed) had to be
    replaced: (text, replaced count). None when every codec replaces more, which
    means the label is wrong rather than a character bad."""
    best: tuple[str, int] | None = None
    before = data.count("\ufffd".encode("utf-8")) if b"\xef\xbf\xbd" in data else 0
    for c in codecs_:
        try:
            text = data.decode(c, "replace")
        except Exception:
            continue
        bad = text.count("\ufffd") - before
        if bad <= max(1, len(text) // 50) and (best is None or bad < best[1]):
            best = (text, max(bad, 0))
    return best


def surrogate_str(value: str, charset: str | None = None) -> str:
    """A header/payload str from the stdlib bytes parser (8-bit bytes carried as
    surrogate escapes) -> proper text: UTF-8, else ``charset`` (the one the
    mail declares for its text, see :func:`header_charset`), else
    windows-1252."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value.replace("\x00", "")  # already real text (e.g. from a str parse)
    return decode_bytes(data, charset)[0]


def header_charset(declared: str | None) -> str | None:
    """``declared`` (a text part's charset) if it can decode raw 8-bit header
    bytes (ASCII-compatible, not 7-bit-only), else None."""
    codec = _codec(declared)
    if codec is None or codec in ("ascii", "utf-8") or codec.startswith(_NOT_ASCII_COMPATIBLE):
        return None
    if codec.startswith(_SEVEN_BIT):
        return None  # raw 8-bit bytes are not theirs
    return declared


# ---------------------------------------------------------------- RFC 2047
# The payload may hold blanks: real mailers write "=?UTF-8?Q?Pengaduan KTP?="
# and fold inside a base64 word ("=?utf-8?B?UGVuZ2Fk\r\n dWFu?="). It cannot
# hold "?", so a scan never runs past the next "?": linear.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\r\n]*)\?=")
_FOLD = re.compile(r"\r\n|\r|\n")
_WS = re.compile(r"\s+")


def _ew_bytes(enc: str, payload: str) -> bytes | None:
    try:
        if enc in "bB":
            payload = "".join(payload.split())
            payload += "=" * (-len(payload) % 4)
            return base64.b64decode(payload.encode("ascii", "surrogateescape"), validate=False)
        payload = payload.replace("_", " ")  # a blank written as such is taken literally too
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
            cs = pending[i][0]
            j = i + 1
            while j < len(pending) and pending[j][0] == cs:
                j += 1
            out.append(decode_bytes(b"".join(data for _, data in pending[i:j]), cs)[0])
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


def unfold(value: str) -> str:
    """A folded header value on one line (the line breaks removed, the
    whitespace after them kept)."""
    return _FOLD.sub("", value) if ("\n" in value or "\r" in value) else value


def decode_header_value(raw: str, charset: str | None = None) -> str:
    """Raw (surrogate-escaped) header value -> text: unfolded, 8-bit decoded
    (UTF-8, else ``charset``, else windows-1252), RFC 2047 decoded, stripped."""
    return decode_rfc2047(surrogate_str(unfold(raw), charset)).strip()


# ----------------------------------------------------------------- Message-ID
_ANGLE_ID = re.compile(r"<([^<>]*)>")


def normalise_msgid(value: str | None) -> str | None:
    """'<a@b> (comment)' -> 'a@b'; 'a@b' -> 'a@b'; '' / '<>' -> None."""
    if not value:
        return None
    value = unfold(value)
    for m in _ANGLE_ID.finditer(value):
        ident = m.group(1).strip()
        if ident:
            return _WS.sub("", ident)
    if "<" in value or ">" in value:
        value = value.replace("<", " ").replace(">", " ")
    parts = value.split()
    return parts[0] if parts else None


def msgid_list(value: str) -> list[str]:
    """The message ids of a References / In-Reply-To value, without <>, in
    order; whitespace-separated tokens when there are no <...> ids."""
    found = [_WS.sub("", m.group(1).strip()) for m in _ANGLE_ID.finditer(unfold(value))]
    found = [f for f in found if f]
    if not found:
        found = [t.strip(",;") for t in value.split() if t.strip(",;")]
    return found


def msgid_from_bytes(data: bytes) -> str | None:
    """A raw Message-ID header value (bytes) -> the normalised id, or None."""
    return normalise_msgid(decode_bytes(data, None)[0])
