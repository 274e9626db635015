"""HTML to readable plain text (pure), for HTML-only mail and HTML replies."""

from __future__ import annotations

import re
from html import unescape as _html_unescape
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_WS = re.compile(r"\s+")


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
