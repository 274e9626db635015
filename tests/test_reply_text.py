"""Reply extraction: the new text without the quoted original and signature."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailflow.core.mail import parse_message
from mailflow.core.reply_text import extract_reply, extract_reply_html, quoted_material, reply_of
from support import CORPUS

REPLIES_ID = Path(__file__).resolve().parent / "fixtures" / "replies_id"

REPLIES = CORPUS / "replies"
# The corpus keeps these signatures in its expected text; the issue asks for
# signatures to be removed, so mailflow deliberately differs here: the test
# compares with the corpus text minus exactly that signature.
KEEPS_SIGNATURE = {
    "talon_iphone": "Sent from my iPhone",
    "talon_sparrow": "-- \nxxx\nSent with Sparrow (http://www.sparrowmailapp.com/?sig)",
}


def _cases() -> list[Path]:
    if not REPLIES.is_dir():
        return []
    return sorted(REPLIES.glob("*.expected.txt")) + sorted((REPLIES / "bodies").glob("*.expected.txt"))


def norm(text: str, *, html: bool = False) -> str:
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").strip().split("\n")]
    joined = "\n".join(ln for ln in lines if ln.strip()) if html else "\n".join(lines)
    return re.sub(r"\n{2,}", "\n\n", joined).strip()


@pytest.mark.parametrize("expected", _cases(), ids=lambda p: p.name.removesuffix(".expected.txt"))
def test_corpus_reply(expected: Path):
    stem = expected.name.removesuffix(".expected.txt")
    source = next(expected.parent / (stem + ext) for ext in (".eml", ".txt", ".html")
                  if (expected.parent / (stem + ext)).exists())
    raw = source.read_bytes()
    if source.suffix == ".eml":
        got = reply_of(parse_message(raw))
    elif source.suffix == ".txt":
        got = extract_reply(raw.decode("utf-8", "replace"))
    else:
        got = extract_reply_html(raw.decode("utf-8", "replace"))
    html = source.suffix == ".html"
    want = expected.read_text("utf-8", "replace")
    if stem in KEEPS_SIGNATURE:
        signature = KEEPS_SIGNATURE[stem]
        assert want.rstrip().endswith(signature), "the corpus file changed; update KEEPS_SIGNATURE"
        want = want.rstrip()[: -len(signature)]
    assert norm(got, html=html) == norm(want, html=html)


def test_corpus_present_or_skipped():
    if not REPLIES.is_dir():
        pytest.skip("../shared/corpus not present (a user's own clone)")
    assert len(_cases()) >= 30


INDONESIAN = {
    "gmail_id": (
        "#teruskan Mohon dicek oleh Kasi, data SIAK berbeda.\n\nTerima kasih.\n\n"
        "Pada tanggal Sen, 23 Nov 2026 pukul 10.15 Layanan Pengaduan <aduan@dukcapil.test> menulis:\n"
        "> [ADU/2026/000001] Aduan baru\n> Nama: Siti\n",
        "#teruskan Mohon dicek oleh Kasi, data SIAK berbeda.\n\nTerima kasih.",
    ),
    "gmail_id_wrapped": (
        "#setuju\n\nPada Sen, 23 Nov 2026 10.15, Layanan Pengaduan Disdukcapil\n<aduan@dukcapil.test> menulis:\n> teks\n",
        "#setuju",
    ),
    "outlook_id": (
        "#jawab KTP-el Ibu sudah dicetak.\n\nSalam\nAdmin\n\n________________________________\n"
        "Dari: Layanan Pengaduan <aduan@dukcapil.test>\nDikirim: Senin, 23 November 2026 10.15\n"
        "Kepada: admin@dukcapil.test\nPerihal: [ADU/2026/000001] Aduan baru\n\nIsi asli\n",
        "#jawab KTP-el Ibu sudah dicetak.\n\nSalam\nAdmin",
    ),
    "outlook_id_no_rule": (
        "#tolak Kurang jelas.\nDari: Layanan Pengaduan <aduan@dukcapil.test>\nTerkirim: Senin, 23 November 2026\n"
        "Kepada: kasi@dukcapil.test\nSubjek: Mohon persetujuan\n",
        "#tolak Kurang jelas.",
    ),
    "iphone_id": ("#setuju\n\nDikirim dari iPhone saya\n\n> Pada 23 Nov 2026, pukul 10.15, Admin menulis:\n> x\n", "#setuju"),
    "samsung_id": ("#info Mohon kirim foto KK.\n\nDikirim dari perangkat Samsung Galaxy saya\n", "#info Mohon kirim foto KK."),
    "outlook_android_id": ("#catatan sudah saya telepon\n\nDapatkan Outlook untuk Android\n", "#catatan sudah saya telepon"),
    "signature_dashes": ("#jawab Sudah selesai.\n\n-- \nKasi Identitas\nDisdukcapil Bantul\n", "#jawab Sudah selesai."),
    "pesan_asli": ("#teruskan lanjut\n\n-----Pesan Asli-----\nDari: x\n", "#teruskan lanjut"),
    "no_quote": ("#catatan hanya catatan", "#catatan hanya catatan"),
    "bottom_posting": ("Pada Sen, 23 Nov 2026 10.15, Admin <a@b.c> menulis:\n> pertanyaan\n\n#jawab jawaban di bawah", "#jawab jawaban di bawah"),
    "crlf": ("#setuju\r\n\r\nPada Sen, 23 Nov 2026 10.15 Admin <a@b.c> menulis:\r\n> x\r\n", "#setuju"),
    "keeps_words_like_wrote": ("#jawab Petugas sudah menulis surat pengantar pada 2 Nov.", "#jawab Petugas sudah menulis surat pengantar pada 2 Nov."),
}


@pytest.mark.parametrize("name", sorted(INDONESIAN))
def test_indonesian_locale_replies(name):
    text, expected = INDONESIAN[name]
    assert extract_reply(text) == expected


def test_outlook_html_only_reply_in_indonesian():
    html = (
        '<html><body><div>#jawab Data sudah kami perbaiki.</div><div>Salam, Kasi</div>'
        '<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>Dari:</b> Layanan Pengaduan'
        '<br><b>Dikirim:</b> Senin<br><b>Kepada:</b> kasi<br><b>Perihal:</b> x</div>'
        '<div>Isi asli aduan</div></body></html>'
    )
    got = extract_reply_html(html)
    assert got.startswith("#jawab Data sudah kami perbaiki.") and "Isi asli" not in got and "Dikirim" not in got


def test_gmail_html_reply_drops_gmail_quote():
    html = ('<div dir="ltr">#setuju</div><br><div class="gmail_quote"><div class="gmail_attr">Pada Sen, '
            '23 Nov 2026 menulis:</div><blockquote class="gmail_quote">draf</blockquote></div>')
    assert extract_reply_html(html) == "#setuju"


def test_reply_of_a_real_message_prefers_plain_text():
    raw = (b"From: kasi@dukcapil.test\r\nTo: aduan@dukcapil.test\r\nSubject: Re: x\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\n#setuju\r\n\r\nPada Sen, 23 Nov 2026 10.15, "
           b"Admin <a@b.c> menulis:\r\n> draf\r\n")
    assert reply_of(parse_message(raw)) == "#setuju"


# ---------------------------------------------------------------- Indonesian clients, whole mails
# Staff replies written the way each client writes them in the Indonesian
# locale (tests/fixtures/replies_id/), and the text that may reach a citizen.
ID_MAILS = {
    # Gmail for Android wraps its attribution after "<"; the per-complaint reply address has
    # digits, so the second half alone looked like a whole attribution and the first half
    # ("Pada tanggal ... Disdukcapil <") reached the citizen in an #info question (issue 11).
    "gmail_android_wrapped_attribution":
        "#info Mohon Ibu kirimkan foto KK dan surat keterangan kehilangan dari kepolisian.",
    # Gmail web: the address on its own line and "menulis:" on the next.
    "gmail_web_address_on_its_own_line":
        "#jawab KK baru Bapak sudah terbit dan dapat diambil di loket 2 mulai\n"
        "Selasa, 24 November 2026 pukul 08.00 WIB.",
    "outlook_id_short_header": "#setuju",  # "Dapatkan Outlook untuk Android", then "Dari: / Terkirim:"
    "outlook_id_one_line_header":  # "Dari: ... Terkirim: ..." on one line
        "#jawab Akta kelahiran putra Ibu sudah selesai: silakan ambil di loket 4\n"
        "dengan membawa bukti pendaftaran.",
    "iphone_id_reply": "#jawab Blangko KTP-el sudah tersedia kembali. KTP-el Ibu dapat diambil hari Rabu.",
    "yahoo_id_reply": "#catatan Pemohon sudah datang ke loket 3 dan berkas sudah lengkap.",
    "thunderbird_id_reply": "#teruskan Data NIK ganda, mohon Kabid cek di SIAK pusat.",
    "roundcube_id_reply": "#kembalikan Uraian belum lengkap, mohon ditanyakan ulang.",
}


def test_every_indonesian_reply_fixture_has_a_case():
    assert sorted(p.stem for p in REPLIES_ID.glob("*.eml")) == sorted(ID_MAILS)


@pytest.mark.parametrize("name", sorted(ID_MAILS))
def test_indonesian_client_replies(name):
    mail = parse_message((REPLIES_ID / f"{name}.eml").read_bytes())
    reply = reply_of(mail)
    assert reply == ID_MAILS[name]
    assert quoted_material(reply) is None
    assert quoted_material(mail.text) is not None  # the last check would have caught a miss


# How Gmail (web and Android), Outlook, iPhone, Yahoo, Thunderbird and Roundcube write
# the attribution in the Indonesian locale, wrapped the ways their text/plain parts wrap.
ANSWER = "#jawab KTP-el Ibu sudah dicetak dan dapat diambil di loket 3."
ID_ATTRIBUTIONS = {
    "gmail one line": "Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin Aduan <admin@dukcapil.test> menulis:",
    "gmail wrapped after <": "Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin Aduan <\nadmin@dukcapil.test> menulis:",
    "gmail wrapped, digits in the address":
        "Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin <\naduan+adu-2026-000001.x1@dukcapil.test> menulis:",
    "gmail wrapped over three lines":
        "Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Layanan Pengaduan Disdukcapil\n<admin@dukcapil.test>\nmenulis:",
    "gmail wrapped after the date":
        "Pada tanggal Sen, 23 Nov 2026\npukul 09.15 Admin Aduan <admin2026@dukcapil.test> menulis:",
    "gmail address alone, then <": "Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin Aduan\n<\nadmin@dukcapil.test> menulis:",
    "iphone": "Pada 23 Nov 2026, pukul 09.15, Admin Aduan <admin@dukcapil.test> menulis:",
    "yahoo": "Pada Senin, 23 November 2026 09.15.00 WIB, Admin Aduan <admin@dukcapil.test> menulis:",
    "thunderbird": "Pada 23/11/26 09.15, Admin Aduan menulis:",
    "roundcube": "Pada 2026-11-23 09:15, Admin Aduan menulis:",
    "roundcube english": "On 2026-11-23 09:15, Admin Aduan wrote:",
}


@pytest.mark.parametrize("quote", ["\n> Aduan baru\n> Nama: Siti\n", "\n\n    Isi pesan asli\n", "\n"])
@pytest.mark.parametrize("client", sorted(ID_ATTRIBUTIONS))
def test_indonesian_attributions_are_cut_whole(client, quote):
    attribution = ID_ATTRIBUTIONS[client]
    for between in ("\n\n", "\n"):  # with or without a blank line after the answer
        text = ANSWER + between + attribution + quote
        assert extract_reply(text) == ANSWER
        assert quoted_material(text) == "an attribution line"
    assert quoted_material(attribution) == "an attribution line"


@pytest.mark.parametrize("text, expected", [
    # The answer's own line starts like an attribution ("Pada ..."): only the attribution goes.
    ("#jawab Pada prinsipnya berkas sudah lengkap.\nPada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin <\n"
     "admin@dukcapil.test> menulis:\n> x", "#jawab Pada prinsipnya berkas sudah lengkap."),
    ("#jawab Terima kasih.\nPada 23 Nov 2026, pukul 09.15, Admin <a@dukcapil.test> menulis:\n> x",
     "#jawab Terima kasih."),
    # Outlook: the short header forms, and Gmail's forward separator.
    ("#tolak Kurang jelas.\n\nDari: Admin <admin@dukcapil.test>\nTerkirim: Senin, 23 November 2026 09.15\n\nisi lama",
     "#tolak Kurang jelas."),
    ("#tolak Kurang jelas.\nDari: Admin <admin@dukcapil.test> Terkirim: Senin, 23 November 2026 09.15\nisi lama",
     "#tolak Kurang jelas."),
    ("#teruskan lanjut\n\n---------- Pesan terusan ---------\nDari: Admin <admin@dukcapil.test>\n",
     "#teruskan lanjut"),
    # Hotmail's header block starts with "Date:".
    ("#jawab Sudah.\n\nDate: Mon, 23 Nov 2026 09:15:00 +0700\nSubject: Aduan\nFrom: a@dukcapil.test\nTo: b@dukcapil.test\n",
     "#jawab Sudah."),
    # A dangling first half, the rest lost: still not the writer's.
    ("#info Mohon kirim foto KK.\n\nPada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin Aduan <",
     "#info Mohon kirim foto KK."),
    ("#info Mohon kirim foto KK.\n\nPada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin Aduan",
     "#info Mohon kirim foto KK."),
    ("#info Mohon kirim foto KK.\n\nPada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin Aduan\n\n> x\n",
     "#info Mohon kirim foto KK."),
])
def test_more_indonesian_quote_shapes(text, expected):
    assert extract_reply(text) == expected
    assert quoted_material(expected) is None


# ---------------------------------------------------------------- the last check before a citizen reads it

# Ordinary answers: dates, times, addresses and colons, a colon at the end of a
# line with an address, "Pada ..." openings, ">" as "more than". None is
# quoted material, and extract_reply keeps each whole (the old attribution
# pattern dropped the first one as if it were a quote header).
CLEAN_ANSWERS = [
    "Silakan datang pada Senin, 30 November 2026 pukul 09.00 ke kantor. Hubungi kami di aduan@dukcapil.test:",
    "Pada hari Senin, 30 November 2026 pukul 09.00 silakan datang ke kantor dan bawa dokumen berikut:\n"
    "1. KTP-el asli\n2. KK asli",
    "Yth. Ibu Siti Aminah,\n\nKTP-el Ibu sudah dicetak pada 23/11/2026 pukul 10:15 dan dapat diambil di loket 3.\n"
    "Jam layanan: 08.00-15.00 WIB.\nInformasi: aduan@dukcapil.test atau WA 0812-3456-7890.\n\n"
    "Salam,\nSeksi Identitas Penduduk",
    "Mohon kirimkan foto KK ke alamat berikut: aduan@dukcapil.test",
    "Berkas Bapak dikirim dari kantor kapanewon ke dinas pada Senin, 23 November 2026.",
    "Data Ibu (NIK 3402014501900001) sudah diperbaiki di SIAK per tanggal 2026-11-23 09:15:",
    "Ketentuan:\n- biaya: gratis\n- waktu penyelesaian: 14 hari kerja\n- tempat: loket 2",
    "Permohonan yang diproses > 5 hari kerja kami prioritaskan.",
    "Jadwal pengambilan:\nHari: Rabu, 25 November 2026\nPukul: 09.00 WIB\nTempat: Mal Pelayanan Publik Bantul",
    "Bapak dapat menghubungi petugas kami, Bu Rina <rina@dukcapil.test>, pada jam kerja.",
    "Pada tanggal 2 Desember 2026 KK Bapak dapat diambil.\nTerima kasih.",
    "Dari hasil pengecekan: NIK Ibu sudah aktif kembali sejak 20 November 2026.",
    "Silakan unduh formulir F-1.02 di https://dukcapil.test/formulir: isi, tanda tangani, lalu kirim balik.",
    # Gmail's opening, but the writer's own sentence goes on after it.
    "Pada tanggal Sen, 30 Nov 2026 pukul 09.00 silakan datang ke loket 2.\nBawa KK asli.",
    "Berkas sudah lengkap.\nPada tanggal Sen, 30 Nov 2026 pukul 09.00\nsilakan datang ke loket 2.",
]


@pytest.mark.parametrize("text", CLEAN_ANSWERS)
def test_quoted_material_passes_ordinary_answers(text):
    assert quoted_material(text) is None
    assert extract_reply(text) == text.strip()


@pytest.mark.parametrize("text, reason", [
    ("Jawaban.\n\n> Nama: Siti\n> NIK: 3402014501900001", "a block of quoted lines"),
    ("Jawaban.\n>\n> isi lama", "a block of quoted lines"),
    ("Jawaban.\n> Pada 23 Nov 2026, pukul 09.15, Admin <a@dukcapil.test> menulis:", "an attribution line"),
    ("Jawaban.\nOn Mon, Nov 23, 2026 at 9:15 AM Admin <a@dukcapil.test> wrote:", "an attribution line"),
    ("Jawaban.\nDari: Admin <a@dukcapil.test>\nDikirim: Senin, 23 November 2026 09.15\nKepada: b@dukcapil.test\n"
     "Perihal: Aduan", "an Outlook header block"),
    ("Jawaban.\nDari: Admin <a@dukcapil.test>\nTerkirim: Senin, 23 November 2026 09.15", "an Outlook header block"),
    ("Jawaban.\nDari: Admin <a@dukcapil.test> Terkirim: Senin, 23 November 2026 09.15", "an Outlook header block"),
    ("Jawaban.\n-----Pesan Asli-----", "an original-message separator"),
    ("Jawaban.\n-- \nKasi Identitas", "a signature"),
    ("Jawaban.\n\nSent from my iPhone", "a signature"),
    ("Jawaban.\n\nDikirim dari iPhone saya", "a signature"),
    ("Jawaban.\n\nDikirim dari Yahoo Mail di Android", "a signature"),
    ("Jawaban.\n\nDikirim dari ponsel cerdas Samsung Galaxy saya.", "a signature"),
    ("Jawaban.\n\nDapatkan Outlook untuk Android", "a signature"),
])
def test_quoted_material_names_what_it_found(text, reason):
    assert quoted_material(text) == reason


def test_quoted_material_is_english_and_short():
    for text in ("a\n> b\n> c", "x\n-- \ny", "Pada 23/11/26 09.15, Admin menulis:"):
        reason = quoted_material(text)
        assert reason is not None and reason.isascii() and len(reason) < 40


def test_no_extracted_corpus_reply_holds_quoted_material():
    """What mailflow takes from every corpus reply passes the last check: the
    extraction and the check agree, so staff are not asked to rephrase for
    something their client added."""
    for expected in _cases():
        stem = expected.name.removesuffix(".expected.txt")
        source = next(expected.parent / (stem + ext) for ext in (".eml", ".txt", ".html")
                      if (expected.parent / (stem + ext)).exists())
        raw = source.read_bytes()
        if source.suffix == ".eml":
            got = reply_of(parse_message(raw))
        elif source.suffix == ".txt":
            got = extract_reply(raw.decode("utf-8", "replace"))
        else:
            got = extract_reply_html(raw.decode("utf-8", "replace"))
        assert quoted_material(got) is None, stem
