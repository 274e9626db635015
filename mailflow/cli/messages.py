"""What the ``mailflow`` command line says to a person, in English and in
Bahasa Indonesia: one catalogue, keyed, each line with the same
``{placeholders}`` in both languages (a table test checks it).

The language is the admin's choice: ``MAILFLOW_LANG`` (``en`` or ``id``; a
locale such as ``id_ID.UTF-8`` counts as ``id``), else ``[office]
cli_language`` of the configuration file the command reads (``--config``,
``$MAILFLOW_CONFIG`` or ``./mailflow.toml``), else English. It changes what is
printed for a person only: ``--json`` keys and values, exit codes and what
goes into mail are the same in both.

Covered: the one-line errors of ``main`` for files and databases, the
errors the listing commands raise themselves (``--status``, ``--sort``,
``--kind``, a number or mail not found, ``resend``'s usage), and what
``status`` (with its reasons), ``queue``, ``mail list|retry``, ``config
check`` (but for what a failed login or connection says), ``resend``,
``init``, ``db upgrade|status``, ``backup``, ``restore``, ``report`` (its
lines, not the report), ``poll``'s server problems, ``office
list|check|add``, ``workers``, ``version`` and ``rules check`` print. Not
yet: ``poll``'s pass summary, ``config check --connect``'s failures, and
the texts of ``MailflowError``s raised in config, rules, store and desk (a
missing secret, a bad key, an old schema ...), which stay English. ``show``
and ``mail show`` print Bahasa Indonesia in both languages, as before.
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
    "db.status": {ENGLISH: "database: {database}\nschema:   {schema}\nneeded:   {needed}",
                  INDONESIAN: "basis data: {database}\nskema:      {schema}\ndibutuhkan: {needed}"},
    # ---- init, backup, restore
    "init.wrote": {ENGLISH: "wrote {config} and {rules}", INDONESIAN: "{config} dan {rules} ditulis"},
    "init.database": {ENGLISH: "database {database} at schema {schema}",
                      INDONESIAN: "basis data {database} pada skema {schema}"},
    "init.next": {ENGLISH: "next: edit mailflow.toml (servers, addresses) and rules/, then run `mailflow config check`",
                  INDONESIAN: "berikutnya: sunting mailflow.toml (server, alamat) dan rules/, lalu jalankan "
                              "`mailflow config check`"},
    "backup.postgresql": {ENGLISH: "PostgreSQL: mailflow does not dump it; run (as a user that may read the "
                                   "database):\n  {command}\nand restore with pg_restore (see docs/UPGRADE.md)",
                          INDONESIAN: "PostgreSQL: mailflow tidak membuat dump-nya; jalankan (sebagai pengguna yang "
                                      "boleh membaca basis data itu):\n  {command}\ndan pulihkan dengan pg_restore "
                                      "(lihat docs/UPGRADE.md)"},
    "backup.done": {ENGLISH: "backed up {database} to {backup} ({size} bytes, owner-only): integrity ok, schema "
                             "{schema}",
                    INDONESIAN: "{database} dicadangkan ke {backup} ({size} byte, hanya pemilik): integritas baik, "
                                "skema {schema}"},
    "restore.done": {ENGLISH: "restored {database} from {backup}: integrity ok, schema {schema}",
                     INDONESIAN: "{database} dipulihkan dari {backup}: integritas baik, skema {schema}"},
    "restore.older": {ENGLISH: "the backup is from an older mailflow: run `mailflow db upgrade` before starting "
                               "mailflow",
                      INDONESIAN: "cadangan ini dari mailflow versi lama: jalankan `mailflow db upgrade` sebelum "
                                  "menjalankan mailflow"},
    # ---- office list / check / add
    "office.col.key": {ENGLISH: "key", INDONESIAN: "kunci"},
    "office.col.name": {ENGLISH: "name", INDONESIAN: "nama"},
    "office.col.address": {ENGLISH: "complaint address", INDONESIAN: "alamat aduan"},
    "office.col.rules": {ENGLISH: "rules", INDONESIAN: "aturan"},
    "office.col.imap": {ENGLISH: "IMAP", INDONESIAN: "IMAP"},
    "office.col.open": {ENGLISH: "open", INDONESIAN: "terbuka"},
    "office.not_counted": {ENGLISH: "(open complaints not counted: {why})",
                           INDONESIAN: "(aduan terbuka tidak dihitung: {why})"},
    "office.error": {ENGLISH: "office {office}: error: {error}", INDONESIAN: "kantor {office}: galat: {error}"},
    "office.ok": {ENGLISH: "office {office}: OK: {name} <{address}>; {file}; rules {rules} ({steps} steps, {roles} "
                           "roles); IMAP {imap}",
                  INDONESIAN: "kantor {office}: baik: {name} <{address}>; {file}; aturan {rules} ({steps} tahap, "
                              "{roles} peran); IMAP {imap}"},
    "office.note": {ENGLISH: "  note: {note}", INDONESIAN: "  catatan: {note}"},
    "office.db_not_checked": {ENGLISH: "database: not checked: {why}",
                              INDONESIAN: "basis data: tidak diperiksa: {why}"},
    "office.db_ok": {ENGLISH: "database: every row belongs to an office of the config",
                     INDONESIAN: "basis data: setiap baris milik kantor yang ada di konfigurasi"},
    "office.strangers": {ENGLISH: "warning: the database holds rows of office {office}, which {config} does not have "
                                  "({counts}); if the office was renamed, set its office.key back to {office} "
                                  "(offices: {keys})",
                         INDONESIAN: "peringatan: basis data memuat baris kantor {office}, yang tidak ada di {config} "
                                     "({counts}); jika kantor itu berganti nama, kembalikan office.key-nya ke "
                                     "{office} (kantor: {keys})"},
    "office.added": {ENGLISH: "wrote {file} (office '{office}'); edit it, then `mailflow office check {office}`; set "
                              "{password_env} for its IMAP password",
                     INDONESIAN: "{file} ditulis (kantor '{office}'); sunting berkas itu, lalu jalankan `mailflow "
                                 "office check {office}`; isi {password_env} dengan kata sandi IMAP-nya"},
    # ---- workers
    "workers.never": {ENGLISH: "never", INDONESIAN: "belum pernah"},
    "workers.seconds_ago": {ENGLISH: "{seconds} s ago", INDONESIAN: "{seconds} detik lalu"},
    "workers.minutes_ago": {ENGLISH: "{minutes} min ago", INDONESIAN: "{minutes} menit lalu"},
    "workers.count": {ENGLISH: "{count} worker(s):", INDONESIAN: "{count} worker:"},
    "workers.stalled": {ENGLISH: " (STALLED)", INDONESIAN: " (MACET)"},
    "workers.none": {ENGLISH: "no workers (this database is served by `mailflow run`, or no worker has started yet)",
                     INDONESIAN: "tidak ada worker (basis data ini dilayani `mailflow run`, atau belum ada worker "
                                 "yang berjalan)"},
    "workers.stalled_jobs": {ENGLISH: "{count} job(s) on workers that stopped answering (handed to another worker "
                                      "within {seconds} s by the next tick):",
                             INDONESIAN: "{count} tugas pada worker yang berhenti menjawab (diserahkan ke worker lain "
                                         "dalam {seconds} detik pada detak berikutnya):"},
    "workers.col.worker": {ENGLISH: "worker", INDONESIAN: "worker"},
    "workers.col.heartbeat": {ENGLISH: "heartbeat", INDONESIAN: "detak terakhir"},
    "workers.col.jobs": {ENGLISH: "jobs now", INDONESIAN: "tugas kini"},
    "workers.col.office": {ENGLISH: "office", INDONESIAN: "kantor"},
    "workers.col.watched_by": {ENGLISH: "watched now by", INDONESIAN: "diawasi oleh"},
    "workers.col.last_look": {ENGLISH: "last look", INDONESIAN: "terakhir dicek"},
    "workers.col.by_process": {ENGLISH: "by process", INDONESIAN: "oleh proses"},
    "workers.col.pending": {ENGLISH: "outbox pending", INDONESIAN: "antrean keluar"},
    "workers.col.sending": {ENGLISH: "sending", INDONESIAN: "sedang dikirim"},
    "workers.col.failed": {ENGLISH: "failed", INDONESIAN: "gagal"},
    # ---- poll, report
    "poll.server_problem": {ENGLISH: "mailflow: {prefix}mail server problem: {error}",
                            INDONESIAN: "mailflow: {prefix}masalah server surel: {error}"},
    "report.queued": {ENGLISH: "report for {month} queued in the outbox for {recipients} (mailflow run sends it; "
                               "see mailflow queue --outbox)",
                      INDONESIAN: "laporan {month} diantrekan di kotak keluar untuk {recipients} (mailflow run "
                                  "mengirimnya; lihat mailflow queue --outbox)"},
    "report.wrote": {ENGLISH: "wrote {path} ({format}, {bytes} bytes)",
                     INDONESIAN: "{path} ditulis ({format}, {bytes} byte)"},
    # ---- rules check
    "rules.ok": {ENGLISH: "{path}: OK — {office}", INDONESIAN: "{path}: baik — {office}"},
    "rules.col.step": {ENGLISH: "step", INDONESIAN: "tahap"},
    "rules.col.held_by": {ENGLISH: "held by", INDONESIAN: "dipegang"},
    "rules.col.standard": {ENGLISH: "standard", INDONESIAN: "standar"},
    "rules.col.replies": {ENGLISH: "replies", INDONESIAN: "balasan"},
    "rules.col.what": {ENGLISH: "what happens", INDONESIAN: "yang terjadi"},
    "rules.total": {ENGLISH: "total standard: {total}", INDONESIAN: "standar seluruhnya: {total}"},
    "rules.answers": {ENGLISH: "answers: a draft from a role below rank {rank} is approved by {approver} (standard "
                               "{standard}); {sent}; the citizen may reopen within {days} day(s)",
                      INDONESIAN: "jawaban: konsep dari peran di bawah pangkat {rank} disetujui oleh {approver} "
                                  "(standar {standard}); {sent}; warga dapat membuka kembali dalam {days} hari"},
    "rules.sent_at": {ENGLISH: "approved answers are sent at step {step}",
                      INDONESIAN: "jawaban yang disetujui dikirim pada tahap {step}"},
    "rules.sent_at_once": {ENGLISH: "approved answers go out at once",
                           INDONESIAN: "jawaban yang disetujui langsung dikirim"},
    "rules.roles": {ENGLISH: "roles:", INDONESIAN: "peran:"},
    "rules.rank": {ENGLISH: "rank {rank}", INDONESIAN: "pangkat {rank}"},
    "rules.deputies": {ENGLISH: ", deputies {deputies}", INDONESIAN: ", wakil {deputies}"},
    # ---- config check
    "check.ok": {ENGLISH: "{path} OK", INDONESIAN: "{path} baik"},
    "check.up_to_date": {ENGLISH: "{database}: up to date", INDONESIAN: "{database}: mutakhir"},
    "check.rules_ok": {ENGLISH: "{path} OK ({steps} steps, {roles} roles)",
                       INDONESIAN: "{path} baik ({steps} tahap, {roles} peran)"},
    "check.templates_found": {ENGLISH: "{count} found", INDONESIAN: "{count} ditemukan"},
    "check.secrets_found": {ENGLISH: "found (not shown)", INDONESIAN: "ditemukan (tidak ditampilkan)"},
    "check.readable_database": {ENGLISH: "{what} {path} can be read by other users of this machine; run "
                                         "`chmod 600 {path}` (it holds personal data)",
                                INDONESIAN: "{what} {path} dapat dibaca pengguna lain di mesin ini; jalankan "
                                            "`chmod 600 {path}` (berisi data pribadi)"},
    "check.readable_secrets": {ENGLISH: "{what} {path} can be read by other users of this machine; run "
                                        "`chmod 600 {path}` (it holds secrets)",
                               INDONESIAN: "{what} {path} dapat dibaca pengguna lain di mesin ini; jalankan "
                                           "`chmod 600 {path}` (berisi rahasia)"},
    "check.logged_in_imap": {ENGLISH: "{where}: logged in, folder {folder} selected",
                             INDONESIAN: "{where}: berhasil masuk, folder {folder} dipilih"},
    "check.logged_in_smtp": {ENGLISH: "{where}: logged in", INDONESIAN: "{where}: berhasil masuk"},
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
    "check.oauth2": {ENGLISH: "oauth2", INDONESIAN: "oauth2"},
    "check.token_missing": {ENGLISH: "no OAuth2 token is stored for {account}: run `mailflow auth login`",
                            INDONESIAN: "belum ada token OAuth2 untuk {account}: jalankan `mailflow auth login`"},
    "check.token_renewable": {ENGLISH: "token of {account} stored ({flow}); renewable",
                              INDONESIAN: "token {account} tersimpan ({flow}); dapat diperbarui"},
    "check.token_not_renewable": {ENGLISH: "token of {account} stored ({flow}); not renewable: run "
                                           "`mailflow auth login`",
                                  INDONESIAN: "token {account} tersimpan ({flow}); tidak dapat diperbarui: "
                                              "jalankan `mailflow auth login`"},
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
    "mail.not_found": {ENGLISH: "no inbound mail #{id} (see `mailflow mail list`)",
                       INDONESIAN: "tidak ada surel masuk #{id} (lihat `mailflow mail list`)"},
    "mail.bad_kind": {ENGLISH: "--kind must be one of {kinds}, got {kind}",
                      INDONESIAN: "--kind harus salah satu dari {kinds}, bukan {kind}"},
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
    "queue.bad_sort": {ENGLISH: "--sort must be 'received' or 'due'",
                       INDONESIAN: "--sort harus 'received' (waktu diterima) atau 'due' (batas waktu)"},
    "queue.bad_status": {ENGLISH: "--status {word}: no such status; use one of: {accepted}",
                         INDONESIAN: "--status {word}: status itu tidak ada; pakai salah satu dari: {accepted}"},
    "show.not_found": {ENGLISH: "no complaint numbered {number} (see `mailflow queue --all`)",
                       INDONESIAN: "tidak ada aduan bernomor {number} (lihat `mailflow queue --all`)"},
    "show.not_found_at": {ENGLISH: "no complaint numbered {number} at office {office} (see `mailflow queue --all`)",
                          INDONESIAN: "tidak ada aduan bernomor {number} di kantor {office} (lihat `mailflow queue "
                                      "--all`)"},
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
