"""Sender and recipient addresses read strictly (issue 11, point 4): a forged or
malformed From/Reply-To is "sender unclear", never read as an office address
and never guessed into another address. Byte-literal mails, written here."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.core.mail import parse_message
from mailflow.core.mail.addresses import recipients, sender


def mail(*header_lines: bytes, body: bytes = b"Mohon bantuan, KTP elektronik saya belum jadi.\r\n") -> bytes:
    head = b"".join(line + b"\r\n" for line in header_lines)
    return (head + b"Subject: Pengaduan KTP elektronik\r\nMessage-ID: <a1@warga.test>\r\n"
            b"Date: Mon, 23 Nov 2026 09:15:00 +0700\r\n\r\n" + body)


# ------------------------------------------------------------------ clear senders
@pytest.mark.parametrize(
    ("from_line", "name", "addr"),
    [
        (b"From: Budi Santoso <budi.santoso@warga.test>", "Budi Santoso", "budi.santoso@warga.test"),
        (b"From: budi.santoso@warga.test", "", "budi.santoso@warga.test"),
        (b"From: <Budi.Santoso@Warga.TEST>", "", "budi.santoso@warga.test"),
        (b'From: "Santoso, Budi" <budi@warga.test>', "Santoso, Budi", "budi@warga.test"),
        (b"From: =?UTF-8?Q?Ibu_Sri_Wulandari?= <sri@warga.test>", "Ibu Sri Wulandari", "sri@warga.test"),
        (b'From: "=?utf-8?B?RGV3aSBMZXN0YXJp?=" <dewi@warga.test>', "Dewi Lestari", "dewi@warga.test"),
        (b"From: siti@warga.test (Siti Aminah)", "Siti Aminah", "siti@warga.test"),
        (b"From: Pak R. Hidayat <hidayat@warga.test> (kantor desa)", "Pak R. Hidayat", "hidayat@warga.test"),
        # a display name that is the address itself names no other address
        (b'From: "joko@warga.test" <joko@warga.test>', "", "joko@warga.test"),
        (b"From: postmaster@warga.test (postmaster@warga.test)", "", "postmaster@warga.test"),
        ("From: Dédé Kurniawan <dédé@désa.test>".encode(), "Dédé Kurniawan", "dédé@désa.test"),  # RFC 6532
        (b"From:\r\n  Rina Kusuma\r\n <rina@warga.test>", "Rina Kusuma", "rina@warga.test"),  # folded
    ],
)
def test_a_clear_sender_is_read(from_line, name, addr):
    got = parse_message(mail(from_line))
    assert (got.from_name, got.from_addr, got.sender_problem) == (name, addr, "")
    assert not any("sender" in d for d in got.defects)


# ------------------------------------------------------------------ unclear senders
@pytest.mark.parametrize(
    ("header_lines", "problem"),
    [
        # the display name holds an address: a reader (and the old parser) sees the office
        ((b"From: admin@office.test <someone@elsewhere.test>",), "display name holds an address"),
        ((b'From: "admin@office.test" <x@evil.test>',), "display name holds an address"),
        ((b"From: =?utf-8?q?admin=40office.test?= <x@evil.test>",), "display name holds an address"),
        (("From: admin\uff20office.test <x@evil.test>".encode(),), "display name holds an address"),  # full-width
        ((b"From: x@evil.test (admin@office.test)",), "display name holds an address"),
        ((b"From: Admin Aduan <x@evil.test> (admin@office.test)",), "display name holds an address"),
        # more than one sender
        ((b"From: budi@warga.test", b"From: admin@office.test"), "two From: fields"),
        ((b"From: admin@office.test, budi@warga.test",), "more than one address in From:"),
        ((b"From: admin@office.test budi@warga.test",), "more than one address in From:"),
        ((b"From: <admin@office.test> <x@evil.test>",), "malformed address in From:"),
        ((b"From: Staf: admin@office.test, kasi@office.test;",), "group syntax in From:"),
        ((b"From: undisclosed-recipients:;",), "group syntax in From:"),
        # text around the address that would change which address it is
        ((b"From: <admin@office.test>@elsewhere.test",), "text after the address in From:"),
        ((b"From: budi@warga.test@evil.test",), "more than one address in From:"),
        ((b"From: <@relay.test:admin@office.test>",), "malformed address in From:"),
        ((b"From: <admin@office.test",), "malformed address in From:"),
        ((b"From: admin@office.test.",), "malformed address in From:"),
        ((b"From: admin..kasi@office.test",), "malformed address in From:"),
        ((b'From: "admin"@office.test',), "quoted local part in From:"),
        ((b"From: admin@[192.0.2.1]",), "domain literal in From:"),
        # characters no mail client writes in an address field
        ((b"From: admin@office.test\x00",), "control characters in From:"),
        ((b"From: Admin \x1b[2J <admin@office.test>",), "control characters in From:"),
        (("From: <admin@office.test\u202e>".encode(),), "invisible characters in the address in From:"),
        (("From: admin\uff20office.test@evil.test".encode(),), "look-alike characters in the address in From:"),
        (("From: \uff41dmin@office.test".encode(),), "look-alike characters in the address in From:"),
        ((b"From: =?utf-8?q?admin?=@office.test",), "look-alike characters in the address in From:"),
        ((b'From: "Admin <admin@office.test>',), "unclosed quote in From:"),
        ((b"From: (Admin <admin@office.test>",), "unclosed comment in From:"),
        ((b"From: Ad\\min <admin@office.test>",), "stray backslash in From:"),
        ((b"From: ",), "empty From:"),
        ((b"From: Kantor Desa",), "no address in From:"),
        ((b"From: " + b"a" * 65 + b"@warga.test",), "address too long in From:"),
        ((b"From: " + b"Budi " * 500 + b"<budi@warga.test>",), "From: field too long"),
        ((), "no From: field"),
    ],
)
def test_an_unclear_sender_gives_no_address(header_lines, problem):
    got = parse_message(mail(*header_lines))
    assert (got.from_addr, got.from_name, got.sender_problem) == ("", "", problem)
    if header_lines:
        assert f"sender unclear: {problem}" in got.defects


def test_an_address_is_never_guessed_into_another():
    # the old reader "recovered" budi@warga.test from this From: and x@b.test
    # from this To:, addresses that were not written (and would get mail)
    got = parse_message(mail(b"From: budi@warga.test@evil.test", b"To: aduan@a@b.test"))
    assert got.from_addr == "" and got.to_addrs == ()
    assert "To: no usable address" in got.defects


# ------------------------------------------------------------------ Reply-To
@pytest.mark.parametrize(
    ("reply_to_lines", "reply_to", "defect"),
    [
        ((), None, None),
        ((b"Reply-To: Budi <budi.pribadi@warga.test>",), "budi.pribadi@warga.test", None),
        ((b"Reply-To: budi@warga.test, korban@warga.test",), "",
         "Reply-To ignored: more than one address in Reply-To:"),
        ((b"Reply-To: korban@warga.test <budi@warga.test>",), "", "Reply-To ignored: display name holds an address"),
        ((b"Reply-To: a@warga.test", b"Reply-To: b@warga.test"), "", "Reply-To ignored: two Reply-To: fields"),
        ((b"Reply-To: <budi@warga.test>x",), "", "Reply-To ignored: text after the address in Reply-To:"),
    ],
)
def test_reply_to_only_when_exactly_one_clean_address(reply_to_lines, reply_to, defect):
    got = parse_message(mail(b"From: Budi Santoso <budi@warga.test>", *reply_to_lines))
    assert got.from_addr == "budi@warga.test" and got.sender_problem == ""
    assert got.reply_to == reply_to
    if defect:
        assert defect in got.defects
    else:
        assert not any("Reply-To" in d for d in got.defects)


# ------------------------------------------------------------------ To / Cc
@pytest.mark.parametrize(
    ("to_line", "addrs", "recovered"),
    [
        (b"To: Layanan Pengaduan <aduan@dukcapil.test>, kasi@dukcapil.test",
         ("aduan@dukcapil.test", "kasi@dukcapil.test"), False),
        (b'To: "Dukcapil, Aduan" <aduan@dukcapil.test>', ("aduan@dukcapil.test",), False),
        (b"To: Aduan: aduan@dukcapil.test, kasi@dukcapil.test;", ("aduan@dukcapil.test", "kasi@dukcapil.test"), False),
        (b"To: undisclosed-recipients:;", (), False),
        # a display name holding an address is tolerated in a recipient list
        (b'To: "aduan@dukcapil.test" <aduan+a1b2@dukcapil.test>', ("aduan+a1b2@dukcapil.test",), False),
        # lists the parser cannot read: complete addresses as written, nothing else
        (b"To: aduan@dukcapil.test kasi@dukcapil.test", ("aduan@dukcapil.test", "kasi@dukcapil.test"), True),
        (b"To: <aduan@dukcapil.test>kasi@dukcapil.test", ("aduan@dukcapil.test", "kasi@dukcapil.test"), True),
        (b'To: "Aduan <aduan@dukcapil.test>', ("aduan@dukcapil.test",), True),
        (b"To: aduan@dukcapil.test. kasi@@dukcapil.test", ("aduan@dukcapil.test",), True),
    ],
)
def test_recipient_lists(to_line, addrs, recovered):
    got = parse_message(mail(b"From: budi@warga.test", to_line))
    assert got.to_addrs == addrs
    assert ("To: malformed address list; addresses recovered as written" in got.defects) == recovered


# ------------------------------------------------------------------ the fast path
# The plain forms ("Name <addr>", "<addr>", "addr" in ASCII) are read by a
# shortcut; an empty comment sends the same field through the full reader.
_WORDS = st.sampled_from(["Budi", "Santoso", "J.", "O'Neil", "Sri-Wulan", "x" * 70, "=?", "a_b", ".", "Rt", "07"])
_BLANKS = st.sampled_from([" ", "  ", "\t", "", " \t "])
_LOCAL = st.lists(st.sampled_from(["budi", "b.s", "b..s", ".b", "b+aduan", "=?a", "x" * 65, "B_S", "s'", "{x}"]),
                  min_size=1, max_size=2).map("".join)
_DOMAIN = st.lists(st.sampled_from(["warga", ".test", "-x", ".", "WARGA", "a_b", "d" * 64, ".id"]),
                   min_size=1, max_size=5).map("".join)
_NAMES = st.lists(st.tuples(_WORDS, _BLANKS).map("".join), max_size=4).map("".join)


@st.composite
def _plain_fields(draw) -> str:
    addr = draw(_LOCAL) + "@" + draw(_DOMAIN)
    form = draw(st.sampled_from(["{b}{a}{b}", "{b}<{a}>{b}", "{b}{n}<{a}>{b}", "{b}{n}{b}<{a}>", "{n}{a}"]))
    return form.format(a=addr, n=draw(_NAMES), b=draw(_BLANKS))


@settings(max_examples=400, deadline=None)
@given(st.one_of(_plain_fields(), st.lists(_plain_fields(), min_size=2, max_size=3).map(",".join)))
def test_the_plain_form_shortcut_reads_what_the_full_reader_reads(value):
    shortcut, full = sender([value], "From"), sender([value + " ()"], "From")
    assert (shortcut.name, shortcut.addr) == (full.name, full.addr)
    assert recipients([value], "To", []) == recipients([value + " ()"], "To", [])
