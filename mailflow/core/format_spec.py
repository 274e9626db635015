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
from functools import cached_property

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

