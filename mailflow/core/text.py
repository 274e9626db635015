"""Text people read, cleaned of what could deceive them (pure).

Mail text is the sender's: it can hold terminal escape sequences, control
characters and Unicode bidirectional overrides that reorder what a reader
sees (a subject that shows "invoice.pdf" and is "fdp.exe..."). Every value a
template puts into outgoing mail and everything the CLI prints goes through
``clean``; ``shorten`` bounds what a template quotes from a mail.
"""

from __future__ import annotations

# C0 controls but TAB and LF (CR is dropped: mail text is LF inside mailflow),
# DEL, C1 controls, and the bidirectional embeddings, overrides, isolates and
# marks (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C).
_UNSAFE = {c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), 0x7F, *range(0x80, 0xA0),
                             *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def clean(text: str) -> str:
    """``text`` without control characters (but tab and newline) and bidirectional controls."""
    return text.translate(_UNSAFE)


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cleaned, on one line, cut to ``limit`` characters with "…"."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
