"""How the daemon logs: one JSON object per line (for journald and log
shippers) or human-readable lines on a terminal; hop records carry their
fields. NIK/KK-like numbers are masked in every line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

from mailflow.core.identity import mask_ids_in_text


class JsonFormatter(logging.Formatter):
    """One JSON object per line; hop records carry their fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_ids_in_text(record.getMessage()),
        }
        hop = getattr(record, "hop", None)
        if hop:
            out["hop"] = hop
        if record.exc_info:
            out["error"] = mask_ids_in_text(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal; hop fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{datetime.fromtimestamp(record.created):%H:%M:%S} {record.levelname:<7} {mask_ids_in_text(record.getMessage())}"
        hop = getattr(record, "hop", None)
        if hop:
            line += " " + " ".join(f"{k}={v}" for k, v in hop.items() if v not in (None, "") and k != "kind")
        if record.exc_info:
            line += "\n" + mask_ids_in_text(self.formatException(record.exc_info))
        return line


def setup_logging(level: str = "INFO", fmt: str | None = None) -> None:
    """Log to stderr: JSON lines when ``fmt == "json"`` or stderr is not a
    terminal (``fmt`` None), else text."""
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt is None and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries' own chatter (imapclient logs every command at DEBUG, credentials
    # included) stays out unless asked for.
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def bound_memory() -> None:
    """Keep glibc from holding on to freed large buffers (a mail with a 5 MB
    attachment passes through several): by default its mmap threshold rises
    to the largest block freed, after which such blocks come from the heap
    and its high-water mark stays, so the daemon's RSS crept up mail by mail
    (+70 MB over 30 such mails, measured). A fixed threshold sends them to
    mmap and back to the system when freed. No-op where there is no glibc."""
    import ctypes
    import ctypes.util

    m_mmap_threshold = -3
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_mmap_threshold, 256 * 1024)
    except (OSError, AttributeError):
        pass
