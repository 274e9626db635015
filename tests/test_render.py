"""The mail templates and the pure renderer (mailflow.core.render)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from mailflow.core.render import (
    PageRenderer,
    Rendered,
    Renderer,
    TemplateError,
    duration,
    localtime,
    masked,
    number,
    percent,
)

SHIPPED = Path(__file__).resolve().parents[1] / "templates"
MAIL_TEMPLATES = [
    "admin/flood-alert",
    "admin/login-failed",
    "admin/quarantine-alert",
    "admin/sender-unclear",
    "citizen/acknowledgement",
    "citizen/format-rejected",
    "staff/citizen-follow-up",
    "staff/forward",
    "staff/notice-digest",
    "staff/unverified-note",
]
# The ladder's mails (staff commands, answers): contexts and tests in test_render_ladder.py.
LADDER_TEMPLATES = [
    "citizen/answer",
    "citizen/info-request",
    "staff/approval-request",
    "staff/deputy-notice",
    "staff/handover",
    "staff/refused",
    "staff/send-confirmation",
    "staff/unauthorized-attempt",
]
# Rendered from a real delivery-status report in test_reliability.py.
BOUNCE_TEMPLATES = ["staff/bounce-notice"]
# The deadline mails (reminders, breaches, summaries): contexts and tests in test_deadlines.py.
DEADLINE_TEMPLATES = [
    "staff/breach-notice",
    "staff/deadline-summary",
    "staff/reminder",
]
# The monthly report's mail: context and tests in test_report.py. (The report's
# HTML page, report/monthly.html.j2, is a page, not a mail: PageRenderer.)
REPORT_TEMPLATES = [
    "staff/monthly-report",
]
# Status by mail, #bantuan and #riwayat: rendered through the desk in
# test_staff_mail.py (every shipped rules file) and test_asking_e2e.py.
ASKING_TEMPLATES = [
    "citizen/status",
    "citizen/status-unknown",
    "staff/help",
    "staff/history",
]
# The satisfaction survey's mails: contexts and tests in test_survey_e2e.py.
SURVEY_TEMPLATES = ["citizen/survey", "citizen/survey-thanks"]
# Merging and closing after silence: contexts and tests in test_merge_silence.py.
MERGE_TEMPLATES = ["citizen/closed-no-reply", "citizen/info-reminder", "citizen/merged"]

NIK = "3402014501900001"
NIK_MASKED = "340201******0001"
KK = "3402011203150004"
# 2026-11-23 is a Monday; 07:05 UTC is 14.05 WIB.
T = datetime(2026, 11, 23, 7, 5, tzinfo=UTC)
FOOTER = "Surel ini dikirim otomatis oleh mailflow; balas surel ini untuk"

BLANK_FORM = "Nama: \nNIK: \nNo. KK: \nAlamat: \nNo. HP/WA: \nJenis Layanan: \nUraian: "
EXAMPLE_FORM = (
    "Nama: Budi Santoso\nNIK: 3402011201850003\nNo. KK: 3402012505100007\n"
    "Alamat: Jl. Wonosari Km 3, Banguntapan, Bantul\nNo. HP/WA: 0812-0000-1111\n"
    "Jenis Layanan: Kartu Keluarga\nUraian: KK belum diperbarui setelah pindah rumah."
)


def office(**over):
    values = dict(
        name="Dinas Kependudukan dan Pencatatan Sipil Kabupaten Bantul",
        complaint_address="aduan@dukcapil.test",
        timezone="Asia/Jakarta",
        website="https://disdukcapil.bantulkab.go.id",
    )
    values.update(over)
    return NS(**values)


def complaint(**over):
    values = dict(
        number="ADU/2026/000123",
        name="Siti Aminah",
        email="warga1@dukcapil.test",
        nik=NIK,
        kk=KK,
        phone="0812-3456-7890",
        address="Jl. Parangtritis Km 5, Sewon, Bantul",
        category_name="KTP-el",
        section="Seksi Identitas Penduduk",
        description="KTP-el saya sudah direkam bulan Agustus 2026 di kecamatan Sewon,\n"
        "tetapi sampai sekarang belum dicetak. Mohon informasinya.",
        created_at=T,
    )
    values.update(over)
    return NS(**values)


COMMANDS = [
    NS(word="#jawab", meaning="teks balasan Anda menjadi jawaban untuk pelapor"),
    NS(word="#teruskan", meaning="teruskan ke jenjang berikutnya, dengan catatan"),
    NS(word="#info", meaning="minta keterangan tambahan kepada pelapor"),
]
ERRORS = [
    NS(label="NIK", problem="NIK harus 16 digit angka; yang tertulis 11 digit"),
    NS(label="Alamat", problem="belum diisi"),
    NS(label="Uraian", problem="belum diisi; tuliskan permasalahan yang Anda alami"),
]


def contexts() -> dict[str, dict]:
    """A realistic context per template, as the intake code passes it."""
    common = dict(office=office(), now=T)
    return {
        "admin/flood-alert": dict(common, limit=60, count=75),
        "admin/login-failed": dict(common, server="SMTP", host="smtp.dukcapil.test", username="aduan",
                                   error="SMTP login as 'aduan' was refused (535 5.7.8 bad credentials)"),
        "admin/sender-unclear": dict(common, problem="the display name holds an address",
                                     mail=NS(from_header="admin@dukcapil.test <x@elsewhere.test>",
                                             subject="#teruskan", message_id="x@elsewhere.test")),
        "staff/notice-digest": dict(common, items=[
            NS(kind="staff/unauthorized-attempt", subject=f"[ADU/2026/000123] Percobaan tindakan tidak sah {i}", at=T)
            for i in range(12)]),
        "staff/unverified-note": dict(common, complaint=complaint(), role=NS(name="Admin Email"),
                                      sender="warga1@dukcapil.test", how="nomor register pada judul surel",
                                      note_text="Tolong buka lagi aduan saya.",
                                      reply_address="aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test"),
        "citizen/acknowledgement": dict(
            common,
            complaint=complaint(),
            first_step=NS(name="Verifikasi aduan oleh Admin Email", role_name="Admin Email", standard_minutes=30),
            total_standard_minutes=160,
            total_standard="160 menit",
            next_roles=["Kepala Seksi Identitas Penduduk", "Kepala Bidang", "Admin Email"],
            answers_by_mail=True,
            original_subject="Pengaduan KTP-el belum dicetak",
        ),
        "citizen/format-rejected": dict(
            common,
            errors=ERRORS,
            found=[NS(label="Nama", value="Budi Santoso"), NS(label="NIK", value="***********")],
            blank_form=BLANK_FORM,
            example_form=EXAMPLE_FORM,
            original_subject="mau tanya KK",
        ),
        "staff/forward": dict(
            common,
            complaint=complaint(),
            role=NS(name="Admin Email"),
            step=NS(name="Verifikasi aduan oleh Admin Email", standard_minutes=30),
            due_at=datetime(2026, 11, 23, 7, 35, tzinfo=UTC),
            reply_address="aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test",
            commands=COMMANDS,
            warnings=[],
        ),
        "staff/citizen-follow-up": dict(
            common,
            complaint=complaint(),
            role=NS(name="Kepala Seksi Identitas Penduduk"),
            follow_up_text="Berikut saya lampirkan foto KK dan bukti perekaman.\n",
            reopened=False,
            reply_address="aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test",
        ),
        "admin/quarantine-alert": dict(
            common,
            reason="MessageParseError: cannot decode MIME structure",
            mail=NS(from_addr="warga9@contoh.test", subject="Aduan KIA anak saya", message_id="<abc@contoh.test>",
                    size=1234567, id=17, header_only=False),
            mailbox="INBOX",
            uid=42,
            quarantine_folder="mailflow/quarantine",
        ),
    }


@pytest.fixture
def renderer() -> Renderer:
    return Renderer([SHIPPED])


def lines(text: str) -> list[str]:
    return text.splitlines()


# ---------------------------------------------------------------- every template
def test_names_lists_every_mail_template_but_not_the_macros(renderer):
    assert renderer.names() == sorted(MAIL_TEMPLATES + LADDER_TEMPLATES + DEADLINE_TEMPLATES + REPORT_TEMPLATES
                                      + BOUNCE_TEMPLATES + ASKING_TEMPLATES + SURVEY_TEMPLATES + MERGE_TEMPLATES)


@pytest.mark.parametrize("name", MAIL_TEMPLATES)
def test_every_template_renders_with_one_line_subject_and_tidy_body(renderer, name):
    out = renderer.render(name, **contexts()[name])
    assert isinstance(out, Rendered)
    assert out.subject and "\n" not in out.subject and "\r" not in out.subject
    assert out.subject == out.subject.strip() and "  " not in out.subject
    assert not out.subject.lower().startswith("re:")
    assert out.body.endswith("\n") and not out.body.endswith("\n\n")
    assert out.body[0].strip(), "the body starts with a blank line"
    assert "{{" not in out.body and "{%" not in out.body
    assert "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Bantul" in out.body


def test_what_a_sender_wrote_reaches_no_reader_with_control_or_bidi_characters(renderer):
    ctx = contexts()["staff/unverified-note"]
    ctx["note_text"] = "Tolong \x1b[2Jbuka\x07 lagi \u202efdp.exe\u202c aduan saya."
    ctx["sender"] = "warga1@dukcapil.test\u200f"
    out = renderer.render("staff/unverified-note", **ctx)
    assert "Tolong [2Jbuka lagi fdp.exe aduan saya." in out.body
    assert not any(c in out.body + out.subject for c in "\x1b\x07\u202e\u202c\u200f")


@pytest.mark.parametrize("name", ["citizen/acknowledgement", "citizen/format-rejected"])
def test_citizen_mail_never_shows_a_full_nik(renderer, name):
    ctx = contexts()[name]
    if "complaint" in ctx:
        ctx["complaint"] = complaint(description=f"NIK saya {NIK}, KK {KK}; KTP-el belum jadi.")
    out = renderer.render(name, **ctx)
    assert NIK not in out.body and NIK not in out.subject
    assert KK not in out.body
    assert FOOTER in out.body


# ---------------------------------------------------------------- citizen
def test_acknowledgement_facts(renderer):
    out = renderer.render("citizen/acknowledgement", **contexts()["citizen/acknowledgement"])
    assert out.subject == "[ADU/2026/000123] Aduan Anda telah kami terima"
    body = out.body
    assert "    ADU/2026/000123" in lines(body), "the register number stands on a line of its own"
    assert body.count("ADU/2026/000123") >= 3
    assert f"NIK            : {NIK_MASKED}" in lines(body)
    assert NIK not in body
    assert "Siti Aminah" in body and "warga1@dukcapil.test" in body and "KTP-el" in body
    assert "Senin, 23 November 2026 14.05 WIB" in body
    assert "tetapi sampai sekarang belum dicetak" in body
    assert "Verifikasi aduan oleh Admin Email" in body and "Admin Email" in body
    assert "30 menit" in body
    assert "2 jam 40 menit (160 menit)" in body
    assert "balas surel ini" in body.lower()
    assert "Pengaduan KTP-el belum dicetak" in body
    assert "https://disdukcapil.bantulkab.go.id" in body


def test_acknowledgement_leaves_out_missing_optional_parts(renderer):
    ctx = contexts()["citizen/acknowledgement"]
    ctx.update(office=office(website=""), total_standard_minutes=0, total_standard="", original_subject="",
               first_step=NS(name="Verifikasi aduan oleh Admin Email", role_name="", standard_minutes=0))
    body = renderer.render("citizen/acknowledgement", **ctx).body
    assert "Situs web" not in body
    assert "standar waktu" not in body.lower()
    assert "Judul surel" not in body
    assert "ditangani oleh" not in body


def test_format_rejected_lists_each_problem_and_the_forms(renderer):
    out = renderer.render("citizen/format-rejected", **contexts()["citizen/format-rejected"])
    assert out.subject == "Aduan belum dapat didaftarkan: format belum lengkap"
    body = out.body
    got = lines(body)
    for e in ERRORS:
        assert f"- {e.label}: {e.problem}" in got
    bullets = [line for line in got if line.startswith("- ")]
    # exactly the problems and the fields found, nothing else
    assert bullets == [f"- {e.label}: {e.problem}" for e in ERRORS] + ["- Nama: Budi Santoso", "- NIK: ***********"]
    assert "BELUM DAPAT KAMI DAFTARKAN" in body
    assert "Tidak ada yang hilang" in body
    for form_line in BLANK_FORM.strip().splitlines():
        assert form_line.strip() in [g.strip() for g in got]
    assert BLANK_FORM.rstrip() in body, "the blank form is reproduced verbatim, ready to copy"
    assert EXAMPLE_FORM in body
    assert body.index(BLANK_FORM.rstrip()) < body.index(EXAMPLE_FORM)
    assert "balas surel ini dengan data yang sudah dilengkapi" in body
    assert '"mau tanya KK"' in body


def test_format_rejected_without_found_fields_or_subject(renderer):
    ctx = contexts()["citizen/format-rejected"]
    ctx.update(found=[], original_subject="")
    body = renderer.render("citizen/format-rejected", **ctx).body
    assert "Data yang sudah kami baca" not in body
    assert '""' not in body
    assert "- NIK: NIK harus 16 digit angka" in body


# ---------------------------------------------------------------- staff
def test_forward_shows_everything_staff_need(renderer):
    out = renderer.render("staff/forward", **contexts()["staff/forward"])
    assert out.subject == "[ADU/2026/000123] Aduan baru: KTP-el — Siti Aminah"
    body = out.body
    assert f"NIK            : {NIK}" in lines(body), "staff see the full NIK to check it against SIAK"
    assert f"No. KK         : {KK}" in lines(body)
    for fact in ("0812-3456-7890", "Jl. Parangtritis Km 5, Sewon, Bantul", "Seksi Identitas Penduduk",
                 "warga1@dukcapil.test", "Verifikasi aduan oleh Admin Email", "30 menit",
                 "Senin, 23 November 2026 14.35 WIB", "tetapi sampai sekarang belum dicetak",
                 "aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test"):
        assert fact in body, fact
    assert body.startswith("Yth. Admin Email,")
    for c in COMMANDS:
        line = next((x for x in lines(body) if x.strip().startswith(c.word + " ")), None)
        assert line is not None and line.rstrip().endswith(c.meaning), c.word
    assert FOOTER in body


def test_forward_without_deadline_kk_or_commands(renderer):
    ctx = contexts()["staff/forward"]
    ctx.update(due_at=None, complaint=complaint(kk=""), commands=[])
    body = renderer.render("staff/forward", **ctx).body
    assert "Batas waktu" not in body
    assert "No. KK         : -" in lines(body)
    assert "#jawab" not in body


def test_citizen_follow_up(renderer):
    out = renderer.render("staff/citizen-follow-up", **contexts()["staff/citizen-follow-up"])
    assert out.subject == "[ADU/2026/000123] Tambahan dari pelapor"
    assert out.body.startswith("Yth. Kepala Seksi Identitas Penduduk,")
    assert "Berikut saya lampirkan foto KK dan bukti perekaman." in out.body
    assert "aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test" in out.body
    assert "Siti Aminah <warga1@dukcapil.test>" in out.body

    ctx = contexts()["staff/citizen-follow-up"]
    ctx["follow_up_text"] = "  \n"
    assert "Surel tanpa teks" in renderer.render("staff/citizen-follow-up", **ctx).body


# ---------------------------------------------------------------- admin
def test_quarantine_alert(renderer):
    out = renderer.render("admin/quarantine-alert", **contexts()["admin/quarantine-alert"])
    assert out.subject == "[mailflow] Surel dikarantina: #17"
    body = out.body
    for fact in ("MessageParseError: cannot decode MIME structure", "mailflow mail show 17",
                 "1.234.567 byte", "INBOX, UID 42", "mailflow/quarantine", "mailflow show", "mailflow mail retry 17"):
        assert fact in body, fact
    # no personal data in an alert (docs/PRIVACY.md): the admin reads them with `mailflow mail show`
    for personal in ("warga9@contoh.test", "Aduan KIA anak saya", "abc@contoh.test"):
        assert personal not in out.subject + body, personal


def test_quarantine_alert_of_a_mail_archived_as_its_header_only(renderer):
    ctx = contexts()["admin/quarantine-alert"]
    ctx["mail"] = NS(from_addr="a@b.test", subject="Besar", message_id=None, size=99_000_000, id=17,
                     header_only=True)
    body = renderer.render("admin/quarantine-alert", **ctx).body
    assert "mailflow mail retry" not in body and "limits.max_message_bytes" in body and '"INBOX"' in body


def test_quarantine_alert_subject_of_a_hostile_mail_is_one_short_line(renderer):
    ctx = contexts()["admin/quarantine-alert"]
    ctx["mail"] = NS(from_addr="", subject="Bcc: korban@contoh.test\r\n" + "x" * 300 + f" {NIK}",
                     message_id=None, size=10, id=17, header_only=False)
    out = renderer.render("admin/quarantine-alert", **ctx)
    assert "\n" not in out.subject and "\r" not in out.subject
    assert out.subject == "[mailflow] Surel dikarantina: #17"
    assert NIK not in out.body and "korban@contoh.test" not in out.body


def test_quarantine_alert_without_subject():
    ctx = contexts()["admin/quarantine-alert"]
    ctx["mail"] = NS(from_addr="a@b.test", subject="", message_id=None, size=0, id=17, header_only=False)
    out = Renderer([SHIPPED]).render("admin/quarantine-alert", **ctx)
    assert out.subject == "[mailflow] Surel dikarantina: #17"


# ---------------------------------------------------------------- strictness
def test_missing_variable_is_an_error_naming_it(renderer):
    ctx = contexts()["citizen/acknowledgement"]
    del ctx["first_step"]
    with pytest.raises(TemplateError) as err:
        renderer.render("citizen/acknowledgement", **ctx)
    message = str(err.value)
    assert "'first_step'" in message
    source = (SHIPPED / "citizen" / "acknowledgement.txt.j2").read_text(encoding="utf-8").splitlines()
    first_use = next(i for i, line in enumerate(source, 1) if "{{ first_step." in line)
    assert f"citizen/acknowledgement.txt.j2 line {first_use}" in message


def test_missing_attribute_is_an_error_naming_it(renderer):
    ctx = contexts()["staff/forward"]
    c = complaint()
    del c.phone
    ctx["complaint"] = c
    with pytest.raises(TemplateError, match=r"staff/forward.*'phone'") as err:
        renderer.render("staff/forward", **ctx)
    source = (SHIPPED / "staff" / "forward.txt.j2").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(source, 1) if "complaint.phone" in text)
    assert f"staff/forward.txt.j2 line {line}" in str(err.value)  # the call site, not only the macro


def test_missing_office_is_an_error_even_inside_a_macro(renderer):
    ctx = contexts()["citizen/format-rejected"]
    del ctx["office"]
    with pytest.raises(TemplateError, match="'office'"):
        renderer.render("citizen/format-rejected", **ctx)


def test_unknown_template(renderer):
    with pytest.raises(TemplateError, match="citizen/nope"):
        renderer.render("citizen/nope", office=office(), now=T)


def test_missing_template_folder_is_reported(tmp_path):
    with pytest.raises(TemplateError, match="does not exist"):
        Renderer([tmp_path / "missing", SHIPPED])


def write(directory: Path, name: str, text: str) -> None:
    path = directory / (name + ".txt.j2")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_syntax_error_names_the_file_and_line(tmp_path):
    write(tmp_path, "citizen/acknowledgement", "{% set subject %}x{% endset %}\nHalo\n{% if %}\n")
    with pytest.raises(TemplateError) as err:
        Renderer([tmp_path, SHIPPED]).render("citizen/acknowledgement", **contexts()["citizen/acknowledgement"])
    assert "citizen/acknowledgement" in str(err.value) and "line 3" in str(err.value)


def test_template_without_subject_is_an_error(tmp_path):
    write(tmp_path, "citizen/acknowledgement", "Halo {{ complaint.name }}\n")
    with pytest.raises(TemplateError, match="subject"):
        Renderer([tmp_path, SHIPPED]).render("citizen/acknowledgement", **contexts()["citizen/acknowledgement"])


def test_empty_subject_is_an_error(tmp_path):
    write(tmp_path, "x/empty", "{% set subject %}  \n {% endset %}\nHalo\n")
    with pytest.raises(TemplateError, match="empty"):
        Renderer([tmp_path]).render("x/empty")


# ---------------------------------------------------------------- overrides
def test_office_override_dir_wins_and_the_rest_still_comes_from_shipped(tmp_path):
    write(tmp_path, "citizen/acknowledgement",
          "{% set subject %}Nomor {{ complaint.number }}{% endset %}\n"
          "Aduan {{ complaint.number }} diterima; NIK {{ complaint.nik | masked }}.\n")
    write(tmp_path, "citizen/extra", "{% set subject = 'Ekstra' %}\nIsi\n")
    r = Renderer([tmp_path, SHIPPED])
    out = r.render("citizen/acknowledgement", **contexts()["citizen/acknowledgement"])
    assert out == Rendered("Nomor ADU/2026/000123", f"Aduan ADU/2026/000123 diterima; NIK {NIK_MASKED}.\n")
    shipped = r.render("staff/forward", **contexts()["staff/forward"])
    assert shipped.subject.startswith("[ADU/2026/000123] Aduan baru:")
    assert r.names() == sorted(MAIL_TEMPLATES + LADDER_TEMPLATES + DEADLINE_TEMPLATES + REPORT_TEMPLATES
                            + BOUNCE_TEMPLATES + ASKING_TEMPLATES + SURVEY_TEMPLATES + MERGE_TEMPLATES
                            + ["citizen/extra"])
    # the order of the folders decides
    assert Renderer([SHIPPED, tmp_path]).render(
        "citizen/acknowledgement", **contexts()["citizen/acknowledgement"]
    ).subject == "[ADU/2026/000123] Aduan Anda telah kami terima"


def test_overriding_only_the_macros_changes_every_signature(tmp_path):
    macros = (SHIPPED / "_macros.txt.j2").read_text(encoding="utf-8")
    assert "Layanan Pengaduan\n" in macros
    (tmp_path / "_macros.txt.j2").write_text(
        macros.replace("Layanan Pengaduan\n", "Tim Pengaduan Dukcapil Bantul\n"), encoding="utf-8"
    )
    r = Renderer([tmp_path, SHIPPED])
    for name in ("citizen/acknowledgement", "citizen/format-rejected"):
        body = r.render(name, **contexts()[name]).body
        assert "Tim Pengaduan Dukcapil Bantul" in body
        assert "\nLayanan Pengaduan\n" not in body


def test_subject_is_folded_and_body_is_trimmed(tmp_path):
    write(tmp_path, "x/fold",
          "{% set subject %}\n  [A]   Satu\n  dua\t tiga \n{% endset %}\n\n\n   \nBaris pertama\n  menjorok\n\n\n")
    out = Renderer([tmp_path]).render("x/fold")
    assert out.subject == "[A] Satu dua tiga"
    assert out.body == "Baris pertama\n  menjorok\n"


def test_plain_text_is_not_escaped(tmp_path):
    write(tmp_path, "x/plain", "{% set subject %}{{ s }}{% endset %}\n{{ b }}\n")
    out = Renderer([tmp_path]).render("x/plain", s="A & B <c>", b='"Kutip" & <tag>')
    assert out.subject == "A & B <c>" and out.body == '"Kutip" & <tag>\n'


# ---------------------------------------------------------------- filters
def test_localtime_in_the_three_indonesian_zones():
    assert localtime(T, "Asia/Jakarta") == "Senin, 23 November 2026 14.05 WIB"
    assert localtime(T, "Asia/Makassar") == "Senin, 23 November 2026 15.05 WITA"
    assert localtime(T, "Asia/Jayapura") == "Senin, 23 November 2026 16.05 WIT"
    assert localtime(T, "Asia/Pontianak").endswith(" WIB")


def test_localtime_elsewhere_and_across_midnight():
    assert localtime(T, "Asia/Kolkata") == "Senin, 23 November 2026 12.35 UTC+05.30"
    assert localtime(T, "UTC") == "Senin, 23 November 2026 07.05 UTC"
    late = datetime(2026, 8, 16, 20, 0, tzinfo=UTC)  # 17 August 03.00 WIB
    assert localtime(late, "Asia/Jakarta") == "Senin, 17 Agustus 2026 03.00 WIB"
    assert localtime(datetime(2026, 1, 4, 1, 2, tzinfo=UTC), "Asia/Jakarta") == "Minggu, 4 Januari 2026 08.02 WIB"


def test_localtime_rejects_naive_and_unknown_zone_and_shows_none_as_dash():
    with pytest.raises(TemplateError, match="aware"):
        localtime(datetime(2026, 11, 23, 7, 5), "Asia/Jakarta")
    with pytest.raises(TemplateError, match="time zone"):
        localtime(T, "Asia/Atlantis")
    assert localtime(None, "Asia/Jakarta") == "-"


def test_localtime_filter_uses_the_office_time_zone(tmp_path):
    write(tmp_path, "x/time",
          "{% set subject = 'w' %}\n{{ now | localtime }}|{{ now | wib }}|{{ now | localtime('Asia/Jayapura') }}\n")
    r = Renderer([tmp_path])
    assert r.render("x/time", now=T, office=office(timezone="Asia/Makassar")).body == (
        "Senin, 23 November 2026 15.05 WITA|Senin, 23 November 2026 15.05 WITA|Senin, 23 November 2026 16.05 WIT\n"
    )
    assert r.render("x/time", now=T, office=office()).body.startswith("Senin, 23 November 2026 14.05 WIB|")


def test_filter_error_names_the_template(tmp_path):
    write(tmp_path, "x/naive", "{% set subject = 'n' %}\n{{ when | localtime }}\n")
    with pytest.raises(TemplateError, match=r"x/naive.*aware"):
        Renderer([tmp_path]).render("x/naive", when=datetime(2026, 1, 1), office=office())


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0 menit"), (10, "10 menit"), (30, "30 menit"), (59, "59 menit"), (60, "1 jam"),
     (150, "2 jam 30 menit"), (160, "2 jam 40 menit"), (480, "8 jam")],
)
def test_duration(minutes, text):
    assert duration(minutes) == text


@pytest.mark.parametrize("bad", [-1, "30", None, True])
def test_duration_rejects_non_minutes(bad):
    with pytest.raises(TemplateError):
        duration(bad)


def test_masked_filter():
    assert masked(NIK) == NIK_MASKED
    assert masked("3402 0145 0190 0001") == NIK_MASKED
    assert masked("") == "" and masked(None) == ""


def test_an_override_alone_must_find_the_macros(tmp_path):
    """An override folder used without the shipped one lacks _macros.txt.j2: a clear error."""
    (tmp_path / "citizen").mkdir()
    (tmp_path / "citizen" / "acknowledgement.txt.j2").write_text(
        (SHIPPED / "citizen" / "acknowledgement.txt.j2").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(TemplateError, match=r"citizen/acknowledgement.*_macros\.txt\.j2.*not found"):
        Renderer([tmp_path]).render("citizen/acknowledgement", **contexts()["citizen/acknowledgement"])


@pytest.mark.parametrize(("share", "text"), [(None, "-"), (0, "0,0%"), (0.8, "80,0%"), (17 / 21, "81,0%"), (1, "100,0%")])
def test_percent(share, text):
    assert percent(share) == text


def test_number_uses_indonesian_thousands_separators():
    assert (number(0), number(999), number(1000), number(1234567)) == ("0", "999", "1.000", "1.234.567")
    with pytest.raises(TemplateError):
        number(1.5)


# ---------------------------------------------------------------- HTML pages
def test_pages_are_autoescaped_and_mail_stays_plain_text(tmp_path):
    write(tmp_path, "x/mail", "{% set subject = 'S' %}\n{{ value }}\n")
    (tmp_path / "x" / "page.html.j2").write_text("<p>{{ value }} {{ share | percent }} {{ when | localtime }}</p>\n",
                                                 encoding="utf-8")
    value = "<b>Tom & Jerry</b>"
    page = PageRenderer([tmp_path]).render("x/page", value=value, share=0.5, when=T, office=office())
    assert page == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; 50,0% Senin, 23 November 2026 14.05 WIB</p>\n"
    assert Renderer([tmp_path]).render("x/mail", value=value).body == value + "\n"


def test_a_page_template_error_names_the_template(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "page.html.j2").write_text("<p>{{ report.nomor }}</p>\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"x/page.*'nomor'"):
        PageRenderer([tmp_path]).render("x/page", report=NS(number=1))
    with pytest.raises(TemplateError, match=r"x/missing.*not found"):
        PageRenderer([tmp_path]).render("x/missing")
