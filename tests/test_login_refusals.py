"""A refused login alerts the admin; a server that cannot check a login just
now (RFC 5530 [UNAVAILABLE], SMTP 454) is retried like a network error. A
Dovecot restart answers the first logins with the temporary kind: taking it
for a wrong password alerted the admin during the chaos test."""

import pytest

from mailflow.edges.auth import imap_refusal_is_temporary, smtp_refusal_is_temporary


@pytest.mark.parametrize("response, temporary", [
    ("b'[UNAVAILABLE] Temporary authentication failure. [mx:2026-12-05 01:02:03]'", True),
    ("login failed: [UNAVAILABLE] Internal error occurred", True),
    ("b'Temporary authentication failure'", True),
    ("b'[AUTHENTICATIONFAILED] Authentication failed.'", False),
    ("b'[AUTHORIZATIONFAILED] Not allowed'", False),
    ("b'AUTHENTICATE failed.'", False),
    ("b'[EXPIRED] Password expired'", False),
    ("", False),
])
def test_imap_login_refusals(response, temporary):
    assert imap_refusal_is_temporary(response) is temporary


@pytest.mark.parametrize("code, temporary", [
    (454, True), (421, True), (432, True),
    (535, False), (534, False), (530, False), (538, False), (504, False),
])
def test_smtp_login_refusals(code, temporary):
    assert smtp_refusal_is_temporary(code) is temporary
