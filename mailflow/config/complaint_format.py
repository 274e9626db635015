"""Load the complaint format (``rules/complaint-format.toml``) into a ``FormatSpec``.

Every error names the file, the key and the fix.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

from mailflow.core.complaint_format import normalise_value
from mailflow.core.format_spec import (FALLBACK_CATEGORY, KINDS, OPTIONAL_KEYS, REQUIRED_KEYS, Category, FieldSpec,
                                       FormatSpec, match_category, normalise_label)
from mailflow.errors import RulesError

_SLUG = re.compile(r"[a-z][a-z0-9_-]*")
_FIELD_KEYS = {"key", "label", "aliases", "required", "kind", "help", "example"}
_CATEGORY_KEYS = {"key", "name", "aliases", "section"}
_TOP_KEYS = {"fields", "categories", "positional"}


def _fail(path: Path, key: str, message: str) -> RulesError:
    return RulesError(f"{path}: key '{key}': {message}")


def _string(path: Path, table: dict, name: str, where: str, *, allow_empty: bool = False) -> str:
    if name not in table:
        raise _fail(path, where + name, "is missing: add a string")
    value = table[name]
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise _fail(path, where + name, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _strings(path: Path, table: dict, name: str, where: str) -> tuple[str, ...]:
    value = table.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and normalise_label(v) for v in value):
        raise _fail(path, where + name, f"expected a list of non-empty strings, like [\"No HP\", \"Nomor WA\"], got {value!r}")
    return tuple(v.strip() for v in value)


def _unknown(path: Path, table: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise _fail(path, where + extra[0], f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _example_problem(kind: str, example: str) -> str | None:
    if kind in ("nik", "kk", "phone", "email"):
        _, problems = normalise_value(kind, example, date.today())
        if problems:
            return "; ".join(problems)
    elif not any(c.isalpha() for c in example):
        return "must contain text"
    return None


def load_format(path: Path) -> FormatSpec:
    """Read and validate a complaint-format file.

    Raises RulesError naming the file, the key and the fix, e.g.
    ``rules/complaint-format.toml: key 'fields[3].kind': expected one of text,
    multiline, ..., got 'nikk'``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: no such complaint-format file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None
    _unknown(path, data, _TOP_KEYS, "")

    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise _fail(path, "fields", "expected at least one [[fields]] table")
    fields: list[FieldSpec] = []
    owner: dict[str, str] = {}  # normalised label -> field key
    for i, table in enumerate(raw_fields):
        where = f"fields[{i}]."
        if not isinstance(table, dict):
            raise _fail(path, f"fields[{i}]", "expected a table")
        _unknown(path, table, _FIELD_KEYS, where)
        key = _string(path, table, "key", where)
        if not _SLUG.fullmatch(key):
            raise _fail(path, where + "key", f"field keys are lower-case letters, digits and '_', got {key!r}")
        if any(f.key == key for f in fields):
            raise _fail(path, where + "key", f"duplicate field key {key!r}")
        kind = table.get("kind")
        if kind not in KINDS:
            raise _fail(path, where + "kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
        required = table.get("required", False)
        if not isinstance(required, bool):
            raise _fail(path, where + "required", f"expected true or false, got {required!r}")
        label = _string(path, table, "label", where)
        aliases = _strings(path, table, "aliases", where)
        for j, name in enumerate((label, *aliases)):
            norm = normalise_label(name)
            name_key = where + ("label" if j == 0 else f"aliases[{j - 1}]")
            if not norm:
                raise _fail(path, name_key, f"{name!r} has no letters or digits")
            if owner.get(norm, key) != key:
                raise _fail(path, name_key, f"{name!r} is already a label of field {owner[norm]!r}: "
                                            f"a label may belong to one field only")
            owner[norm] = key
        example = _string(path, table, "example", where)
        if problem := _example_problem(kind, example):
            raise _fail(path, where + "example", f"the example is not a valid {kind} value: {problem}")
        fields.append(FieldSpec(key, label, aliases, required, kind, _string(path, table, "help", where), example))

    for key, kinds in (REQUIRED_KEYS | OPTIONAL_KEYS).items():
        found = next((f for f in fields if f.key == key), None)
        if found is None:
            if key in REQUIRED_KEYS:
                raise _fail(path, "fields", f"no field with key {key!r}: mailflow needs it; add a [[fields]] table for it")
            continue
        i = fields.index(found)
        if found.kind not in kinds:
            raise _fail(path, f"fields[{i}].kind", f"field {key!r} must have kind {' or '.join(kinds)}, got {found.kind!r}")
        if key in REQUIRED_KEYS and not found.required:
            raise _fail(path, f"fields[{i}].required", f"field {key!r} must be required = true: every complaint needs it")
    extra_categories = [i for i, f in enumerate(fields) if f.kind == "category" and f.key != "jenis_layanan"]
    if extra_categories:
        raise _fail(path, f"fields[{extra_categories[0]}].kind",
                    "only the field 'jenis_layanan' may have kind 'category'")

    raw_categories = data.get("categories")
    if not isinstance(raw_categories, list) or not raw_categories:
        raise _fail(path, "categories", "expected at least one [[categories]] table")
    categories: list[Category] = []
    term_owner: dict[str, str] = {}
    for i, table in enumerate(raw_categories):
        where = f"categories[{i}]."
        if not isinstance(table, dict):
            raise _fail(path, f"categories[{i}]", "expected a table")
        _unknown(path, table, _CATEGORY_KEYS, where)
        key = _string(path, table, "key", where)
        if not _SLUG.fullmatch(key):
            raise _fail(path, where + "key", f"category keys are lower-case letters, digits, '-' and '_', got {key!r}")
        if any(c.key == key for c in categories):
            raise _fail(path, where + "key", f"duplicate category key {key!r}")
        section = _string(path, table, "section", where)
        if not _SLUG.fullmatch(section):
            raise _fail(path, where + "section", f"section keys are lower-case letters, digits, '-' and '_', got {section!r}")
        name = _string(path, table, "name", where)
        aliases = _strings(path, table, "aliases", where)
        for j, term in enumerate((name, *aliases)):
            norm = normalise_label(term)
            term_key = where + ("name" if j == 0 else f"aliases[{j - 1}]")
            if not norm:
                raise _fail(path, term_key, f"{term!r} has no letters or digits")
            if term_owner.get(norm, key) != key:
                raise _fail(path, term_key, f"{term!r} already names category {term_owner[norm]!r}: "
                                            f"an alias may belong to one category only")
            term_owner[norm] = key
        categories.append(Category(key, name, aliases, section))
    if not any(c.key == FALLBACK_CATEGORY for c in categories):
        raise _fail(path, "categories", f"no category with key {FALLBACK_CATEGORY!r}: add one, "
                                        f"it takes every service no other category names")

    raw_positional = data.get("positional", {})
    if not isinstance(raw_positional, dict):
        raise _fail(path, "positional", "expected a table [positional] with order = [field keys]")
    _unknown(path, raw_positional, {"order"}, "positional.")
    order = raw_positional.get("order", [])
    if not isinstance(order, list) or not all(isinstance(k, str) for k in order):
        raise _fail(path, "positional.order", f"expected a list of field keys, got {order!r}")
    for j, key in enumerate(order):
        if not any(f.key == key for f in fields):
            raise _fail(path, f"positional.order[{j}]", f"unknown field {key!r} (known: {', '.join(f.key for f in fields)})")
        if key in order[:j]:
            raise _fail(path, f"positional.order[{j}]", f"field {key!r} is listed twice")

    spec = FormatSpec(tuple(fields), tuple(categories), tuple(order))
    jenis = spec.field("jenis_layanan")
    if match_category(jenis.example, spec).key == FALLBACK_CATEGORY:
        raise _fail(path, f"fields[{fields.index(jenis)}].example",
                    f"the example {jenis.example!r} names no category: use a category name or alias")
    return spec

