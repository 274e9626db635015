"""Logging in to the mail servers: telling a refused login (the admin must fix
a password or a token) from a server that cannot check it just now (Dovecot's
auth process restarting, a directory timeout), which is retried like a
network error and alerts nobody.

IMAP (RFC 5530): ``NO [UNAVAILABLE]`` is temporary, ``NO [AUTHENTICATIONFAILED]``
and the rest are refusals. SMTP (RFC 4954): 454 "temporary authentication
failure" and other 4xx replies are temporary, 535 and other 5xx are refusals.
"""

from __future__ import annotations

# Response codes and words servers use for "try again later".
_IMAP_TEMPORARY = ("[UNAVAILABLE]", "TEMPORARY AUTHENTICATION FAILURE", "TRY AGAIN LATER")


def imap_refusal_is_temporary(response: str) -> bool:
    """True when an IMAP ``NO`` to LOGIN/AUTHENTICATE says the server could
    not check the credentials now, not that they are wrong."""
    upper = response.upper()
    return any(word in upper for word in _IMAP_TEMPORARY)


def smtp_refusal_is_temporary(code: int) -> bool:
    """True for a 4xx reply to AUTH (454 and friends): try again later."""
    return 400 <= code < 500
