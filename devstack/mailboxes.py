"""Reading, writing and emptying the mail stack's mailboxes; steering its SMTP front.

:class:`MailboxHelpers` is the part of :class:`~devstack.mailstack.MailStack`
that tests, benchmarks and the demo use on a running stack: send through the
SMTP front (logged in or not), set its faults and auth policy, read and
append over IMAP, wait for mail, run doveadm, reset.  It relies on what
``MailStack`` provides: ``dir``, ``domain``, ``host``, ``password``, the
ports, ``ca_file``, ``address()``, ``spool``, ``conf``, ``instance``,
``_p()`` and ``_require_state()``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import smtplib
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping

from devstack import dovecot, relayproc
from devstack.authres import effective_policy
from devstack.dovecot import SPECIAL_FOLDERS
from devstack.system import MailStackError, which


class MailboxHelpers:
    """Mixin of :class:`~devstack.mailstack.MailStack`: the stack's mailboxes, from outside."""

    def imap(self, user: str, password: str | None = None):
        """A logged-in :class:`imapclient.IMAPClient` (loopback, no TLS). Log out when done."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=30)
        try:
            client.login(user, password if password is not None else self.password)
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    @contextlib.contextmanager
    def _session(self, user: str) -> Iterator:
        client = self.imap(user)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def send(
        self,
        raw: bytes,
        mail_from: str,
        rcpt_to: str | Iterable[str],
        *,
        login: bool = False,
        starttls: bool = False,
    ) -> dict:
        """Send ``raw`` through the SMTP front; returns smtplib's refused dict.

        Bare user names get ``@dukcapil.test``.  LF-only bytes are sent with
        CRLF; otherwise the bytes go out unchanged.  ``login``: first AUTH as
        ``mail_from`` (a stack user; password ``secret``), as a staff member's
        own mail client does, so that the front stamps it ``pass`` when it is
        also the ``From:``.
        """
        rcpts = [rcpt_to] if isinstance(rcpt_to, str) else list(rcpt_to)
        rcpts = [self.address(r) for r in rcpts]
        sender = self.address(mail_from) if mail_from else ""
        if login and not sender:
            raise ValueError("login=True needs a mail_from to log in as")
        port = self.smtp_starttls_port if starttls else self.smtp_port
        with smtplib.SMTP(self.host, port, timeout=60) as smtp:
            if starttls:
                import ssl

                smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
            if login:
                smtp.login(sender, self.password)
            return smtp.sendmail(sender, rcpts, _fix_newlines(raw))

    def relay_control(self, *, faults: Iterable[dict] = (), sent_copy: bool = False) -> None:
        """Set how the SMTP front misbehaves (``faults``) and whether it files a
        copy of every accepted mail from a local user in that user's ``Sent``
        folder (``sent_copy``, as Gmail and Exchange do). Takes effect at the
        next SMTP command; each call starts the faults' counts again; the auth
        policy stays. See :mod:`devstack.smtprelay` for the fault format, e.g.
        ``{"stage": "data", "reply": "451 4.3.0 busy", "times": 2}``."""
        self._require_state()
        relayproc.update_control(self.dir, faults=list(faults), faults_id=time.time_ns(),
                                 sent_copy=bool(sent_copy), imap_port=self.imap_port)

    def set_auth_policy(self, policy: Mapping[str, str]) -> None:
        """Set the Authentication-Results result (``pass``, ``fail``, ``none``...)
        the SMTP front gives mail by its ``From:`` domain when not sent logged in
        as that ``From:``, e.g. ``{"warga.test": "pass", "evil.test": "fail"}``;
        merged over the defaults (``dukcapil.test`` ``fail``, others ``none``),
        replacing the previous policy. Takes effect at the next SMTP command;
        faults and their counts stay; :meth:`reset` clears it. Raises
        ValueError for a result RFC 8601 does not define."""
        self._require_state()
        effective_policy(self.domain, policy)
        relayproc.update_control(self.dir, auth_policy=dict(policy))

    def count(self, user: str, folder: str = "INBOX") -> int:
        with self._session(user) as c:
            return _count(c, folder)

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw bytes of every message in ``folder``, in UID order (\\Seen untouched)."""
        with self._session(user) as c:
            return _fetch_all(c, folder)

    def wait_for(
        self, user: str, count: int, folder: str = "INBOX", timeout: float = 10
    ) -> list[bytes]:
        """Wait until ``folder`` holds at least ``count`` messages; return them all."""
        deadline = time.monotonic() + timeout
        with self._session(user) as c:
            while True:
                have = _count(c, folder)
                if have >= count:
                    return _fetch_all(c, folder)
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{user}/{folder}: {have} message(s) after {timeout}s, wanted {count}"
                    )
                time.sleep(0.05)

    def deliver(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> int | None:
        """IMAP APPEND ``raw`` to ``user``'s ``folder`` (created if needed); returns the UID."""
        with self._session(user) as c:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            resp = c.append(folder, _fix_newlines(raw), flags=tuple(flags))
        text = resp.decode("ascii", "replace") if isinstance(resp, bytes) else str(resp)
        m = re.search(r"APPENDUID \d+ (\d+)", text)
        return int(m.group(1)) if m else None

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``doveadm -c <this stack's config> ARGS``."""
        res = subprocess.run(
            [which("doveadm") or "doveadm", "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
        )
        if check and res.returncode != 0:
            raise MailStackError(f"doveadm {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res

    def reset(self) -> None:
        """Empty every user's mailboxes (deleting created folders) and clear
        :meth:`relay_control` and :meth:`set_auth_policy` (no faults, no sent
        copies, the default auth policy).

        A user with no live IMAP process gets a brand-new mail directory (UIDs
        restart at 1, no flags/subscriptions left).  A user with an open IMAP
        session is emptied through doveadm instead, so that session stays valid.
        """
        self._require_state()
        with contextlib.suppress(FileNotFoundError):
            self._p(relayproc.CONTROL_FILE).unlink()
        mail = self.spool / "mail"
        homes = [e for e in os.scandir(mail) if e.is_dir(follow_symlinks=False)]
        if not homes:
            return
        busy = dovecot.busy_users(self.instance, self.conf)
        for entry in homes:
            if entry.name in busy:
                self._empty_with_doveadm(entry.name)
            else:
                shutil.rmtree(entry.path, ignore_errors=True)

    def _empty_with_doveadm(self, user: str) -> None:
        res = self.doveadm("mailbox", "list", "-u", user)
        names = [n for n in res.stdout.splitlines() if n]
        keep = {"INBOX", *SPECIAL_FOLDERS}
        roots = []
        for name in names:
            if name in keep:
                continue
            parent = name.rsplit("/", 1)[0] if "/" in name else None
            if parent is None or parent in keep:
                roots.append(name)
        if roots:
            self.doveadm("mailbox", "delete", "-u", user, "-r", "-s", *roots)
        self.doveadm("expunge", "-u", user, "mailbox", "*", "all")


def _count(client, folder: str) -> int:
    try:
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
    except Exception as exc:  # a folder not created yet counts as empty
        if "exist" in str(exc).lower():
            return 0
        raise


def _fetch_all(client, folder: str) -> list[bytes]:
    if folder.upper() != "INBOX" and not client.folder_exists(folder):
        return []
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search("ALL"))
    out: list[bytes] = []
    for i in range(0, len(uids), 200):
        batch = uids[i : i + 200]
        data = client.fetch(batch, [b"BODY.PEEK[]"])
        out += [data[uid][b"BODY[]"] for uid in batch if uid in data]
    client.unselect_folder()
    return out


def _fix_newlines(raw: bytes) -> bytes:
    # Convenience for hand-written test mail: LF-only text becomes CRLF.
    if b"\r" not in raw and b"\n" in raw:
        return raw.replace(b"\n", b"\r\n")
    return raw
