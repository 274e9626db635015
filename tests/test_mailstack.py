"""The local real mail stack (Dovecot + SMTP front) does what the other tests rely on."""

from __future__ import annotations

import base64
import email
import os
import re
import smtplib
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from devstack.authres import authserv_id_of, stamp
from devstack.mailstack import ENV_KEYS, MailStack

integration = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
ADDED_BY_DOVECOT = {"return-path", "delivered-to", "received"}
# The SMTP front stamps Authentication-Results like the office's receiving server.
ADDED_BY_SERVERS = ADDED_BY_DOVECOT | {"authentication-results"}


def complaint(subject: str = "Pengaduan KTP-el hilang", size: int = 0) -> bytes:
    """A hand-made message with the awkward bits: UTF-8 body, folded header,
    a line starting with a dot, trailing blanks, a base64 attachment."""
    attachment = base64.encodebytes(os.urandom(size or 3000)).replace(b"\n", b"\r\n")
    return (
        b"From: Warga Satu <warga1@dukcapil.test>\r\n"
        b"To: aduan@dukcapil.test\r\n"
        b"Subject: " + subject.encode() + b"\r\n"
        b"Message-ID: <test-" + str(time.monotonic_ns()).encode() + b"@warga.example>\r\n"
        b"Date: Mon, 23 Nov 2026 09:00:00 +0700\r\n"
        b"X-Folded: first part\r\n\tsecond part\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n'
        b"\r\n"
        b"--b1\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Yth. Disdukcapil, KTP-el saya hilang \xe2\x80\x94 NIK 3201234567890001.\r\n"
        b".baris diawali titik\r\n"
        b"..dua titik\r\n"
        b"spasi di akhir   \r\n"
        b"\r\n"
        b"--b1\r\n"
        b"Content-Type: application/pdf; name=\"surat.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + attachment + b"--b1--\r\n"
    )


def split_added(got: bytes, sent: bytes) -> list[str]:
    """Names of the header fields the servers put on top of ``sent``."""
    assert got.endswith(sent), "message not byte-identical below the added headers"
    added = got[: len(got) - len(sent)].decode("ascii")
    return [m.group(1).lower() for m in re.finditer(r"^([^\s:]+):", added, re.M)]


def verified(cafile: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return ctx


# ------------------------------------------------------------------ delivery


@integration
def test_smtp_to_plus_address_arrives_byte_identical(mail):
    raw = complaint()
    with smtplib.SMTP(mail.host, mail.smtp_port) as smtp:
        refused = smtp.sendmail("warga1@dukcapil.test", ["aduan+abc.def@dukcapil.test"], raw)
    assert refused == {}
    # Visible as soon as the send returned: no waiting.
    [got] = mail.messages("aduan")
    assert set(split_added(got, raw)) <= ADDED_BY_SERVERS
    assert b"Delivered-To: aduan+abc.def@dukcapil.test\r\n" in got
    assert got.startswith(b"Return-Path: <warga1@dukcapil.test>\r\n")


@integration
def test_large_message_and_several_recipients_in_one_transaction(mail):
    raw = complaint("lampiran besar", size=3 * 1024 * 1024)
    with smtplib.SMTP(mail.host, mail.smtp_port) as smtp:
        smtp.sendmail("", ["aduan@dukcapil.test", "Kabid@DUKCAPIL.test", "warga9+x@dukcapil.test"], raw)
    for user in ("aduan", "kabid", "warga9"):
        [got] = mail.messages(user)
        assert set(split_added(got, raw)) <= ADDED_BY_SERVERS
        assert got.startswith(b"Return-Path: <>\r\n")


@integration
def test_unknown_recipient_and_other_domains_are_refused(mail):
    raw = complaint()
    with smtplib.SMTP(mail.host, mail.smtp_port) as smtp:
        smtp.ehlo()
        smtp.mail("warga1@dukcapil.test")
        for rcpt in ("nobody@dukcapil.test", "nobody+aduan@dukcapil.test", "aduan@example.com"):
            code, text = smtp.rcpt(rcpt)
            assert 500 <= code < 600, (rcpt, code, text)
        smtp.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            smtp.sendmail("warga1@dukcapil.test", ["nobody@dukcapil.test"], raw)
        assert err.value.recipients["nobody@dukcapil.test"][0] == 550
    assert mail.count("aduan") == 0


@integration
def test_send_deliver_and_wait_for_helpers(mail):
    mail.send(b"Subject: satu\n\nisi\n", "warga2", "aduan")  # LF-only is sent as CRLF
    uid = mail.deliver("aduan", complaint("dua"), folder="Arsip/2026")
    assert uid == 1
    [first] = mail.wait_for("aduan", 1)
    assert first.endswith(b"Subject: satu\r\n\r\nisi\r\n")
    assert len(mail.messages("aduan", "Arsip/2026")) == 1
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        mail.wait_for("aduan", 2, timeout=0.3)
    assert time.monotonic() - start < 2
    assert mail.messages("aduan", "Tidak/Ada") == []


# ------------------------------------------------------------------ IMAP and TLS


@integration
def test_both_login_forms_and_capabilities(mail):
    for login in ("aduan", "aduan@dukcapil.test"):
        with IMAPClient(mail.host, port=mail.imap_port, ssl=False) as client:
            client.login(login, mail.password)
            caps = set(client.capabilities())
            assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= caps
            client.logout()
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False) as client:
        with pytest.raises(LoginError):
            client.login("aduan", "wrong")


@integration
def test_imaps_with_ca_and_verification(mail):
    with IMAPClient(mail.host, port=mail.imaps_port, ssl=True, ssl_context=verified(mail.ca_file)) as c:
        c.login("aduan@dukcapil.test", mail.password)
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
        c.logout()
    # The certificate is for localhost too.
    with IMAPClient("localhost", port=mail.imaps_port, ssl=True, ssl_context=verified(mail.ca_file)) as c:
        c.login("aduan", mail.password)
        c.logout()


@integration
def test_starttls_with_ca_and_verification(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False) as c:
        assert b"STARTTLS" in c.capabilities()
        c.starttls(verified(mail.ca_file))
        c.login("aduan", mail.password)
        c.logout()
    with smtplib.SMTP(mail.host, mail.smtp_starttls_port) as smtp:
        smtp.starttls(context=verified(mail.ca_file))
        smtp.login("kasi-capil", mail.password)  # AUTH is offered, not required
        smtp.sendmail("kasi-capil@dukcapil.test", ["aduan@dukcapil.test"], complaint())
    assert mail.count("aduan") == 1


@integration
def test_starttls_without_the_ca_fails_verification(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False) as c:
        with pytest.raises(ssl.SSLCertVerificationError):
            c.starttls(verified(None))
    with smtplib.SMTP(mail.host, mail.smtp_starttls_port) as smtp:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=verified(None))
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(mail.host, port=mail.imaps_port, ssl=True, ssl_context=verified(None))


@integration
def test_plain_listeners_do_not_offer_starttls(mail):
    assert mail.imap_plain_host == "127.0.0.2"
    with IMAPClient(mail.imap_plain_host, port=mail.imap_plain_port, ssl=False) as c:
        assert b"STARTTLS" not in c.capabilities()
        with pytest.raises((IMAPClientError, OSError)):  # no STARTTLS offered
            c.starttls(verified(mail.ca_file))
    with IMAPClient(mail.imap_plain_host, port=mail.imap_plain_port, ssl=False) as c:
        c.login("aduan", mail.password)  # plaintext login works there
        c.logout()
    with smtplib.SMTP(mail.host, mail.smtp_port) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.starttls(context=verified(mail.ca_file))


# ------------------------------------------------------------------ restart and reset


@integration
def test_restart_imap_and_smtp_keep_ports_and_mail(mail):
    env = dict(mail.env)
    mail.send(complaint("sebelum restart"), "warga1", "aduan")
    mail.deliver("aduan", complaint("arsip"), folder="Arsip")
    open_session = mail.imap("aduan")
    open_session.select_folder("INBOX")

    mail.restart_imap()
    assert mail.env == env
    with pytest.raises((IMAPClientError, OSError)):  # the old session was cut
        open_session.noop()
    assert mail.count("aduan") == 1
    assert mail.count("aduan", "Arsip") == 1
    mail.send(complaint("setelah restart"), "warga1", "aduan")  # relay reconnects to LMTP
    assert mail.count("aduan") == 2

    mail.restart_smtp()
    assert mail.env == env
    mail.send(complaint("setelah restart smtp"), "warga1", "aduan")
    assert mail.count("aduan") == 3


# ------------------------------------------------------------------ injected faults, sent copies


@integration
def test_injected_faults_answer_as_told_then_stop(mail):
    mail.relay_control(faults=[
        {"stage": "data", "reply": "451 4.3.0 sibuk, coba lagi", "times": 2},
        {"stage": "rcpt", "match": "warga5@", "reply": "550 5.1.1 no such mailbox"},
    ])
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as err:
            mail.send(complaint("busy"), "warga1", "aduan")
        assert err.value.smtp_code == 451 and b"sibuk" in err.value.smtp_error
    mail.send(complaint("third time"), "warga1", "aduan")  # the fault was used up
    assert mail.count("aduan") == 1
    refused = mail.send(complaint("partly"), "warga1", ["aduan", "warga5"])
    assert refused == {"warga5@dukcapil.test": (550, b"5.1.1 no such mailbox")}
    assert (mail.count("aduan"), mail.count("warga5")) == (2, 0)
    mail.relay_control()  # no faults: everything goes through again
    mail.send(complaint("normal"), "warga1", "warga5")
    assert mail.count("warga5") == 1


@integration
def test_a_dropped_connection_delivers_nothing_and_answers_nothing(mail):
    mail.relay_control(faults=[{"stage": "drop", "times": 1}])
    with pytest.raises(smtplib.SMTPServerDisconnected):
        mail.send(complaint("lost"), "warga1", "aduan")
    assert mail.count("aduan") == 0
    mail.send(complaint("kept"), "warga1", "aduan")
    assert mail.count("aduan") == 1


@integration
def test_sent_copy_files_accepted_mail_of_a_local_sender_in_sent(mail):
    mail.relay_control(sent_copy=True)
    raw = complaint("salinan")
    mail.send(raw, "aduan", "warga1")
    mail.send(complaint("dari luar"), "someone@elsewhere.example", "warga1")
    [copy] = mail.messages("aduan", "Sent")
    assert b"Subject: salinan" in copy and copy.endswith(raw[-200:])
    assert mail.count("warga1") == 2
    mail.reset()  # clears the control: no more copies
    mail.send(complaint("tanpa salinan"), "aduan", "warga1")
    assert mail.count("aduan", "Sent") == 0


@integration
def test_reset_empties_everything(mail):
    mail.send(complaint(), "warga1", ["aduan", "kadis"])
    mail.deliver("aduan", complaint(), folder="Sent")
    mail.deliver("aduan", complaint(), folder="Proses/Verifikasi")
    mail.deliver("kadis", complaint(), folder="Disposisi")
    busy = mail.imap("kadis")  # an open session: emptied through doveadm
    busy.select_folder("INBOX")
    try:
        start = time.monotonic()
        mail.reset()
        elapsed = time.monotonic() - start
        assert elapsed < 0.5, f"reset took {elapsed:.3f}s"
        for user in ("aduan", "kadis"):
            with mail.imap(user) as c:
                names = {name for _flags, _sep, name in c.list_folders()}
                assert names == {"INBOX", "Drafts", "Sent", "Trash", "Junk"}
                for name in names:
                    assert c.folder_status(name, [b"MESSAGES"])[b"MESSAGES"] == 0
        busy.noop()  # still usable
        assert busy.search("ALL") == []
    finally:
        busy.logout()


# ------------------------------------------------------------------ Authentication-Results


def stamped(result: str, sender: str, domain: str) -> bytes:
    """The field the SMTP front puts on top, as mailflow will read it."""
    return (f"Authentication-Results: mx.dukcapil.test; spf={result} smtp.mailfrom={sender}; "
            f"dkim={result} header.d={domain}; dmarc={result} header.from={domain}\r\n").encode()


def letter(sender: str, subject: str = "Surat", extra: bytes = b"") -> bytes:
    return (f"From: Pengirim <{sender}>\r\nTo: aduan@dukcapil.test\r\nSubject: {subject}\r\n".encode()
            + extra + b"Message-ID: <" + str(time.monotonic_ns()).encode() + b"@test>\r\n\r\nIsi surat.\r\n.titik\r\n")


def auth_results(got: bytes) -> list[str]:
    """The Authentication-Results fields of a delivered mail, top first, unfolded."""
    return [" ".join(v.split()) for v in email.message_from_bytes(got).get_all("Authentication-Results", [])]


@integration
def test_a_staff_member_logged_in_as_the_from_address_is_stamped_pass(mail):
    raw = letter("kasi-capil@dukcapil.test", "#setuju")
    mail.send(raw, "kasi-capil", "aduan", login=True)
    [got] = mail.messages("aduan")
    assert got.endswith(stamped("pass", "kasi-capil@dukcapil.test", "dukcapil.test") + raw)  # the rest untouched
    assert set(split_added(got, raw)) == ADDED_BY_SERVERS
    assert len(auth_results(got)) == 1


@integration
def test_unauthenticated_or_other_users_mail_from_the_office_domain_is_stamped_fail(mail):
    raw = letter("kasi-capil@dukcapil.test", "#setuju palsu")
    mail.send(raw, "kasi-capil", "aduan")  # no AUTH
    mail.send(raw, "warga1", "aduan", login=True)  # logged in, but not as the From:
    first, second = mail.messages("aduan")
    assert first.endswith(stamped("fail", "kasi-capil@dukcapil.test", "dukcapil.test") + raw)
    assert second.endswith(stamped("fail", "warga1@dukcapil.test", "dukcapil.test") + raw)


@integration
def test_other_domains_follow_the_policy_set_at_run_time(mail):
    mail.send(letter("budi@warga.test"), "budi@warga.test", "aduan")
    assert auth_results(mail.messages("aduan")[-1]) == [
        "mx.dukcapil.test; spf=none smtp.mailfrom=budi@warga.test; dkim=none header.d=warga.test; dmarc=none header.from=warga.test"]
    mail.relay_control(faults=[{"stage": "data", "reply": "451 4.3.0 sekali", "times": 1}])
    with pytest.raises(smtplib.SMTPDataError):
        mail.send(letter("budi@warga.test"), "budi@warga.test", "aduan")
    mail.set_auth_policy({"Warga.TEST": "pass", "evil.test": "fail"})  # the fault stays used up
    for sender in ("budi@warga.test", "mallory@evil.test", "ani@lain.test", "warga2@dukcapil.test"):
        mail.send(letter(sender), sender, "aduan")
    results = [auth_results(m)[0].split("; ")[1] for m in mail.messages("aduan")]
    assert results == ["spf=none smtp.mailfrom=budi@warga.test", "spf=pass smtp.mailfrom=budi@warga.test",
                       "spf=fail smtp.mailfrom=mallory@evil.test", "spf=none smtp.mailfrom=ani@lain.test",
                       "spf=fail smtp.mailfrom=warga2@dukcapil.test"]  # the office's default stays
    with pytest.raises(ValueError):
        mail.set_auth_policy({"warga.test": "lulus"})
    mail.reset()  # back to the defaults
    mail.send(letter("budi@warga.test"), "budi@warga.test", "aduan")
    assert "dmarc=none" in auth_results(mail.messages("aduan")[-1])[0]


FORGED_OURS = b"Authentication-Results: MX.Dukcapil.Test (kami) 1;\r\n\tdkim=pass header.d=dukcapil.test;\r\n dmarc=pass\r\n"
FORGED_OTHER = b"Authentication-Results: evil.test; dmarc=pass header.from=dukcapil.test\r\n"


@integration
def test_forged_results_with_our_id_are_removed_and_others_kept(mail):
    raw = letter("kadis@dukcapil.test", "#setuju",
                 extra=b"Authentication-Results: mx.dukcapil.test; dmarc=pass\r\n" + FORGED_OTHER + FORGED_OURS)
    mail.send(raw, "kadis@dukcapil.test", "aduan")
    [got] = mail.messages("aduan")
    assert auth_results(got) == [
        "mx.dukcapil.test; spf=fail smtp.mailfrom=kadis@dukcapil.test; dkim=fail header.d=dukcapil.test; dmarc=fail header.from=dukcapil.test",
        "evil.test; dmarc=pass header.from=dukcapil.test"]
    kept = raw.replace(b"Authentication-Results: mx.dukcapil.test; dmarc=pass\r\n", b"").replace(FORGED_OURS, b"")
    assert got.endswith(stamped("fail", "kadis@dukcapil.test", "dukcapil.test") + kept)


@integration
def test_stamping_off_leaves_the_mail_untouched_and_can_be_turned_on(tmp_path, mailstack):
    state = tmp_path / "stack"
    script = [str(REPO / "scripts" / "mailstack")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILSTACK_DIR", None)

    def start(authserv_id: str) -> dict[str, str]:
        out = subprocess.run([*script, "start", "--dir", str(state), "--authserv-id", authserv_id],
                             capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        return dict(line.split("=", 1) for line in out.stdout.splitlines())

    try:
        values = start("")
        assert values["MAILSTACK_AUTHSERV_ID"] == "''"
        other = MailStack.attach(state)
        raw = letter("kadis@dukcapil.test", extra=FORGED_OURS + FORGED_OTHER)
        other.send(raw, "kadis", "aduan", login=True)
        [got] = other.messages("aduan")
        assert set(split_added(got, raw)) <= ADDED_BY_DOVECOT  # byte-identical, forged fields and all
        # On the running stack: the SMTP front restarts on its ports, stamping.
        assert start("mx.dukcapil.test") == {**values, "MAILSTACK_AUTHSERV_ID": "mx.dukcapil.test"}
        other.send(raw, "kadis", "aduan", login=True)
        got = other.messages("aduan")[-1]
        assert got.endswith(stamped("pass", "kadis@dukcapil.test", "dukcapil.test") + raw.replace(FORGED_OURS, b""))
    finally:
        subprocess.run([*script, "stop", "--dir", str(state)], env=env, timeout=120)


def test_authserv_id_is_read_past_comments_quotes_and_versions():
    for value, want in [
        ("mx.dukcapil.test; dmarc=pass", "mx.dukcapil.test"),
        (" (ours) MX.DUKCAPIL.TEST 1 ; spf=pass", "mx.dukcapil.test"),
        ('\r\n\t"mx.dukcapil.test"; none', "mx.dukcapil.test"),
        ("(a (nested\\) one)) mx.dukcapil.test(x);", "mx.dukcapil.test"),
        ("mx.dukcapil.test.evil.test; dmarc=pass", "mx.dukcapil.test.evil.test"),
        ("(only a comment)", ""),
    ]:
        assert authserv_id_of(value) == want, value


def test_a_forged_envelope_sender_cannot_add_results_to_ours():
    raw = b"From: a@evil.test\r\nSubject: x\r\n\r\nisi\r\n"
    out = stamp(raw, authserv_id="mx.dukcapil.test", mail_from='"x; dmarc=pass"@evil.test', helo="h",
                login=None, results={"evil.test": "fail"})
    assert out == b"Authentication-Results: mx.dukcapil.test; spf=fail smtp.mailfrom=evil.test; " \
                  b"dkim=fail header.d=evil.test; dmarc=fail header.from=evil.test\r\n" + raw
    assert stamp(raw, authserv_id="", mail_from="a@evil.test", helo="h", login=None, results={}) is raw


# ------------------------------------------------------------------ the script


@integration
def test_script_start_env_status_stop_with_users_file(tmp_path, mailstack):
    users = tmp_path / "users.txt"
    users.write_text("# extra\npetugas-loket\nkasi-dafduk@dukcapil.test\n")
    state = tmp_path / "stack"
    script = [str(REPO / "scripts" / "mailstack")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILSTACK_DIR", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*script, *args], capture_output=True, text=True, env=env, timeout=120)

    started = run("start", "--dir", str(state), "--users-file", str(users))
    assert started.returncode == 0, started.stderr
    try:
        values = dict(line.split("=", 1) for line in started.stdout.splitlines())
        assert list(values) == list(ENV_KEYS)
        assert values["MAILSTACK_DIR"] == str(state)
        assert values["MAILSTACK_DOMAIN"] == "dukcapil.test"
        assert (state / "env").read_text() == started.stdout
        assert run("env", "--dir", str(state)).stdout == started.stdout
        assert run("status", "--dir", str(state)).returncode == 0
        again = run("start", "--dir", str(state))  # already running: same env
        assert again.returncode == 0 and again.stdout == started.stdout
        # A second stack never shares a port with the session's stack.
        ports = {v for k, v in values.items() if k.endswith("_PORT")}
        assert len(ports) == 5
        assert not ports & {str(v) for k, v in mailstack.env.items() if k.endswith("_PORT")}

        other = MailStack.attach(state)
        other.send(complaint(), "warga1", ["petugas-loket+x", "kasi-dafduk"])
        assert other.count("petugas-loket") == 1 and other.count("kasi-dafduk") == 1
    finally:
        stopped = run("stop", "--dir", str(state))
    assert stopped.returncode == 0, stopped.stderr
    assert run("status", "--dir", str(state)).returncode == 3
    assert run("env", "--dir", str(state)).returncode == 1
    help_text = subprocess.run([*script, "--help"], capture_output=True, text=True, env=env).stdout
    assert "restart-imap" in help_text and "MAILSTACK_IMAP_PLAIN_PORT" in help_text


def test_module_runs_with_this_python():
    # scripts/mailstack execs `python -m devstack.mailstack`.
    out = subprocess.run(
        [sys.executable, "-m", "devstack.mailstack", "--help"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0 and "usage: scripts/mailstack" in out.stdout


# ------------------------------------------------------------------ DATA through the relay
# aiosmtpd hands the relay DATA un-stuffed; the relay stuffs it again for
# LMTP (devstack.lmtp.dot_stuff).  What lands in Dovecot is what the client
# meant, dots included; the limits are aiosmtpd's, as configured by the relay.

DOTTED = {
    "dot lines in the body": b"Subject: titik\r\n\r\na\r\n.\r\n..\r\n...\r\n.b\r\n..c\r\nd.\r\n. \r\n",
    "a first line that is a dot": b".\r\nSubject: titik dulu\r\n\r\nisi\r\n",
    "a first line starting with dots": b"..X: y\r\nSubject: dua titik\r\n\r\nisi\r\n",
    "no body at all": b"Subject: kosong\r\n\r\n",
    "a last line without CRLF": b"Subject: ujung\r\n\r\nisi tanpa akhir baris\r\n.akhir",
}


@integration
@pytest.mark.parametrize("case", sorted(DOTTED))
def test_dots_reach_dovecot_as_the_client_meant(mail, case):
    raw = DOTTED[case]
    mail.send(raw, "warga1", "aduan")  # smtplib stuffs the dots (and ends the last line)
    [got] = mail.messages("aduan")
    sent = raw if raw.endswith(b"\r\n") else raw + b"\r\n"
    assert set(split_added(got, sent)) <= ADDED_BY_SERVERS


@integration
def test_overlong_lines_and_oversize_mail_are_refused(mail):
    limit = 64 * 1024 * 1024
    head = b"Subject: baris panjang\r\n\r\n"
    with smtplib.SMTP(mail.host, mail.smtp_port) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == str(limit)  # announced, and held to
        assert smtp.mail("warga1@dukcapil.test", [f"SIZE={limit + 1}"])[0] == 552
        smtp.rset()
        with pytest.raises(smtplib.SMTPDataError) as err:
            smtp.sendmail("warga1@dukcapil.test", ["aduan@dukcapil.test"], head + b"x" * 1200 + b"\r\nok\r\n")
        assert err.value.smtp_code == 500
        longest = head + b"y" * 999 + b"\r\n"  # 1001 octets with CRLF: aiosmtpd's limit, allowed
        assert smtp.sendmail("warga1@dukcapil.test", ["aduan@dukcapil.test"], longest) == {}
    [got] = mail.messages("aduan")
    assert set(split_added(got, longest)) <= ADDED_BY_SERVERS
