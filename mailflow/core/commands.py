"""Staff command words at the start of a reply (pure).

``#jawab`` … ``#catatan`` in Bahasa Indonesia, with English aliases (both are
``core.vocabulary.Word``). The command is the first word of the first
non-empty line of the reply text (after reply_text has removed the quote and
signature); no command is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.core.survey import N_ELEMENTS
from mailflow.core.vocabulary import STATUS_REQUEST_WORDS, WORD_ALIASES

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


# "#status", "#cek status" and anything after; or a first line that is only
# "status" / "cek status" (optionally "aduan", "saya", a register number and
# punctuation), so that a follow-up starting "Status KTP saya ..." stays a follow-up.
_STATUS_WORDS = "|".join(r"\s+".join(map(re.escape, w.split())) for w in sorted(STATUS_REQUEST_WORDS, key=len,
                                                                                    reverse=True))
_HASH_STATUS = re.compile(rf"[#＃]\s?(?:{_STATUS_WORDS})\b", re.I)
_BARE_STATUS = re.compile(rf"(?:{_STATUS_WORDS})(?:\s+(?:aduan|pengaduan))?(?:\s+saya)?[\s:.,!?-]*(.*)", re.I)


def status_request(text: str, number: re.Pattern[str] | None = None) -> str | None:
    """Whether ``text`` (the new text of a citizen's mail) asks for a
    complaint's status: None if not, else the register number written in its
    first line ("" if none). ``number`` finds register numbers."""
    first = next((line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()), "")[:500]
    found = number.search(first) if number is not None else None
    if _HASH_STATUS.match(first):
        return found.group(0) if found else ""
    m = _BARE_STATUS.fullmatch(first)
    if m is None:
        return None
    rest = m.group(1).strip(" .!?")
    if not rest:
        return ""
    if found is not None and found.group(0) == rest:
        return rest
    return None


# ---------------------------------------------------------------- the citizen's rating (survey)
# The citizen's answer to the satisfaction survey (core/survey.py): a single
# number 1-4 on the first line (optionally after "nilai", "#nilai", "skm",
# "survei", with words after it such as "sangat baik", never another digit),
# and/or element lines "1: 4" .. "9: 3" ("U1 = 4", "unsur 2. 3" too).
_RATING_WORDS = r"(?:[#＃]\s?)?(?:nilai|skor|skm|survei|survey|penilaian|rating)\b\s*[:=]?\s*"
# After the number: nothing, a scale word ("sangat baik"), or a separator and words without digits.
_AFTER = r"(?:\s+(?:sangat\s+|kurang\s+|tidak\s+)?(?:baik|puas|bagus)\b[^0-9]*|\s*[-–:(,.=!][^0-9]*)?"
_OVERALL = re.compile(rf"^(?:{_RATING_WORDS})?([1-4])(?:\s*/\s*4)?{_AFTER}$", re.I)
_ELEMENT = re.compile(r"^(?:u|unsur)?\s*([1-9])\s*[:=.)\-]\s*([1-4])(?![0-9])[^0-9]*$", re.I)


def parse_rating(reply: str) -> tuple[int | None, tuple[int | None, ...], str] | None:
    """The survey answer at the start of ``reply`` (already cut by reply_text):
    (overall 1-4 or None, the nine elements (None where not given), the rest
    of the reply as the citizen's comment), or None when the reply does not
    start with a rating (then it is an ordinary mail from the citizen).

    The rating lines come first; the first line that is neither ends them and
    it and everything after are the comment. An element written twice counts
    by its last line."""
    lines = reply.replace("\r\n", "\n").strip().split("\n")
    overall: int | None = None
    elements: list[int | None] = [None] * N_ELEMENTS
    rated = 0
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        element = _ELEMENT.match(line)
        if element and int(element.group(1)) <= N_ELEMENTS:
            elements[int(element.group(1)) - 1] = int(element.group(2))
        elif (whole := _OVERALL.match(line)) and overall is None and not any(elements):
            overall = int(whole.group(1))
        else:
            if rated == 0:
                return None
            return overall, tuple(elements), "\n".join(lines[index:]).strip()
        rated += 1
    if rated == 0:
        return None
    return overall, tuple(elements), ""
