"""outbox.compose: the MIME message built for an outgoing mail, attachments included."""

from __future__ import annotations

import email
from datetime import datetime, timezone
from email import policy

import pytest

from mailflow.config import load_settings
from mailflow.outbox import Attachment, Outgoing, compose
from support import TEST_ENV, write_config

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings(tmp_path):
    return load_settings(write_config(tmp_path, db_url="sqlite:///m.db"), env=TEST_ENV)


def test_attachments_keep_their_name_type_charset_and_bytes(settings):
    html = "<p>Laporan bulan November — 12 aduan</p>".encode("utf-8")
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
