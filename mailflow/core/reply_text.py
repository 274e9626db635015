"""What a person newly wrote in a reply: without the quoted original and the
signature (pure). Handles Gmail, Outlook (incl. the Indonesian header block
"Dari: / Dikirim: / Kepada: / Perihal:"), Thunderbird, Apple Mail and phones,
plain text or HTML-only."""

from __future__ import annotations

import re

from mailflow.core.mail import html_to_text

# "On Mon, 23 Nov 2026 at 10:15, Admin <a@b> wrote:" and its translations; may wrap over 2 lines.
_QUOTE_HEADER = re.compile(
    r"^\s*(?:"
    r"(?:On|Am|Le|El|Il|Op|Em|Den|På|W dniu|Dne)\b.{0,300}?(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napisał|napsal)\s*:"
    r"|Pada\b.{0,300}?(?:menulis|wrote)\s*:"
    r"|.{0,200}\b(?:menulis|wrote|писал\(а\)|написал|a écrit)\s*:"
    r")\s*$",
    re.I | re.S,
)
_SEPARATORS = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Pesan Asli|Pesan asli|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original|Messaggio originale|Oorspronkelijk bericht|Forwarded message|Pesan yang diteruskan)\s*-{2,}"
    r"|_{10,}|-{10,}|Begin forwarded message:)\s*$",
    re.I,
)
_HEADER_LINE = re.compile(
    r"^\s*\*?(From|Dari|Van|Von|De|Da|Od|Fra|Från|От|Sent|Dikirim|Terkirim|Date|Tanggal|Gesendet|Envoyé|Enviado|"
    r"Inviato|Verzonden|To|Kepada|Ke|An|À|Para|A|Aan|Subject|Perihal|Subjek|Betreff|Objet|Asunto|Oggetto|"
    r"Onderwerp|Assunto|Cc)\*?\s*:\s*",
    re.I,
)
_FROM_WORDS = ("from", "dari", "van", "von", "de", "da", "od", "fra", "från", "от")
_SIGNATURE = re.compile(
    r"^\s*(?:--\s*|—\s*|"
    r"(?:Sent|Envoyé|Enviado|Gesendet|Inviato|Verzonden|Dikirim|Terkirim)\s+(?:from|de|desde|von|da|vanaf|dari|via)\b[^,.]{0,60}"
    r"|Get Outlook for \w+.{0,30}|Dapatkan Outlook untuk \w+.{0,30}"
    r"|Sent (?:with|using) [^,.]{0,60}|Sent from my [^,.]{0,40}|Dikirim dari [^,.]{0,60}"
    r"|.{0,40}BlackBerry.{0,40})\s*$",
    re.I,
)


_ATTRIBUTION = re.compile(r"^\s*\S.{0,250}(?:<\s*[^<>\s]*@[^<>]*>?|\S+@\S+\.\w+).{0,60}:\s*$")


def _is_attribution(line: str) -> bool:
    """A line naming an address and a date and ending with ':' ("Am 13.12.2017 21:11
    schrieb "John" <j@x>:", "26.06.2014, 14:41, "Alexander" <a@x>:")."""
    return bool(_ATTRIBUTION.match(line)) and len(re.findall(r"\d", line)) >= 4


def _is_outlook_block(lines: list[str], i: int) -> bool:
    """An Outlook-style header block starts at line i: a From/Dari line followed
    closely by Sent/To/Subject-like lines."""
    m = _HEADER_LINE.match(lines[i])
    if not m or m.group(1).lower() not in _FROM_WORDS:
        return False
    following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
    return sum(1 for ln in following if _HEADER_LINE.match(ln)) >= 2


def _drop_attribution(out: list[str]) -> None:
    """Before a quote, the last lines written are its attribution in any language
    ("15. marts 2017 kl. 11.00 skrev John <j@x>:"): a block of at most 3 lines
    ending with ':' that names a date or an address. Drop it."""
    end = len(out)
    while end and not out[end - 1].strip():
        end -= 1
    if not end or not out[end - 1].rstrip().endswith(":"):
        return
    start = end - 1
    while start > 0 and end - start < 3 and out[start - 1].strip():
        start -= 1
    block = " ".join(out[start:end])
    if re.search(r"\d|@|<", block):
        # keep earlier lines of the block that are not part of the attribution
        first = start
        for k in range(start, end):
            if re.search(r"\d{1,4}|@|<", out[k]):
                first = k
                break
        del out[first:]


def extract_reply(text: str) -> str:
    """The new text of a plain-text reply: stops at the first quote header,
    separator, Outlook header block or signature; drops '>' quoted lines (a
    bottom-posted reply keeps its own text after the quote). Wider than the
    complaint form's quote stripping (``complaint_format._prepare``), which
    keeps every line that might carry a field."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        two = line + " " + lines[i + 1] if i + 1 < len(lines) else line  # a wrapped quote header
        if _SEPARATORS.match(line) or _is_outlook_block(lines, i):
            break
        if _QUOTE_HEADER.match(line) or _is_attribution(line) or (
                i + 1 < len(lines) and not line.rstrip().endswith(":") and _is_attribution(two)
                and not _is_attribution(lines[i + 1])):
            if any(ln.strip() for ln in out):
                break
            i += 1  # bottom-posting: the quote comes first, the reply after it
            continue
        if (i + 1 < len(lines) and _QUOTE_HEADER.match(two) and not _QUOTE_HEADER.match(lines[i + 1])
                and re.match(r"^\s*(On|Pada|Am|Le|El|Il|Op|Em)\b", line, re.I)):
            break
        if _SIGNATURE.match(line) and (out or line.strip().startswith("--")):
            break
        if line.lstrip().startswith(">"):
            _drop_attribution(out)
            i += 1
            continue
        out.append(line.rstrip())
        i += 1
    while out and not out[-1].strip():
        out.pop()
    if out and re.match(r"^\s*-\s?[A-Z][\w.']+(?:\s[A-Z][\w.']+){0,3}\s*$", out[-1]):
        out.pop()  # a one-line "-Name" sign-off
    cleaned = "\n".join(out)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    return cleaned.strip()


_HTML_QUOTES = re.compile(
    r"<(div|blockquote)[^>]*(?:gmail_quote|divRplyFwdMsg|appendonsend|moz-cite-prefix|yahoo_quoted|type=\"?cite)[^>]*>.*",
    re.I | re.S,
)


def extract_reply_html(html: str) -> str:
    """The new text of an HTML-only reply."""
    trimmed = _HTML_QUOTES.sub("", html)
    trimmed = re.sub(r"<blockquote\b.*?</blockquote>", "", trimmed, flags=re.I | re.S)
    trimmed = re.sub(r"<hr\b[^>]*>.*", "", trimmed, flags=re.I | re.S)
    return extract_reply(html_to_text(trimmed))


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
