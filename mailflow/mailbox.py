"""IMAP edge: the complaint mailbox, read with imapclient.

Only UIDs are used (never sequence numbers, which shift when other clients
expunge). Messages are fetched with ``BODY.PEEK[]`` so that reading does not
mark them seen, and are moved to the processed or quarantine folder only
after the database has committed what was done with them.

TLS: ``security = "tls"`` connects with implicit TLS; ``"starttls"`` requires
the server to offer STARTTLS and raises :class:`TLSRequiredError` otherwise,
never continuing in plaintext; certificate and host-name checks are on unless
``verify_certificate = false``.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import imapclient
from imapclient.exceptions import IMAPClientError

from mailflow.config import ImapConfig
from mailflow.errors import MailServerError, TLSRequiredError
from mailflow.outbox import tls_context, tls_failure

log = logging.getLogger("mailflow.imap")

NETWORK_ERRORS = (OSError, socket.timeout, ssl.SSLError, IMAPClientError, EOFError)


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    size: int


class Mailbox:
    """One IMAP connection to the complaint mailbox (connect lazily, reuse)."""

    def __init__(self, cfg: ImapConfig):
        self.cfg = cfg
        self.client: imapclient.IMAPClient | None = None
        self._delimiter = "/"
        self.uidvalidity: int | None = None

    # ------------------------------------------------------------ connection
    def connect(self) -> None:
        cfg = self.cfg
        ctx = tls_context(cfg) if cfg.security != "none" else None
        try:
            client = imapclient.IMAPClient(
                cfg.host, port=cfg.port, ssl=cfg.security == "tls", ssl_context=ctx, timeout=cfg.timeout
            )
        except ssl.SSLError as exc:
            raise TLSRequiredError(tls_failure(f"IMAP server {cfg.host}:{cfg.port}", exc)) from None
        except NETWORK_ERRORS as exc:
            raise MailServerError(f"cannot connect to IMAP server {cfg.host}:{cfg.port}: {exc}") from None
        try:
            if cfg.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise TLSRequiredError(
                        f"IMAP server {cfg.host}:{cfg.port} does not offer STARTTLS; refusing to log in "
                        "in plaintext (set imap.security = \"none\" only for a trusted local server)"
                    )
                try:
                    client.starttls(ctx)
                except ssl.SSLError as exc:
                    raise TLSRequiredError(tls_failure(f"IMAP server {cfg.host}:{cfg.port} (STARTTLS)", exc)) from None
            try:
                client.login(cfg.username, cfg.password.reveal() or "")
            except imapclient.exceptions.LoginError:
                # Never echo the password; name the user and where the secret came from.
                raise MailServerError(
                    f"IMAP login as {cfg.username!r} on {cfg.host}:{cfg.port} was refused "
                    "(check imap.username and the password in imap.password_env / imap.password_file)"
                ) from None
            self._delimiter = self._find_delimiter(client)
        except BaseException:
            _quietly_close(client)
            raise
        self.client = client
        self.ensure_folders()

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # the connection is going away anyway
                _quietly_close(self.client)
            self.client = None

    def _require(self) -> imapclient.IMAPClient:
        if self.client is None:
            self.connect()
        assert self.client is not None
        return self.client

    @staticmethod
    def _find_delimiter(client: imapclient.IMAPClient) -> str:
        try:
            for _flags, delimiter, _name in client.list_folders("", "INBOX"):
                if delimiter:
                    return delimiter.decode() if isinstance(delimiter, bytes) else delimiter
        except IMAPClientError:
            pass
        return "/"

    def folder(self, name: str) -> str:
        """The configured name with '/' written in the server's hierarchy delimiter."""
        return name.replace("/", self._delimiter)

    def ensure_folders(self) -> None:
        client = self._require()
        for name in (self.cfg.processed_folder, self.cfg.quarantine_folder):
            folder = self.folder(name)
            if not client.folder_exists(folder):
                client.create_folder(folder)
                log.info("created IMAP folder %s", folder)

    # ------------------------------------------------------------ reading
    def select(self) -> int:
        """Select the complaint folder; return its UIDVALIDITY."""
        info = self._require().select_folder(self.folder(self.cfg.folder))
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        return self.uidvalidity

    def uids(self, after: int = 0) -> list[int]:
        """UIDs in the selected folder greater than ``after`` (all when 0), ascending."""
        client = self._require()
        found = client.search(["UID", f"{after + 1}:*"]) if after else client.search("ALL")
        # "n:*" always matches the highest UID, even when it is below n.
        return sorted(uid for uid in found if uid > after)

    def fetch(self, uids: Iterable[int]) -> Iterator[Fetched]:
        """Fetch whole messages by UID in batches, without setting \\Seen."""
        client = self._require()
        uids = list(uids)
        for start in range(0, len(uids), self.cfg.batch_size):
            batch = uids[start : start + self.cfg.batch_size]
            data = client.fetch(batch, ["BODY.PEEK[]", "RFC822.SIZE"])
            for uid in batch:
                item = data.get(uid)
                if item is None:  # expunged by someone else meanwhile
                    continue
                raw = item.get(b"BODY[]") or b""
                yield Fetched(uid=uid, raw=raw, size=int(item.get(b"RFC822.SIZE", len(raw))))

    # ------------------------------------------------------------ moving
    def move(self, uids: Iterable[int], folder_name: str) -> None:
        """Move messages out of the selected folder (MOVE, or COPY + expunge of those UIDs)."""
        uids = sorted(set(uids))
        if not uids:
            return
        client = self._require()
        target = self.folder(folder_name)
        if client.has_capability("MOVE"):
            client.move(uids, target)
        else:
            client.copy(uids, target)
            client.add_flags(uids, [imapclient.DELETED])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                client.expunge()

    def noop(self) -> None:
        self._require().noop()


def _quietly_close(client: imapclient.IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:
        pass
