"""Render the plain-text mail mailflow sends, from Jinja2 templates.

A template is ``<dir>/<name>.txt.j2``, e.g. ``templates/citizen/acknowledgement.txt.j2``.
Several folders can be given; the first that has a template wins, so an
office's override folder goes before the shipped ``templates/`` folder. An
override can replace a whole mail or only a shared piece (``_macros.txt.j2``
holds the signature and the footer).

Conventions (see templates/README.md):

- the subject is a top-level ``{% set subject %}...{% endset %}`` in the
  template; it is folded to a single line;
- the body is everything else the template outputs, with leading blank lines
  removed and exactly one trailing newline;
- a variable the caller did not pass is an error (``StrictUndefined``), never
  an empty string in a citizen's mail;
- no HTML escaping: the mail is plain text.

Filters added for templates: ``masked`` (NIK/KK as ``320101******0001``),
``mask_ids`` (every NIK/KK-like number in a text masked),
``localtime`` / ``wib`` (``Senin, 23 November 2026 14.05 WIB``),
``duration`` (``2 jam 30 menit``), ``percent`` (``85,7%``) and ``number``
(``1.234``).

``PageRenderer`` renders HTML pages (``<name>.html.j2``, e.g. the monthly
report) from the same folders with the same filters, but with HTML
autoescaping on: every value is escaped unless a template marks it safe. The
two are separate environments, so the mail templates stay unescaped plain text.

This module is pure: it reads template files and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import markupsafe
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, pass_context

from mailflow.core.identity import mask_id, mask_ids_in_text
from mailflow.core.text import clean
from mailflow.errors import MailflowError

SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"
DEFAULT_TIMEZONE = "Asia/Jakarta"

DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")  # Monday first, like date.weekday()
MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)
# Indonesia's three official time zones. Any other zone is shown as its UTC offset.
ZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


class TemplateError(MailflowError):
    """A mail template is missing, invalid, or needs a variable it was not given.

    The message names the template (and, where known, the file, the line and
    the variable) so that whoever edited it can fix it.
    """


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _environment(template_dirs: Sequence[Path], *, autoescape: bool) -> tuple[tuple[Path, ...], Environment]:
    """A Jinja2 environment over ``template_dirs`` (the first folder wins) with mailflow's filters."""
    dirs = [Path(d) for d in template_dirs]
    if not dirs:
        raise TemplateError("no template folder given")
    for d in dirs:
        if not d.is_dir():
            raise TemplateError(
                f"template folder {d} does not exist; create it or fix office.templates in mailflow.toml"
            )
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d), encoding="utf-8") for d in dirs]),
        undefined=StrictUndefined,
        autoescape=autoescape,
        # Every value a template prints: control characters and bidirectional
        # overrides from a sender's mail never reach a reader (core/text.py).
        finalize=_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["masked"] = masked
    env.filters["mask_ids"] = mask_ids
    env.filters["localtime"] = _localtime_filter
    env.filters["wib"] = _localtime_filter
    env.filters["duration"] = duration
    env.filters["percent"] = percent
    env.filters["number"] = number
    return tuple(dirs), env


def _finalize(value: Any) -> Any:
    # Markup is the page's own HTML (marked safe by a template or filter), not a sender's text.
    return clean(value) if isinstance(value, str) and not isinstance(value, markupsafe.Markup) else value


def _load(env: Environment, name: str, filename: str, where: str) -> jinja2.Template:
    try:
        return env.get_template(filename)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"template {name}: {filename} not found in {where}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {name}: syntax error in {exc.filename or filename}, line {exc.lineno}: {exc.message}"
        ) from None
    except jinja2.TemplateError as exc:  # pragma: no cover - any other load problem
        raise TemplateError(f"template {name}: {exc}") from None


def _module(template: jinja2.Template, name: str, context: dict[str, Any], where: str):
    """Run ``template``; every failure becomes a TemplateError naming the template (and line)."""
    try:
        module = template.make_module(context)
        return module, str(module)
    except jinja2.UndefinedError as exc:
        raise TemplateError(_undefined_message(name, exc)) from None
    except jinja2.TemplateNotFound as exc:  # an {% import %} or {% include %} of a missing file
        raise TemplateError(
            f"template {name}{_where(exc)}: it uses {exc.name}, which is not found in {where}"
        ) from None
    except TemplateError as exc:  # raised by one of our filters
        raise TemplateError(f"template {name}{_where(exc)}: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {name}{_where(exc)}: {exc}") from None


class Renderer:
    """Jinja2 templates from one or more folders; the first folder wins."""

    def __init__(self, template_dirs: Sequence[Path]):
        self.template_dirs, self.env = _environment(template_dirs, autoescape=False)

    # ------------------------------------------------------------------ API
    def render(self, name: str, **context: Any) -> Rendered:
        """Render template ``name`` (e.g. ``"citizen/acknowledgement"``) with ``context``."""
        filename = name if name.endswith(SUFFIX) else name + SUFFIX
        template = _load(self.env, name, filename, self._where())
        module, body = _module(template, name, context, self._where())

        raw_subject = getattr(module, "subject", None)
        if raw_subject is None:
            raise TemplateError(
                f"template {name} ({template.filename}) sets no subject; "
                "add {% set subject %}...{% endset %} at the top of the template"
            )
        subject = " ".join(str(raw_subject).split())
        if not subject:
            raise TemplateError(f"template {name} ({template.filename}): the subject is empty")
        body = _LEADING_BLANK_LINES.sub("", body).rstrip() + "\n"
        return Rendered(subject=subject, body=body)

    def _where(self) -> str:
        return ", ".join(str(d) for d in self.template_dirs)

    def names(self) -> list[str]:
        """Every mail template available (in any folder), without the suffix, sorted.

        Files whose name starts with ``_`` (shared macros) are not mail templates.
        """
        found = set()
        for template in self.env.list_templates():
            if not template.endswith(SUFFIX):
                continue
            base = template.rsplit("/", 1)[-1]
            if base.startswith("_"):
                continue
            found.add(template[: -len(SUFFIX)])
        return sorted(found)


class PageRenderer:
    """HTML pages (``<name>.html.j2``) from the template folders, autoescaped.

    The same folders, loader order and filters as ``Renderer``, but a separate
    environment with autoescaping on, so a value such as a category name with
    ``<`` in it is shown, never interpreted. Pure: reads template files only.
    """

    def __init__(self, template_dirs: Sequence[Path]):
        self.template_dirs, self.env = _environment(template_dirs, autoescape=True)

    def render(self, name: str, **context: Any) -> str:
        """The page ``name`` (e.g. ``"report/monthly"``) rendered with ``context``: HTML text ending in one newline."""
        filename = name if name.endswith(HTML_SUFFIX) else name + HTML_SUFFIX
        where = ", ".join(str(d) for d in self.template_dirs)
        _, page = _module(_load(self.env, name, filename, where), name, context, where)
        return page.rstrip() + "\n"


_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


def _template_frames(exc: BaseException) -> list[tuple[str, int]]:
    """(template file, template line) of each template frame in ``exc``'s traceback, outermost first.

    Compiled templates run as Python code whose line numbers are not the
    template's; Jinja2 keeps the template in the frame's globals and maps the
    line back (as its own traceback rewriting does).
    """
    frames: list[tuple[str, int]] = []
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            where = (template.name or template.filename or "?", template.get_corresponding_lineno(tb.tb_lineno))
            if not frames or frames[-1] != where:
                frames.append(where)
        tb = tb.tb_next
    return frames


def _where(exc: BaseException) -> str:
    frames = _template_frames(exc)
    if not frames:
        return ""
    return " (" + " -> ".join(f"{file} line {line}" for file, line in frames) + ")"


_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_UNDEFINED_ATTR = re.compile(r"has no attribute '([^']+)'")


def _undefined_message(name: str, exc: jinja2.UndefinedError) -> str:
    text = exc.message or str(exc)
    m = _UNDEFINED_NAME.search(text)
    if m:
        what = f"undefined variable '{m.group(1)}'"
    else:
        m = _UNDEFINED_ATTR.search(text)
        what = f"undefined variable: missing attribute '{m.group(1)}' ({text})" if m else f"undefined variable ({text})"
    return f"template {name}{_where(exc)}: {what}; pass it in the context or remove it from the template"


# ---------------------------------------------------------------------- filters
def masked(value: Any) -> str:
    """A NIK or KK number with its middle hidden: ``320101******0001``."""
    if value is None or value == "":
        return ""
    return mask_id(str(value))


def mask_ids(text: Any) -> str:
    """``text`` with every NIK/KK-like 16-digit number in it masked."""
    return mask_ids_in_text("" if text is None else str(text))


def zone_label(tz: tzinfo, moment: datetime) -> str:
    """WIB/WITA/WIT for Indonesia's zones, else the UTC offset (``UTC+05.30``)."""
    key = getattr(tz, "key", None)
    if key in ZONE_ABBREVIATIONS:
        return ZONE_ABBREVIATIONS[key]
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}.{mins:02d}"


def localtime(value: datetime | None, tz: str | tzinfo = DEFAULT_TIMEZONE) -> str:
    """An aware datetime in ``tz``, Indonesian style: ``Senin, 23 November 2026 14.05 WIB``.

    ``None`` gives ``-``; a naive datetime is an error (mailflow stores aware UTC times).
    """
    if value is None:
        return "-"
    if not isinstance(value, datetime):
        raise TemplateError(f"localtime expects a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TemplateError(f"localtime expects an aware datetime, got the naive {value.isoformat()}")
    if isinstance(tz, str):
        try:
            zone: tzinfo = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise TemplateError(f"unknown time zone {tz!r}; use an IANA name such as Asia/Jakarta") from None
    else:
        zone = tz
    local = value.astimezone(zone)
    return (
        f"{DAYS[local.weekday()]}, {local.day} {MONTHS[local.month - 1]} {local.year} "
        f"{local.hour:02d}.{local.minute:02d} {zone_label(zone, local)}"
    )


@pass_context
def _localtime_filter(context, value: datetime | None, tz: str | tzinfo | None = None) -> str:
    """``{{ dt | localtime }}`` uses ``office.timezone``; ``{{ dt | localtime("Asia/Makassar") }}`` another zone."""
    if tz is None:
        office = context.get("office")
        tz = getattr(office, "timezone", None) or DEFAULT_TIMEZONE
    return localtime(value, tz)


def percent(share: Any, decimals: int = 1) -> str:
    """A share 0..1 as an Indonesian percentage: ``0.857`` -> ``85,7%``; ``None`` -> ``-``."""
    if share is None:
        return "-"
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise TemplateError(f"percent expects a share between 0 and 1, got {share!r}")
    return f"{share * 100:.{decimals}f}".replace(".", ",") + "%"


def number(value: Any) -> str:
    """A whole number with Indonesian thousands separators: ``1234567`` -> ``1.234.567``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateError(f"number expects a whole number, got {value!r}")
    return f"{value:,}".replace(",", ".")


def duration(minutes: Any) -> str:
    """Working minutes in words: ``30 menit``, ``1 jam``, ``2 jam 30 menit``."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise TemplateError(f"duration expects a number of minutes, got {minutes!r}")
    if minutes < 0:
        raise TemplateError(f"duration expects a non-negative number of minutes, got {minutes!r}")
    total = int(round(minutes))
    hours, mins = divmod(total, 60)
    if hours and mins:
        return f"{hours} jam {mins} menit"
    if hours:
        return f"{hours} jam"
    return f"{mins} menit"
