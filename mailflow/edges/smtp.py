"""SMTP edge: one aiosmtplib connection, opened lazily and reused for the
sends of one outbox drain. TLS as configured, never a silent downgrade."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence

import aiosmtplib

from mailflow.config.settings import SmtpConfig
from mailflow.edges.auth import smtp_refusal_is_temporary
from mailflow.edges.oauth import TokenSource
from mailflow.edges.tls import tls_context, tls_failure
from mailflow.errors import CredentialError, MailServerError, TLSRequiredError

log = logging.getLogger("mailflow.smtp")

class SmtpSender:
    """One SMTP connection, opened lazily and reused across sends of a drain."""

    def __init__(self, cfg: SmtpConfig, tokens: TokenSource | None = None, account: str = ""):
        self.cfg = cfg
        self.tokens = tokens  # the access tokens of an OAuth2 mailbox (smtp.auth = "oauth2")
        self.account = account  # the login with a token: smtp.username, else the mailbox's (imap.username)
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.cfg
        smtp = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.security == "tls",
            # False, not None: None would mean "STARTTLS if offered", a silent downgrade.
            start_tls=cfg.security == "starttls",
            tls_context=tls_context(cfg) if cfg.security != "none" else None,
            timeout=cfg.timeout,
        )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPException as exc:
            if cfg.security == "starttls" and "STARTTLS" in str(exc):
                raise TLSRequiredError(
                    f"SMTP server {cfg.host}:{cfg.port} does not offer STARTTLS; refusing to send in plaintext "
                    "(set smtp.security = \"none\" only for a trusted local relay)"
                ) from None
            raise
        except ssl.SSLError as exc:
            raise TLSRequiredError(tls_failure(f"SMTP server {cfg.host}:{cfg.port}", exc)) from None
        if cfg.auth == "oauth2":
            await self._oauth2_login(smtp)
        elif cfg.username:
            try:
                await smtp.login(cfg.username, cfg.password.reveal() or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                smtp.close()
                if smtp_refusal_is_temporary(exc.code):
                    raise MailServerError(f"SMTP server {cfg.host}:{cfg.port} cannot check the login now "
                                          f"({exc.code} {exc.message}); retrying") from None
                # Never echo the password; name the user and where the secret came from.
                raise CredentialError(
                    f"SMTP login as {cfg.username!r} on {cfg.host}:{cfg.port} was refused ({exc.code} "
                    f"{exc.message}); check smtp.username and the password in smtp.password_env / "
                    "smtp.password_file", "SMTP") from None
        return smtp

    async def _oauth2_login(self, smtp: aiosmtplib.SMTP) -> None:
        """AUTH XOAUTH2 (aiosmtplib answers the server's 334 error challenge
        with the empty line RFC 7628 asks for); a refused token is renewed
        once and tried again. Token renewal talks HTTP: off the event loop."""
        cfg = self.cfg
        user = cfg.username or self.account
        if self.tokens is None:
            smtp.close()
            raise CredentialError("smtp.auth is \"oauth2\" but this command has no token store", "SMTP")
        tokens = self.tokens
        for force in (False, True):
            try:
                token = await asyncio.to_thread(tokens.access_token, "SMTP", force)
            except BaseException:
                smtp.close()
                raise
            try:
                await smtp.auth_xoauth2(user, token)
                return
            except aiosmtplib.SMTPAuthenticationError as exc:
                if smtp_refusal_is_temporary(exc.code):
                    smtp.close()
                    raise MailServerError(f"SMTP server {cfg.host}:{cfg.port} cannot check the login now "
                                          f"({exc.code} {exc.message}); retrying") from None
                if not force:
                    log.warning("SMTP refused the OAuth2 token of %s (%s %s); renewing it", user, exc.code, exc.message)
                    continue
                smtp.close()
                raise CredentialError(
                    f"SMTP XOAUTH2 login as {user!r} on {cfg.host}:{cfg.port} was refused with a newly renewed "
                    f"token ({exc.code} {exc.message}): check that SMTP AUTH is enabled for the mailbox and the "
                    "app may send as it (docs/MAILBOXES.md)", "SMTP") from None

    async def check(self) -> None:
        """Connect (EHLO, TLS as configured), log in if configured, and quit:
        ``mailflow config check --connect``."""
        smtp = await self._connect()
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()

    async def send(self, sender: str, recipients: Sequence[str], raw: bytes) -> str:
        if self._smtp is None or not self._smtp.is_connected:
            self._smtp = await self._connect()
        errors, _response = await self._smtp.sendmail(sender, list(recipients), raw)
        # Some recipients refused, others accepted: the mail is sent; say who missed it.
        return "; ".join(f"refused {rcpt}: {resp.code} {resp.message}" for rcpt, resp in errors.items())

    async def close(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                self._smtp.close()
        self._smtp = None


def smtp_reason(exc: aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    """(code, the server's words) of an SMTP refusal; for several refused
    recipients, the lowest code decides (a 4xx one is worth retrying)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusals = exc.recipients or []
        if refusals:
            code = min(r.code for r in refusals)
            return code, "; ".join(f"{r.code} {r.message}" for r in refusals)
        return 550, "all recipients refused"
    return exc.code, f"{exc.code} {exc.message}".strip()
