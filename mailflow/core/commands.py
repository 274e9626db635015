"""Staff command words at the start of a reply (pure).

``#jawab`` … ``#catatan`` in Bahasa Indonesia, with English aliases. The
command is the first word of the first non-empty line of the reply text (after
reply_text has removed the quote and signature); no command is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALIASES = {
    "jawab": "jawab", "jawaban": "jawab", "answer": "jawab", "reply": "jawab",
    "teruskan": "teruskan", "eskalasi": "teruskan", "forward": "teruskan", "escalate": "teruskan",
    "kembalikan": "kembalikan", "return": "kembalikan", "back": "kembalikan",
    "setuju": "setuju", "setujui": "setuju", "approve": "setuju", "ok": "setuju",
    "tolak": "tolak", "reject": "tolak",
    "info": "info", "tanya": "info", "ask": "info",
    "catatan": "catatan", "note": "catatan", "comment": "catatan",
}

MEANINGS = {
    "jawab": "teks setelah perintah ini menjadi jawaban untuk pelapor",
    "teruskan": "teruskan ke jenjang berikutnya, dengan catatan",
    "kembalikan": "kembalikan ke jenjang sebelumnya, dengan catatan",
    "setuju": "setujui (atau kirim) jawaban yang ada",
    "tolak": "tolak draf jawaban, dengan catatan perbaikan",
    "info": "minta keterangan tambahan kepada pelapor (tuliskan pertanyaannya)",
    "catatan": "catatan untuk riwayat aduan saja",
}

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
    return ParsedCommand(ALIASES.get(raw.lower(), ""), raw, rest, explicit=True)


def has_confirmation(text: str, phrase: str) -> bool:
    """Whether ``phrase`` appears in ``text`` (case and spacing ignored)."""
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731
    return bool(phrase) and norm(phrase) in norm(text)
