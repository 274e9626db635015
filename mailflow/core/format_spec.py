"""The complaint format as data: the fields a citizen's complaint mail must
contain, their labels and accepted aliases, and the categories of service that
route a complaint to a section.

Pure values; ``mailflow.config.complaint_format.load_format`` reads and
validates them from ``rules/complaint-format.toml``, and
``mailflow.core.complaint_format.parse_complaint`` reads a complaint with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

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

    @cached_property
    def label_index(self) -> dict[str, FieldSpec]:
        """Every label and alias, normalised (``normalise_label``), -> its field; computed once per spec."""
        index: dict[str, FieldSpec] = {}
        for spec in self.fields:
            for name in (spec.label, *spec.aliases):
                index.setdefault(normalise_label(name), spec)
        return index

    def find_label(self, text: str) -> FieldSpec | None:
        """The field whose label or alias ``text`` is, or None.

        Compared normalised (``normalise_label``). A label of alternatives
        joined by ``/`` that is not itself known names a field when every
        alternative is a label of that same field, alone or with the leading
        words of the first alternative carried over: "No. Telp/WA" is "No.
        Telp" or "(No.) WA", both the phone; "Nama/NIK" names none, nor does
        "HP/WA saya hilang" ("WA saya hilang" is no label).
        """
        index = self.label_index
        found = index.get(normalise_label(text))
        if found is not None or "/" not in text or len(text) > 200:
            return found
        alternatives = [normalise_label(p) for p in text.split("/")]
        if len(alternatives) < 2 or not all(alternatives):
            return None
        carried = " ".join(alternatives[0].split()[:-1])
        fields: list[FieldSpec] = []
        for j, alternative in enumerate(alternatives):
            spec = index.get(alternative)
            if spec is None and j and carried:
                spec = index.get(f"{carried} {alternative}")
            if spec is None or (fields and spec is not fields[0]):
                return None
            fields.append(spec)
        return fields[0]

    @cached_property
    def longest_label(self) -> int:
        """The most words in a normalised label (how far the parser looks for one)."""
        return max((len(k.split()) for k in self.label_index), default=1)

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
    return " ".join(re.split(r"[\W_]+", _drop_notes(text).lower())).strip()


_OPENERS = re.compile(r"[(\[]")


def _drop_notes(text: str) -> str:
    """``text`` without its notes in brackets: each ``(`` or ``[`` up to the next
    ``)`` or ``]`` becomes a space; one never closed stays. Linear: once no closing
    bracket is left, later openers are not searched again (a line of ``(((`` would
    otherwise be scanned to its end from every one)."""
    closing = {"(": ")", "[": "]"}
    last = {")": text.rfind(")"), "]": text.rfind("]")}
    parts: list[str] = []
    kept_from = pos = 0
    while (m := _OPENERS.search(text, pos)) is not None:
        close = closing[m.group(0)]
        if last[close] < m.start():
            pos = m.end()
            continue
        end = text.index(close, m.end())
        parts += [text[kept_from:m.start()], " "]
        kept_from = pos = end + 1
    parts.append(text[kept_from:])
    return "".join(parts)


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


# ---------------------------------------------------------------- values of each kind

# The look-behind starts every attempt at the beginning of a run of address characters:
# without it a long run with no '@' is scanned again from each of its positions.
_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+@{_LABEL}(?:\.{_LABEL})+")
_PHONE_RUN = re.compile(r"\+?\d[\d\s.\-()\u00a0]*\d")


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


def normalise_value(kind: str, value: str, today: date) -> tuple[str, list[str]]:
    """The normalised value of a field of ``kind`` and its problems (Bahasa
    Indonesia, shown to the citizen); ``today`` dates a NIK's birth year."""
    if kind == "nik":
        return normalise_id(value), check_nik(value, today)
    if kind == "kk":
        return normalise_id(value), check_kk(value, today)
    if kind == "phone":
        return _normalise_phone(value)
    if kind == "email":
        m = EMAIL.search(value)
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
