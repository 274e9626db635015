"""TLS on the real servers: certificate checks on by default, STARTTLS never
silently falls back to plaintext (IMAP or SMTP)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailflow.edges.mailbox import Mailbox
from mailflow.errors import TLSRequiredError
from mailflow.store.models import OutboxItem
from support import complaint_mail

pytestmark = pytest.mark.integration


def test_whole_flow_over_starttls_with_verified_certificates(make_desk, mail):
    _, app, daemon = make_desk(imap_security="starttls", smtp_security="starttls", ca_file=mail.ca_file,
                               smtp_port=mail.smtp_starttls_port)
    mail.send(complaint_mail(sender="warga1@dukcapil.test"), "warga1@dukcapil.test", ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    assert result.drained.sent == 2
    assert len(mail.messages("warga1")) == 1


def test_implicit_tls_imap_with_the_ca(make_desk, mail):
    _, app, daemon = make_desk(imap_security="tls", imap_port=mail.imaps_port, ca_file=mail.ca_file)
    daemon.mailbox.connect()
    assert daemon.mailbox.select() > 0


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_is_refused(make_desk, mail, security):
    port = mail.imap_port if security == "starttls" else mail.imaps_port
    _, app, daemon = make_desk(imap_security=security, imap_port=port)  # no ca_file: system CAs only
    with pytest.raises(TLSRequiredError, match="certificate"):
        Mailbox(app.settings.imap).connect()


def test_verification_can_be_switched_off_explicitly(make_desk, mail):
    _, app, daemon = make_desk(imap_security="tls", imap_port=mail.imaps_port,
                               extra="")
    text = app.settings.path.read_text().replace('security = "tls"', 'security = "tls"\nverify_certificate = false', 1)
    app.settings.path.write_text(text)
    from mailflow.config.settings import load_settings
    from support import TEST_ENV

    settings = load_settings(app.settings.path, env=TEST_ENV)
    box = Mailbox(settings.imap)
    box.connect()
    box.close()


def test_imap_starttls_not_offered_fails_instead_of_plaintext(make_desk, mail):
    _, app, daemon = make_desk(imap_security="starttls", imap_host=mail.imap_plain_host,
                               imap_port=mail.imap_plain_port, ca_file=mail.ca_file)
    box = Mailbox(app.settings.imap)
    with pytest.raises(TLSRequiredError, match="does not offer STARTTLS"):
        box.connect()
    assert box.client is None  # never logged in


def test_smtp_starttls_not_offered_defers_the_mail_instead_of_plaintext(make_desk, mail):
    # smtp_port is the relay's port without STARTTLS
    _, app, daemon = make_desk(smtp_security="starttls", ca_file=mail.ca_file)
    mail.send(complaint_mail(sender="warga2@dukcapil.test"), "warga2@dukcapil.test", ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    assert result.drained.sent == 0 and result.drained.deferred == 2
    with app.factory() as s:
        rows = s.scalars(select(OutboxItem)).all()
    assert {r.state for r in rows} == {"pending"}
    assert all("STARTTLS" in (r.last_error or "") for r in rows)
    assert mail.messages("warga2") == []
