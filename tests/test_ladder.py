"""The ladder state machine (mailflow/ladder.py) as tables of cases.

- TABLE: every action of every staff step of every shipped rules file, and
  the approver's #setuju/#tolak/#jawab on the virtual approval step, each
  with its expected state and actions written out by hand. The set of rows
  is checked against the loaded files, so a step or action added to a rules
  file without a row here fails.
- SECTION_ROWS: the same transitions where "@section" makes the holder
  depend on the complaint's section.
- ILLEGAL: events that must be refused with the state unchanged; plus every
  command word a step does not allow, generated from the files.
- the approval rule, #info round trips, reopening, automatic replies.
- load_rules rejecting broken files with messages naming the key.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from mailflow.config.rules import load_rules
from mailflow.core import ladder
from mailflow.core.ladder import (
    AskCitizen,
    AutoReply,
    CitizenMail,
    Close,
    Command,
    ConfirmSend,
    DeadlineNear,
    DeadlinePassed,
    Escalate,
    Move,
    NewLinkedComplaint,
    Note,
    Overdue,
    Refuse,
    Remind,
    RequestApproval,
    SendAnswer,
    State,
    TellDeputies,
    TellHolder,
    Unattended,
)
from mailflow.core.sop import APPROVAL, CITIZEN, COMMAND_WORDS, Rules
from mailflow.errors import RulesError
from support import REPO

FILES = ("bantul-email", "palangkaraya-online", "kulonprogo-website", "bima-innovation")
RULES: dict[str, Rules] = {name: load_rules(REPO / "rules" / f"{name}.toml") for name in FILES}
B, P, K, M = (RULES[n] for n in FILES)

SECTION = "identitas"  # the section of every table row unless it says otherwise
T = "Teks uji."  # the text of every command in the table
DRAFT = "Jawaban yang sudah ada."  # the draft already in the state (approval and send rows)

# Who drafted the answer waiting for approval, per file: (draft_step, draft_role).
APPROVAL_FROM = {
    "bantul-email": ("verifikasi-admin", "admin"),
    "palangkaraya-online": ("telaah", "petugas"),
    "kulonprogo-website": ("draf-jawaban", "pelaksana"),
}
# Who drafted the approved answer waiting at the send step, per file.
SEND_FROM = {
    "bantul-email": ("verifikasi-kasi", "kasi-identitas"),
    "palangkaraya-online": ("verifikasi", "analis"),
    "kulonprogo-website": ("draf-jawaban", "pelaksana"),
}
APPROVER = {"bantul-email": "kasi-identitas", "palangkaraya-online": "analis", "kulonprogo-website": "anggota-tim"}


def mv(step: str, role: str, word: str, note: str = T) -> Move:
    return Move(step, role, note, word)


IN, WAIT, APPR, DONE = "in_progress", "waiting_citizen", "awaiting_approval", "closed"

# (file, step, word) -> (status, step, holder, actions), for a complaint of SECTION.
TABLE: dict[tuple[str, str, str], tuple[str, str, str, tuple]] = {
    # ---------------------------------------------------------------- Bantul
    # step 3, Admin: drafts (to the Kasi for approval), forwards, asks
    ("bantul-email", "verifikasi-admin", "jawab"): (APPR, APPROVAL, "kasi-identitas", (RequestApproval("kasi-identitas", T),)),
    ("bantul-email", "verifikasi-admin", "teruskan"): (IN, "verifikasi-kasi", "kasi-identitas", (mv("verifikasi-kasi", "kasi-identitas", "teruskan"),)),
    ("bantul-email", "verifikasi-admin", "info"): (WAIT, "verifikasi-admin", "admin", (AskCitizen(T),)),
    # step 4, Kasi: the answer goes to the Admin to send (steps 5 and 7)
    ("bantul-email", "verifikasi-kasi", "jawab"): (IN, "jawab-pemohon", "admin", (ConfirmSend("admin", T),)),
    ("bantul-email", "verifikasi-kasi", "teruskan"): (IN, "jawaban-kabid", "kabid", (mv("jawaban-kabid", "kabid", "teruskan"),)),
    ("bantul-email", "verifikasi-kasi", "kembalikan"): (IN, "verifikasi-admin", "admin", (mv("verifikasi-admin", "admin", "kembalikan"),)),
    ("bantul-email", "verifikasi-kasi", "info"): (WAIT, "verifikasi-kasi", "kasi-identitas", (AskCitizen(T),)),
    # step 6, Kabid
    ("bantul-email", "jawaban-kabid", "jawab"): (IN, "jawab-pemohon", "admin", (ConfirmSend("admin", T),)),
    ("bantul-email", "jawaban-kabid", "kembalikan"): (IN, "verifikasi-kasi", "kasi-identitas", (mv("verifikasi-kasi", "kasi-identitas", "kembalikan"),)),
    ("bantul-email", "jawaban-kabid", "info"): (WAIT, "jawaban-kabid", "kabid", (AskCitizen(T),)),
    # step 7, Admin sends
    ("bantul-email", "jawab-pemohon", "setuju"): (DONE, "jawab-pemohon", "admin", (SendAnswer(DRAFT), Close(with_answer=True))),
    ("bantul-email", "jawab-pemohon", "kembalikan"): (IN, "verifikasi-kasi", "kasi-identitas", (mv("verifikasi-kasi", "kasi-identitas", "kembalikan"),)),
    # the Kasi on the Admin's draft: the Admin drafted it and holds the send step, so it goes out at once
    ("bantul-email", APPROVAL, "setuju"): (DONE, APPROVAL, "kasi-identitas", (SendAnswer(DRAFT), Close(with_answer=True))),
    ("bantul-email", APPROVAL, "tolak"): (IN, "verifikasi-admin", "admin", (mv("verifikasi-admin", "admin", "tolak"),)),
    ("bantul-email", APPROVAL, "jawab"): (IN, "jawab-pemohon", "admin", (ConfirmSend("admin", T),)),
    # ---------------------------------------------------------------- Palangka Raya
    # step 3, telaahan staf by the officer
    ("palangkaraya-online", "telaah", "jawab"): (APPR, APPROVAL, "analis", (RequestApproval("analis", T),)),
    ("palangkaraya-online", "telaah", "teruskan"): (IN, "verifikasi", "analis", (mv("verifikasi", "analis", "teruskan"),)),
    ("palangkaraya-online", "telaah", "info"): (WAIT, "telaah", "petugas", (AskCitizen(T),)),
    # step 4, the analyst verifies and approves
    ("palangkaraya-online", "verifikasi", "jawab"): (IN, "kirim-jawaban", "petugas", (ConfirmSend("petugas", T),)),
    ("palangkaraya-online", "verifikasi", "kembalikan"): (IN, "telaah", "petugas", (mv("telaah", "petugas", "kembalikan"),)),
    ("palangkaraya-online", "verifikasi", "info"): (WAIT, "verifikasi", "analis", (AskCitizen(T),)),
    # step 5, the officer sends
    ("palangkaraya-online", "kirim-jawaban", "setuju"): (DONE, "kirim-jawaban", "petugas", (SendAnswer(DRAFT), Close(with_answer=True))),
    ("palangkaraya-online", "kirim-jawaban", "kembalikan"): (IN, "verifikasi", "analis", (mv("verifikasi", "analis", "kembalikan"),)),
    # the analyst on the officer's draft: the officer holds the send step, so it goes out at once
    ("palangkaraya-online", APPROVAL, "setuju"): (DONE, APPROVAL, "analis", (SendAnswer(DRAFT), Close(with_answer=True))),
    ("palangkaraya-online", APPROVAL, "tolak"): (IN, "telaah", "petugas", (mv("telaah", "petugas", "tolak"),)),
    ("palangkaraya-online", APPROVAL, "jawab"): (IN, "kirim-jawaban", "petugas", (ConfirmSend("petugas", T),)),
    # ---------------------------------------------------------------- Kulon Progo
    # row 2: two initials
    ("kulonprogo-website", "paraf-kasubag", "setuju"): (IN, "paraf-ketua-tim", "ketua-tim", (mv("paraf-ketua-tim", "ketua-tim", "setuju"),)),
    ("kulonprogo-website", "paraf-ketua-tim", "setuju"): (IN, "disposisi", "kadis", (mv("disposisi", "kadis", "setuju"),)),
    ("kulonprogo-website", "paraf-ketua-tim", "kembalikan"): (IN, "paraf-kasubag", "kasubag", (mv("paraf-kasubag", "kasubag", "kembalikan"),)),
    # row 3: disposition
    ("kulonprogo-website", "disposisi", "teruskan"): (IN, "koordinasi", "anggota-tim", (mv("koordinasi", "anggota-tim", "teruskan"),)),
    # row 4: coordination (these rows carry the confirmation phrase)
    ("kulonprogo-website", "koordinasi", "teruskan"): (IN, "draf-jawaban", "pelaksana", (mv("draf-jawaban", "pelaksana", "teruskan"),)),
    ("kulonprogo-website", "koordinasi", "kembalikan"): (IN, "disposisi", "kadis", (mv("disposisi", "kadis", "kembalikan"),)),
    ("kulonprogo-website", "koordinasi", "info"): (WAIT, "koordinasi", "anggota-tim", (AskCitizen(T),)),
    # row 5: the Pelaksana Teknis drafts; a team member initials
    ("kulonprogo-website", "draf-jawaban", "jawab"): (APPR, APPROVAL, "anggota-tim", (RequestApproval("anggota-tim", T),)),
    ("kulonprogo-website", "draf-jawaban", "kembalikan"): (IN, "koordinasi", "anggota-tim", (mv("koordinasi", "anggota-tim", "kembalikan"),)),
    ("kulonprogo-website", "draf-jawaban", "info"): (WAIT, "draf-jawaban", "pelaksana", (AskCitizen(T),)),
    # row 6: the petugas sends
    ("kulonprogo-website", "balas", "setuju"): (DONE, "balas", "petugas", (SendAnswer(DRAFT), Close(with_answer=True))),
    ("kulonprogo-website", "balas", "kembalikan"): (IN, "draf-jawaban", "pelaksana", (mv("draf-jawaban", "pelaksana", "kembalikan"),)),
    # the paraf: neither the drafter nor the approver sends, so the petugas confirms at row 6
    ("kulonprogo-website", APPROVAL, "setuju"): (IN, "balas", "petugas", (ConfirmSend("petugas", DRAFT),)),
    ("kulonprogo-website", APPROVAL, "tolak"): (IN, "draf-jawaban", "pelaksana", (mv("draf-jawaban", "pelaksana", "tolak"),)),
    ("kulonprogo-website", APPROVAL, "jawab"): (IN, "balas", "petugas", (ConfirmSend("petugas", T),)),
    # ---------------------------------------------------------------- Bima
    ("bima-innovation", "konsep", "teruskan"): (IN, "telaah-kabid", "kabid", (mv("telaah-kabid", "kabid", "teruskan"),)),
    ("bima-innovation", "telaah-kabid", "teruskan"): (IN, "keputusan", "kadis", (mv("keputusan", "kadis", "teruskan"),)),
    ("bima-innovation", "telaah-kabid", "kembalikan"): (IN, "konsep", "kasi-inovasi", (mv("konsep", "kasi-inovasi", "kembalikan"),)),
    ("bima-innovation", "keputusan", "setuju"): (IN, "draf", "kasi-inovasi", (mv("draf", "kasi-inovasi", "setuju"),)),
    ("bima-innovation", "keputusan", "tolak"): (IN, "konsep", "kasi-inovasi", (mv("konsep", "kasi-inovasi", "tolak"),)),  # the "no" loop
    ("bima-innovation", "draf", "teruskan"): (IN, "rapat", "pejabat", (mv("rapat", "pejabat", "teruskan"),)),
    ("bima-innovation", "rapat", "teruskan"): (IN, "mekanisme", "kasi-inovasi", (mv("mekanisme", "kasi-inovasi", "teruskan"),)),
    ("bima-innovation", "rapat", "kembalikan"): (IN, "draf", "kasi-inovasi", (mv("draf", "kasi-inovasi", "kembalikan"),)),
    ("bima-innovation", "mekanisme", "teruskan"): (IN, "nama", "kasi-inovasi", (mv("nama", "kasi-inovasi", "teruskan"),)),
    ("bima-innovation", "nama", "teruskan"): (IN, "pelaksanaan", "pelaksana", (mv("pelaksanaan", "pelaksana", "teruskan"),)),
    ("bima-innovation", "pelaksanaan", "setuju"): (DONE, "pelaksanaan", "pelaksana", (Note(T), Close(with_answer=False))),
}


def at(name: str, step_key: str, section: str = SECTION, **kw) -> State:
    """An in-progress complaint at ``step_key``, held by the step's role for ``section``."""
    rules = RULES[name]
    role = rules.role_for(rules.step(step_key), section)
    return State(status=IN, step=step_key, holder=role.key, section=section, **kw)


def waiting_for_approval(name: str, section: str = SECTION) -> State:
    draft_step, draft_role = APPROVAL_FROM[name]
    approver = RULES[name].approver_for(section).key
    return State(APPR, APPROVAL, approver, section, draft=DRAFT, draft_role=draft_role, draft_step=draft_step)


def ready_to_send(name: str, section: str = SECTION) -> State:
    draft_step, draft_role = SEND_FROM[name]
    return at(name, RULES[name].answer.send_step, section, draft=DRAFT, draft_role=draft_role,
              draft_step=draft_step, approved=True)


def start(name: str, step_key: str, word: str, section: str = SECTION) -> State:
    """The state a table row starts from."""
    if step_key == APPROVAL:
        return waiting_for_approval(name, section)
    if word == "setuju" and RULES[name].step(step_key).actions.get("setuju") == "@send":
        return ready_to_send(name, section)
    return at(name, step_key, section)


def has_approval(rules: Rules) -> bool:
    """Whether some step's #jawab comes from a role below answer.min_rank (so the approval step is used)."""
    for step in rules.steps:
        if step.actions.get("jawab") == "@answer":
            role = rules.role_for(step, SECTION)
            if role is not None and role.rank < rules.answer.min_rank:
                return True
    return False


def assert_consistent(state: State, rules: Rules) -> None:
    """An open complaint is held by the role its step names (or by the approver while awaiting approval)."""
    if state.status == DONE:
        return
    if state.status == APPR:
        assert state.step == APPROVAL and state.holder == rules.approver_for(state.section).key
        return
    role = rules.role_for(rules.step(state.step), state.section)
    assert role is not None and state.holder == role.key, (state.step, state.holder)


# ======================================================================== every transition
def test_the_table_covers_every_action_of_every_shipped_file():
    expected = {(name, step.key, word) for name, rules in RULES.items() for step in rules.steps
                for word in step.actions}
    expected |= {(name, APPROVAL, word) for name, rules in RULES.items() if has_approval(rules)
                 for word in ("setuju", "tolak", "jawab")}
    assert set(TABLE) == expected


@pytest.mark.parametrize("key", list(TABLE), ids=lambda k: "/".join(k))
def test_transition(key):
    name, step_key, word = key
    rules = RULES[name]
    state = start(name, step_key, word)
    result = ladder.transition(state, Command(word, T, state.holder, confirmed=True), rules)
    status, step, holder, actions = TABLE[key]
    assert not result.refused, result.actions
    assert (result.state.status, result.state.step, result.state.holder) == (status, step, holder)
    assert result.actions == actions
    assert result.state.section == SECTION
    assert_consistent(result.state, rules)
    if status == DONE and any(isinstance(a, SendAnswer) for a in actions):
        # reopening goes back to the step and role that wrote the answer
        assert (result.state.answered_step, result.state.answered_role) == (state.draft_step, state.draft_role)
    if word == "jawab":
        assert result.state.draft == T
    if word in ("kembalikan", "tolak") and step_key == APPROVAL:
        assert (result.state.draft, result.state.draft_role, result.state.approved) == (None, None, False)


# The same transitions where the section decides the holder ("@section" steps and approver).
SECTION_ROWS = [
    # (file, step, word, section) -> (status, step, holder)
    (("bantul-email", "verifikasi-admin", "teruskan", "identitas"), (IN, "verifikasi-kasi", "kasi-identitas")),
    (("bantul-email", "verifikasi-admin", "teruskan", "pindah"), (IN, "verifikasi-kasi", "kasi-pindah")),
    (("bantul-email", "verifikasi-admin", "teruskan", "capil"), (IN, "verifikasi-kasi", "kasi-capil")),
    (("bantul-email", "verifikasi-admin", "teruskan", "piak"), (IN, "verifikasi-kasi", "kasi-piak")),
    (("bantul-email", "verifikasi-admin", "teruskan", "pegawai"), (IN, "verifikasi-kasi", "kadis")),
    (("bantul-email", "verifikasi-admin", "teruskan", "lainnya"), (IN, "verifikasi-kasi", "kasi-piak")),
    (("bantul-email", "verifikasi-admin", "teruskan", "tidak-ada"), (IN, "verifikasi-kasi", "kasi-piak")),  # unknown: lainnya
    (("bantul-email", "verifikasi-admin", "jawab", "capil"), (APPR, APPROVAL, "kasi-capil")),
    (("bantul-email", "verifikasi-admin", "jawab", "pegawai"), (APPR, APPROVAL, "kadis")),
    (("bantul-email", "jawaban-kabid", "kembalikan", "pindah"), (IN, "verifikasi-kasi", "kasi-pindah")),
    (("bantul-email", "jawab-pemohon", "kembalikan", "piak"), (IN, "verifikasi-kasi", "kasi-piak")),
    (("palangkaraya-online", "telaah", "teruskan", "capil"), (IN, "verifikasi", "analis")),
    (("palangkaraya-online", "telaah", "teruskan", "pegawai"), (IN, "verifikasi", "kadis")),
    (("palangkaraya-online", "telaah", "jawab", "pegawai"), (APPR, APPROVAL, "kadis")),
    (("palangkaraya-online", "verifikasi", "jawab", "pegawai"), (IN, "kirim-jawaban", "petugas")),  # kadis, rank 4
    (("palangkaraya-online", "kirim-jawaban", "kembalikan", "pegawai"), (IN, "verifikasi", "kadis")),
    (("kulonprogo-website", "disposisi", "teruskan", "pegawai"), (IN, "koordinasi", "anggota-tim")),
    (("kulonprogo-website", "disposisi", "teruskan", "piak"), (IN, "koordinasi", "anggota-tim")),
    (("kulonprogo-website", "draf-jawaban", "jawab", "capil"), (APPR, APPROVAL, "anggota-tim")),
    (("bima-innovation", "telaah-kabid", "kembalikan", "pegawai"), (IN, "konsep", "kasi-inovasi")),
]


@pytest.mark.parametrize(("key", "expected"), SECTION_ROWS, ids=["/".join(key) for key, _ in SECTION_ROWS])
def test_the_section_decides_the_holder(key, expected):
    name, step_key, word, section = key
    rules = RULES[name]
    state = start(name, step_key, word, section)
    result = ladder.transition(state, Command(word, T, state.holder, confirmed=True), rules)
    assert not result.refused, result.actions
    assert (result.state.status, result.state.step, result.state.holder) == expected
    assert result.state.section == section


# ======================================================================== illegal events
def closed(name: str, step_key: str) -> State:
    return replace(at(name, step_key), status=DONE)


ILLEGAL = [
    # (file, state, event, words of the reason)
    # a command not allowed at the step
    ("bantul-email", at("bantul-email", "verifikasi-admin"), Command("setuju", T, "admin"), "tidak berlaku"),
    ("bantul-email", at("bantul-email", "verifikasi-admin"), Command("kembalikan", T, "admin"), "tidak berlaku"),
    ("bantul-email", at("bantul-email", "jawaban-kabid"), Command("teruskan", T, "kabid"), "tidak berlaku"),
    ("palangkaraya-online", at("palangkaraya-online", "verifikasi"), Command("teruskan", T, "analis"), "tidak berlaku"),
    ("kulonprogo-website", at("kulonprogo-website", "disposisi"), Command("jawab", T, "kadis"), "tidak berlaku"),
    ("kulonprogo-website", at("kulonprogo-website", "paraf-kasubag"), Command("kembalikan", T, "kasubag"), "tidak berlaku"),
    ("bima-innovation", at("bima-innovation", "konsep"), Command("jawab", T, "kasi-inovasi"), "tidak berlaku"),
    ("bima-innovation", at("bima-innovation", "keputusan"), Command("teruskan", T, "kadis"), "tidak berlaku"),
    # on the approval step only #setuju, #tolak, #jawab (with text)
    ("bantul-email", waiting_for_approval("bantul-email"), Command("info", T, "kasi-identitas"), "menunggu persetujuan"),
    ("bantul-email", waiting_for_approval("bantul-email"), Command("kembalikan", T, "kasi-identitas"), "menunggu persetujuan"),
    ("bantul-email", waiting_for_approval("bantul-email"), Command("jawab", " ", "kasi-identitas"), "menunggu persetujuan"),
    # a staff member who does not hold the complaint
    ("bantul-email", at("bantul-email", "verifikasi-admin"), Command("teruskan", T, "kabid"), "dipegang Admin Email"),
    ("bantul-email", at("bantul-email", "verifikasi-kasi"), Command("jawab", T, "kasi-pindah"), "dipegang"),
    ("bantul-email", waiting_for_approval("bantul-email"), Command("setuju", "", "admin"), "dipegang"),  # no self-approval
    ("palangkaraya-online", waiting_for_approval("palangkaraya-online"), Command("setuju", "", "petugas"), "dipegang"),
    ("kulonprogo-website", waiting_for_approval("kulonprogo-website"), Command("setuju", "", "pelaksana"), "dipegang"),
    ("kulonprogo-website", at("kulonprogo-website", "paraf-ketua-tim"), Command("setuju", T, "kasubag"), "dipegang"),
    ("bima-innovation", at("bima-innovation", "keputusan"), Command("setuju", T, "kabid"), "dipegang"),
    # not staff at all
    ("bantul-email", at("bantul-email", "verifikasi-admin"), Command("jawab", T, None), "bukan petugas"),
    ("bantul-email", waiting_for_approval("bantul-email"), Command("setuju", "", None), "bukan petugas"),
    ("kulonprogo-website", ready_to_send("kulonprogo-website"), Command("setuju", "", None), "bukan petugas"),
    # #jawab / #info without text
    ("bantul-email", at("bantul-email", "verifikasi-admin"), Command("jawab", "  ", "admin"), "teks jawaban"),
    ("palangkaraya-online", at("palangkaraya-online", "verifikasi"), Command("jawab", "", "analis"), "teks jawaban"),
    ("kulonprogo-website", at("kulonprogo-website", "draf-jawaban"), Command("jawab", "\n", "pelaksana"), "teks jawaban"),
    ("bantul-email", at("bantul-email", "verifikasi-kasi"), Command("info", "", "kasi-identitas"), "pertanyaan"),
    # #setuju at a send step with nothing approved
    ("bantul-email", at("bantul-email", "jawab-pemohon"), Command("setuju", "", "admin"), "belum ada jawaban"),
    ("bantul-email", at("bantul-email", "jawab-pemohon", draft=DRAFT, draft_role="admin", draft_step="verifikasi-admin"),
     Command("setuju", "", "admin"), "belum ada jawaban"),  # a draft, but not approved
    ("palangkaraya-online", at("palangkaraya-online", "kirim-jawaban"), Command("setuju", "", "petugas"), "belum ada jawaban"),
    ("kulonprogo-website", at("kulonprogo-website", "balas"), Command("setuju", "", "petugas"), "belum ada jawaban"),
    # Kulon Progo's coordination step without the confidentiality phrase
    ("kulonprogo-website", at("kulonprogo-website", "koordinasi"), Command("teruskan", T, "anggota-tim"), "kerahasiaan diperiksa"),
    ("kulonprogo-website", at("kulonprogo-website", "koordinasi"), Command("kembalikan", T, "anggota-tim"), "konfirmasi"),
    # a closed complaint: only #catatan
    ("bantul-email", closed("bantul-email", "jawab-pemohon"), Command("teruskan", T, "admin"), "sudah selesai"),
    ("bantul-email", closed("bantul-email", "jawab-pemohon"), Command("setuju", "", "admin"), "sudah selesai"),
    ("bantul-email", closed("bantul-email", "jawab-pemohon"), Command("jawab", T, "admin"), "sudah selesai"),
    ("bantul-email", closed("bantul-email", "jawab-pemohon"), Command("jawab", T, "kabid"), "dipegang"),
    ("palangkaraya-online", closed("palangkaraya-online", "kirim-jawaban"), Command("kembalikan", T, "petugas"), "sudah selesai"),
    ("kulonprogo-website", closed("kulonprogo-website", "balas"), Command("kembalikan", T, "petugas"), "sudah selesai"),
    ("bima-innovation", closed("bima-innovation", "pelaksanaan"), Command("setuju", T, "pelaksana"), "sudah selesai"),
    # an unknown command word
    ("bantul-email", at("bantul-email", "verifikasi-admin"), Command("hapus", T, "admin"), "tidak dikenal"),
    # a refused command while waiting for the citizen leaves it waiting
    ("bantul-email", replace(at("bantul-email", "verifikasi-admin"), status=WAIT), Command("setuju", "", "admin"), "tidak berlaku"),
    ("bantul-email", replace(at("bantul-email", "verifikasi-admin"), status=WAIT), Command("jawab", "", "admin"), "teks jawaban"),
    ("kulonprogo-website", replace(at("kulonprogo-website", "koordinasi"), status=WAIT), Command("teruskan", T, "anggota-tim"), "konfirmasi"),
]


@pytest.mark.parametrize(("name", "state", "event", "why"), ILLEGAL,
                         ids=[f"{n}/{s.status}/{s.step}/#{e.word}/{e.actor_role}" for n, s, e, _ in ILLEGAL])
def test_illegal_events_are_refused_and_change_nothing(name, state, event, why):
    result = ladder.transition(state, event, RULES[name])
    assert result.state == state
    assert len(result.actions) == 1 and isinstance(result.actions[0], Refuse), result.actions
    assert why in result.actions[0].reason


@pytest.mark.parametrize("name", FILES)
def test_every_step_refuses_every_word_it_does_not_allow(name):
    rules = RULES[name]
    checked = 0
    for step in rules.steps:
        if step.auto or step.role == CITIZEN:
            continue
        for word in COMMAND_WORDS:
            if word in step.actions:
                continue
            state = at(name, step.key)
            result = ladder.transition(state, Command(word, T, state.holder, confirmed=True), rules)
            assert result.state == state and result.actions and isinstance(result.actions[0], Refuse), (step.key, word)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("name", FILES)
def test_auto_and_citizen_steps_take_no_commands(name):
    rules = RULES[name]
    for step in rules.steps:
        if not (step.auto or step.role == CITIZEN):
            continue
        state = State(IN, step.key, rules.role_for(step, SECTION).key if step.role != CITIZEN else None, SECTION)
        for word in COMMAND_WORDS:
            result = ladder.transition(state, Command(word, T, state.holder or "admin", confirmed=True), rules)
            assert result.refused and result.state == state, (step.key, word)


def test_the_confirmation_phrase_lets_the_coordination_step_move_and_info_needs_none():
    state = at("kulonprogo-website", "koordinasi")
    assert K.step("koordinasi").confirm == "kerahasiaan diperiksa"
    moved = ladder.transition(state, Command("teruskan", T, "anggota-tim", confirmed=True), K)
    assert (moved.state.step, moved.state.holder) == ("draf-jawaban", "pelaksana")
    asked = ladder.transition(state, Command("info", "Untuk apa data ini diminta?", "anggota-tim", confirmed=False), K)
    assert asked.state.status == WAIT and asked.actions == (AskCitizen("Untuk apa data ini diminta?"),)


def test_a_note_never_moves_and_is_allowed_even_when_closed():
    for state in (at("bantul-email", "verifikasi-kasi"), waiting_for_approval("bantul-email"),
                  replace(at("bantul-email", "verifikasi-kasi"), status=WAIT), closed("bantul-email", "jawab-pemohon")):
        result = ladder.transition(state, Command("catatan", "sudah ditelepon", state.holder), B)
        assert result.state == state and result.actions == (Note("sudah ditelepon"),)


def test_staff_may_act_while_waiting_for_the_citizen():
    waiting = replace(at("bantul-email", "verifikasi-admin"), status=WAIT)
    result = ladder.transition(waiting, Command("teruskan", T, "admin"), B)
    assert (result.state.status, result.state.step, result.state.holder) == (IN, "verifikasi-kasi", "kasi-identitas")


# ======================================================================== the approval rule (Bantul)
def test_bantul_admin_draft_goes_to_the_sections_kasi_who_sends_it_at_once():
    drafted = ladder.transition(at("bantul-email", "verifikasi-admin", "pindah"), Command("jawab", "Draf Admin.", "admin"), B)
    s = drafted.state
    assert (s.status, s.step, s.holder) == (APPR, APPROVAL, "kasi-pindah")
    assert (s.draft, s.draft_role, s.draft_step, s.approved) == ("Draf Admin.", "admin", "verifikasi-admin", False)
    assert drafted.actions == (RequestApproval("kasi-pindah", "Draf Admin."),)
    # only the section's Kasi may approve
    for other in ("admin", "kasi-identitas", "kabid"):
        assert ladder.transition(s, Command("setuju", "", other), B).refused
    approved = ladder.transition(s, Command("setuju", "", "kasi-pindah"), B)
    # the Admin drafted it, and the Admin is who sends answers: no second round through the Admin
    assert approved.actions == (SendAnswer("Draf Admin."), Close(with_answer=True))
    assert approved.state.status == DONE
    assert (approved.state.answered_step, approved.state.answered_role) == ("verifikasi-admin", "admin")


def test_bantul_kasi_answer_goes_through_the_admin():
    answered = ladder.transition(at("bantul-email", "verifikasi-kasi"), Command("jawab", "Jawaban Kasi.", "kasi-identitas"), B)
    assert answered.actions == (ConfirmSend("admin", "Jawaban Kasi."),)
    s = answered.state
    assert (s.status, s.step, s.holder, s.approved, s.draft_role) == (IN, "jawab-pemohon", "admin", True, "kasi-identitas")
    sent = ladder.transition(s, Command("setuju", "", "admin"), B)
    assert sent.actions == (SendAnswer("Jawaban Kasi."), Close(with_answer=True))
    assert (sent.state.answered_step, sent.state.answered_role) == ("verifikasi-kasi", "kasi-identitas")


def test_bantul_kabid_answer_goes_to_the_admins_send_step():
    answered = ladder.transition(at("bantul-email", "jawaban-kabid"), Command("jawab", "Jawaban Kabid.", "kabid"), B)
    s = answered.state
    assert (s.status, s.step, s.holder, s.approved) == (IN, "jawab-pemohon", "admin", True)
    assert answered.actions == (ConfirmSend("admin", "Jawaban Kabid."),)
    assert ladder.allowed_words(s, B) == ("kembalikan", "setuju", "catatan", "bantuan", "riwayat")
    sent = ladder.transition(s, Command("setuju", "", "admin"), B)
    assert sent.actions == (SendAnswer("Jawaban Kabid."), Close(with_answer=True))
    assert (sent.state.answered_step, sent.state.answered_role) == ("jawaban-kabid", "kabid")


def test_bantul_tolak_returns_to_the_drafters_step_with_the_note():
    s = waiting_for_approval("bantul-email")
    rejected = ladder.transition(s, Command("tolak", "Sebutkan jadwal cetaknya.", "kasi-identitas"), B)
    assert (rejected.state.status, rejected.state.step, rejected.state.holder) == (IN, "verifikasi-admin", "admin")
    assert (rejected.state.draft, rejected.state.draft_role, rejected.state.draft_step) == (None, None, None)
    assert rejected.actions == (Move("verifikasi-admin", "admin", "Sebutkan jadwal cetaknya.", "tolak"),)
    # and the Admin may draft again
    again = ladder.transition(rejected.state, Command("jawab", "Draf kedua.", "admin"), B)
    assert again.state.status == APPR and again.actions == (RequestApproval("kasi-identitas", "Draf kedua."),)


def test_bantul_kasi_rewriting_the_draft_sends_it_through_the_admin():
    s = waiting_for_approval("bantul-email")
    rewritten = ladder.transition(s, Command("jawab", "Teks Kasi.", "kasi-identitas"), B)
    assert rewritten.actions == (ConfirmSend("admin", "Teks Kasi."),)
    assert (rewritten.state.step, rewritten.state.holder, rewritten.state.draft_role, rewritten.state.approved) == (
        "jawab-pemohon", "admin", "kasi-identitas", True)


def test_kulonprogo_paraf_then_the_petugas_sends():
    drafted = ladder.transition(at("kulonprogo-website", "draf-jawaban"), Command("jawab", "Tanggapan.", "pelaksana"), K)
    assert drafted.actions == (RequestApproval("anggota-tim", "Tanggapan."),)
    initialled = ladder.transition(drafted.state, Command("setuju", "", "anggota-tim"), K)
    assert initialled.actions == (ConfirmSend("petugas", "Tanggapan."),)
    sent = ladder.transition(initialled.state, Command("setuju", "", "petugas"), K)
    assert sent.actions == (SendAnswer("Tanggapan."), Close(with_answer=True))


# ======================================================================== #info and the citizen
INFO_STEPS = [(name, step.key) for name, rules in RULES.items() for step in rules.steps if "info" in step.actions]


def test_info_steps_are_the_expected_ones():
    assert INFO_STEPS == [
        ("bantul-email", "verifikasi-admin"), ("bantul-email", "verifikasi-kasi"), ("bantul-email", "jawaban-kabid"),
        ("palangkaraya-online", "telaah"), ("palangkaraya-online", "verifikasi"),
        ("kulonprogo-website", "koordinasi"), ("kulonprogo-website", "draf-jawaban"),
    ]


@pytest.mark.parametrize(("name", "step_key"), INFO_STEPS, ids=lambda v: v)
def test_info_waits_for_the_citizen_and_their_reply_returns_to_the_same_step(name, step_key):
    rules = RULES[name]
    state = at(name, step_key)
    asked = ladder.transition(state, Command("info", "Mohon foto KK.", state.holder), rules)
    assert (asked.state.status, asked.state.step, asked.state.holder) == (WAIT, step_key, state.holder)
    assert asked.actions == (AskCitizen("Mohon foto KK."),)
    back = ladder.transition(asked.state, CitizenMail("Terlampir."), rules)
    assert back.state == state
    assert back.actions == (TellHolder(state.holder, "citizen-reply", "Terlampir."),)


def test_a_citizen_mail_on_an_open_complaint_only_tells_the_holder():
    for state in (at("bantul-email", "verifikasi-kasi"), waiting_for_approval("bantul-email")):
        result = ladder.transition(state, CitizenMail("Ada tambahan."), B)
        assert result.state == state and result.actions == (TellHolder(state.holder, "citizen-reply", "Ada tambahan."),)


def test_reopen_within_the_window_goes_back_to_the_answering_step():
    answered = ladder.transition(at("bantul-email", "verifikasi-kasi"), Command("jawab", "Sudah dicetak.", "kasi-identitas"), B)
    closed_state = ladder.transition(answered.state, Command("setuju", "", "admin"), B).state
    assert closed_state.status == DONE
    reopened = ladder.transition(closed_state, CitizenMail("Belum ada di kantor.", within_reopen_window=True), B)
    s = reopened.state
    assert (s.status, s.step, s.holder) == (IN, "verifikasi-kasi", "kasi-identitas")
    assert (s.draft, s.draft_role, s.draft_step, s.approved) == (None, None, None, False)
    assert reopened.actions == (TellHolder("kasi-identitas", "reopened", "Belum ada di kantor."),)
    # the Kasi can answer again
    again = ladder.transition(s, Command("jawab", "Sudah kami cek ulang.", "kasi-identitas"), B)
    assert again.actions == (ConfirmSend("admin", "Sudah kami cek ulang."),)


def test_reopen_after_an_approvers_rewrite_is_held_by_the_steps_role():
    rewritten = ladder.transition(waiting_for_approval("bantul-email"), Command("jawab", "Teks Kasi.", "kasi-identitas"), B)
    closed_state = ladder.transition(rewritten.state, Command("setuju", "", "admin"), B).state
    reopened = ladder.transition(closed_state, CitizenMail("Belum beres."), B)
    assert (reopened.state.step, reopened.state.holder) == ("verifikasi-admin", "admin")
    assert reopened.actions == (TellHolder("admin", "reopened", "Belum beres."),)
    assert_consistent(reopened.state, B)


def test_reopen_in_palangkaraya_and_after_a_close_without_answer():
    analyst = ladder.transition(at("palangkaraya-online", "verifikasi"), Command("jawab", "Sudah jadi.", "analis"), P)
    done = ladder.transition(analyst.state, Command("setuju", "", "petugas"), P).state
    assert P.answer.reopen_days == 30  # "sampai pelapor merasa sudah fix"
    reopened = ladder.transition(done, CitizenMail("Belum puas."), P)
    assert (reopened.state.status, reopened.state.step, reopened.state.holder) == (IN, "verifikasi", "analis")
    # Bima closes without an answer: nothing was answered, so it reopens at the first staff step
    run = ladder.transition(at("bima-innovation", "pelaksanaan"), Command("setuju", "Berjalan.", "pelaksana"), M).state
    again = ladder.transition(run, CitizenMail("Usul perbaikan."), M)
    assert (again.state.status, again.state.step, again.state.holder) == (IN, "konsep", "kasi-inovasi")


@pytest.mark.parametrize("name", FILES)
def test_a_mail_after_the_reopen_window_starts_a_linked_complaint(name):
    state = replace(at(name, RULES[name].first_staff_step.key), status=DONE)
    result = ladder.transition(state, CitizenMail("Masalah baru.", within_reopen_window=False), RULES[name])
    assert result.state == state and result.actions == (NewLinkedComplaint("Masalah baru."),)


# ======================================================================== automatic replies
@pytest.mark.parametrize("state", [
    at("bantul-email", "verifikasi-admin"),
    replace(at("bantul-email", "verifikasi-admin"), status=WAIT),
    waiting_for_approval("bantul-email"),
    closed("bantul-email", "jawab-pemohon"),
], ids=lambda s: s.status)
def test_a_staff_auto_reply_changes_nothing_and_tells_the_deputies(state):
    result = ladder.transition(state, AutoReply(state.holder, "#jawab Saya sedang cuti."), B)
    assert result.state == state
    assert len(result.actions) == 2
    note, tell = result.actions
    assert isinstance(note, Note) and state.holder in note.text
    assert tell == TellDeputies(state.holder, "#jawab Saya sedang cuti.")


# ======================================================================== the clock: reminders and breaches
def on_breach(rules: Rules, action: str) -> Rules:
    """``rules`` with ``[deadlines] on_breach = action``."""
    return replace(rules, deadlines=replace(rules.deadlines, on_breach=action))


ADMIN_STEP = at("bantul-email", "verifikasi-admin")  # held by the Admin; the next rung is the section's Kasi
LAST_STEP = at("bantul-email", "jawab-pemohon")  # held by the Admin; no staff step after it
GONE_HOLDER = replace(ADMIN_STEP, holder="admin-lama")  # a role the rules file no longer has

# (case, file, on_breach, state, event) -> (state after, actions)
DEADLINES = [
    # reminders go to the holder, whatever on_breach says
    ("reminder to the holder", "bantul-email", "notify-next", ADMIN_STEP, DeadlineNear("verifikasi-admin"),
     ADMIN_STEP, (Remind("admin"),)),
    ("reminder, step gone from the rules", "bantul-email", "notify-next", ADMIN_STEP, DeadlineNear("hapus"),
     ADMIN_STEP, (Unattended("step"),)),
    ("reminder, holder's role gone", "bantul-email", "notify-next", GONE_HOLDER, DeadlineNear("verifikasi-admin"),
     GONE_HOLDER, (Unattended("role"),)),
    # notify-next: the next rung hears of it; nothing moves
    ("notify-next: the section's Kasi", "bantul-email", "notify-next", ADMIN_STEP, DeadlinePassed("verifikasi-admin"),
     ADMIN_STEP, (Overdue("kasi-identitas", "on_breach notify-next"),)),
    ("notify-next: the Kasi's next rung is the Kabid", "bantul-email", "notify-next", at("bantul-email", "verifikasi-kasi"),
     DeadlinePassed("verifikasi-kasi"), at("bantul-email", "verifikasi-kasi"), (Overdue("kabid", "on_breach notify-next"),)),
    ("notify-next, no next rung: the holder", "bantul-email", "notify-next", LAST_STEP, DeadlinePassed("jawab-pemohon"),
     LAST_STEP, (Overdue("admin", "on_breach notify-next, no next rung"),)),
    ("notify-next, holder's role gone: the next rung still", "bantul-email", "notify-next", GONE_HOLDER,
     DeadlinePassed("verifikasi-admin"), GONE_HOLDER, (Overdue("kasi-identitas", "on_breach notify-next"),)),
    # notify-holder
    ("notify-holder", "bantul-email", "notify-holder", ADMIN_STEP, DeadlinePassed("verifikasi-admin"),
     ADMIN_STEP, (Overdue("admin", "on_breach notify-holder"),)),
    ("notify-holder, holder's role gone: nobody", "bantul-email", "notify-holder", GONE_HOLDER,
     DeadlinePassed("verifikasi-admin"), GONE_HOLDER, (Unattended("role"),)),
    # escalate: the complaint moves to the next rung, which is told
    ("escalate to the next rung", "bantul-email", "escalate", ADMIN_STEP, DeadlinePassed("verifikasi-admin"),
     at("bantul-email", "verifikasi-kasi"), (Escalate("verifikasi-kasi", "kasi-identitas"),)),
    ("escalate a complaint never touched", "bantul-email", "escalate", replace(ADMIN_STEP, status="registered"),
     DeadlinePassed("verifikasi-admin"), at("bantul-email", "verifikasi-kasi"),
     (Escalate("verifikasi-kasi", "kasi-identitas"),)),
    ("escalate, no next rung: the holder", "bantul-email", "escalate", LAST_STEP, DeadlinePassed("jawab-pemohon"),
     LAST_STEP, (Overdue("admin", "on_breach escalate, no next rung"),)),
    ("escalate, the next step has the same role: the holder", "bima-innovation", "escalate",
     at("bima-innovation", "mekanisme"), DeadlinePassed("mekanisme"), at("bima-innovation", "mekanisme"),
     (Overdue("kasi-inovasi", "on_breach escalate, no next rung"),)),
    ("escalate, the complaint moved on since: the holder", "bantul-email", "escalate",
     at("bantul-email", "verifikasi-kasi"), DeadlinePassed("verifikasi-admin"), at("bantul-email", "verifikasi-kasi"),
     (Overdue("kasi-identitas", "on_breach escalate, no next rung"),)),
    ("escalate, a draft awaits approval: the approver", "bantul-email", "escalate",
     replace(waiting_for_approval("bantul-email"), step="verifikasi-admin"), DeadlinePassed("verifikasi-admin"),
     replace(waiting_for_approval("bantul-email"), step="verifikasi-admin"),
     (Overdue("kasi-identitas", "on_breach escalate, no next rung"),)),
    ("breach, step gone from the rules", "bantul-email", "escalate", ADMIN_STEP, DeadlinePassed("hapus"),
     ADMIN_STEP, (Unattended("step"),)),
]


@pytest.mark.parametrize(("case", "name", "action", "state", "event", "after", "actions"), DEADLINES,
                         ids=[row[0] for row in DEADLINES])
def test_deadline_decisions(case, name, action, state, event, after, actions):
    result = ladder.transition(state, event, on_breach(RULES[name], action))
    assert (result.state, result.actions) == (after, actions), case


# ======================================================================== the shipped files
def test_time_standards_follow_the_sops():
    assert str(B.total_standard) == "160 menit"
    # Palangka Raya: "1 hari" split so that all steps plus the approval are one working day (7.5 h)
    assert P.total_standard.minutes + P.answer.approval_standard.minutes == 450
    # Kulon Progo: the SOP's rows add up to 200 minutes (row 5 = draft + paraf)
    assert K.total_standard.minutes + K.answer.approval_standard.minutes == 200
    assert (K.step("paraf-kasubag").standard.minutes + K.step("paraf-ketua-tim").standard.minutes) == 15
    assert str(M.total_standard) == "10 hari kerja"
    assert [str(s.standard) for s in M.steps] == ["1 hari kerja", "1 hari kerja", "2 hari kerja", "1 hari kerja",
                                                   "1 hari kerja", "2 hari kerja", "1 hari kerja", "1 hari kerja"]


@pytest.mark.parametrize("name", FILES)
def test_every_section_of_the_format_has_a_role(name):
    rules = RULES[name]
    assert {c.section for c in rules.format.categories} | {"lainnya"} <= set(rules.sections)
    assert set(rules.sections) == {"identitas", "pindah", "capil", "piak", "pegawai", "lainnya"}


@pytest.mark.parametrize("name", FILES)
def test_every_staff_step_is_reachable_from_the_first(name):
    rules = RULES[name]
    seen, todo = set(), [rules.first_staff_step.key]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        for target in rules.step(key).actions.values():
            if target == "@answer" and rules.answer.send_step:
                todo.append(rules.answer.send_step)
            elif not target.startswith("@"):
                todo.append(target)
    staff = {s.key for s in rules.steps if not s.auto and s.role != CITIZEN}
    assert staff <= seen


@pytest.mark.parametrize(("name", "first", "holder"), [
    ("bantul-email", "verifikasi-admin", "admin"),
    ("palangkaraya-online", "telaah", "petugas"),
    ("kulonprogo-website", "paraf-kasubag", "kasubag"),
    ("bima-innovation", "konsep", "kasi-inovasi"),
])
def test_a_new_complaint_starts_at_the_first_staff_step(name, first, holder):
    state = ladder.initial_state(RULES[name], SECTION)
    assert (state.status, state.step, state.holder) == ("registered", first, holder)


# ======================================================================== load_rules rejects broken files
MINIMAL = """
[office]
name = "Uji"
format = "complaint-format.toml"

[roles.admin]
name = "Admin"
members = ["admin@dukcapil.test"]
rank = 1

[roles.kasi]
name = "Kasi"
members = ["kasi@dukcapil.test"]
rank = 2

[sections]
identitas = "{section_role}"
pindah = "kasi"
capil = "kasi"
piak = "kasi"
pegawai = "kasi"
lainnya = "kasi"

[answer]
min_rank = 2
approver = "{approver}"

[[steps]]
key = "kirim"
name = "Pemohon mengirim"
role = "pemohon"
standard = "10m"

[[steps]]
key = "verifikasi"
name = "Verifikasi Admin"
role = "{step_role}"
standard = "30m"
actions = {{ {actions} }}

[[steps]]
key = "verifikasi-kasi"
name = "Verifikasi Kasi"
role = "@section"
standard = "30m"
actions = {{ jawab = "@answer", kembalikan = "verifikasi" }}
"""
GOOD = dict(section_role="kasi", approver="@section", step_role="admin",
            actions='jawab = "@answer", teruskan = "verifikasi-kasi", info = "@info"')


def write_rules(tmp_path: Path, **changes: str) -> Path:
    shutil.copy(REPO / "rules" / "complaint-format.toml", tmp_path / "complaint-format.toml")
    path = tmp_path / "uji.toml"
    path.write_text(textwrap.dedent(MINIMAL.format(**{**GOOD, **changes})), encoding="utf-8")
    return path


def test_the_minimal_file_loads(tmp_path):
    rules = load_rules(write_rules(tmp_path))
    assert [s.key for s in rules.steps] == ["kirim", "verifikasi", "verifikasi-kasi"]


@pytest.mark.parametrize(("changes", "key", "words"), [
    # a typo'd role
    (dict(step_role="admn"), "steps[1].role", ["unknown role 'admn'", "admin, kasi"]),
    (dict(section_role="kasii"), "sections.identitas", ["unknown role 'kasii'"]),
    (dict(approver="kasie"), "answer.approver", ["unknown role 'kasie'"]),
    # an unknown action target
    (dict(actions='teruskan = "verifikasi-kass"'), "steps[1].actions.teruskan", ["unknown step 'verifikasi-kass'"]),
    (dict(actions='jawab = "@send"'), "steps[1].actions.jawab", ["'@send' is not a target for #jawab"]),
    (dict(actions='teruskan = "@kasi"'), "steps[1].actions.teruskan", ["'@kasi' is not a target for #teruskan"]),
    # an unknown command word
    (dict(actions='jawb = "@answer"'), "steps[1].actions.jawb", ["unknown command word", "jawab, teruskan"]),
    (dict(actions='catatan = "verifikasi-kasi"'), "steps[1].actions.catatan", ["unknown command word"]),
])
def test_load_rules_rejects_mistakes_naming_the_key(tmp_path, changes, key, words):
    path = write_rules(tmp_path, **changes)
    with pytest.raises(RulesError) as err:
        load_rules(path)
    message = str(err.value)
    assert message.startswith(f"{path}: key '{key}': "), message
    for word in words:
        assert word in message


# ======================================================================== the last check before a citizen reads staff text
@pytest.mark.parametrize("text", [
    "KTP-el Ibu sudah dicetak.\n\nPada Sen, 23 Nov 2026 pukul 09.15 Layanan Pengaduan <\naduan@dukcapil.test> menulis:",
    "KTP-el Ibu sudah dicetak.\n> Aduan baru untuk diverifikasi.\n> Nomor ADU/2026/000001",
    "KTP-el Ibu sudah dicetak.\n-- \nAdmin Aduan\nRuang Layanan Lt. 2",
])
@pytest.mark.parametrize(("state", "word"), [
    (at("bantul-email", "verifikasi-admin"), "jawab"),
    (at("bantul-email", "verifikasi-admin"), "info"),
    (waiting_for_approval("bantul-email"), "jawab"),  # the approver rewriting the draft
])
def test_quoted_mail_or_a_signature_never_goes_to_the_citizen(text, state, word):
    result = ladder.transition(state, Command(word, text, state.holder), B)
    assert result.state == state and len(result.actions) == 1
    [refusal] = result.actions
    assert isinstance(refusal, Refuse) and "tulis ulang" in refusal.reason


def test_an_answer_with_dates_addresses_and_colons_is_not_quoted_material():
    text = ("Silakan datang pada Senin, 30 November 2026 pukul 09.00 ke kantor kapanewon. "
            "Hubungi kami di aduan@dukcapil.test:")
    result = ladder.transition(at("bantul-email", "verifikasi-kasi"), Command("jawab", text, "kasi-identitas"), B)
    assert not result.refused
