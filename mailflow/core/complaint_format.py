"""The complaint parser: reads a citizen's complaint mail in the many ways
people actually write it, against a ``FormatSpec`` (``mailflow.core.format_spec``).

Pure: text and spec in, a ``ParsedComplaint`` out.

Accepted styles (labels in any case and order; see ``parse_complaint``):

- ``Label: value`` or ``Label = value`` (also a tab or ``|`` from converted
  HTML tables); labels with odd spacing and punctuation (``No. HP/WA``,
  ``NO.KK``, ``Nama_Lengkap``), and alternatives joined by ``/`` that name
  one field (``No. Telp/WA``, see ``FormatSpec.find_label``); bullets and
  numbers (``1. Nama:``), WhatsApp bold (``*Nama*:``, ``*Nama:*``); a
  trailing note in brackets (``No. KK (boleh kosong):``);
- the label alone on a line and the value on the next non-empty line;
- for number and e-mail fields, the label followed by the value without a
  separator (``NIK 3201 0145 0190 0001``);
- the Dukcapil ``#`` style: ``#Label: value`` pieces, or values by position,
  the positions given by a header line of labels
  (``#NIK #Nama_Lengkap #Nomor_Kartu_Keluarga ...``) or, without a header, by
  ``positional.order`` in the rules file; the pieces with or without spaces
  between them (``#3402...#Siti Aminah#...``), the first ``#`` at the start
  of the line or after a short introduction (``Format aduan:#3402...``);
- a multi-line field (the description) continues until the next recognised
  label or a formal letter's closing (``Demikian pengaduan ini ...``,
  ``Atas perhatian ...``, ``Hormat saya,`` and the name under it, with a
  ``Terima kasih.`` just before them); a one-line text field continues on
  immediately following non-blank lines (hard-wrapped addresses) up to a
  blank line.

Text before the first label is the ``preamble`` (greetings). Quoted reply
lines (``>``), attributions (``On … wrote:`` / ``Pada … menulis:``, wrapped
ones whole) and everything after a signature delimiter (``-- ``) or an
Outlook ``-----Original Message-----`` block are ignored
(``mailflow.core.reply_text.unquoted_lines``).

Every pattern runs in linear time on any input: no nested or overlapping
quantifiers, a label is looked for in a line's first 80 characters only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from types import MappingProxyType

from mailflow.core.format_spec import EMAIL, Category, FieldSpec, FormatSpec, match_category, normalise_value
from mailflow.core.identity import normalise_id
from mailflow.core.reply_text import unquoted_lines

MISSING = "wajib diisi, tetapi tidak ditemukan"
EMPTY = "wajib diisi, tetapi kosong"



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


_BULLET = re.compile(r"^(?:[-•·▪●◦‣–]\s+|\*\s+|\(?\d{1,2}[.)]\s*|\(\d{1,2}\)\s*|[a-hA-H][.)]\s+)")
_SEPARATOR = re.compile(r"[:=\t|：]")
_EMPHASIS = "*_~"
_PLACEHOLDERS = {"-", "--", "—", "–", ".", "…", "...", "_"}
_ONE_LINE = ("nik", "kk", "phone", "email")  # a value never continues on the next line
# "Tempat/Tgl. Lahir: Bantul": a label mailflow does not know. Such a line does
# not continue a one-line field (it would glue "Tempat/Tgl. Lahir" to the name).
# Read in three steps (its start, the first ':' or '=', what lies between) rather than
# as one pattern: "[…]{0,39}?\s*[:=]" backtracks 40 times over every run of spaces.
_UNKNOWN_LABEL_START = re.compile(r"[*_~]*[^\W\d_]")
_UNKNOWN_LABEL_WORDS = re.compile(r"[\w .,/()*'~-]{0,39}")
_LABEL_END = re.compile(r"[:=]")
# A formal letter's closing ends the description ("Demikian pengaduan ini saya
# sampaikan", "Atas perhatiannya ...", "Hormat saya," and the name under it).
# "Demikian juga ..." ("likewise") is not one.
_CLOSING = re.compile(
    r"(?:Demikian(?:lah)?(?:[,.!]|\s+(?:pengaduan|surat|laporan|permohonan|aduan|keluhan|pesan|e-?mail|surel|"
    r"informasi|penyampaian|hal|yang|apa|atas|saya\s+sampaikan|kami\s+sampaikan)\b|$)"
    r"|Atas\s+perhatian|Hormat\s+(?:saya|kami)\b|Salam\s+hormat\b|Wassalam|Tertanda\b)",
    re.I,
)
_THANKS = re.compile(r"(?:Terima\s?kasih|Makasih|Matur\s+nuwun)\b", re.I)
# "Atas bantuan dan kerja samanya, saya ucapkan terima kasih": a closing only with the thanks.
_THANKS_FOR = re.compile(r"Atas\s+(?:bantuan|kerja\s?sama|kerjasama)", re.I)
_MAX_LABEL = 200  # characters: a line alone longer than this is not a label


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
        return bool(EMAIL.search(value)) and len(value.split()) <= 2
    return True


def _match_label(text: str, spec: FormatSpec) -> tuple[FieldSpec, str, bool] | None:
    """``(field, value, bare)`` if ``text`` starts with a known label, else None.

    ``bare``: the line is the label alone, without a separator (the value is
    on the next line). The value is "" for a bare label or an empty one.
    """
    s = _strip_decoration(text)
    if not s:
        return None
    m = _SEPARATOR.search(s, 0, 81)  # a label is at most 80 characters long
    if m:
        raw_label, value = s[: m.start()], s[m.end():]
        found = spec.find_label(_unemphasise(raw_label))
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
    found = spec.find_label(_unemphasise(s)) if len(s) <= _MAX_LABEL else None
    if found is not None:
        return found, "", True
    # "NIK 3201 0145 ...": a label then a value with the shape of its kind.
    words = s.split(None, spec.longest_label)
    for n in range(min(len(words) - 1, spec.longest_label), 0, -1):
        found = spec.find_label(_unemphasise(" ".join(words[:n])))
        if found is not None and found.kind in _ONE_LINE:
            rest = " ".join(words[n:])
            if _looks_like(found.kind, rest):
                return found, rest, False
    return None


def _looks_like_a_label(line: str) -> bool:
    """Whether ``line`` starts like ``Label:`` or ``Label =``: a letter, at
    most 39 more label characters, spaces, the separator; four words at most."""
    s = _strip_decoration(line)
    start = _UNKNOWN_LABEL_START.match(s)
    end = _LABEL_END.search(s, start.end()) if start else None
    if start is None or end is None:
        return False
    return bool(_UNKNOWN_LABEL_WORDS.fullmatch(s[start.end(): end.start()].rstrip())) and len(
        s[: end.end()].split()) <= 4


def _split_hash(line: str) -> tuple[str, list[str]]:
    """A line of the ``#`` style as its text before the first ``#`` and its pieces.

    ``"#a #b c #d"`` -> ``("", ["a", "b c", "d"])``: a ``#`` at the start or
    after a space starts a piece, so a hashtag inside a value stays in it
    (``"... #tolong"``). Written without spaces, every ``#`` starts one:
    ``"Format aduan:#a#b c#d"`` -> ``("Format aduan:", ["a", "b c", "d"])``.
    A ``#`` at the very end starts nothing.
    """
    s = line.strip()
    first = s.find("#")
    if first < 0:
        return s, []
    prefix, rest = s[:first].strip(), s[first:]
    compact = bool(prefix and not s[first - 1].isspace()) or re.search(r"\S#", rest) is not None
    pieces = [p.strip() for p in (rest.split("#") if compact else re.split(r"(?:^|(?<=\s))#", rest))[1:]]
    if pieces and not pieces[-1]:
        pieces.pop()
    return prefix, pieces


def _is_intro(prefix: str, spec: FormatSpec) -> bool:
    """Whether the text before the first ``#`` of a line may introduce the
    ``#`` style ("Format aduan:", "Berikut data saya:"): a few words, no
    number or address, and not a label with its value ("Uraian: KTP hilang")."""
    if len(prefix) > 60 or len(prefix.split()) > 6 or "@" in prefix or any(c.isdigit() for c in prefix):
        return False
    matched = _match_label(prefix, spec)
    return matched is None or matched[1] == ""


class _Glued(str):
    """A ``#`` piece beyond the last position: it continues the line before it
    (``"KTP belum jadi"`` then ``"tolong"`` is ``"KTP belum jadi #tolong"``).
    Kept apart until the end so that many such pieces cost linear time."""


def _merged(values: list[str]) -> list[str]:
    """The value lines of a field with each ``_Glued`` piece joined to the line before it."""
    lines: list[list[str]] = []
    for value in values:
        if isinstance(value, _Glued) and lines:
            lines[-1].append(" #" + value)
        else:
            lines.append([value])
    return ["".join(parts) for parts in lines]


def _is_closing(line: str) -> bool:
    """Whether ``line`` opens a formal letter's closing ("Demikian pengaduan ini
    saya sampaikan.", "Atas perhatian Bapak/Ibu ...", "Hormat saya,", "Wassalamualaikum")."""
    if len(line) > _MAX_LABEL:
        return False
    return bool(_CLOSING.match(line)) or bool(_THANKS_FOR.match(line) and _THANKS.search(line))


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
            self.unassigned.extend(v for v in _merged(self.values[spec.key]) if v.strip())
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
        if not self.started or self.current is None:
            self.preamble.append(stripped)
            return
        if self.mode in ("multi", "wrap", "pending") and _is_closing(stripped):
            self.close_letter(stripped)
        elif self.mode == "multi":
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

    def close_letter(self, closing: str) -> None:
        """A formal closing ends the field being read: it, the name under it and
        a "Terima kasih." just before it are no part of the value. A label
        after it still starts its field."""
        assert self.current is not None
        values = self.values.setdefault(self.current.key, [])
        thanks: list[str] = []
        while values and (not values[-1].strip() or _THANKS.match(values[-1])) and len(values) > 1:
            line = values.pop()
            if line.strip():
                thanks.insert(0, line)
        self.unassigned.extend([*thanks, closing])
        self.mode = None

    # -- the # style
    def hash_line(self, line: str) -> bool:
        """Read a ``#`` line; False if it is not the Dukcapil style after all.

        Text before the first ``#`` ("Format aduan:#3402...#Siti ...") is an
        introduction, kept with the preamble; such a line is the ``#`` style
        only with two pieces or more, not inside a description, and when a
        piece is labelled or the first has the shape of the next position.
        """
        prefix, pieces = _split_hash(line)
        if not pieces or (prefix and (len(pieces) < 2 or not _is_intro(prefix, self.spec))):
            return False
        matched = [_match_label(p, self.spec) for p in pieces]
        label_only = [m is not None and m[1] == "" for m in matched]
        if len(pieces) >= 2 and sum(label_only) * 2 >= len(pieces) and not any(
            any(c.isdigit() for c in p) or "@" in p for p, only in zip(pieces, label_only) if not only
        ):
            # A header line: its labels give the positions of the values.
            self._introduce(prefix)
            self.order = [m[0].key if m is not None and only else None for m, only in zip(matched, label_only)]
            self.position = 0
            self.in_hash = True
            self.started = True
            return True
        if (prefix or not self.in_hash) and all(m is None for m in matched):
            # Outside the # style a hashtag is text ("#savedukcapil"), unless
            # the first piece has the shape of the first positional field.
            if self.mode == "multi" or not self._fits_next(pieces[0]):
                return False
        if prefix and self.mode == "multi":
            return False  # "tolong #dukcapil #bantul" in a description is its text
        self._introduce(prefix)
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

    def _introduce(self, prefix: str) -> None:
        if prefix:
            (self.unassigned if self.started else self.preamble).append(prefix)

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
            if (not piece or piece in _PLACEHOLDERS) and not spec.required:  # "##" or "#-": left empty
                self.labelled.add(key)
                return
            if not spec.required and not _looks_like(spec.kind, piece):
                continue  # an optional field left out: try the next position
            self.start(spec, piece)
            return
        # More pieces than positions: a '#' inside the last value ("... #tolong").
        if self.current is not None and self.current.kind in ("multiline", "text"):
            values = self.values[self.current.key]
            values.append(_Glued(piece) if values else piece)
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
    for line in unquoted_lines(text):
        stripped = line.strip()
        if "#" in stripped and reader.hash_line(stripped):
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
        raw = joiner.join(_merged(lines)).strip()
        if raw in _PLACEHOLDERS:
            raw = ""
        if not raw:
            if field_spec.required:
                problem = EMPTY if field_spec.key in reader.labelled else MISSING
                errors.append(FieldError(field_spec.key, field_spec.label, problem))
            continue
        value, problems = normalise_value(field_spec.kind, raw, today)
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
