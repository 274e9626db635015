"""What the ``mailflow`` command line says to a person, in English and in
Bahasa Indonesia: one catalogue, keyed, each line with the same
``{placeholders}`` in both languages (a table test checks it).

The language is the admin's choice: ``MAILFLOW_LANG`` (``en`` or ``id``; a
locale such as ``id_ID.UTF-8`` counts as ``id``), else ``[office]
cli_language`` of the configuration file the command reads (``--config``,
``$MAILFLOW_CONFIG`` or ``./mailflow.toml``), else English. It changes what is
printed for a person only: ``--json`` keys and values, exit codes and what
goes into mail are the same in both.

Covered so far: the one-line errors of ``main`` (files, databases), and the
human output of ``status``, ``queue``, ``mail list``, ``mail retry``,
``config check``, ``resend``, ``db upgrade`` and ``version``. Other
commands' lines and most error texts (``MailflowError`` messages raised deep
in config, rules and store) are still English only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from mailflow.store.db import DATABASE_PROBLEMS

ENGLISH, INDONESIAN = "en", "id"
LANGUAGES = (ENGLISH, INDONESIAN)

# key -> {language: text}. Keys are "<where>.<what>"; keep them sorted by where.
MESSAGES: dict[str, dict[str, str]] = {
    # ---- errors (main): the prefix of every one-line error, and files mailflow cannot use
    "error.line": {ENGLISH: "mailflow: error: {line}", INDONESIAN: "mailflow: galat: {line}"},
    "error.permission": {
        ENGLISH: "{name}: {reason}: give the user running mailflow access to it (and to its directory), "
                 "or use another path",
        INDONESIAN: "{name}: {reason}: beri pengguna yang menjalankan mailflow akses ke berkas itu (dan ke "
                    "foldernya), atau pakai path lain"},
    "error.not_found": {ENGLISH: "{name}: {reason}: check the path", INDONESIAN: "{name}: {reason}: periksa path-nya"},
    "error.file": {ENGLISH: "{name}: {reason}", INDONESIAN: "{name}: {reason}"},
    "error.connection": {ENGLISH: "{kind}: {reason}", INDONESIAN: "{kind}: {reason}"},
    # ---- the database (the English lines are store/db.py's DATABASE_PROBLEMS, added below)
    "db.readonly": {INDONESIAN: "basis data SQLite {path} tidak dapat ditulis ({detail}): beri pengguna ini hak tulis "
                                "pada berkas itu dan foldernya {directory} (SQLite menulis berkas -wal dan -shm di "
                                "sana)"},
    "db.corrupt": {INDONESIAN: "{path} bukan basis data SQLite yang dapat dipakai ({detail}): pulihkan dari cadangan, "
                               "atau arahkan database.url ke berkas lain"},
    "db.unopenable": {INDONESIAN: "basis data SQLite {path} tidak dapat dibuka ({detail}): pastikan foldernya "
                                  "{directory} ada dan pengguna ini boleh membaca dan menulisnya, atau perbaiki "
                                  "database.url"},
    "db.sqlite": {INDONESIAN: "basis data SQLite {path}: {detail}"},
    "db.unreachable": {INDONESIAN: "basis data {url} tidak dapat dipakai ({detail}): apakah server basis data berjalan "
                                   "dan dapat dihubungi di sana, dan apakah host, port, user dan nama basis data di "
                                   "database.url benar?"},
    "db.other": {INDONESIAN: "basis data {url}: {detail}"},
    "db.already": {ENGLISH: "database already at schema {schema}",
                   INDONESIAN: "basis data sudah pada skema {schema}"},
    "db.upgraded": {ENGLISH: "database upgraded from {before} to {after}",
                    INDONESIAN: "basis data dinaikkan dari skema {before} ke {after}"},
    "db.empty": {ENGLISH: "empty", INDONESIAN: "kosong"},
    # ---- config check
    "check.failed": {ENGLISH: "FAILED: ", INDONESIAN: "GAGAL: "},
    "check.warning": {ENGLISH: "warning", INDONESIAN: "peringatan"},
    "check.config": {ENGLISH: "config", INDONESIAN: "konfigurasi"},
    "check.database": {ENGLISH: "database", INDONESIAN: "basis data"},
    "check.rules": {ENGLISH: "rules", INDONESIAN: "aturan"},
    "check.templates": {ENGLISH: "templates", INDONESIAN: "templat"},
    "check.secrets": {ENGLISH: "secrets", INDONESIAN: "rahasia"},
    "check.permissions": {ENGLISH: "permissions", INDONESIAN: "izin berkas"},
    "check.imap": {ENGLISH: "imap", INDONESIAN: "imap"},
    "check.smtp": {ENGLISH: "smtp", INDONESIAN: "smtp"},
    # ---- mail list / mail retry
    "mail.none_any": {ENGLISH: "no inbound mail quarantined, rejected, ignored or bounced",
                      INDONESIAN: "tidak ada surel masuk yang dikarantina, ditolak, diabaikan atau terpental"},
    "mail.none_kind": {ENGLISH: "no inbound mail {kind}", INDONESIAN: "tidak ada surel masuk berstatus {kind}"},
    "mail.col.id": {ENGLISH: "id", INDONESIAN: "id"},
    "mail.col.office": {ENGLISH: "office", INDONESIAN: "kantor"},
    "mail.col.received": {ENGLISH: "received", INDONESIAN: "diterima"},
    "mail.col.outcome": {ENGLISH: "outcome", INDONESIAN: "hasil"},
    "mail.col.from": {ENGLISH: "from", INDONESIAN: "dari"},
    "mail.col.subject": {ENGLISH: "subject", INDONESIAN: "judul"},
    "mail.col.reason": {ENGLISH: "reason", INDONESIAN: "alasan"},
    "mail.col.retried": {ENGLISH: "retried", INDONESIAN: "dicoba ulang"},
    "mail.already_on_complaint": {ENGLISH: "mail #{id} is already on complaint {complaint}: nothing done",
                                  INDONESIAN: "surel #{id} sudah tercatat pada aduan {complaint}: tidak ada yang "
                                              "dilakukan"},
    "mail.registered": {ENGLISH: "mail #{id}: registered as {complaint}; its acknowledgement and forward are in the "
                                 "outbox",
                        INDONESIAN: "surel #{id}: terdaftar sebagai {complaint}; tanda terima dan penerusannya ada di "
                                    "kotak keluar"},
    "mail.duplicate": {ENGLISH: "mail #{id}: {reason}; nothing done",
                       INDONESIAN: "surel #{id}: {reason}; tidak ada yang dilakukan"},
    "mail.outcome": {ENGLISH: "mail #{id}: {what}", INDONESIAN: "surel #{id}: {what}"},
    # ---- queue
    "queue.none": {ENGLISH: "no complaints", INDONESIAN: "tidak ada aduan"},
    "queue.none_open": {ENGLISH: "no complaints open", INDONESIAN: "tidak ada aduan yang terbuka"},
    "queue.outbox_empty": {ENGLISH: "outbox empty: every mail has been sent",
                           INDONESIAN: "kotak keluar kosong: semua surel sudah terkirim"},
    "queue.col.office": {ENGLISH: "office", INDONESIAN: "kantor"},
    "queue.col.number": {ENGLISH: "number", INDONESIAN: "nomor"},
    "queue.col.received": {ENGLISH: "received", INDONESIAN: "diterima"},
    "queue.col.status": {ENGLISH: "status", INDONESIAN: "status"},
    "queue.col.step": {ENGLISH: "step", INDONESIAN: "tahap"},
    "queue.col.holder": {ENGLISH: "holder", INDONESIAN: "pemegang"},
    "queue.col.due": {ENGLISH: "due", INDONESIAN: "batas"},
    "queue.col.left": {ENGLISH: "left (working)", INDONESIAN: "sisa (jam kerja)"},
    "queue.col.category": {ENGLISH: "category", INDONESIAN: "layanan"},
    "queue.col.complainant": {ENGLISH: "complainant", INDONESIAN: "pelapor"},
    "queue.col.nik": {ENGLISH: "NIK", INDONESIAN: "NIK"},
    "queue.col.id": {ENGLISH: "id", INDONESIAN: "id"},
    "queue.col.state": {ENGLISH: "state", INDONESIAN: "keadaan"},
    "queue.col.kind": {ENGLISH: "kind", INDONESIAN: "jenis"},
    "queue.col.to": {ENGLISH: "to", INDONESIAN: "kepada"},
    "queue.col.attempts": {ENGLISH: "attempts", INDONESIAN: "percobaan"},
    "queue.col.next_try": {ENGLISH: "next try", INDONESIAN: "coba lagi"},
    "queue.col.last_error": {ENGLISH: "last error", INDONESIAN: "galat terakhir"},
    "table.left_out": {ENGLISH: "({columns} left out to fit {width} columns; a wider terminal, COLUMNS=..., or "
                                "--json shows them)",
                       INDONESIAN: "({columns} tidak ditampilkan agar muat dalam {width} kolom; terminal yang lebih "
                                   "lebar, COLUMNS=..., atau --json menampilkannya)"},
    # ---- resend
    "resend.queued_again": {ENGLISH: "queued again: <{message_id}> ({kind} to {to})",
                            INDONESIAN: "diantrekan lagi: <{message_id}> ({kind} kepada {to})"},
    "resend.sending": {ENGLISH: "<{message_id}> is being sent right now; nothing to do",
                       INDONESIAN: "<{message_id}> sedang dikirim saat ini; tidak ada yang perlu dilakukan"},
    "resend.resent_copy": {ENGLISH: "resent copy queued: <{message_id}> as Resent-Message-ID <{resent_message_id}> "
                                    "to {to}",
                           INDONESIAN: "salinan kirim ulang diantrekan: <{message_id}> sebagai Resent-Message-ID "
                                       "<{resent_message_id}> kepada {to}"},
    "resend.nothing_failed": {ENGLISH: "no outbound mail has failed: nothing to resend",
                              INDONESIAN: "tidak ada surel keluar yang gagal: tidak ada yang dikirim ulang"},
    "resend.usage": {ENGLISH: "give a register number or Message-ID, or --failed (one of them)",
                     INDONESIAN: "berikan nomor register atau Message-ID, atau --failed (salah satu saja)"},
    # ---- status
    "status.line": {ENGLISH: "status:   {status}", INDONESIAN: "status:   {status}"},
    "status.healthy": {ENGLISH: "HEALTHY", INDONESIAN: "SEHAT"},
    "status.degraded": {ENGLISH: "DEGRADED", INDONESIAN: "TERGANGGU"},
    "status.down": {ENGLISH: "DOWN", INDONESIAN: "MATI"},
    "status.database": {ENGLISH: "database: {url}: schema {schema}, needed {needed}",
                        INDONESIAN: "basis data: {url}: skema {schema}, dibutuhkan {needed}"},
    "status.database_unreachable": {ENGLISH: "database: {url}: unreachable ({error})",
                                    INDONESIAN: "basis data: {url}: tidak dapat dihubungi ({error})"},
    "status.none": {ENGLISH: "none", INDONESIAN: "tidak ada"},
    "status.ok": {ENGLISH: "ok", INDONESIAN: "baik"},
    "status.login_failed": {ENGLISH: "{server} login failed", INDONESIAN: "{server} login ditolak"},
    "status.unreachable": {ENGLISH: "{server} unreachable", INDONESIAN: "{server} tak terjangkau"},
    "status.pending": {ENGLISH: "{pending} ({deferred} deferred)", INDONESIAN: "{pending} ({deferred} ditunda)"},
    "status.reason.database": {ENGLISH: "database unreachable: {error}",
                               INDONESIAN: "basis data tidak dapat dihubungi: {error}"},
    "status.reason.login_failed": {ENGLISH: "{server} login failed since {since}: {reason}",
                                   INDONESIAN: "{server} login ditolak sejak {since}: {reason}"},
    "status.reason.unreachable": {ENGLISH: "{server} unreachable since {since}: {reason}",
                                  INDONESIAN: "{server} tak terjangkau sejak {since}: {reason}"},
    "status.reason.looked_at": {ENGLISH: "mailbox {folder} last looked at {at} (more than {minutes} min ago)",
                                INDONESIAN: "kotak surat {folder} terakhir dicek {at} (lebih dari {minutes} menit "
                                            "lalu)"},
    "status.reason.never_looked_at": {ENGLISH: "mailbox {folder} never looked at",
                                      INDONESIAN: "kotak surat {folder} belum pernah dicek"},
    "status.reason.stale": {ENGLISH: "{seen}: is the daemon or a worker running?",
                            INDONESIAN: "{seen}: apakah daemon atau worker berjalan?"},
    "status.reason.stale_while_problem": {ENGLISH: "{seen} while a mail-server problem is recorded",
                                          INDONESIAN: "{seen} sementara masalah server surel tercatat"},
    "status.reason.failed_rows": {ENGLISH: "{count} outbox row(s) failed: see `mailflow resend --failed`",
                                  INDONESIAN: "{count} surel keluar gagal: lihat `mailflow resend --failed`"},
    "status.reason.quarantined": {ENGLISH: "{count} mail(s) quarantined in the last 24 h (folder {folder})",
                                  INDONESIAN: "{count} surel dikarantina dalam 24 jam terakhir (folder {folder})"},
    "status.col.office": {ENGLISH: "office", INDONESIAN: "kantor"},
    "status.col.status": {ENGLISH: "status", INDONESIAN: "status"},
    "status.col.last_look": {ENGLISH: "last look", INDONESIAN: "terakhir dicek"},
    "status.col.servers": {ENGLISH: "mail servers", INDONESIAN: "server surel"},
    "status.col.pending": {ENGLISH: "outbox pending", INDONESIAN: "antrean keluar"},
    "status.col.failed": {ENGLISH: "failed", INDONESIAN: "gagal"},
    "status.col.oldest": {ENGLISH: "oldest pending", INDONESIAN: "antrean tertua"},
    "status.col.quarantined": {ENGLISH: "quarantined 24h/all", INDONESIAN: "karantina 24j/semua"},
    "status.col.report": {ENGLISH: "last report", INDONESIAN: "laporan terakhir"},
    # ---- version
    "version": {ENGLISH: "mailflow {version}", INDONESIAN: "mailflow versi {version}"},
}
for _case, _english in DATABASE_PROBLEMS.items():
    MESSAGES[f"db.{_case}"][ENGLISH] = _english


def text(language: str, key: str, **fields: object) -> str:
    """The line ``key`` in ``language`` (English if it has none), filled in."""
    said = MESSAGES[key]
    return said.get(language, said[ENGLISH]).format(**fields)


def language_named(value: str) -> str | None:
    """``en``/``id`` from what a user set (``id``, ``ID``, ``id_ID.UTF-8``,
    ``in``, ``en_US``); None for anything else."""
    base = value.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    if base in ("id", "in", "ind", "indonesian", "indonesia"):
        return INDONESIAN
    if base in ("en", "eng", "english"):
        return ENGLISH
    return None


def language(env: Mapping[str, str], config: Path | str | None = None) -> str:
    """The language of this invocation: ``MAILFLOW_LANG``, else ``[office]
    cli_language`` of the configuration file (``config``, else
    ``MAILFLOW_CONFIG``, else ``./mailflow.toml``), else English. A file that
    cannot be read is English here: loading it properly says what is wrong."""
    chosen = language_named(env.get("MAILFLOW_LANG", "") or "")
    if chosen is not None:
        return chosen
    path = Path(config or env.get("MAILFLOW_CONFIG") or "mailflow.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return ENGLISH
    office = data.get("office")
    value = office.get("cli_language") if isinstance(office, dict) else None
    return value if value in LANGUAGES else ENGLISH


def config_in(args: Sequence[str]) -> str | None:
    """The ``--config``/``-c`` value of a command line, if it has one."""
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None
