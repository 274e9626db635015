"""The SMTP relay's way into Dovecot: a blocking LMTP client with a small pool.

:class:`LmtpDeliverer` hands one message to Dovecot's LMTP unix socket and
returns Dovecot's answer per recipient; :class:`LmtpError` is a failure
before any recipient got an answer, already in SMTP terms (451: try later).
Used by :mod:`devstack.smtprelay` from a worker thread.
"""

from __future__ import annotations

import smtplib
import threading


class LmtpError(Exception):
    """Delivery failed as a whole; ``code``/``text`` are the SMTP reply to give."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


def dot_stuff(data: bytes) -> bytes:
    """``data`` (CRLF lines, as aiosmtpd un-stuffed it) dot-stuffed for the wire.

    The exact inverse of aiosmtpd's un-stuffing (a line that starts with "."
    lost that dot), so Dovecot receives the bytes the SMTP client sent.
    ``"\\r\\n."`` matches cannot overlap, so one replace is exact.
    """
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class LmtpDeliverer:
    """Blocking LMTP client with a small pool of reusable connections (thread-safe)."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._pool: list[smtplib.LMTP] = []
        self._lock = threading.Lock()

    def _connect(self) -> smtplib.LMTP:
        conn = smtplib.LMTP(self.socket_path, timeout=60)
        conn.ehlo_or_helo_if_needed()
        return conn

    def _take(self) -> tuple[smtplib.LMTP, bool]:
        with self._lock:
            if self._pool:
                return self._pool.pop(), True
        return self._connect(), False

    def _give_back(self, conn: smtplib.LMTP) -> None:
        with self._lock:
            if len(self._pool) < 16:
                self._pool.append(conn)
                return
        _close(conn)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            _close(conn)

    def deliver(
        self, mail_from: str, rcpts: list[str], data: bytes, mail_options: list[str]
    ) -> dict[str, tuple[int, str]]:
        """Deliver one message; returns {rcpt: (code, text)} per recipient.

        ``data`` is the message as received over SMTP (un-stuffed; CRLF line
        ends, ending in CRLF or empty). Raises :class:`LmtpError` when Dovecot
        cannot be reached or the session breaks.
        """
        try:
            conn, reused = self._take()
        except OSError as exc:
            raise LmtpError(451, f"4.4.1 LMTP socket unavailable: {exc}") from exc
        stuffed = dot_stuff(data)
        try:
            try:
                result = _transaction(conn, mail_from, rcpts, stuffed, mail_options)
            except _NotStarted:
                # A pooled connection went stale (Dovecot restarted or timed it
                # out) before the transaction began: safe to retry once.
                _close(conn)
                if not reused:
                    raise
                conn = self._connect()
                result = _transaction(conn, mail_from, rcpts, stuffed, mail_options)
        except _NotStarted as exc:
            _close(conn)
            raise LmtpError(451, f"4.4.2 LMTP connection failed: {exc.__cause__}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close(conn)
            raise LmtpError(451, f"4.4.2 LMTP delivery failed: {exc}") from exc
        self._give_back(conn)
        return result


def _transaction(
    conn: smtplib.LMTP, mail_from: str, rcpts: list[str], stuffed: bytes, mail_options: list[str]
) -> dict[str, tuple[int, str]]:
    options = []
    if "8bitmime" in conn.esmtp_features:
        options += [o for o in mail_options if o.upper().startswith("BODY=")]
    if "smtputf8" in conn.esmtp_features:
        options += [o for o in mail_options if o.upper() == "SMTPUTF8"]
    try:
        code, text = conn.mail(mail_from, options)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _NotStarted() from exc
    results: dict[str, tuple[int, str]] = {}
    if code != 250:
        conn.rset()
        return {r: (code, _text(text)) for r in rcpts}
    accepted = []
    for rcpt in rcpts:
        code, text = conn.rcpt(rcpt)
        if code in (250, 251):
            accepted.append(rcpt)
        else:
            results[rcpt] = (code, _text(text))
    if not accepted:
        conn.rset()
        return results
    code, text = conn.docmd("data")
    if code != 354:
        conn.rset()
        return {**results, **{r: (code, _text(text)) for r in accepted}}
    # Already stuffed: sent as is (smtplib's data() would stuff it again).
    conn.send(stuffed + b".\r\n")
    # LMTP answers DATA once per accepted recipient.
    for rcpt in accepted:
        code, text = conn.getreply()
        results[rcpt] = (code, _text(text))
    return results


class _NotStarted(Exception):
    pass


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.close()
    except Exception:  # pragma: no cover - best effort
        pass
