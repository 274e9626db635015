"""Header defects of real-world mail (issue 11, measured on a peer's corpus):
each class on byte literals written here, with Indonesian content. Each of
these read wrong before: undecoded subjects, mojibake, a garbage body, lost
headers, a quarantined mail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.core.mail import MessageParseError, header_bytes_message_id, parse_message

HEAD = b"From: Budi Santoso <budi@warga.test>\r\nTo: aduan@dukcapil.test\r\nMessage-ID: <h1@warga.test>\r\n"


# ------------------------------------------------- RFC 2047 words holding blanks
@pytest.mark.parametrize(
    ("subject_line", "subject"),
    [
        (b"Subject: =?UTF-8?Q?Pengaduan KTP elektronik?=", "Pengaduan KTP elektronik"),
        (b"Subject: =?UTF-8?Q?Surat_pindah domisili?=", "Surat pindah domisili"),
        (b"Subject: =?UTF-8?Q?Akta kelahiran =E2=80=93 mendesak?=", "Akta kelahiran \u2013 mendesak"),
        (b"Subject: Re: =?utf-8?q?Pengaduan ?= =?utf-8?q?KTP?=", "Re: Pengaduan KTP"),
        # folded inside a base64 word: the fold leaves a blank in the payload
        (b"Subject: =?utf-8?B?UGVuZ2FkdWFuIEtU\r\n UCBlbGVrdHJvbmlr?=", "Pengaduan KTP elektronik"),
        (b"Subject: =?utf-8?B?UGVuZ2FkdWFu IEtUUCBlbGVrdHJvbmlr?=", "Pengaduan KTP elektronik"),
    ],
)
def test_encoded_words_with_blanks_are_decoded(subject_line, subject):
    mail = parse_message(HEAD + subject_line + b"\r\n\r\nMohon bantuan.\r\n")
    assert mail.subject == subject


def test_encoded_word_with_blanks_in_a_display_name_and_a_file_name():
    raw = (
        b"From: =?UTF-8?Q?Ibu Sri Wulandari?= <sri@warga.test>\r\nSubject: Berkas KK\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nTerlampir.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?UTF-8?Q?Scan KK Sri.pdf?="\r\n\r\nJVBERi0=\r\n--b--\r\n'
    )
    mail = parse_message(raw)
    assert (mail.from_name, mail.from_addr) == ("Ibu Sri Wulandari", "sri@warga.test")
    assert [a.filename for a in mail.attachments] == ["Scan KK Sri.pdf"]


# ------------------------------------------------- raw 8-bit headers in the mail's charset
GBK_NAME = "\u9648\u4e3d\u534e"  # a Chinese-Indonesian citizen's name, written in GB2312 by her client


def test_raw_8bit_subject_and_name_are_read_in_the_text_charset():
    raw = (
        b"From: Ibu \xb3\xc2\xc0\xf6\xbb\xaa <lihua@warga.test>\r\nSubject: Pengaduan KTP \xb3\xc2\xc0\xf6\xbb\xaa\r\n"
        b"Message-ID: <gb1@warga.test>\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n"
        b"Nama: \xb3\xc2\xc0\xf6\xbb\xaa\r\nKTP saya hilang.\r\n"
    )
    mail = parse_message(raw)
    assert mail.subject == f"Pengaduan KTP {GBK_NAME}"
    assert (mail.from_name, mail.from_addr) == (f"Ibu {GBK_NAME}", "lihua@warga.test")
    assert mail.text.startswith(f"Nama: {GBK_NAME}\n")


def test_raw_8bit_attachment_name_is_read_in_the_text_charset():
    raw = (
        HEAD + b"Subject: Berkas\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=gb2312\r\n\r\nTerlampir surat pernyataan.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="Surat_\xb3\xc2\xc0\xf6\xbb\xaa.pdf"\r\n\r\nJVBERi0=\r\n--b--\r\n'
    )
    assert [a.filename for a in parse_message(raw).attachments] == [f"Surat_{GBK_NAME}.pdf"]


@pytest.mark.parametrize(
    ("charset", "subject"),
    [
        (b"utf-8", "D\u00e9d\u00e9 Kurniawan"),  # not UTF-8 bytes: windows-1252, as before
        (b"iso-2022-jp", "D\u00e9d\u00e9 Kurniawan"),  # a 7-bit charset cannot be the bytes' own
        (b"utf-16", "D\u00e9d\u00e9 Kurniawan"),
    ],
)
def test_raw_8bit_header_falls_back_as_before_when_the_charset_cannot_be_its_own(charset, subject):
    raw = HEAD + b"Subject: D\xe9d\xe9 Kurniawan\r\nContent-Type: text/plain; charset=" + charset + b"\r\n\r\nx\r\n"
    assert parse_message(raw).subject == subject


def test_raw_utf8_header_stays_utf8_whatever_the_text_charset():
    raw = HEAD + "Subject: Dédé 陈丽华\r\n".encode() + b"Content-Type: text/plain; charset=gb2312\r\n\r\nx\r\n"
    assert parse_message(raw).subject == f"D\u00e9d\u00e9 {GBK_NAME}"


# ------------------------------------------------- one bad character, not a garbage body
def test_one_unencodable_character_in_iso_2022_jp_becomes_one_replacement_character():
    # Outlook writes NEC special characters ("\u2460" here, ESC $ B - !) that no
    # ISO-2022-JP codec knows
    body = (
        b"Nama: \x1b$BEDCf\x1b(B \x1b$B-!\x1b(B Hiroshi\r\n"
        b"Mohon bantuan perpanjangan KITAS untuk suami saya, \x1b$BEDCf$R$m$7\x1b(B.\r\n"
    )
    raw = HEAD + b"Subject: KITAS\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n" + body
    mail = parse_message(raw)
    assert mail.text == (
        "Nama: \u7530\u4e2d \ufffd Hiroshi\n"
        "Mohon bantuan perpanjangan KITAS untuk suami saya, \u7530\u4e2d\u3072\u308d\u3057.\n"
    )
    assert any("1 undecodable character(s) replaced" in d for d in mail.defects)


def test_one_bad_byte_in_a_gb2312_body_becomes_one_replacement_character():
    raw = HEAD + b"Subject: KTP\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n" + (
        b"Nama: \xb3\xc2\xc0\xf6\xbb\xaa\r\nAlamat: Jl. Gajah Mada \xff 12, Jakarta Barat\r\n"
        b"KTP elektronik saya rusak, mohon dicetak ulang.\r\n"
    )
    text = parse_message(raw).text
    assert text.count("\ufffd") == 1 and text.startswith(f"Nama: {GBK_NAME}\nAlamat: Jl. Gajah Mada ")
    assert text.endswith("KTP elektronik saya rusak, mohon dicetak ulang.\n")


def test_a_wrong_label_still_falls_back_rather_than_replacing_everything():
    # windows-1252 bytes labelled Shift_JIS: many bad characters, so the label
    # is wrong: the old fallback chain decides
    body = "Dédé à Bekasi, ça va ? Ôô".encode("cp1252")
    raw = HEAD + b"Subject: x\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n" + body
    assert "\ufffd" not in parse_message(raw).text


# ------------------------------------------------- a fold that lost its whitespace
@pytest.mark.parametrize(
    ("raw", "subject", "to", "defect"),
    [
        (
            b"Subject: Pengaduan KTP elektronik yang\r\nsudah tiga bulan belum jadi\r\n"
            b"From: Budi Santoso <budi@warga.test>\r\nTo: aduan@dukcapil.test\r\nMessage-ID: <f1@warga.test>\r\n"
            b"\r\nMohon bantuan.\r\n",
            "Pengaduan KTP elektronik yang sudah tiga bulan belum jadi", ("aduan@dukcapil.test",), 1,
        ),
        (
            b"From: Budi Santoso <budi@warga.test>\nTo: aduan@dukcapil.test,\nkasi.pelayanan@dukcapil.test\n"
            b"Subject: Akta kelahiran\nMessage-ID: <f2@warga.test>\n\nMohon bantuan.\n",
            "Akta kelahiran", ("aduan@dukcapil.test", "kasi.pelayanan@dukcapil.test"), 1,
        ),
        (
            b"Subject: Surat pindah\r\nkeluar kabupaten\r\nuntuk keluarga\r\nX-Mailer: Yahoo Mail\r\n"
            b"From: budi@warga.test\r\nMessage-ID: <f3@warga.test>\r\n\r\nMohon bantuan.\r\n",
            "Surat pindah keluar kabupaten untuk keluarga", (), 2,
        ),
    ],
)
def test_a_line_without_a_field_name_before_a_known_field_is_a_continuation(raw, subject, to, defect):
    mail = parse_message(raw)
    assert mail.subject == subject and mail.to_addrs == to
    assert mail.from_addr.endswith("@warga.test") and mail.text == "Mohon bantuan.\n"
    assert f"{defect} header line(s) without a field name taken as continuation(s)" in mail.defects
    assert header_bytes_message_id(raw) == mail.message_id is not None


def test_a_missing_blank_line_before_the_body_is_not_taken_for_a_lost_fold():
    # the body follows the headers directly; "Nama: Budi" is no known field
    raw = b"From: budi@warga.test\r\nMessage-ID: <f4@warga.test>\r\nMohon bantuan\r\nNama: Budi\r\n\r\nTerima kasih\r\n"
    mail = parse_message(raw)
    assert mail.text.startswith("Mohon bantuan\nNama: Budi")
    assert not any("continuation" in d for d in mail.defects)
    assert header_bytes_message_id(raw) == mail.message_id == "f4@warga.test"


# ------------------------------------------------- junk before the first field
@pytest.mark.parametrize(
    ("junk", "skipped"),
    [
        (b"From budi@warga.test Mon Nov 23 09:15:00 2026\r\n>From kasi@dukcapil.test\r\n", 2),
        (b"From budi@warga.test Mon Nov 23 09:15:00 2026\r\nDikirim dari webmail desa\r\n", 2),
        (b"Dikirim dari webmail desa\r\n", 1),
        (b">From budi@warga.test Mon Nov 23 09:15:00 2026\r\n", 1),
        (b"\r\n", 1),
        (b"  \r\n\r\n", 2),
    ],
)
def test_junk_lines_before_the_first_field_are_skipped(junk, skipped):
    raw = junk + HEAD + b"Subject: Pengaduan KTP\r\n\r\nMohon bantuan.\r\n"
    mail = parse_message(raw)
    assert (mail.from_addr, mail.subject, mail.text) == ("budi@warga.test", "Pengaduan KTP", "Mohon bantuan.\n")
    assert any(d.startswith(f"{skipped} line(s) before the first header field skipped") for d in mail.defects)
    assert header_bytes_message_id(raw) == mail.message_id == "h1@warga.test"


def test_a_lone_mbox_line_is_left_to_the_parser_and_a_mail_without_fields_is_still_refused():
    raw = b"From budi@warga.test Mon Nov 23 09:15:00 2026\r\n" + HEAD + b"Subject: a\r\n\r\nb\r\n"
    mail = parse_message(raw)
    assert mail.from_addr == "budi@warga.test" and mail.defects == ()
    assert header_bytes_message_id(raw) == "h1@warga.test"
    from mailflow.core.mail import MessageParseError

    six_junk_lines = b"satu\r\ndua\r\ntiga\r\nempat\r\nlima\r\nenam\r\nFrom: a@b.test\r\n\r\nx"
    for no_fields in (b"Halo\r\nNama: Budi\r\n\r\nbadan", six_junk_lines):
        with pytest.raises(MessageParseError):
            parse_message(no_fields)
        assert header_bytes_message_id(no_fields) is None


# ------------------------------------------------- the dedupe key agrees, whatever the lines
_HEAD_BITS = [
    b"From: budi@warga.test", b"Message-ID: <a@warga.test>", b"Message-ID: <b@warga.test>", b"Subject: KTP",
    b"baris tanpa nama", b"From budi@warga.test Mon Nov 23 09:15:00 2026", b">From budi", b"\r\n", b"\n", b"\r",
    b" lanjutan", b"\t", b"X-Mailer: Yahoo", b"Nama: Budi", b":", b"From ", b"  ", b"Message-Id : <c@warga.test>",
    b"MESSAGE-ID:<d@warga.test>",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_HEAD_BITS), max_size=20).map(b"".join))
def test_header_bytes_message_id_agrees_with_the_parse_on_any_arrangement_of_lines(raw):
    try:
        mail = parse_message(raw)
    except MessageParseError:
        return
    assert header_bytes_message_id(raw) == mail.message_id
