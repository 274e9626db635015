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
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field

from mailflow.config.paths import shipped
from mailflow.config.toml import Address, NonBlank, Source, Table, Timezone, problem, read
from mailflow.errors import ConfigError

T = TypeVar("T", bound=Table)

DEFAULT_CONFIG = "mailflow.toml"
DEFAULT_PORTS = {"imap": {"tls": 993, "starttls": 143, "none": 143}, "smtp": {"tls": 465, "starttls": 587, "none": 25}}


class Secret:
    """A password that never prints itself.

    A secret whose source is missing (an unset variable) only fails when it is
    used, so commands that need no server (queue, show, db) work without it.
    """

    __slots__ = ("_value", "_missing", "source_file", "source_env")

    def __init__(self, value: str | None, missing: str | None = None, source_file: Path | None = None,
                 source_env: str | None = None):
        self._value = value
        self._missing = missing
        self.source_file = source_file  # the password_file it came from, if any (config check looks at its mode)
        self.source_env = source_env  # the environment variable it came from, if any (config check --connect names it)

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
    # The office's key: what its rows are stored under and --office names it by.
    key: str = "default"
    # The monthly report's letterhead and signature block (issue #15 point 5).
    address: str = ""
    city: str = ""
    logo: Path | None = None
    head_title: str = "Kepala Dinas"
    head_name: str = ""
    head_nip: str = ""
    # The language of the command line's messages, "en" or "id" (cliux; mailflow.cli.messages).
    cli_language: str = "en"

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
    # "password", or "oauth2": log in with XOAUTH2 and a token of [oauth2] (OAuth2 mailboxes)
    auth: str = "password"


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
    # Automatic mail (acknowledgements, format explanations, refusals, info
    # requests) one address receives in any 24 hours, however many senders
    # caused it (docs/SECURITY.md, promise 1).
    auto_replies_per_address_per_day: int
    outbox_max_attempts: int
    outbox_retry_seconds: float = 30.0  # the first retry's wait; doubled per failure, capped at an hour
    max_mime_parts: int = 1000
    max_mime_depth: int = 20
    max_header_bytes: int = 256 * 1024
    # More complaints than this in an hour: one alert to the admin (a flood).
    complaints_per_hour_alert: int = 60
    # Internal notices (refused attempts, quarantine alerts, unclear senders) one
    # address receives in an hour before the rest wait for one digest.
    notices_per_hour: int = 3
    # A mail that takes longer than this to handle is quarantined (promise 5).
    seconds_per_mail: float = 10.0


@dataclass(frozen=True)
class SecurityConfig:
    # The authserv-ids of the office's own receiving server(s): only their
    # Authentication-Results headers are believed (docs/SECURITY.md).
    authserv_ids: tuple[str, ...] = ()
    # Staff commands and complainant follow-ups by From: need a DMARC (or
    # aligned DKIM/SPF) pass; on by default once authserv_ids is set.
    require_authentication: bool = False


@dataclass(frozen=True)
class OAuth2Config:
    """``[oauth2]``: how mailflow gets and renews the access tokens its
    XOAUTH2 logins use (docs/MAILBOXES.md). The token set itself is in the
    database, encrypted with ``key``."""

    provider: str  # microsoft | google | generic
    client_id: str
    tenant: str
    scopes: tuple[str, ...]
    flow: str  # device | client_credentials | loopback: what `mailflow auth login` does
    auth_url: str
    token_url: str
    authority: str  # Microsoft: msal's authority (https://login.microsoftonline.com/<tenant>)
    client_secret: Secret = field(repr=False)
    key: Secret = field(repr=False)  # the Fernet key the token set is encrypted with
    key_file: Path | None = None  # where `mailflow auth login` writes a new key if there is none
    ca_file: Path | None = None  # CA certificates trusted for the token endpoint (default: the system's)
    refresh_margin: float = 300.0
    timeout: float = 30.0


@dataclass(frozen=True)
class Settings:
    """One office's settings (``path``: the file its ``[office]`` came from),
    with the deployment's database and log level."""

    path: Path
    office: OfficeConfig
    imap: ImapConfig
    smtp: SmtpConfig
    database_url: str
    limits: LimitsConfig
    log_level: str
    security: SecurityConfig = SecurityConfig()
    oauth2: OAuth2Config | None = None  # [oauth2], for mailboxes with auth = "oauth2"
    # privacy (issue 14): the key(s) sealing personal data at rest; None: stored plain.
    database_key: Secret | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def check_secrets(self) -> None:
        """Raise ConfigError naming the key whose secret is missing (for commands that log in)."""
        if self.imap.auth == "password":
            self.imap.password.check()
        if self.smtp.username and self.smtp.auth == "password":
            self.smtp.password.check()
        if self.oauth2 is not None and self.uses_oauth2:
            self.oauth2.key.check()
            if self.oauth2.flow == "client_credentials":
                self.oauth2.client_secret.check()

    @property
    def uses_oauth2(self) -> bool:
        return "oauth2" in (self.imap.auth, self.smtp.auth)


@dataclass(frozen=True)
class Deployment:
    """Every office of one configuration, on one database."""

    path: Path
    database_url: str
    log_level: str
    offices: tuple[Settings, ...]
    # The folder ``[deployment] offices`` names (None: the config has none, so
    # `mailflow office add` has nowhere to write a new office).
    offices_folder: Path | None = None
    database_key: Secret | None = None  # privacy (issue 14): see Settings.database_key

    def office(self, key: str) -> Settings:
        for s in self.offices:
            if s.office.key == key:
                return s
        raise ConfigError(f"{self.path}: no office {key!r} (offices: {', '.join(self.keys)}; see `mailflow office list`)")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.office.key for s in self.offices)


# ---------------------------------------------------------------- the schema of mailflow.toml


class _Table(Table):
    unknown_hint = "; misspelt? every key is documented in the shipped mailflow.toml"


def _no_password(_value: object) -> object:
    raise problem("is not allowed: secrets never go in mailflow.toml; use 'password_env' (an environment "
                  "variable name) or 'password_file' (a file holding only the password)")


def _register_pattern(value: str) -> str:
    try:
        sample = value.format(year=2026, seq=1)
    except (KeyError, IndexError, ValueError):
        raise ValueError("bad pattern") from None
    if "{seq" not in value or sample == value.format(year=2026, seq=2):
        raise ValueError("no {seq}")
    return value


def _reply_pattern(value: str) -> str:
    try:
        value.format(local="a", number="1", token="t", domain="d")
    except (KeyError, IndexError, ValueError):
        raise ValueError("bad pattern") from None
    return value


def _level(value: str) -> str:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("unknown level")
    return value.upper()


_TRUE_FALSE = "true or false"
_MAILBOX = "a mailbox name"


OFFICE_KEY = re.compile(r"[a-z][a-z0-9-]{0,63}")  # what an office key may be (lower-case letters, digits, '-')
ALL_OFFICES = "all"  # no office's key: `mailflow report --office all` is the roll-up of every office


def _office_key(value: str) -> str:
    if not OFFICE_KEY.fullmatch(value) or value == ALL_OFFICES:
        raise ValueError("bad key")
    return value


class _Office(_Table):
    key: Annotated[str, AfterValidator(_office_key)] = Field(
        "default", description="lower-case letters, digits and '-', e.g. bantul (at most 64; not \"all\")")
    name: NonBlank = Field(description="the office's name")
    timezone: Timezone = "Asia/Jakarta"
    rules: NonBlank = Field(description="a rules file, e.g. rules/bantul-email.toml")
    complaint_address: Address
    alert_address: Address
    register_pattern: Annotated[str, AfterValidator(_register_pattern)] = Field(
        "ADU/{year}/{seq:06d}", description="a pattern using {year} and {seq}, e.g. ADU/{year}/{seq:06d}")
    reply_address_pattern: Annotated[str, AfterValidator(_reply_pattern)] = Field(
        "{local}+{number}.{token}@{domain}", description="a pattern using {local}, {number}, {token}, {domain}")
    website: str = Field("", description="a URL")
    templates: str | None = Field(None, description="a folder of template overrides")
    check_authentication_results: bool = Field(True, description=_TRUE_FALSE)
    # the monthly report's letterhead (kop surat) and signature block (issue #15 point 5)
    address: str = Field("", description="the office's postal address, one line")
    city: str = Field("", description="the town the report is signed in, e.g. Bantul")
    logo: str | None = Field(None, description="a PNG, JPEG or SVG file, relative to this file")
    head_title: str = Field("Kepala Dinas", description="the title of who signs the report")
    head_name: str = Field("", description="the name of who signs the report")
    head_nip: str = Field("", description="their NIP (Nomor Induk Pegawai)")
    # cliux: the language of the command line's messages (MAILFLOW_LANG overrides it).
    cli_language: Literal["en", "id"] = Field("en", description='"en" (English) or "id" (Bahasa Indonesia)')


class _Server(_Table):
    host: NonBlank = Field(description="a host name or address")
    port: int | None = Field(None, ge=1, le=65535, description="a port number 1-65535")
    security: Literal["tls", "starttls", "none"] = Field("tls", description="one of tls, starttls, none")
    verify_certificate: bool = Field(True, description=_TRUE_FALSE)
    ca_file: str | None = Field(None, description="a path to a PEM file of trusted CA certificates")
    username: str | None = Field(None, description="the login name")
    password_env: str | None = Field(None, description="the name of an environment variable")
    password_file: str | None = Field(None, description="a path to a file holding the password")
    password: Annotated[object, BeforeValidator(_no_password)] = Field(None, exclude=True)
    timeout: float = Field(30.0, gt=0, description="seconds, a number > 0")
    auth: Literal["password", "oauth2"] = Field("password", description="one of password, oauth2")


class _Imap(_Server):
    username: NonBlank = Field(description="the login of the complaint mailbox")
    folder: str = Field("INBOX", description=_MAILBOX)
    processed_folder: str = Field("mailflow/processed", description=_MAILBOX)
    quarantine_folder: str = Field("mailflow/quarantine", description=_MAILBOX)
    poll_interval: float = Field(30.0, description="seconds, a number >= 1")
    batch_size: int = Field(100, ge=1, le=1000, description="a number of messages 1-1000")
    idle: bool = Field(True, description=_TRUE_FALSE)
    sent_folder: str = Field("", description='a mailbox name, or "" for none')
    fetch_bytes: int = Field(4 * 1024 * 1024, ge=1024 * 1024, description="bytes, a number >= 1048576")


class _Smtp(_Server):
    from_address: Address | None = None  # default: office.complaint_address
    from_name: str | None = Field(None, description="a display name")  # default: office.name


def _https(value: str) -> str:
    if not value.startswith("https://"):
        raise ValueError("not https")
    return value.rstrip("/")


_URL = Annotated[str, AfterValidator(_https)]
_URL_TEXT = "an https:// URL"


class _OAuth2(_Table):
    provider: Literal["microsoft", "google", "generic"] = Field(description="one of microsoft, google, generic")
    client_id: NonBlank = Field(description="the application (client) id of the app registration")
    tenant: NonBlank = Field("organizations", description="the Microsoft 365 tenant: its id or domain")
    flow: Literal["device", "client_credentials", "loopback"] | None = Field(
        None, description="one of device, client_credentials, loopback")
    scopes: list[NonBlank] | None = Field(None, description="a list of scopes")
    client_secret_env: str | None = Field(None, description="the name of an environment variable")
    client_secret_file: str | None = Field(None, description="a path to a file holding the client secret")
    client_secret: Annotated[object, BeforeValidator(_no_password)] = Field(None, exclude=True)
    authority: _URL | None = Field(None, description=_URL_TEXT)
    auth_url: _URL | None = Field(None, description=_URL_TEXT)
    token_url: _URL | None = Field(None, description=_URL_TEXT)
    ca_file: str | None = Field(None, description="a path to a PEM file of trusted CA certificates")
    key_env: str = Field("MAILFLOW_TOKEN_KEY", description="the name of an environment variable")
    key_file: str | None = Field(None, description="a path to a file holding the token key")
    refresh_margin: float = Field(300.0, ge=0, description="seconds, a number >= 0")
    timeout: float = Field(30.0, gt=0, description="seconds, a number > 0")


class _Database(_Table):
    # May be blank: MAILFLOW_DATABASE_URL overrides it.
    url: str = Field("sqlite:///mailflow.db", description="an SQLAlchemy URL such as sqlite:///mailflow.db")
    # privacy (issue 14): encryption at rest of personal data, on when either is set (docs/PRIVACY.md).
    key_env: str | None = Field(None, description="the name of an environment variable holding the database key")
    key_file: str | None = Field(None, description="a path to a file holding the database key")


class _Limits(_Table):
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024, description="bytes, a number >= 1024")
    auto_replies_per_address_per_day: int = Field(3, ge=1, description="a number >= 1")
    # The name before version 0.2 (it counted by sender); read as the same limit.
    auto_replies_per_sender_per_day: int | None = Field(None, ge=1, description="a number >= 1")
    outbox_max_attempts: int = Field(8, ge=1, description="a number >= 1")
    outbox_retry_seconds: float = Field(30.0, ge=1, description="seconds, a number >= 1")
    max_mime_parts: int = Field(1000, ge=10, description="a number of MIME parts >= 10")
    max_mime_depth: int = Field(20, ge=3, description="a nesting depth >= 3")
    max_header_bytes: int = Field(256 * 1024, ge=8192, description="bytes, a number >= 8192")
    complaints_per_hour_alert: int = Field(60, ge=1, description="a number >= 1")
    notices_per_hour: int = Field(3, ge=1, description="a number >= 1")
    seconds_per_mail: float = Field(10.0, ge=1, description="seconds, a number >= 1")


class _Security(_Table):
    authserv_ids: list[NonBlank] = Field(default_factory=list, description="a list of authserv-ids, e.g. "
                                                                           '["mx.dukcapil.go.id"]')
    require_authentication: bool | None = Field(None, description=_TRUE_FALSE)


class _Logging(_Table):
    level: Annotated[str, AfterValidator(_level)] = Field("INFO", description="one of DEBUG, INFO, WARNING, ERROR")


class _Deployment(_Table):
    offices: str = Field("", description='a folder of office files, e.g. "offices" (each offices/<key>.toml)')


class _SettingsFile(_Table):
    office: _Office | None = Field(None, description="a table [office]")
    imap: _Imap | None = Field(None, description="a table [imap]")
    smtp: _Smtp | None = Field(None, description="a table [smtp]")
    deployment: _Deployment | None = Field(None, description="a table [deployment]")
    database: _Database = Field(default_factory=_Database, description="a table [database]")
    limits: _Limits = Field(default_factory=_Limits, description="a table [limits]")
    logging: _Logging = Field(default_factory=_Logging, description="a table [logging]")
    security: _Security = Field(default_factory=_Security, description="a table [security]")
    oauth2: _OAuth2 | None = Field(None, description="a table [oauth2]")  # OAuth2 mailboxes


class _OfficeFile(_Table):
    """One office of a deployment (offices/<key>.toml): its own mailbox and
    servers, and where it differs from mailflow.toml's limits and security."""

    office: _Office = Field(description="a table [office]")
    imap: _Imap = Field(description="a table [imap]")
    smtp: _Smtp = Field(description="a table [smtp]")
    limits: _Limits = Field(default_factory=_Limits, description="a table [limits]")
    security: _Security = Field(default_factory=_Security, description="a table [security]")
    oauth2: _OAuth2 | None = Field(None, description="a table [oauth2]")  # OAuth2 mailboxes


# ---------------------------------------------------------------- loading


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (base / p)


def _secret(source: Source, name: str, table: _Server, base: Path, env: dict[str, str]) -> Secret:
    return _secret_from(source, name, "password", table.password_env, table.password_file, base, env)


def _secret_from(source: Source, name: str, what: str, var: str | None, file: str | None, base: Path,
                 env: dict[str, str]) -> Secret:
    """The secret ``name.<what>_env`` or ``name.<what>_file`` names (``what``: password, client_secret)."""
    if var and file:
        raise source.fail(f"{name}.{what}_file", f"expected only one of {what}_env / {what}_file")
    if var:
        if var not in env:
            return Secret(None, missing=(
                f"{source.path}: key '{name}.{what}_env' names the environment variable {var}, which is not set"
            ), source_env=var)
        return Secret(env[var], source_env=var)
    if file:
        p = _resolve(base, file)
        try:
            return Secret(p.read_text(encoding="utf-8").rstrip("\r\n"), source_file=p)
        except OSError as exc:
            raise source.fail(f"{name}.{what}_file", f"cannot read {p} ({exc.strerror})") from None
    return Secret(None)


def _server(source: Source, name: str, table: _Server, base: Path, env: dict[str, str]) -> dict[str, Any]:
    ca_path = _resolve(base, table.ca_file) if table.ca_file else None
    if ca_path and not ca_path.is_file():
        raise source.fail(f"{name}.ca_file", f"expected an existing PEM file, got {str(ca_path)!r}")
    return dict(
        host=table.host,
        port=table.port or DEFAULT_PORTS[name][table.security],
        security=table.security,
        verify_certificate=table.verify_certificate,
        ca_file=ca_path,
        username=table.username,
        password=_secret(source, name, table, base, env),
        timeout=table.timeout,
        auth=table.auth,
    )


def _rules_file(source: Source, base: Path, name: str) -> Path:
    """The rules file ``office.rules`` names: beside the config, else the shipped one of that name."""
    path = _resolve(base, name)
    if not path.is_file():
        path = shipped("rules") / Path(name).name
        if not path.is_file():
            raise source.fail("office.rules", f"expected an existing rules file (see the rules/ folder), got {name!r}")
    return path


def load_settings(path: Path | str | None = None, env: dict[str, str] | None = None,
                  office: str | None = None) -> Settings:
    """The settings of one office of the configuration (``office``: its key;
    None: the only office, or the first of several). Raises ConfigError
    naming file and key. See ``load_deployment``."""
    deployment = load_deployment(path, env)
    return deployment.office(office) if office is not None else deployment.offices[0]


def load_deployment(path: Path | str | None = None, env: dict[str, str] | None = None, *,
                    allow_empty: bool = False) -> Deployment:
    """Read, validate and return every office of the configuration. Raises
    ConfigError naming file and key.

    ``mailflow.toml`` with ``[office]``, ``[imap]`` and ``[smtp]`` is one office
    (its key ``office.key``, default "default"). ``[deployment] offices`` names
    a folder whose every ``*.toml`` file is one more office (its own
    ``[office]``, ``[imap]``, ``[smtp]``, and the ``[limits]`` and
    ``[security]`` keys where it differs from mailflow.toml's). The database
    and logging are the deployment's.

    ``env`` defaults to ``os.environ``; ``MAILFLOW_DATABASE_URL`` there overrides
    ``database.url`` (a PostgreSQL URL may carry a password, which belongs in the
    environment, not in the file).
    """
    env = dict(os.environ if env is None else env)
    path = Path(path or env.get("MAILFLOW_CONFIG") or DEFAULT_CONFIG).resolve()
    source, data = read(path, ConfigError, "no such file (run `mailflow init` to write a starter config, "
                                           "or pass --config PATH / set MAILFLOW_CONFIG)")
    file = source.validate(_SettingsFile, data)
    base = path.parent

    url = env.get("MAILFLOW_DATABASE_URL") or file.database.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        url = "sqlite:///" + str(_resolve(base, url[len("sqlite:///"):]))

    key = _database_key(source, file.database, base, env)
    offices: list[Settings] = []
    present = [name for name in ("office", "imap", "smtp") if getattr(file, name) is not None]
    if present and len(present) < 3:
        missing = next(n for n in ("office", "imap", "smtp") if getattr(file, n) is None)
        raise source.fail(missing, "is missing: expected a table (an office needs [office], [imap] and [smtp])")
    if present:
        assert file.office is not None and file.imap is not None and file.smtp is not None
        offices.append(_office_settings(source, path, env, url, file.logging.level, file.office, file.imap,
                                        file.smtp, file.limits, file.security, file.oauth2))
    folder_name = file.deployment.offices if file.deployment is not None else ""
    folder: Path | None = None
    if folder_name:
        folder = _resolve(base, folder_name)
        if not folder.is_dir():
            raise source.fail("deployment.offices", f"expected a folder of office files, got {str(folder)!r}")
        for office_path in sorted(folder.glob("*.toml")):
            office_source, office_data = read(office_path, ConfigError, "no such file")
            of = office_source.validate(_OfficeFile, office_data)
            if "key" not in of.office.model_fields_set:  # offices/sleman.toml is the office "sleman"
                try:
                    of.office.key = _office_key(office_path.stem)
                except ValueError:
                    raise office_source.fail("office.key", "is missing and the file name is no key: expected "
                                             "lower-case letters, digits and '-', e.g. bantul") from None
            offices.append(_office_settings(
                office_source, office_path, env, url, file.logging.level, of.office, of.imap, of.smtp,
                _merged(file.limits, of.limits), _merged(file.security, of.security), of.oauth2))
    if not offices and not allow_empty:  # allow_empty: `mailflow office add` writing the first one
        raise source.fail("office", "is missing: expected [office], [imap] and [smtp], or [deployment] offices "
                                    "naming a folder of office files")
    seen: dict[str, Path] = {}
    for s in offices:
        if s.office.key in seen:
            raise ConfigError(f"{s.path}: key 'office.key': the office key {s.office.key!r} is taken already by "
                              f"{seen[s.office.key]}; give each office its own key")
        seen[s.office.key] = s.path
    mailboxes: dict[tuple[str, str, str], Settings] = {}
    for s in offices:
        box = (s.imap.host.lower(), (s.imap.username or "").lower(), s.imap.folder)
        if box in mailboxes:
            raise ConfigError(f"{s.path}: key 'imap.username': the mailbox {s.imap.username}@{s.imap.host} "
                              f"{s.imap.folder} is office {mailboxes[box].office.key!r}'s already; one mailbox "
                              "belongs to one office")
        mailboxes[box] = s
    if key is not None:
        offices = [replace(o, database_key=key) for o in offices]
    return Deployment(path=path, database_url=url, log_level=file.logging.level, offices=tuple(offices),
                      offices_folder=folder, database_key=key)


def _database_key(source: Source, table: _Database, base: Path, env: dict[str, str]) -> Secret | None:
    """The database key of ``[database] key_env`` / ``key_file`` (None when neither is set)."""
    if table.key_env and table.key_file:
        raise source.fail("database.key_file", "expected only one of key_env / key_file")
    if table.key_env:
        if table.key_env not in env:
            raise source.fail("database.key_env", f"names the environment variable {table.key_env}, which is "
                                                  "not set: personal data cannot be read or written without it")
        return Secret(env[table.key_env], source_env=table.key_env)
    if table.key_file:
        p = _resolve(base, table.key_file)
        try:
            return Secret(p.read_text(encoding="utf-8").strip(), source_file=p)
        except OSError as exc:
            raise source.fail("database.key_file", f"cannot read {p} ({exc.strerror})") from None
    return None


def _merged(shared: T, own: T) -> T:
    """``own`` where the office file set a key, else mailflow.toml's ``shared``."""
    return shared.model_copy(update={key: getattr(own, key) for key in own.model_fields_set})


def _office_settings(source: Source, path: Path, env: dict[str, str], url: str, log_level: str, o: _Office,
                     i: _Imap, s: _Smtp, limits: _Limits, sec: _Security, oauth: _OAuth2 | None = None) -> Settings:
    """One office's settings from its validated tables (``path``: the file they came from)."""
    base = path.parent
    # The schema's keys are the dataclasses' fields: dict(table) hands them over as they are.
    office = OfficeConfig(**{
        **dict(o),
        "rules": _rules_file(source, base, o.rules),
        "complaint_address": o.complaint_address.lower(),
        "alert_address": o.alert_address.lower(),
        "templates": _resolve(base, o.templates) if o.templates else None,
        "logo": _resolve(base, o.logo) if o.logo else None,
    })

    if i.poll_interval < 1 and not env.get("MAILFLOW_ALLOW_FAST_POLL"):
        raise source.fail("imap.poll_interval", f"expected seconds, a number >= 1, got {i.poll_interval!r}")
    if i.sent_folder and i.sent_folder in (i.folder, i.processed_folder, i.quarantine_folder):
        raise source.fail("imap.sent_folder", "expected a mailbox other than folder, processed_folder and "
                                              f"quarantine_folder, got {i.sent_folder!r}")
    if len({i.folder, i.processed_folder, i.quarantine_folder}) != 3:
        raise source.fail("imap.processed_folder",
                          "expected folder, processed_folder and quarantine_folder to be three different mailboxes")
    imap = ImapConfig(**_server(source, "imap", i, base, env),
                      **{key: value for key, value in dict(i).items() if key not in _Server.model_fields})
    smtp = SmtpConfig(
        **_server(source, "smtp", s, base, env),
        from_address=(s.from_address or office.complaint_address).lower(),
        from_name=office.name if s.from_name is None else s.from_name,
    )

    lim = dict(limits)
    old = lim.pop("auto_replies_per_sender_per_day")
    if old is not None:
        lim["auto_replies_per_address_per_day"] = old
    ids = tuple(x.strip().lower() for x in sec.authserv_ids)
    require = bool(ids) if sec.require_authentication is None else sec.require_authentication
    if require and not ids:
        raise source.fail("security.require_authentication",
                          "needs security.authserv_ids: the receiving server whose results are believed")
    if not office.check_authentication_results:
        ids, require = (), False  # the office turned every Authentication-Results check off
    if "oauth2" in (imap.auth, smtp.auth) and oauth is None:
        raise source.fail("oauth2", "is missing: expected a table [oauth2] (imap.auth or smtp.auth is \"oauth2\"; "
                                    "see docs/MAILBOXES.md)")
    if smtp.auth == "oauth2" and imap.auth != "oauth2":
        raise source.fail("smtp.auth", "expected \"password\" while imap.auth is \"password\": the OAuth2 token "
                                       "is the mailbox's, used for IMAP and SMTP both")
    return Settings(path=path, office=office, imap=imap, smtp=smtp, database_url=url,
                    limits=LimitsConfig(**lim), log_level=log_level,
                    security=SecurityConfig(authserv_ids=ids, require_authentication=require),
                    oauth2=_oauth2(source, base, env, oauth) if oauth is not None else None)


def _oauth2(source: Source, base: Path, env: dict[str, str], o: _OAuth2) -> OAuth2Config:
    """``[oauth2]`` with the provider's defaults filled in."""
    from mailflow.core import oauth as defaults

    flow = o.flow or defaults.DEFAULT_FLOW[o.provider]
    if o.provider == "microsoft":
        authority = (o.authority or defaults.MICROSOFT_AUTHORITY) + "/" + o.tenant
        auth_url = o.auth_url or f"{authority}/oauth2/v2.0/authorize"
        token_url = o.token_url or f"{authority}/oauth2/v2.0/token"
    elif o.provider == "google":
        authority = ""
        auth_url = o.auth_url or defaults.GOOGLE_AUTH_URL
        token_url = o.token_url or defaults.GOOGLE_TOKEN_URL
    else:
        authority, auth_url = "", o.auth_url or ""
        if not o.token_url:
            raise source.fail("oauth2.token_url", "is missing: expected the token endpoint's https:// URL "
                                                  "(provider \"generic\" has no default)")
        token_url = o.token_url
    if flow == "device" and o.provider != "microsoft":
        raise source.fail("oauth2.flow", "expected loopback or client_credentials: the device flow is Microsoft's "
                                         "(with msal)")
    if flow == "client_credentials" and o.provider == "google":
        raise source.fail("oauth2.flow", "expected loopback: Google gives no app-only mailbox access")
    if flow == "loopback" and not auth_url:
        raise source.fail("oauth2.auth_url", "is missing: expected the authorization endpoint's https:// URL")
    if flow == "client_credentials" and not (o.client_secret_env or o.client_secret_file):
        raise source.fail("oauth2.client_secret_env", "is missing: client credentials need the app's secret "
                                                      "(client_secret_env or client_secret_file)")
    if o.scopes is not None:
        scopes = tuple(o.scopes)
    elif flow == "client_credentials":
        scopes = (defaults.MICROSOFT_APP_SCOPE,)
    else:
        scopes = defaults.DEFAULT_SCOPES[o.provider]
    if not scopes:
        raise source.fail("oauth2.scopes", "is missing: expected the scopes to ask for (provider \"generic\")")
    secret = _secret_from(source, "oauth2", "client_secret", o.client_secret_env, o.client_secret_file, base, env)
    key_file = _resolve(base, o.key_file) if o.key_file else None
    if key_file is not None:
        try:
            key = Secret(key_file.read_text(encoding="utf-8").strip(), source_file=key_file)
        except FileNotFoundError:
            key = Secret(None, missing=f"{source.path}: key 'oauth2.key_file': {key_file} does not exist (`mailflow "
                                       "auth login` writes a new key there)", source_file=key_file)
        except OSError as exc:
            raise source.fail("oauth2.key_file", f"cannot read {key_file} ({exc.strerror})") from None
    elif o.key_env in env:
        key = Secret(env[o.key_env], source_env=o.key_env)
    else:
        key = Secret(None, missing=f"{source.path}: key 'oauth2.key_env' names the environment variable "
                                   f"{o.key_env}, which is not set (the key the OAuth2 tokens are encrypted with; "
                                   "or set oauth2.key_file)", source_env=o.key_env)
    ca = _resolve(base, o.ca_file) if o.ca_file else None
    if ca is not None and not ca.is_file():
        raise source.fail("oauth2.ca_file", f"expected an existing PEM file, got {str(ca)!r}")
    return OAuth2Config(provider=o.provider, client_id=o.client_id, tenant=o.tenant, scopes=scopes, flow=flow,
                        auth_url=auth_url, token_url=token_url, authority=authority,
                        client_secret=secret, key=key, key_file=key_file, ca_file=ca,
                        refresh_margin=o.refresh_margin, timeout=o.timeout)


def redact_url(url: str) -> str:
    """A database URL fit for logs: the password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing of it rather than a secret
        return "<unparsable database URL>"
