"""Exception types. The type decides what a user sees (see docs/ARCHITECTURE.md).

- ConfigError / RulesError: the admin fixes a file; the message names file, key, fix.
- SchemaOutOfDate: the admin runs a command; the message names it.
- MailServerError: a network problem; the daemon retries, never exits.
  CredentialError (a refused login) is one: the admin is told once.
- anything else raised while handling one inbound message: the message is
  quarantined, the admin is alerted, the loop goes on.
"""


class MailflowError(Exception):
    """Base class of every error mailflow raises on purpose."""


class ConfigError(MailflowError):
    """mailflow.toml (or a secret it points at) is missing or invalid."""


class RulesError(MailflowError):
    """A rules/*.toml file is invalid. The message names the file, key and fix."""


class SchemaOutOfDate(MailflowError):
    """The database schema is older (or newer) than this version of mailflow."""


class MailServerError(MailflowError):
    """An IMAP or SMTP server could not be reached or refused us."""


class CredentialError(MailServerError):
    """A mail server refused mailflow's login (IMAP LOGIN, SMTP 535): not a
    problem of any one mail. The pass stops, mail stays queued, the admin is
    alerted once per outage, the daemon backs off (docs/SECURITY.md)."""

    def __init__(self, message: str, server: str):
        super().__init__(message)
        self.server = server  # "IMAP" or "SMTP"


class TLSRequiredError(MailServerError):
    """TLS was required (security = starttls/tls) but could not be established.

    Never fall back to plaintext: this is raised instead.
    """


class NotFound(MailflowError):
    """A complaint or message asked for on the command line does not exist."""


class MessageTooLarge(MailflowError):
    """An inbound mail exceeds limits.max_message_bytes; it is quarantined, not parsed."""


class TokenRefreshError(CredentialError):
    """An OAuth2 mailbox's token could not be renewed (the refresh token was
    revoked or has expired, the app's secret was changed, no token was ever
    stored): like a refused login, the admin is alerted once and must run
    ``mailflow auth login``. ``server`` is the login that needed the token."""
