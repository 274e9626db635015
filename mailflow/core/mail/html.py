"""HTML to readable plain text (pure), for HTML-only mail and HTML replies.

The HTML is tokenized here, in linear time, rather than by the stdlib's
``html.parser.HTMLParser``: on malformed input (``<a <a <a ...``, ``</ </ ...``,
``<? <? ...``) that parser re-scans the rest of the document from every ``<``
(CVE-2025-6069, fixed only in Python 3.11.13+), so a 64 KB HTML-only mail took
over 100 s. The tokenizer follows the HTML5 rule that makes a single pass
possible: a tag, comment or declaration that is never closed runs to the end of
the document (and is dropped), instead of the ``<`` being re-read as text.
"""

from __future__ import annotations

import re
from html import unescape

__all__ = ["html_to_text"]

_WS = re.compile(r"\s+")

_BLOCK_TAGS = frozenset(
    "address article aside blockquote center dd details dialog div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody thead "
    "tfoot tr ul caption".split()
)
_SKIP_TAGS = frozenset(("script", "style", "head", "title", "template", "noscript", "xml", "object"))
# Elements whose content is raw text up to their end tag (as HTMLParser treats them).
_RAW_TEXT = {tag: re.compile(rf"</{tag}(?=[\s/>]|\Z)", re.I) for tag in ("script", "style")}

# Every pattern below is possessive or bounded by a character class that its
# continuation cannot match, so each character is looked at a bounded number of
# times; every one also matches (to the end of the input) when the construct is
# never closed, so the scan never comes back to the same "<".
_MARKUP_START = re.compile(r"<[A-Za-z/!?]")  # any other "<" is text
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_BOGUS = re.compile(r"<(?:[!?]|/(?![A-Za-z]))[^>]*+>?")  # <!DOCTYPE>, <![if ...]>, <?xml?>, </>, </ x>
_END_TAG = re.compile(r"</([A-Za-z][^\s/>]*+)[^>]*+>?")
_START_TAG = re.compile(
    r"""<([A-Za-z][^\s/>]*+)"""  # the name
    r"""(?:[^>"'=]++|=\s*+"[^"]*+"?|=\s*+'[^']*+'?|[="'])*+"""  # attributes, quoted values may hold ">"
    r""">?"""
)


class _TextWriter:
    """Receives tags and text in document order and writes the readable text."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.line_start = True
        # newlines at the end of the output (trailing spaces ignored, spaces
        # between newlines counted as text), kept as pieces are written so that
        # a run of <p> after a large text does not re-read it every time
        self.trailing_nl = 0
        self.trailing_spaces = False

    def _write(self, piece: str) -> None:
        self.out.append(piece)
        stripped = piece.rstrip(" ")
        if not stripped:
            self.trailing_spaces = True
            return
        newlines = len(stripped) - len(stripped.rstrip("\n"))
        if newlines == len(stripped) and not self.trailing_spaces:
            self.trailing_nl += newlines
        else:
            self.trailing_nl = newlines
        self.trailing_spaces = len(stripped) < len(piece)

    def _newline(self, n: int = 1) -> None:
        # collapse to at most n pending newlines (ignoring trailing spaces)
        if self.trailing_nl < n:
            self._write("\n" * (n - self.trailing_nl))
        self.line_start = True

    def start(self, tag: str, self_closing: bool) -> None:
        if self_closing:
            if tag == "br":
                self._write("\n")
                self.line_start = True
            elif tag in ("hr", "p", "div"):
                self._newline(1)
            return
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br":
            self._write("\n")
            self.line_start = True
        elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol"):
            self._newline(2 if tag != "table" else 1)
        elif tag == "li":
            self._newline(1)
            self._write("- ")
        elif tag in ("td", "th"):
            # a tab between cells: "Nama<TAB>Sri" from a table still reads as
            # label and value (mailflow.core.complaint_format accepts a tab)
            if not self.line_start:
                self._write("\t")
        elif tag in _BLOCK_TAGS:
            self._newline(1)
        if tag == "pre":
            self.pre += 1

    def end(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol"):
            self._newline(2)
        elif tag in _BLOCK_TAGS:
            self._newline(1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def data(self, raw: str) -> None:
        if self.skip or not raw:
            return
        data = unescape(raw) if "&" in raw else raw
        if self.pre:
            text = data.replace("\r\n", "\n").replace("\r", "\n")
        else:
            text = _WS.sub(" ", data)
            if self.line_start:
                text = text.lstrip(" ")
        if text:
            self._write(text)
            self.line_start = text.endswith("\n")


def _self_closing(tag: str, name_len: int) -> bool:
    """``<br/>``, ``<br />``, ``<img src="x"/>``; not ``<a href=x/>`` (there the
    "/" ends the unquoted value, as in HTML5 and HTMLParser)."""
    if not tag.endswith("/>"):
        return False
    before = tag[-3:-2]
    return len(tag) == name_len + 3 or before in (" ", "\t", "\n", "\r", "\f", '"', "'")


def _tokenize(html: str, writer: _TextWriter) -> None:
    """Feed ``html`` to ``writer`` as text runs, start and end tags (names in
    lower case); comments, declarations and processing instructions dropped,
    script/style content skipped whole. One pass: each character is read a
    bounded number of times."""
    pos = 0
    text_from = 0  # start of the text run not yet handed out
    n = len(html)
    while True:
        found = _MARKUP_START.search(html, pos)
        if found is None:
            break
        lt = found.start()
        nxt = html[lt + 1 : lt + 2]
        if nxt.isascii() and nxt.isalpha():
            m = _START_TAG.match(html, lt)
        elif nxt == "/" and html[lt + 2 : lt + 3].isascii() and html[lt + 2 : lt + 3].isalpha():
            m = _END_TAG.match(html, lt)
        elif html.startswith("<!--", lt):
            m = _COMMENT.match(html, lt)
        else:  # <!DOCTYPE>, <![if ...]>, <?xml ...?>, </>, "</" and a space
            m = _BOGUS.match(html, lt)
        assert m is not None  # each pattern matches from a '<' with the character seen after it
        writer.data(html[text_from:lt])
        pos = text_from = m.end()
        if m.group(0)[-1:] != ">":
            return  # never closed: the rest of the document is inside it
        if m.re is _START_TAG:
            tag = m.group(1).lower()
            self_closing = _self_closing(m.group(0), len(m.group(1)))
            writer.start(tag, self_closing)
            raw_end = _RAW_TEXT.get(tag)
            if raw_end is not None and not self_closing:
                close = raw_end.search(html, pos)
                if close is None:
                    return  # the rest is script/style content
                pos = text_from = close.start()  # the content is skipped (a _SKIP_TAGS element)
        elif m.re is _END_TAG:
            writer.end(m.group(1).lower())
    writer.data(html[text_from:n])


_SPACE_BEFORE_NL = re.compile(r"(?<![ \t])[ \t]+\n")  # only from a run's start: linear
_TAB_RUNS = re.compile(r"(?<![ \t])[ \t]*\t[ \t]*")
_MANY_NL = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: scripts/styles/head dropped, entities
    decoded, block elements and <br> become line breaks (paragraphs are
    separated by a blank line), runs of spaces collapsed, <pre> kept."""
    if not html:
        return ""
    writer = _TextWriter()
    _tokenize(html, writer)
    text = "".join(writer.out)
    text = text.replace("\xa0", " ")
    text = _SPACE_BEFORE_NL.sub("\n", text)
    text = _TAB_RUNS.sub("\t", text)
    text = _MANY_NL.sub("\n\n", text)
    return text.strip()
