"""outbox.compose: the MIME message built for an outgoing mail, attachments included."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mailflow.config.settings import load_settings
from mailflow.edges.compose import OWN_HEADER, Attachment, Outgoing, compose
from support import TEST_ENV, write_config

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    return load_settings(write_config(tmp_path, db_url="sqlite:///m.db"), env=TEST_ENV)


def test_attachments_keep_their_name_type_charset_and_bytes(settings):
    html = "<p>Laporan bulan November — 12 aduan</p>".encode()
    csv_bytes = "\ufeffsection,key\r\nreceived,all\r\n".encode("utf-8")
    png = bytes(range(256))
    out = Outgoing(kind="staff/monthly-report", to=("kabid@dukcapil.test", "kadis@dukcapil.test"),
                   subject="Laporan bulanan", body="Terlampir laporan.", auto_submitted="auto-generated",
                   attachments=(Attachment("laporan.html", "text/html", html, charset="utf-8"),
                                Attachment("laporan.csv", "text/csv", csv_bytes, charset="utf-8"),
                                Attachment("grafik.png", "image/png", png)))
    msg = email.message_from_bytes(compose(settings, out, "mf-1@dukcapil.test", NOW, None), policy=policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_body(("plain",)).get_content().strip() == "Terlampir laporan."
    parts = list(msg.iter_attachments())
    assert [(p.get_filename(), p.get_content_type(), p.get_content_charset()) for p in parts] == [
        ("laporan.html", "text/html", "utf-8"), ("laporan.csv", "text/csv", "utf-8"), ("grafik.png", "image/png", None)]
    assert [p.get_payload(decode=True) for p in parts] == [html, csv_bytes, png]


def test_a_mail_without_attachments_stays_a_single_text_part(settings):
    out = Outgoing(kind="citizen/acknowledgement", to=("warga1@dukcapil.test",), subject="S", body="Isi.")
    msg = email.message_from_bytes(compose(settings, out, "mf-2@dukcapil.test", NOW, None), policy=policy.default)
    assert msg.get_content_type() == "text/plain" and list(msg.iter_attachments()) == []


@pytest.mark.parametrize("bad", ["text", "text/html; charset=utf-8", "/csv", "multipart/mixed"])
def test_an_attachment_type_must_be_a_plain_mime_type(bad):
    with pytest.raises(ValueError, match="maintype/subtype"):
        Attachment("x", bad, b"")


# ---------------------------------------------------------------- read back by the stdlib parser


ORIGINAL = (b"From: Warga <warga1@dukcapil.test>\r\nTo: aduan@dukcapil.test\r\nSubject: Aduan\r\n"
            b"Message-ID: <asli@warga.test>\r\n\r\nNama: Siti\r\n.baris bertitik\r\n")
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\r\t"), max_size=300)
names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80)  # a configured display name


def read_back(raw: bytes) -> email.message.EmailMessage:
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))  # RFC 5322 line limit
    return email.message_from_bytes(raw, policy=policy.default)


@hsettings(max_examples=150, deadline=None)
@given(subject=texts, body=texts, name=names, refs=st.lists(st.from_regex(r"[a-z0-9.]{1,40}@[a-z]{1,20}\.test",
                                                                           fullmatch=True), max_size=30),
       attach=st.booleans())
def test_every_header_body_and_attachment_reads_back_as_written(tmp_path_factory, subject, body, name, refs, attach):
    base = load_settings(write_config(tmp_path_factory.mktemp("c"), db_url="sqlite:///m.db"), env=TEST_ENV)
    from dataclasses import replace

    settings = replace(base, smtp=replace(base.smtp, from_name=name.strip() or "Layanan"))
    out = Outgoing(kind="staff/forward", to=("admin@dukcapil.test", "kasi-piak@dukcapil.test"),
                   subject=" ".join(subject.split()) or "Aduan", body=body, in_reply_to=refs[-1] if refs else None,
                   references=tuple(refs), reply_to="aduan+adu-2026-000001.abc@dukcapil.test",
                   auto_submitted="auto-generated", attach_raw=ORIGINAL if attach else None,
                   extra_headers=(("X-Uji", "nilai"),))
    msg = read_back(compose(settings, out, "mailflow.1@dukcapil.test", NOW, "ADU/2026/000001"))
    assert msg["Subject"] == out.subject
    assert msg["From"].addresses[0].display_name == settings.smtp.from_name
    assert msg["From"].addresses[0].addr_spec == settings.smtp.from_address
    assert [a.addr_spec for a in msg["To"].addresses] == list(out.to)
    assert msg["Message-ID"] == "<mailflow.1@dukcapil.test>"
    expected_refs = list(dict.fromkeys(refs))[-20:]
    assert (msg["References"] or "").split() == [f"<{r}>" for r in expected_refs]
    assert msg["In-Reply-To"] == (f"<{refs[-1]}>" if refs else None)
    assert msg["Reply-To"] == out.reply_to and msg["Auto-Submitted"] == "auto-generated"
    assert msg[OWN_HEADER] == "dukcapil.test" and msg["X-Mailflow-Complaint"] == "ADU/2026/000001"
    assert msg["X-Uji"] == "nilai" and msg["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert msg["Date"].datetime == NOW
    text = msg.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n").rstrip("\n") == body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    attached = list(msg.iter_attachments())
    if attach:
        [original] = attached
        assert original.get_content_type() == "message/rfc822" and original.get_filename() == "aduan-asli.eml"
        inner = original.get_content()
        assert inner["Message-ID"] == "<asli@warga.test>" and "baris bertitik" in inner.get_content()
    else:
        assert attached == [] and msg.get_content_type() == "text/plain"


def test_an_original_with_8bit_bytes_is_attached_as_a_file_unchanged(settings):
    original = ORIGINAL.replace(b"Siti", "Siti Aminah \u2014 caf\xe9".encode("latin-1", "replace")) + b"\xff\xfe"
    out = Outgoing(kind="staff/forward", to=("admin@dukcapil.test",), subject="S", body="Isi.",
                   attach_raw=original)
    msg = read_back(compose(settings, out, "mf-3@dukcapil.test", NOW, None))
    [part] = list(msg.iter_attachments())
    assert part.get_content_type() == "application/octet-stream" and part.get_payload(decode=True) == original


def test_a_header_value_never_starts_a_new_header(settings):
    out = Outgoing(kind="citizen/answer", to=("warga1@dukcapil.test",), subject="Aduan\r\nBcc: penyusup@jahat.test",
                   body="Isi.")
    msg = read_back(compose(settings, out, "mf-4@dukcapil.test", NOW, None))
    assert msg["Bcc"] is None and msg["Subject"] == "Aduan Bcc: penyusup@jahat.test"
