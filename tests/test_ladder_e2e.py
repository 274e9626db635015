"""The verification ladder end to end on the real mail servers: staff act by
replying from a mail client (quoted original, signature, Indonesian locale),
citizens get the answer threaded to their complaint."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from mailflow.store.models import Complaint, Hop
from support import VALID_BODY, complaint_mail

pytestmark = pytest.mark.integration


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def latest(stack, user: str) -> EmailMessage:
    """The last mail ``user`` received, apart from the satisfaction survey that
    follows every answer (tests/test_survey_e2e.py covers it)."""
    found = [m for m in map(parsed, stack.messages(user)) if m["X-Mailflow-Kind"] != "citizen/survey"]
    assert found, f"{user} received nothing"
    return found[-1]


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def reply(stack, user: str, to_msg: EmailMessage, text: str, *, sender: str | None = None,
          to: str | None = None, headers: dict[str, str] | None = None, login: bool | None = None) -> None:
    """Reply as an Indonesian Gmail user would: text on top, quote below, via SMTP
    (logged in, as their client does, when sending as themselves, unless ``login`` says)."""
    sender = sender or f"{user}@dukcapil.test"
    login = sender == f"{user}@dukcapil.test" if login is None else login
    target = to or str(to_msg["Reply-To"] or to_msg["From"].addresses[0].addr_spec)
    quoted = "\n".join("> " + line for line in body(to_msg).splitlines()[:15])
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = target
    msg["Subject"] = "Re: " + str(to_msg["Subject"])
    msg["Message-ID"] = make_msgid(domain="dukcapil.test")
    msg["In-Reply-To"] = to_msg["Message-ID"]
    msg["References"] = to_msg["Message-ID"]
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(f"{text}\n\n-- \n{user} | Ruang Layanan Lt. 2\n\nPada Sen, 23 Nov 2026 pukul 10.15 Layanan Pengaduan "
                    f"<aduan@dukcapil.test> menulis:\n{quoted}\n")
    stack.send(msg.as_bytes(), sender.split("@")[0] if sender.endswith("@dukcapil.test") else sender,
               [target], login=login)


def complaint(app) -> Complaint:
    with app.factory() as s:
        return s.scalars(select(Complaint).order_by(Complaint.id)).all()[-1]


def hop_kinds(app) -> list[str]:
    with app.factory() as s:
        return [h.kind for h in s.scalars(select(Hop).order_by(Hop.id))]


def register(stack, daemon, sender: str = "warga1") -> str:
    stack.send(complaint_mail(VALID_BODY, sender=f"{sender}@dukcapil.test"), sender, ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    return result.outcomes[0].complaint_number


def step(daemon, action: str = "attached") -> None:
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == [action], [(o.action, o.reason) for o in result.outcomes]


# ------------------------------------------------------------------ Bantul
def test_bantul_admin_answers_kasi_approves_citizen_receives(desk):
    stack, app, daemon = desk
    number = register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#jawab KTP-el Ibu sudah dicetak dan dapat diambil di kantor kecamatan Sewon.")
    step(daemon)
    c = complaint(app)
    assert (c.status, c.holder_role) == ("awaiting_approval", "kasi-identitas")
    assert stack.messages("warga1")[1:] == []  # nothing reaches the citizen before approval
    approval = latest(stack, "kasi-identitas")
    assert "sudah dicetak" in body(approval)
    reply(stack, "kasi-identitas", approval, "#setuju")
    step(daemon)
    answer = latest(stack, "warga1")
    assert number in answer["Subject"] and "sudah dicetak" in body(answer)
    assert "Ruang Layanan" not in body(answer) and "menulis" not in body(answer)  # quote and signature stripped
    ack = parsed(stack.messages("warga1")[0])
    assert answer["In-Reply-To"] == ack["In-Reply-To"]  # threaded to the citizen's own complaint mail
    c = complaint(app)
    assert c.status == "closed" and c.closed_at is not None
    assert ["drafted", "answered", "closed"] == [k for k in hop_kinds(app) if k in ("drafted", "answered", "closed")]


def test_bantul_escalation_to_kabid_and_back_through_admin(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#teruskan Mohon diverifikasi, data SIAK tidak cocok.")
    step(daemon)
    handover = latest(stack, "kasi-identitas")
    assert "data SIAK tidak cocok" in body(handover)
    reply(stack, "kasi-identitas", handover, "#teruskan Perlu keputusan Kabid.")
    step(daemon)
    assert (complaint(app).step, complaint(app).holder_role) == ("jawaban-kabid", "kabid")
    reply(stack, "kabid", latest(stack, "kabid"), "#jawab Data sudah kami perbaiki; KTP-el dicetak ulang minggu ini.")
    step(daemon)
    c = complaint(app)
    assert (c.step, c.holder_role, c.approved) == ("jawab-pemohon", "admin", True)
    confirm = latest(stack, "admin")
    assert "dicetak ulang" in body(confirm)
    reply(stack, "admin", confirm, "#setuju")
    step(daemon)
    assert "dicetak ulang" in body(latest(stack, "warga1"))
    assert complaint(app).status == "closed"


def test_bantul_kasi_sends_back_down(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#teruskan Mohon dicek.")
    step(daemon)
    reply(stack, "kasi-identitas", latest(stack, "kasi-identitas"), "#kembalikan Ini cukup dijawab Admin: cek jadwal cetak.")
    step(daemon)
    c = complaint(app)
    assert (c.step, c.holder_role) == ("verifikasi-admin", "admin")
    back = latest(stack, "admin")
    assert "Dikembalikan" in back["Subject"] and "cek jadwal cetak" in body(back)
    assert "returned" in hop_kinds(app)


def test_bantul_kasi_rejects_a_draft(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#jawab Silakan datang saja.")
    step(daemon)
    reply(stack, "kasi-identitas", latest(stack, "kasi-identitas"), "#tolak Jawaban kurang jelas, sebutkan jadwalnya.")
    step(daemon)
    c = complaint(app)
    assert (c.status, c.step, c.holder_role, c.draft) == ("in_progress", "verifikasi-admin", "admin", None)
    assert "sebutkan jadwalnya" in body(latest(stack, "admin"))
    assert len(stack.messages("warga1")) == 1  # only the acknowledgement


def test_forged_staff_reply_changes_nothing_and_the_holder_is_told(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    ack = parsed(stack.messages("warga1")[0])
    before = complaint(app)
    # the citizen sets From: to the Kasi's address and "approves" by replying to their acknowledgement
    reply(stack, "warga1", ack, "#jawab Aduan selesai.", sender="kasi-identitas@dukcapil.test", to="aduan@dukcapil.test")
    step(daemon, "refused")
    after = complaint(app)
    assert (after.status, after.step, after.holder_role, after.draft) == (before.status, before.step, before.holder_role, None)
    assert len(stack.messages("warga1")) == 1
    warning = latest(stack, "admin")
    assert "tidak sah" in warning["Subject"]
    assert hop_kinds(app)[-1] != "answered" and "refused" in hop_kinds(app)


def test_staff_reply_failing_dkim_is_refused(make_desk):
    # The office's receiving server (the stack's SMTP front) stamps its results: believe them.
    stack, app, daemon = make_desk(extra='[security]\nauthserv_ids = ["mx.dukcapil.test"]\n')
    register(stack, daemon)
    # Not logged in: the office's server stamps it failing (and drops this look-alike of its own).
    reply(stack, "admin", latest(stack, "admin"), "#jawab Sudah selesai.", login=False,
          headers={"Authentication-Results": "mx.dukcapil.test; dkim=fail header.d=dukcapil.test; "
                                             "spf=fail smtp.mailfrom=admin@dukcapil.test"})
    step(daemon, "refused")
    assert complaint(app).status == "registered"


def test_info_round_trip_with_the_citizen(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#info Mohon kirimkan foto bukti perekaman KTP-el.")
    step(daemon)
    assert complaint(app).status == "waiting_citizen"
    question = latest(stack, "warga1")
    assert "foto bukti perekaman" in body(question)
    reply(stack, "warga1", question, "Berikut saya lampirkan, direkam tanggal 12 Agustus.")
    step(daemon)
    c = complaint(app)
    assert (c.status, c.step, c.holder_role) == ("in_progress", "verifikasi-admin", "admin")
    assert "12 Agustus" in body(latest(stack, "admin"))


def test_citizen_reopens_within_the_window(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#teruskan cek")
    step(daemon)
    reply(stack, "kasi-identitas", latest(stack, "kasi-identitas"), "#jawab Sudah dicetak, silakan ambil.")
    step(daemon)
    reply(stack, "admin", latest(stack, "admin"), "#setuju")  # answers go back through the Admin
    step(daemon)
    assert complaint(app).status == "closed"
    reply(stack, "warga1", latest(stack, "warga1"), "Saya sudah ke kantor tetapi belum ada. Mohon dicek lagi.")
    step(daemon)
    c = complaint(app)
    assert (c.status, c.step, c.holder_role) == ("in_progress", "verifikasi-kasi", "kasi-identitas")
    told = latest(stack, "kasi-identitas")
    assert "dibuka kembali" in told["Subject"].lower() and "belum ada" in body(told)


def test_staff_out_of_office_is_never_an_action_nor_forwarded(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    fwd = latest(stack, "admin")
    oof = EmailMessage()
    oof["From"], oof["To"] = "admin@dukcapil.test", str(fwd["Reply-To"])
    oof["Subject"] = "Balasan Otomatis: " + str(fwd["Subject"])
    oof["Auto-Submitted"] = "auto-replied"
    oof["In-Reply-To"] = fwd["Message-ID"]
    oof["Message-ID"] = make_msgid(domain="dukcapil.test")
    oof.set_content("#jawab Saya sedang cuti sampai 1 Desember.")
    stack.send(oof.as_bytes(), "admin", [str(fwd["Reply-To"])])
    step(daemon, "ignored")
    assert complaint(app).status == "registered"
    assert len(stack.messages("warga1")) == 1
    assert "tidak di tempat" in latest(stack, "kasi-piak")["Subject"]  # the deputy named in the rules


def test_a_command_not_allowed_gets_a_short_explanation(desk):
    stack, app, daemon = desk
    register(stack, daemon)
    reply(stack, "admin", latest(stack, "admin"), "#setuju")
    step(daemon, "refused")
    explanation = latest(stack, "admin")
    assert "belum dapat diproses" in explanation["Subject"]
    assert "#teruskan" in body(explanation)


# ------------------------------------------------------------------ the other SOPs
def test_palangkaraya_happy_path(make_desk):
    stack, app, daemon = make_desk(rules="palangkaraya-online.toml")
    register(stack, daemon, "warga2")
    assert (complaint(app).step, complaint(app).holder_role) == ("telaah", "petugas")
    reply(stack, "admin", latest(stack, "admin"), "#teruskan Telaahan: data KTP-el pelapor perlu dicek di SIAK.")
    step(daemon)
    assert (complaint(app).step, complaint(app).holder_role) == ("verifikasi", "analis")
    reply(stack, "analis", latest(stack, "analis"), "#jawab KTP-el Bapak/Ibu sudah dapat diambil di Disdukcapil.")
    step(daemon)
    assert (complaint(app).step, complaint(app).holder_role) == ("kirim-jawaban", "petugas")
    reply(stack, "admin", latest(stack, "admin"), "#setuju")
    step(daemon)
    answer = latest(stack, "warga2")
    assert "sudah dapat diambil" in body(answer) and "30 hari" in body(answer)  # "until satisfied": reopen window
    assert complaint(app).status == "closed"


def test_kulonprogo_happy_path_with_the_confidentiality_check(make_desk):
    stack, app, daemon = make_desk(rules="kulonprogo-website.toml")
    register(stack, daemon, "warga3")
    assert complaint(app).holder_role == "kasubag"
    reply(stack, "kasubag", latest(stack, "kasubag"), "#setuju Diregister no. 112/2026.")
    step(daemon)
    reply(stack, "ketua-tim", latest(stack, "ketua-tim"), "#setuju")
    step(daemon)
    reply(stack, "kadis", latest(stack, "kadis"), "#teruskan Disposisi: tindak lanjuti, koordinasikan dengan PIAK.")
    step(daemon)
    assert (complaint(app).step, complaint(app).holder_role) == ("koordinasi", "anggota-tim")
    # without the confirmation phrase the step refuses to move
    reply(stack, "analis", latest(stack, "analis"), "#teruskan lanjut")
    step(daemon, "refused")
    assert complaint(app).step == "koordinasi"
    assert "kerahasiaan diperiksa" in body(latest(stack, "analis"))
    reply(stack, "analis", latest(stack, "analis"), "#teruskan Kerahasiaan diperiksa: data pelapor tidak dipublikasikan.")
    step(daemon)
    assert (complaint(app).step, complaint(app).holder_role) == ("draf-jawaban", "pelaksana")
    reply(stack, "kasi-piak", latest(stack, "kasi-piak"), "#jawab Permohonan informasi Bapak/Ibu kami jawab sebagai berikut: ...")
    step(daemon)
    assert (complaint(app).status, complaint(app).holder_role) == ("awaiting_approval", "anggota-tim")
    reply(stack, "analis", latest(stack, "analis"), "#setuju")  # the team member's initial (paraf)
    step(daemon)
    assert (complaint(app).step, complaint(app).holder_role) == ("balas", "petugas")
    reply(stack, "admin", latest(stack, "admin"), "#setuju")
    step(daemon)
    assert "kami jawab sebagai berikut" in body(latest(stack, "warga3"))
    assert complaint(app).status == "closed"


def test_bima_no_loop_then_yes(make_desk):
    stack, app, daemon = make_desk(rules="bima-innovation.toml")
    register(stack, daemon, "warga4")

    def act(user: str, text: str, expect_step: str) -> None:
        reply(stack, user, latest(stack, user), text)
        step(daemon)
        assert complaint(app).step == expect_step

    assert complaint(app).step == "konsep"
    act("kasi-piak", "#teruskan Konsep: layanan KIA keliling.", "telaah-kabid")
    act("kabid", "#teruskan Layak diajukan.", "keputusan")
    act("kadis", "#tolak Anggaran belum ada; perbaiki konsepnya.", "konsep")  # the "no" loop
    assert "perbaiki konsepnya" in body(latest(stack, "kasi-piak"))
    act("kasi-piak", "#teruskan Konsep diperbaiki: kerja sama dengan sekolah.", "telaah-kabid")
    act("kabid", "#teruskan Layak.", "keputusan")
    act("kadis", "#setuju", "draf")
    act("kasi-piak", "#teruskan Draf terlampir.", "rapat")
    act("sekretariat", "#teruskan Notulen rapat terlampir.", "mekanisme")
    act("kasi-piak", "#teruskan Mekanisme final.", "nama")
    act("kasi-piak", "#teruskan Nama: KIA Sekolah.", "pelaksanaan")
    reply(stack, "admin", latest(stack, "admin"), "#setuju Inovasi berjalan.")
    step(daemon)
    c = complaint(app)
    assert c.status == "closed"
    with app.factory() as s:
        returned = s.scalars(select(Hop).where(Hop.kind == "returned")).all()
    assert [h.to_state for h in returned] == ["konsep"]
