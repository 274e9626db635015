"""The ladder's mail templates: staff handovers and approvals, refusals and
warnings, and the answer and question to the citizen (mailflow.core.render).

The contexts are what mailflow.desk.replies passes (its ``_base`` adds office,
now, complaint and reply_address to every mail)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from mailflow.core.render import Renderer, TemplateError
from test_render import FOOTER, KK, LADDER_TEMPLATES, NIK, NIK_MASKED, SHIPPED, T, complaint, contexts, lines, office

REPLY = "aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test"
NUMBER = "ADU/2026/000123"
DRAFT = (
    "Dengan hormat,\n"
    "KTP-el Ibu sudah dicetak pada 20 November 2026 dan dapat diambil di\n"
    "kantor Kecamatan Sewon pada jam kerja dengan membawa KK asli.\n"
    "\n"
    "Terima kasih."
)
STEP_KASI = NS(name="Verifikasi aduan oleh Kepala Seksi", standard_minutes=30)
STEP_ADMIN = NS(name="Verifikasi aduan oleh Admin Email", standard_minutes=30)


def cmd(word: str, meaning: str) -> NS:
    return NS(word=word, meaning=meaning)


# As mailflow.core.vocabulary.Word has them (their labels).
JAWAB = cmd("#jawab", "teks setelah perintah ini menjadi jawaban untuk pelapor")
TERUSKAN = cmd("#teruskan", "teruskan ke jenjang berikutnya, dengan catatan")
KEMBALIKAN = cmd("#kembalikan", "kembalikan ke jenjang sebelumnya, dengan catatan")
SETUJU = cmd("#setuju", "setujui (atau kirim) jawaban yang ada")
TOLAK = cmd("#tolak", "tolak draf jawaban, dengan catatan perbaikan")
INFO = cmd("#info", "minta keterangan tambahan kepada pelapor (tuliskan pertanyaannya)")
CATATAN = cmd("#catatan", "catatan untuk riwayat aduan saja")

AT_KASI = [JAWAB, TERUSKAN, KEMBALIKAN, INFO, CATATAN]  # verifikasi-kasi
AT_ADMIN = [JAWAB, TERUSKAN, INFO, CATATAN]  # verifikasi-admin
AWAITING_APPROVAL = [SETUJU, TOLAK, CATATAN]
AT_SEND = [SETUJU, KEMBALIKAN, CATATAN]  # jawab-pemohon with an approved draft


def ladder_contexts() -> dict[str, dict]:
    common = dict(office=office(), now=T, complaint=complaint(), reply_address=REPLY)
    return {
        "staff/handover": dict(
            common,
            role=NS(name="Kepala Seksi Identitas Penduduk"),
            step=STEP_KASI,
            from_step=NS(name="Verifikasi aduan oleh Admin Email"),
            from_role=NS(name="Admin Email"),
            word="teruskan",
            rejected_draft=False,
            note="Mohon diverifikasi, data SIAK tidak cocok.\nTanggal perekaman di SIAK: 12 Agustus 2026.",
            commands=AT_KASI,
        ),
        "staff/approval-request": dict(
            common,
            role=NS(name="Kepala Seksi Identitas Penduduk"),
            drafter=NS(name="Admin Email"),
            draft=DRAFT,
            commands=AWAITING_APPROVAL,
        ),
        "staff/send-confirmation": dict(
            common,
            role=NS(name="Admin Email"),
            approver=NS(name="Kepala Bidang"),
            draft=DRAFT,
            commands=AT_SEND,
        ),
        "staff/refused": dict(
            common,
            complaint=NS(number=NUMBER),
            reason="#setuju tidak berlaku pada tahap 'Verifikasi aduan oleh Admin Email'; "
                   "yang dapat dipakai: #jawab, #teruskan, #info, #catatan",
            commands=AT_ADMIN,
            example="#teruskan Mohon diverifikasi data SIAK",
            original_subject="Re: [ADU/2026/000123] Aduan baru: KTP-el — Siti Aminah",
        ),
        "staff/unauthorized-attempt": dict(
            common,
            role=NS(name="Admin Email"),
            sender="kasi-identitas@dukcapil.test",
            reason="balasan tidak dikirim ke alamat balasan khusus aduan ini "
                   "(kemungkinan alamat pengirim dipalsukan)",
            attempted_subject="Re: [ADU/2026/000123] Aduan Anda telah kami terima",
        ),
        "staff/deputy-notice": dict(
            common,
            role=NS(name="Admin Email"),
            member="admin@dukcapil.test",
            auto_text="Terima kasih atas surel Anda. Saya sedang cuti sampai 1 Desember 2026; "
                      "untuk keperluan mendesak silakan hubungi Kasi PIAK.",
            commands=AT_ADMIN,
        ),
        "citizen/answer": dict(
            common,
            answer=DRAFT,
            answered_by=NS(name="Kepala Seksi Identitas Penduduk"),
            reopen_days=7,
            original_subject="Pengaduan KTP-el belum dicetak",
        ),
        "citizen/info-request": dict(
            common,
            question="Mohon kirimkan foto bukti perekaman KTP-el\ndan sebutkan tanggal perekamannya.",
            asked_by=NS(name="Admin Email"),
            original_subject="Pengaduan KTP-el belum dicetak",
        ),
    }


@pytest.fixture
def renderer() -> Renderer:
    return Renderer([SHIPPED])


def render(renderer: Renderer, name: str, **over):
    ctx = ladder_contexts()[name]
    ctx.update(over)
    return renderer.render(name, **ctx)


def command_line(body: str, word: str) -> str | None:
    """The help line that starts with ``word`` (as in staff/forward's list)."""
    return next((x for x in lines(body) if x.strip().startswith(word + " ") or x.strip() == word), None)


# ---------------------------------------------------------------- every ladder template
def test_the_contexts_cover_exactly_the_ladder_templates(renderer):
    assert sorted(ladder_contexts()) == LADDER_TEMPLATES
    assert set(LADDER_TEMPLATES) <= set(renderer.names())


@pytest.mark.parametrize("name", LADDER_TEMPLATES)
def test_every_ladder_template_renders_with_one_line_subject_and_tidy_body(renderer, name):
    out = render(renderer, name)
    assert out.subject.startswith(f"[{NUMBER}] ")
    assert "\n" not in out.subject and "\r" not in out.subject
    assert out.subject == out.subject.strip() and "  " not in out.subject
    assert out.body.endswith("\n") and not out.body.endswith("\n\n")
    assert out.body[0].strip(), "the body starts with a blank line"
    assert "\n\n\n" not in out.body, "no double blank lines"
    assert all(line == line.rstrip() or line == "-- " for line in lines(out.body)), "trailing spaces"
    assert NUMBER in out.body
    assert FOOTER in out.body
    assert "None" not in out.body


# The variables each template is documented to take (templates/README.md), besides `now`.
REQUIRED = {
    "staff/handover": ["office", "complaint", "role", "step", "from_step", "from_role", "word", "note",
                       "reply_address", "commands"],
    "staff/approval-request": ["office", "complaint", "role", "drafter", "draft", "reply_address", "commands"],
    "staff/send-confirmation": ["office", "complaint", "role", "approver", "draft", "reply_address", "commands"],
    "staff/refused": ["office", "complaint", "reason", "commands", "example", "original_subject", "reply_address"],
    "staff/unauthorized-attempt": ["office", "complaint", "role", "sender", "reason", "attempted_subject"],
    "staff/deputy-notice": ["office", "complaint", "role", "member", "auto_text", "reply_address", "commands"],
    "citizen/answer": ["office", "complaint", "answer", "answered_by", "reopen_days", "original_subject"],
    "citizen/info-request": ["office", "complaint", "question", "asked_by", "original_subject"],
}


@pytest.mark.parametrize(("name", "var"), [(n, v) for n in LADDER_TEMPLATES for v in REQUIRED[n]])
def test_a_missing_variable_is_an_error_naming_it(renderer, name, var):
    ctx = ladder_contexts()[name]
    del ctx[var]
    with pytest.raises(TemplateError, match=rf"{name}.*'{var}'"):
        renderer.render(name, **ctx)


def test_a_missing_attribute_is_an_error_naming_it(renderer):
    with pytest.raises(TemplateError, match=r"staff/handover.*'standard_minutes'"):
        render(renderer, "staff/handover", step=NS(name="Verifikasi aduan oleh Kepala Seksi"))
    c = complaint()
    del c.nik
    with pytest.raises(TemplateError, match=r"citizen/answer.*'nik'"):
        render(renderer, "citizen/answer", complaint=c)


@pytest.mark.parametrize("name", ["citizen/answer", "citizen/info-request"])
def test_citizen_mail_never_shows_a_full_nik_even_when_staff_wrote_one(renderer, name):
    text = f"NIK Ibu {NIK} dan No. KK {KK} sudah kami periksa di SIAK."
    over = {"answer": text} if name == "citizen/answer" else {"question": text}
    out = render(renderer, name, complaint=complaint(description=f"NIK saya {NIK}"),
                 original_subject=f"Aduan NIK {NIK}", **over)
    assert NIK not in out.body and KK not in out.body and NIK not in out.subject
    assert f"NIK            : {NIK_MASKED}" in lines(out.body)
    assert f"NIK Ibu {NIK_MASKED} dan No. KK 340201******0004 sudah kami periksa di SIAK." in out.body
    assert f"Aduan NIK {NIK_MASKED}" in out.body


# ---------------------------------------------------------------- staff/handover
@pytest.mark.parametrize(
    ("word", "subject"),
    [
        ("teruskan", f"[{NUMBER}] Diteruskan kepada Anda: Verifikasi aduan oleh Kepala Seksi"),
        ("kembalikan", f"[{NUMBER}] Dikembalikan kepada Anda: Verifikasi aduan oleh Kepala Seksi"),
        ("tolak", f"[{NUMBER}] Tidak disetujui, kembali kepada Anda: Verifikasi aduan oleh Kepala Seksi"),
        ("setuju", f"[{NUMBER}] Disetujui, lanjut: Verifikasi aduan oleh Kepala Seksi"),
    ],
)
def test_handover_subject_by_word(renderer, word, subject):
    out = render(renderer, "staff/handover", word=word)
    assert out.subject == subject


def test_handover_of_a_rejected_draft_says_so_and_a_decision_of_no_does_not():
    r = Renderer([SHIPPED])
    draft = render(r, "staff/handover", word="tolak", rejected_draft=True)
    assert draft.subject == f"[{NUMBER}] Draf jawaban ditolak: mohon diperbaiki"
    # Bima: the Kepala Dinas says "no" at the decision step; there is no draft, and #jawab is not allowed
    no = render(r, "staff/handover", word="tolak", from_role=NS(name="Kepala Dinas"),
                from_step=NS(name="Keputusan Kepala Dinas (ya / tidak)"),
                commands=[NS(word="#teruskan", meaning="teruskan"), NS(word="#catatan", meaning="catatan")]).body
    assert "Draf" not in no and "#jawab" not in no
    assert "Kepala Dinas TIDAK MENYETUJUI" in no and "Keputusan Kepala Dinas (ya / tidak)" in no


def test_handover_forwarded_shows_sender_note_step_data_and_commands(renderer):
    out = render(renderer, "staff/handover")
    body = out.body
    assert body.startswith("Yth. Kepala Seksi Identitas Penduduk,")
    assert f"Aduan {NUMBER} diteruskan kepada Anda oleh Admin Email" in body
    got = lines(body)
    # the note, quoted as a block, after who wrote it
    assert "Catatan dari Admin Email:" in got
    assert "> Mohon diverifikasi, data SIAK tidak cocok." in got
    assert "> Tanggal perekaman di SIAK: 12 Agustus 2026." in got
    assert got.index("> Mohon diverifikasi, data SIAK tidak cocok.") + 1 == got.index(
        "> Tanggal perekaman di SIAK: 12 Agustus 2026.")
    assert "Tahap          : Verifikasi aduan oleh Kepala Seksi" in got
    assert "Standar waktu  : 30 menit (jam kerja)" in got
    assert "Dari           : Admin Email" in got
    # staff see the full data, as in staff/forward
    assert f"NIK            : {NIK}" in got and f"No. KK         : {KK}" in got
    for fact in ("0812-3456-7890", "Jl. Parangtritis Km 5, Sewon, Bantul", "Seksi Identitas Penduduk",
                 "warga1@dukcapil.test", "tetapi sampai sekarang belum dicetak", REPLY):
        assert fact in body, fact
    for c in AT_KASI:
        line = command_line(body, c.word)
        assert line is not None and line.rstrip().endswith(c.meaning), c.word
    assert command_line(body, "#setuju") is None and command_line(body, "#tolak") is None


def test_handover_rejected_draft_asks_for_a_corrected_answer(renderer):
    out = render(renderer, "staff/handover", word="tolak", rejected_draft=True, role=NS(name="Admin Email"), step=STEP_ADMIN,
                 from_role=NS(name="Kepala Seksi Identitas Penduduk"),
                 note="Jawaban kurang jelas, sebutkan jadwalnya.", commands=AT_ADMIN)
    body = out.body
    flat = " ".join(body.split())  # the opening paragraph is wrapped at 72 columns
    assert body.startswith("Yth. Admin Email,")
    assert "ditolak oleh Kepala Seksi Identitas Penduduk" in flat
    assert "TIDAK dikirim kepada pelapor" in flat
    assert "#jawab" in body
    assert "> Jawaban kurang jelas, sebutkan jadwalnya." in lines(body)
    assert "Tahap          : Verifikasi aduan oleh Admin Email" in lines(body)


def test_handover_returned_and_approved_say_so(renderer):
    back = render(renderer, "staff/handover", word="kembalikan", note="Ini cukup dijawab Admin: cek jadwal cetak.").body
    assert f"Aduan {NUMBER} dikembalikan kepada Anda oleh Admin Email" in back
    assert "> Ini cukup dijawab Admin: cek jadwal cetak." in lines(back)
    onward = render(renderer, "staff/handover", word="setuju", from_role=NS(name="Kepala Dinas"),
                    step=NS(name="Penyusunan draf inovasi", standard_minutes=0)).body
    assert "Kepala Dinas menyetujui aduan" in onward


def test_handover_without_note_day_standard_kk_or_commands(renderer):
    out = render(renderer, "staff/handover", note="  \n", step=NS(name="Telaah oleh Kepala Bidang", standard_minutes=0),
                 complaint=complaint(kk=""), commands=[])
    body = out.body
    assert out.subject == f"[{NUMBER}] Diteruskan kepada Anda: Telaah oleh Kepala Bidang"
    assert "Admin Email tidak menyertakan catatan." in body
    assert "Catatan dari" not in body and "\n>" not in body
    assert "Standar waktu" not in body
    assert "No. KK         : -" in lines(body)
    assert "#jawab" not in body and "Awali teks balasan" not in body
    assert REPLY in body


def test_handover_with_an_unexpected_word_still_has_a_subject(renderer):
    out = render(renderer, "staff/handover", word="jawab")
    assert out.subject == f"[{NUMBER}] Dialihkan kepada Anda: Verifikasi aduan oleh Kepala Seksi"


# ---------------------------------------------------------------- staff/approval-request
def test_approval_request_shows_the_draft_delimited_and_the_three_choices(renderer):
    out = render(renderer, "staff/approval-request")
    assert out.subject == f"[{NUMBER}] Mohon persetujuan jawaban"
    body = out.body
    assert body.startswith("Yth. Kepala Seksi Identitas Penduduk,")
    assert "Admin Email telah menyusun draf jawaban" in body
    assert "jawaban baru dikirim kepada pelapor setelah anda setujui" in " ".join(body.lower().split())
    got = lines(body)
    start = got.index("========== AWAL DRAF JAWABAN ==========")
    end = got.index("========== AKHIR DRAF JAWABAN ==========")
    assert "\n".join(got[start + 1:end]) == DRAFT, "the draft verbatim, between the markers"
    assert "  #setuju" in got
    assert "  #tolak <catatan perbaikan>" in got
    assert "  #jawab <teks jawaban yang sudah diperbaiki>" in got
    assert "Draf dikembalikan kepada Admin Email untuk diperbaiki," in body
    assert "Contoh balasan:" in got and "  #tolak Mohon sebutkan jadwal dan tempat pengambilan KTP-el." in got
    # #catatan is listed from `commands`; #setuju/#tolak are not listed twice
    assert command_line(body, "#catatan").rstrip().endswith(CATATAN.meaning)
    assert sum(1 for x in got if x.strip().startswith("#setuju")) == 1
    assert f"NIK            : {NIK}" in got
    assert REPLY in body


def test_approval_request_without_other_commands(renderer):
    body = render(renderer, "staff/approval-request", commands=[SETUJU, TOLAK]).body
    assert "Perintah lain" not in body and "#catatan" not in body
    assert "  #setuju" in lines(body)


# ---------------------------------------------------------------- staff/send-confirmation
def test_send_confirmation(renderer):
    out = render(renderer, "staff/send-confirmation")
    assert out.subject == f"[{NUMBER}] Jawaban siap dikirim kepada pelapor"
    body = out.body
    assert body.startswith("Yth. Admin Email,")
    assert "Jawaban atas aduan ADU/2026/000123 telah disetujui oleh Kepala Bidang" in body
    assert "Disetujui oleh : Kepala Bidang" in lines(body)
    got = lines(body)
    start, end = got.index("========== AWAL JAWABAN =========="), got.index("========== AKHIR JAWABAN ==========")
    assert "\n".join(got[start + 1:end]) == DRAFT
    assert "  #setuju" in got and "  #kembalikan <catatan>" in got
    assert "dikirim kepada pelapor sebagaimana tertulis" in body
    assert "Jawaban TIDAK dikirim; aduan dikembalikan" in body
    assert command_line(body, "#catatan").rstrip().endswith(CATATAN.meaning)
    assert "Siti Aminah <warga1@dukcapil.test>" in body
    assert REPLY in body


def test_send_confirmation_explains_only_allowed_commands(renderer):
    body = render(renderer, "staff/send-confirmation", commands=[SETUJU, CATATAN]).body
    assert "#kembalikan" not in body
    assert "  #setuju" in lines(body)


# ---------------------------------------------------------------- staff/refused
def test_refused_says_why_and_what_to_write(renderer):
    out = render(renderer, "staff/refused")
    assert out.subject == f"[{NUMBER}] Balasan Anda belum dapat diproses"
    body = out.body
    assert "Tidak ada perubahan pada aduan ini." in body
    reason = ladder_contexts()["staff/refused"]["reason"]
    assert f"Alasan        : {reason}" in lines(body)
    assert "Judul balasan : Re: [ADU/2026/000123] Aduan baru: KTP-el — Siti Aminah" in lines(body)
    for c in AT_ADMIN:
        line = command_line(body, c.word)
        assert line is not None and line.rstrip().endswith(c.meaning), c.word
    assert "Contoh balasan:" in lines(body)
    assert "  #teruskan Mohon diverifikasi data SIAK" in lines(body)
    assert REPLY in body
    assert len(lines(body)) < 40, "a short mail"


def test_refused_example_uses_an_allowed_command(renderer):
    body = render(renderer, "staff/refused", commands=AWAITING_APPROVAL, original_subject="",
                  example="#tolak Mohon sebutkan jadwal dan tempat pengambilan dokumen.",
                  reason="perintah #kirim tidak dikenal").body
    assert "#teruskan" not in body
    assert "  #tolak Mohon sebutkan jadwal dan tempat pengambilan dokumen." in lines(body)
    assert "Judul balasan" not in body
    assert "Alasan        : perintah #kirim tidak dikenal" in lines(body)


def test_refused_without_commands_has_no_list_or_example(renderer):
    body = render(renderer, "staff/refused", commands=[], example="").body
    assert "Contoh balasan" not in body and "Perintah yang dapat dipakai" not in body


# ---------------------------------------------------------------- staff/unauthorized-attempt
def test_unauthorized_attempt_is_calm_and_says_nothing_changed(renderer):
    out = render(renderer, "staff/unauthorized-attempt")
    assert out.subject == f"[{NUMBER}] Percobaan tindakan tidak sah dicatat"
    body = out.body
    assert body.startswith("Yth. Admin Email,")
    got = lines(body)
    assert "Pengirim       : kasi-identitas@dukcapil.test" in got
    assert "Judul surel    : Re: [ADU/2026/000123] Aduan Anda telah kami terima" in got
    assert "Alasan         : balasan tidak dikirim ke alamat balasan khusus aduan ini " \
           "(kemungkinan alamat pengirim dipalsukan)" in got
    flat = " ".join(body.split())
    assert "tidak ada perubahan pada aduan" in flat
    assert "telah dicatat dalam riwayat aduan" in flat
    assert "dari kotak surel dinas Anda sendiri" in flat
    assert "DKIM/SPF/DMARC" in flat


def test_unauthorized_attempt_flattens_a_hostile_subject(renderer):
    out = render(renderer, "staff/unauthorized-attempt", attempted_subject="#setuju\r\nBcc: x@y.test\n" + "z" * 300,
                 sender="")
    got = lines(out.body)
    subject_line = next(x for x in got if x.startswith("Judul surel"))
    assert subject_line.startswith("Judul surel    : #setuju Bcc: x@y.test z") and subject_line.endswith("…")
    assert len(subject_line) < 130
    assert "Pengirim       : (tidak diketahui)" in got
    untitled = render(renderer, "staff/unauthorized-attempt", attempted_subject="").body
    assert "Judul surel    : (tanpa judul)" in lines(untitled)


# ---------------------------------------------------------------- staff/deputy-notice
def test_deputy_notice(renderer):
    out = render(renderer, "staff/deputy-notice")
    assert out.subject == f"[{NUMBER}] Pemegang aduan sedang tidak di tempat"
    body = out.body
    flat = " ".join(body.split())
    assert "admin@dukcapil.test" in body
    assert "TIDAK diteruskan kepada pelapor" in flat
    assert "Aduan tetap berada pada Admin Email" in flat
    assert "Pemegang aduan : Admin Email" in lines(body)
    quoted = [x[2:] for x in lines(body) if x.startswith("> ")]
    assert " ".join(quoted) == ladder_contexts()["staff/deputy-notice"]["auto_text"]
    assert all(len(x) <= 74 for x in lines(body) if x.startswith(">")), "the excerpt is wrapped"
    for c in AT_ADMIN:
        line = command_line(body, c.word)
        assert line is not None and line.rstrip().endswith(c.meaning), c.word
    assert REPLY in body
    assert NIK not in body and KK not in body, "a deputy need not see the NIK"


def test_deputy_notice_without_text_or_commands(renderer):
    body = render(renderer, "staff/deputy-notice", auto_text="", commands=[]).body
    assert "Isi balasan otomatis" not in body and "\n>" not in body
    assert "#jawab" not in body and "Bila Anda menindaklanjuti" not in body


# ---------------------------------------------------------------- citizen/answer
def test_answer_is_verbatim_closes_and_offers_reopening(renderer):
    out = render(renderer, "citizen/answer")
    assert out.subject == f"[{NUMBER}] Jawaban atas aduan Anda"
    body = out.body
    assert body.startswith("Yth. Bapak/Ibu Siti Aminah,")
    assert DRAFT in body, "the answer verbatim"
    assert f"    {NUMBER}" in lines(body)
    assert f"NIK            : {NIK_MASKED}" in lines(body) and NIK not in body
    assert "Judul surel    : Pengaduan KTP-el belum dicetak" in lines(body)
    assert "Jawaban ini disampaikan oleh Kepala Seksi Identitas Penduduk." in body
    flat = " ".join(body.split())
    assert "aduan Anda kami nyatakan selesai dan ditutup" in flat
    assert "silakan balas surel ini dalam waktu 7 hari" in flat
    assert "akan kami buka kembali" in flat
    assert "Hormat kami," in lines(body)


def test_answer_without_reopen_window_or_known_role(renderer):
    body = render(renderer, "citizen/answer", reopen_days=0, answered_by=NS(name="-"), original_subject="").body
    flat = " ".join(body.split())
    assert "ditutup" in flat
    assert "hari sejak" not in flat and "buka kembali" not in flat
    assert "disampaikan oleh" not in flat
    assert "Judul surel" not in body


# ---------------------------------------------------------------- citizen/info-request
def test_info_request(renderer):
    out = render(renderer, "citizen/info-request")
    assert out.subject == f"[{NUMBER}] Mohon keterangan tambahan untuk aduan Anda"
    body = out.body
    assert body.startswith("Yth. Bapak/Ibu Siti Aminah,")
    assert "Mohon kirimkan foto bukti perekaman KTP-el\ndan sebutkan tanggal perekamannya." in body
    flat = " ".join(body.split())
    assert "petugas kami memerlukan keterangan tambahan dari Anda." in flat
    assert "Permintaan ini disampaikan oleh Admin Email." in lines(body)
    assert "Mohon balas surel ini" in flat
    assert "Aduan Anda menunggu balasan dari Anda" in flat
    assert f"NIK            : {NIK_MASKED}" in lines(body) and NIK not in body


def test_info_request_without_asker_name(renderer):
    flat = " ".join(render(renderer, "citizen/info-request", asked_by=NS(name="")).body.split())
    assert "petugas kami memerlukan keterangan tambahan" in flat and "disampaikan oleh" not in flat


# ---------------------------------------------------------------- staff/citizen-follow-up, reopened
def test_citizen_follow_up_reopened(renderer):
    ctx = contexts()["staff/citizen-follow-up"]
    ctx.update(reopened=True, answered=True,
               follow_up_text="Saya sudah ke kantor tetapi belum ada. Mohon dicek lagi.")
    out = renderer.render("staff/citizen-follow-up", **ctx)
    assert out.subject == f"[{NUMBER}] Aduan dibuka kembali oleh pelapor"
    flat = " ".join(out.body.split())
    assert "membalas setelah menerima jawaban" in flat
    # closed without an answer (a rules file's @close): it says so, no answer is claimed
    ctx.update(answered=False)
    unanswered = " ".join(renderer.render("staff/citizen-follow-up", **ctx).body.split())
    assert "jawaban atas" not in unanswered and "dinyatakan selesai (tanpa jawaban melalui surel)" in unanswered
    assert "dibuka kembali dan kini kembali berada pada Anda (Kepala Seksi Identitas Penduduk)" in flat
    assert "Saya sudah ke kantor tetapi belum ada. Mohon dicek lagi." in out.body
    assert "Tambahan dari pelapor" not in out.body and "Isi surel tambahan" not in out.body


def test_citizen_follow_up_needs_reopened(renderer):
    ctx = contexts()["staff/citizen-follow-up"]
    assert renderer.render("staff/citizen-follow-up", **ctx).subject == f"[{NUMBER}] Tambahan dari pelapor"
    del ctx["reopened"]
    with pytest.raises(TemplateError, match=r"staff/citizen-follow-up.*'reopened'"):
        renderer.render("staff/citizen-follow-up", **ctx)
