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
from dataclasses import dataclass, field
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

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def check_secrets(self) -> None:
        """Raise ConfigError naming the key whose secret is missing (for commands that log in)."""
        self.imap.password.check()
        if self.smtp.username:
            self.smtp.password.check()


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


class _Database(_Table):
    # May be blank: MAILFLOW_DATABASE_URL overrides it.
    url: str = Field("sqlite:///mailflow.db", description="an SQLAlchemy URL such as sqlite:///mailflow.db")


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


class _OfficeFile(_Table):
    """One office of a deployment (offices/<key>.toml): its own mailbox and
    servers, and where it differs from mailflow.toml's limits and security."""

    office: _Office = Field(description="a table [office]")
    imap: _Imap = Field(description="a table [imap]")
    smtp: _Smtp = Field(description="a table [smtp]")
    limits: _Limits = Field(default_factory=_Limits, description="a table [limits]")
    security: _Security = Field(default_factory=_Security, description="a table [security]")


# ---------------------------------------------------------------- loading


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (base / p)


def _secret(source: Source, name: str, table: _Server, base: Path, env: dict[str, str]) -> Secret:
    var, file = table.password_env, table.password_file
    if var and file:
        raise source.fail(f"{name}.password_file", "expected only one of password_env / password_file")
    if var:
        if var not in env:
            return Secret(None, missing=(
                f"{source.path}: key '{name}.password_env' names the environment variable {var}, which is not set"
            ), source_env=var)
        return Secret(env[var], source_env=var)
    if file:
        p = _resolve(base, file)
        try:
            return Secret(p.read_text(encoding="utf-8").rstrip("\r\n"), source_file=p)
        except OSError as exc:
            raise source.fail(f"{name}.password_file", f"cannot read {p} ({exc.strerror})") from None
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

    offices: list[Settings] = []
    present = [name for name in ("office", "imap", "smtp") if getattr(file, name) is not None]
    if present and len(present) < 3:
        missing = next(n for n in ("office", "imap", "smtp") if getattr(file, n) is None)
        raise source.fail(missing, "is missing: expected a table (an office needs [office], [imap] and [smtp])")
    if present:
        assert file.office is not None and file.imap is not None and file.smtp is not None
        offices.append(_office_settings(source, path, env, url, file.logging.level, file.office, file.imap,
                                        file.smtp, file.limits, file.security))
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
                _merged(file.limits, of.limits), _merged(file.security, of.security)))
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
    return Deployment(path=path, database_url=url, log_level=file.logging.level, offices=tuple(offices),
                      offices_folder=folder)


def _merged(shared: T, own: T) -> T:
    """``own`` where the office file set a key, else mailflow.toml's ``shared``."""
    return shared.model_copy(update={key: getattr(own, key) for key in own.model_fields_set})


def _office_settings(source: Source, path: Path, env: dict[str, str], url: str, log_level: str, o: _Office,
                     i: _Imap, s: _Smtp, limits: _Limits, sec: _Security) -> Settings:
    """One office's settings from its validated tables (``path``: the file they came from)."""
    base = path.parent
    # The schema's keys are the dataclasses' fields: dict(table) hands them over as they are.
    office = OfficeConfig(**{
        **dict(o),
        "rules": _rules_file(source, base, o.rules),
        "complaint_address": o.complaint_address.lower(),
        "alert_address": o.alert_address.lower(),
        "templates": _resolve(base, o.templates) if o.templates else None,
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
    return Settings(path=path, office=office, imap=imap, smtp=smtp, database_url=url,
                    limits=LimitsConfig(**lim), log_level=log_level,
                    security=SecurityConfig(authserv_ids=ids, require_authentication=require))


def redact_url(url: str) -> str:
    """A database URL fit for logs: the password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing of it rather than a secret
        return "<unparsable database URL>"
