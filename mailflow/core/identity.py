"""Structural checks of the NIK and the No. KK, and masking them in text.

Pure: values in, values out (``today`` defaults to the system date).

NIK (Nomor Induk Kependudukan), 16 digits ``PP KK CC DDMMYY SSSS``:
region of first registration (province, regency/city, district), birth date
with 40 added to the day for women, and a serial from 0001. No. KK (Kartu
Keluarga), 16 digits: the same region, the 6-digit date the card was first
registered (no +40) and a serial. Neither has a check digit, so a structurally
valid number can still be wrong: these checks only catch typos and made-up
numbers, they do not prove the number exists.

Every problem is one sentence in Bahasa Indonesia, because it is shown to the
citizen in the format-rejected reply. Both numbers are personal data (UU
27/2022): logs and listings show them through ``mask_id`` /
``mask_ids_in_text`` (``320101******0001``).
"""

from __future__ import annotations

import re
from datetime import date

# Province codes (kode wilayah, Kemendagri). 91-97 include the Papua provinces
# created in 2022 (Papua Selatan, Papua Tengah, Papua Pegunungan, Papua Barat Daya).
PROVINCE_CODES: frozenset[str] = frozenset(
    f"{n:02d}"
    for n in (
        *range(11, 20), 21, *range(31, 37), *range(51, 54),
        *range(61, 66), *range(71, 77), 81, 82, *range(91, 98),
    )
)

ID_LENGTH = 16
# Separators people put between the digits: spaces (incl. no-break space),
# dots and dashes (ASCII and typographic).
_SEPARATORS = " \t\u00a0\u202f.-\u2010\u2011\u2012\u2013\u2014"
_SEPARATOR_RE = re.compile("[" + re.escape(_SEPARATORS) + "]+")
_SEP_CLASS = "[ \u00a0\u202f.\\-\u2010\u2011\u2012\u2013\u2014]"
# A 16-digit run in free text, at most one separator between two digits, not
# part of a longer digit run. [0-9], not \d: \d also matches other scripts' digits.
_ID_IN_TEXT = re.compile(rf"(?<![0-9])[0-9](?:{_SEP_CLASS}?[0-9]){{15}}(?![0-9])")


def normalise_id(value: str) -> str:
    """``value`` without surrounding space and without separators between digits.

    ``"3201 0145.0190-0001"`` -> ``"3201014501900001"``. Other characters (letters)
    are kept, so the checks can report them.
    """
    return _SEPARATOR_RE.sub("", value.strip())


def _describe_length(value: str) -> str:
    if not value:
        return "kosong"
    if not (value.isdigit() and value.isascii()):
        bad = sorted({c for c in value if c not in "0123456789"})
        shown = ", ".join(f"\"{c}\"" for c in bad[:5])
        return f"mengandung huruf atau tanda selain angka ({shown})"
    return f"{len(value)} digit"


def _shape_problem(value: str, what: str) -> str | None:
    if len(value) == ID_LENGTH and value.isdigit() and value.isascii():
        return None
    return f"{what} harus {ID_LENGTH} digit angka, yang tertulis {_describe_length(value)}"


def _region_problems(value: str, what: str) -> list[str]:
    problems = []
    if value[0:2] not in PROVINCE_CODES:
        problems.append(f"kode provinsi {value[0:2]} pada {what} tidak dikenal")
    if value[2:4] == "00":
        problems.append(f"kode kabupaten/kota pada {what} tidak boleh 00")
    if value[4:6] == "00":
        problems.append(f"kode kecamatan pada {what} tidak boleh 00")
    return problems


def _resolve_date(day: int, month: int, yy: int, today: date) -> tuple[date | None, str]:
    """The date DD-MM-YY with the century that puts it not after ``today``.

    Returns ``(date, "")``, or ``(None, "invalid")`` when no century makes it a
    calendar date, or ``(None, "future")`` when every real reading is after today.
    The later century is preferred: ``01-01-05`` is 2005, not 1905.
    """
    real = False
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, month, day)
        except ValueError:
            continue
        real = True
        if candidate <= today:
            return candidate, ""
    return None, ("future" if real else "invalid")


def _nik_date(value: str, today: date) -> tuple[date | None, list[str]]:
    day, month, yy = int(value[6:8]), int(value[8:10]), int(value[10:12])
    if not (1 <= day <= 31 or 41 <= day <= 71):
        return None, [
            f"tanggal lahir pada NIK ({value[6:8]}) tidak mungkin: harus 01–31 (laki-laki) "
            f"atau 41–71 (perempuan, tanggal ditambah 40)"
        ]
    if day > 40:
        day -= 40
    shown = f"{day:02d}-{value[8:10]}-{value[10:12]}"
    if not 1 <= month <= 12:
        return None, [f"bulan lahir pada NIK ({value[8:10]}) tidak ada: harus 01–12"]
    born, why = _resolve_date(day, month, yy, today)
    if why == "invalid":
        return None, [f"tanggal lahir pada NIK ({shown}) bukan tanggal yang ada"]
    if why == "future":
        return None, [f"tanggal lahir pada NIK ({shown}) belum terjadi (setelah hari ini)"]
    return born, []


def check_nik(value: str, today: date | None = None) -> list[str]:
    """Problems with a NIK, in Bahasa Indonesia; ``[]`` when it is structurally valid.

    ``value`` may contain spaces, dots and dashes between the digits.
    """
    today = today or date.today()
    nik = normalise_id(value)
    if shape := _shape_problem(nik, "NIK"):
        return [shape]
    problems = _region_problems(nik, "NIK")
    problems += _nik_date(nik, today)[1]
    if nik[12:16] == "0000":
        problems.append("nomor urut NIK tidak boleh 0000")
    return problems


def check_kk(value: str, today: date | None = None) -> list[str]:
    """Problems with a No. KK (family card number); ``[]`` when structurally valid."""
    today = today or date.today()
    kk = normalise_id(value)
    what = "No. KK"
    if shape := _shape_problem(kk, what):
        return [shape]
    problems = _region_problems(kk, what)
    day, month, yy = int(kk[6:8]), int(kk[8:10]), int(kk[10:12])
    shown = f"{kk[6:8]}-{kk[8:10]}-{kk[10:12]}"
    if not 1 <= day <= 31:
        problems.append(
            f"tanggal pencatatan pada {what} ({kk[6:8]}) tidak mungkin: harus 01–31 "
            f"(pada No. KK tanggal tidak ditambah 40)"
        )
    elif not 1 <= month <= 12:
        problems.append(f"bulan pencatatan pada {what} ({kk[8:10]}) tidak ada: harus 01–12")
    else:
        _, why = _resolve_date(day, month, yy, today)
        if why == "invalid":
            problems.append(f"tanggal pencatatan pada {what} ({shown}) bukan tanggal yang ada")
        elif why == "future":
            problems.append(f"tanggal pencatatan pada {what} ({shown}) belum terjadi (setelah hari ini)")
    if kk[12:16] == "0000":
        problems.append(f"nomor urut {what} tidak boleh 0000")
    return problems


def nik_birth_date(nik: str, today: date | None = None) -> date | None:
    """The birth date a NIK encodes (women's +40 removed), or None if it encodes none."""
    value = normalise_id(nik)
    if _shape_problem(value, "NIK"):
        return None
    return _nik_date(value, today or date.today())[0]


def nik_sex(nik: str) -> str | None:
    """``'L'`` (laki-laki) for day 01–31, ``'P'`` (perempuan) for 41–71, else None."""
    value = normalise_id(nik)
    if _shape_problem(value, "NIK"):
        return None
    day = int(value[6:8])
    if 1 <= day <= 31:
        return "L"
    if 41 <= day <= 71:
        return "P"
    return None


def mask_id(value: str) -> str:
    """A NIK / No. KK with all but the first 6 and last 4 characters hidden.

    ``"3201 0145 0190 0001"`` -> ``"320101******0001"``. Separators are dropped.
    A mistyped value (say 15 digits, or with a letter) is still personal data:
    it is masked the same way when at least 14 characters long, and entirely
    when shorter.
    """
    raw = normalise_id(value)
    if len(raw) < 14:
        return "*" * len(raw)
    return raw[:6] + "*" * (len(raw) - 10) + raw[-4:]


def mask_ids_in_text(text: str) -> str:
    """``text`` with every 16-digit run (separators allowed, as in
    ``normalise_id``) replaced by its ``mask_id`` form. Shorter and longer digit
    runs (phone numbers, dates, 17+ digits) are left alone."""
    return _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), text)
