"""The complaint format: loading the rules file (mailflow.config.complaint_format)
and parsing complaints written in every accepted style (mailflow.core.complaint_format).
Table-driven; pure."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from mailflow.config.complaint_format import load_format
from mailflow.core.complaint_format import EMPTY, MISSING, FieldError, parse_complaint
from mailflow.core.format_spec import FormatSpec, match_category
from mailflow.errors import RulesError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "rules" / "complaint-format.toml"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "format"
TODAY = date(2025, 5, 1)

REQUIRED = ["nama", "nik", "alamat", "no_hp", "jenis_layanan", "uraian"]

# The values every style below writes, and what the parser must make of them.
SITI = {
    "nama": "Siti Aminah",
    "nik": "3201014501900001",
    "no_kk": "3201011203150004",
    "alamat": "Jl. Mawar No. 5, RT 02/RW 03, Sewon",
    "no_hp": "081234567890",
    "email": "siti@example.id",
    "jenis_layanan": "KTP-el",
    "uraian": "KTP saya belum jadi sejak 3 bulan.",
}


@pytest.fixture(scope="module")
def spec() -> FormatSpec:
    return load_format(SHIPPED)


def parse(text: str, spec: FormatSpec):
    return parse_complaint(textwrap.dedent(text), spec, today=TODAY)


# ---------------------------------------------------------------- the shipped file


def test_shipped_format_has_the_fields_in_form_order(spec):
    assert [f.key for f in spec.fields] == ["nama", "nik", "no_kk", "alamat", "no_hp", "email", "jenis_layanan", "uraian"]
    assert [f.key for f in spec.fields if f.required] == REQUIRED
    assert spec.field("no_hp").label == "No. HP/WA"
    assert spec.field("uraian").kind == "multiline"
    assert all(f.help and f.example for f in spec.fields)


def test_shipped_categories_route_to_the_sections(spec):
    sections = {c.key: c.section for c in spec.categories}
    assert sections["ktp-el"] == sections["kia"] == sections["ikd"] == "identitas"
    assert sections["kk"] == sections["pindah-datang"] == "pindah"
    assert {sections[k] for k in ("akta-kelahiran", "akta-kematian", "akta-perkawinan", "akta-perceraian")} == {"capil"}
    assert sections["nik"] == sections["online"] == "piak"
    assert sections["pengaduan-pegawai"] == "pegawai"
    assert sections["lainnya"] == "lainnya"


def test_field_lookup_names_the_known_keys(spec):
    with pytest.raises(KeyError, match="no field 'nikk'.*nama, nik"):
        spec.field("nikk")


def test_example_form_round_trips(spec):
    parsed = parse_complaint(spec.example_form(), spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert set(parsed.fields) == {f.key for f in spec.fields}
    assert parsed.fields["uraian"] == spec.field("uraian").example
    assert parsed.fields["nik"] == spec.field("nik").example
    assert parsed.category is not None and parsed.category.key != "lainnya"


def test_blank_form_lists_every_field_and_reads_back_as_empty(spec):
    blank = spec.blank_form()
    assert blank.splitlines() == [
        "Nama: ", "NIK: ", "No. KK (boleh kosong): ", "Alamat: ", "No. HP/WA: ",
        "Email (boleh kosong): ", "Jenis Layanan: ", "Uraian / Permasalahan: ",
    ]
    parsed = parse_complaint(blank, spec, today=TODAY)
    assert parsed.fields == {}
    assert parsed.errors == tuple(FieldError(k, spec.field(k).label, EMPTY) for k in REQUIRED)


# ---------------------------------------------------------------- styles

STYLES = {
    "colon lines": """\
        Nama: Siti Aminah
        NIK: 3201014501900001
        No. KK: 3201011203150004
        Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        No. HP/WA: 081234567890
        Email: siti@example.id
        Jenis Layanan: KTP-el
        Uraian / Permasalahan: KTP saya belum jadi sejak 3 bulan.
        """,
    "equals signs, any order, any case": """\
        URAIAN = KTP saya belum jadi sejak 3 bulan.
        jenis layanan = KTP-el
        EMAIL=siti@example.id
        no hp = 081234567890
        alamat= Jl. Mawar No. 5, RT 02/RW 03, Sewon
        NO.KK = 3201011203150004
        nik = 3201014501900001
        NAMA = Siti Aminah
        """,
    "other spellings of the labels": """\
        Nama_Lengkap : Siti Aminah
        Nomor Induk Kependudukan : 3201 0145 0190 0001
        Nomor Kartu Keluarga : 3201.0112.0315.0004
        Alamat Lengkap : Jl. Mawar No. 5, RT 02/RW 03, Sewon
        Nomor_telp : 0812-3456-7890
        Alamat_email : siti@example.id
        Jenis Pelayanan : KTP-el
        Isi Aduan : KTP saya belum jadi sejak 3 bulan.
        """,
    "numbered and bulleted": """\
        1. Nama: Siti Aminah
        2) NIK: 3201014501900001
        3. No KK: 3201011203150004
        - Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        • Nomor HP: 0812 3456 7890
        * Email: siti@example.id
        a. Jenis Layanan: KTP-el
        (8) Permasalahan: KTP saya belum jadi sejak 3 bulan.
        """,
    "WhatsApp bold": """\
        *Nama*: Siti Aminah
        *NIK:* 3201014501900001
        **No. KK**: 3201011203150004
        *Alamat* : Jl. Mawar No. 5, RT 02/RW 03, Sewon
        *No. WA:* 081234567890
        _Email_: siti@example.id
        *Jenis Layanan*: KTP-el
        *Keluhan*: KTP saya belum jadi sejak 3 bulan.
        """,
    "label alone, value on the next line": """\
        Nama
        Siti Aminah

        NIK:

        3201014501900001
        Nomor Kartu Keluarga
        3201011203150004
        Alamat
        Jl. Mawar No. 5, RT 02/RW 03, Sewon
        No. HP/WA
        081234567890
        Email
        siti@example.id
        Jenis Layanan
        KTP-el
        Uraian Pengaduan
        KTP saya belum jadi sejak 3 bulan.
        """,
    "table converted from HTML (tabs and pipes)": """\
        | Nama\t| Siti Aminah |
        | NIK\t| 3201014501900001 |
        No. KK\t3201011203150004
        Alamat | Jl. Mawar No. 5, RT 02/RW 03, Sewon
        No. HP/WA | 081234567890
        Email\tsiti@example.id
        Jenis Layanan\tKTP-el
        Uraian\tKTP saya belum jadi sejak 3 bulan.
        """,
    "number fields without a separator": """\
        Nama: Siti Aminah
        NIK 3201 0145 0190 0001
        No KK 3201011203150004
        Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        No HP 0812 3456-7890
        Email siti@example.id
        Jenis Layanan: KTP-el
        Uraian: KTP saya belum jadi sejak 3 bulan.
        """,
    "dukcapil # style with header": """\
        #NIK #Nama_Lengkap #Nomor_Kartu_Keluarga #Nomor_telp #Alamat_email #permasalahan
        #3201014501900001 #Siti Aminah #3201011203150004 #081234567890 #siti@example.id #KTP saya belum jadi sejak 3 bulan.
        #Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon #Jenis Layanan: KTP-el
        """,
    "dukcapil # style without header (positional.order)": """\
        #3201014501900001 #Siti Aminah #3201011203150004 #081234567890 #siti@example.id #KTP saya belum jadi sejak 3 bulan.
        #Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        #Jenis Layanan: KTP-el
        """,
    "dukcapil # style, header in another order": """\
        #Nama #Alamat #NIK #Jenis_Layanan #No_HP #Email #No_KK #Uraian
        #Siti Aminah #Jl. Mawar No. 5, RT 02/RW 03, Sewon #3201014501900001 #KTP-el #081234567890 #siti@example.id #3201011203150004 #KTP saya belum jadi sejak 3 bulan.
        """,
    "dukcapil # style, one labelled piece per line": """\
        #Nama: Siti Aminah
        #NIK: 3201014501900001
        #No_KK: 3201011203150004
        #Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        #No_HP: 081234567890
        #Email: siti@example.id
        #Jenis_Layanan: KTP-el
        #Permasalahan: KTP saya belum jadi sejak 3 bulan.
        """,
    "dukcapil # style without spaces, after an introduction": """\
        Format aduan:#3201014501900001#Siti Aminah#3201011203150004#081234567890#siti@example.id#KTP saya belum jadi sejak 3 bulan.
        #Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon#Jenis Layanan: KTP-el
        """,
    "dukcapil # style without spaces, header row in capitals": """\
        #NIK#NAMA#No KK#No HP#EMAIL#URAIAN#ALAMAT#JENIS LAYANAN
        #3201014501900001#Siti Aminah#3201011203150004#081234567890#siti@example.id#KTP saya belum jadi sejak 3 bulan.#Jl. Mawar No. 5, RT 02/RW 03, Sewon#KTP-el
        """,
    "dukcapil # style with spaces, after an introduction": """\
        Data saya: #3201014501900001 #Siti Aminah #3201011203150004 #081234567890 #siti@example.id #KTP saya belum jadi sejak 3 bulan.
        #Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon #Jenis Layanan: KTP-el
        """,
    "other label variants, with '/' alternatives": """\
        Nama Pelapor : Siti Aminah
        No. NIK : 3201014501900001
        No. Kartu Keluarga : 3201011203150004
        Alamat Domisili : Jl. Mawar No. 5, RT 02/RW 03, Sewon
        No. Telp/WA : 081234567890
        Alamat Surel : siti@example.id
        Kategori : KTP-el
        Kronologi : KTP saya belum jadi sejak 3 bulan.
        """,
    "a formal letter": """\
        Kepada Yth. Kepala Disdukcapil
        Dengan hormat,
        Nama Lengkap: Siti Aminah
        No. KTP: 3201014501900001
        Nomor KK: 3201011203150004
        Alamat Rumah: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        Nomor Telepon/HP: 081234567890
        E-mail: siti@example.id
        Jenis Aduan: KTP-el
        Isi Pengaduan: KTP saya belum jadi sejak 3 bulan.
        Terima kasih.

        Demikian surat ini saya buat dengan sebenar-benarnya.
        Hormat saya,
        Siti Aminah
        """,
    "dukcapil # style, one positional piece per line": """\
        #3201014501900001
        #Siti Aminah
        #3201011203150004
        #081234567890
        #siti@example.id
        #KTP saya belum jadi sejak 3 bulan.
        Alamat: Jl. Mawar No. 5, RT 02/RW 03, Sewon
        Jenis Layanan: KTP-el
        """,
}


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_reads_the_same_complaint(style, spec):
    parsed = parse(STYLES[style], spec)
    assert parsed.errors == ()
    assert dict(parsed.fields) == SITI
    assert parsed.category.key == "ktp-el"
    assert parsed.ok


# Whole mails (as the mail parser hands them over: plain text, HTML already
# converted) in tests/fixtures/format/, and what each must give.
FIXTURE_CASES = {
    "html_converted_table_with_blank_lines.txt": (
        "akta-kelahiran",
        {
            "nama": "Budi Santoso",
            "nik": "3402010812850003",
            "alamat": "Jl. Parangtritis Km 7, Sewon, Bantul",
            "no_hp": "081234567890",
            "jenis_layanan": "Akta Kelahiran",
            "uraian": "Pengajuan akta kelahiran anak saya belum selesai.\n\n"
                      "Sudah dua bulan sejak berkas lengkap.\n\nTerima kasih.",
        },
        "Selamat pagi Bapak/Ibu Admin,",
    ),
    "whatsapp_bold_numbered_with_greeting.txt": (
        "ktp-el",
        {
            "nama": "Sri Wahyuni",
            "nik": "3402024903920001",
            "no_kk": "3402020105160002",
            "alamat": "Dusun Ngireng-ireng RT 02, Sidomulyo, Bambanglipuro",
            "no_hp": "+6281328765432",
            "jenis_layanan": "KTP el",
            "uraian": "Sudah perekaman KTP-el bulan Januari\ntetapi belum dicetak karena blangko habis.\n\nMohon kabarnya.",
        },
        "Assalamualaikum, selamat siang. Saya ingin mengadu:",
    ),
    "dukcapil_hash_header_with_address_pieces.txt": (
        "nik",
        {
            "nama": "Dewi Lestari",
            "nik": "3402105507880004",
            "no_kk": "3402101409100007",
            "alamat": "Kalurahan Trimulyo, Jetis, Bantul",
            "no_hp": "085712345678",
            "email": "dewi.lestari@example.id",
            "jenis_layanan": "NIK tidak valid",
            "uraian": "NIK saya tidak terbaca di aplikasi BPJS,\nkatanya NIK tidak ditemukan.",
        },
        "Dengan hormat,",
    ),
    "resent_with_quoted_rejection_and_signature.txt": (
        "pindah-datang",
        {
            "nama": "Agus Prasetyo",
            "nik": "3402121105790002",
            "alamat": "Dusun Kembang, Srigading, Sanden",
            "no_hp": "0274367509",
            "jenis_layanan": "Pindah datang",
            "uraian": "Surat pindah (SKPWNI) dari Sleman sudah saya serahkan,\ntetapi KK baru belum terbit.",
        },
        "",
    ),
    "wrapped_address_and_label_on_next_line.txt": (
        "kia",
        {
            "nama": "Rina Marlina",
            "nik": "3402036212010005",
            "alamat": "Perumahan Griya Asri Blok C-12, Jalan Imogiri Timur Km 9, Wirokerten, Banguntapan, Bantul",
            "no_hp": "087812345678",
            "email": "rina.marlina@example.id",
            "jenis_layanan": "Kartu Identitas Anak (KIA)",
            # A label already used, inside the description, is part of it.
            "uraian": "KIA anak saya salah tulis nama.\n\nMohon diperbaiki.\nUraian: kalimat ini tetap bagian uraian.",
        },
        "",
    ),
    # The closing, the "Terima kasih." before it and the name under "Hormat saya," are no
    # part of the description; "Perihal" names the service, "No. Telp/WA" the phone.
    "formal_letter_with_closing.txt": (
        "data",
        {
            "nama": "Hendra Wijaya",
            "nik": "3402151708830001",
            "no_kk": "3402150302110006",
            "alamat": "Jl. Bantul Km 5, Dusun Jaranan, Panggungharjo, Sewon",
            "no_hp": "081327654321",
            "jenis_layanan": "Perbaikan data KK",
            "uraian": 'Nama ibu kandung saya di KK tertulis "Sumarni", seharusnya "Sumarmi".\n'
                      "Saya sudah mengajukan perbaikan di kantor kapanewon pada 2 Oktober 2025,\n"
                      "tetapi sampai sekarang belum ada kabar.",
        },
        "Kepada Yth.\nKepala Dinas Kependudukan dan Pencatatan Sipil Kabupaten Bantul\ndi tempat\n\n"
        "Dengan hormat,\nYang bertanda tangan di bawah ini:",
    ),
    "hash_style_without_spaces_after_intro.txt": (
        "kia",
        {
            "nama": "Lestari Handayani",
            "nik": "3402046108950002",
            "no_kk": "3402040911180003",
            "alamat": "Dusun Jetis RT 05, Patalan, Jetis, Bantul",
            "no_hp": "+6287839124455",
            "email": "lestari.h@example.id",
            "jenis_layanan": "KIA",
            "uraian": "KIA anak saya belum bisa dicetak, katanya blangko habis.\nSudah dua kali saya datang ke kantor.",
        },
        "Selamat siang, berikut aduan saya.\n\nFormat aduan:",
    ),
    # Gmail's attribution wrapped after "<" (the address has digits): neither half is the description.
    "resent_with_gmail_wrapped_attribution.txt": (
        "akta-kelahiran",
        {
            "nama": "Yuliana Sari",
            "nik": "3402086402970003",
            "alamat": "Perum Banguntapan Asri B-7, Banguntapan",
            "no_hp": "085722113344",
            "jenis_layanan": "Akta Kelahiran",
            "uraian": "Akta kelahiran anak kedua saya belum terbit padahal berkas lengkap sejak Oktober.",
        },
        "",
    ),
}


def test_every_fixture_has_a_case():
    assert sorted(p.name for p in FIXTURES.glob("*.txt")) == sorted(FIXTURE_CASES)


@pytest.mark.parametrize("name", list(FIXTURE_CASES))
def test_fixture_mails(name, spec):
    category, fields, preamble = FIXTURE_CASES[name]
    text = (FIXTURES / name).read_bytes().decode("utf-8")
    parsed = parse_complaint(text, spec, today=TODAY)
    assert parsed.errors == ()
    assert dict(parsed.fields) == fields
    assert parsed.category.key == category
    assert parsed.preamble == preamble


# ---------------------------------------------------------------- description, preamble, quotes

BASE = """\
Nama: Siti Aminah
NIK: 3201014501900001
Alamat: Jl. Mawar No. 5
No. HP/WA: 081234567890
Jenis Layanan: KTP-el
"""


@pytest.mark.parametrize(
    "tail, uraian",
    [
        ("Uraian: baris satu\nbaris dua\n\n\n\nbaris tiga\n", "baris satu\nbaris dua\n\nbaris tiga"),
        ("Uraian:\n   baris satu   \n\tbaris  dua\n", "baris satu\nbaris dua"),
        ("Uraian: sebelum tanda tangan\n-- \nSiti Aminah\nNIK: 9999999999999999\n", "sebelum tanda tangan"),
        ("Uraian: balasan saya\n\nOn Mon, 5 May 2025 at 09:00, Admin <a@b.id> wrote:\n> Uraian: kutipan lama\n", "balasan saya"),
        ("Uraian: balasan\n-----Original Message-----\nFrom: admin\nUraian: lama\n", "balasan"),
        ("Uraian: balasan\n________________________________\nFrom: Admin\nSent: Monday\n", "balasan"),
        ("Uraian: pukul 10:30 saya datang\nhttps://dukcapil.example.id/antrian tidak bisa dibuka\n",
         "pukul 10:30 saya datang\nhttps://dukcapil.example.id/antrian tidak bisa dibuka"),
        ("Uraian: anak saya\nNama: Budi\nNIK: 3201010101150001\nbelum punya KIA\n",
         "anak saya\nNama: Budi\nNIK: 3201010101150001\nbelum punya KIA"),
        ("Uraian: tolong dibantu\n#savedukcapil #pelayananprima\n", "tolong dibantu\n#savedukcapil #pelayananprima"),
        # Gmail's opening in the citizen's own sentence stays (a quoted attribution goes: fixtures),
        ("Uraian: saya datang\nPada tanggal Sen, 30 Nov 2026 pukul 09.00 ke kantor\ntetapi tutup.\n",
         "saya datang\nPada tanggal Sen, 30 Nov 2026 pukul 09.00 ke kantor\ntetapi tutup."),
        # and a label line is no attribution, whatever it ends with.
        ("Uraian: Pada 2 November 2026 petugas menulis:\nberkas kurang.\n",
         "Pada 2 November 2026 petugas menulis:\nberkas kurang."),
    ],
)
def test_description_continues_until_the_next_label_or_the_end(tail, uraian, spec):
    parsed = parse_complaint(BASE + tail, spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["uraian"] == uraian
    assert parsed.fields["nama"] == "Siti Aminah"


def test_description_ends_at_the_next_label(spec):
    parsed = parse("""\
        Uraian: KTP saya belum jadi.
        Sudah tiga bulan.
        Nama: Siti Aminah
        NIK: 3201014501900001
        Alamat: Jl. Mawar No. 5
        No. HP/WA: 081234567890
        Jenis Layanan: KTP-el
        """, spec)
    assert parsed.ok
    assert parsed.fields["uraian"] == "KTP saya belum jadi.\nSudah tiga bulan."


def test_greeting_before_the_first_label_is_the_preamble(spec):
    parsed = parse_complaint(
        "Selamat siang,\nsaya ingin mengadu.\nKepada Yth: Admin Dukcapil\n\n" + BASE + "Uraian: KTP belum jadi\n",
        spec, today=TODAY,
    )
    assert parsed.ok
    assert parsed.preamble == "Selamat siang,\nsaya ingin mengadu.\nKepada Yth: Admin Dukcapil"
    assert parsed.fields["nama"] == "Siti Aminah"


def test_quoted_lines_are_ignored_everywhere(spec):
    parsed = parse_complaint("> Nama: Orang Lain\n> NIK: 3201010101900001\n" + BASE + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.fields["nama"] == "Siti Aminah"
    assert parsed.fields["nik"] == "3201014501900001"


def test_first_value_of_a_repeated_label_wins_and_the_rest_is_kept_aside(spec):
    parsed = parse_complaint(BASE + "Nama: Orang Lain\nUraian: ok\n", spec, today=TODAY)
    assert parsed.fields["nama"] == "Siti Aminah"
    assert parsed.unassigned == ("Nama: Orang Lain",)


def test_a_heading_that_is_a_label_does_not_swallow_the_description(spec):
    parsed = parse_complaint(
        "ADUAN\nSelamat siang, saya mau mengadu.\n\n" + BASE + "Uraian: KTP saya belum jadi.\n", spec, today=TODAY
    )
    assert parsed.ok
    assert parsed.fields["uraian"] == "KTP saya belum jadi."
    assert parsed.unassigned == ("Selamat siang, saya mau mengadu.",)


@pytest.mark.parametrize(
    "noise", ["Sent from my iPhone", "Dikirim dari Yahoo Mail di Android", "Get Outlook for Android", "[image: ktp.jpg]"]
)
def test_mail_client_lines_are_not_part_of_the_description(noise, spec):
    parsed = parse_complaint(BASE + f"Uraian: KTP belum jadi\n{noise}\n\n", spec, today=TODAY)
    assert parsed.fields["uraian"] == "KTP belum jadi"


def test_a_hashtag_in_the_greeting_is_not_the_hash_style(spec):
    parsed = parse_complaint("#pengaduanKTP\n" + BASE + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.preamble == "#pengaduanKTP"


@pytest.mark.parametrize(
    "line, expected",
    [
        # No. KK and Email left out: positions whose value has another shape are skipped.
        ("#3201014501900001 #Siti Aminah #081234567890 #KTP belum jadi",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
        # "-" marks an optional position empty.
        ("#3201014501900001 #Siti Aminah #- #081234567890 #- #KTP belum jadi",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
        # A '#' inside the last value belongs to it.
        ("#3201014501900001 #Siti Aminah #3201011203150004 #081234567890 #siti@example.id #KTP belum jadi #tolong",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_kk": "3201011203150004", "no_hp": "081234567890",
          "email": "siti@example.id", "uraian": "KTP belum jadi #tolong"}),
        # A labelled piece fills its field; the positions skip it.
        ("#Nama: Siti Aminah #3201014501900001 #081234567890 #KTP belum jadi",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
        # A header with a label mailflow does not know: that position is set aside.
        ("#NIK #Nama #Pekerjaan #No HP #Uraian\n#3201014501900001 #Siti Aminah #Petani #081234567890 #KTP belum jadi",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
    ],
)
def test_hash_style_positions(line, expected, spec):
    parsed = parse_complaint(line + "\n#Alamat: Sewon #Jenis Layanan: KTP\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert dict(parsed.fields) == expected | {"alamat": "Sewon", "jenis_layanan": "KTP"}


@pytest.mark.parametrize(
    "line, expected",
    [
        # Pieces without spaces; "##" leaves an optional position empty; a '#' at the end starts nothing.
        ("#3201014501900001#Siti Aminah##081234567890##KTP belum jadi#",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
        # The first '#' right after other text; the introduction may be a label alone.
        ("Aduan:#3201014501900001#Siti Aminah#081234567890#KTP belum jadi",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
        ("Berikut format aduan saya #3201014501900001 #Siti Aminah #081234567890 #KTP belum jadi",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_hp": "081234567890", "uraian": "KTP belum jadi"}),
        # Without spaces, every '#' starts a piece, so a '#' in the last value is one more piece.
        ("#3201014501900001#Siti Aminah#3201011203150004#081234567890#siti@example.id#KTP belum jadi#tolong",
         {"nik": "3201014501900001", "nama": "Siti Aminah", "no_kk": "3201011203150004", "no_hp": "081234567890",
          "email": "siti@example.id", "uraian": "KTP belum jadi #tolong"}),
    ],
)
def test_hash_style_without_spaces(line, expected, spec):
    parsed = parse_complaint(line + "\n#Alamat: Sewon#Jenis Layanan: KTP\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert dict(parsed.fields) == expected | {"alamat": "Sewon", "jenis_layanan": "KTP"}


@pytest.mark.parametrize(
    "tail, uraian",
    [
        # Hashtags after text inside a description stay its text.
        ("Uraian: tolong dibantu #dukcapil #bantul\n", "tolong dibantu #dukcapil #bantul"),
        ("Uraian: tolong dibantu\nsaya sudah ke kantor #2 kali #capek\n", "tolong dibantu\nsaya sudah ke kantor #2 kali #capek"),
        ("Uraian: sudah#lama#sekali\n", "sudah#lama#sekali"),
        # A label with its value before the '#' is that label's line, not an introduction.
        ("Uraian: KTP hilang #3201014501900001 #Siti\n", "KTP hilang #3201014501900001 #Siti"),
    ],
)
def test_hashes_inside_text_are_not_the_hash_style(tail, uraian, spec):
    parsed = parse_complaint(BASE + tail, spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["uraian"] == uraian
    assert parsed.fields["nik"] == "3201014501900001"


@pytest.mark.parametrize("text", ["Halo #3201014501900001 saja", "#pengaduanKTP#savedukcapil", "Mohon #bantuan #segera"])
def test_a_line_with_hashes_in_the_greeting_stays_the_greeting(text, spec):
    parsed = parse_complaint(text + "\n" + BASE + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.preamble == text


# ---------------------------------------------------------------- label variants

# Labels from Indonesian public-service forms (LAPOR!, Dukcapil online forms,
# formal letters) and how people shorten them, each with the field it names.
LABEL_VARIANTS = {
    "nama": ["Nama", "NAMA LENGKAP", "Nama Pelapor", "Nama Pemohon", "Nama Sesuai KTP", "Nama Lengkap Sesuai KTP-el",
             "Pelapor", "Nama_Lengkap"],
    "nik": ["NIK", "No. NIK", "Nomor NIK", "Nomor Induk Kependudukan", "No. KTP", "NIK KTP", "No. e-KTP", "NIK Pemohon",
            "No. KTP/NIK", "Nomor Induk Kependudukan (NIK)"],
    "no_kk": ["No. KK", "No KK", "NO.KK", "Nomor KK", "Nomor Kartu Keluarga", "No. Kartu Keluarga", "KK", "NKK",
              "No. KK/NKK"],
    "alamat": ["Alamat", "Alamat Lengkap", "Alamat Rumah", "Alamat Domisili", "Domisili", "Alamat Sesuai KTP",
               "Tempat Tinggal", "Alamat/Domisili"],
    "no_hp": ["No. HP", "No. HP/WA", "No. Telp", "No. Telp/WA", "No Telp.", "Nomor Telepon", "Telepon", "Telp", "WA",
              "Whatsapp", "No. WhatsApp", "HP/WA", "Nomor HP", "No. Handphone", "Kontak", "No. Telp / WA",
              "Nomor HP/WA", "No. HP/Telp/WA", "Telepon/HP", "No. Tlp", "No. HP (aktif)", "Nomor yang bisa dihubungi"],
    "email": ["Email", "E-mail", "Alamat Email", "Alamat E-mail", "Surel", "Alamat Surel"],
    "jenis_layanan": ["Jenis Layanan", "Layanan", "Jenis Pelayanan", "Jenis Aduan", "Kategori", "Kategori Pengaduan",
                      "Perihal", "Hal", "Judul Laporan", "Jenis Dokumen"],
    "uraian": ["Uraian", "Uraian / Permasalahan", "Permasalahan", "Isi Aduan", "Isi Laporan", "Keluhan", "Kronologi",
               "Keterangan", "Pengaduan", "Uraian Pengaduan", "Pokok Permasalahan", "Deskripsi Masalah"],
}
VALUES = {"nama": "Siti Aminah", "nik": "3201014501900001", "no_kk": "3201011203150004", "alamat": "Sewon",
          "no_hp": "081234567890", "email": "siti@example.id", "jenis_layanan": "KTP-el", "uraian": "KTP belum jadi"}


@pytest.mark.parametrize("key, label", [(k, label) for k, labels in LABEL_VARIANTS.items() for label in labels])
def test_label_variants_name_their_field(key, label, spec):
    assert spec.find_label(label) is spec.field(key)
    parsed = parse_complaint(f"{label}: {VALUES[key]}\n", spec, today=TODAY)
    assert dict(parsed.fields) == {key: VALUES[key]}


def test_no_telp_wa_is_the_phone_in_a_whole_complaint(spec):
    # Reported: "No. Telp/WA" was not known, and the citizen was told the phone was missing.
    parsed = parse_complaint(BASE.replace("No. HP/WA:", "No. Telp/WA:") + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["no_hp"] == "081234567890"


@pytest.mark.parametrize("label", ["Nama/NIK", "Email/No. HP", "NIK/No. KK", "Tempat/Tgl. Lahir", "HP/WA saya hilang", "RT/RW",
                                   "Nama Ibu Kandung", "/", "No/"])
def test_labels_that_name_no_field_or_two(label, spec):
    assert spec.find_label(label) is None


def test_every_shipped_label_names_its_own_field_unambiguously(spec):
    for field in spec.fields:
        for name in (field.label, *field.aliases):
            assert spec.find_label(name) is field, name


@pytest.mark.parametrize(
    "extra", ["Tempat/Tgl. Lahir: Bantul, 05-01-1990", "Pekerjaan : Petani", "*Agama*: Islam"]
)
def test_an_unknown_label_line_does_not_continue_a_one_line_field(extra, spec):
    text = BASE.replace("Alamat: Jl. Mawar No. 5\n", "Alamat: Jl. Mawar No. 5\n" + extra + "\n")
    parsed = parse_complaint(text.replace("Nama: Siti Aminah\n", "Nama:\n" + extra + "\n") + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.fields["alamat"] == "Jl. Mawar No. 5"
    assert "nama" not in parsed.fields
    assert parsed.errors == (FieldError("nama", "Nama", EMPTY),)
    assert parsed.unassigned == (extra, extra)


def test_a_hard_wrapped_value_continues_until_a_blank_line(spec):
    text = BASE.replace("Alamat: Jl. Mawar No. 5\n", "Alamat: Jl. Mawar No. 5,\nRT 02/RW 03, Sewon\n\nterima kasih\n")
    parsed = parse_complaint(text + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.fields["alamat"] == "Jl. Mawar No. 5, RT 02/RW 03, Sewon"
    assert parsed.unassigned == ("terima kasih",)


# ---------------------------------------------------------------- a formal letter's closing


@pytest.mark.parametrize(
    "tail, uraian, rest",
    [
        ("Uraian: KTP belum jadi.\n\nDemikian pengaduan ini saya sampaikan.\n", "KTP belum jadi.",
         ("Demikian pengaduan ini saya sampaikan.",)),
        ("Uraian: KTP belum jadi.\nDemikian surat ini saya buat dengan sebenarnya.\n", "KTP belum jadi.",
         ("Demikian surat ini saya buat dengan sebenarnya.",)),
        ("Uraian: KTP belum jadi.\nAtas perhatian dan kerjasamanya saya ucapkan terima kasih.\n", "KTP belum jadi.",
         ("Atas perhatian dan kerjasamanya saya ucapkan terima kasih.",)),
        ("Uraian: KTP belum jadi.\nAtas bantuannya saya ucapkan terima kasih.\n", "KTP belum jadi.",
         ("Atas bantuannya saya ucapkan terima kasih.",)),
        ("Uraian: KTP belum jadi.\n\nHormat saya,\n\nSiti Aminah\n", "KTP belum jadi.", ("Hormat saya,", "Siti Aminah")),
        ("Uraian: KTP belum jadi.\nHormat kami,\nKeluarga Siti\n", "KTP belum jadi.", ("Hormat kami,", "Keluarga Siti")),
        ("Uraian: KTP belum jadi.\nSalam hormat,\nSiti\n", "KTP belum jadi.", ("Salam hormat,", "Siti")),
        ("Uraian: KTP belum jadi.\n\nWassalamualaikum Wr. Wb.\n", "KTP belum jadi.", ("Wassalamualaikum Wr. Wb.",)),
        ("Uraian: KTP belum jadi.\nTertanda,\nSiti Aminah\n", "KTP belum jadi.", ("Tertanda,", "Siti Aminah")),
        # "Terima kasih." at the end goes with the closing that follows it ...
        ("Uraian: KTP belum jadi.\n\nTerima kasih.\n\nHormat saya,\nSiti\n", "KTP belum jadi.",
         ("Terima kasih.", "Hormat saya,", "Siti")),
        ("Uraian: KTP belum jadi.\nTerima kasih atas perhatiannya.\nWassalam\n", "KTP belum jadi.",
         ("Terima kasih atas perhatiannya.", "Wassalam")),
        # ... and stays without one (a mail that just ends with thanks keeps it, as before).
        ("Uraian: KTP belum jadi.\n\nTerima kasih.\n", "KTP belum jadi.\n\nTerima kasih.", ()),
        # "Demikian juga" (likewise) and thanks in mid-text are part of the description.
        ("Uraian: KTP belum jadi.\nDemikian juga KK saya.\nTerima kasih sebelumnya, mohon dibantu.\n",
         "KTP belum jadi.\nDemikian juga KK saya.\nTerima kasih sebelumnya, mohon dibantu.", ()),
        ("Uraian: Atas bantuan RT saya sudah mengurus surat pindah.\n",
         "Atas bantuan RT saya sudah mengurus surat pindah.", ()),
    ],
)
def test_a_formal_closing_ends_the_description(tail, uraian, rest, spec):
    parsed = parse_complaint(BASE + tail, spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["uraian"] == uraian
    assert parsed.unassigned == rest


def test_a_label_after_the_closing_is_still_read(spec):
    text = BASE.replace("Jenis Layanan: KTP-el\n", "") + "Uraian: ok\nHormat saya,\nSiti\nJenis Layanan: KTP-el\n"
    parsed = parse_complaint(text, spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["uraian"] == "ok"
    assert parsed.fields["jenis_layanan"] == "KTP-el"


def test_a_closing_leaves_a_pending_field_empty(spec):
    parsed = parse_complaint(BASE + "Uraian:\n\nDemikian pengaduan saya.\nHormat saya,\nSiti\n", spec, today=TODAY)
    assert [(e.key, e.problem) for e in parsed.errors] == [("uraian", EMPTY)]


def test_crlf_and_cr_line_endings(spec):
    text = BASE + "Uraian: satu\ndua\n"
    for newline in ("\r\n", "\r"):
        parsed = parse_complaint(text.replace("\n", newline), spec, today=TODAY)
        assert parsed.ok
        assert parsed.fields["uraian"] == "satu\ndua"


# ---------------------------------------------------------------- missing and invalid fields


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", [(k, MISSING) for k in REQUIRED]),
        ("Halo, KTP saya belum jadi.", [(k, MISSING) for k in REQUIRED]),
        ("Nama: Siti\nAlamat: Sewon\n", [("nik", MISSING), ("no_hp", MISSING), ("jenis_layanan", MISSING), ("uraian", MISSING)]),
        (BASE, [("uraian", MISSING)]),
        (BASE + "Uraian:\n", [("uraian", EMPTY)]),
        (BASE + "Uraian: -\n", [("uraian", EMPTY)]),
        ("Uraian: ada\nNIK:\nNama: -\n", [("nama", EMPTY), ("nik", EMPTY), ("alamat", MISSING), ("no_hp", MISSING), ("jenis_layanan", MISSING)]),
        # The published # format has no Alamat and no Jenis Layanan.
        ("#3201014501900001 #Siti #3201011203150004 #081234567890 #siti@example.id #KTP belum jadi\n",
         [("alamat", MISSING), ("jenis_layanan", MISSING)]),
    ],
)
def test_missing_required_fields_are_listed_exactly(text, expected, spec):
    parsed = parse_complaint(text, spec, today=TODAY)
    assert [(e.key, e.problem) for e in parsed.errors] == expected
    assert [e.label for e in parsed.errors] == [spec.field(k).label for k, _ in expected]
    assert not parsed.ok


def test_optional_fields_may_be_missing_or_marked_empty(spec):
    for extra in ("", "No. KK: -\nEmail:\n", "No. KK (boleh kosong): \n"):
        parsed = parse_complaint(BASE + extra + "Uraian: ok\n", spec, today=TODAY)
        assert parsed.ok, (extra, parsed.errors)
        assert "no_kk" not in parsed.fields and "email" not in parsed.fields


@pytest.mark.parametrize(
    "line, key, problem",
    [
        ("NIK: 320101450190001", "nik", "NIK harus 16 digit angka, yang tertulis 15 digit"),
        ("NIK: 32010145O1900001", "nik", 'NIK harus 16 digit angka, yang tertulis mengandung huruf atau tanda selain angka ("O")'),
        ("NIK: 9901014501900001", "nik", "kode provinsi 99 pada NIK tidak dikenal"),
        ("NIK: 3201013102900001", "nik", "tanggal lahir pada NIK (31-02-90) bukan tanggal yang ada"),
        ("NIK: 9901014501900000", "nik", "kode provinsi 99 pada NIK tidak dikenal; nomor urut NIK tidak boleh 0000"),
        ("No. KK: 3201014503150004", "no_kk",
         "tanggal pencatatan pada No. KK (45) tidak mungkin: harus 01–31 (pada No. KK tanggal tidak ditambah 40)"),
        ("No. HP/WA: 12345", "no_hp",
         "nomor HP harus 9–15 digit angka, yang tertulis 5 digit; nomor HP harus diawali 0 atau +62 (nomor Indonesia), misalnya 081234567890"),
        ("Email: siti di example", "email", "alamat email tidak valid, tulis seperti nama@contoh.id"),
        ("Nama: 123", "nama", "harus berisi keterangan dengan huruf, bukan hanya angka atau tanda baca"),
    ],
)
def test_invalid_values_are_one_error_each(line, key, problem, spec):
    # The bad line comes last, so it replaces nothing: BASE's values stay, and
    # a second value for a label already used is ignored; put it first instead.
    parsed = parse_complaint(line + "\n" + BASE + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.errors == (FieldError(key, spec.field(key).label, problem),)
    assert key in parsed.fields  # found, though invalid: the reply can show what was read


def test_errors_come_in_field_order_whatever_the_text_order(spec):
    parsed = parse("""\
        Uraian: ok
        No. HP/WA: 0812
        Alamat: Sewon
        NIK: 123
        """, spec)
    assert [e.key for e in parsed.errors] == ["nama", "nik", "no_hp", "jenis_layanan"]


# ---------------------------------------------------------------- phones and e-mail


@pytest.mark.parametrize(
    "written, stored",
    [
        ("081234567890", "081234567890"),
        ("0812 3456 7890", "081234567890"),
        ("0812-3456-7890", "081234567890"),
        ("0812.3456.7890", "081234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("+62 (0) 812 3456 7890", "+6281234567890"),
        ("62 812 3456 7890", "+6281234567890"),
        ("(0274) 367509", "0274367509"),
        ("0812-3456-7890 (WA aktif)", "081234567890"),
        ("081234567", "081234567"),  # 9 digits: the shortest allowed
    ],
)
def test_phone_numbers_are_normalised(written, stored, spec):
    parsed = parse_complaint(BASE.replace("081234567890", written) + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["no_hp"] == stored


@pytest.mark.parametrize(
    "written, problem",
    [
        ("08123456", "nomor HP harus 9–15 digit angka, yang tertulis 8 digit"),
        ("0812345678901234", "nomor HP harus 9–15 digit angka, yang tertulis 16 digit"),
        ("812345678", "nomor HP harus diawali 0 atau +62 (nomor Indonesia), misalnya 081234567890"),
        ("+1 202 555 0100", "nomor HP harus diawali 0 atau +62 (nomor Indonesia), misalnya 081234567890"),
        ("belum punya", "nomor HP harus berupa angka, misalnya 081234567890 atau +6281234567890"),
    ],
)
def test_invalid_phone_numbers(written, problem, spec):
    parsed = parse_complaint(BASE.replace("081234567890", written) + "Uraian: ok\n", spec, today=TODAY)
    assert [(e.key, e.problem) for e in parsed.errors] == [("no_hp", problem)]


@pytest.mark.parametrize(
    "written, stored",
    [("siti@example.id", "siti@example.id"), ("<siti@example.id>", "siti@example.id"),
     ("mailto:siti@example.id", "siti@example.id"), ("siti.aminah+aduan@mail.example.co.id.", "siti.aminah+aduan@mail.example.co.id")],
)
def test_email_values(written, stored, spec):
    parsed = parse_complaint(BASE + f"Email: {written}\nUraian: ok\n", spec, today=TODAY)
    assert parsed.ok, parsed.errors
    assert parsed.fields["email"] == stored


@pytest.mark.parametrize("written", ["siti@example", "siti@@example.id", "Siti <siti@example.id>", "siti example.id"])
def test_invalid_email_values(written, spec):
    parsed = parse_complaint(BASE + f"Email: {written}\nUraian: ok\n", spec, today=TODAY)
    assert [e.key for e in parsed.errors] == ["email"]


# ---------------------------------------------------------------- categories


@pytest.mark.parametrize(
    "written, key",
    [
        ("KTP-el", "ktp-el"), ("e-KTP", "ktp-el"), ("ktp el", "ktp-el"), ("KTPel", "ktp-el"), ("EKTP hilang", "ktp-el"),
        ("Kartu Tanda Penduduk", "ktp-el"), ("KIA", "kia"), ("kartu identitas anak", "kia"), ("Aktivasi IKD", "ikd"),
        ("KK", "kk"), ("Kartu Keluarga", "kk"), ("Pindah Datang", "pindah-datang"), ("SKPWNI", "pindah-datang"),
        ("Akta Kelahiran", "akta-kelahiran"), ("akte lahir anak", "akta-kelahiran"), ("Akta Kematian", "akta-kematian"),
        ("akta perkawinan", "akta-perkawinan"), ("Perceraian", "akta-perceraian"), ("Akta", "pencatatan-sipil"),
        ("NIK ganda", "nik"), ("NIK tidak valid", "nik"), ("Perbaikan data", "data"),
        ("SIAK tidak sinkron", "online"), ("pendaftaran online", "online"),
        ("Pungli", "pengaduan-pegawai"), ("pungutan liar saat rekam KTP", "pengaduan-pegawai"),
        ("Sikap petugas", "pengaduan-pegawai"), ("Akta perkawinan calon pengantin", "akta-perkawinan"),
        ("Pendataan ulang", "lainnya"), ("Surat keterangan datang", "pindah-datang"), ("aktakelahiran", "akta-kelahiran"), ("Bansos", "lainnya"), ("Lain-lain", "lainnya"), ("1", "lainnya"),
    ],
)
def test_category_matching(written, key, spec):
    assert match_category(written, spec).key == key


def test_unknown_service_is_lainnya_not_an_error(spec):
    parsed = parse_complaint(BASE.replace("KTP-el", "Bantuan sosial") + "Uraian: ok\n", spec, today=TODAY)
    assert parsed.ok
    assert parsed.category.key == "lainnya"
    assert parsed.fields["jenis_layanan"] == "Bantuan sosial"


def test_no_category_without_jenis_layanan(spec):
    parsed = parse_complaint("Nama: Siti\nUraian: KTP belum jadi\n", spec, today=TODAY)
    assert parsed.category is None


# ---------------------------------------------------------------- load_format errors

MINIMAL = """\
[positional]
order = ["nik", "nama"]

[[fields]]
key = "nama"
label = "Nama"
required = true
kind = "text"
help = "Nama lengkap"
example = "Siti"

[[fields]]
key = "nik"
label = "NIK"
aliases = ["Nomor NIK"]
required = true
kind = "nik"
help = "16 digit"
example = "3201014501900001"

[[fields]]
key = "alamat"
label = "Alamat"
required = true
kind = "text"
help = "Alamat"
example = "Sewon"

[[fields]]
key = "no_hp"
label = "No HP"
required = true
kind = "phone"
help = "HP"
example = "081234567890"

[[fields]]
key = "jenis_layanan"
label = "Jenis Layanan"
required = true
kind = "category"
help = "Layanan"
example = "KTP"

[[fields]]
key = "uraian"
label = "Uraian"
required = true
kind = "multiline"
help = "Masalah"
example = "KTP belum jadi"

[[categories]]
key = "ktp"
name = "KTP-el"
aliases = ["KTP"]
section = "identitas"

[[categories]]
key = "lainnya"
name = "Lainnya"
section = "lainnya"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "complaint-format.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_format_loads(tmp_path):
    spec = load_format(write(tmp_path, MINIMAL))
    assert [f.key for f in spec.fields] == ["nama", "nik", "alamat", "no_hp", "jenis_layanan", "uraian"]
    assert spec.positional == ("nik", "nama")
    assert spec.fallback.key == "lainnya"


@pytest.mark.parametrize(
    "old, new, key, fix",
    [
        ('kind = "nik"', 'kind = "nikk"', "fields[1].kind",
         "expected one of text, multiline, nik, kk, phone, email, category, got 'nikk'"),
        ('key = "nik"\n', 'key = "Nik"\n', "fields[1].key", "lower-case"),
        ('key = "alamat"', 'key = "nama"', "fields[2].key", "duplicate field key 'nama'"),
        ('key = "alamat"', 'key = "domisili"', "fields", "no field with key 'alamat'"),
        ('aliases = ["Nomor NIK"]', 'aliases = ["Nomor NIK", "NAMA"]', "fields[1].aliases[1]",
         "'NAMA' is already a label of field 'nama'"),
        ('aliases = ["Nomor NIK"]', 'aliases = "Nomor NIK"', "fields[1].aliases", "expected a list of non-empty strings"),
        ('help = "16 digit"', 'help = "16 digit"\nwajib = true', "fields[1].wajib", "unknown key"),
        ('aliases = ["Nomor NIK"]\nrequired = true', 'aliases = ["Nomor NIK"]\nrequired = "ya"', "fields[1].required",
         "expected true or false"),
        ('label = "Alamat"\nrequired = true', 'label = "Alamat"\nrequired = false', "fields[2].required",
         "must be required = true"),
        ('kind = "multiline"', 'kind = "text"', "fields[5].kind", "field 'uraian' must have kind multiline"),
        ('example = "3201014501900001"', 'example = "9901014501900001"', "fields[1].example",
         "kode provinsi 99 pada NIK tidak dikenal"),
        ('example = "KTP"', 'example = "Bansos"', "fields[4].example", "names no category"),
        ('help = "Masalah"\n', '', "fields[5].help", "is missing"),
        ('key = "lainnya"', 'key = "umum"', "categories", "no category with key 'lainnya'"),
        ('section = "identitas"', 'section = "Seksi Identitas"', "categories[0].section", "lower-case"),
        ('name = "Lainnya"', 'name = "Lainnya"\naliases = ["ktp"]', "categories[1].aliases[0]",
         "'ktp' already names category 'ktp'"),
        ('order = ["nik", "nama"]', 'order = ["nik", "namaa"]', "positional.order[1]", "unknown field 'namaa'"),
        ('order = ["nik", "nama"]', 'order = ["nik", "nik"]', "positional.order[1]", "listed twice"),
        ("[positional]", "[posisi]", "posisi", "unknown key"),
    ],
)
def test_load_format_errors_name_file_key_and_fix(tmp_path, old, new, key, fix):
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(RulesError) as caught:
        load_format(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: key '{key}': ")
    assert fix in message


def test_load_format_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(RulesError, match="no such complaint-format file"):
        load_format(tmp_path / "nope.toml")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_format(write(tmp_path, "[[fields]\nkey ="))
