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
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import imapclient
from imapclient.exceptions import IMAPClientError

from mailflow.config.settings import ImapConfig
from mailflow.edges.auth import imap_refusal_is_temporary
from mailflow.edges.oauth import TokenSource
from mailflow.edges.tls import tls_context, tls_failure
from mailflow.errors import CredentialError, MailServerError, TLSRequiredError

log = logging.getLogger("mailflow.imap")

NETWORK_ERRORS = (OSError, socket.timeout, ssl.SSLError, IMAPClientError, EOFError)


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes  # the whole message; only its header section when it is larger than the limit
    size: int  # the message's full size (RFC822.SIZE): more than len(raw) when only the header was fetched


class Mailbox:
    """One IMAP connection to the complaint mailbox (connect lazily, reuse)."""

    def __init__(self, cfg: ImapConfig, tokens: TokenSource | None = None):
        self.cfg = cfg
        self.tokens = tokens  # the access tokens of an OAuth2 mailbox (imap.auth = "oauth2")
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
                if cfg.auth == "oauth2":
                    self._oauth2_login(client)
                else:
                    client.login(cfg.username, cfg.password.reveal() or "")
            except imapclient.exceptions.LoginError as exc:
                if imap_refusal_is_temporary(str(exc)):
                    raise MailServerError(
                        f"IMAP server {cfg.host}:{cfg.port} cannot check the login now ({exc}); retrying") from None
                # Never echo the password; name the user and where the secret came from.
                raise CredentialError(
                    f"IMAP login as {cfg.username!r} on {cfg.host}:{cfg.port} was refused "
                    "(check imap.username and the password in imap.password_env / imap.password_file)",
                    "IMAP") from None
            self._delimiter = self._find_delimiter(client)
        except BaseException:
            _quietly_close(client)
            raise
        self.client = client
        self.ensure_folders()

    def _oauth2_login(self, client: imapclient.IMAPClient) -> None:
        """AUTHENTICATE XOAUTH2 with the mailbox's access token; a refused
        token is renewed once and tried again (the server may know before us
        that it was revoked or expired early)."""
        cfg = self.cfg
        if self.tokens is None:
            raise CredentialError("imap.auth is \"oauth2\" but this command has no token store", "IMAP")
        try:
            client.oauth2_login(cfg.username, self.tokens.access_token("IMAP"))
            return
        except imapclient.exceptions.LoginError as exc:
            if imap_refusal_is_temporary(str(exc)):
                raise
            log.warning("IMAP refused the OAuth2 token of %s (%s); renewing it", cfg.username, exc)
        try:
            client.oauth2_login(cfg.username, self.tokens.access_token("IMAP", force=True))
        except imapclient.exceptions.LoginError as exc:
            if imap_refusal_is_temporary(str(exc)):
                raise
            raise CredentialError(
                f"IMAP XOAUTH2 login as {cfg.username!r} on {cfg.host}:{cfg.port} was refused with a newly "
                f"renewed token ({exc}): check that the mailbox allows IMAP and OAuth2 for this app "
                "(docs/MAILBOXES.md), or run `mailflow auth login` as that mailbox", "IMAP") from None

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

    def fetch(self, uids: Iterable[int], max_bytes: int | None = None) -> Iterator[Fetched]:
        """Fetch whole messages by UID, without setting \\Seen.

        Sizes are asked first, so that a batch holds at most ``imap.batch_size``
        messages and about ``imap.fetch_bytes`` bytes (a large mail comes alone),
        and a message over ``max_bytes`` is not downloaded at all: only its
        header section (with the full ``size``), enough to log and quarantine it.
        Memory stays bounded whatever is in the folder.
        """
        client = self._require()
        uids = list(uids)
        cfg = self.cfg
        for start in range(0, len(uids), cfg.batch_size):
            chunk = uids[start : start + cfg.batch_size]
            sizes = {uid: int(item.get(b"RFC822.SIZE", 0)) for uid, item in client.fetch(chunk, ["RFC822.SIZE"]).items()}
            batch: list[int] = []
            batch_bytes = 0
            for uid in chunk:
                if uid not in sizes:  # expunged by someone else meanwhile
                    continue
                size = sizes[uid]
                if max_bytes is not None and size > max_bytes:
                    yield from self._fetch_batch(client, batch, sizes)
                    batch, batch_bytes = [], 0
                    yield from self._fetch_header(client, uid, size)
                    continue
                if batch and batch_bytes + size > cfg.fetch_bytes:
                    yield from self._fetch_batch(client, batch, sizes)
                    batch, batch_bytes = [], 0
                batch.append(uid)
                batch_bytes += size
            yield from self._fetch_batch(client, batch, sizes)

    @staticmethod
    def _fetch_batch(client: imapclient.IMAPClient, batch: list[int], sizes: dict[int, int]) -> Iterator[Fetched]:
        if not batch:
            return
        data = client.fetch(batch, ["BODY.PEEK[]"])
        for uid in batch:
            item = data.pop(uid, None)  # pop: each message's bytes are freed once handled
            if item is None:
                continue
            raw = item.get(b"BODY[]") or b""
            yield Fetched(uid=uid, raw=raw, size=sizes.get(uid) or len(raw))

    @staticmethod
    def _fetch_header(client: imapclient.IMAPClient, uid: int, size: int) -> Iterator[Fetched]:
        item = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid)
        if item is not None:
            yield Fetched(uid=uid, raw=item.get(b"BODY[HEADER]") or b"", size=size)

    def find_message_ids(self, folder_name: str, message_ids: Iterable[str]) -> set[str]:
        """Which of ``message_ids`` (without angle brackets) are in ``folder_name``.
        Selects that folder read-only; the caller selects its own folder again."""
        client = self._require()
        folder = self.folder(folder_name)
        if not client.folder_exists(folder):
            return set()
        client.select_folder(folder, readonly=True)
        found = set()
        for mid in message_ids:
            if client.search(["HEADER", "Message-ID", f"<{mid}>"]):
                found.add(mid)
        return found

    def delete_message_ids(self, folder_name: str, message_ids: Iterable[str]) -> int:
        """Delete (flag \\Deleted and expunge) the mails of ``folder_name`` with
        these Message-IDs (without angle brackets): an erasure of personal data
        (``mailflow privacy erase``) reaching the folders mailflow owns. Returns
        how many were deleted. Selects that folder; the caller selects its own again."""
        client = self._require()
        folder = self.folder(folder_name)
        if not client.folder_exists(folder):
            return 0
        client.select_folder(folder)
        uids: set[int] = set()
        for mid in message_ids:
            uids.update(client.search(["HEADER", "Message-ID", f"<{mid}>"]))
        if uids:
            client.add_flags(sorted(uids), [imapclient.DELETED])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(sorted(uids))
            else:
                client.expunge()
        client.unselect_folder() if client.has_capability("UNSELECT") else client.close_folder()
        return len(uids)

    # ------------------------------------------------------------ waiting
    def can_idle(self) -> bool:
        return self.cfg.idle and self._require().has_capability("IDLE")

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        """IMAP IDLE on the selected folder until the server announces new mail
        (True), ``timeout`` seconds pass or ``stop`` is set (False). Checks
        ``stop`` every second, so SIGTERM is never kept waiting."""
        client = self._require()
        deadline = time.monotonic() + timeout
        client.idle()
        try:
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                for response in client.idle_check(timeout=min(left, 1.0)):
                    if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                        return True
            return False
        finally:
            client.idle_done()

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


def _quietly_close(client: imapclient.IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:
        pass
