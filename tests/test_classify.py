"""mailflow.core.classify: real bounces / auto-replies / replies (../shared/corpus) and edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.core.classify import OWN_MESSAGE_ID_PREFIX, Classification, Kind, classify
from mailflow.core.mail import parse_message

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mail"
NO_CORPUS = "../shared/corpus not present (a user's own clone)"
OFFICE = "disdukcapil.example.go.id"


def corpus_params(folder: str, exclude: tuple[str, ...] = ()) -> list:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_CORPUS))]
    files = sorted(p for p in (CORPUS / folder).glob("*.eml") if p.name not in exclude)
    return [pytest.param(p, id=p.name) for p in files]


def of_file(path: Path) -> Classification:
    return classify(parse_message(path.read_bytes()), own_domains=(OFFICE,))


def of_corpus(relpath: str) -> Classification:
    if not CORPUS.is_dir():
        pytest.skip(NO_CORPUS)
    return of_file(CORPUS / relpath)


def of_fixture(name: str) -> Classification:
    return of_file(FIXTURES / name)


def of_bytes(raw: bytes, **kw) -> Classification:
    kw.setdefault("own_domains", (OFFICE,))
    return classify(parse_message(raw), **kw)


def mail(headers: str, body: str = "Nama: Ibu Sri Wulandari\nUraian: KTP hilang.\n") -> bytes:
    base = {
        "From": "Ibu Sri Wulandari <sri@example.net>",
        "To": f"pengaduan@{OFFICE}",
        "Subject": "Pengaduan KTP",
        "Message-ID": "<c1@example.net>",
        "Date": "Mon, 3 Mar 2025 09:14:55 +0700",
    }
    extra = []
    for line in headers.strip().splitlines():
        name, _, value = line.partition(":")
        if name.strip() in base:
            base[name.strip()] = value.strip()
        else:
            extra.append(line.strip())
    lines = [f"{k}: {v}" for k, v in base.items() if v != "-"] + extra
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


# ------------------------------------------------------------- the corpus
MDN = "flanker_disposition_notification.eml"
ARF = ("sisimai_arf-01.eml", "flanker_complaints_yahoo.eml")


@pytest.mark.parametrize("path", corpus_params("autoreplies"))
def test_every_corpus_autoreply_is_automatic(path):
    verdict = of_file(path)
    assert verdict.is_automatic and verdict.kind is not Kind.NORMAL
    assert verdict.kind is (Kind.READ_RECEIPT if path.name == MDN else Kind.AUTO_REPLY), verdict.reason


@pytest.mark.parametrize("path", corpus_params("bounces"))
def test_every_corpus_bounce_is_a_bounce_or_feedback_report(path):
    verdict = of_file(path)
    assert verdict.kind is (Kind.FEEDBACK_REPORT if path.name in ARF else Kind.BOUNCE), verdict.reason
    assert verdict.is_automatic


@pytest.mark.parametrize("path", corpus_params("replies"))
def test_corpus_human_replies_are_normal(path):
    verdict = of_file(path)
    assert verdict.kind is Kind.NORMAL, verdict.reason
    assert not verdict.is_automatic


@pytest.mark.parametrize("path", corpus_params("mime", exclude=("sisimai_mac_lhost-postfix-01.eml",)))
def test_corpus_mime_oddities_are_not_taken_for_automatic_mail(path):
    assert of_file(path).kind is Kind.NORMAL


def test_the_cr_only_postfix_bounce_in_mime_is_a_bounce():
    verdict = of_corpus("mime/sisimai_mac_lhost-postfix-01.eml")
    assert verdict.kind is Kind.BOUNCE
    assert verdict.failed_recipients == ("r@p351355.pool.example.ne.jp",)


# Message-IDs read by hand from the original included in each bounce.
@pytest.mark.parametrize(
    "relpath, original",
    [
        # message/rfc822 part
        ("bounces/chatwoot_bounced_gmail.eml", "conversation/93775311-9416-4428-964b-862001f8a8b2/messages/27855337@gmail.com"),
        ("bounces/sisimai_lhost-sendmail-01.eml", "E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org"),
        ("bounces/sisimai_lhost-amazonses-01.eml", "000001321defbd2a-788e31c8-2be1-422f-a8d4-cf7765cc9ed7-000000@email.amazonses.com"),
        ("bounces/sisimai_lhost-outlook-01.eml", "BLU436-SMTP6645ECA6E7FEFFE86D040BBA770@phx.gbl"),
        ("bounces/sisimai_lhost-googleworkspace-01.eml", "CAByYQsF5qdTf_h-1AAVPW0RgR1YN+LE=+0Uv9LpQ4aA_myPtCw@mail.gmail.com"),
        ("bounces/mail_multipart_report_multiple_status.eml", "4c2a146147ac8_61ff157c4ec1652df@s.h.c.mail"),
        # folded "Message-Id:\n <...>" inside the message/rfc822 part
        ("bounces/sisimai_lhost-amazonworkmail-07.eml", "010101532e373caf-e66f45a6-3d93-4d6e-b1fc-7e1b2d612b54-000000@us-west-2.amazonses.com"),
        # text/rfc822-headers part
        ("bounces/mail_report_530.eml", "200712232303.lBNN3jDq002941@mail12.rrrr.com.au"),
        ("bounces/mail_report_422.eml", "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au"),
        # legacy plain-text bounces quoting the original headers
        ("bounces/sisimai_lhost-exim-01.eml", "E1P1ce6-000Egt-GZ@e1.example.org"),  # not the one in the SMTP transcript
        ("bounces/sisimai_lhost-qmail-01.eml", "000000000.9999999999999.JavaMail.postmaster@mailhub"),
        ("bounces/sisimai_lhost-yahoo-01.eml", "6AE6249A-E7A8-4980-862C-F499F6B8E7C5@y.example.co.jp"),
        ("bounces/sisimai_lhost-office365-02.eml", "c302b7e8-9b97-40ef-90eb-313cc6c25133@NYAAAAN.example.org"),
        ("bounces/sisimai_lhost-gmail-01.eml", "D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com"),
        ("bounces/sisimai_not_rb-issue-368-bug.eml", "68e0b7e3615cd_1dc7010592ed@7cf4d87f87-9r5w2.mail"),
        # ARF: the reported message
        ("bounces/flanker_complaints_yahoo.eml", "20120711015015.4A8BE2E088E@www.example.com"),
    ],
)
def test_bounced_message_id_is_the_original_mails(relpath, original):
    assert of_corpus(relpath).bounced_message_id == original


@pytest.mark.parametrize(
    "relpath",
    [
        "bounces/sisimai_lhost-exchange2003-01.eml",  # no copy of the original at all
        "bounces/sisimai_lhost-domino-01.eml",
        "bounces/sisimai_lhost-exchange2007-01.eml",  # attached original has no Message-ID
        "bounces/flanker_bounce_delayed.eml",
    ],
)
def test_no_bounced_message_id_when_the_original_does_not_name_one(relpath):
    verdict = of_corpus(relpath)
    assert verdict.kind is Kind.BOUNCE and verdict.bounced_message_id is None


@pytest.mark.parametrize(
    "relpath, recipients",
    [
        ("bounces/sisimai_lhost-postfix-01.eml", ("r@p351355.pool.example.ne.jp",)),  # Final-Recipient
        ("bounces/mail_multipart_report_multiple_status.eml", ("u@ci.com",)),
        ("bounces/chatwoot_bounced_gmail.eml", ("alex.jones@fictionalcorp.com",)),  # empty DSN part: X-Failed-Recipients
        ("bounces/sisimai_lhost-exim-30.eml", ("kijitora@exmaple.ch",)),
        ("bounces/sisimai_lhost-qmail-01.eml", ("kijitora@example.ne.jp",)),  # legacy text
        ("bounces/sisimai_lhost-exchange2003-01.eml", ("kijitora@example.jp",)),
        ("bounces/sisimai_lhost-domino-01.eml", ("kijitora@example.jp",)),
        ("bounces/sisimai_not_rb-issue-368-bug.eml", ("xxxx@yyyyyy.net",)),
    ],
)
def test_failed_recipients(relpath, recipients):
    assert of_corpus(relpath).failed_recipients == recipients


def test_bounces_win_over_their_auto_submitted_header():
    for relpath in ("bounces/sisimai_lhost-exim-01.eml", "bounces/sisimai_lhost-postfix-01.eml", "bounces/sisimai_lhost-googlegroups-01.eml"):
        verdict = of_corpus(relpath)
        assert verdict.kind is Kind.BOUNCE and "Auto-Submitted" not in verdict.reason


def test_bounce_reasons():
    assert of_corpus("bounces/sisimai_lhost-sendmail-01.eml").reason == (
        "multipart/report; report-type=delivery-status (Action: failed; Status: 5.1.1)"
    )
    assert of_corpus("bounces/sisimai_lhost-exim-01.eml").reason == "X-Failed-Recipients: kijitora@example.ed.jp"
    legacy = of_corpus("bounces/sisimai_lhost-exchange2003-01.eml").reason
    assert "Undeliverable" in legacy and "postmaster@example.jp" in legacy


def test_delay_warning_is_a_bounce_marked_delayed():
    verdict = of_corpus("bounces/mail_report_422.eml")
    assert verdict.kind is Kind.BOUNCE and verdict.delayed
    assert "delay" in verdict.reason and "4.2.2" in verdict.reason
    assert verdict.failed_recipients == ("fraser@oooooooo.com.au",)


def test_flanker_delayed_fixture_is_a_final_failure_with_a_transient_status():
    # flanker's "delayed.eml" says "Cannot send message for 5 days" with
    # Action: failed / Status: 4.0.0: the MTA gave up, so it is not a warning.
    verdict = of_corpus("bounces/flanker_bounce_delayed.eml")
    assert verdict.kind is Kind.BOUNCE and not verdict.delayed
    assert "Action: failed" in verdict.reason and "4.0.0" in verdict.reason and "given up" in verdict.reason
    assert verdict.failed_recipients == ("louisl@larry.slip.umd.edu",)


def test_read_receipt_names_the_original():
    verdict = of_corpus("autoreplies/" + MDN)
    assert verdict.kind is Kind.READ_RECEIPT
    assert verdict.reason == "multipart/report; report-type=disposition-notification"
    assert verdict.bounced_message_id == "199509192301.23456@example.org"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("sisimai_rfc3834-01.eml", "Auto-Submitted: auto-replied"),
        ("sisimai_rfc3834-02.eml", "X-Auto-Response-Suppress: All"),  # Exchange OOF, no Auto-Submitted
        ("sisimai_rfc3834-03.eml", "X-Apple-Action: VACATION (iCloud vacation)"),
        ("chatwoot_non_utf_encoded_mail.eml", "Auto-Submitted: auto-replied"),
    ],
)
def test_auto_reply_reasons(name, reason):
    assert of_corpus("autoreplies/" + name).reason == reason


# ------------------------------------------------------------- our fixtures
def test_indonesian_outlook_out_of_office():
    verdict = of_fixture("outlook_oof_indonesian.eml")
    assert verdict.kind is Kind.AUTO_REPLY
    assert verdict.reason == "X-Auto-Response-Suppress: All"


def test_gmail_vacation_responder():
    verdict = of_fixture("gmail_vacation.eml")
    assert verdict.kind is Kind.AUTO_REPLY and verdict.reason == "Auto-Submitted: auto-replied"


@pytest.mark.parametrize(
    "name",
    [
        "complaint_plain_utf8.eml",
        "complaint_html_only.eml",
        "complaint_windows1252.eml",
        "complaint_iso8859_1.eml",
        "complaint_multipart_alternative.eml",
        "rfc2047_attachment_name.eml",
        "malformed_content_type.eml",
    ],
)
def test_citizen_complaints_are_normal(name):
    verdict = of_fixture(name)
    assert verdict == Classification(Kind.NORMAL, "no automatic-mail signal")
    assert not verdict.is_automatic


# ------------------------------------------------------------- own mail
OUR_MAIL = f"""From: Disdukcapil <pengaduan@{OFFICE}>
To: sri@example.net
Subject: [ADU/2025/000123] Pengaduan Anda telah terdaftar
Message-ID: <{OWN_MESSAGE_ID_PREFIX}0123456789abcdef01234567@{OFFICE}>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: OOF, AutoReply
X-Mailflow-Office: {OFFICE}
"""


def test_our_own_mail_is_recognised_before_its_auto_reply_headers():
    verdict = of_bytes(mail(OUR_MAIL))
    assert verdict.kind is Kind.OWN_MAIL and "X-Mailflow-Office" in verdict.reason
    assert of_bytes(mail("X-Office-Marker: x\n" + OUR_MAIL), own_header="X-Office-Marker").kind is Kind.OWN_MAIL


def test_own_message_id_from_our_domain_without_the_header():
    stripped = "\n".join(line for line in OUR_MAIL.splitlines() if not line.startswith("X-Mailflow"))
    assert of_bytes(mail(stripped)).kind is Kind.OWN_MAIL
    # the same mail, but the Message-ID rule needs our domain on both sides
    assert of_bytes(mail(stripped), own_domains=("other.go.id",)).kind is Kind.AUTO_REPLY
    assert of_bytes(mail(stripped), own_domains=()).kind is Kind.AUTO_REPLY


def test_staff_writing_by_hand_from_the_office_domain_is_not_own_mail():
    # Roundcube / Thunderbird build Message-IDs from the sender's domain
    staff = f"From: Budi <budi@{OFFICE}>\nMessage-ID: <3f2a9c0e1b7d@{OFFICE}>\nSubject: Re: [ADU/2025/000123]"
    assert of_bytes(mail(staff)).kind is Kind.NORMAL


def test_our_own_mta_bounce_is_a_bounce_not_own_mail():
    bounce = (
        f"From: Mail Delivery System <MAILER-DAEMON@{OFFICE}>\nReturn-Path: <>\n"
        f"Message-ID: <20250303021500.1A2B3C@{OFFICE}>\nAuto-Submitted: auto-replied\n"
        "Subject: Undelivered Mail Returned to Sender"
    )
    body = (
        "I'm sorry to have to inform you that your message could not be delivered.\n\n"
        "<salah.ketik@example.net>: host mx.example.net said: 550 5.1.1 User unknown\n\n"
        "--- Below this line is a copy of the message.\n\n"
        f"Message-ID: <{OWN_MESSAGE_ID_PREFIX}aa@{OFFICE}>\nTo: salah.ketik@example.net\n"
    )
    verdict = of_bytes(mail(bounce, body))
    assert verdict.kind is Kind.BOUNCE
    assert verdict.bounced_message_id == f"{OWN_MESSAGE_ID_PREFIX}aa@{OFFICE}"
    assert verdict.failed_recipients == ("salah.ketik@example.net",)


def test_legacy_bounce_takes_the_first_message_id_after_the_original_marker():
    bounce = "From: MAILER-DAEMON@mx.example.net\nSubject: Mail delivery failed: returning message to sender"
    body = (
        "A message that you sent could not be delivered.\n\n  warga@example.org\n\n"
        "Transcript:\nMessage-ID: <queue-4711@mx.example.net>\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "Return-path: <pengaduan@disdukcapil.example.go.id>\nMessage-ID: <the-original@example.go.id>\n"
    )
    verdict = of_bytes(mail(bounce, body))
    assert verdict.kind is Kind.BOUNCE
    assert verdict.bounced_message_id == "the-original@example.go.id"


# ------------------------------------------------------------- header signals
@pytest.mark.parametrize(
    "header, kind, reason",
    [
        ("Auto-Submitted: auto-generated", Kind.AUTO_REPLY, "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-notified; owner-email=x@y", Kind.AUTO_REPLY, "Auto-Submitted: auto-notified; owner-email=x@y"),
        ("Auto-Submitted: no", Kind.NORMAL, "no automatic-mail signal"),
        ("X-Autoreply: yes", Kind.AUTO_REPLY, "X-Autoreply: yes"),
        ("X-Autorespond: Liburan", Kind.AUTO_REPLY, "X-Autorespond: Liburan"),
        ("X-Auto-Reply: 1", Kind.AUTO_REPLY, "X-Auto-Reply: 1"),
        ("X-Mail-Autoreply: yes", Kind.AUTO_REPLY, "X-Mail-Autoreply: yes"),
        ("X-Autogenerated: Reply", Kind.AUTO_REPLY, "X-Autogenerated: Reply"),
        ("X-Auto-Response-Suppress: OOF", Kind.AUTO_REPLY, "X-Auto-Response-Suppress: OOF"),
        ("X-Auto-Response-Suppress:", Kind.AUTO_REPLY, "X-Auto-Response-Suppress"),
        ("X-MS-Exchange-Inbox-Rules-Loop: a@b", Kind.AUTO_REPLY, "X-MS-Exchange-Inbox-Rules-Loop (Exchange automatic message)"),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", Kind.AUTO_REPLY,
         "X-MS-Exchange-Generated-Message-Source (Exchange automatic message)"),
        ("Precedence: auto_reply", Kind.AUTO_REPLY, "Precedence: auto_reply"),
        ("Precedence: junk", Kind.AUTO_REPLY, "Precedence: junk"),
        ("Precedence: bulk", Kind.BULK, "Precedence: bulk"),
        ("Precedence: list", Kind.BULK, "Precedence: list"),
        ("List-Id: Warga Sewon <warga.sewon.example.org>", Kind.BULK, "List-Id: Warga Sewon <warga.sewon.example.org>"),
        ("List-Unsubscribe: <mailto:unsub@example.org>", Kind.BULK, "List-Unsubscribe header"),
        ("X-Failed-Recipients: a@example.org", Kind.BOUNCE, "X-Failed-Recipients: a@example.org"),
    ],
)
def test_header_signals(header, kind, reason):
    verdict = of_bytes(mail(header))
    assert (verdict.kind, verdict.reason) == (kind, reason)


# ------------------------------------------------------------- subject signals
@pytest.mark.parametrize(
    "subject, shown",
    [
        ("Balasan Otomatis: Pengaduan KTP", "Balasan Otomatis:"),
        ("Automatic reply: Pengaduan KTP", "Automatic reply:"),
        ("Auto-Reply: Pengaduan KTP", "Auto-Reply:"),
        ("Autoreply", "Autoreply"),
        ("Out of Office: Pengaduan KTP", "Out of Office:"),
        ("Sedang Cuti sampai 14 Maret", "Sedang Cuti"),
        ("Di luar kantor: Pengaduan KTP", "Di luar kantor:"),
        ("=?utf-8?Q?R=C3=A9ponse_automatique_:_x?=", "Réponse automatique"),
    ],
)
def test_out_of_office_subject_without_headers(subject, shown):
    verdict = of_bytes(mail(f"Subject: {subject}"))
    assert verdict.kind is Kind.AUTO_REPLY
    assert verdict.reason == f'subject looks like an out-of-office ("{shown}")'


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Balasan Otomatis: Pengaduan KTP",  # a human answering an out-of-office
        "Pengaduan: petugas sedang cuti terus",
        "Cuti bersama, kapan KTP saya jadi?",
        "Pengiriman KTP gagal",  # bounce words, but from a citizen
        "Undeliverable: KTP",  # bounce subject, but a person's address and a return path
    ],
)
def test_human_subjects_that_only_look_automatic(subject):
    assert of_bytes(mail(f"Subject: {subject}\nReturn-Path: <sri@example.net>")).kind is Kind.NORMAL


def test_legacy_bounce_subject_needs_a_mail_system_sender():
    verdict = of_bytes(mail("From: postmaster@mail.example.net\nSubject: Tidak terkirim: Pengaduan KTP"))
    assert verdict.kind is Kind.BOUNCE and "postmaster@mail.example.net" in verdict.reason
    verdict = of_bytes(mail("Return-Path: <>\nSubject: Pesan gagal terkirim"))
    assert verdict.kind is Kind.BOUNCE and "Return-Path <>" in verdict.reason
    verdict = of_bytes(
        mail(
            "From: Mail Delivery System <mailer-daemon@hosting.example.id>\nSubject: Pengiriman email gagal",
            "Email Anda kepada <bounce+warga=example.org@lists.example.id> tidak dapat dikirim.\n",
        )
    )
    assert verdict.kind is Kind.BOUNCE and "Pengiriman email gagal" in verdict.reason
    assert verdict.failed_recipients == ("bounce+warga=example.org@lists.example.id",)
    delay = of_bytes(mail("From: MAILER-DAEMON@mx.example.net\nSubject: Delivery Status Notification (Delay)"))
    assert delay.kind is Kind.BOUNCE and delay.delayed


def test_empty_return_path_alone_is_not_a_bounce():
    # sisimai_rfc3834-05: Return-Path <>, an odd subject, Auto-Submitted -> auto-reply
    assert of_corpus("autoreplies/sisimai_rfc3834-05.eml").kind is Kind.AUTO_REPLY
    assert of_bytes(mail("Return-Path: <>\nSubject: Pengaduan KTP")).kind is Kind.NORMAL


def test_kind_values_and_is_automatic():
    assert [k.value for k in Kind] == [
        "normal", "bounce", "auto-reply", "feedback-report", "read-receipt", "bulk", "own-mail"
    ]
    assert not Classification(Kind.NORMAL, "x").is_automatic
    assert all(Classification(k, "x").is_automatic for k in Kind if k is not Kind.NORMAL)
