"""Load and validate ``mailflow.toml`` once, at start-up.

Everything is checked here so that a mistake is reported before the daemon
touches a mailbox. Errors name the file, the key and what is expected.
Passwords never live in the TOML: each server section names an environment
variable (``password_env``) or a file (``password_file``) holding the secret.
The secret is kept in a :class:`Secret`, whose ``repr``/``str`` never shows it,
so it cannot leak into logs or tracebacks by accident.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailflow.errors import ConfigError
from mailflow.config.paths import shipped

DEFAULT_CONFIG = "mailflow.toml"
SECURITY_MODES = ("tls", "starttls", "none")


class Secret:
    """A password that never prints itself.

    A secret whose source is missing (an unset variable) only fails when it is
    used, so commands that need no server (queue, show, db) work without it.
    """

    __slots__ = ("_value", "_missing")

    def __init__(self, value: str | None, missing: str | None = None):
        self._value = value
        self._missing = missing

    def reveal(self) -> str | None:
        if self._missing:
            raise ConfigError(self._missing)
        return self._value

    def check(self) -> None:
        """Raise ConfigError if the secret's source is missing."""
        self.reveal()

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret(***)" if self._value else "Secret(None)"

    __str__ = __repr__


@dataclass(frozen=True)
class OfficeConfig:
    name: str
    timezone: str
    rules: Path
    complaint_address: str
    alert_address: str
    register_pattern: str
    reply_address_pattern: str
    website: str
    templates: Path | None
    check_authentication_results: bool = True

    @property
    def domain(self) -> str:
        return self.complaint_address.rpartition("@")[2]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int
    security: str
    verify_certificate: bool
    ca_file: Path | None
    username: str | None
    password: Secret = field(repr=False)
    timeout: float


@dataclass(frozen=True)
class ImapConfig(ServerConfig):
    folder: str = "INBOX"
    processed_folder: str = "mailflow/processed"
    quarantine_folder: str = "mailflow/quarantine"
    poll_interval: float = 30.0
    batch_size: int = 100
    # Wait for new mail with IMAP IDLE where the server offers it (poll_interval
    # is then the longest wait before a re-check); else poll.
    idle: bool = True
    # Where the SMTP server files a copy of each mail it accepted (Gmail and
    # Exchange do; "" = none): used to tell whether a send cut short by a crash
    # went out. See docs/RELIABILITY.md.
    sent_folder: str = ""
    # Bytes fetched per IMAP FETCH at most (large mails go in smaller batches).
    fetch_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class SmtpConfig(ServerConfig):
    from_address: str = ""
    from_name: str = ""


@dataclass(frozen=True)
class LimitsConfig:
    max_message_bytes: int
    auto_replies_per_sender_per_day: int
    outbox_max_attempts: int
    outbox_retry_seconds: float = 30.0  # the first retry's wait; doubled per failure, capped at an hour
    max_mime_parts: int = 1000
    max_mime_depth: int = 20
    max_header_bytes: int = 256 * 1024


@dataclass(frozen=True)
class Settings:
    path: Path
    office: OfficeConfig
    imap: ImapConfig
    smtp: SmtpConfig
    database_url: str
    limits: LimitsConfig
    log_level: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def check_secrets(self) -> None:
        """Raise ConfigError naming the key whose secret is missing (for commands that log in)."""
        self.imap.password.check()
        if self.smtp.username:
            self.smtp.password.check()


class _Reader:
    """Typed access to one TOML table, with errors that name file and key."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str):
        self.path, self.table, self.prefix = path, table, prefix
        self.used: set[str] = set()

    def fail(self, key: str, expected: str, got: Any = None) -> ConfigError:
        shown = "" if got is None else f", got {got!r}"
        return ConfigError(f"{self.path}: key '{self.prefix}{key}': expected {expected}{shown}")

    def get(self, key: str, kind: type, expected: str, default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise ConfigError(f"{self.path}: key '{self.prefix}{key}' is missing: expected {expected}")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, expected, value)
        return value

    def text(self, key: str, expected: str = "a string", default: Any = ...) -> str:
        value = self.get(key, str, expected, default)
        if value is not None and isinstance(value, str) and not value.strip() and default is ...:
            raise self.fail(key, expected + " (not empty)", value)
        return value

    def address(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, "an e-mail address like aduan@dukcapil.example.go.id", default)
        if value and ("@" not in value or value.startswith("@") or value.endswith("@") or " " in value):
            raise self.fail(key, "an e-mail address like aduan@dukcapil.example.go.id", value)
        return value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise ConfigError(
                f"{self.path}: unknown key '{self.prefix}{unknown[0]}' "
                "(misspelt? every key is documented in the shipped mailflow.toml)"
            )


def _table(path: Path, data: dict[str, Any], name: str) -> _Reader:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: key '{name}': expected a table [{name}], got {value!r}")
    return _Reader(path, value, name + ".")


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (base / p)


def _secret(r: _Reader, base: Path, env: dict[str, str]) -> Secret:
    if "password" in r.table:
        raise ConfigError(
            f"{r.path}: key '{r.prefix}password' is not allowed: secrets never go in mailflow.toml; "
            f"use '{r.prefix}password_env' (an environment variable name) or "
            f"'{r.prefix}password_file' (a file holding only the password)"
        )
    var = r.get("password_env", str, "the name of an environment variable", None)
    file = r.get("password_file", str, "a path to a file holding the password", None)
    if var and file:
        raise r.fail("password_file", "only one of password_env / password_file")
    if var:
        if var not in env:
            return Secret(None, missing=(
                f"{r.path}: key '{r.prefix}password_env' names the environment variable {var}, "
                "which is not set"
            ))
        return Secret(env[var])
    if file:
        p = _resolve(base, file)
        try:
            return Secret(p.read_text(encoding="utf-8").rstrip("\r\n"))
        except OSError as exc:
            raise ConfigError(
                f"{r.path}: key '{r.prefix}password_file': cannot read {p} ({exc.strerror})"
            ) from None
    return Secret(None)


def _server(r: _Reader, base: Path, env: dict[str, str], default_port: dict[str, int]) -> dict[str, Any]:
    security = r.text("security", "one of tls, starttls, none", "tls")
    if security not in SECURITY_MODES:
        raise r.fail("security", "one of tls, starttls, none", security)
    port = r.get("port", int, "a port number 1-65535", default_port[security])
    if not 0 < port < 65536:
        raise r.fail("port", "a port number 1-65535", port)
    ca = r.get("ca_file", str, "a path to a PEM file of trusted CA certificates", None)
    ca_path = _resolve(base, ca) if ca else None
    if ca_path and not ca_path.is_file():
        raise r.fail("ca_file", "an existing PEM file", str(ca_path))
    timeout = r.get("timeout", float, "seconds, a number > 0", 30.0)
    if timeout <= 0:
        raise r.fail("timeout", "seconds, a number > 0", timeout)
    return dict(
        host=r.text("host", "a host name or address"),
        port=port,
        security=security,
        verify_certificate=r.get("verify_certificate", bool, "true or false", True),
        ca_file=ca_path,
        username=r.get("username", str, "the login name", None),
        password=_secret(r, base, env),
        timeout=timeout,
    )


def load_settings(path: Path | str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read, validate and return the settings. Raises ConfigError naming file and key.

    ``env`` defaults to ``os.environ``; ``MAILFLOW_DATABASE_URL`` there overrides
    ``database.url`` (a PostgreSQL URL may carry a password, which belongs in the
    environment, not in the file).
    """
    env = dict(os.environ if env is None else env)
    path = Path(path or env.get("MAILFLOW_CONFIG") or DEFAULT_CONFIG).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (run `mailflow init` to write a starter config, "
            "or pass --config PATH / set MAILFLOW_CONFIG)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    base = path.parent

    top = _Reader(path, data, "")
    for name in ("office", "imap", "smtp", "database", "limits", "logging"):
        top.used.add(name)
    top.reject_unknown()

    o = _table(path, data, "office")
    tzname = o.text("timezone", "an IANA zone: Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)", "Asia/Jakarta")
    try:
        ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        raise o.fail("timezone", "an IANA zone such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura", tzname) from None
    rules_name = o.text("rules", "a rules file, e.g. rules/bantul-email.toml")
    rules_path = _resolve(base, rules_name)
    if not rules_path.is_file():
        fallback = shipped("rules") / Path(rules_name).name
        if not fallback.is_file():
            raise o.fail("rules", "an existing rules file (see the rules/ folder)", rules_name)
        rules_path = fallback
    complaint_address = o.address("complaint_address")
    pattern = o.text("register_pattern", "a pattern with {year} and {seq}", "ADU/{year}/{seq:06d}")
    try:
        sample = pattern.format(year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise o.fail("register_pattern", "a pattern using only {year} and {seq}, e.g. ADU/{year}/{seq:06d}", pattern) from exc
    if "{seq" not in pattern or sample == pattern.format(year=2026, seq=2):
        raise o.fail("register_pattern", "a pattern containing {seq}", pattern)
    reply_pattern = o.text("reply_address_pattern", "a pattern with {local}, {number}, {token} and {domain}", "{local}+{number}.{token}@{domain}")
    try:
        reply_pattern.format(local="a", number="1", token="t", domain="d")
    except (KeyError, IndexError, ValueError):
        raise o.fail("reply_address_pattern", "a pattern using {local}, {number}, {token}, {domain}", reply_pattern) from None
    templates = o.get("templates", str, "a folder of template overrides", None)
    office = OfficeConfig(
        name=o.text("name", "the office's name"),
        timezone=tzname,
        rules=rules_path,
        complaint_address=complaint_address.lower(),
        alert_address=o.address("alert_address").lower(),
        register_pattern=pattern,
        reply_address_pattern=reply_pattern,
        website=o.get("website", str, "a URL", ""),
        templates=_resolve(base, templates) if templates else None,
        check_authentication_results=o.get("check_authentication_results", bool, "true or false", True),
    )
    o.reject_unknown()

    i = _table(path, data, "imap")
    server = _server(i, base, env, {"tls": 993, "starttls": 143, "none": 143})
    imap = ImapConfig(
        **server,
        folder=i.text("folder", "a mailbox name", "INBOX"),
        processed_folder=i.text("processed_folder", "a mailbox name", "mailflow/processed"),
        quarantine_folder=i.text("quarantine_folder", "a mailbox name", "mailflow/quarantine"),
        poll_interval=i.get("poll_interval", float, "seconds, a number >= 1", 30.0),
        batch_size=i.get("batch_size", int, "a number of messages 1-1000", 100),
        idle=i.get("idle", bool, "true or false", True),
        sent_folder=i.get("sent_folder", str, "a mailbox name, or \"\" for none", ""),
        fetch_bytes=i.get("fetch_bytes", int, "bytes, a number >= 1048576", 4 * 1024 * 1024),
    )
    if imap.poll_interval < 1 and not env.get("MAILFLOW_ALLOW_FAST_POLL"):
        raise i.fail("poll_interval", "seconds, a number >= 1", imap.poll_interval)
    if not 1 <= imap.batch_size <= 1000:
        raise i.fail("batch_size", "a number of messages 1-1000", imap.batch_size)
    if imap.fetch_bytes < 1024 * 1024:
        raise i.fail("fetch_bytes", "bytes, a number >= 1048576", imap.fetch_bytes)
    if imap.sent_folder and imap.sent_folder in (imap.folder, imap.processed_folder, imap.quarantine_folder):
        raise i.fail("sent_folder", "a mailbox other than folder, processed_folder and quarantine_folder",
                     imap.sent_folder)
    if len({imap.folder, imap.processed_folder, imap.quarantine_folder}) != 3:
        raise i.fail("processed_folder", "folder, processed_folder and quarantine_folder to be three different mailboxes")
    if not imap.username:
        raise ConfigError(f"{path}: key 'imap.username' is missing: expected the login of the complaint mailbox")
    i.reject_unknown()

    s = _table(path, data, "smtp")
    server = _server(s, base, env, {"tls": 465, "starttls": 587, "none": 25})
    smtp = SmtpConfig(
        **server,
        from_address=s.address("from_address", office.complaint_address).lower(),
        from_name=s.get("from_name", str, "a display name", office.name),
    )
    s.reject_unknown()

    d = _table(path, data, "database")
    url = d.text("url", "an SQLAlchemy URL such as sqlite:///mailflow.db", "sqlite:///mailflow.db")
    url = env.get("MAILFLOW_DATABASE_URL") or url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        url = "sqlite:///" + str(_resolve(base, url[len("sqlite:///"):]))
    d.reject_unknown()

    lim = _table(path, data, "limits")
    limits = LimitsConfig(
        max_message_bytes=lim.get("max_message_bytes", int, "bytes, a number", 25 * 1024 * 1024),
        auto_replies_per_sender_per_day=lim.get("auto_replies_per_sender_per_day", int, "a number", 3),
        outbox_max_attempts=lim.get("outbox_max_attempts", int, "a number", 8),
        outbox_retry_seconds=lim.get("outbox_retry_seconds", float, "seconds, a number >= 1", 30.0),
        max_mime_parts=lim.get("max_mime_parts", int, "a number of MIME parts >= 10", 1000),
        max_mime_depth=lim.get("max_mime_depth", int, "a nesting depth >= 3", 20),
        max_header_bytes=lim.get("max_header_bytes", int, "bytes, a number >= 8192", 256 * 1024),
    )
    for key, low in (("max_message_bytes", 1024), ("auto_replies_per_sender_per_day", 1),
                     ("outbox_max_attempts", 1), ("outbox_retry_seconds", 1), ("max_mime_parts", 10), ("max_mime_depth", 3),
                     ("max_header_bytes", 8192)):
        if getattr(limits, key) < low:
            raise lim.fail(key, f"a number >= {low}", getattr(limits, key))
    lim.reject_unknown()

    lg = _table(path, data, "logging")
    level = lg.text("level", "one of DEBUG, INFO, WARNING, ERROR", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise lg.fail("level", "one of DEBUG, INFO, WARNING, ERROR", level)
    lg.reject_unknown()

    return Settings(path=path, office=office, imap=imap, smtp=smtp, database_url=url, limits=limits, log_level=level)


def redact_url(url: str) -> str:
    """A database URL fit for logs: the password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing of it rather than a secret
        return "<unparsable database URL>"
