"""The one reader of mailflow's TOML files: mailflow.toml, rules/*.toml, the complaint format.

A loader reads its file with ``read``, checks the shape of the data against a
schema (a ``Table`` subclass: pydantic models, strict, unknown keys refused)
with ``Source.validate``, and does what is particular to its file (cross-
references: a step's role must exist, ...) with ``Source.fail``. Every error is
one exception of the loader's type (ConfigError, RulesError) with one message:

    <file>: key '<key>': <problem>

where <key> is dotted, with list indexes (``steps[3].role``), and <problem>
says what is expected or how to fix it:

- a value of the wrong type or out of range: ``expected <description>, got <value>``,
  the description being the key's ``Field(description=...)``, or the
  ``Expect(...)`` of its type (a list's items, a table's values), or else
  that of the nearest enclosing key;
- a missing key: ``is missing: expected <description>``;
- an unknown key: ``unknown key (known: <the table's keys>)<the table's unknown_hint>``;
- anything a validator finds: its own words, raised as ``problem(...)``.

The schemas only describe and check the files; the loaders turn them into
the frozen dataclasses the rest of mailflow uses.
"""

from __future__ import annotations

import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from mailflow.errors import MailflowError

T = TypeVar("T", bound="Table")
_PROBLEM = "mailflow"  # the pydantic error type of problem()
_KEY = "[key]"  # pydantic's location part for a dict key that failed its own check


@dataclass(frozen=True)
class Expect:
    """``Annotated`` metadata of a type: what a value of it should be, for messages.

    Not ``Field(description=...)`` inside a shared ``Annotated`` alias:
    pydantic 2.5 merges a field's default into that very FieldInfo, so
    ``sop: Stripped = ""`` made every other ``Stripped`` key optional.
    """

    text: str


class Table(BaseModel):
    """A TOML table's schema: strict types (no "1" for 1, no true for 1), unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid")
    unknown_hint: ClassVar[str] = ""  # appended to "unknown key (known: ...)"


def problem(message: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """The error a validator raises to say ``message`` as it is, about its value
    or, with ``at``, about a key inside it (``at=(0,)``: the first item)."""
    return PydanticCustomError(_PROBLEM, "{message}", {"message": message, "at": at})


def key_of(loc: tuple[str | int, ...] | str) -> str:
    """``("steps", 3, "role")`` -> ``"steps[3].role"``; a string is already a key."""
    if isinstance(loc, str):
        return loc
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Source:
    """Where data came from (a file, or the file a table was read from) and the
    exception type its loader raises."""

    path: Path | str
    error: type[MailflowError]

    def fail(self, key: tuple[str | int, ...] | str, message: str) -> MailflowError:
        """The error for a problem at ``key`` (a location tuple or a dotted key): raise it."""
        return self.error(f"{self.path}: key '{key_of(key)}': {message}")

    def validate(self, schema: type[T], data: Any, at: tuple[str | int, ...] = (), expected: str = "a table") -> T:
        """``data`` checked against ``schema``. ``at``: where ``data`` sits in the
        file (``("calendar",)``), ``expected``: what ``data`` itself should be.
        Raises the first problem found, in the order of the schema's fields."""
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
        loc, message = _explain(schema, first, expected)
        raise self.fail((*at, *loc), message) from None


def read(path: Path, error: type[MailflowError], missing: str) -> tuple[Source, dict[str, Any]]:
    """Read a TOML file: its Source and its top-level table.

    ``missing`` is what to say when the file does not exist. A file that
    cannot be read, is not UTF-8 or is not TOML is one ``error`` naming it.
    """
    source = Source(path, error)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}): "
                    "save the file as UTF-8") from None
    except PermissionError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror}): let the user running mailflow read it "
                    f"(it is kept owner-only: `chown` it to that user, `chmod 600` it)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        return source, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


# ---------------------------------------------------------------- value types shared by the schemas


def _stripped(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value.strip()


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown zone") from None
    return value


def _address(value: str) -> str:
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise ValueError("not an address")
    return value


# A string with something in it, surrounding blanks dropped.
Stripped = Annotated[str, AfterValidator(_stripped), Expect("a non-empty string")]
# A string with something in it, kept as written.
NonBlank = Annotated[str, AfterValidator(_not_blank), Expect("a non-empty string")]
Timezone = Annotated[str, AfterValidator(_zone), Expect(
    "an IANA zone: Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)")]
Address = Annotated[str, AfterValidator(_address), Expect("an e-mail address like aduan@dukcapil.example.go.id")]


# ---------------------------------------------------------------- pydantic errors -> our words


def _explain(schema: type[Table], error: Mapping[str, Any], expected: str) -> tuple[tuple[str | int, ...], str]:
    """The location and the problem of one pydantic error, in the words above."""
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == _PROBLEM:
        return tuple(p for p in loc if p != _KEY) + tuple(ctx["at"]), ctx["message"]
    owner, described = _describe(schema, loc, expected)
    loc = tuple(p for p in loc if p != _KEY)
    if error["type"] == "missing":
        return loc, f"is missing: expected {described}"
    if error["type"] == "extra_forbidden" and owner is not None:
        known = ", ".join(name for name, f in owner.model_fields.items() if not f.exclude)
        return loc, f"unknown key (known: {known}){owner.unknown_hint}"
    return loc, f"expected {described}, got {error['input']!r}"


def _describe(schema: type[Table], loc: tuple[str | int, ...], expected: str) -> tuple[type[Table] | None, str]:
    """Follow ``loc`` through the schema's annotations: the Table whose key the
    last part is, and the description nearest to the end of ``loc``."""
    owner: type[Table] | None = None
    hint: Any = schema
    for part in (*loc, None):
        hint, expected = _unwrap(hint, expected)
        if part is None:
            break
        if isinstance(hint, type) and issubclass(hint, Table):
            field = hint.model_fields.get(part) if isinstance(part, str) else None
            owner = hint
            if field is None:  # an unknown key
                break
            hint = _field_hint(field)
            continue
        args = get_args(hint)
        if get_origin(hint) is dict and len(args) == 2:
            hint = args[0] if part == _KEY else args[1]
        elif get_origin(hint) in (list, tuple) and args:
            hint = args[0]
        else:
            break
    return owner, expected


def _field_hint(field: FieldInfo) -> Any:
    """A model field as one annotation again (pydantic keeps its metadata apart);
    the field's own description comes last, so it wins over its type's."""
    metadata = [*field.metadata]
    if field.description:
        metadata.append(Expect(field.description))
    return Annotated[(field.annotation, *metadata)] if metadata else field.annotation


def _unwrap(hint: Any, expected: str) -> tuple[Any, str]:
    """Strip Annotated and Optional off ``hint``, picking up a description on the way."""
    while True:
        if get_origin(hint) is Annotated:
            hint, *metadata = get_args(hint)
            for item in metadata:
                if isinstance(item, Expect):
                    expected = item.text
        elif get_origin(hint) in (Union, types.UnionType):
            members = [a for a in get_args(hint) if a is not type(None)]
            if len(members) != 1:
                return hint, expected
            hint = members[0]
        else:
            return hint, expected
