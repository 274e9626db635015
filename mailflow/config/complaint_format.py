"""Load the complaint format (``rules/complaint-format.toml``) into a ``FormatSpec``.

The schema below checks each table's shape (``mailflow.config.toml``); the
loader then checks the tables against each other and against what mailflow
needs (the required fields, a label belongs to one field, ...). Every error
names the file, the key and the fix.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from mailflow.config.toml import Expect, Source, Stripped, Table, problem, read
from mailflow.core.format_spec import (
    FALLBACK_CATEGORY,
    KINDS,
    OPTIONAL_KEYS,
    REQUIRED_KEYS,
    Category,
    FieldSpec,
    FormatSpec,
    match_category,
    normalise_label,
    normalise_value,
)
from mailflow.errors import RulesError

# ---------------------------------------------------------------- the schema of a complaint-format file


def _key(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", value.strip()):
        raise ValueError("not a key")
    return value.strip()


def _label(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    if not normalise_label(value):
        raise problem(f"{value.strip()!r} has no letters or digits")
    return value.strip()


Label = Annotated[str, AfterValidator(_label), Expect("a non-empty string")]
Aliases = list[Annotated[str, AfterValidator(_label), Expect("a label with letters or digits")]]
_ALIASES = 'a list of non-empty strings, like ["No HP", "Nomor WA"]'
_SECTION_KEY = "a section key of lower-case letters, digits, '-' and '_', e.g. identitas"


class _Field(Table):
    key: Annotated[str, AfterValidator(_key)] = Field(
        description="a field key of lower-case letters, digits and '_', e.g. no_hp")
    label: Label = Field(description='the label citizens write, e.g. "No. HP/WA"')
    aliases: Aliases = Field(default_factory=list, description=_ALIASES)
    required: bool = Field(False, description="true or false")
    kind: Literal[KINDS] = Field(description=f"one of {', '.join(KINDS)}")  # type: ignore[valid-type]  # Literal of the one tuple of allowed words; pydantic reads it as its items
    help: Stripped = Field(description="a non-empty string: what to write, for citizens")
    example: Stripped = Field(description="a non-empty string: an example value")


class _Category(Table):
    key: Annotated[str, AfterValidator(_key)] = Field(
        description="a category key of lower-case letters, digits, '-' and '_', e.g. ktp-el")
    name: Label = Field(description='the service\'s name, e.g. "KTP-el"')
    aliases: Aliases = Field(default_factory=list, description=_ALIASES)
    section: Annotated[str, AfterValidator(_key)] = Field(description=_SECTION_KEY)


class _Positional(Table):
    order: list[Annotated[str, Expect("a field key")]] = Field(default_factory=list, description="a list of field keys")


class _FormatFile(Table):
    fields: list[Annotated[_Field, Expect("a table")]] = Field(
        min_length=1, description="at least one [[fields]] table")
    categories: list[Annotated[_Category, Expect("a table")]] = Field(
        min_length=1, description="at least one [[categories]] table")
    positional: _Positional = Field(default_factory=_Positional,
                                    description="a table [positional] with order = [field keys]")


# ---------------------------------------------------------------- loading


def load_format(path: Path) -> FormatSpec:
    """Read and validate a complaint-format file.

    Raises RulesError naming the file, the key and the fix, e.g.
    ``rules/complaint-format.toml: key 'fields[3].kind': expected one of text,
    multiline, ..., got 'nikk'``.
    """
    path = Path(path)
    source, data = read(path, RulesError, "no such complaint-format file")
    file = source.validate(_FormatFile, data)
    fields = _fields(source, file.fields)
    categories = _categories(source, file.categories)

    order = file.positional.order
    for j, key in enumerate(order):
        if not any(f.key == key for f in fields):
            raise source.fail(f"positional.order[{j}]", f"unknown field {key!r} (known: {', '.join(f.key for f in fields)})")
        if key in order[:j]:
            raise source.fail(f"positional.order[{j}]", f"field {key!r} is listed twice")

    spec = FormatSpec(fields, categories, tuple(order))
    jenis = spec.field("jenis_layanan")
    if match_category(jenis.example, spec).key == FALLBACK_CATEGORY:
        raise source.fail(f"fields[{fields.index(jenis)}].example",
                          f"the example {jenis.example!r} names no category: use a category name or alias")
    return spec


def _fields(source: Source, tables: list[_Field]) -> tuple[FieldSpec, ...]:
    """The fields, each key and label unique, each example valid, the ones mailflow reads present."""
    fields: list[FieldSpec] = []
    owner: dict[str, str] = {}  # normalised label -> field key
    for i, t in enumerate(tables):
        if any(f.key == t.key for f in fields):
            raise source.fail(f"fields[{i}].key", f"duplicate field key {t.key!r}")
        for j, name in enumerate((t.label, *t.aliases)):
            norm = normalise_label(name)
            if owner.get(norm, t.key) != t.key:
                raise source.fail(f"fields[{i}]." + ("label" if j == 0 else f"aliases[{j - 1}]"),
                                  f"{name!r} is already a label of field {owner[norm]!r}: "
                                  "a label may belong to one field only")
            owner[norm] = t.key
        if t.kind in ("nik", "kk", "phone", "email"):
            # The example is checked as a citizen's value would be; today only dates a NIK's birth year.
            _, problems = normalise_value(t.kind, t.example, date.today())
            if problems:
                raise source.fail(f"fields[{i}].example", f"the example is not a valid {t.kind} value: {'; '.join(problems)}")
        elif not any(c.isalpha() for c in t.example):
            raise source.fail(f"fields[{i}].example", f"the example is not a valid {t.kind} value: must contain text")
        fields.append(FieldSpec(t.key, t.label, tuple(t.aliases), t.required, t.kind, t.help, t.example))

    for key, kinds in (REQUIRED_KEYS | OPTIONAL_KEYS).items():
        found = next((f for f in fields if f.key == key), None)
        if found is None:
            if key in REQUIRED_KEYS:
                raise source.fail("fields", f"no field with key {key!r}: mailflow needs it; add a [[fields]] table for it")
            continue
        i = fields.index(found)
        if found.kind not in kinds:
            raise source.fail(f"fields[{i}].kind", f"field {key!r} must have kind {' or '.join(kinds)}, got {found.kind!r}")
        if key in REQUIRED_KEYS and not found.required:
            raise source.fail(f"fields[{i}].required", f"field {key!r} must be required = true: every complaint needs it")
    extra = [i for i, f in enumerate(fields) if f.kind == "category" and f.key != "jenis_layanan"]
    if extra:
        raise source.fail(f"fields[{extra[0]}].kind", "only the field 'jenis_layanan' may have kind 'category'")
    return tuple(fields)


def _categories(source: Source, tables: list[_Category]) -> tuple[Category, ...]:
    """The categories, each key and alias unique, the fallback ``lainnya`` present."""
    categories: list[Category] = []
    owner: dict[str, str] = {}  # normalised name or alias -> category key
    for i, t in enumerate(tables):
        if any(c.key == t.key for c in categories):
            raise source.fail(f"categories[{i}].key", f"duplicate category key {t.key!r}")
        for j, term in enumerate((t.name, *t.aliases)):
            norm = normalise_label(term)
            if owner.get(norm, t.key) != t.key:
                raise source.fail(f"categories[{i}]." + ("name" if j == 0 else f"aliases[{j - 1}]"),
                                  f"{term!r} already names category {owner[norm]!r}: "
                                  "an alias may belong to one category only")
            owner[norm] = t.key
        categories.append(Category(t.key, t.name, tuple(t.aliases), t.section))
    if not any(c.key == FALLBACK_CATEGORY for c in categories):
        raise source.fail("categories", f"no category with key {FALLBACK_CATEGORY!r}: add one, "
                                        "it takes every service no other category names")
    return tuple(categories)
