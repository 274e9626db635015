"""What every ``mailflow`` command shares: the Typer app and its groups, the
common options, loading the settings and building the application, the clock,
and printing tables and times.

The clock: commands take "now" from the Click context object (a
``CliContext``), so a caller that runs the CLI in-process -- a test on a fake
clock -- passes ``obj=CliContext(clock=...)``; otherwise it is the wall clock.
The language of what is said to a person (``messages``) comes the same way,
else from ``MAILFLOW_LANG`` or the configuration's ``[office] cli_language``.

``--json``: a command that prints a result prints it, with ``--json``, as one
JSON document on stdout (``emit_json``), personal data masked as in its text
unless ``--reveal``. An error is the same with or without ``--json``: one
``mailflow: error: ...`` line on stderr and a non-zero exit code (a command
that found problems, as ``config check``, prints its document, then exits
non-zero).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from mailflow.cli import messages
from mailflow.config.settings import Deployment, Settings, load_deployment, load_settings
from mailflow.core.text import clean
from mailflow.errors import MailflowError
from mailflow.store.models import utcnow

app = typer.Typer(
    help="mailflow: an email-driven complaint desk for Disdukcapil offices.\n\n"
    "Citizens e-mail complaints (aduan); mailflow fetches them over IMAP, checks the "
    "required format, registers them, acknowledges them, forwards them to the SOP's "
    "role mailboxes, and logs every hop.\n\n"
    "Every command that prints a result takes --json (one JSON document on stdout); errors are one "
    "'mailflow: error: ...' line on stderr and a non-zero exit code, with or without --json. Messages are in "
    "English, or in Bahasa Indonesia with MAILFLOW_LANG=id or \\[office] cli_language = \"id\" in mailflow.toml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
rules_app = typer.Typer(help="Rules (SOP ladder) commands.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(config_app, name="config")

ConfigOpt = Annotated[
    Path | None,
    # readable=False: mailflow says itself what is wrong with the file, as one line (main).
    typer.Option("--config", "-c", help="Path to mailflow.toml (default ./mailflow.toml, or $MAILFLOW_CONFIG).",
                 envvar="MAILFLOW_CONFIG", show_envvar=True, readable=False),
]
RevealOpt = Annotated[bool, typer.Option("--reveal", help="Show NIK/KK numbers in full (personal data, UU 27/2022).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")]
OfficeOpt = Annotated[str | None, typer.Option(
    "--office", help="Only this office (its key, see `mailflow office list`); default: every office of the config.")]


@dataclass(frozen=True)
class CliContext:
    """What an in-process caller hands the commands (``obj=`` of Click's ``main``)."""

    clock: Callable[[], datetime] = utcnow
    # "en" or "id" (messages.LANGUAGES); None: MAILFLOW_LANG, else the configuration's.
    language: str | None = None


def clock(ctx: typer.Context) -> Callable[[], datetime]:
    """The clock of this invocation: the context object's, else the wall clock."""
    obj = ctx.find_object(CliContext)
    return obj.clock if obj is not None else utcnow


def lang(ctx: typer.Context) -> str:
    """The language of this invocation (``messages.language``), found once."""
    obj = ctx.find_object(CliContext)
    if obj is not None and obj.language is not None:
        return obj.language
    root = ctx.find_root()
    if "mailflow.language" not in root.meta:
        root.meta["mailflow.language"] = messages.language(os.environ, ctx.params.get("config"))
    return root.meta["mailflow.language"]


def msg(ctx: typer.Context, key: str, **fields: object) -> str:
    """The line ``key`` of ``messages`` in this invocation's language."""
    return messages.text(lang(ctx), key, **fields)


def main(args: list[str] | None = None, obj: CliContext | None = None) -> None:
    """Console-script entry point: user-fixable errors become one line and exit
    2. Exception types decide what a user sees: a ``MailflowError`` says its
    fix; a database that cannot be used (unreachable, read-only, corrupt) and
    a file that cannot be read or written (permissions) are said the same way,
    here, in one place, in the admin's language; anything else is a bug and
    keeps its traceback."""
    obj = obj or CliContext()
    if obj.language is None:
        words = sys.argv[1:] if args is None else args
        obj = replace(obj, language=messages.language(os.environ, messages.config_in(words)))
    language = obj.language
    assert language is not None
    try:
        app(args=args, obj=obj)
    except MailflowError as exc:
        _fail(language, str(exc))
    except OSError as exc:
        _fail(language, describe_os_error(exc, language))
    except Exception as exc:
        from mailflow.store.db import database_problem

        found = database_problem(exc)
        if found is None:
            raise
        case, fields = found
        _fail(language, messages.text(language, f"db.{case}", **fields))


def _fail(language: str, line: str) -> None:
    typer.echo(messages.text(language, "error.line", line=line), err=True)
    sys.exit(2)


def describe_os_error(exc: OSError, language: str = messages.ENGLISH) -> str:
    """One line for a file mailflow could not read or write, naming it and the fix."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:  # not a file: a connection, say
        return messages.text(language, "error.connection", kind=type(exc).__name__, reason=reason)
    name = exc.filename
    if isinstance(exc, PermissionError):
        return messages.text(language, "error.permission", name=name, reason=reason)
    if isinstance(exc, FileNotFoundError):
        return messages.text(language, "error.not_found", name=name, reason=reason)
    return messages.text(language, "error.file", name=name, reason=reason)


def emit_json(data: Any) -> None:
    """Print ``data`` as the one JSON document of a ``--json`` result (times as
    ISO 8601), without terminal control characters (``say``)."""
    say(json.dumps(data, ensure_ascii=False, indent=2, default=_iso))


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def say(text: str) -> None:
    """Print a line of what mail brought in (names, subjects, reasons): without
    control characters or bidirectional overrides, which could rewrite the
    terminal or reorder what the reader sees (docs/SECURITY.md)."""
    typer.echo(clean(text))


def settings_from(config: Path | None, office: str | None = None) -> Settings:
    """One office's settings: ``office`` (a key), else the configuration's only (or first) office."""
    return load_settings(config, office=office)


def deployment_from(config: Path | None) -> Deployment:
    """Every office of the configuration."""
    return load_deployment(config)


def chosen(deployment: Deployment, office: str | None) -> tuple[Settings, ...]:
    """The offices a command looks at: ``office`` (a key; an unknown one is a
    ConfigError listing the keys), else every office of the configuration."""
    return (deployment.office(office),) if office is not None else deployment.offices


def many(deployment: Deployment) -> bool:
    """Whether listings show an office column: only for a configuration of
    several offices, so the output of one office stays as it always was."""
    return len(deployment.offices) > 1


def desks(ctx: typer.Context, deployment: Deployment, offices: tuple[Settings, ...] | None = None):
    """The desks of ``offices`` (default: every office) on one shared engine,
    on this invocation's clock: a ``runner.fleet.Fleet`` (``.apps`` by key;
    ``close()`` it)."""
    from mailflow.runner.fleet import Fleet

    keys = tuple(s.office.key for s in offices) if offices is not None else None
    return Fleet.build(deployment, clock=clock(ctx), offices=keys)


def build(ctx: typer.Context, settings: Settings, check_schema: bool = True):
    """The application for ``settings``, on this invocation's clock."""
    from mailflow.runner.app import build as build_app

    return build_app(settings, clock=clock(ctx), check_schema=check_schema)


def local(dt: datetime | None, settings: Settings) -> str:
    return dt.astimezone(settings.office.tz).strftime("%Y-%m-%d %H:%M") if dt else "-"


def remaining(due: datetime | None, now: datetime, calendar) -> str:
    """The working time left until ``due`` ("sisa 1 hari 2 jam"), or how late
    it is ("terlambat 2 hari 3 jam"), by the office calendar: a day is a
    working day of that calendar (its own hours, not 24 h), the rest its
    working hours (and minutes, under a day)."""
    if due is None:
        return "-"
    if due >= now:
        return "sisa " + working_span(now, due, calendar)
    return "terlambat " + working_span(due, now, calendar)


def working_span(a: datetime, b: datetime, calendar) -> str:
    """The working time from ``a`` to ``b`` (a <= b) in words: whole working
    days (the same clock time N working days later, ``add_working_days``),
    then the working hours after them ("2 hari 3 jam"); under a day, hours
    and minutes ("1 jam 5 menit", "20 menit")."""
    days = _whole_working_days(a, b, calendar)
    start = calendar.add_working_days(a, days) if days else a
    hours, minutes = divmod(calendar.working_minutes_between(start, b), 60)
    if days:
        return f"{days} hari" + (f" {hours} jam" if hours else "")
    if hours:
        return f"{hours} jam" + (f" {minutes} menit" if minutes else "")
    return f"{minutes} menit"


def _whole_working_days(a: datetime, b: datetime, calendar) -> int:
    """The most working days n with ``add_working_days(a, n) <= b`` (doubling,
    then halving: a few calendar calls for a complaint years late)."""
    if calendar.add_working_days(a, 1) > b:
        return 0
    low, high = 1, 2
    while calendar.add_working_days(a, high) <= b:
        low, high = high, high * 2
    while high - low > 1:  # add_working_days(a, low) <= b < add_working_days(a, high)
        middle = (low + high) // 2
        if calendar.add_working_days(a, middle) <= b:
            low = middle
        else:
            high = middle
    return low


def terminal_width() -> int:
    """The columns of the terminal ($COLUMNS, else the terminal's), 100 when
    output is not a terminal (a pipe, a file, a test)."""
    return shutil.get_terminal_size((100, 24)).columns


def table(headers: list[str], rows: list[list[str]], *, fit: bool = False,
          shrink: Mapping[str, int] | None = None, optional: Sequence[str] = (),
          language: str = messages.ENGLISH) -> None:
    """Print an aligned table. With ``fit``, it fits the terminal
    (``terminal_width``): the ``optional`` columns are left out, in that
    order, while even the ``shrink`` columns at their least width (header ->
    columns) would not fit; then the widest ``shrink`` columns are cut, with an
    ellipsis, until the table fits. What was left out is said on stderr, so
    the rows on stdout stay rows."""
    rows = [[clean(c) for c in row] for row in rows]
    keep = list(range(len(headers)))
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows)]) for i in keep]
    if fit:
        width, least = terminal_width(), dict(shrink or {})
        floor = [min(widths[i], max(least.get(headers[i], widths[i]), len(headers[i]))) for i in keep]

        def total(columns: list[int], w: list[int]) -> int:
            return sum(w[i] for i in columns) + 2 * (len(columns) - 1)

        left_out = []
        for name in optional:
            if total(keep, floor) <= width:
                break
            keep.remove(headers.index(name))
            left_out.append(name)
        while total(keep, widths) > width:
            cut = [i for i in keep if widths[i] > floor[i]]
            if not cut:
                break
            widest = max(cut, key=lambda i: widths[i] - floor[i])
            widths[widest] -= 1
        rows = [[_cut(row[i], widths[i]) for i in range(len(headers))] for row in rows]
        if left_out:
            typer.echo(messages.text(language, "table.left_out", columns=", ".join(left_out), width=width),
                       err=True)
    line = "  ".join(headers[i].ljust(widths[i]) for i in keep)
    typer.echo(line.rstrip())
    typer.echo("  ".join("-" * widths[i] for i in keep))
    for row in rows:
        typer.echo("  ".join(row[i].ljust(widths[i]) for i in keep).rstrip())


def _cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= width else text[:max(width - 1, 0)].rstrip() + "…"
