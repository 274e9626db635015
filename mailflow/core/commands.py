"""Staff command words at the start of a reply (pure).

``#jawab`` … ``#catatan`` in Bahasa Indonesia, with English aliases (both are
``core.vocabulary.Word``). The command is the first word of the first
non-empty line of the reply text (after reply_text has removed the quote and
signature); no command is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.core.vocabulary import WORD_ALIASES

_COMMAND = re.compile(r"^\s*[#＃]\s?([A-Za-z]+)\b[:.,]?[ \t]*", re.UNICODE)


@dataclass(frozen=True)
class ParsedCommand:
    word: str  # canonical word, or "" when the first word is an unknown #word
    raw_word: str  # as written (for error messages)
    text: str  # everything after the command word
    explicit: bool  # a #word was written (False: no command, taken as a note)


def parse_command(reply: str) -> ParsedCommand:
    text = reply.replace("\r\n", "\n").strip()
    m = _COMMAND.match(text)
    if not m:
        return ParsedCommand("catatan", "", text, explicit=False)
    raw = m.group(1)
    rest = text[m.end():].strip()
    word = WORD_ALIASES.get(raw.lower())
    return ParsedCommand(word.value if word is not None else "", raw, rest, explicit=True)


def has_confirmation(text: str, phrase: str) -> bool:
    """Whether ``phrase`` appears in ``text`` (case and spacing ignored)."""
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731
    return bool(phrase) and norm(phrase) in norm(text)
