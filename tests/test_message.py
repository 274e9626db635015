"""mailflow.core.mail: parsing real-world mail (../shared/corpus) and our own fixtures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.core.mail import (
    Attachment,
    InboundMail,
    MessageParseError,
    ParseLimits,
    header_bytes_message_id,
    html_to_text,
    parse_message,
)
from mailflow.errors import MailflowError

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mail"
NO_CORPUS = "../shared/corpus not present (a user's own clone)"


def corpus_params(*folders: str) -> list:
    """pytest params for every .eml in the corpus folders (one skipped param without a corpus)."""
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_CORPUS))]
    files = sorted(p for folder in folders for p in (CORPUS / folder).glob("*.eml"))
    return [pytest.param(p, id=str(p.relative_to(CORPUS))) for p in files]


def corpus(relpath: str) -> InboundMail:
    path = CORPUS / relpath
    if not CORPUS.is_dir():
        pytest.skip(NO_CORPUS)
    return parse_message(path.read_bytes())


def fixture(name: str) -> InboundMail:
    return parse_message((FIXTURES / name).read_bytes())


# ------------------------------------------------------------- the whole corpus
@pytest.mark.parametrize("path", corpus_params("mime", "autoreplies", "bounces", "replies"))
def test_every_corpus_message_parses(path):
    mail = parse_message(path.read_bytes())
    assert isinstance(mail, InboundMail)
    assert "\r" not in mail.text
    assert all(isinstance(v, tuple) and all(isinstance(x, str) for x in v) for v in mail.headers.values())
    for att in mail.attachments:
        assert "=?" not in att.filename and "''" not in att.filename


@pytest.mark.parametrize("path", corpus_params("mime", "autoreplies", "bounces", "replies"))
def test_header_bytes_message_id_agrees_with_the_full_parse(path):
    raw = path.read_bytes()
    assert header_bytes_message_id(raw) == parse_message(raw).message_id


@pytest.mark.parametrize("path", [p for p in sorted(FIXTURES.glob("*.eml"))], ids=lambda p: p.name)
def test_header_bytes_message_id_agrees_on_our_fixtures(path):
    raw = path.read_bytes()
    mail = parse_message(raw)
    assert mail.message_id
    assert header_bytes_message_id(raw) == mail.message_id


# ------------------------------------------------------------- corpus specifics
def test_rfc2231_filename_in_a_charset_that_cannot_decode_it_falls_back_to_windows_1252():
    # name*=iso-2022-jp'ja'01%20Quien%20Te%20Dij%8aat... : 0x8a is not ISO-2022-JP;
    # mikel/mail keeps the raw byte, we decode through declared -> utf-8 -> windows-1252.
    mail = corpus("mime/mail_attachment_with_encoded_name.eml")
    assert [a.filename for a in mail.attachments] == ["01 Quien Te Dij\u0160at. Pitbull.mp3"]
    assert mail.attachments[0].content_type == "application/octet-stream"


def test_rfc2231_continuations_with_utf8_japanese_name():
    mail = corpus("mime/mail_japanese_attachment_long_name.eml")
    assert mail.attachments == (Attachment("かきくけこ" * 5 + ".txt", "text/plain", 18),)
    assert mail.subject == "まみむめも" * 10


def test_rfc2231_latin1_filename_and_q_encoded_subject():
    mail = corpus("mime/mail_attachment_with_quoted_filename.eml")
    assert [a.filename for a in mail.attachments] == ["Eelanalüüsi päring.jpg"]
    assert mail.attachments[0].content_type == "image/jpeg"
    assert mail.subject == "Eelanalüüsi päring"


def test_raw_8bit_utf8_filename():
    mail = corpus("mime/mail_attachment_nonascii_filename.eml")
    assert [a.filename for a in mail.attachments] == ["ciële.txt"]
    assert mail.text == "This is the first part.\n"


def test_shift_jis_body():
    mail = corpus("mime/mail_japanese_shift_jis.eml")
    assert mail.text.splitlines()[0] == "あいうえお"
    assert "このメールはテスト用のメールです。" in mail.text
    assert "今後ともよろしくお願い申し上げます！" in mail.text


def test_iso_2022_jp_body_and_headers_and_missing_message_id():
    mail = corpus("mime/mail_japanese_iso_2022.eml")
    assert mail.text.strip() == "すみません。"
    assert "\x1b" not in mail.text
    assert mail.subject == "まみむめも"
    assert mail.message_id is None
    assert mail.to_addrs == ("raasdnil@gmail.com",)


def test_iso_2022_jp_subject_rfc_example():
    assert corpus("mime/mail_example14.eml").subject == "Re: TEST テストテスト"


def test_ks_c_5601_1987_body():
    assert corpus("mime/mail_ks_c_5601-1987.eml").text.strip() == "스티해"


def test_big5_label_on_utf8_bytes_is_decoded_as_utf8_and_noted():
    mail = corpus("mime/discourse_chinese_reply.eml")
    assert mail.text == "您好！ 你今天好吗？"
    assert any("Big5" in d and "UTF-8" in d for d in mail.defects)


def test_html_only_big5_spam_is_converted_to_text():
    mail = corpus("mime/mail_content_transfer_encoding_empty.eml")
    assert mail.html is not None and "<html>" in mail.html
    assert "<" not in mail.text and mail.text.startswith("9bbf38a544f990e73cd12f")


def test_html_only_reply_is_converted_to_text():
    mail = corpus("replies/discourse_exchange_html_reply.eml")
    assert mail.text == "This is the body !! of the email."


@pytest.mark.parametrize(
    "relpath",
    [
        "mime/mail_japanese_iso_2022.eml",
        "mime/mail_utf8_headers.eml",
        "mime/mail_bad_encoded_subject.eml",
        "mime/mail_invalid_subject_characters.eml",
    ],
)
def test_missing_message_id_is_none(relpath):
    assert corpus(relpath).message_id is None


def test_raw_utf8_headers_rfc6532():
    mail = corpus("mime/mail_utf8_headers.eml")
    assert (mail.from_name, mail.from_addr) == ("Jöhn Doe", "jdöe@mächine.example")
    assert mail.to_addrs == ("märy@exämple.net",)
    assert mail.subject == "Säying Hello"


def test_raw_8bit_latin1_subject_and_encoded_word_inside_quotes():
    mail = corpus("mime/mail_invalid_subject_characters.eml")
    assert mail.subject == "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro"
    assert mail.from_name == "Formação Frenetikpolis"  # "=?Windows-1252?B?...?=" inside quotes
    assert mail.to_addrs == ("martin@internet.ao", "iris@internet.ao", "support@maxnet.ao")


def test_raw_8bit_subject_character():
    assert corpus("mime/mail_trademark_character_in_subject.eml").subject == "GA.comô has a lead for you"


def test_bogus_charset_and_broken_base64_in_subject():
    mail = corpus("mime/mail_bad_encoded_subject.eml")
    assert mail.subject == "TEST"
    assert mail.from_addr == "" and mail.date is None


def test_partially_encoded_subject():
    mail = corpus("mime/mail_raw_email_with_partially_quoted_subject.eml")
    assert mail.subject == 'Re: Test: "漢字" mid "漢字" tail'


def test_duplicate_content_type_uses_the_first():
    mail = corpus("mime/mail_multiple_content_types.eml")
    assert mail.content_type == "multipart/alternative"
    assert mail.text == "foo\n" and mail.html == "<p>foo</p>\n"
    assert any("duplicate content-type" in d for d in mail.defects)


def test_multipart_with_missing_body():
    mail = corpus("mime/mail_missing_body.eml")
    assert mail.text == "" and mail.attachments == ()
    assert mail.subject == "REDACTED"
    assert any("boundary" in d for d in mail.defects)


def test_binary_transfer_encoding_and_duplicate_subject():
    mail = corpus("mime/mail_raw_email_with_binary_encoded.eml")
    assert mail.subject == "Testing outlook"  # the first of two Subject headers
    assert mail.attachments == (Attachment("2013-08-13_19-08-28-1.jpg", "image/jpeg", len("BINARY_CONTENT_GOES_HERE")),)
    assert any("duplicate subject" in d for d in mail.defects)


def test_illegal_unquoted_boundary():
    mail = corpus("mime/mail_raw_email_with_illegal_boundary.eml")
    assert mail.text == "Hello\nThis is an outlook test\n\nSo there.\n\nMe.\n"
    assert mail.html is not None


def test_cr_only_line_endings():
    mail = corpus("mime/sisimai_mac_lhost-postfix-01.eml")
    assert mail.message_id == "20130429234532.00000000000@p351355.pool.example.ne.jp"
    assert mail.subject == "Undelivered Mail Returned to Sender"
    assert mail.text.startswith("This is the mail system at host p351355.pool.example.ne.jp.\n\nI'm sorry")
    assert mail.report_type == "delivery-status"
    assert "CR-only line endings" in mail.defects


def test_recipients_without_commas_are_recovered_but_two_senders_are_unclear():
    # "From: a@x b@y" (and the same Reply-To) names two addresses: the sender
    # is unclear, not the first of them; recipients are recovered as written
    mail = corpus("mime/mail_raw_email_multiple_from.eml")
    assert mail.from_addr == "" and mail.sender_problem == "more than one address in From:"
    assert mail.to_addrs == ("tim@powerupdev.com", "concierge@powerupdev.com")
    assert mail.reply_to == ""


def test_to_header_folded_with_an_empty_line():
    mail = corpus("mime/mail_new_line_in_to_header.eml")
    assert mail.to_addrs == (
        "leads@sg.dc.com",
        "sag@leads.gs.ry.com",
        "sn@example-hotmail.com",
        "e-s-a-g-8718@app.ar.com",
        "jp@t-exmaple.com",
        "cc@c-l-example.com",  # after the whitespace-only continuation line
    )
    assert mail.message_id == "4cb5c7d0a3cce_120e..fdbed2b861958562@s.t-example.com.tmail"
    assert mail.subject == "[Online Lead] Online Lead #1111111"


def test_multipart_signed_with_nested_attachment():
    mail = corpus("mime/mail_raw_email_with_nested_attachment.eml")
    assert mail.text.startswith("Here is a test of an attachment via email.")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("truncated.png", "image/png"),
        ("smime.p7s", "application/pkcs7-signature"),
    ]


def test_forwarded_message_is_an_attachment_not_the_text():
    mail = corpus("mime/sisimai_not_is-not-bounce-02.eml")
    assert mail.text.strip() == "it shouldn't be considered as bounce"
    assert [(a.filename, a.content_type) for a in mail.attachments] == [("original.eml", "message/rfc822")]
    assert mail.attachments[0].size > 4000


def test_attachment_only_message():
    mail = corpus("mime/mail_attachment_only_email.eml")
    assert mail.text == "" and mail.html is None
    assert mail.attachments == (Attachment("blah.gz", "application/x-gzip", 288),)


def test_dates_keep_the_senders_offset_and_comments_are_ignored():
    assert corpus("mime/mail_attachment_pdf.eml").date == datetime(2005, 5, 10, 11, 26, 39, tzinfo=timezone(timedelta(hours=-6)))
    mdn = corpus("autoreplies/flanker_disposition_notification.eml")  # "00:19:00 (EDT) -0400"
    assert mdn.date == datetime(1995, 9, 20, 0, 19, tzinfo=timezone(timedelta(hours=-4)))
    assert mdn.date.utcoffset() == timedelta(hours=-4)
    legacy = corpus("bounces/sisimai_lhost-exchange2003-01.eml")  # "-0000": zone unknown
    assert legacy.date == datetime(2010, 4, 29) and legacy.date.tzinfo is None


def test_folded_message_id_and_encoded_to_name():
    mail = corpus("bounces/sisimai_lhost-amazonworkmail-07.eml")
    assert mail.message_id == "010101533179975e-e34e852a-a0eb-4314-8ce2-a81c208496fa-000000@us-west-2.amazonses.com"
    assert mail.subject == "Delivery Status Notification (Failure)"


def test_in_reply_to_with_a_repeated_id_and_arabic_subject():
    mail = corpus("autoreplies/chatwoot_non_utf_encoded_mail.eml")
    assert mail.in_reply_to == "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail"
    assert mail.subject == "أهلين عميلنا الكريم"
    assert mail.from_name == "متجر سوق نت"
    assert mail.header("X-AUTOREPLY") == "yes"


def test_references_normalised_in_order():
    mail = corpus("mime/mail_attachment_with_encoded_name.eml")
    assert mail.in_reply_to == "F6E2D0B4-CC35-4A91-BA4C-C7C712B10C13@mac.com"
    assert mail.references == ("F6E2D0B4-CC35-4A91-BA4C-C7C712B10C13@mac.com",)


def test_base64_hebrew_body():
    assert corpus("replies/discourse_hebrew_reply.eml").text == "שלום! מה שלומך היום?"


# ------------------------------------------------------------- our fixtures
LABELLED = [
    "Nama: Ibu Sri Wulandari",
    "NIK: 3402014501900001",
    "Alamat: Jl. Parangtritis Km 5, Sewon — RT 03",
    "No. HP: 0812-0000-0000",
    "Jenis Layanan: KTP-el",
]


def test_html_only_complaint_keeps_labelled_lines_apart():
    mail = fixture("complaint_html_only.eml")
    lines = mail.text.splitlines()
    for label_line in LABELLED:
        assert label_line in lines
    uraian = [ln for ln in lines if ln.startswith("Uraian: ")]
    assert uraian == [
        "Uraian: KTP saya hilang di pasar & saya butuh surat keterangan dari kelurahan. "
        "Petugas bilang “blangko habis”."
    ]
    assert "tracking" not in mail.text and "margin" not in mail.text and "Pengaduan" not in lines[0]
    assert "Terima kasih," in lines  # &nbsp; -> space
    assert mail.subject == "Pengaduan KTP hilang — Sewon"
    assert (mail.from_name, mail.from_addr) == ("Ibu Sri Wulandari", "sri.wulandari@example.net")
    assert mail.html is not None and "<br>" in mail.html


def test_windows_1252_complaint():
    mail = fixture("complaint_windows1252.eml")
    lines = mail.text.splitlines()
    assert "Nama: Désy Ratnasari" in lines
    assert "Alamat: Jl. Parangtritis Km 5, Sewon — RT 03" in lines
    assert "Uraian: Petugas di kelurahan bilang “berkas belum lengkap”, padahal sudah lengkap." in lines
    assert mail.subject == "Pengaduan akta – Désy"
    assert mail.from_name == "Désy Ratnasari"
    assert mail.defects == ()


def test_iso_8859_1_complaint_with_outlook_curly_quotes():
    # declared iso-8859-1, but 0x93/0x94 (only meaningful in windows-1252) are
    # sent by Outlook: the label is read as windows-1252, as browsers do
    mail = fixture("complaint_iso8859_1.eml")
    lines = mail.text.splitlines()
    assert "Alamat: Jl. Parangtritis Km 5, Sewon, kelurahan Pendowoharjo" in lines
    assert "Uraian: Nama suami di KK tertulis “René”, seharusnya “René Susanto”. Mohon dibetulkan." in lines
    assert "\x93" not in mail.text
    assert mail.subject == 'Koreksi nama "René" di KK'


def test_multipart_alternative_prefers_text_plain():
    mail = fixture("complaint_multipart_alternative.eml")
    assert "(versi teks)" in mail.text and "(versi HTML)" not in mail.text
    assert "Alamat: Jl. Parangtritis Km 5, Sewon — RT 03" in mail.text.splitlines()
    assert mail.html is not None and "(versi HTML)" in mail.html


def test_format_flowed_is_unwrapped_and_signature_kept():
    mail = fixture("complaint_plain_utf8.eml")
    assert (
        "Uraian: Tanggal lahir anak saya di KK tertulis 2015, seharusnya 2016. Sudah saya laporkan "
        "ke kelurahan tapi disuruh langsung ke Disdukcapil." in mail.text.splitlines()
    )
    assert "-- " in mail.text.splitlines()


def test_malformed_content_type_does_not_raise_and_keeps_the_text():
    mail = fixture("malformed_content_type.eml")
    assert "Nama: Bapak Joko Susiló" in mail.text.splitlines()
    assert "Uraian: Antrean di kantor kecamatan — sangat panjang, nomor antrean habis jam 8." in mail.text.splitlines()
    assert mail.defects  # tolerated, but noted


def test_rfc2047_and_rfc2231_attachment_names():
    mail = fixture("rfc2047_attachment_name.eml")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("Foto KTP Sri Wulandari – hilang.jpg", "image/jpeg"),
        ("Surat Keterangan Kehilangan — Polsek Sewon (kelurahan Pendowoharjo).pdf", "application/pdf"),
    ]
    assert mail.attachments[0].size == 66
    assert mail.text.startswith("Nama: Ibu Sri Wulandari\n")


def test_header_lookup_is_case_insensitive_and_returns_the_first_value():
    mail = fixture("outlook_oof_indonesian.eml")
    assert mail.header("x-auto-response-suppress") == "All"
    assert mail.header("X-MS-TNEF-Correlator") == ""
    assert mail.header("X-Not-There") is None
    assert mail.headers["x-ms-exchange-inbox-rules-loop"] == ("budi.santoso@pemkab.example.go.id",)
    assert mail.in_reply_to == "mailflow.0123456789abcdef01234567@disdukcapil.example.go.id"


# ------------------------------------------------------------- small units
def test_html_to_text():
    html = (
        "<html><head><title>t</title><style>p{}</style></head><body>"
        "<script>alert(1)</script><p>Satu &amp; dua</p><p>Baris<br/>baru</p>"
        "<ul><li>a</li><li>b</li></ul><pre>  x\n  y</pre>"
        "<table><tr><td>Nama:</td><td>Sri</td></tr><tr><td>NIK:</td><td>1</td></tr></table>"
        "Jl.&nbsp;Parangtritis &mdash; RT&#160;03 &#8220;ok&#8221;</body></html>"
    )
    text = html_to_text(html)
    assert text.splitlines() == [
        "Satu & dua",
        "",
        "Baris",
        "baru",
        "",
        "- a",
        "- b",
        "",
        "  x",
        "  y",
        "Nama:\tSri",
        "NIK:\t1",
        "Jl. Parangtritis — RT 03 “ok”",
    ]
    assert html_to_text("") == "" and html_to_text("<p>unclosed <b>tags") == "unclosed tags"


def test_header_bytes_message_id_units():
    assert header_bytes_message_id(b"From: a@b\r\nMessage-ID:\r\n <x@y>\r\n\r\nbody") == "x@y"
    assert header_bytes_message_id(b"From MAILER-DAEMON Mon Sep 20\nMessage-Id: <m@h> (c)\n\n") == "m@h"
    assert header_bytes_message_id(b"Subject: a\rMessage-ID: <cr@only>\r\rMessage-ID: <body@x>\r") == "cr@only"
    assert header_bytes_message_id(b"Subject: a\n\nMessage-ID: <in@body>\n") is None
    # a line without a field name before a known field is a fold that lost its whitespace
    assert header_bytes_message_id(b"Subject: a\nnot a header\nMessage-ID: <x@y>\n\n") == "x@y"
    assert header_bytes_message_id(b"Subject: a\nnot a header\nNama: x\nMessage-ID: <x@y>\n\n") is None
    assert header_bytes_message_id(b"Message-ID: <>\n\n") is None
    assert header_bytes_message_id(b"") is None
    for raw in (b"Subject: a\nnot a header\nMessage-ID: <x@y>\n\nb", b"Message-ID: <a@b>\nMessage-ID: <c@d>\n\nb"):
        assert header_bytes_message_id(raw) == parse_message(raw).message_id


def test_a_header_name_with_a_space_before_the_colon_ends_the_headers_in_both_paths():
    raw = b"From: a@example.net\r\nMessage-Id : <spaced@example.net>\r\n\r\nbody\r\n"
    mail = parse_message(raw)
    assert mail.message_id is None and header_bytes_message_id(raw) is None
    assert "no blank line between headers and body" in " ".join(mail.defects)


def test_apple_mail_text_split_around_an_inline_image_is_joined():
    raw = (
        b"From: Sri <sri@example.net>\nSubject: KTP\nMessage-ID: <apple@example.net>\n"
        b"Content-Type: multipart/mixed; boundary=AM\n\n"
        b"--AM\nContent-Type: text/plain; charset=utf-8\n\nNama: Ibu Sri Wulandari\n"
        b"--AM\nContent-Type: image/jpeg; name=ktp.jpg\nContent-Disposition: inline; filename=ktp.jpg\n"
        b"Content-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
        b"--AM\nContent-Type: text/plain; charset=utf-8\n\nUraian: foto KTP di atas.\n"
        b"--AM--\n"
    )
    mail = parse_message(raw)
    assert mail.text.splitlines() == ["Nama: Ibu Sri Wulandari", "Uraian: foto KTP di atas."]
    assert mail.attachments == (Attachment("ktp.jpg", "image/jpeg", 6),)


@pytest.mark.parametrize("charset", ["undefined", "zlib", "base64", "idna", "utf-16", "x-unknown", "unicode-1-1-utf-7"])
def test_any_charset_label_is_survived_and_nul_never_comes_out(charset):
    cs = charset.encode()
    raw = (
        b"From: =?" + cs + b"?B?AAEC/w==?= <a@example.net>\nSubject: =?" + cs + b"?Q?x=00y?= \x00z\n"
        b"Content-Type: text/plain; charset=" + cs + b"\n\nNama: Andr\xe9\x00 \xff\n"
    )
    mail = parse_message(raw)
    strings = [mail.subject, mail.text, mail.from_name, *(v for vs in mail.headers.values() for v in vs)]
    assert not any("\x00" in s for s in strings)
    assert mail.text.startswith("Nama: ")


def test_parse_errors():
    assert issubclass(MessageParseError, MailflowError)
    for raw in (b"", b"  \r\n\r\n", b"\r\n\r\njust a body, no headers"):
        with pytest.raises(MessageParseError) as err:
            parse_message(raw)
        assert err.value.reason
    # Beyond what the parser itself can nest, even with the limits lifted.
    lifted = ParseLimits(max_parts=100_000, max_depth=100_000)
    for rfc822 in (False, True):
        with pytest.raises(MessageParseError) as err:
            parse_message(_nested(3000, rfc822=rfc822), lifted)
        assert err.value.reason == "MIME nesting too deep to parse"


HEAD = b"From: a@b.test\r\nTo: aduan@dukcapil.test\r\nSubject: x\r\nMessage-ID: <l@x>\r\nMIME-Version: 1.0\r\n"


def _parts(n: int) -> bytes:
    body = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n))
    return HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def _nested(depth: int, rfc822: bool) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nisi\r\n"
    for i in range(depth):
        if rfc822:
            body = b"Content-Type: message/rfc822\r\n\r\nFrom: x@y.test\r\nSubject: n%d\r\n" % i + body
        else:
            body = b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) + body + b"--b%d--\r\n" % i
    return HEAD + body


@pytest.mark.parametrize(("raw", "limits", "words"), [
    (_parts(5000), ParseLimits(), "limits.max_mime_parts"),  # refused by the byte scan
    (_parts(60), ParseLimits(max_parts=50), "more than 50 MIME parts"),  # refused by the tree count
    (_nested(200, rfc822=False), ParseLimits(), "nested deeper than 20"),
    (_nested(200, rfc822=True), ParseLimits(), "nested deeper than 20"),
    (HEAD + b"X-Long: " + b"a" * (1 << 20) + b"\r\n\r\nisi\r\n", ParseLimits(), "limits.max_header_bytes"),
    (HEAD + b"X-Long: " + b"a" * (1 << 20), ParseLimits(), "limits.max_header_bytes"),  # no body at all
])
def test_mail_beyond_the_limits_is_refused_with_the_limit_named(raw, limits, words):
    with pytest.raises(MessageParseError) as err:
        parse_message(raw, limits)
    assert words in err.value.reason


def test_mail_just_within_the_limits_parses():
    assert len(parse_message(_parts(40), ParseLimits(max_parts=41)).text.split("part")) > 1
    assert parse_message(_nested(18, rfc822=False)).text.strip() == "isi"
    assert parse_message(HEAD + b"X-Long: " + b"a" * 200_000 + b"\r\n\r\nisi\r\n").text.strip() == "isi"


# ------------------------------------------------------------- property tests
def _only_parse_errors(raw: bytes) -> None:
    try:
        mail = parse_message(raw)
    except MessageParseError as exc:
        assert not exc.reason.startswith("internal error"), exc.reason
        return
    assert isinstance(mail, InboundMail)
    assert header_bytes_message_id(raw) == mail.message_id


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_parse_or_raise_message_parse_error(raw):
    _only_parse_errors(raw)


HEADER_LINES = st.sampled_from(
    [
        b"From: Ibu Sri <sri@example.net>",
        b"From: =?utf-8?B?SWJ1IFNyaQ==?= <sri@example.net>",
        b"To: a@b c@d",
        b"Subject: =?NONE?Q?x?= =?utf-8?B?broken",
        b"Subject: Balasan Otomatis: \xe9\xff",
        b"Message-ID: <a@b>",
        b"Message-ID:\r\n <folded@id>",
        b"Message-Id : <spaced@id>",
        b"Date: Mon, 3 Mar 2025 09:14:55 +0700 (WIB)",
        b"Date: 99 Foo 1 25:61:61 +9999",
        b"Content-Type: multipart/mixed; boundary=XX",
        b"Content-Type: multipart/alternative; boundary=\"XX\"",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=XX",
        b"Content-Type: text/plain; charset=ks_c_5601-1987",
        b"Content-Type: text/html; charset=x-unknown",
        b"Content-Type: text/plain; charset*=utf-8''%FF; format=flowed; delsp=yes",
        b"Content-Type: message/rfc822",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Disposition: attachment; filename*0*=utf-8''%E3%81; filename*1=x",
        b"From ",
        b" continuation",
        b"\tx",
        b":",
        b"Auto-Submitted: auto-replied",
    ]
)
BODY_LINES = st.one_of(
    st.sampled_from(
        [
            b"--XX",
            b"--XX--",
            b"",
            b"Content-Type: text/plain; charset=iso-2022-jp",
            b"Content-Type: message/delivery-status",
            b"Final-Recipient: rfc822; x@y",
            b"<p>Nama: Sri<br>NIK: 1</p>",
            b"=E2=80=94 =\r",
            b"SGVsbG8=",
        ]
    ),
    st.binary(max_size=40),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(HEADER_LINES, max_size=12),
    st.lists(BODY_LINES, max_size=20),
    st.sampled_from([b"\r\n", b"\n", b"\r"]),
)
def test_mail_shaped_bytes_parse_or_raise_message_parse_error(headers, body, eol):
    raw = eol.join(headers) + eol + eol + eol.join(body)
    _only_parse_errors(raw)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=5000), st.sampled_from([b"\r\n", b"\n"]), st.integers(1, 80))
def test_a_base64_attachment_size_is_its_decoded_size(data, eol, width):
    import base64

    encoded = base64.b64encode(data)
    lines = eol.join(encoded[i:i + width * 4] for i in range(0, len(encoded), width * 4)) or b""
    raw = eol.join([
        b"From: a@b.test", b"Subject: x", b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="q"', b"",
        b"--q", b"Content-Type: text/plain", b"", b"isi", b"--q", b"Content-Type: application/octet-stream",
        b"Content-Transfer-Encoding: base64", b'Content-Disposition: attachment; filename="f.bin"', b"",
        lines, b"--q--", b""])
    [attachment] = parse_message(raw).attachments
    assert attachment.size == len(data)
