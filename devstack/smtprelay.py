"""SMTP front of the local test mail stack: aiosmtpd in, Dovecot LMTP out.

Accepts mail for one local domain (``dukcapil.test``) and hands every message
to Dovecot's LMTP socket *before* answering ``250``, so a message is visible
over IMAP as soon as the client's send returns.  The bytes are passed through
untouched (``decode_data=False``) but for the ``Authentication-Results`` below;
Dovecot adds ``Return-Path``, ``Delivered-To`` and ``Received`` on top.

* Recipients: ``local@domain`` or ``local+tag@domain`` where ``local`` is
  listed in the users file (one local part per line, re-read when it changes).
  Anything else is refused with ``550`` at ``RCPT`` time.
* Two listeners in one process: ``--port`` without STARTTLS and
  ``--starttls-port`` offering STARTTLS (``--cert``/``--key``).  Neither
  requires TLS or AUTH; AUTH PLAIN/LOGIN is offered on both and accepts any
  known user with the stack password, so clients configured with credentials
  work too.
* Authentication-Results (RFC 8601), as the office's receiving server would
  write them (:mod:`devstack.authres`), unless ``--authserv-id ''``: every
  accepted mail loses the ``Authentication-Results`` fields it came with whose
  authserv-id is ours (``--authserv-id``, default ``mx.dukcapil.test``; other
  ids stay) and gets one on top: ``Authentication-Results: mx.dukcapil.test;
  spf=R smtp.mailfrom=SENDER; dkim=R header.d=D; dmarc=R header.from=D`` (D:
  the first ``From:`` address's domain).  R is ``pass`` if the session logged
  in (AUTH) as that ``From:`` address, else the control file's
  ``"auth_policy"`` for D, by default ``fail`` for our own ``--domain``
  (unauthenticated mail claiming the office's domain is spoofed) and ``none``
  for any other.  The sent copy below is the mail as submitted, unstamped.
  Stamping reads the header section only: ~0.08 ms of CPU for a ~2 KB mail,
  ~0.9 ms for 7 MB (one copy), lost in the noise end to end.
* LMTP failures become SMTP errors: 4xx from Dovecot (or Dovecot down, e.g.
  during ``restart-imap``) -> ``451``, 5xx -> ``554``.  With several
  recipients and a partial failure the whole DATA is answered with the
  failure (a retrying client may duplicate the mail for the others).
* Lines longer than 1000 octets are refused with ``500`` and mail over 64 MiB
  with ``552`` (aiosmtpd's own checks: ``line_length_limit``,
  ``data_size_limit``), both after the final dot.
* A control file (``--control``, JSON, re-read when it changes; written by
  :meth:`MailStack.relay_control`) lets tests make the server misbehave or
  behave like Gmail/Exchange:

  - ``"faults"``: a list of ``{"stage": "mail"|"rcpt"|"data", "reply": "451
    4.3.0 try later", "times": N, "match": "substring", "sender":
    "substring"}``: the next N commands at that stage (whose recipient or
    envelope sender contains ``match``, and whose envelope sender contains
    ``sender``, each if given) get ``reply`` instead of being done; ``times``
    0 or missing means every time. ``stage`` ``"drop"`` closes the
    connection after the final dot of DATA without delivering or answering.
  - ``"sent_copy": true`` with ``"imap_port"``: like Gmail or Exchange, every
    accepted mail whose envelope sender is a local user is also filed, before
    the ``250``, in that user's ``Sent`` folder (IMAP APPEND), so a client
    can later check whether a mail it sent was accepted.
  - ``"auth_policy": {"warga.test": "pass", "evil.test": "fail"}``: the
    Authentication-Results R by ``From:`` domain (exact, case-insensitive) for
    mail not sent by the logged-in ``From:`` user; merged over the defaults
    above.  Written by :meth:`MailStack.set_auth_policy`.
  - ``"faults_id"``: set by each :meth:`MailStack.relay_control` call, so that
    it starts the faults' counts again while a policy change does not.

Only aiosmtpd's public API is used: its ``SMTP`` server with constructor
options (``data_size_limit``, ``enable_SMTPUTF8``, ``decode_data``,
``authenticator``, ``tls_context``...) and a handler object whose
``handle_MAIL``/``handle_RCPT``/``handle_DATA`` hooks do the work.  aiosmtpd
reads DATA line by line (~4 us a line here), which is what limits big mails.
Measured on the project's 2-core machine, when this relay gave up the
chunked DATA reader it had on aiosmtpd's private stream (smtplib client, one
connection, delivery into Dovecot included; medians of 5; the CPU column
from a second run, under load):

  ==========  ========================  ========================
  mail        relay CPU per mail        end to end
  ==========  ========================  ========================
  ~2 KB       2.6 ms (was 2.4 ms)       156 msg/s (was 158)
  2 MB        132 ms (was 24 ms)        9.0 MiB/s (was 21.6)
  7 MB        493 ms (was 90 ms)        8.4 MiB/s (was 24.2)
  ==========  ========================  ========================

The benchmarks send ~2 KB mails and compare mailflow with raw clients
through this same relay: both sides of each ratio pay the same ~0.2 ms more
per mail, within the runs' noise.  The few mails of several MB (one test, the
memory benchmark's forwards, which measure memory, not time) take a fraction
of a second longer each.  Not worth a private override.

Run as ``python3 -m devstack.smtprelay --help``; normally started by
:mod:`devstack.mailstack`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from devstack.authres import DEFAULT_AUTHSERV_ID, effective_policy, stamp
from devstack.lmtp import LmtpDeliverer, LmtpError

log = logging.getLogger("mailstack.smtprelay")

DATA_SIZE_LIMIT = 64 * 1024 * 1024


class UserList:
    """Known local parts, re-read from a file whenever its mtime changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._users: frozenset[str] = frozenset()

    def get(self) -> frozenset[str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return self._users
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            self._users = frozenset(
                ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#")
            )
            self._stamp = stamp
        return self._users


class Control:
    """The test-controlled behaviour (faults, sent copies, the Authentication-Results
    policy), re-read from a JSON file whenever it changes.  The count of each
    fault's uses starts again when ``faults`` or ``faults_id`` changes (not when
    only the other settings do)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self._stamp: tuple[int, int] | None = None
        self.settings: dict = {}
        self._used: list[int] = []
        self._faults_seen: object = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self.settings, self._used, self._stamp, self._faults_seen = {}, [], None, None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                self.settings = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            except ValueError:
                log.warning("control file %s is not JSON; ignored", self.path)
                self.settings = {}
            faults = (self.settings.get("faults"), self.settings.get("faults_id"))
            if faults != self._faults_seen:
                self._used = [0] * len(self.settings.get("faults", ()))
                self._faults_seen = faults
            self._stamp = stamp

    def fault(self, stage: str, sender: str, *rcpts: str) -> str | None:
        """The reply a fault at ``stage`` gives for this envelope now, or None."""
        subjects = (sender, *rcpts)
        with self._lock:
            self._refresh()
            for i, fault in enumerate(self.settings.get("faults", ())):
                if fault.get("stage") != stage:
                    continue
                match = fault.get("match")
                if match and not any(match.lower() in (s or "").lower() for s in subjects):
                    continue
                if fault.get("sender") and fault["sender"].lower() not in (sender or "").lower():
                    continue
                times = int(fault.get("times") or 0)
                if times and self._used[i] >= times:
                    continue
                self._used[i] += 1
                log.info("fault injected at %s for %s: %s", stage, subjects, fault.get("reply"))
                return str(fault.get("reply", ""))
        return None

    def sent_copy_port(self) -> int | None:
        with self._lock:
            self._refresh()
            if self.settings.get("sent_copy") and self.settings.get("imap_port"):
                return int(self.settings["imap_port"])
        return None

    def auth_results(self, own_domain: str) -> dict[str, str]:
        """Results by ``From:`` domain for mail not sent by the logged-in
        ``From:`` user: :func:`~devstack.authres.effective_policy` of the
        ``"auth_policy"`` setting (its defaults alone if that is not valid)."""
        with self._lock:
            self._refresh()
            policy = self.settings.get("auth_policy")
        try:
            return effective_policy(own_domain, policy if isinstance(policy, dict) else None)
        except ValueError as exc:
            log.warning("control file: %s; the default auth policy is used", exc)
            return effective_policy(own_domain, None)


def file_sent_copy(port: int, user: str, password: str, data: bytes) -> None:
    """APPEND ``data`` to ``user``'s Sent folder on the local Dovecot."""
    import imaplib

    conn = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    try:
        conn.login(user, password)
        typ, detail = conn.append("Sent", None, None, data)
        if typ != "OK":
            raise LmtpError(451, f"4.3.0 could not file the sent copy: {detail!r}")
    finally:
        try:
            conn.logout()
        except Exception:  # pragma: no cover - best effort
            pass


class RelayHandler:
    """aiosmtpd handler: checks recipients, injects the controlled faults,
    stamps Authentication-Results as ``authserv_id`` (nothing if empty) and
    delivers each accepted mail to LMTP (and its sent copy) before the 250."""

    def __init__(self, domain: str, users: UserList, deliverer: LmtpDeliverer, password: str,
                 control: Control | None = None, authserv_id: str = ""):
        self.domain = domain.lower()
        self.authserv_id = authserv_id
        self.users = users
        self.deliverer = deliverer
        self.password = password
        self.control = control or Control(None)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        fault = self.control.fault("mail", address)
        if fault:
            return fault
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def known(self, address: str) -> bool:
        local, at, domain = address.rpartition("@")
        if not at or domain.lower() != self.domain:
            return False
        base = local.split("+", 1)[0].lower()
        return base in self.users.get()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local, at, domain = address.rpartition("@")
        if not at or domain.lower() != self.domain:
            return f"550 5.7.1 <{address}>: relay access denied (only @{self.domain})"
        if not self.known(address):
            return f"550 5.1.1 <{address}>: user unknown"
        fault = self.control.fault("rcpt", envelope.mail_from or "", address)
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data: bytes = envelope.original_content or b""  # un-stuffed, as sent (decode_data=False)
        rcpts = list(envelope.rcpt_tos)
        if self.control.fault("drop", envelope.mail_from or "", *rcpts) is not None:
            log.warning("from=<%s> to=%s: connection dropped after DATA (fault)", envelope.mail_from, rcpts)
            server.transport.close()
            return "421 4.3.0 dropped"  # never reaches the client: the connection is closed
        fault = self.control.fault("data", envelope.mail_from or "", *rcpts)
        if fault:
            return fault
        started = time.monotonic()
        delivered = data
        if self.authserv_id:
            login = session.auth_data if session.authenticated and isinstance(session.auth_data, str) else None
            delivered = stamp(data, authserv_id=self.authserv_id, mail_from=envelope.mail_from or "",
                              helo=session.host_name or "", login=login,
                              results=self.control.auth_results(self.domain))
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(
                None,
                self.deliverer.deliver,
                envelope.mail_from or "",
                rcpts,
                delivered,
                list(envelope.mail_options or []),
            )
        except LmtpError as exc:
            log.warning("from=<%s> to=%s size=%d failed: %s", envelope.mail_from, rcpts, len(data), exc)
            return f"{exc.code} {exc.text}"
        ms = (time.monotonic() - started) * 1000
        failed = {r: res for r, res in results.items() if res[0] != 250}
        port = self.control.sent_copy_port()
        sender = envelope.mail_from or ""
        if not failed and port and self.known(sender):
            try:
                await loop.run_in_executor(None, file_sent_copy, port, sender.rpartition("@")[0].split("+")[0],
                                           self.password, data)
            except (OSError, LmtpError, Exception) as exc:
                log.warning("from=<%s>: sent copy failed: %s", sender, exc)
                return "451 4.3.0 delivered, but the copy to Sent failed"
        if not failed:
            log.info("from=<%s> to=%s size=%d delivered in %.1f ms", envelope.mail_from, rcpts, len(data), ms)
            return "250 2.0.0 OK delivered to LMTP"
        log.warning("from=<%s> to=%s size=%d partial/failed: %s", envelope.mail_from, rcpts, len(data), failed)
        rcpt, (code, text) = next(iter(failed.items()))
        prefix = "451 4.3.0" if 400 <= code < 500 else "554 5.3.0"
        return f"{prefix} <{rcpt}> LMTP said: {code} {text}"


class OAuthRelayHandler(RelayHandler):
    """The relay that also takes ``AUTH XOAUTH2`` (Google's and Microsoft's
    SASL mechanism), the token checked by RFC 7662 introspection at
    ``introspect_url`` (the stack's OAuth2 server): it must be active and its
    ``username`` must be the user named. A refused token gets what Gmail and
    Outlook answer: a ``334`` challenge carrying a base64 JSON error, then,
    after the client's empty line, ``535``."""

    def __init__(self, *args, introspect_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.introspect_url = introspect_url

    def _introspect(self, token: str) -> dict:
        import urllib.parse
        import urllib.request

        data = urllib.parse.urlencode({"token": token}).encode()
        with urllib.request.urlopen(self.introspect_url, data=data, timeout=10) as resp:
            return json.loads(resp.read())

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            initial = args[1].encode()
        else:
            initial = await server.challenge_auth("", encode_to_b64=False)
            if not isinstance(initial, bytes):
                return AuthResult(success=False, handled=True)
        try:
            text = base64.b64decode(initial, validate=True).decode("utf-8")
            fields = dict(part.split("=", 1) for part in text.split("\x01") if part)
            user, token = fields["user"], fields["auth"].removeprefix("Bearer ")
        except (ValueError, KeyError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot decode XOAUTH2 response")
        address = (user if "@" in user else f"{user}@{self.domain}").lower()
        try:
            info = await asyncio.get_running_loop().run_in_executor(None, self._introspect, token)
        except OSError as exc:
            log.warning("XOAUTH2 for %s: introspection failed: %s", address, exc)
            return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")
        if info.get("active") is True and str(info.get("username", "")).lower() == address and self.known(address):
            return AuthResult(success=True, auth_data=address)
        error = json.dumps({"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"})
        await server.challenge_auth(error.encode(), encode_to_b64=True)  # the client answers with an empty line
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted (XOAUTH2 token invalid)")


def _authenticator(handler: RelayHandler):
    def check(_server, _session, _envelope, _mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            address = user if "@" in user else f"{user}@{handler.domain}"
            if password == handler.password and handler.known(address):
                # The address, not the login as typed: what the stamp compares with From:.
                return AuthResult(success=True, auth_data=address.lower())
        return AuthResult(success=False, handled=False)

    return check


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(args: argparse.Namespace) -> None:
    users = UserList(args.users_file)
    deliverer = LmtpDeliverer(args.lmtp)
    if args.introspect:
        handler: RelayHandler = OAuthRelayHandler(args.domain, users, deliverer, args.password,
                                                  Control(args.control), authserv_id=args.authserv_id,
                                                  introspect_url=args.introspect)
    else:
        handler = RelayHandler(args.domain, users, deliverer, args.password, Control(args.control),
                               authserv_id=args.authserv_id)
    auth = _authenticator(handler)
    tls = None
    if args.starttls_port is not None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)

    def factory(tls_context):
        def make():
            return SMTP(
                handler,
                data_size_limit=DATA_SIZE_LIMIT,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=args.hostname,
                ident="mailstack test relay",
                tls_context=tls_context,
                require_starttls=False,
                auth_required=False,
                auth_require_tls=False,
                authenticator=auth,
            )

        return make

    loop = asyncio.get_running_loop()
    servers = []
    plain_sock = _listen(args.host, args.port)
    servers.append(await loop.create_server(factory(None), sock=plain_sock))
    ports = {"port": plain_sock.getsockname()[1]}
    if args.starttls_port is not None:
        tls_sock = _listen(args.host, args.starttls_port)
        servers.append(await loop.create_server(factory(tls), sock=tls_sock))
        ports["starttls_port"] = tls_sock.getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if args.pidfile:
        _atomic_write(args.pidfile, f"{os.getpid()}\n")
    if args.ready_file:
        _atomic_write(args.ready_file, json.dumps({"pid": os.getpid(), **ports}) + "\n")
    log.info("listening on %s %s, delivering to %s", args.host, ports, args.lmtp)

    await stop.wait()
    log.info("stopping")
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()
    deliverer.close()
    if args.pidfile:
        try:
            if Path(args.pidfile).read_text().strip() == str(os.getpid()):
                os.unlink(args.pidfile)
        except OSError:
            pass


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python3 -m devstack.smtprelay",
        description="SMTP front for the local test mail stack (delivers to Dovecot LMTP).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="plain SMTP port (0 = pick one)")
    p.add_argument("--starttls-port", type=int, help="SMTP port offering STARTTLS (0 = pick one)")
    p.add_argument("--cert", help="PEM certificate chain for STARTTLS")
    p.add_argument("--key", help="PEM private key for STARTTLS")
    p.add_argument("--lmtp", required=True, help="Dovecot LMTP unix socket")
    p.add_argument("--domain", default="dukcapil.test")
    p.add_argument("--users-file", required=True, help="known local parts, one per line")
    p.add_argument("--password", default="secret", help="password accepted for SMTP AUTH")
    p.add_argument("--hostname", default="mail.dukcapil.test", help="name in the banner/EHLO")
    p.add_argument("--pidfile")
    p.add_argument("--ready-file", help="JSON {pid, port, starttls_port} written once listening")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--control", help="JSON control file: injected faults, sent copies, auth policy (see the module doc)")
    p.add_argument("--authserv-id", default=DEFAULT_AUTHSERV_ID,
                   help="stamp Authentication-Results as this receiving server ('' = stamp nothing)")
    p.add_argument("--introspect", help="also accept AUTH XOAUTH2, checking tokens at this RFC 7662 URL")
    args = p.parse_args(argv)
    if args.starttls_port is not None and not (args.cert and args.key):
        p.error("--starttls-port needs --cert and --key")
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # aiosmtpd logs every command at INFO; keep its log to warnings.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
