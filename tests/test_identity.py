"""NIK / No. KK structural checks and masking (mailflow.core.identity): table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from mailflow.core.identity import (
    check_kk,
    check_nik,
    mask_id,
    mask_ids_in_text,
    nik_birth_date,
    nik_sex,
    normalise_id,
)

TODAY = date(2025, 5, 1)


@pytest.mark.parametrize(
    "nik",
    [
        "3201010101900001",  # man, 01-01-1990
        "3201014501900001",  # woman: day 45 = 05 + 40
        "3201014101900001",  # woman born on the 1st: day 41
        "3201017101900001",  # woman born on the 31st: day 71
        "3201013101900001",  # man born on the 31st
        "3201 0145 0190 0001",  # spaces between groups
        "3201.0145.0190.0001",
        "3201-0145-0190-0001",
        " 3201014501900001 ",
        "9271010101900001",  # 92: Papua Barat Daya (2022)
        "9701010101900001",  # 97: the highest Papua code
        "1101010101900001",  # 11: Aceh, the lowest code
        "3201012902000001",  # 29-02-2000: a leap year
        "3201016902040001",  # woman, 29-02-2004
        "3201010105250001",  # 01-05-25 on 2025-05-01: born today
    ],
)
def test_valid_nik_has_no_problems(nik):
    assert check_nik(nik, TODAY) == []


@pytest.mark.parametrize(
    "nik, problems",
    [
        ("320101450190001", ["NIK harus 16 digit angka, yang tertulis 15 digit"]),
        ("32010145019000012", ["NIK harus 16 digit angka, yang tertulis 17 digit"]),
        ("", ["NIK harus 16 digit angka, yang tertulis kosong"]),
        ("32010145O1900001", ['NIK harus 16 digit angka, yang tertulis mengandung huruf atau tanda selain angka ("O")']),
        ("9901014501900001", ["kode provinsi 99 pada NIK tidak dikenal"]),
        ("2001014501900001", ["kode provinsi 20 pada NIK tidak dikenal"]),
        ("3200014501900001", ["kode kabupaten/kota pada NIK tidak boleh 00"]),
        ("3201004501900001", ["kode kecamatan pada NIK tidak boleh 00"]),
        ("3201013102900001", ["tanggal lahir pada NIK (31-02-90) bukan tanggal yang ada"]),
        ("3201017102900001", ["tanggal lahir pada NIK (31-02-90) bukan tanggal yang ada"]),  # woman, 71 - 40
        ("3201013104900001", ["tanggal lahir pada NIK (31-04-90) bukan tanggal yang ada"]),
        ("3201012902010001", ["tanggal lahir pada NIK (29-02-01) bukan tanggal yang ada"]),
        ("3201010113900001", ["bulan lahir pada NIK (13) tidak ada: harus 01–12"]),
        ("3201014500900001", ["bulan lahir pada NIK (00) tidak ada: harus 01–12"]),
        ("3201014501900000", ["nomor urut NIK tidak boleh 0000"]),
        ("9900004501900000", [
            "kode provinsi 99 pada NIK tidak dikenal",
            "kode kabupaten/kota pada NIK tidak boleh 00",
            "kode kecamatan pada NIK tidak boleh 00",
            "nomor urut NIK tidak boleh 0000",
        ]),
    ],
)
def test_invalid_nik_problems(nik, problems):
    assert check_nik(nik, TODAY) == problems


@pytest.mark.parametrize("day", ["00", "32", "35", "40", "72", "99"])
def test_nik_day_outside_both_ranges(day):
    problems = check_nik(f"320101{day}01900001", TODAY)
    assert len(problems) == 1
    assert problems[0].startswith(f"tanggal lahir pada NIK ({day}) tidak mungkin")
    assert "41–71 (perempuan" in problems[0]


def test_nik_birth_date_in_the_future():
    # A two-digit year takes the latest century that is not in the future, so
    # a future date is only possible when both readings are: 05-12-99 seen on
    # 1999-12-01 is neither 2099 nor (yet) 1999.
    assert check_nik("3201010512990001", date(1999, 12, 1)) == [
        "tanggal lahir pada NIK (05-12-99) belum terjadi (setelah hari ini)"
    ]
    assert check_nik("3201010512990001", date(1999, 12, 5)) == []


@pytest.mark.parametrize(
    "nik, today, born",
    [
        ("3201014501900001", TODAY, date(1990, 1, 5)),
        ("3201010101050001", TODAY, date(2005, 1, 1)),
        ("3201010101300001", TODAY, date(1930, 1, 1)),  # 2030 would be in the future
        ("3201010106250001", TODAY, date(1925, 6, 1)),  # later this year: a century ago
        ("3201010106250001", date(2025, 6, 1), date(2025, 6, 1)),
        ("3201012902000001", TODAY, date(2000, 2, 29)),
        ("3201013102900001", TODAY, None),
        ("320101450190001", TODAY, None),
    ],
)
def test_nik_birth_date(nik, today, born):
    assert nik_birth_date(nik, today) == born


@pytest.mark.parametrize(
    "nik, sex",
    [
        ("3201010101900001", "L"),
        ("3201013101900001", "L"),
        ("3201014101900001", "P"),
        ("3201017101900001", "P"),
        ("3201017201900001", None),
        ("3201013501900001", None),
        ("32010145019", None),
    ],
)
def test_nik_sex(nik, sex):
    assert nik_sex(nik) == sex


@pytest.mark.parametrize(
    "kk",
    ["3201011203150004", "3201 0112 0315 0004", "3402020105160002", "3201012902160001", "3201010105250001"],
)
def test_valid_kk(kk):
    assert check_kk(kk, TODAY) == []


@pytest.mark.parametrize(
    "kk, problems",
    [
        ("320101120315004", ["No. KK harus 16 digit angka, yang tertulis 15 digit"]),
        ("32O1011203150004", ['No. KK harus 16 digit angka, yang tertulis mengandung huruf atau tanda selain angka ("O")']),
        ("9901011203150004", ["kode provinsi 99 pada No. KK tidak dikenal"]),
        ("3201001203150004", ["kode kecamatan pada No. KK tidak boleh 00"]),
        ("3201014503150004", [
            "tanggal pencatatan pada No. KK (45) tidak mungkin: harus 01–31 (pada No. KK tanggal tidak ditambah 40)"
        ]),
        ("3201013104150004", ["tanggal pencatatan pada No. KK (31-04-15) bukan tanggal yang ada"]),
        ("3201012902150004", ["tanggal pencatatan pada No. KK (29-02-15) bukan tanggal yang ada"]),
        ("3201011213150004", ["bulan pencatatan pada No. KK (13) tidak ada: harus 01–12"]),
        ("3201011203150000", ["nomor urut No. KK tidak boleh 0000"]),
    ],
)
def test_invalid_kk_problems(kk, problems):
    assert check_kk(kk, TODAY) == problems


def test_kk_registration_date_in_the_future():
    assert check_kk("3201011512990004", date(1999, 12, 1)) == [
        "tanggal pencatatan pada No. KK (15-12-99) belum terjadi (setelah hari ini)"
    ]


@pytest.mark.parametrize(
    "value, normalised",
    [
        ("3201 0145 0190 0001", "3201014501900001"),
        ("3201.0145.0190.0001", "3201014501900001"),
        ("3201-0145-0190–0001", "3201014501900001"),  # an en dash too
        ("\u00a03201014501900001 ", "3201014501900001"),
        ("32O1", "32O1"),  # letters stay, so the check can name them
    ],
)
def test_normalise_id(value, normalised):
    assert normalise_id(value) == normalised


@pytest.mark.parametrize(
    "value, masked",
    [
        ("3201014501900001", "320101******0001"),
        ("3201 0145 0190 0001", "320101******0001"),
        ("320101450190001", "320101*****0001"),  # a mistyped NIK is personal data too
        ("3201014501", "**********"),
        ("", ""),
    ],
)
def test_mask_id(value, masked):
    assert mask_id(value) == masked


@pytest.mark.parametrize(
    "text, masked",
    [
        ("NIK 3201014501900001.", "NIK 320101******0001."),
        ("NIK:3201014501900001,KK:3201011203150004", "NIK:320101******0001,KK:320101******0004"),
        ("nik 3201 0145 0190 0001 ya", "nik 320101******0001 ya"),
        ("kk 3201.0112.0315.0004", "kk 320101******0004"),
        ("3201014501900001 3201011203150004", "320101******0001 320101******0004"),
        ("NIK3201014501900001", "NIK320101******0001"),
        ("HP 081234567890, 0812-3456-7890", "HP 081234567890, 0812-3456-7890"),
        ("tgl 2023-01-05 jam 10.30", "tgl 2023-01-05 jam 10.30"),
        ("17 digit 32010145019000012", "17 digit 32010145019000012"),
        ("081234567890 3201014501900001", "081234567890 320101******0001"),
        ("baris1\n3201014501900001\nbaris3", "baris1\n320101******0001\nbaris3"),
    ],
)
def test_mask_ids_in_text(text, masked):
    assert mask_ids_in_text(text) == masked
