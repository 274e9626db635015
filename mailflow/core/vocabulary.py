"""mailflow's words, each defined once: complaint statuses, hop kinds, mail
kinds (= template names), deadline notices, and staff command words with their
aliases.

Every other module, template, rules file and CLI option takes its words from
here (``tests/test_vocabulary.py`` checks templates, rules files and the CLI
against these lists). The members are ``StrEnum``: each compares equal to its
plain string, so the database, the rules files and templates keep storing and
writing the plain words.

Each member carries the text people read beside it (Bahasa Indonesia), so a
word and its label cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class _Labelled(StrEnum):
    """A word with the Indonesian label people read (``label``)."""

    label: str

    def __new__(cls, value: str, label: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


# ---------------------------------------------------------------- statuses
class Status(_Labelled):
    """Where a complaint stands (``complaints.status``)."""

    REGISTERED = "registered", "terdaftar"
    IN_PROGRESS = "in_progress", "diproses"
    WAITING_CITIZEN = "waiting_citizen", "menunggu pelapor"
    AWAITING_APPROVAL = "awaiting_approval", "menunggu persetujuan"
    CLOSED = "closed", "selesai"
    # merging (#gabung, issue #15): closed as a duplicate of another complaint; not counted again in reports
    MERGED = "merged", "digabung"


# The statuses of an open complaint, in the order the partial index
# ix_complaints_open_created_at names them (SQLite uses a partial index only for
# a query whose WHERE repeats its condition literally; see store/models.py).
OPEN_STATUSES: tuple[Status, ...] = (Status.REGISTERED, Status.IN_PROGRESS, Status.WAITING_CITIZEN,
                                     Status.AWAITING_APPROVAL)
# Statuses whose step clock runs (waiting for the citizen or closed: no due time).
RUNNING_STATUSES: tuple[Status, ...] = (Status.REGISTERED, Status.IN_PROGRESS, Status.AWAITING_APPROVAL)

# How listings and reports name a status, in ladder order. "answered" is not a
# status of its own (an answered complaint is closed); reports that count answers
# name them with it.
STATUS_WORDS: dict[str, str] = {
    Status.REGISTERED: Status.REGISTERED.label,
    Status.IN_PROGRESS: Status.IN_PROGRESS.label,
    Status.WAITING_CITIZEN: Status.WAITING_CITIZEN.label,
    Status.AWAITING_APPROVAL: Status.AWAITING_APPROVAL.label,
    "answered": "dijawab",
    Status.CLOSED: Status.CLOSED.label,
    Status.MERGED: Status.MERGED.label,  # merging (#gabung)
}


def status_named(word: str) -> Status | None:
    """The status a user typed, in English (``in_progress``) or Bahasa
    Indonesia (``diproses``, ``menunggu pelapor``), any case; None if unknown."""
    text = " ".join(word.strip().lower().replace("_", " ").replace("-", " ").split())
    for status in Status:
        if text in (status.value.replace("_", " "), status.label):
            return status
    return None


# ---------------------------------------------------------------- hop kinds
class HopKind(_Labelled):
    """What one row of the hop log records (``hops.kind``), with the words
    ``mailflow show`` prints for it."""

    RECEIVED = "received", "Surel diterima"  # an inbound mail was archived
    PARSED = "parsed", "Isi aduan dibaca"  # its complaint fields were read
    REJECTED = "rejected", "Format aduan ditolak"  # the complaint format was wrong; the citizen was told why
    REGISTERED = "registered", "Aduan didaftarkan"  # a complaint got its register number
    ACKNOWLEDGED = "acknowledged", "Tanda terima disiapkan untuk pelapor"  # the acknowledgement was queued
    FORWARDED = "forwarded", "Diteruskan"  # the complaint was queued for a role mailbox
    ATTACHED = "attached", "Surel tambahan dari pelapor"  # a later mail was added to an open complaint
    NOTED = "noted", "Catatan belum terverifikasi"  # a mail claiming to be the complainant's, unverified: a note only
    SENT = "sent", "Surel terkirim"  # an outbound mail left through SMTP
    FAILED = "failed", "Surel gagal terkirim"  # an outbound mail could not be sent
    IGNORED = "ignored", "Diabaikan"  # a mail was logged and not acted on (automatic, duplicate, ...)
    QUARANTINED = "quarantined", "Dikarantina"  # handling a mail raised; it went to the quarantine folder
    RETRIED = "retried", "Diproses ulang oleh admin"  # an admin retried an archived inbound mail (mailflow mail retry)
    RESENT = "resent", "Dikirim ulang"  # an admin put an outbound mail back in the outbox
    COMMENT = "comment", "Catatan"  # a staff comment (catatan)
    RETURNED = "returned", "Dikembalikan"  # sent back down the ladder (#kembalikan), or a draft rejected (#tolak)
    DRAFTED = "drafted", "Draf jawaban dibuat"  # an answer was drafted and waits for its approver
    APPROVED = "approved", "Jawaban disetujui"  # a draft was approved and goes to the role that sends it
    ANSWERED = "answered", "Jawaban dikirim kepada pelapor"  # the answer was queued for the citizen
    INFO_REQUESTED = "info-requested", "Pelapor dimintai keterangan"  # the citizen was asked (#info)
    REOPENED = "reopened", "Dibuka kembali oleh pelapor"  # the citizen replied after the answer, in the window
    CLOSED = "closed", "Selesai dan diarsipkan"  # the complaint was closed and archived
    REFUSED = "refused", "Ditolak (tidak ada perubahan)"  # a staff mail moved nothing; the sender or holder was told
    REMINDED = "reminded", "Pengingat batas waktu"  # the holder was reminded a step's standard is nearly used up
    OVERDUE = "overdue", "Melewati batas waktu"  # a step's standard passed; the rules' on_breach action was taken
    BOUNCED = "bounced", "Surel tidak sampai (dikembalikan server penerima)"  # a mail we sent came back undelivered
    # The office's own mail servers (no complaint): the reason starts with "IMAP" or "SMTP".
    LOGIN_REFUSED = "login-refused", "Login ke server surel ditolak"  # a wrong or expired password (once per outage)
    UNREACHABLE = "server-unreachable", "Server surel tidak dapat dihubungi"  # refused, timed out, TLS (once per outage)
    # privacy (issue 14): no personal data in either hop's actor or reason.
    EXPIRED = "expired", "Data pribadi dihapus (masa simpan habis)"  # the retention pass erased a stage's data
    ERASED = "erased", "Data pribadi dihapus atas permintaan"  # `mailflow privacy erase`
    # Status by mail, #bantuan, #riwayat (issue 15 points 1 and 6): a mail that only asked and was
    # answered by mail; nothing on the complaint changed.
    INFORMED = "informed", "Permintaan informasi dijawab (status / bantuan / riwayat)"
    # the satisfaction survey (SKM, issue #15 point 2)
    SURVEYED = "surveyed", "Survei kepuasan dikirim kepada pelapor"  # the one survey mail was queued
    RATED = "rated", "Penilaian kepuasan dari pelapor dicatat"  # the citizen's rating was recorded (or, again: not)
    # merging and closing after silence (issue #15 points 3, 4)
    MERGED = "merged", "Digabung"  # a duplicate was merged into another complaint (on both complaints' logs)
    CITIZEN_REMINDED = "citizen-reminded", "Pelapor diingatkan"  # the citizen was reminded an #info question waits


# ---------------------------------------------------------------- mail kinds
class MailKind(StrEnum):
    """Every mail mailflow writes: the name of its template
    (``templates/<kind>.txt.j2``) and the ``X-Mailflow-Kind`` header it carries."""

    ACKNOWLEDGEMENT = "citizen/acknowledgement"
    FORMAT_REJECTED = "citizen/format-rejected"
    ANSWER = "citizen/answer"
    INFO_REQUEST = "citizen/info-request"
    FORWARD = "staff/forward"
    HANDOVER = "staff/handover"
    APPROVAL_REQUEST = "staff/approval-request"
    SEND_CONFIRMATION = "staff/send-confirmation"
    REFUSED = "staff/refused"
    UNAUTHORIZED_ATTEMPT = "staff/unauthorized-attempt"
    CITIZEN_FOLLOW_UP = "staff/citizen-follow-up"
    UNVERIFIED_NOTE = "staff/unverified-note"
    DEPUTY_NOTICE = "staff/deputy-notice"
    BOUNCE_NOTICE = "staff/bounce-notice"
    REMINDER = "staff/reminder"
    BREACH_NOTICE = "staff/breach-notice"
    DEADLINE_SUMMARY = "staff/deadline-summary"
    MONTHLY_REPORT = "staff/monthly-report"
    NOTICE_DIGEST = "staff/notice-digest"
    QUARANTINE_ALERT = "admin/quarantine-alert"
    FLOOD_ALERT = "admin/flood-alert"
    LOGIN_FAILED = "admin/login-failed"
    SENDER_UNCLEAR = "admin/sender-unclear"
    # Status by mail, #bantuan, #riwayat (issue 15 points 1 and 6).
    STATUS = "citizen/status"  # the complaint's status, to its recorded complainant
    STATUS_UNKNOWN = "citizen/status-unknown"  # a status request no complaint of that sender matches
    HELP = "staff/help"  # #bantuan: the commands of the complaint's step, with an example
    HISTORY = "staff/history"  # #riwayat: the complaint's history in short, personal data masked
    # the satisfaction survey (SKM, issue #15 point 2)
    SURVEY = "citizen/survey"
    SURVEY_THANKS = "citizen/survey-thanks"
    # merging and closing after silence (issue #15 points 3, 4)
    MERGED_NOTICE = "citizen/merged"
    INFO_REMINDER = "citizen/info-reminder"
    CLOSED_NO_REPLY = "citizen/closed-no-reply"

    @property
    def to_citizen(self) -> bool:
        return self.value.startswith("citizen/")


class Notice(StrEnum):
    """What a deadline mail tells its reader about one complaint (``item.kind``
    in ``staff/deadline-summary``)."""

    REMINDER = "reminder"  # nearly due; the reader holds it
    OVERDUE = "overdue"  # past due; the holder may be another role
    ESCALATED = "escalated"  # moved to the reader because the previous step was late


# Automatic mail to an address that wrote to the desk (or is written to about a
# complaint): at most limits.auto_replies_per_address_per_day of them to one
# address in 24 hours, however many senders caused them (docs/SECURITY.md:
# no backscatter; loops with auto-responders stop too).
AUTOMATIC_KINDS: tuple[MailKind, ...] = (MailKind.ACKNOWLEDGEMENT, MailKind.FORMAT_REJECTED, MailKind.REFUSED,
                                         MailKind.INFO_REQUEST,
                                         # status by mail (issue 15 point 1)
                                         MailKind.STATUS, MailKind.STATUS_UNKNOWN,
                                         # the satisfaction survey (SKM)
                                         MailKind.SURVEY, MailKind.SURVEY_THANKS)
# Internal notices an attacker can cause: at most limits.notices_per_hour of
# them to one address in an hour, the rest in one digest an hour.
NOTICE_KINDS: tuple[MailKind, ...] = (MailKind.UNAUTHORIZED_ATTEMPT, MailKind.QUARANTINE_ALERT,
                                      MailKind.SENDER_UNCLEAR, MailKind.UNVERIFIED_NOTE)


# ---------------------------------------------------------------- command words
class Word(_Labelled):
    """A staff command word (``#jawab`` ...), with what it does (``label``,
    shown in the command help of staff mail) and the aliases staff may write."""

    aliases: tuple[str, ...]

    def __new__(cls, value: str, label: str = "", aliases: tuple[str, ...] = ()):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.aliases = aliases
        return member

    JAWAB = "jawab", "teks setelah perintah ini menjadi jawaban untuk pelapor", ("jawaban", "answer", "reply")
    TERUSKAN = "teruskan", "teruskan ke jenjang berikutnya, dengan catatan", ("eskalasi", "forward", "escalate")
    KEMBALIKAN = "kembalikan", "kembalikan ke jenjang sebelumnya, dengan catatan", ("return", "back")
    SETUJU = "setuju", "setujui (atau kirim) jawaban yang ada", ("setujui", "approve", "ok")
    TOLAK = "tolak", "tolak draf jawaban, dengan catatan perbaikan", ("reject",)
    INFO = "info", "minta keterangan tambahan kepada pelapor (tuliskan pertanyaannya)", ("tanya", "ask")
    CATATAN = "catatan", "catatan untuk riwayat aduan saja", ("note", "comment")
    # Staff quality of life (issue 15 point 6): asked at any step by whoever holds the complaint,
    # answered by mail; never a ladder action (not in ACTION_WORDS), nothing changes.
    BANTUAN = "bantuan", "kirimkan kepada saya daftar perintah tahap ini beserta contohnya", ("help",)
    RIWAYAT = "riwayat", "kirimkan kepada saya riwayat aduan ini", ("history",)
    # merging (issue #15 point 3): allowed at every open step, never bound in a rules file
    GABUNG = "gabung", "gabungkan aduan ini (duplikat) ke aduan lain: tuliskan nomor registernya", ("merge",)


# The words allowed at every step (a note; #bantuan and #riwayat, issue 15 point 6): never bound by
# a rules file, never a move.
ANYTIME_WORDS: tuple[Word, ...] = (Word.CATATAN, Word.BANTUAN, Word.RIWAYAT)
# The words a rules file may bind to a step's actions (#gabung, merging, is allowed at every open
# step and needs a register number: never bound in a rules file either).
ACTION_WORDS: tuple[Word, ...] = tuple(w for w in Word if w not in ANYTIME_WORDS and w is not Word.GABUNG)
# Every spelling staff may write -> its word.
WORD_ALIASES: dict[str, Word] = {spelling: w for w in Word for spelling in (w.value, *w.aliases)}


# ---------------------------------------------------------------- citizen words
# What a citizen writes at the start of a mail to ask where their complaint
# stands (issue 15 point 1): "#status", "status", "cek status". Not staff
# commands (a staff member asks with #riwayat).
STATUS_REQUEST_WORDS: tuple[str, ...] = ("status", "cek status")
