"""The complaint format: what a citizen's complaint mail must contain, and a
parser that reads it in the many ways people actually write it.

Pure apart from ``load_format`` reading the rules file. The format itself is
data (``rules/complaint-format.toml``): fields with their labels and accepted
aliases, and the categories of service that route a complaint to a section.

Accepted styles (labels in any case and order; see ``parse_complaint``):

- ``Label: value`` or ``Label = value`` (also a tab or ``|`` from converted
  HTML tables); labels with odd spacing and punctuation (``No. HP/WA``,
  ``NO.KK``, ``Nama_Lengkap``); bullets and numbers (``1. Nama:``), WhatsApp
  bold (``*Nama*:``, ``*Nama:*``); a trailing note in brackets
  (``No. KK (boleh kosong):``);
- the label alone on a line and the value on the next non-empty line;
- for number and e-mail fields, the label followed by the value without a
  separator (``NIK 3201 0145 0190 0001``);
- the Dukcapil ``#`` style: ``#Label: value`` pieces, or values by position,
  the positions given by a header line of labels
  (``#NIK #Nama_Lengkap #Nomor_Kartu_Keluarga ...``) or, without a header, by
  ``positional.order`` in the rules file;
- a multi-line field (the description) continues until the next recognised
  label; a one-line text field continues on immediately following non-blank
  lines (hard-wrapped addresses) up to a blank line.

Text before the first label is the ``preamble`` (greetings). Quoted reply
lines (``>``), reply headers (``On … wrote:`` / ``Pada … menulis:``) and
everything after a signature delimiter (``-- ``) or an Outlook
``-----Original Message-----`` block are ignored.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field as dc_field
from datetime import date
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

from mailflow.errors import RulesError
from mailflow.core.identity import check_kk, check_nik, normalise_id

KINDS = ("text", "multiline", "nik", "kk", "phone", "email", "category")
# Field keys other modules read from ParsedComplaint.fields, with the kind each
# must have. They must exist and be required (except no_kk and email).
REQUIRED_KEYS = {
    "nama": ("text",),
    "nik": ("nik",),
    "alamat": ("text", "multiline"),
    "no_hp": ("phone",),
    "jenis_layanan": ("category",),
    "uraian": ("multiline",),
}
OPTIONAL_KEYS = {"no_kk": ("kk",), "email": ("email",)}
FALLBACK_CATEGORY = "lainnya"
OPTIONAL_MARK = "(boleh kosong)"

MISSING = "wajib diisi, tetapi tidak ditemukan"
EMPTY = "wajib diisi, tetapi kosong"

_SLUG = re.compile(r"[a-z][a-z0-9_-]*")
_FIELD_KEYS = {"key", "label", "aliases", "required", "kind", "help", "example"}
_CATEGORY_KEYS = {"key", "name", "aliases", "section"}
_TOP_KEYS = {"fields", "categories", "positional"}


# ---------------------------------------------------------------- the format


@dataclass(frozen=True)
class FieldSpec:
    """One field of the format."""

    key: str  # how code refers to it: nama, nik, no_kk, ...
    label: str  # as shown to citizens: "No. HP/WA"
    aliases: tuple[str, ...]  # other labels accepted (the label itself always is)
    required: bool
    kind: str  # text | multiline | nik | kk | phone | email | category
    help: str
    example: str


@dataclass(frozen=True)
class Category:
    """A kind of service (Jenis Layanan); ``section`` routes it to a Kepala Seksi."""

    key: str
    name: str
    aliases: tuple[str, ...]
    section: str


@dataclass(frozen=True)
class FormatSpec:
    """The whole format: fields in form order, categories, and the field order
    of the ``#`` style when the mail has no header line."""

    fields: tuple[FieldSpec, ...]
    categories: tuple[Category, ...]
    positional: tuple[str, ...] = ()

    def field(self, key: str) -> FieldSpec:
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(f"no field {key!r} in the complaint format (known: {', '.join(f.key for f in self.fields)})")

    def category(self, key: str) -> Category:
        for cat in self.categories:
            if cat.key == key:
                return cat
        raise KeyError(f"no category {key!r} in the complaint format")

    @property
    def fallback(self) -> Category:
        """The ``lainnya`` category: where a service nobody recognises goes."""
        return self.category(FALLBACK_CATEGORY)

    def blank_form(self) -> str:
        """The format to copy: one ``Label: `` line per field, optional ones
        marked ``(boleh kosong)``. The parser reads it back (the mark is ignored)."""
        return "\n".join(
            f"{f.label}: " if f.required else f"{f.label} {OPTIONAL_MARK}: " for f in self.fields
        ) + "\n"

    def example_form(self) -> str:
        """The form filled with every field's example value (a valid complaint)."""
        return "\n".join(f"{f.label}: {f.example}" for f in self.fields) + "\n"

    # An index of normalised labels -> field; computed once per spec.
    @cached_property
    def _labels(self) -> dict[str, FieldSpec]:
        index: dict[str, FieldSpec] = {}
        for spec in self.fields:
            for name in (spec.label, *spec.aliases):
                index.setdefault(normalise_label(name), spec)
        return index

    @cached_property
    def _longest_label(self) -> int:
        return max((len(k.split()) for k in self._labels), default=1)

    @cached_property
    def _category_terms(self) -> list[tuple[str, str, Category]]:
        terms = []
        for cat in self.categories:
            for name in (cat.name, *cat.aliases):
                words = normalise_label(name)
                if words:
                    terms.append((words, words.replace(" ", ""), cat))
        return terms


def normalise_label(text: str) -> str:
    """A label reduced for comparison: no bracketed note, lower case, every run
    of non-alphanumerics one space. ``"No. HP/WA (aktif)"`` -> ``"no hp wa"``."""
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)
    return " ".join(re.split(r"[\W_]+", text.lower())).strip()


def match_category(text: str, spec: FormatSpec) -> Category:
    """The category ``text`` (a Jenis Layanan value) names; ``lainnya`` if none.

    Case-insensitive; an alias matches as whole words (``"ktp"`` in ``"e-KTP
    hilang"``); an alias of several words also matches with the spaces and
    punctuation left out (``"KTP-el"`` in ``"KTPel"``, ``"e-KTP"`` in
    ``"EKTP"``). The longest matching alias wins, so
    ``"pungli saat rekam KTP"`` is a conduct complaint, not a KTP one; a tie
    goes to the category listed first.
    """
    words = f" {normalise_label(text)} "
    compact = words.replace(" ", "")
    best: tuple[int, int, Category] | None = None
    for order, (term, term_compact, cat) in enumerate(spec._category_terms):
        if f" {term} " in words or (" " in term and term_compact in compact):
            score = (len(term_compact), -order)
            if best is None or score > best[:2]:
                best = (*score, cat)
    return best[2] if best else spec.fallback


# ---------------------------------------------------------------- loading


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
        _, problems = _normalise_value(kind, example, date.today())
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


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class FieldError:
    """One field that is missing or invalid; ``problem`` is shown to the citizen."""

    key: str
    label: str
    problem: str


@dataclass(frozen=True)
class ParsedComplaint:
    """The result of ``parse_complaint``."""

    fields: Mapping[str, str]  # normalised values by field key, only those found (non-empty)
    category: Category | None  # from jenis_layanan; None only when that field is missing
    errors: tuple[FieldError, ...]  # in field order, at most one per field
    preamble: str = ""  # text before the first label (greeting)
    unassigned: tuple[str, ...] = dc_field(default=())  # other lines no field took

    @property
    def ok(self) -> bool:
        return not self.errors


_QUOTE_HEADER = re.compile(r"^(on|pada)\b.{4,300}\b(wrote|menulis)\s*:\s*$", re.I)
_ORIGINAL_MESSAGE = re.compile(r"^-{3,}\s*(original message|pesan asli)\s*-{3,}\s*$", re.I)
_OUTLOOK_RULE = re.compile(r"^_{20,}\s*$")
_OUTLOOK_FROM = re.compile(r"^(from|dari)\s*:", re.I)
# Lines mail clients add: "Sent from my iPhone", "Dikirim dari Yahoo Mail di
# Android", "[image: foto.jpg]" (an inline image in converted HTML).
_CLIENT_NOISE = re.compile(
    r"^(?:sent from my [\w ]{2,40}|dikirim dari (?:iphone|ipad|yahoo|ponsel|perangkat|samsung|xiaomi|outlook|email|surel)[\w ]{0,40}"
    r"|get outlook for \w+|\[(?:image|cid|gambar):[^\]]*\])$",
    re.I,
)
_BULLET = re.compile(r"^(?:[-•·▪●◦‣–]\s+|\*\s+|\(?\d{1,2}[.)]\s*|\(\d{1,2}\)\s*|[a-hA-H][.)]\s+)")
_SEPARATOR = re.compile(r"[:=\t|：]")
_EMPHASIS = "*_~"
_PLACEHOLDERS = {"-", "--", "—", "–", ".", "…", "...", "_"}
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
_PHONE_RUN = re.compile(r"\+?\d[\d\s.\-()\u00a0]*\d")
_ONE_LINE = ("nik", "kk", "phone", "email")  # a value never continues on the next line
# "Tempat/Tgl. Lahir: Bantul": a label mailflow does not know. Such a line does
# not continue a one-line field (it would glue "Tempat/Tgl. Lahir" to the name).
_UNKNOWN_LABEL = re.compile(r"^[*_~]*[^\W\d_][\w .,/()*'~-]{0,39}?\s*[:=]")


def _prepare(text: str) -> list[str]:
    """The lines that can carry the complaint: line endings unified, odd
    spaces made plain, quoted reply text and everything after a signature
    delimiter or a quoted original message dropped.

    Deliberately narrower than ``mailflow.core.reply_text.extract_reply``: a
    field lost here costs the citizen a rejected complaint, so only what is
    surely quoted goes (a "-----" rule or a "Sent from my iPhone" line does
    not end the form, as it ends a staff reply there)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\ufeff", "")
    text = re.sub("[\u200b\u200c\u200d\u2060]", "", text)
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip() == "--" or _ORIGINAL_MESSAGE.match(stripped):
            break
        if _OUTLOOK_RULE.match(stripped):
            following = next((x.strip() for x in lines[i + 1:] if x.strip()), "")
            if _OUTLOOK_FROM.match(following):
                break
        if stripped.startswith(">") or _QUOTE_HEADER.match(stripped) or _CLIENT_NOISE.match(stripped):
            continue
        kept.append(line.rstrip())
    return kept


def _strip_decoration(line: str) -> str:
    """A line without table pipes and a leading bullet or number."""
    s = line.strip().strip("|").strip()
    return _BULLET.sub("", s, count=1)


def _unemphasise(label: str) -> str:
    return label.strip().strip(_EMPHASIS).strip()


def _looks_like(kind: str, value: str) -> bool:
    """Whether a value has the shape of ``kind`` (for values without a label)."""
    value = value.strip()
    if kind in ("nik", "kk"):
        digits = normalise_id(value)
        return digits.isdigit() and 15 <= len(digits) <= 17
    if kind == "phone":
        return bool(re.fullmatch(r"\+?[\d\s.\-()]{8,}", value)) and sum(c.isdigit() for c in value) >= 7
    if kind == "email":
        return bool(_EMAIL.search(value)) and len(value.split()) <= 2
    return True


def _match_label(text: str, spec: FormatSpec) -> tuple[FieldSpec, str, bool] | None:
    """``(field, value, bare)`` if ``text`` starts with a known label, else None.

    ``bare``: the line is the label alone, without a separator (the value is
    on the next line). The value is "" for a bare label or an empty one.
    """
    s = _strip_decoration(text)
    if not s:
        return None
    labels = spec._labels
    m = _SEPARATOR.search(s)
    if m and m.start() <= 80:
        raw_label, value = s[: m.start()], s[m.end():]
        found = labels.get(normalise_label(_unemphasise(raw_label)))
        if found is not None:
            # "Nama\t: Siti", "| NIK\t| 3201... |": more separators after the first.
            value = value.strip(" \t|").lstrip(":=：").strip()
            # "*Nama:* Siti": the closing emphasis mark lands in the value.
            for mark in _EMPHASIS:
                opened = raw_label.strip().startswith(mark) and raw_label.count(mark) % 2 == 1
                if opened and value.startswith(mark):
                    value = value[1:].strip()
            return found, value.strip(), False
    # The whole line is a label (value on the next line).
    found = labels.get(normalise_label(_unemphasise(s)))
    if found is not None:
        return found, "", True
    # "NIK 3201 0145 ...": a label then a value with the shape of its kind.
    words = s.split()
    for n in range(min(len(words) - 1, spec._longest_label), 0, -1):
        found = labels.get(normalise_label(_unemphasise(" ".join(words[:n]))))
        if found is not None and found.kind in _ONE_LINE:
            rest = " ".join(words[n:])
            if _looks_like(found.kind, rest):
                return found, rest, False
    return None


def _looks_like_a_label(line: str) -> bool:
    m = _UNKNOWN_LABEL.match(_strip_decoration(line))
    return bool(m) and len(m.group(0).split()) <= 4


def _split_hash(line: str) -> list[str]:
    """``"#a #b c #d"`` -> ``["a", "b c", "d"]``: a ``#`` at the start or after a space starts a piece."""
    pieces = re.split(r"(?:^|(?<=\s))#", line.strip())
    return [p.strip() for p in pieces[1:]]


def _normalise_phone(value: str) -> tuple[str, list[str]]:
    m = _PHONE_RUN.search(value)
    if not m:
        return value.strip(), ["nomor HP harus berupa angka, misalnya 081234567890 atau +6281234567890"]
    raw = m.group(0)
    plus = raw.startswith("+")
    raw = re.sub(r"^(\+?62)\s*\(0\)", r"\1", raw)  # "+62 (0)812..." -> "+62812..."
    digits = re.sub(r"\D", "", raw)
    if plus:
        number = "+" + digits
    elif digits.startswith("62"):
        number = "+" + digits
    else:
        number = digits
    problems = []
    if not 9 <= len(digits) <= 15:
        problems.append(f"nomor HP harus 9–15 digit angka, yang tertulis {len(digits)} digit")
    if not (number.startswith("0") or number.startswith("+62")):
        problems.append("nomor HP harus diawali 0 atau +62 (nomor Indonesia), misalnya 081234567890")
    return number, problems


def _normalise_value(kind: str, value: str, today: date) -> tuple[str, list[str]]:
    """The normalised value and its problems (Bahasa Indonesia)."""
    if kind == "nik":
        return normalise_id(value), check_nik(value, today)
    if kind == "kk":
        return normalise_id(value), check_kk(value, today)
    if kind == "phone":
        return _normalise_phone(value)
    if kind == "email":
        m = _EMAIL.search(value)
        if not m or m.group(0) != value.replace("mailto:", "").strip(" <>.,;"):
            return value.strip(), ["alamat email tidak valid, tulis seperti nama@contoh.id"]
        return m.group(0), []
    if kind == "multiline":
        lines = [" ".join(ln.split()) for ln in value.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    else:
        text = " ".join(value.split())
    if kind != "category" and not any(c.isalpha() for c in text):
        return text, ["harus berisi keterangan dengan huruf, bukan hanya angka atau tanda baca"]
    return text, []


class _Reader:
    """The line-by-line state of ``parse_complaint``."""

    def __init__(self, spec: FormatSpec):
        self.spec = spec
        self.values: dict[str, list[str]] = {}  # field key -> collected lines
        self.labelled: set[str] = set()  # fields whose label was seen
        self.weak: set[str] = set()  # fields whose value follows a bare label line
        self.current: FieldSpec | None = None
        self.mode: str | None = None  # "pending" | "multi" | "wrap" | None
        self.preamble: list[str] = []
        self.unassigned: list[str] = []
        self.started = False
        self.order: list[str | None] = list(spec.positional)  # positions of the # style
        self.position = 0
        self.in_hash = False

    def filled(self, key: str) -> bool:
        return any(v.strip() for v in self.values.get(key, []))

    # -- starting a field
    def start(self, spec: FieldSpec, value: str) -> None:
        self.started = True
        self.labelled.add(spec.key)
        self.values[spec.key] = [value] if value else []
        self.current = spec
        if not value:
            self.mode = "pending"
        elif spec.kind == "multiline":
            self.mode = "multi"
        elif spec.kind in _ONE_LINE:
            self.mode = None
        else:
            self.mode = "wrap"

    def label(self, spec: FieldSpec, value: str, original: str, bare: bool = False) -> None:
        if self.filled(spec.key) and spec.key in self.weak and value:
            # A bare label line may have been a heading ("ADUAN") that took the
            # greeting after it; an explicit "Uraian: ..." later replaces it.
            self.unassigned.extend(v for v in self.values[spec.key] if v.strip())
            del self.values[spec.key]
        if self.filled(spec.key):
            # A label already used: inside a description it is just text
            # ("Nama: Budi (anak saya)"); elsewhere the first value stands.
            if self.mode == "multi":
                self.text(original)
            else:
                self.unassigned.append(original.strip())
            return
        self.start(spec, value)
        if bare:
            self.weak.add(spec.key)
        else:
            self.weak.discard(spec.key)

    # -- an ordinary line
    def text(self, line: str) -> None:
        stripped = line.strip()
        if not self.started:
            self.preamble.append(stripped)
            return
        if self.mode == "multi":
            self.values[self.current.key].append(stripped)
        elif stripped and self.mode in ("pending", "wrap") and _looks_like_a_label(stripped):
            self.unassigned.append(stripped)
            if self.mode == "wrap":
                self.mode = None
        elif self.mode == "pending":
            if stripped:
                self.start(self.current, stripped)
        elif self.mode == "wrap":
            if stripped:
                self.values[self.current.key].append(stripped)
            else:
                self.mode = None
        elif stripped:
            self.unassigned.append(stripped)

    # -- the # style
    def hash_line(self, line: str) -> bool:
        """Read a ``#`` line; False if it is not the Dukcapil style after all."""
        pieces = _split_hash(line)
        if not pieces:
            return False
        matched = [_match_label(p, self.spec) for p in pieces]
        label_only = [m is not None and m[1] == "" for m in matched]
        if len(pieces) >= 2 and sum(label_only) * 2 >= len(pieces) and not any(
            any(c.isdigit() for c in p) or "@" in p for p, only in zip(pieces, label_only) if not only
        ):
            # A header line: its labels give the positions of the values.
            self.order = [m[0].key if m is not None and only else None for m, only in zip(matched, label_only)]
            self.position = 0
            self.in_hash = True
            self.started = True
            return True
        if not self.in_hash and all(m is None for m in matched):
            # Outside the # style a hashtag is text ("#savedukcapil"), unless
            # the first piece has the shape of the first positional field.
            if self.mode == "multi" or not self._fits_next(pieces[0]):
                return False
        self.in_hash = True
        for piece, m in zip(pieces, matched):
            if m is not None:
                spec, value, bare = m
                self.label(spec, value, "#" + piece, bare)
                if self.position < len(self.order) and self.order[self.position] == spec.key:
                    self.position += 1
            else:
                self.positional(piece)
        return True

    def _fits_next(self, piece: str) -> bool:
        for key in self.order[self.position:]:
            if key is not None and not self.filled(key):
                return self.spec.field(key).kind in _ONE_LINE and _looks_like(self.spec.field(key).kind, piece)
        return False

    def positional(self, piece: str) -> None:
        while self.position < len(self.order):
            key = self.order[self.position]
            self.position += 1
            if key is None:
                self.started = True
                self.unassigned.append(piece)
                self.current, self.mode = None, None
                return
            if self.filled(key):
                continue
            spec = self.spec.field(key)
            if piece in _PLACEHOLDERS and not spec.required:
                self.labelled.add(key)
                return
            if not spec.required and not _looks_like(spec.kind, piece):
                continue  # an optional field left out: try the next position
            self.start(spec, piece)
            return
        # More pieces than positions: a '#' inside the last value ("... #tolong").
        if self.current is not None and self.current.kind in ("multiline", "text"):
            values = self.values[self.current.key]
            if values:
                values[-1] = f"{values[-1]} #{piece}"
            else:
                values.append(piece)
        else:
            self.started = True
            self.unassigned.append("#" + piece)


def parse_complaint(text: str, spec: FormatSpec, today: date | None = None) -> ParsedComplaint:
    """Read a complaint from the plain text of a mail.

    ``today`` (the office's local date) decides which century a NIK's two-digit
    year is in; it defaults to the system date. Never raises on bad input: every
    missing required field and every invalid value is one ``FieldError``, in
    field order. An unknown Jenis Layanan is the ``lainnya`` category, not an error.
    """
    today = today or date.today()
    reader = _Reader(spec)
    for line in _prepare(text):
        stripped = line.strip()
        if stripped.startswith("#") and reader.hash_line(stripped):
            continue
        matched = _match_label(stripped, spec) if stripped else None
        if matched is not None:
            reader.in_hash = False
            reader.label(*matched[:2], line, matched[2])
        else:
            reader.text(line)

    fields: dict[str, str] = {}
    errors: list[FieldError] = []
    category: Category | None = None
    for field_spec in spec.fields:
        lines = reader.values.get(field_spec.key, [])
        joiner = "\n" if field_spec.kind == "multiline" else " "
        raw = joiner.join(lines).strip()
        if raw in _PLACEHOLDERS:
            raw = ""
        if not raw:
            if field_spec.required:
                problem = EMPTY if field_spec.key in reader.labelled else MISSING
                errors.append(FieldError(field_spec.key, field_spec.label, problem))
            continue
        value, problems = _normalise_value(field_spec.kind, raw, today)
        fields[field_spec.key] = value
        if problems:
            errors.append(FieldError(field_spec.key, field_spec.label, "; ".join(problems)))
        if field_spec.kind == "category":
            category = match_category(value, spec)

    preamble = "\n".join(reader.preamble).strip()
    return ParsedComplaint(
        fields=MappingProxyType(fields),
        category=category,
        errors=tuple(errors),
        preamble=re.sub(r"\n{3,}", "\n\n", preamble),
        unassigned=tuple(u for u in reader.unassigned if u),
    )
