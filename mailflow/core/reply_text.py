"""What a person newly wrote in a reply: without the quoted original and the
signature (pure). Handles Gmail, Outlook (incl. the Indonesian header block
"Dari: / Dikirim: / Kepada: / Perihal:"), Thunderbird, Apple Mail, Yahoo,
Roundcube and phones, plain text or HTML-only (``extract_reply``,
``reply_of``); the narrower cut for a complaint mail (``unquoted_lines``);
and ``quoted_material``, the last check that staff text about to reach a
citizen carries none of it.

Every pattern here runs in linear time on any input (issue 11: a 23 KB line
once stalled the daemon for two minutes). A line longer than ``MAX_LINE`` is
never an attribution, a header or a signature, and no pattern has nested or
overlapping quantifiers that could backtrack over a long line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailflow.core.mail import html_to_text

MAX_LINE = 500  # characters: a longer line is text, never an attribution, header or signature
_WINDOW = 3  # an attribution wraps over at most three lines (Gmail: "... Admin <" / "admin@x>" / "menulis:")

# The word that ends an attribution ("... wrote:", "... menulis:"), in the languages the corpus has.
_VERBS = ("wrote", "menulis", "schrieb", "a écrit", "escribió", "ha scritto", "schreef", "escreveu", "skrev",
          "napisał", "napsal", "kirjoitti", "писал(а)", "написал", "написала")
# How an attribution starts: "On …", "Pada …", "Am …", … or a date ("15. marts 2017 …").
_LEAD = re.compile(r"(?:On|Pada|Am|Le|El|Il|In data|Em|Den|På|W dniu|Dne|Op)\b|\d", re.I)
# Gmail's Indonesian attribution opens with a day's abbreviation: "Pada tanggal Sen, 23 Nov 2026 pukul 09.15".
_GMAIL_ID_HEAD = re.compile(r"Pada tanggal (?:Sen|Sel|Rab|Kam|Jum|Sab|Min), \d{1,2} \w{3,9} \d{4} pukul \d", re.I)
# An address; the look-behind makes every attempt start at the beginning of a run, so the
# search is linear (without it, a long run of address characters is scanned from every position).
_ADDRESS_CHARS = r"[^\s<>()\[\]\"',;:@]"
_ADDRESS = re.compile(rf"(?<!{_ADDRESS_CHARS}){_ADDRESS_CHARS}+@{_ADDRESS_CHARS}+")
# "<addr>:" / "(addr):" / "addr>:" at the very end (the Russian, Danish, Yandex forms).
_BRACKETED_END = re.compile(rf"(?<!{_ADDRESS_CHARS}){_ADDRESS_CHARS}+@{_ADDRESS_CHARS}+\s?[>)\]][\"')]?$")

# Lines that end the new text (matched against the stripped line).
_SEPARATORS = re.compile(
    r"-{2,}\s*(?:Original Message|Pesan Asli|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original|Messaggio originale|Oorspronkelijk bericht|Forwarded message|Pesan terusan|"
    r"Pesan yang diteruskan)\s*-{2,}|_{10,}|-{10,}|Begin forwarded message:|Awal pesan yang diteruskan:",
    re.I,
)
_HEADER_LINE = re.compile(
    r"\s*\*?(From|Dari|Van|Von|De|Da|Od|Fra|Från|От|Sent|Dikirim|Terkirim|Date|Tanggal|Gesendet|Envoyé|Enviado|"
    r"Inviato|Verzonden|To|Kepada|Ke|An|À|Para|A|Aan|Subject|Perihal|Subjek|Betreff|Objet|Asunto|Oggetto|"
    r"Onderwerp|Assunto|Cc)\*?\s*:",
    re.I,
)
_FROM_WORDS = ("from", "dari", "van", "von", "de", "da", "od", "fra", "från", "от")
_SENT_WORDS = ("sent", "dikirim", "terkirim", "gesendet", "envoyé", "enviado", "inviato", "verzonden")
# "Dari: Admin <a@b> Terkirim: Senin, 23 November 2026 09.15": the short form on one line.
_SENT_LATER = re.compile(r"\s\*?(?:Sent|Dikirim|Terkirim|Gesendet|Envoyé|Enviado|Inviato|Verzonden)\*?\s?:", re.I)
# A signature that ends the new text (matched against the stripped line).
_SIGNATURE = re.compile(
    r"--|—|"
    r"(?:Sent|Envoyé|Enviado|Gesendet|Inviato|Verzonden|Dikirim|Terkirim)\s(?:from|de|desde|von|da|vanaf|dari|via)\b[^,.]{0,60}"
    r"|Get Outlook for \w+.{0,30}|Dapatkan Outlook untuk \w+.{0,30}"
    r"|Sent (?:with|using) [^,.]{0,60}|Sent from my [^,.]{0,40}|Dikirim dari [^,.]{0,60}"
    r"|.{0,40}BlackBerry.{0,40}",
    re.I,
)
# Only clear markers count for the last check (a closing like "Salam,\nNama" is too fuzzy).
_DEVICE = (r"(?:iPhone|iPad|Android|ponsel|perangkat|Samsung|Galaxy|Xiaomi|Redmi|Oppo|Vivo|Realme|Huawei|"
           r"BlackBerry|Yahoo|Outlook|Gmail|Mail untuk|Email untuk|Surel untuk)")
_CLEAR_SIGNATURE = re.compile(
    r"(?:Sent from (?:my|Yahoo|Outlook|Mail for|Samsung|Gmail|AOL)\b[^,.]{0,40}|Sent (?:with|using|via) [^,.]{1,40}"
    r"|Get Outlook for \w[^,.]{0,30}|Dapatkan Outlook untuk \w[^,.]{0,30}"
    rf"|(?:Dikirim|Terkirim) (?:dari|melalui|via|dengan) {_DEVICE}\b[^,.]{{0,50}})\.?",
    re.I,
)
# A separator that names what follows (a line of dashes alone may be the writer's own).
_NAMED_SEPARATOR = re.compile(
    r"-{2,}\s*(?:Original Message|Pesan Asli|Forwarded message|Pesan terusan|Pesan yang diteruskan)\s*-{2,}"
    r"|Begin forwarded message:|Awal pesan yang diteruskan:",
    re.I,
)
_SIGN_OFF = re.compile(r"\s*-\s?[A-Z][\w.']+(?:\s[A-Z][\w.']+){0,3}\s*")


# ---------------------------------------------------------------- attribution lines


def _ends_with_verb(body: str) -> bool:
    """Whether ``body`` (an attribution without its final ':') ends with a verb like
    "wrote" or "menulis" as a word ("<x@y>wrote" counts: Gmail drops the space)."""
    tail = body[-16:].lower()
    for verb in _VERBS:
        if tail.endswith(verb):
            before = tail[: -len(verb)]
            if not before or not before[-1].isalnum():
                return True
    return False


def is_attribution(text: str, *, strict: bool = False) -> bool:
    """Whether ``text`` (one line, or a wrapped one joined by spaces) is the
    line a mail client writes above a quote: "On Mon, 23 Nov 2026 at 09:15,
    Admin <a@b> wrote:", "Pada 23/11/26 09.15, Admin menulis:", "ср, 30 апр.
    2025 г. в 15:19, John <j@x>:".

    It ends with ':' and either with a verb ("wrote", "menulis", ...) after a
    lead word ("On", "Pada", a date) or an address, or with a bracketed address
    after at least four digits (a date). Not ``strict``, a short line ending
    with the verb is enough ("bob wrote:"): in a reply a quote follows.
    ``strict`` is for text that should hold none (the last check, a complaint),
    where "Kepala Dinas menulis:" may be the writer's own.
    """
    text = text.strip()
    if len(text) > 2 * MAX_LINE or not text.endswith(":"):
        return False
    body = text[:-1].rstrip()
    if _ends_with_verb(body):
        if _LEAD.match(text) or _ADDRESS.search(text):
            return True
        return not strict and len(body) <= 220
    return bool(_BRACKETED_END.search(body[-MAX_LINE:])) and sum(c.isdigit() for c in text) >= 4


def is_attribution_head(line: str) -> bool:
    """Whether ``line`` is the first half of a wrapped attribution even without
    the rest: a lead word and an open ``<`` at the end ("On Fri, Apr 3, 2020 at
    12:32 PM Someone <"), or Gmail's Indonesian opening ("Pada tanggal Sen, 23
    Nov 2026 pukul 09.15 Admin Aduan")."""
    line = line.strip()
    if len(line) > MAX_LINE:
        return False
    lead = _LEAD.match(line)
    return bool(lead and lead.group(0)[0].isalpha() and line.endswith("<")) or bool(_GMAIL_ID_HEAD.match(line))


def attribution_at(lines: Sequence[str], i: int, *, strict: bool = False) -> int:
    """How many lines from ``lines[i]`` on (1 to 3) form one attribution, a
    wrapped one joined; 0 if none starts at ``i``.

    Of two readings the later start wins unless only the earlier line opens
    like an attribution: "Terima kasih." before an attribution is the writer's,
    "Pada tanggal Sen, … Admin <" before "admin@x> menulis:" is its first half.
    """
    parts: list[str] = []
    for k in range(_WINDOW):
        if i + k >= len(lines):
            break
        line = lines[i + k].strip()
        if not line or len(line) > MAX_LINE:
            break
        parts.append(line)
        if not line.endswith(":") or not is_attribution(" ".join(parts), strict=strict):
            continue
        if k and is_attribution(" ".join(parts[1:]), strict=strict) and not (
                _LEAD.match(parts[0]) and not _LEAD.match(parts[1])):
            return 0  # the attribution starts on a later line
        return k + 1
    return 0


# ---------------------------------------------------------------- header blocks and signatures


def _header_word(line: str) -> str | None:
    if len(line) > MAX_LINE:
        return None
    m = _HEADER_LINE.match(line)
    return m.group(1).lower() if m else None


def is_outlook_block(lines: Sequence[str], i: int) -> bool:
    """Whether a quoted message's header block starts at ``lines[i]``: a
    From/Dari line followed closely by two Sent/To/Subject-like lines, or
    directly by a Sent/Dikirim/Terkirim line, or with "Terkirim:" on the same
    line (Outlook); or three header lines in a row, one a From line, in any
    order (Hotmail's "Date: / Subject: / From: / To:")."""
    word = _header_word(lines[i])
    if word is None:
        return False
    if word not in _FROM_WORDS:
        run = [_header_word(ln) for ln in lines[i: i + 4]]
        return None not in run[:3] and any(w in _FROM_WORDS for w in run) and len(run) >= 3 and (
            i == 0 or _header_word(lines[i - 1]) is None)
    if _SENT_LATER.search(lines[i]):
        return True
    following = [ln for ln in lines[i + 1: i + 6] if ln.strip()]
    if following and _header_word(following[0]) in _SENT_WORDS:
        return True
    return sum(1 for ln in following if _header_word(ln)) >= 2


def _is_separator(line: str) -> bool:
    return len(line) <= MAX_LINE and _SEPARATORS.fullmatch(line.strip()) is not None


def _is_signature(line: str) -> bool:
    return len(line) <= MAX_LINE and _SIGNATURE.fullmatch(line.strip()) is not None


# ---------------------------------------------------------------- the new text of a reply


def _head_at(lines: Sequence[str], i: int) -> bool:
    """Whether ``lines[i]`` is an attribution's first half without the rest
    (``is_attribution_head``). Gmail's opening without the ``<`` counts only
    when the text ends there or a quote (or a line ending with ':') follows
    within three lines: "Pada tanggal Sen, 30 Nov 2026 pukul 09.00 silakan
    datang" may be the writer's own."""
    line = lines[i].strip()
    if not is_attribution_head(line):
        return False
    if line.endswith("<"):
        return True
    for following in lines[i + 1: i + 4]:
        stripped = following.strip().lstrip("> ")
        if stripped:
            return following.strip().startswith(">") or stripped.endswith(":")
    return not any(ln.strip() for ln in lines[i + 4: i + 8])


def _drop_attribution(out: list[str], last: int) -> bool:
    """Before a quote, the last lines written (``out[last]`` the last non-blank
    one) are its attribution in any language ("15. marts 2017 kl. 11.00 skrev
    John <j@x>:"): a block of at most 3 lines ending with ':' that names a date
    or an address. Drop it; True if something was dropped."""
    if last < 0 or not out[last].rstrip().endswith(":"):
        return False
    end = last + 1
    start = last
    while start > 0 and end - start < 3 and out[start - 1].strip():
        start -= 1
    if any(len(ln) > MAX_LINE for ln in out[start:end]):
        return False
    for k in range(start, end):
        if re.search(r"\d|@|<", out[k]):
            # keep earlier lines of the block that are not part of the attribution
            del out[k:]
            return True
    return False


def extract_reply(text: str) -> str:
    """The new text of a plain-text reply: stops at the first attribution
    (wrapped or not), separator, Outlook header block or signature; drops '>'
    quoted lines (a bottom-posted reply keeps its own text after the quote).
    Wider than the complaint form's quote stripping (``complaint_format``),
    which keeps every line that might carry a field."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    last = -1  # index in out of the last non-blank line
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_separator(line) or is_outlook_block(lines, i):
            break
        span = attribution_at(lines, i)
        if not span and last >= 0 and _head_at(lines, i):
            break  # the rest of a wrapped attribution is missing or unrecognised: still a quote follows
        if span:
            if last >= 0:
                break
            i += span  # bottom-posting: the quote comes first, the reply after it
            continue
        if _is_signature(line) and (out or line.strip().startswith("--")):
            break
        if line.lstrip().startswith(">"):
            if _drop_attribution(out, last):
                last = len(out) - 1
                while last >= 0 and not out[last].strip():
                    last -= 1
                del out[last + 2:]  # one blank line is as good as many, and keeps this loop linear
            i += 1
            continue
        out.append(line.rstrip())
        if line.strip():
            last = len(out) - 1
        i += 1
    del out[last + 1:]
    if out and len(out[-1]) <= MAX_LINE and _SIGN_OFF.fullmatch(out[-1]):
        out.pop()  # a one-line "-Name" sign-off
    cleaned = "\n".join(out)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    return cleaned.strip()


_HTML_QUOTE_OPEN = re.compile(r"<(?:div|blockquote)", re.I)
_HTML_QUOTE_MARK = re.compile(r"gmail_quote|divRplyFwdMsg|appendonsend|moz-cite-prefix|yahoo_quoted|type=\"?cite", re.I)
_BLOCKQUOTE_OPEN = re.compile(r"<blockquote\b", re.I)
_BLOCKQUOTE_CLOSE = re.compile(r"</blockquote>", re.I)
_HR = re.compile(r"<hr\b", re.I)


def _cut_html_quotes(html: str) -> str:
    """The HTML up to the first quote container (Gmail, Outlook, Thunderbird,
    Yahoo, Apple's ``type=cite``), without other ``<blockquote>`` elements and
    without everything from an ``<hr>`` on.

    Linear: a tag is read up to its first '>' once (an opener inside an
    unclosed tag needs no second look: the first one's tag holds its text);
    once no '>' or ``</blockquote>`` is left, no later opener can close."""
    pos = 0
    while (m := _HTML_QUOTE_OPEN.search(html, pos)) is not None:
        end = html.find(">", m.end())
        if end < 0:
            break
        if _HTML_QUOTE_MARK.search(html, m.start(), end):
            html = html[: m.start()]
            break
        pos = end + 1
    kept: list[str] = []
    pos = 0
    while (m := _BLOCKQUOTE_OPEN.search(html, pos)) is not None:
        close = _BLOCKQUOTE_CLOSE.search(html, m.end())
        if close is None:
            break
        kept.append(html[pos: m.start()])
        pos = close.end()
    kept.append(html[pos:])
    trimmed = "".join(kept)
    hr = _HR.search(trimmed)
    return trimmed[: hr.start()] if hr and trimmed.find(">", hr.end()) >= 0 else trimmed


def extract_reply_html(html: str) -> str:
    """The new text of an HTML-only reply."""
    return extract_reply(html_to_text(_cut_html_quotes(html)))


def reply_of(mail) -> str:
    """The new text of an InboundMail: its text/plain part if it has one, else its HTML."""
    if mail.html and not _has_plain_part(mail):
        return extract_reply_html(mail.html)
    return extract_reply(mail.text)


def _has_plain_part(mail) -> bool:
    # mailflow.core.mail fills .text from HTML when there is no text/plain part; then the
    # two agree, and the HTML (with its quote markup) is the better source.
    if not mail.html:
        return True
    return not mail.text.strip() or html_to_text(mail.html).strip() != mail.text.strip()


# ---------------------------------------------------------------- the lines of a complaint

_ORIGINAL_MESSAGE = re.compile(r"^-{3,}\s*(original message|pesan asli)\s*-{3,}\s*$", re.I)
_OUTLOOK_RULE = re.compile(r"^_{20,}\s*$")
_OUTLOOK_FROM = re.compile(r"^(from|dari)\s*:", re.I)
# Lines mail clients add: "Sent from my iPhone", "Dikirim dari Yahoo Mail di
# Android", "[image: foto.jpg]" (an inline image in converted HTML).
_CLIENT_NOISE = re.compile(
    r"^(?:sent from my [\w ]{2,40}|dikirim dari (?:iphone|ipad|yahoo|ponsel|perangkat|samsung|xiaomi|outlook|email|surel)[\w ]{0,40}"
    r"|get outlook for \w+|\[(?:image|cid|gambar):[^\]]*\])$",
    re.I,
)


def unquoted_lines(text: str) -> list[str]:
    """The lines of a complaint mail that can carry the complaint: line
    endings unified, odd spaces made plain, '>' quoted lines and attributions
    (wrapped ones whole) dropped, and everything after a signature delimiter
    or a quoted original message.

    For ``mailflow.core.complaint_format``, so deliberately narrower than
    ``extract_reply``: a field lost here costs the citizen a rejected
    complaint, so only what is surely quoted goes (a "-----" rule or a "Sent
    from my iPhone" line does not end the form, as it ends a staff reply)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\ufeff", "")
    text = re.sub("[\u200b\u200c\u200d\u2060]", "", text)
    lines = text.split("\n")
    kept: list[str] = []
    skip = 0
    for i, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        stripped = line.strip()
        if line.rstrip() == "--" or _ORIGINAL_MESSAGE.match(stripped):
            break
        if _OUTLOOK_RULE.match(stripped):
            if _OUTLOOK_FROM.match(_next_text(lines, i)):
                break
        if stripped.startswith(">") or _CLIENT_NOISE.match(stripped):
            continue
        # "Pada … Admin <" / "admin@… > menulis:": a (wrapped) attribution from a resent reply.
        span = attribution_at(lines, i, strict=True)
        if span or _head_at(lines, i):
            skip = max(span - 1, 0)
            continue
        kept.append(line.rstrip())
    return kept


def _next_text(lines: list[str], i: int) -> str:
    """The first non-blank line after ``lines[i]``, stripped ("" if none). The
    scan stops at a non-blank line, so the scans from several rules never
    overlap (no copy of the rest of the mail per rule either)."""
    for k in range(i + 1, len(lines)):
        if lines[k].strip():
            return lines[k].strip()
    return ""


# ---------------------------------------------------------------- the last check


def quoted_material(text: str) -> str | None:
    """Why ``text`` (staff text about to reach a citizen: an answer, an
    ``#info`` question) must not be sent, or None if it may.

    The reason, in English, names the first of: an attribution line ("Pada …
    Admin <a@b> menulis:", wrapped or not, also behind '>'), a block of two or
    more '>' quoted lines, an Outlook header block ("Dari: … Dikirim: …"), an
    original-message separator ("-----Pesan Asli-----"), a signature marker
    ("-- ", "Sent from my …", "Dikirim dari iPhone saya", "Dapatkan Outlook
    untuk …"). Ordinary text with dates, times, addresses and colons passes.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    bare = [ln.lstrip().lstrip("> \t") if ln.lstrip().startswith(">") else ln for ln in lines]
    quoted_run = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            quoted_run = 0
            continue  # nothing starts on a blank line
        quoted_run = quoted_run + 1 if stripped.startswith(">") else 0
        if quoted_run >= 2:
            return "a block of quoted lines"
        if attribution_at(bare, i, strict=True) or _head_at(bare, i):
            return "an attribution line"
        if is_outlook_block(lines, i):
            return "an Outlook header block"
        if len(stripped) > MAX_LINE:
            continue
        if line.rstrip() == "--":  # "-- ", the signature delimiter
            return "a signature"
        if _NAMED_SEPARATOR.fullmatch(stripped):
            return "an original-message separator"
        if _CLEAR_SIGNATURE.fullmatch(stripped):
            return "a signature"
    return None
