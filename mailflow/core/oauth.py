"""OAuth2 for the mailbox logins, the pure part: when a token set must be
refreshed, the XOAUTH2 initial response, PKCE, and what each provider needs
(its default scopes and endpoints). No I/O here: the token requests are in
``edges/oauth.py``, the stored token sets in ``store/tokens.py``."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

# Seconds before its expiry an access token is renewed: time for a pass that
# logs in at the last moment to finish, and for clocks that differ a little.
DEFAULT_REFRESH_MARGIN = 300.0

PROVIDERS = ("microsoft", "google", "generic")
FLOWS = ("device", "client_credentials", "loopback")

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"

DEFAULT_SCOPES = {
    "microsoft": ("https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send",
                  "offline_access"),
    "google": ("https://mail.google.com/",),
    "generic": (),
}
# App-only (client credentials) tokens for Exchange Online: the resource's .default scope.
MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default"
# The flow `mailflow auth login` uses when none is named.
DEFAULT_FLOW = {"microsoft": "device", "google": "loopback", "generic": "loopback"}


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint gave, as stored (encrypted) per office and
    mailbox. ``expires_at``: seconds since the epoch (the server's
    ``expires_in`` added to the time it was asked). ``refresh_token`` is empty
    for client credentials (renewed by asking again with the client secret)."""

    access_token: str
    expires_at: float
    refresh_token: str = ""
    scope: str = ""
    flow: str = ""

    def __repr__(self) -> str:  # never print a token
        return f"TokenSet(expires_at={self.expires_at!r}, scope={self.scope!r}, flow={self.flow!r})"

    __str__ = __repr__

    def to_dict(self) -> dict[str, object]:
        return {"access_token": self.access_token, "expires_at": self.expires_at,
                "refresh_token": self.refresh_token, "scope": self.scope, "flow": self.flow}

    @classmethod
    def from_dict(cls, data: dict) -> TokenSet:
        return cls(access_token=str(data["access_token"]), expires_at=float(data["expires_at"]),
                   refresh_token=str(data.get("refresh_token") or ""), scope=str(data.get("scope") or ""),
                   flow=str(data.get("flow") or ""))

    @classmethod
    def from_response(cls, response: dict, now: float, flow: str, old: TokenSet | None = None) -> TokenSet:
        """A token endpoint's JSON answer received at ``now``. A refresh answer
        without a new refresh token keeps the old one (Google's way)."""
        expires_in = float(response.get("expires_in") or 3600)
        refresh = str(response.get("refresh_token") or (old.refresh_token if old else ""))
        scope = response.get("scope") or (old.scope if old else "")
        if isinstance(scope, list):
            scope = " ".join(scope)
        return cls(access_token=str(response["access_token"]), expires_at=now + expires_in,
                   refresh_token=refresh, scope=str(scope), flow=flow)


def needs_refresh(expires_at: float, now: float, margin: float) -> bool:
    """True when a token expiring at ``expires_at`` must be renewed at ``now``:
    it has expired, or expires within ``margin`` seconds."""
    return now >= expires_at - margin


def xoauth2_string(user: str, access_token: str) -> str:
    """The XOAUTH2 initial client response before base64 (Google's and
    Microsoft's SASL mechanism): ``user=U^Aauth=Bearer T^A^A``."""
    if "\x01" in user or "\x01" in access_token:
        raise ValueError("a user or token containing ^A cannot be sent with XOAUTH2")
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"


def xoauth2_base64(user: str, access_token: str) -> str:
    return base64.b64encode(xoauth2_string(user, access_token).encode("utf-8")).decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) for an authorization-code flow (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)[:96]
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
