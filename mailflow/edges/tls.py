"""TLS for the IMAP and SMTP edges: one verifying context builder and one
way of saying what failed, shared by both."""

from __future__ import annotations

import ssl

from mailflow.config.settings import ImapConfig, SmtpConfig


def tls_context(cfg: ImapConfig | SmtpConfig) -> ssl.SSLContext:
    """A verifying TLS context (system CAs, or ``ca_file``); verification off only if configured."""
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not cfg.verify_certificate:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_failure(what: str, exc: ssl.SSLError) -> str:
    """A TLS error in words an admin can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        detail = getattr(exc, "verify_message", "") or exc.reason or "not trusted"
        return (f"TLS with {what} failed: the server's certificate could not be verified ({detail}); "
                "set ca_file to the CA that signed it (verify_certificate = false only for testing)")
    return f"TLS with {what} failed: {exc.reason or exc}"
