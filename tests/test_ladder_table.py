"""The ladder state machine as a table: every action of every staff step of
every shipped rules file, with its expected result written by hand, plus the
illegal events (refused, state unchanged)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailflow import ladder
from mailflow.ladder import (AskCitizen, AutoReply, CitizenMail, Close, Command, ConfirmSend, Move,
                             NewLinkedComplaint, Note, Refuse, RequestApproval, SendAnswer, State, TellDeputies,
                             TellHolder)
from mailflow.rules import load_rules
from support import REPO

RULES = {name: load_rules(REPO / "rules" / f"{name}.toml")
         for name in ("bantul-email", "palangkaraya-online", "kulonprogo-website", "bima-innovation")}
SECTION = "identitas"

# (file, step, word) -> (status, step, holder, action types)
TABLE = {
    # Bantul
    ("bantul-email", "verifikasi-admin", "jawab"): ("awaiting_approval", "persetujuan", "kasi-identitas", (RequestApproval,)),
    ("bantul-email", "verifikasi-admin", "teruskan"): ("in_progress", "verifikasi-kasi", "kasi-identitas", (Move,)),
    ("bantul-email", "verifikasi-admin", "info"): ("waiting_citizen", "verifikasi-admin", "admin", (AskCitizen,)),
    ("bantul-email", "verifikasi-kasi", "jawab"): ("in_progress", "jawab-pemohon", "admin", (ConfirmSend,)),
    ("bantul-email", "verifikasi-kasi", "teruskan"): ("in_progress", "jawaban-kabid", "kabid", (Move,)),
    ("bantul-email", "verifikasi-kasi", "kembalikan"): ("in_progress", "verifikasi-admin", "admin", (Move,)),
    ("bantul-email", "verifikasi-kasi", "info"): ("waiting_citizen", "verifikasi-kasi", "kasi-identitas", (AskCitizen,)),
    ("bantul-email", "jawaban-kabid", "jawab"): ("in_progress", "jawab-pemohon", "admin", (ConfirmSend,)),
    ("bantul-email", "jawaban-kabid", "kembalikan"): ("in_progress", "verifikasi-kasi", "kasi-identitas", (Move,)),
    ("bantul-email", "jawaban-kabid", "info"): ("waiting_citizen", "jawaban-kabid", "kabid", (AskCitizen,)),
    ("bantul-email", "jawab-pemohon", "setuju"): ("closed", "jawab-pemohon", "admin", (SendAnswer, Close)),
    ("bantul-email", "jawab-pemohon", "kembalikan"): ("in_progress", "verifikasi-kasi", "kasi-identitas", (Move,)),
    # Palangka Raya
    ("palangkaraya-online", "telaah", "jawab"): ("awaiting_approval", "persetujuan", "analis", (RequestApproval,)),
    ("palangkaraya-online", "telaah", "teruskan"): ("in_progress", "verifikasi", "analis", (Move,)),
    ("palangkaraya-online", "telaah", "info"): ("waiting_citizen", "telaah", "petugas", (AskCitizen,)),
    ("palangkaraya-online", "verifikasi", "jawab"): ("in_progress", "kirim-jawaban", "petugas", (ConfirmSend,)),
    ("palangkaraya-online", "verifikasi", "kembalikan"): ("in_progress", "telaah", "petugas", (Move,)),
    ("palangkaraya-online", "verifikasi", "info"): ("waiting_citizen", "verifikasi", "analis", (AskCitizen,)),
    ("palangkaraya-online", "kirim-jawaban", "setuju"): ("closed", "kirim-jawaban", "petugas", (SendAnswer, Close)),
    ("palangkaraya-online", "kirim-jawaban", "kembalikan"): ("in_progress", "verifikasi", "analis", (Move,)),
    # Kulon Progo
    ("kulonprogo-website", "paraf-kasubag", "setuju"): ("in_progress", "paraf-ketua-tim", "ketua-tim", (Move,)),
    ("kulonprogo-website", "paraf-ketua-tim", "setuju"): ("in_progress", "disposisi", "kadis", (Move,)),
    ("kulonprogo-website", "paraf-ketua-tim", "kembalikan"): ("in_progress", "paraf-kasubag", "kasubag", (Move,)),
    ("kulonprogo-website", "disposisi", "teruskan"): ("in_progress", "koordinasi", "anggota-tim", (Move,)),
    ("kulonprogo-website", "koordinasi", "teruskan"): ("in_progress", "draf-jawaban", "pelaksana", (Move,)),
    ("kulonprogo-website", "koordinasi", "kembalikan"): ("in_progress", "disposisi", "kadis", (Move,)),
    ("kulonprogo-website", "koordinasi", "info"): ("waiting_citizen", "koordinasi", "anggota-tim", (AskCitizen,)),
    ("kulonprogo-website", "draf-jawaban", "jawab"): ("awaiting_approval", "persetujuan", "anggota-tim", (RequestApproval,)),
    ("kulonprogo-website", "draf-jawaban", "kembalikan"): ("in_progress", "koordinasi", "anggota-tim", (Move,)),
    ("kulonprogo-website", "draf-jawaban", "info"): ("waiting_citizen", "draf-jawaban", "pelaksana", (AskCitizen,)),
    ("kulonprogo-website", "balas", "setuju"): ("closed", "balas", "petugas", (SendAnswer, Close)),
    ("kulonprogo-website", "balas", "kembalikan"): ("in_progress", "draf-jawaban", "pelaksana", (Move,)),
    # Bima
    ("bima-innovation", "konsep", "teruskan"): ("in_progress", "telaah-kabid", "kabid", (Move,)),
    ("bima-innovation", "telaah-kabid", "teruskan"): ("in_progress", "keputusan", "kadis", (Move,)),
    ("bima-innovation", "telaah-kabid", "kembalikan"): ("in_progress", "konsep", "kasi-inovasi", (Move,)),
    ("bima-innovation", "keputusan", "setuju"): ("in_progress", "draf", "kasi-inovasi", (Move,)),
    ("bima-innovation", "keputusan", "tolak"): ("in_progress", "konsep", "kasi-inovasi", (Move,)),
    ("bima-innovation", "draf", "teruskan"): ("in_progress", "rapat", "pejabat", (Move,)),
    ("bima-innovation", "rapat", "teruskan"): ("in_progress", "mekanisme", "kasi-inovasi", (Move,)),
    ("bima-innovation", "rapat", "kembalikan"): ("in_progress", "draf", "kasi-inovasi", (Move,)),
    ("bima-innovation", "mekanisme", "teruskan"): ("in_progress", "nama", "kasi-inovasi", (Move,)),
    ("bima-innovation", "nama", "teruskan"): ("in_progress", "pelaksanaan", "pelaksana", (Move,)),
    ("bima-innovation", "pelaksanaan", "setuju"): ("closed", "pelaksanaan", "pelaksana", (Note, Close)),
}


def at(name: str, step_key: str, **kw) -> State:
    rules = RULES[name]
    role = rules.role_for(rules.step(step_key), SECTION)
    return State(status="in_progress", step=step_key, holder=role.key, section=SECTION, **kw)


def test_the_table_covers_every_action_of_every_file():
    expected = {(name, step.key, word) for name, rules in RULES.items() for step in rules.steps
                for word in step.actions}
    assert expected == set(TABLE)


@pytest.mark.parametrize("key", sorted(TABLE), ids=lambda k: "/".join(k))
def test_transition(key):
    name, step_key, word = key
    rules = RULES[name]
    state = at(name, step_key)
    if word == "setuju" and rules.step(step_key).actions.get("setuju") == "@send":
        state = replace(state, draft="Jawaban.", draft_role="analis", draft_step=step_key, approved=True)
    result = ladder.transition(state, Command(word, "teks catatan", state.holder, confirmed=True), rules)
    status, step, holder, kinds = TABLE[key]
    assert not result.refused, result.actions
    assert (result.state.status, result.state.step, result.state.holder) == (status, step, holder)
    assert tuple(type(a) for a in result.actions) == kinds


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_step_refuses_words_it_does_not_allow(name):
    rules = RULES[name]
    for step in rules.steps:
        if step.auto or step.role == "pemohon":
            continue
        state = at(name, step.key)
        for word in ("jawab", "teruskan", "kembalikan", "setuju", "tolak", "info"):
            if word in step.actions:
                continue
            result = ladder.transition(state, Command(word, "x", state.holder, confirmed=True), rules)
            assert result.refused and result.state == state, (step.key, word)


B = RULES["bantul-email"]


@pytest.mark.parametrize(
    ("state", "event", "why"),
    [
        (at("bantul-email", "verifikasi-admin"), Command("teruskan", "x", "kabid"), "dipegang"),
        (at("bantul-email", "verifikasi-admin"), Command("jawab", "x", None), "bukan petugas"),
        (at("bantul-email", "verifikasi-admin"), Command("jawab", "  ", "admin"), "teks jawaban"),
        (at("bantul-email", "verifikasi-admin"), Command("info", "", "admin"), "pertanyaan"),
        (at("bantul-email", "jawab-pemohon"), Command("setuju", "", "admin"), "belum ada jawaban"),
        (replace(at("bantul-email", "verifikasi-admin"), status="closed"), Command("teruskan", "x", "admin"), "sudah selesai"),
        (at("kulonprogo-website", "koordinasi"), Command("teruskan", "x", "anggota-tim", confirmed=False), "konfirmasi"),
        (at("bantul-email", "verifikasi-admin"), Command("bogus", "x", "admin"), "tidak dikenal"),
    ],
)
def test_illegal_events_are_refused_and_change_nothing(state, event, why):
    rules = RULES["kulonprogo-website"] if state.step == "koordinasi" else B
    result = ladder.transition(state, event, rules)
    assert result.state == state
    (refusal,) = result.actions
    assert isinstance(refusal, Refuse) and why in refusal.reason


def test_bantul_approval_rule():
    admin_draft = ladder.transition(at("bantul-email", "verifikasi-admin"), Command("jawab", "Draf.", "admin"), B)
    s = admin_draft.state
    assert (s.status, s.holder, s.draft_role, s.approved) == ("awaiting_approval", "kasi-identitas", "admin", False)
    # the Kasi approves: the Admin drafted it and sends answers, so it goes out at once
    approved = ladder.transition(s, Command("setuju", "", "kasi-identitas"), B)
    assert approved.state.status == "closed" and isinstance(approved.actions[0], SendAnswer)
    assert approved.state.answered_step == "verifikasi-admin"
    # the Kasi rejects: back to the Admin's step, draft dropped
    rejected = ladder.transition(s, Command("tolak", "Kurang jelas.", "kasi-identitas"), B)
    assert (rejected.state.step, rejected.state.holder, rejected.state.draft) == ("verifikasi-admin", "admin", None)
    assert isinstance(rejected.actions[0], Move) and rejected.actions[0].note == "Kurang jelas."
    # the Kasi rewrites it: approved as their own text, then sent through the Admin
    rewritten = ladder.transition(s, Command("jawab", "Teks baru.", "kasi-identitas"), B)
    assert (rewritten.state.step, rewritten.state.holder, rewritten.state.approved) == ("jawab-pemohon", "admin", True)
    assert rewritten.actions == (ConfirmSend("admin", "Teks baru."),)
    # a non-approver cannot approve
    assert ladder.transition(s, Command("setuju", "", "admin"), B).refused


def test_info_round_trip_returns_to_the_same_step():
    asked = ladder.transition(at("bantul-email", "verifikasi-kasi"), Command("info", "Foto KK?", "kasi-identitas"), B)
    assert asked.state.status == "waiting_citizen" and asked.actions == (AskCitizen("Foto KK?"),)
    back = ladder.transition(asked.state, CitizenMail("Terlampir."), B)
    assert (back.state.status, back.state.step, back.state.holder) == ("in_progress", "verifikasi-kasi", "kasi-identitas")
    assert back.actions == (TellHolder("kasi-identitas", "citizen-reply", "Terlampir."),)


def test_reopen_within_the_window_and_a_new_complaint_after_it():
    closed = State("closed", "jawab-pemohon", "admin", SECTION, answered_step="verifikasi-kasi",
                   answered_role="kasi-identitas")
    reopened = ladder.transition(closed, CitizenMail("Belum beres.", within_reopen_window=True), B)
    assert (reopened.state.status, reopened.state.step, reopened.state.holder) == (
        "in_progress", "verifikasi-kasi", "kasi-identitas")
    assert reopened.actions == (TellHolder("kasi-identitas", "reopened", "Belum beres."),)
    late = ladder.transition(closed, CitizenMail("Masalah lain.", within_reopen_window=False), B)
    assert late.state == closed and late.actions == (NewLinkedComplaint("Masalah lain."),)


def test_a_staff_auto_reply_changes_nothing_and_tells_the_deputies():
    state = at("bantul-email", "verifikasi-admin")
    result = ladder.transition(state, AutoReply("admin", "Sedang cuti"), B)
    assert result.state == state
    assert [type(a) for a in result.actions] == [Note, TellDeputies]


def test_a_note_never_moves():
    state = at("bantul-email", "verifikasi-kasi")
    result = ladder.transition(state, Command("catatan", "sudah ditelepon", "kasi-identitas"), B)
    assert result.state == state and result.actions == (Note("sudah ditelepon"),)
